package runner

// The connections a deployment holds open follow `parallel`, not the
// number of hosts: each host is unlocked and let go as soon as its own
// work ends, and a revert after that connects once more.

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"releasedesk/events/catalog"
	"releasedesk/runner/sshtest"
)

// runConnSlack is how far the connections open at once may exceed
// `parallel`: a host's connection still closing while the next one's
// opens, and the server side of a closed one not yet torn down.
const runConnSlack = 2

// connWatch samples the connections open to a cluster's hosts every
// couple of milliseconds and keeps the peak.
type connWatch struct {
	stop, done chan struct{}
	peak       atomic.Int64
}

func watchConns(t *testing.T, c *sshtest.Cluster) *connWatch {
	t.Helper()
	w := &connWatch{stop: make(chan struct{}), done: make(chan struct{})}
	if _, err := c.Established(); err != nil {
		t.Skipf("cannot count connections: %v", err)
	}
	go func() {
		defer close(w.done)
		for {
			if n, err := c.Established(); err == nil && int64(n) > w.peak.Load() {
				w.peak.Store(int64(n))
			}
			select {
			case <-w.stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return w
}

// end stops the watch and returns the peak.
func (w *connWatch) end() int {
	close(w.stop)
	<-w.done
	return int(w.peak.Load())
}

// runConnsAfter checks that once a deployment has returned the only
// connections still open to the hosts are those the runner keeps idle
// for the next deployment (connpool.go), and that closing those leaves
// none open.
func runConnsAfter(t *testing.T, h *runHarness, what string) {
	t.Helper()
	wait := func(want func() int, which string) {
		deadline := time.Now().Add(5 * time.Second)
		for {
			n, err := h.cluster.Established()
			if err != nil {
				t.Fatal(err)
			}
			w := want()
			if n == w {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d connections open after the deployment, want %d (%s)", what, n, w, which)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	wait(h.r.IdleConnections, "those kept idle")
	h.r.CloseIdleConnections()
	wait(func() int { return 0 }, "none once the idle ones are closed")
}

// TestRunConnectionsFollowParallel: 7 hosts, parallel 2, batches of 2 (the
// last of one), hosts whose post_release takes different times. A full
// deployment, a 1% change and a rollback each keep at most parallel +
// runConnSlack connections open at once, close them all by the end, and
// connect to each host once (the full one: plus rsync's master).
func TestRunConnectionsFollowParallel(t *testing.T) {
	const hosts, parallel = 7, 2
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyRsync, hosts: hosts, files: 200,
		env: func(e *catalog.Environment) { e.Parallel, e.Batch = parallel, parallel },
		project: func(p *catalog.Project) {
			p.Hooks.PostRelease = `[ -e ../../delay ] && sleep "$(cat ../../delay)"; true`
		}})
	targets := h.targets()
	for i, host := range targets {
		if err := os.MkdirAll(host.Path, 0o755); err != nil {
			t.Fatal(err)
		}
		// Hosts of one batch end at different times.
		if err := os.WriteFile(filepath.Join(host.Path, "delay"), []byte([]string{"0", "0.3"}[i%2]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(what, kind, commit, version string, maxShakes int) {
		t.Helper()
		before := h.handshakes()
		w := watchConns(t, h.cluster)
		start := time.Now()
		h.mustSucceed(kind, commit, version)
		peak := w.end()
		t.Logf("%s to %d hosts, parallel %d: peak %d connections open at once, %s", what, hosts, parallel, peak,
			time.Since(start).Round(time.Millisecond))
		if peak > parallel+runConnSlack {
			t.Errorf("%s: %d connections open at once, want at most parallel %d + %d", what, peak, parallel, runConnSlack)
		}
		runConnsAfter(t, h, what)
		for i, n := range h.handshakes() {
			if d := n - before[i]; d > maxShakes {
				t.Errorf("%s: host %d: %d SSH handshakes, want at most %d", what, i, d, maxShakes)
			}
		}
		for _, host := range targets {
			if got := runCurrentOf(t, host); got != version {
				t.Fatalf("%s: %s runs %q, want %s", what, host.Addr, got, version)
			}
		}
		h.checkLockFree()
	}
	c1 := h.head()
	v1 := h.versionOf(c1)
	run("full deployment", catalog.KindDeploy, c1, v1, 1)
	c2 := h.commit(map[string]string{"dir0/file000.txt": "changed\n", "dir1/file001.txt": "changed too\n"})
	v2 := h.versionOf(c2)
	run("1% change", catalog.KindDeploy, c2, v2, 1)
	run("rollback", catalog.KindRollback, c1, v1, 1)
}

// TestRunHaltRevertsEndedBatches: 6 hosts, parallel 2, batches of 2 under
// halt; the third batch fails (its second host's pre_release refuses). The
// first two batches were switched and let go (unlocked, connections
// closed): each of their hosts is connected to again, locked again,
// switched back with post_release and unlocked, at most parallel at once.
// Every host runs v1 again, none keeps a lock, and no connection is left.
func TestRunHaltRevertsEndedBatches(t *testing.T) {
	const hosts, parallel = 6, 2
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyRsync, hosts: hosts, files: 50,
		env: func(e *catalog.Environment) {
			e.Parallel, e.Batch, e.OnFailure = parallel, parallel, catalog.OnFailureHalt
		},
		project: func(p *catalog.Project) {
			p.Hooks.PreRelease = runFailHook
			p.Hooks.PostRelease = `basename "$PWD" >>../../post-release.log` // the release it runs in
		}})
	targets := h.targets()
	c1 := h.head()
	v1, m1 := h.versionOf(c1), h.manifestOf(c1)
	h.mustSucceed(catalog.KindDeploy, c1, v1)
	runSetFailFlag(t, targets[5], true)

	c2 := h.commit(map[string]string{"dir0/file000.txt": "v2\n"})
	v2 := h.versionOf(c2)
	w := watchConns(t, h.cluster)
	id, term := h.deploy(catalog.KindDeploy, c2, v2)
	peak := w.end()
	if term != catalog.TypeDeployFailed {
		t.Fatalf("ended %s:\n%s", term, h.describe(id))
	}
	t.Logf("halted deployment with reverts: peak %d connections open at once", peak)
	if peak > parallel+runConnSlack {
		t.Errorf("%d connections open at once, want at most parallel %d + %d", peak, parallel, runConnSlack)
	}
	runConnsAfter(t, h, "halted deployment")

	ended := targets[:4] // the first two batches
	var endedAddrs []string
	for _, host := range ended {
		endedAddrs = append(endedAddrs, host.Addr)
	}
	fin := h.finished(id)
	if !slices.Equal(fin.Failed, []string{targets[5].Addr}) || !slices.Equal(fin.Reverted, endedAddrs) || len(fin.Switched) != 0 {
		t.Fatalf("deploy.failed %+v", fin)
	}
	h.checkHosts(targets, v1, c1, m1)
	runNoStaging(t, targets...)
	h.checkLockFree()
	for _, host := range ended {
		// Its batch ended it (the switch session's unlock); the halt
		// came back for it: connect, lock, switch back, post_release,
		// unlock.
		seq := h.hostSequence(id, host.Addr)
		i := slices.Index(seq, "reconnect")
		if parts := h.stepParts(id, host.Addr, "switch"); i < 0 || !slices.Contains(seq[:i], "switch") ||
			!slices.Equal(parts, []string{GatePart, "switch", "hook.post_release", "unlock"}) {
			t.Fatalf("%s: %v (switch ran %v): want a switch with its unlock, then a reconnect", host.Addr, seq, parts)
		}
		want := []string{"reconnect", "relock", "revert", catalog.TypeHostReverted, "hook.post_release", "unlock"}
		if got := seq[i:]; !slices.Equal(got, want) {
			t.Fatalf("%s after the halt: %v, want %v", host.Addr, got, want)
		}
		// post_release ran for v2, then again for v1 after the switch back.
		b, err := os.ReadFile(filepath.Join(host.Path, "post-release.log"))
		if err != nil || string(b) != v1+"\n"+v2+"\n"+v1+"\n" {
			t.Fatalf("%s: post_release ran for %q %v", host.Addr, b, err)
		}
	}
	// The failed batch's other host staged but never switched, and was
	// never connected to again.
	if got := h.hostSequence(id, targets[4].Addr); slices.Contains(got, "switch") || slices.Contains(got, "reconnect") {
		t.Fatalf("%s: %v", targets[4].Addr, got)
	}
}

// TestRunHaltLeavesAloneWhatChangedSince: a revert after a host's batch
// ended never undoes what someone else did there since the deployment let
// the host go. Batches of 2 under halt; while the second batch stages,
// its failing host's pre_release (all hosts share this machine) takes
// host 0's lock for another deployment and points host 1's `current` back
// at v1, then fails. Host 0 is left on v2 under the other lock; host 1 is
// left on v1 (recorded as observed, not reverted) and unlocked.
func TestRunHaltLeavesAloneWhatChangedSince(t *testing.T) {
	const parallel = 2
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyRsync, hosts: 4, files: 20,
		env: func(e *catalog.Environment) {
			e.Parallel, e.Batch, e.OnFailure = parallel, parallel, catalog.OnFailureHalt
		}})
	targets := h.targets()
	c1 := h.head()
	v1 := h.versionOf(c1)
	h.mustSucceed(catalog.KindDeploy, c1, v1)

	other := LockInfo{Deployment: "other-desk", Holder: "bob", Since: time.Now()}
	lock, err := Layout{Path: targets[0].Path}.Lock(other)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Layout{Path: targets[1].Path}.Switch(v1)
	if err != nil {
		t.Fatal(err)
	}
	h.p.Hooks.PreRelease = `if [ -e ../../fail-hook ]; then ` + QuoteCommand(lock) + ` && ` + QuoteCommand(back) +
		` && echo "meddled" && exit 3; fi`
	runSetFailFlag(t, targets[3], true)
	c2 := h.commit(map[string]string{"dir0/file000.txt": "v2\n"})
	v2 := h.versionOf(c2)
	id, term := h.deploy(catalog.KindDeploy, c2, v2)
	if term != catalog.TypeDeployFailed || !strings.Contains(h.stepOutput(id, targets[3].Addr, "hook.pre_release"), "meddled") {
		t.Fatalf("ended %s:\n%s", term, h.describe(id))
	}
	runConnsAfter(t, h, "halted deployment")
	fin := h.finished(id)
	if len(fin.Reverted) != 0 || !slices.Equal(fin.Switched, []string{targets[0].Addr}) {
		t.Fatalf("deploy.failed %+v", fin)
	}
	if got := runCurrentOf(t, targets[0]); got != v2 {
		t.Fatalf("host 0 (locked by another) runs %s, want %s left as it was", got, v2)
	}
	if held, err := os.ReadFile(filepath.Join(targets[0].Path, ".releasedesk", "lock", "info")); err != nil ||
		ParseLockInfo(string(held)).Deployment != other.Deployment {
		t.Fatalf("host 0's lock: %q %v, want the other deployment's", held, err)
	}
	if got := runCurrentOf(t, targets[1]); got != v1 {
		t.Fatalf("host 1 runs %s, want %s as the other party left it", got, v1)
	}
	h.checkLockFreeOn(targets[1:])
	var seen catalog.HostEvent
	for _, e := range h.ofType(id, catalog.TypeHostObserved) {
		_ = e.Decode(&seen)
	}
	if seen.Host != targets[1].Addr || seen.Version != v1 || seen.Commit != c1 {
		t.Fatalf("host_observed %+v, want host 1 on %s", seen, v1)
	}
	for i, want := range map[int][]string{
		0: {"reconnect", "relock"},
		1: {"reconnect", "relock", "revert", catalog.TypeHostObserved, "unlock"},
	} {
		seq := h.hostSequence(id, targets[i].Addr)
		if got := seq[slices.Index(seq, "reconnect"):]; !slices.Equal(got, want) {
			t.Fatalf("host %d after the halt: %v, want %v", i, got, want)
		}
	}
}
