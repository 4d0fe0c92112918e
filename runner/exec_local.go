package runner

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// LocalExecutor runs argv directly on this machine, with no shell in
// between, each command in its own process group so that ending it (ctx
// done) kills everything it started.
type LocalExecutor struct {
	Dir string   // working directory; empty: this process's
	Env []string // NAME=value pairs added to this process's environment
}

var _ Executor = (*LocalExecutor)(nil)

// localWaitDelay bounds how long Run waits, after the process is gone, for
// descendants that still hold its output open.
const localWaitDelay = 2 * time.Second

// Run implements Executor.
func (e *LocalExecutor) Run(ctx context.Context, argv []string, out io.Writer) (int, error) {
	if err := checkArgv(argv); err != nil {
		return -1, err
	}
	if err := ctx.Err(); err != nil {
		return -1, err
	}
	if out == nil {
		out = io.Discard
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = e.Dir
	if len(e.Env) > 0 {
		cmd.Env = append(os.Environ(), e.Env...)
	}
	w := &syncWriter{w: out}
	cmd.Stdout, cmd.Stderr = w, w // one pipe: output keeps its order
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = localWaitDelay
	if err := cmd.Start(); err != nil {
		return -1, err
	}
	pgid := cmd.Process.Pid
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-ctx.Done():
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		case <-done:
		}
	}()
	err := cmd.Wait()
	close(done)
	<-stopped
	if ctx.Err() != nil {
		// The group is killed; also reap what is left of it.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		return -1, ctx.Err()
	}
	if errors.Is(err, exec.ErrWaitDelay) {
		// The command succeeded; something it left running kept its
		// output open past localWaitDelay.
		return 0, nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	if err != nil {
		return -1, err
	}
	return 0, nil
}

// Close implements Executor; a LocalExecutor holds nothing.
func (e *LocalExecutor) Close() error { return nil }
