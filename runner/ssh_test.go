package runner

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"releasedesk/events/catalog"
	"releasedesk/runner/sshtest"
)

func dialHost(t *testing.T, c *sshtest.Cluster, i int, d *Dialer) *SSHExecutor {
	t.Helper()
	if d == nil {
		d = &Dialer{KnownHostsPath: c.KnownHostsPath, Timeout: 5 * time.Second}
	}
	e, err := d.Dial(context.Background(), catalog.Host(c.Hosts[i]), c.KeyPath)
	if err != nil {
		t.Fatalf("dial host %d: %v", i, err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// waitAccepted waits for host i's log to show want accepted connections
// (the log is read asynchronously) and fails if it shows another count.
func waitAccepted(t *testing.T, c *sshtest.Cluster, i, want int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for c.Accepted(i) < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if got := c.Accepted(i); got != want {
		t.Fatalf("host %d accepted %d SSH connections, want %d", i, got, want)
	}
}

// firstWrite records when output first arrives.
type firstWrite struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	first chan struct{}
}

func (w *firstWrite) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf.Len() == 0 && len(p) > 0 {
		close(w.first)
	}
	return w.buf.Write(p)
}

func TestSSHRun(t *testing.T) {
	c := sshtest.Start(t, 1)
	e := dialHost(t, c, 0, nil)
	ctx := context.Background()

	var out bytes.Buffer
	code, err := e.Run(ctx, []string{"sh", "-c", "echo out; echo err >&2; exit 3"}, &out)
	if err != nil || code != 3 {
		t.Fatalf("exit %d, %v", code, err)
	}
	if got := out.String(); !strings.Contains(got, "out\n") || !strings.Contains(got, "err\n") {
		t.Fatalf("combined output %q", got)
	}
	if code, err := e.Run(ctx, []string{"true"}, nil); code != 0 || err != nil {
		t.Fatalf("true: %d %v", code, err)
	}
	if code, err := e.Run(ctx, []string{"sh", "-c", "kill -TERM $$"}, nil); code != 128+15 || err != nil {
		t.Fatalf("killed by a signal: %d %v", code, err)
	}

	// Output streams as it comes, before the command ends.
	w := &firstWrite{first: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if code, err := e.Run(ctx, []string{"sh", "-c", "echo first; sleep 1; echo second"}, w); code != 0 || err != nil {
			t.Errorf("streaming: %d %v", code, err)
		}
	}()
	select {
	case <-w.first:
		select {
		case <-done:
			t.Fatal("output arrived only when the command ended")
		default:
		}
	case <-done:
		t.Fatal("no output before the end")
	case <-time.After(5 * time.Second):
		t.Fatal("no output")
	}
	<-done

	// A big output arrives whole.
	out.Reset()
	if code, err := e.Run(ctx, []string{"sh", "-c", "head -c 5000000 /dev/zero | tr '\\0' a"}, &out); code != 0 || err != nil {
		t.Fatalf("big output: %d %v", code, err)
	}
	if out.Len() != 5000000 || strings.Trim(out.String(), "a") != "" {
		t.Fatalf("big output: %d bytes", out.Len())
	}

	// Every payload travels as one inert argument.
	out.Reset()
	argv := append([]string{"sh", "-c", `cd "$0" && for a in "$@"; do printf '[%s]' "$a"; done`, c.Dir}, injectionPayloads...)
	if code, err := e.Run(ctx, argv, &out); code != 0 || err != nil {
		t.Fatalf("payloads: %d %v: %s", code, err, out.String())
	}
	var want strings.Builder
	for _, p := range injectionPayloads {
		want.WriteString("[" + p + "]")
	}
	if out.String() != want.String() {
		t.Fatalf("payloads came back as\n%q\nwant\n%q", out.String(), want.String())
	}
	if _, err := e.Run(ctx, []string{"echo", "a\x00b"}, nil); !errors.Is(err, ErrNUL) {
		t.Fatalf("NUL: %v", err)
	}
	assertNoCanary(t, c.Dir, filepath.Join(filepath.Dir(c.Hosts[0].Path), "home"))

	// All of it on one connection.
	for range 10 {
		if code, err := e.Run(ctx, []string{"true"}, nil); code != 0 || err != nil {
			t.Fatal(code, err)
		}
	}
	waitAccepted(t, c, 0, 1)
}

func TestSSHCancelKillsRemoteProcess(t *testing.T) {
	c := sshtest.Start(t, 1)
	e := dialHost(t, c, 0, nil)
	pidFile := filepath.Join(c.Dir, "pid")
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		code int
		err  error
	}
	res := make(chan result, 1)
	go func() {
		code, err := e.Run(ctx, []string{"sh", "-c", `echo $$ >"$1"; exec sleep 30`, "sh", pidFile}, nil)
		res <- result{code, err}
	}()
	pid := waitFile(t, pidFile)
	start := time.Now()
	cancel()
	select {
	case r := <-res:
		if r.code != -1 || !errors.Is(r.err, context.Canceled) {
			t.Fatalf("cancelled Run: %d %v", r.code, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	t.Logf("cancel returned in %s", time.Since(start))
	if sshtest.Alive(pid) {
		t.Fatalf("remote process %s still runs after cancel", pid)
	}
	// The connection still serves.
	if code, err := e.Run(context.Background(), []string{"true"}, nil); code != 0 || err != nil {
		t.Fatalf("after cancel: %d %v", code, err)
	}
	if _, err := e.Run(ctx, []string{"true"}, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run with an ended ctx: %v", err)
	}
}

func waitFile(t *testing.T, p string) string {
	t.Helper()
	for range 500 {
		if b, err := os.ReadFile(p); err == nil && len(bytes.TrimSpace(b)) > 0 {
			return string(bytes.TrimSpace(b))
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never appeared", p)
	return ""
}

func keygenFingerprint(t *testing.T, pubPath string) string {
	t.Helper()
	out, err := exec.Command("ssh-keygen", "-lf", pubPath).Output()
	if err != nil {
		t.Fatalf("ssh-keygen -lf: %v", err)
	}
	f := strings.Fields(string(out))
	if len(f) < 2 {
		t.Fatalf("ssh-keygen -lf: %q", out)
	}
	return f[1]
}

func TestSSHUnknownHostKeyThenTrust(t *testing.T) {
	c := sshtest.Start(t, 2)
	kh := filepath.Join(t.TempDir(), "app", "known_hosts") // missing: created empty
	d := &Dialer{KnownHostsPath: kh, Timeout: 5 * time.Second}
	canary := filepath.Join(c.Dir, "CANARY")
	_, err := d.Dial(context.Background(), catalog.Host(c.Hosts[0]), c.KeyPath)
	var ue *UnknownHostKeyError
	if !errors.As(err, &ue) || !errors.Is(err, ErrHostKey) {
		t.Fatalf("want *UnknownHostKeyError, got %T %v", err, err)
	}
	if st, err := os.Stat(kh); err != nil || st.Size() != 0 || st.Mode().Perm() != 0o600 {
		t.Fatalf("known_hosts not created empty 0600: %v %v", st, err)
	}
	want := keygenFingerprint(t, c.HostKeyPath(0)+".pub")
	if ue.Fingerprint != want || ue.KeyType != "ssh-ed25519" || ue.Host != c.HostPort(0) {
		t.Fatalf("error %+v, want fingerprint %s", ue, want)
	}
	if !strings.Contains(c.HostKeyLine(0), ue.Key) {
		t.Fatalf("offered key %q is not the host's", ue.Key)
	}
	// Nothing authenticated, so nothing could run.
	if c.Accepted(0) != 0 || strings.Contains(c.Log(0), "Accepted") {
		t.Fatalf("the host accepted a login: %s", c.Log(0))
	}
	if _, err := os.Stat(canary); err == nil {
		t.Fatal("canary exists")
	}

	// What the host offers, without logging in.
	typ, fp, key, err := ScanHostKey(context.Background(), c.Hosts[0].Addr, 5*time.Second)
	if err != nil || typ != "ssh-ed25519" || fp != want || key != ue.Key {
		t.Fatalf("ScanHostKey: %q %q %q %v", typ, fp, key, err)
	}
	if _, fp2, _, err := ScanHostKey(context.Background(), c.HostPort(1), time.Second); err != nil || fp2 != keygenFingerprint(t, c.HostKeyPath(1)+".pub") {
		t.Fatalf("ScanHostKey host:port: %q %v", fp2, err)
	}
	if c.Accepted(0) != 0 {
		t.Fatal("ScanHostKey authenticated")
	}

	// Trust it (twice: idempotent), then Dial works and runs.
	for range 2 {
		if err := TrustHostKey(kh, c.Hosts[0].Addr, key); err != nil {
			t.Fatal(err)
		}
	}
	if b, _ := os.ReadFile(kh); strings.Count(string(b), "\n") != 1 || strings.TrimSpace(string(b)) != c.HostKeyLine(0) {
		t.Fatalf("known_hosts after trust: %q, want %q", b, c.HostKeyLine(0))
	}
	e, err := d.Dial(context.Background(), catalog.Host(c.Hosts[0]), c.KeyPath)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if code, err := e.Run(context.Background(), []string{"touch", canary}, nil); code != 0 || err != nil {
		t.Fatal(code, err)
	}
	// Host 1 is still unknown.
	if _, err := d.Dial(context.Background(), catalog.Host(c.Hosts[1]), c.KeyPath); !errors.As(err, &ue) {
		t.Fatalf("host 1: %v", err)
	}
	if err := TrustHostKey(kh, c.Hosts[1].Addr, "not a key"); err == nil {
		t.Fatal("a bad key was trusted")
	}
}

func TestSSHChangedHostKey(t *testing.T) {
	c := sshtest.Start(t, 2)
	d := &Dialer{KnownHostsPath: c.KnownHostsPath, Timeout: 5 * time.Second}
	oldFP := keygenFingerprint(t, c.HostKeyPath(1)+".pub")
	c.RotateHostKey(1)
	newFP := keygenFingerprint(t, c.HostKeyPath(1)+".pub")
	before := c.Accepted(1)
	_, err := d.Dial(context.Background(), catalog.Host(c.Hosts[1]), c.KeyPath)
	var ce *ChangedHostKeyError
	if !errors.As(err, &ce) || !errors.Is(err, ErrHostKey) {
		t.Fatalf("want *ChangedHostKeyError, got %T %v", err, err)
	}
	if ce.Fingerprint != newFP || len(ce.Known) != 1 || ce.Known[0] != oldFP {
		t.Fatalf("changed key error %+v (old %s, new %s)", ce, oldFP, newFP)
	}
	if c.Accepted(1) != before {
		t.Fatal("a host with a changed key accepted a login")
	}
	// The admin trusts the new key: it replaces the old line only.
	if err := TrustHostKey(c.KnownHostsPath, c.Hosts[1].Addr, ce.Key); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(c.KnownHostsPath)
	if !strings.Contains(string(b), c.HostKeyLine(0)) || !strings.Contains(string(b), c.HostKeyLine(1)) || strings.Count(string(b), "\n") != 2 {
		t.Fatalf("known_hosts after replacing a key:\n%s", b)
	}
	dialHost(t, c, 1, d)
	dialHost(t, c, 0, d)
}

func TestSSHFrozenAndKilledHosts(t *testing.T) {
	c := sshtest.Start(t, 3)
	// A host that accepts TCP and never answers: Dial is bounded.
	c.Freeze(0)
	d := &Dialer{KnownHostsPath: c.KnownHostsPath, Timeout: 500 * time.Millisecond}
	start := time.Now()
	if _, err := d.Dial(context.Background(), catalog.Host(c.Hosts[0]), c.KeyPath); err == nil {
		t.Fatal("dialled a frozen host")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("Dial of a frozen host took %s", took)
	}
	c.Thaw(0)

	// A host that hangs during a command: ctx bounds Run.
	e := dialHost(t, c, 0, &Dialer{KnownHostsPath: c.KnownHostsPath, Timeout: 2 * time.Second, KeepAlive: -1})
	c.Freeze(0)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	start = time.Now()
	_, err := e.Run(ctx, []string{"true"}, nil)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 4*time.Second {
		t.Fatalf("Run on a frozen host: %v after %s", err, time.Since(start))
	}
	c.Thaw(0)

	// Without a deadline, keepalives notice the hang and end the Run.
	e2 := dialHost(t, c, 1, &Dialer{KnownHostsPath: c.KnownHostsPath, Timeout: 300 * time.Millisecond, KeepAlive: 200 * time.Millisecond})
	if code, err := e2.Run(context.Background(), []string{"true"}, nil); code != 0 || err != nil {
		t.Fatal(code, err)
	}
	c.Freeze(1)
	start = time.Now()
	_, err = e2.Run(context.Background(), []string{"sleep", "30"}, nil)
	if !errors.Is(err, ErrConnectionLost) || time.Since(start) > 5*time.Second {
		t.Fatalf("keepalive: %v after %s", err, time.Since(start))
	}
	c.Thaw(1)

	// A host killed mid-command: Run fails with an error, not an exit code.
	e3 := dialHost(t, c, 2, nil)
	res := make(chan error, 1)
	go func() {
		_, err := e3.Run(context.Background(), []string{"sleep", "30"}, nil)
		res <- err
	}()
	time.Sleep(300 * time.Millisecond)
	c.Kill(2)
	select {
	case err := <-res:
		if !errors.Is(err, ErrConnectionLost) {
			t.Fatalf("killed host: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not notice the host died")
	}
	if _, err := e3.Run(context.Background(), []string{"true"}, nil); !errors.Is(err, ErrConnectionLost) {
		t.Fatalf("Run after the host died: %v", err)
	}
	// Down: Dial fails fast (connection refused), and works after restart.
	if _, err := (&Dialer{KnownHostsPath: c.KnownHostsPath}).Dial(context.Background(), catalog.Host(c.Hosts[2]), c.KeyPath); err == nil {
		t.Fatal("dialled a dead host")
	}
	c.Restart(2)
	dialHost(t, c, 2, nil)
}

func TestParseHostAddr(t *testing.T) {
	for in, want := range map[string]struct {
		user, host string
		port       int
	}{
		"www@10.0.0.5:22":   {"www", "10.0.0.5", 22},
		"www@example.com":   {"www", "example.com", 22},
		"deploy@web-1:2222": {"deploy", "web-1", 2222},
		"root@[::1]:2200":   {"root", "::1", 2200},
		"a.b_c@[fe80::1]":   {"a.b_c", "fe80::1", 22},
		"u@127.0.0.1:65535": {"u", "127.0.0.1", 65535},
	} {
		u, h, p, err := ParseHostAddr(in)
		if err != nil || u != want.user || h != want.host || p != want.port {
			t.Errorf("ParseHostAddr(%q) = %q %q %d %v", in, u, h, p, err)
		}
	}
	for _, in := range []string{
		"", "host", "@host", "host:22", "www@", "www@:22", "www@host:", "www@host:0", "www@host:65536",
		"www@host:x", "-oProxyCommand=x@host", "www@-oProxyCommand=x", "w w@host", "www@ho st",
		"www@host\n", "www@host:22\x00", "www@::1", "www@[::1", "www@[10.0.0.1]:22", "www@h:+22", "a@b@c",
		"www@host;touch CANARY", "w'w@host", "www@ho%st",
	} {
		if _, _, _, err := ParseHostAddr(in); err == nil {
			t.Errorf("ParseHostAddr(%q) accepted", in)
		}
	}
}

// TestKeepAliveWaitsWhileTheHostSends: a keepalive's reply can queue
// behind a transfer's data for longer than the timeout (20 hosts' streams
// on one link); a host that keeps sending is alive, one that falls silent
// is cut off a timeout after its last byte. (The slow reply itself is the
// one part not caused for real: it is a channel never answered.)
func TestKeepAliveWaitsWhileTheHostSends(t *testing.T) {
	local, host := net.Pipe()
	defer host.Close()
	conn := newHeardConn(local)
	go func() { _, _ = io.Copy(io.Discard, conn) }() // the client reading
	e := &SSHExecutor{heard: conn, done: make(chan struct{})}
	const timeout = 200 * time.Millisecond
	sending := 1200 * time.Millisecond
	go func() {
		for end := time.Now().Add(sending); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
			if _, err := host.Write([]byte("window adjust")); err != nil {
				return
			}
		}
	}()
	start := time.Now()
	if e.awaitReply(make(chan error), timeout) {
		t.Fatal("a reply that never came was taken for one")
	}
	took := time.Since(start)
	if took < sending || took > sending+timeout+500*time.Millisecond {
		t.Fatalf("cut off after %s; the host sent for %s, timeout %s", took, sending, timeout)
	}
	// A reply, late but there: alive; a refused request: not.
	replied := make(chan error, 1)
	replied <- nil
	if !e.awaitReply(replied, timeout) {
		t.Fatal("a reply refused")
	}
	replied <- errors.New("closed")
	if e.awaitReply(replied, timeout) {
		t.Fatal("a failed request taken for a reply")
	}
}
