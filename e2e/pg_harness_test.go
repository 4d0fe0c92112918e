package e2e

// The whole-app harness on PostgreSQL: `releasedesk serve --store
// postgres://...` instances sharing one database (events/pgtest), each
// with a data directory of its own (its cache), all sealed with one
// secret key file, and users added to the database with `releasedesk user
// add --store`.

import (
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// secretKeyFile writes a fresh key file (32 random bytes, owner-only) for
// the instances of one database.
func secretKeyFile(tb testing.TB) string {
	tb.Helper()
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		tb.Fatal(err)
	}
	p := filepath.Join(tb.TempDir(), "releasedesk.key")
	if err := os.WriteFile(p, raw, 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

// addUserOnStore creates a user in the database db (the bootstrap path on
// PostgreSQL, which works with or without instances running).
func addUserOnStore(tb testing.TB, db, name, password string, admin bool) {
	tb.Helper()
	args := []string{"user", "add", "--name", name, "--password-stdin", "--store", db,
		"--data", tb.TempDir(), "--log-level", "warning"}
	if admin {
		args = append(args, "--admin")
	}
	cmd := exec.Command(sharedBinary(tb), args...)
	cmd.Stdin = strings.NewReader(password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("user add %s --store: %v\n%s", name, err, out)
	}
}

// startInstance runs one `releasedesk serve` instance on the database db
// with the key file key, over a fresh data directory of its own, with
// the extra serve arguments.
func startInstance(tb testing.TB, db, key string, args ...string) *appProc {
	tb.Helper()
	data := filepath.Join(tb.TempDir(), "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		tb.Fatal(err)
	}
	return startAppWith(tb, data, append([]string{"--store", db, "--secret-key-file", key}, args...))
}
