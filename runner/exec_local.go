package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// LocalExecutor runs argv directly on this machine, with no shell in
// between, each command in a process group of its own so that ending it
// (ctx done) kills everything it started.
//
// The command must also die with this process, however it dies (SIGKILL
// included), so that no rsync or build outlives a dead runner and races
// the next one's recovery:
//
//   - the command gets Pdeathsig SIGKILL. The kernel sends it when the
//     thread that started the command exits, not the process, so the
//     goroutine holds its OS thread (runtime.LockOSThread) from Start to
//     Wait: that thread cannot go away while the command runs;
//   - Pdeathsig reaches only the command itself, not what it started (a
//     build script's compiler, rsync's remote shell). So the group is led
//     by a reaper, `sh -c 'read -r _; kill -KILL 0'`, whose stdin is a
//     pipe that only this process holds open: when this process dies the
//     kernel closes it, read returns, and the reaper kills the whole group.
//     After a normal end the reaper alone is killed.
//
// A descendant that leaves the group (setsid, a daemon) is beyond both.
// (That is Unix, procgroup_unix.go; on Windows the group is a job object
// that kills its processes when this process's handle to it closes,
// procgroup_windows.go.)
type LocalExecutor struct {
	Dir string   // working directory; empty: this process's
	Env []string // NAME=value pairs added to this process's environment
	// ExtraFiles are handed to the command as fds 3, 4, ... (exec.Cmd's
	// ExtraFiles) and closed here once it has started, or failed to:
	// this process keeps no copy, so their other ends see EOF when the
	// command's side goes (see relayRsync).
	ExtraFiles []*os.File
}

var _ Executor = (*LocalExecutor)(nil)

// errNoExtraFiles: Windows hands a child only the three standard handles
// (exec.Cmd.ExtraFiles is Unix), so rsync's relay over a host's SSH
// connection, which gives rsync two pipes, cannot run there.
var errNoExtraFiles = errors.New("runner: a local command cannot be given extra files on Windows (rsync's relay to a host needs them)")

// localWaitDelay bounds how long Run waits, after the process is gone, for
// descendants that still hold its output open.
const localWaitDelay = 2 * time.Second

// reaperScript kills the process group it leads once its stdin ends.
const reaperScript = `read -r _; kill -KILL 0`

// Run implements Executor.
func (e *LocalExecutor) Run(ctx context.Context, argv []string, out io.Writer) (int, error) {
	return e.RunEnv(ctx, argv, nil, out)
}

// RunEnv implements Executor: env is added to the process environment
// (after Env), which no other user can read.
func (e *LocalExecutor) RunEnv(ctx context.Context, argv, env []string, out io.Writer) (int, error) {
	return e.run(ctx, argv, env, nil, out)
}

// RunStdin implements Executor: stdin is copied to the command's standard
// input through a pipe, then closed.
func (e *LocalExecutor) RunStdin(ctx context.Context, argv []string, stdin io.Reader, out io.Writer) (int, error) {
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	return e.run(ctx, argv, nil, stdin, out)
}

func (e *LocalExecutor) run(ctx context.Context, argv, env []string, stdin io.Reader, out io.Writer) (int, error) {
	defer e.closeExtra()
	if err := checkArgv(argv); err != nil {
		return -1, err
	}
	if err := ValidateEnv(env); err != nil {
		return -1, err
	}
	if err := ctx.Err(); err != nil {
		return -1, err
	}
	if len(e.ExtraFiles) > 0 && runtime.GOOS == "windows" {
		return -1, errNoExtraFiles
	}
	if out == nil {
		out = io.Discard
	}
	group, err := newProcGroup()
	if err != nil {
		return -1, explainNoSh(fmt.Errorf("start the command's process group: %w", err))
	}
	defer group.end() // the command is over

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = e.Dir
	if len(e.Env) > 0 || len(env) > 0 {
		cmd.Env = append(append(os.Environ(), e.Env...), env...)
	}
	w := &syncWriter{w: out}
	cmd.Stdout, cmd.Stderr = w, w // one pipe: output keeps its order
	var in *readErrReader
	if stdin != nil {
		in = &readErrReader{r: stdin}
		cmd.Stdin = in
	}
	group.prepare(cmd)
	cmd.WaitDelay = localWaitDelay
	cmd.ExtraFiles = e.ExtraFiles
	// Pdeathsig fires when the starting thread exits: keep it until Wait.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	err = cmd.Start()
	e.closeExtra() // the command has its copies
	if err != nil {
		return -1, explainNoSh(err)
	}
	if err := group.started(cmd); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return -1, fmt.Errorf("put the command in its process group: %w", err)
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-ctx.Done():
			group.kill()
		case <-done:
		}
	}()
	err = cmd.Wait()
	close(done)
	<-stopped
	if ctx.Err() != nil {
		// The group is killed; also reap what is left of it.
		group.kill()
		return -1, ctx.Err()
	}
	if in != nil && in.err != nil {
		return -1, fmt.Errorf("read the command's input: %w", in.err)
	}
	if in != nil && !in.eof && (err == nil || errors.Is(err, exec.ErrWaitDelay)) {
		return -1, ErrStdinNotRead
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

// closeExtra closes ExtraFiles (again: a second Close does nothing).
func (e *LocalExecutor) closeExtra() {
	for _, f := range e.ExtraFiles {
		_ = f.Close()
	}
}

// Close implements Executor; a LocalExecutor holds nothing.
func (e *LocalExecutor) Close() error { return nil }

// explainNoSh says what a missing sh is needed for and where to get it,
// on a desk without one (Windows without Git for Windows).
func explainNoSh(err error) error {
	var ee *exec.Error
	if errors.As(err, &ee) && ee.Name == "sh" && errors.Is(err, exec.ErrNotFound) {
		return fmt.Errorf("%w: the build, local hooks and the local strategy run POSIX shell scripts on this machine "+
			"(on Windows: install Git for Windows and put its usr\\bin on PATH)", err)
	}
	return err
}
