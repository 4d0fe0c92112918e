package runner

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"time"
)

// An rsync to a remote host runs over the host's open connection instead
// of a second SSH connection of its own: rsync's remote shell (-e) is
// relayShell, a small script that hands rsync's pipe to this process
// through two pipes rsync inherits (fds 3 and 4), and relayRsync runs the
// remote half (`rsync --server ...`) in a session of the connection
// (SSHExecutor.runPipe). So a host costs one connection and one handshake
// whatever its transfer, and the connections open at once follow the
// hosts at work, not twice as many.

// relayShell is rsync's -e for a remote host (RsyncCommand). It writes
// the words rsync gives its remote shell ([-l user] host rsync --server
// ...), their count first, then its own pid, each NUL-terminated, to fd 3,
// and reads on fd 4 how the data is to go:
//   - "direct": this process takes the script's stdin and stdout, rsync's
//     own sockets, kept on fds 6 and 7 (a redirection such as the read's
//     moves fd 0 for a while), and uses them itself (pidfd_getfd), so rsync's data
//     crosses no other process; the script waits for EOF on fd 4, which
//     comes once the remote half ended, and exits as ssh would.
//   - "cat": a cat copies rsync's data to fd 3 in the background (its
//     stdin saved on fd 5 first: sh gives a background job /dev/null; its
//     stderr discarded, so it never holds the step's output open), and the
//     script becomes a cat of fd 4 to rsync, which ends when this process
//     closes fd 4's other end after the remote half ended.
const relayShell = `sh -c 'exec 6<&0 7>&1; printf "%s\0" "$#" "$@" "$$" >&3 || exit 1; IFS= read -r how <&4 || exit 1; ` +
	`if [ "$how" = direct ]; then exec 3>&-; read -r how <&4; exit 0; fi; exec 6<&- 7>&- 5<&0; ` +
	`cat <&5 >&3 3>&- 4<&- 5<&- 2>/dev/null & exec cat <&4 3>&- 4<&- 5<&-' rd-relay`

// relayWordRe is what a word of the remote half may be: rsync's own
// options (with -s, the secluded args, paths travel inside the protocol).
// Anything else (a path escaped for a shell) is refused, never re-quoted.
var relayWordRe = regexp.MustCompile(`^[A-Za-z0-9._,=+/-]+$`)

// Bounds of what relayShell writes before the data.
const (
	maxRelayWords   = 64
	maxRelayWordLen = 4096
)

// relayHandoff takes rsync's sockets from relayShell's process; a test
// replaces it to exercise the cat relay.
var relayHandoff = takeRelaySockets

// errNoHandoff: this system cannot hand rsync's sockets over.
var errNoHandoff = errors.New("relay: no socket handoff on this system")

// relayBufferSize is the read size of rsync's data on its way to the host:
// a pipe gives at most 64 KiB a read, which the session sends as two
// packets of the largest size.
const relayBufferSize = 64 << 10

// relayGrace is how long relayRsync waits for the remote half once rsync
// has ended, before ending it.
const relayGrace = 2 * time.Second

// relayRsync runs argv, an rsync that RsyncCommand built for a remote
// host, on this machine, and its remote half on ex's connection, as step
// s, within timeout. rsync's exit status is the transfer's; a remote half that
// failed while rsync said 0 fails it too.
func (d *deployment) relayRsync(ctx context.Context, s *step, ex *SSHExecutor, argv []string, timeout time.Duration) (int, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	upR, upW, err := os.Pipe()
	if err != nil {
		return -1, err
	}
	downR, downW, err := os.Pipe()
	if err != nil {
		upR.Close()
		upW.Close()
		return -1, err
	}
	rctx, rcancel := context.WithCancel(ctx)
	defer rcancel()
	type half struct {
		exit int
		err  error
	}
	remote := make(chan half, 1)
	go func() {
		// Once the remote half has ended, closing fd 4's other end ends
		// the relay (rsync's remote shell), and closing fd 3's ends the
		// copy of rsync's data: rsync sees its remote shell gone, as
		// when ssh ends, even in the middle of sending.
		defer downW.Close()
		defer upR.Close()
		// The buffer sets the size of the writes to the session, and each
		// write is an SSH packet of its own: bufio's default 4 KiB made
		// eight packets (and syscalls) where one of 32 KiB does.
		in := bufio.NewReaderSize(upR, relayBufferSize)
		words, err := readRelayWords(in)
		var cmd, pid string
		if err == nil {
			cmd, err = relayCommand(words)
		}
		if err == nil {
			pid, err = readRelayWord(in)
		}
		if err != nil {
			remote <- half{-1, err}
			return
		}
		if src, dst, err := relayHandoff(pid); err == nil {
			defer dst.Close()
			defer src.Close()
			if _, err := io.WriteString(downW, "direct\n"); err != nil {
				remote <- half{-1, err}
				return
			}
			exit, err := ex.runPipe(rctx, cmd, src, dst, s)
			remote <- half{exit, err}
			return
		} else if !errors.Is(err, errNoHandoff) {
			d.logger.WithError(err).Debug("rsync's sockets not taken: its data goes through cat")
		}
		if _, err := io.WriteString(downW, "cat\n"); err != nil {
			remote <- half{-1, err}
			return
		}
		exit, err := ex.runPipe(rctx, cmd, in, downW, s)
		remote <- half{exit, err}
	}()
	exit, err := d.runIn(ctx, s, &LocalExecutor{ExtraFiles: []*os.File{upW, downR}}, argv, nil, nil, timeout)
	// rsync is gone: a read still waiting for the relay (rsync failed
	// before it started one) ends, and so does the remote half's stdin.
	upR.Close()
	var r half
	select {
	case r = <-remote:
	case <-time.After(relayGrace):
		rcancel()
		r = <-remote
	}
	switch {
	case err != nil || exit != 0:
		return exit, err
	case r.err != nil:
		return -1, fmt.Errorf("rsync on the host: %w", r.err)
	case r.exit != 0:
		return r.exit, fmt.Errorf("rsync on the host: exit status %d", r.exit)
	}
	return 0, nil
}

// readRelayWords reads what relayShell writes first: a count, then as
// many words, each NUL-terminated.
func readRelayWords(r *bufio.Reader) ([]string, error) {
	w, err := readRelayWord(r)
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(w)
	if err != nil || n < 0 || n > maxRelayWords {
		return nil, fmt.Errorf("relay: bad word count %q", w)
	}
	words := make([]string, n)
	for i := range words {
		if words[i], err = readRelayWord(r); err != nil {
			return nil, err
		}
	}
	return words, nil
}

// readRelayWord reads one NUL-terminated word of what relayShell writes.
func readRelayWord(r *bufio.Reader) (string, error) {
	var b []byte
	for {
		c, err := r.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errors.New("rsync's remote shell said nothing (rsync ended first)")
			}
			return "", err
		}
		if c == 0 {
			return string(b), nil
		}
		if len(b) == maxRelayWordLen {
			return "", errors.New("relay: a word too long")
		}
		b = append(b, c)
	}
}

// relayCommand is the command line of the remote half: the words after
// rsync's [-l user] host, which must be `rsync --server` and options
// (relayWordRe), quoted by QuoteCommand.
func relayCommand(words []string) (string, error) {
	if len(words) > 1 && words[0] == "-l" {
		words = words[2:]
	}
	if len(words) < 3 || words[1] != "rsync" || words[2] != "--server" {
		return "", fmt.Errorf("relay: not an rsync server command: %q", words)
	}
	words = words[1:] // the host: the connection's
	for _, w := range words {
		if !relayWordRe.MatchString(w) {
			return "", fmt.Errorf("relay: refusing the remote word %q", w)
		}
	}
	return QuoteCommand(words), nil
}
