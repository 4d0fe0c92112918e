package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Executor runs commands given as argv on one target: this machine
// (LocalExecutor) or a host over one SSH connection (SSHExecutor). Command
// builders (Layout, RsyncCommand) produce the argv; executors are the only
// place that turns it into something a process or a shell runs.
type Executor interface {
	// Run runs argv on the target and streams combined stdout+stderr to
	// out as it comes. exitCode is the command's exit status; err is non-nil
	// only if it could not run or finish (connection lost, ctx ended: then
	// the remote or local process is killed), and exitCode is then -1.
	Run(ctx context.Context, argv []string, out io.Writer) (exitCode int, err error)
	Close() error
}

// Errors of the executors.
var (
	// ErrNUL: an argument holds a NUL byte, which neither argv nor a shell
	// word can carry.
	ErrNUL = errors.New("runner: command argument contains a NUL byte")
	// ErrEmptyCommand: Run was given no argv.
	ErrEmptyCommand = errors.New("runner: empty command")
)

// checkArgv refuses what no executor can carry faithfully.
func checkArgv(argv []string) error {
	if len(argv) == 0 {
		return ErrEmptyCommand
	}
	for i, a := range argv {
		if strings.IndexByte(a, 0) >= 0 {
			return fmt.Errorf("%w (argument %d)", ErrNUL, i)
		}
	}
	return nil
}

// syncWriter serialises writes from the stdout and stderr copiers.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
