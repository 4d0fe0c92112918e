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
	// RunEnv is Run with variables (NAME=value, validated by ValidateEnv;
	// a value may hold newlines) added to the command's environment out
	// of band: never in an argv, so never in a process list on the
	// target. Secrets travel this way.
	RunEnv(ctx context.Context, argv, env []string, out io.Writer) (exitCode int, err error)
	// RunStdin is Run with stdin copied to the command's standard input,
	// then closed: the command reads EOF where stdin ends (a tar stream
	// into a staging dir). It fails (exitCode -1) when stdin could not be
	// read to its end, whatever the command did, and when the command
	// exited 0 without taking all of it (ErrStdinNotRead; as far as can
	// be told: locally, it did not read to EOF; over SSH, a write to it
	// failed); a command that ran and failed gives its status.
	RunStdin(ctx context.Context, argv []string, stdin io.Reader, out io.Writer) (exitCode int, err error)
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

// ErrStdinNotRead: a command of RunStdin exited 0 before it had taken all
// of its input.
var ErrStdinNotRead = errors.New("runner: the command ended before it read all of its input")

// readErrReader remembers the error of its reader other than io.EOF: a
// failed read of RunStdin's input, told apart from a failed write to the
// command.
type readErrReader struct {
	r   io.Reader
	err error // a read error other than io.EOF
	eof bool  // read to its end
}

func (r *readErrReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err == io.EOF {
		r.eof = true
	} else if err != nil {
		r.err = err
	}
	return n, err
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

// envBlock encodes env for the watch script of RemoteCommand, which reads
// it from the session's stdin before the command starts: one NAME=value
// line per variable, each backslash of the value doubled and each newline
// written as backslash-n (decoded by the shell's printf %b), then an empty
// line. The values never appear in an argv: read, printf and export are
// shell builtins.
func envBlock(env []string) ([]byte, error) {
	if err := ValidateEnv(env); err != nil {
		return nil, err
	}
	var b strings.Builder
	esc := strings.NewReplacer("\\", "\\\\", "\n", "\\n")
	for _, kv := range env {
		name, value, _ := strings.Cut(kv, "=")
		b.WriteString(name + "=" + esc.Replace(value) + "\n")
	}
	b.WriteString("\n")
	return []byte(b.String()), nil
}
