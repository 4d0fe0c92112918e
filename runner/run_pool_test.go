package runner

// A host's connection kept idle after its deployment (connpool.go): the
// next deployment starts on it without a handshake, but only while the
// trust it was made under holds, only while it answers, and never past
// its idle time.

import (
	"os"
	"strings"
	"testing"
	"time"

	"releasedesk/events/catalog"
	"releasedesk/runner/sshtest"
)

// handshakesSince is how many SSH connections each host accepted since
// before.
func (h *runHarness) handshakesSince(before []int) []int {
	now := h.handshakes()
	for i := range now {
		now[i] -= before[i]
	}
	return now
}

func allEqual(ns []int, want int) bool {
	for _, n := range ns {
		if n != want {
			return false
		}
	}
	return true
}

func TestRunReusesIdleConnections(t *testing.T) {
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyRsync, hosts: 3})
	hosts := h.targets()
	c1 := h.head()
	v1, m1 := h.versionOf(c1), h.manifestOf(c1)
	h.mustSucceed(catalog.KindDeploy, c1, v1)
	if n := h.r.IdleConnections(); n != len(hosts) {
		t.Fatalf("%d connections kept idle after the deployment, want %d", n, len(hosts))
	}

	// The next deployment (a rollback after a bad deploy is the case that
	// matters) starts on them: no handshake, and the connect step says so.
	c2 := h.commit(map[string]string{"dir1/file001.txt": "second\n"})
	v2 := h.versionOf(c2)
	h.mustSucceed(catalog.KindDeploy, c2, v2)
	before := h.handshakes()
	id := h.mustSucceed(catalog.KindRollback, c1, v1)
	h.checkHosts(hosts, v1, c1, m1)
	if got := h.handshakesSince(before); !allEqual(got, 0) {
		t.Fatalf("handshakes per host for a rollback right after a deployment: %v, want none", got)
	}
	if out := h.stepOutput(id, hosts[0].Addr, "connect"); !strings.Contains(out, "kept open since an earlier deployment") {
		t.Fatalf("connect step of a reused connection says %q", out)
	}

	// known_hosts changed (an admin trusted or removed a key): every host
	// is dialled again under the file as it is now.
	kh, err := os.ReadFile(h.cluster.KnownHostsPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(h.cluster.KnownHostsPath, append(kh, "# edited\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	before = h.handshakes()
	id = h.mustSucceed(catalog.KindRollback, c2, v2)
	if got := h.handshakesSince(before); !allEqual(got, 1) {
		t.Fatalf("handshakes per host after known_hosts changed: %v, want one each", got)
	}
	if out := h.stepOutput(id, hosts[0].Addr, "connect"); strings.Contains(out, "kept open") {
		t.Fatalf("connect step after known_hosts changed says %q", out)
	}

	// A connection that died while it idled is not handed out: the host
	// is dialled again and the deployment does not notice.
	h.r.pool.mu.Lock()
	for _, ic := range h.r.pool.idle {
		_ = ic.ex.client.Close() // the transport only: as if the host went away
	}
	h.r.pool.mu.Unlock()
	before = h.handshakes()
	h.mustSucceed(catalog.KindRollback, c1, v1)
	h.checkHosts(hosts, v1, c1, m1)
	if got := h.handshakesSince(before); !allEqual(got, 1) {
		t.Fatalf("handshakes per host after the idle connections died: %v, want one each", got)
	}
}

func TestRunIdleConnectionsExpire(t *testing.T) {
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyRsync, hosts: 2, config: func(c *Config) {
		c.IdleConnTimeout = 300 * time.Millisecond
	}})
	c1 := h.head()
	h.mustSucceed(catalog.KindDeploy, c1, h.versionOf(c1))
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := h.cluster.Established()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 && h.r.IdleConnections() == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still open, %d idle, long after the idle time", n, h.r.IdleConnections())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRunKeepsNoIdleConnectionWhenOff(t *testing.T) {
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyRsync, hosts: 2, config: func(c *Config) {
		c.IdleConnTimeout = -1
	}})
	c1 := h.head()
	h.mustSucceed(catalog.KindDeploy, c1, h.versionOf(c1))
	if n := h.r.IdleConnections(); n != 0 {
		t.Fatalf("%d connections kept idle with IdleConnTimeout < 0", n)
	}
	runConnsAfter(t, h, "deployment with no idle connections")
}

// TestRunIdleConnectionsKeepTheBound: connections kept idle count against
// `parallel`: a batch whose hosts all connect at once, while the last
// batch's connections still idle, closes those first.
func TestRunIdleConnectionsKeepTheBound(t *testing.T) {
	const hosts, parallel = 8, 4
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyRsync, hosts: hosts, files: 20,
		env: func(e *catalog.Environment) { e.Parallel, e.Batch = parallel, parallel }})
	for i, what := range []string{"first deployment", "second deployment"} {
		c := h.commit(map[string]string{"dir0/file000.txt": what + "\n"})
		w := watchConns(t, h.cluster)
		h.mustSucceed(catalog.KindDeploy, c, h.versionOf(c))
		if peak := w.end(); peak > parallel+runConnSlack {
			t.Fatalf("%s: %d connections open at once, want at most parallel %d + %d", what, peak, parallel, runConnSlack)
		}
		if n := h.r.IdleConnections(); n > parallel || (i == 1 && n == 0) {
			t.Fatalf("%s: %d connections kept idle, want 1..%d", what, n, parallel)
		}
	}
}

// An evicted connection is gone for its host at once (closeAll hangs them
// all up before it closes each): a closed socket is freed only once the
// goroutine reading it has run, and a busy runner dials new connections
// meanwhile. Hanging up alone, with no Close yet, already ends the
// host's side.
func TestClosedConnectionsEndForTheHostAtOnce(t *testing.T) {
	c := sshtest.Start(t, 3)
	var exs []*SSHExecutor
	for i := range 3 {
		exs = append(exs, dialHost(t, c, i, nil))
	}
	if n, err := c.Established(); err != nil || n != 3 {
		t.Fatalf("%d connections established (%v), want 3", n, err)
	}
	for _, ex := range exs {
		ex.hangUp()
	}
	deadline := time.Now().Add(time.Second)
	for {
		n, err := c.Established()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still established a second after hanging up", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	closeAll(exs)
	for _, ex := range exs {
		if !ex.isClosed() {
			t.Fatal("closeAll left a connection open")
		}
	}
}
