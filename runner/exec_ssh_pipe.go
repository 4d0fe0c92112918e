package runner

import (
	"context"
	"fmt"
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
	type begun struct {
		sess  *ssh.Session
		stdin io.WriteCloser
		err   error
	}
	ready := make(chan begun, 1)
	go func() {
		sess, err := e.client.NewSession()
		if err != nil {
			ready <- begun{err: fmt.Errorf("new session: %w", err)}
			return
		}
		sess.Stdout, sess.Stderr = data, &syncWriter{w: out}
		stdin, err := sess.StdinPipe()
		if err == nil {
			err = sess.Start(command)
		}
		if err != nil {
			sess.Close()
			ready <- begun{err: fmt.Errorf("start: %w", err)}
			return
		}
		ready <- begun{sess: sess, stdin: stdin}
	}()
	var b begun
	select {
	case b = <-ready:
	case <-ctx.Done():
		go func() {
			if b := <-ready; b.sess != nil {
				b.stdin.Close()
				b.sess.Close()
			}
		}()
		return -1, ctx.Err()
	}
	if b.err != nil {
		return -1, fmt.Errorf("%w: %s: %v", ErrConnectionLost, e.host.Addr, b.err)
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
