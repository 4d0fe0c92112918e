package runner

import (
	"context"
	"io"
	"time"

	"golang.org/x/crypto/ssh"
)

// runPipe runs command, a command line for the host's shell (only
// relayRsync's: quoted words it has checked), in a new session on the
// open connection: in is copied to its stdin, its stdout is written to
// data and its stderr to out. Unlike RunStdin it returns as soon as the
// command has ended, without waiting for in to end: the protocol on the
// pipe (rsync's) tells by itself whether it is complete, and in's writer
// may hold it open until this returns. Opening the session and waiting
// are bounded by ctx; when ctx ends, stdin is closed and the session
// killed, as for RunStdin.
func (e *SSHExecutor) runPipe(ctx context.Context, command string, in io.Reader, data, out io.Writer) (int, error) {
	if err := ctx.Err(); err != nil {
		return -1, err
	}
	b, err := e.startSession(ctx, command, data, &syncWriter{w: out}, nil)
	if err != nil {
		return -1, err
	}
	defer b.sess.Close()
	go func() {
		// Ends with in (the caller closes it once this returned) or
		// with the session.
		_, _ = io.Copy(b.stdin, in)
		_ = b.stdin.Close()
	}()
	waited := make(chan error, 1)
	go func() { waited <- b.sess.Wait() }()
	select {
	case err := <-waited:
		return exitCode(err, e.host.Addr)
	case <-ctx.Done():
		// A hung host must not hang us: the kill runs aside, and the
		// wait for it is bounded.
		go func() {
			_ = b.stdin.Close()
			_ = b.sess.Signal(ssh.SIGKILL)
			_ = b.sess.Close()
		}()
		select {
		case <-waited:
		case <-time.After(killWait):
		}
		return -1, ctx.Err()
	}
}
