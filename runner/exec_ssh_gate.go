package runner

import (
	"context"
	"io"
)

// RunGated runs a Sequence that holds a gate (seqScript) with ctl copied
// to its stdin: the caller writes "go" and the variables of an envBlock
// there when the gate is to open, and closes ctl to stop it (at the gate,
// EOF ends the sequence; past it, the script's watcher kills the process
// group). Unlike RunStdin's, this input is control, not data: the
// session's end does not wait for ctl to end, and the caller closes ctl
// once RunGated returned. When ctx ends, stdin is closed and the signal
// request sent, as for RunEnv.
func (e *SSHExecutor) RunGated(ctx context.Context, argv []string, ctl io.Reader, out io.Writer) (int, error) {
	if err := checkArgv(argv); err != nil {
		return -1, err
	}
	if out == nil {
		out = io.Discard
	}
	w := &syncWriter{w: out}
	st, err := e.startSession(ctx, QuoteCommand(argv), w, w, nil)
	if err != nil {
		return -1, err
	}
	sess := st.sess
	defer sess.Close()
	go func() {
		_, _ = io.Copy(st.stdin, ctl)
		_ = st.stdin.Close()
	}()
	waited := make(chan error, 1)
	go func() { waited <- sess.Wait() }()
	select {
	case err = <-waited:
	case <-ctx.Done():
		stopSession(st, waited, false)
		return -1, ctx.Err()
	}
	return exitCode(err, e.host.Addr)
}
