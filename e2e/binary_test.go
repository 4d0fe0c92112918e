package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"releasedesk/events/pgtest"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// sharedBinary builds releasedesk from the module root once per test
// process, without the desktop tags (no GTK needed; the binary then
// refuses to open a window, which no test here asks for). Every test of
// this package runs that one binary.
func sharedBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rd-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "releasedesk")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// TestMain removes the shared binary and stops the tests' PostgreSQL once
// every test is done. With RD_CHAOS_WRITE and RD_CHAOS_RESULTS set
// (scripts/chaos.sh), it then writes docs/RELIABILITY.md from the chaos
// tests' results.
func TestMain(m *testing.M) {
	start := time.Now()
	code := pgtest.Main(m)
	if out, dir := os.Getenv("RD_CHAOS_WRITE"), os.Getenv("RD_CHAOS_RESULTS"); out != "" && dir != "" {
		if err := writeReliabilityDoc(out, dir, time.Since(start)); err != nil {
			fmt.Fprintln(os.Stderr, "writing the reliability document:", err)
			code = 1
		}
	}
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}
