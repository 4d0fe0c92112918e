package runner

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"releasedesk/runner/sshtest"
)

// execChild runs long local commands the way a runner does, until it is
// killed (see TestMain and TestLocalCommandsDieWithTheRunner):
//   - a build-like script that starts a grandchild (in the command's
//     process group) and waits for it;
//   - a command that leaves the process group and session (setsid, then
//     exec): only Pdeathsig can reach it.
//
// Each writes its pids into dir. Commands run from goroutines that end as
// soon as they are started, as a runner's do.
func execChild(dir string) error {
	cmds := [][]string{
		{"sh", "-c", `sleep 300 & echo $! >"$1/grandchild"; echo $$ >"$1/child"; wait`, "sh", dir},
		{"setsid", "sh", "-c", `echo $$ >"$1/detached"; exec sleep 300`, "sh", dir},
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(cmds))
	for _, argv := range cmds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := (&LocalExecutor{}).Run(context.Background(), argv, os.Stderr)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// TestLocalCommandsDieWithTheRunner: a runner process running local
// commands is killed with SIGKILL; the commands die with it, what they
// started too, even a command that left the process group.
func TestLocalCommandsDieWithTheRunner(t *testing.T) {
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("setsid (util-linux) is not installed")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "RD_EXEC_CHILD="+dir)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pids := map[string]string{}
	for _, name := range []string{"child", "grandchild", "detached"} {
		pids[name] = runWaitFile(t, filepath.Join(dir, name))
	}
	// Leave the runner time to start and end other goroutines and
	// threads: they must not take the commands along (Pdeathsig follows
	// the starting thread).
	time.Sleep(100 * time.Millisecond)
	for name, pid := range pids {
		if !runProcRuns(pid) {
			t.Fatalf("%s (pid %s) died before the runner did: %s", name, pid, out.String())
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	start := time.Now()
	for name, pid := range pids {
		if sshtest.Alive(pid) {
			_ = syscall.Kill(atoiPid(pid), syscall.SIGKILL)
			t.Errorf("%s (pid %s) outlived the runner", name, pid)
		}
	}
	t.Logf("every command was gone %s after the runner", time.Since(start).Round(time.Millisecond))
}

// runProcRuns tells at once whether process pid runs (a zombie does not).
func runProcRuns(pid string) bool {
	b, err := os.ReadFile("/proc/" + strings.TrimSpace(pid) + "/stat")
	if err != nil {
		return false
	}
	st := string(b)
	j := strings.LastIndexByte(st, ')')
	return j >= 0 && !strings.HasPrefix(strings.TrimSpace(st[j+1:]), "Z")
}

func atoiPid(s string) int {
	n := 0
	for _, c := range strings.TrimSpace(s) {
		n = n*10 + int(c-'0')
	}
	return n
}

// TestLocalCommandsWithoutSh: a desk with no sh (Windows without Git for
// Windows) is told what needs it and where to get it, not only "not found".
func TestLocalCommandsWithoutSh(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := (&LocalExecutor{}).Run(t.Context(), []string{"sh", "-c", "true"}, nil)
	if !errors.Is(err, exec.ErrNotFound) || !strings.Contains(err.Error(), "run POSIX shell scripts on this machine") ||
		!strings.Contains(err.Error(), `Git for Windows and put its usr\bin on PATH`) {
		t.Fatalf("err = %v", err)
	}
}
