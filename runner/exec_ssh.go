package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"releasedesk/events/catalog"

	"github.com/melbahja/goph"
	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
)

// Dialer opens the one SSH connection a deployment keeps per host, with
// strict host key checking against the app's own known_hosts.
type Dialer struct {
	KnownHostsPath string        // the app's known_hosts (created empty if missing)
	Timeout        time.Duration // bounds TCP connect + SSH handshake + auth; default 10 s
	// KeepAlive is the interval of keepalive requests on an open
	// connection; a host that does not answer one, and sends nothing else
	// either, for Timeout is disconnected, which fails the commands
	// running on it. Default 15 s; negative: none.
	KeepAlive time.Duration
}

// DefaultSSHTimeout bounds connect and handshake when Dialer.Timeout is 0.
const DefaultSSHTimeout = 10 * time.Second

// DefaultKeepAlive is Dialer.KeepAlive's default.
const DefaultKeepAlive = 15 * time.Second

func (d *Dialer) timeout() time.Duration {
	if d.Timeout > 0 {
		return d.Timeout
	}
	return DefaultSSHTimeout
}

// Dial connects to h.Addr ("user@host:port") and authenticates with the
// private key at keyPath. An unknown host key fails with
// *UnknownHostKeyError, a changed one with *ChangedHostKeyError (both
// errors.Is ErrHostKey), before any authentication or command.
func (d *Dialer) Dial(ctx context.Context, h catalog.Host, keyPath string) (*SSHExecutor, error) {
	user, host, port, err := ParseHostAddr(h.Addr)
	if err != nil {
		return nil, err
	}
	signer, err := loadKey(keyPath)
	if err != nil {
		return nil, err
	}
	if err := ensureKnownHosts(d.KnownHostsPath); err != nil {
		return nil, fmt.Errorf("known_hosts: %w", err)
	}
	db, err := knownhosts.NewDB(d.KnownHostsPath)
	if err != nil {
		return nil, fmt.Errorf("known_hosts: %w", err)
	}
	hp := net.JoinHostPort(host, strconv.Itoa(port))
	check := &hostKeyCheck{db: db}
	cfg := &ssh.ClientConfig{
		User:              user,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback:   check.callback,
		HostKeyAlgorithms: db.HostKeyAlgorithms(hp),
	}
	client, heard, err := handshake(ctx, hp, cfg, d.timeout())
	if check.err != nil {
		return nil, check.err
	}
	if err != nil {
		return nil, fmt.Errorf("ssh %s: %w", h.Addr, err)
	}
	e := &SSHExecutor{
		host:   h,
		client: &goph.Client{Client: client},
		heard:  heard,
		done:   make(chan struct{}),
	}
	ka := d.KeepAlive
	if ka == 0 {
		ka = DefaultKeepAlive
	}
	if ka > 0 {
		go e.keepAlive(ka, d.timeout())
	}
	return e, nil
}

func loadKey(p string) (ssh.Signer, error) {
	if p == "" {
		return nil, errors.New("ssh: no private key path")
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("ssh key: %w", err)
	}
	s, err := ssh.ParsePrivateKey(b)
	if err != nil {
		var pe *ssh.PassphraseMissingError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("ssh key %s is protected by a passphrase: use a key without one for deployments", p)
		}
		return nil, fmt.Errorf("ssh key %s: %w", p, err)
	}
	return s, nil
}

// handshake dials hp and runs the SSH handshake under one deadline
// (timeout, and ctx), so a host that accepts TCP but never speaks cannot
// hang it.
func handshake(ctx context.Context, hp string, cfg *ssh.ClientConfig, timeout time.Duration) (*ssh.Client, *heardConn, error) {
	if timeout <= 0 {
		timeout = DefaultSSHTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var nd net.Dialer
	raw, err := nd.DialContext(ctx, "tcp", hp)
	if err != nil {
		return nil, nil, err
	}
	conn := newHeardConn(raw)
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	c, chans, reqs, err := ssh.NewClientConn(conn, hp, cfg)
	if !stop() || err != nil {
		conn.Close()
		if err == nil {
			c.Close()
			err = ctx.Err()
		}
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return nil, nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), conn, nil
}

// heardConn is the connection under an SSH client, noting when a byte
// last came from the host. A keepalive's reply queues behind the data
// before it: on a connection busy with a transfer (20 hosts sharing a
// link, a slow WAN) it can take longer than the timeout while the host
// is plainly alive, acknowledging the stream (window adjustments).
type heardConn struct {
	net.Conn
	last atomic.Int64 // unix nanoseconds
}

func newHeardConn(c net.Conn) *heardConn {
	h := &heardConn{Conn: c}
	h.last.Store(time.Now().UnixNano())
	return h
}

func (c *heardConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.last.Store(time.Now().UnixNano())
	}
	return n, err
}

// silentFor is how long the host has sent nothing.
func (c *heardConn) silentFor() time.Duration {
	return time.Since(time.Unix(0, c.last.Load()))
}

// SSHExecutor runs commands on one host over one SSH connection: every Run
// is a new session on it. A command is sent as RemoteCommand(argv) (argv
// quoted by QuoteCommand, under a small watcher that ends it when Run's
// ctx ends) to the login shell of the remote user, which must be a POSIX
// shell (sh, bash, dash, zsh, ksh).
type SSHExecutor struct {
	host      catalog.Host
	client    *goph.Client
	heard     *heardConn // nil for a client made elsewhere
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
	// What Runner.dial made it for (connpool.go): the key of the pool and
	// the dial's stamp of known_hosts and key file.
	poolKey, poolStamp string
}

var _ Executor = (*SSHExecutor)(nil)

// Host is the host this executor is connected to.
func (e *SSHExecutor) Host() catalog.Host { return e.host }

// Client is the underlying goph client (SFTP and the like). Never pass it
// a command line built from untrusted text: goph quotes nothing.
func (e *SSHExecutor) Client() *goph.Client { return e.client }

// ErrConnectionLost: the command's outcome is unknown, the connection to
// the host ended before it reported an exit status.
var ErrConnectionLost = errors.New("runner: ssh connection lost")

// killWait bounds how long Run waits for a session to go away after ctx
// ended and the remote process group was told to die.
const killWait = 2 * time.Second

// watchScript first reads the variables of RunEnv from the session's
// stdin (envBlock: NAME=value lines up to an empty line; read, printf and
// export are builtins, so no value is ever in an argv) and exports them.
// Then it runs the command ("$@", stdin /dev/null) and watches stdin:
// when the client closes it (Run's ctx ended) or the connection drops, it
// kills its whole process group, the command with everything it started.
// OpenSSH does not kill a command when its session channel closes, and
// honours the SSH "signal" request only in some configurations; this works
// with any sshd. The exit status is the command's (128+n when a signal
// ended it); 125 when the variables could not be read.
const watchScript = envBlockScript + `[ -n "$_rd_ok" ] || exit 125
unset _rd_ok _rd_l _rd_n _rd_v
exec 3<&0
"$@" 3<&- &
cmd=$!
(read -r _ <&3; kill -KILL 0) &
watcher=$!
exec 3<&-
wait "$cmd"
st=$?
kill "$watcher" 2>/dev/null
exit "$st"`

// envBlockScript reads the variables of an envBlock from stdin and
// exports them, leaving _rd_ok set when the block ended with its empty
// line (watchScript; a sequence's gate).
const envBlockScript = `_rd_ok=
while IFS= read -r _rd_l; do
	if [ -z "$_rd_l" ]; then
		_rd_ok=1
		break
	fi
	_rd_n="${_rd_l%%=*}"
	case "$_rd_l" in
	*=*) ;;
	*) _rd_n= ;;
	esac
	case "$_rd_n" in
	"" | [0-9]* | *[!A-Za-z0-9_]*)
		echo "releasedesk: bad variable on stdin" >&2
		exit 125
		;;
	esac
	_rd_v=$(printf '%bx' "${_rd_l#*=}")
	export "$_rd_n=${_rd_v%x}"
done
`

// RemoteCommand is the command line Run sends for argv: argv wrapped in
// the watcher script, quoted by QuoteCommand.
func RemoteCommand(argv []string) string {
	return QuoteCommand(append([]string{"sh", "-c", watchScript, "sh"}, argv...))
}

type started struct {
	sess  *ssh.Session
	stdin io.WriteCloser
	err   error
}

// startSession starts command in a new session of the connection, its
// stdout and stderr going to stdout and stderr, block written to its stdin
// first (stdin stays open). Opening a session writes to the connection, so
// it runs aside: when ctx ends first, it is closed once it has opened and
// ctx's error is returned. A connection that refuses is ErrConnectionLost.
func (e *SSHExecutor) startSession(ctx context.Context, command string, stdout, stderr io.Writer, block []byte) (started, error) {
	ready := make(chan started, 1)
	go func() {
		sess, err := e.client.NewSession()
		if err != nil {
			ready <- started{err: fmt.Errorf("new session: %w", err)}
			return
		}
		sess.Stdout, sess.Stderr = stdout, stderr
		stdin, err := sess.StdinPipe()
		if err == nil {
			err = sess.Start(command)
		}
		if err == nil && len(block) > 0 {
			// Stdin stays open after it: closing it ends the command.
			_, err = stdin.Write(block)
		}
		if err != nil {
			sess.Close()
			ready <- started{err: fmt.Errorf("start: %w", err)}
			return
		}
		ready <- started{sess: sess, stdin: stdin}
	}()
	select {
	case st := <-ready:
		if st.err != nil {
			return st, fmt.Errorf("%w: %s: %v", ErrConnectionLost, e.host.Addr, st.err)
		}
		return st, nil
	case <-ctx.Done():
		go func() {
			if st := <-ready; st.sess != nil {
				st.stdin.Close()
				st.sess.Close()
			}
		}()
		return started{}, ctx.Err()
	}
}

// Run implements Executor. Opening the session, starting the command and
// waiting for it are all bounded by ctx, so a host that stops answering
// cannot hold Run past ctx.
func (e *SSHExecutor) Run(ctx context.Context, argv []string, out io.Writer) (int, error) {
	return e.RunEnv(ctx, argv, nil, out)
}

// RunEnv implements Executor: env travels on the session's stdin, read by
// the watch script (see RemoteCommand) before the command starts.
func (e *SSHExecutor) RunEnv(ctx context.Context, argv, env []string, out io.Writer) (int, error) {
	if err := checkArgv(argv); err != nil {
		return -1, err
	}
	block, err := envBlock(env)
	if err != nil {
		return -1, err
	}
	return e.session(ctx, RemoteCommand(argv), block, nil, out)
}

// RunStdin implements Executor: stdin is streamed over the session's
// stdin (on the open connection: no new handshake), then closed. The
// command line is argv quoted by QuoteCommand, with no watcher: its stdin
// is the data, so EOF cannot mean "stop". Ending it is still bounded:
// when ctx ends, or the runner or the connection dies, its stdin closes
// early, and a command that reads its input to the end (tar -f -) sees a
// cut stream and fails; the signal request is sent too. Whatever the
// command says then, Run reports ctx's error, so a cut stream never counts
// as a success.
func (e *SSHExecutor) RunStdin(ctx context.Context, argv []string, stdin io.Reader, out io.Writer) (int, error) {
	if err := checkArgv(argv); err != nil {
		return -1, err
	}
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	return e.session(ctx, QuoteCommand(argv), nil, &readErrReader{r: stdin}, out)
}

// session runs command in a new session: block is written to its stdin
// first and stdin stays open (RunEnv: closing it ends the command), or
// stream is copied to it and stdin is closed (RunStdin).
func (e *SSHExecutor) session(ctx context.Context, command string, block []byte, stream *readErrReader, out io.Writer) (int, error) {
	if err := ctx.Err(); err != nil {
		return -1, err
	}
	if out == nil {
		out = io.Discard
	}
	w := &syncWriter{w: out}
	st, err := e.startSession(ctx, command, w, w, block)
	if err != nil {
		return -1, err
	}
	sess := st.sess
	defer sess.Close()
	copied := make(chan error, 1)
	if stream != nil {
		go func() {
			_, err := io.Copy(st.stdin, stream)
			// EOF for the command, also after a failed read: it must
			// not wait for more.
			cerr := st.stdin.Close()
			if err == nil {
				err = cerr
			}
			copied <- err
		}()
	}
	waited := make(chan error, 1)
	go func() { waited <- sess.Wait() }()
	select {
	case err = <-waited:
		if stream == nil {
			st.stdin.Close()
		}
	case <-ctx.Done():
		// A copy blocked on the window ends with the channel.
		stopSession(st, waited, stream != nil)
		return -1, ctx.Err()
	}
	var copyErr error
	if stream != nil {
		// The session is over: a copy still blocked on a window the
		// command will never open again ends with the channel.
		_ = sess.Close()
		select {
		case copyErr = <-copied:
		case <-time.After(killWait):
			copyErr = errors.New("stdin copy did not end")
		}
		if stream.err != nil {
			return -1, fmt.Errorf("read the command's input: %w", stream.err)
		}
	}
	code, err := exitCode(err, e.host.Addr)
	if err == nil && code == 0 && stream != nil && (copyErr != nil || !stream.eof) {
		// It said 0 but did not take all of its input: not a success.
		return -1, fmt.Errorf("%w (%s): %v", ErrStdinNotRead, e.host.Addr, copyErr)
	}
	return code, err
}

// stopSession ends a session whose run's context ended: EOF on stdin makes
// the watcher (or a gate) kill the process group, and a streamed command
// sees its input cut; the signal request is a second way where sshd
// honours it; closeChannel also closes the session's channel. All write
// to the connection: a hung host must not hang us, so they run aside and
// we wait killWait at most for the session to end.
func stopSession(st started, waited <-chan error, closeChannel bool) {
	go func() {
		_ = st.stdin.Close()
		_ = st.sess.Signal(ssh.SIGKILL)
		if closeChannel {
			_ = st.sess.Close()
		}
	}()
	select {
	case <-waited:
	case <-time.After(killWait):
	}
}

// exitCode reads a session's end: its exit status, 128+n for a signal,
// or ErrConnectionLost when it reported none.
func exitCode(err error, addr string) (int, error) {
	if err == nil {
		return 0, nil
	}
	var ee *ssh.ExitError
	if errors.As(err, &ee) {
		if ee.ExitStatus() == 0 && ee.Signal() != "" {
			return 128 + signalNumber(ee.Signal()), nil
		}
		return ee.ExitStatus(), nil
	}
	return -1, fmt.Errorf("%w: %s: %v", ErrConnectionLost, addr, err)
}

// signalNumber maps an SSH signal name to its usual Linux number.
func signalNumber(s string) int {
	switch ssh.Signal(s) {
	case ssh.SIGHUP:
		return 1
	case ssh.SIGINT:
		return 2
	case ssh.SIGQUIT:
		return 3
	case ssh.SIGILL:
		return 4
	case ssh.SIGABRT:
		return 6
	case ssh.SIGFPE:
		return 8
	case ssh.SIGKILL:
		return 9
	case ssh.SIGSEGV:
		return 11
	case ssh.SIGPIPE:
		return 13
	case ssh.SIGALRM:
		return 14
	case ssh.SIGTERM:
		return 15
	case ssh.SIGUSR1:
		return 10
	case ssh.SIGUSR2:
		return 12
	}
	return 0
}

// keepAlive sends keepalive requests every interval; a host that neither
// replies nor sends anything else for longer than timeout gets its
// connection closed.
func (e *SSHExecutor) keepAlive(interval, timeout time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-e.done:
			return
		case <-t.C:
		}
		replied := make(chan error, 1)
		go func() {
			_, _, err := e.client.SendRequest("keepalive@openssh.com", true, nil)
			replied <- err
		}()
		if !e.awaitReply(replied, timeout) {
			_ = e.Close()
			return
		}
	}
}

// awaitReply waits for a keepalive's reply, for as long as the host keeps
// sending something within timeout; false: it fell silent, or refused.
func (e *SSHExecutor) awaitReply(replied <-chan error, timeout time.Duration) bool {
	wait := time.NewTimer(timeout)
	defer wait.Stop()
	for {
		select {
		case <-e.done:
			return true // closed already
		case err := <-replied:
			return err == nil
		case <-wait.C:
			if e.heard == nil {
				return false
			}
			silent := e.heard.silentFor()
			if silent >= timeout {
				return false
			}
			wait.Reset(timeout - silent)
		}
	}
}

// isClosed tells whether Close was called (by a caller, or the keepalive).
func (e *SSHExecutor) isClosed() bool {
	select {
	case <-e.done:
		return true
	default:
		return false
	}
}

// answers tells whether the host replies to a keepalive within timeout.
func (e *SSHExecutor) answers(ctx context.Context, timeout time.Duration) bool {
	if e.isClosed() {
		return false
	}
	replied := make(chan error, 1)
	go func() {
		_, _, err := e.client.SendRequest("keepalive@openssh.com", true, nil)
		replied <- err
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case err := <-replied:
		return err == nil
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// Close closes the connection; running sessions fail with ErrConnectionLost.
//
// The host sees it end at once: the TCP connection is shut down first.
// Closing a socket frees it only once the goroutine reading it has run,
// which a process busy with a fleet may delay for a good part of a second,
// while the idle connections just evicted (connpool.go) already count as
// gone and new ones are dialled: BenchmarkFleet saw 121 open at parallel
// 100, and 25 at parallel 20, after a deployment with a wider parallel.
func (e *SSHExecutor) Close() error {
	e.closeOnce.Do(func() {
		close(e.done)
		e.hangUp()
		e.closeErr = e.client.Close()
	})
	return e.closeErr
}

// hangUp shuts the TCP connection down (the host reads its end) without
// waiting for anything; Close does the rest.
func (e *SSHExecutor) hangUp() {
	if e.heard == nil {
		return
	}
	if tc, ok := e.heard.Conn.(interface{ CloseWrite() error }); ok {
		_ = tc.CloseWrite()
	}
}
