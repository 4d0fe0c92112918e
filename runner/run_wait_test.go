package runner

// A batch larger than `parallel` keeps the connections within `parallel`
// too: its staged hosts wait for the switch without their connection,
// still locked, and are connected to again for it (hostwait.go).

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"releasedesk/events/catalog"
)

// runWaitHosts, runWaitParallel: one batch (batch 0) of more hosts than
// `parallel`.
const runWaitHosts, runWaitParallel = 7, 2

// newRunWaitHarness is runWaitHosts sshd hosts in one batch with parallel
// runWaitParallel, under onFailure.
func newRunWaitHarness(t *testing.T, onFailure string, project func(*catalog.Project)) *runHarness {
	return newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyRsync, hosts: runWaitHosts, files: 50,
		env: func(e *catalog.Environment) {
			e.Parallel, e.Batch, e.OnFailure = runWaitParallel, 0, onFailure
		},
		project: project})
}

// deployWatched runs a deployment while watching the connections; it
// checks the peak against parallel + runConnSlack and that none is left.
func (h *runHarness) deployWatched(t *testing.T, what, kind, commit, version string) (id, term string) {
	t.Helper()
	w := watchConns(t, h.cluster)
	start := time.Now()
	id, term = h.deploy(kind, commit, version)
	peak := w.end()
	t.Logf("%s to %d hosts in one batch, parallel %d: %s, peak %d connections open at once, %s", what, runWaitHosts,
		runWaitParallel, term, peak, time.Since(start).Round(time.Millisecond))
	if peak > runWaitParallel+runConnSlack {
		t.Errorf("%s: %d connections open at once, want at most parallel %d + %d", what, peak, runWaitParallel, runConnSlack)
	}
	runConnsAfter(t, h, what)
	return id, term
}

// TestRunBatchLargerThanParallel: 7 hosts, parallel 2, batch 0 (one batch
// of all). A full deployment and a 1% change keep at most parallel +
// runConnSlack connections open, leave every host on the new version and
// unlocked, and connect to each host twice: its stage, then its switch
// (recorded as the step "reconnect", then "lock.check", before "switch").
func TestRunBatchLargerThanParallel(t *testing.T) {
	h := newRunWaitHarness(t, catalog.OnFailureHalt, nil)
	targets := h.targets()
	run := func(what, commit string) {
		t.Helper()
		version := h.versionOf(commit)
		before := h.handshakes()
		id, term := h.deployWatched(t, what, catalog.KindDeploy, commit, version)
		if term != catalog.TypeDeploySucceeded {
			t.Fatalf("%s ended %s:\n%s", what, term, h.describe(id))
		}
		h.checkHosts(targets, version, commit, h.manifestOf(commit))
		h.checkLockFree()
		for i, n := range h.handshakes() {
			if d := n - before[i]; d > 2 {
				t.Errorf("%s: host %d: %d SSH handshakes, want at most 2", what, i, d)
			}
		}
		for _, host := range targets {
			seq := h.hostSequence(id, host.Addr)
			i := slices.Index(seq, "reconnect")
			if i < 0 || !slices.Contains(seq[:i], catalog.TypeHostStaged) || slices.Contains(seq[:i], "unlock") {
				t.Fatalf("%s: %s: %v: want a reconnect after its stage, still locked", what, host.Addr, seq)
			}
			if want := []string{"reconnect", "lock.check", "switch"}; len(seq) < i+3 || !slices.Equal(seq[i:i+3], want) {
				t.Fatalf("%s: %s: %v after its stage", what, host.Addr, seq[i:])
			}
			if out := h.stepOutput(id, host.Addr, "reconnect"); !strings.Contains(out, "waited for the switch of its batch") {
				t.Fatalf("%s: %s: reconnect says %q", what, host.Addr, out)
			}
		}
	}
	run("full deployment", h.head())
	run("1% change", h.commit(map[string]string{"dir0/file000.txt": "changed\n"}))
}

// TestRunBatchLargerThanParallelHalts: the same batch under halt, host 4's
// pre_release refusing. Nothing is switched: every host still runs v1,
// no staging dir and no lock is left (the hosts parked while waiting are
// connected to again to be unlocked), within the same bound.
func TestRunBatchLargerThanParallelHalts(t *testing.T) {
	h := newRunWaitHarness(t, catalog.OnFailureHalt, func(p *catalog.Project) { p.Hooks.PreRelease = runFailHook })
	targets := h.targets()
	c1 := h.head()
	v1, m1 := h.versionOf(c1), h.manifestOf(c1)
	h.mustSucceed(catalog.KindDeploy, c1, v1)
	runSetFailFlag(t, targets[4], true)

	c2 := h.commit(map[string]string{"dir0/file000.txt": "v2\n"})
	id, term := h.deployWatched(t, "halted deployment", catalog.KindDeploy, c2, h.versionOf(c2))
	if term != catalog.TypeDeployFailed {
		t.Fatalf("ended %s:\n%s", term, h.describe(id))
	}
	fin := h.finished(id)
	if !slices.Equal(fin.Failed, []string{targets[4].Addr}) || len(fin.Switched) != 0 || len(fin.Reverted) != 0 {
		t.Fatalf("deploy.failed %+v", fin)
	}
	h.checkHosts(targets, v1, c1, m1)
	for _, host := range targets {
		runNoStaging(t, host)
		if seq := h.hostSequence(id, host.Addr); slices.Contains(seq, "switch") {
			t.Fatalf("%s was switched: %v", host.Addr, seq)
		}
	}
	h.checkLockFree()
	// Hosts 0-3 staged before the failure (parallel 2, in order): each was
	// parked, then connected to again only to be unlocked.
	for _, host := range targets[:4] {
		seq := h.hostSequence(id, host.Addr)
		i := slices.Index(seq, catalog.TypeHostStaged)
		if want := []string{catalog.TypeHostStaged, "reconnect", "unlock"}; i < 0 || !slices.Equal(seq[i:], want) {
			t.Fatalf("%s: %v, want %v at its end", host.Addr, seq, want)
		}
	}
}

// TestRunBatchLargerThanParallelLockChanged: while the batch stages, the
// last host's pre_release (all hosts share this machine) hands host 0's
// lock to another deployment and breaks host 1's, once their releases are
// sealed. At the switch, both fail naming what they found, are not
// switched, and keep the lock as it was left; under continue, every other
// host is switched.
func TestRunBatchLargerThanParallelLockChanged(t *testing.T) {
	h := newRunWaitHarness(t, catalog.OnFailureContinue, nil)
	targets := h.targets()
	c1 := h.head()
	v1 := h.versionOf(c1)
	h.mustSucceed(catalog.KindDeploy, c1, v1)

	c2 := h.commit(map[string]string{"dir0/file000.txt": "v2\n"})
	v2 := h.versionOf(c2)
	other := LockInfo{Deployment: "other-desk", Holder: "bob", Since: time.Now()}
	l0, l1 := Layout{Path: targets[0].Path}, Layout{Path: targets[1].Path}
	break0, err0 := l0.BreakLock()
	lock0, err1 := l0.Lock(other)
	break1, err2 := l1.BreakLock()
	if err0 != nil || err1 != nil || err2 != nil {
		t.Fatal(err0, err1, err2)
	}
	// Only the last host meddles (the flag file), once hosts 0 and 1 are
	// sealed, so parked.
	if err := os.WriteFile(filepath.Join(targets[runWaitHosts-1].Path, "meddle"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h.p.Hooks.PreRelease = fmt.Sprintf(`[ -e ../../meddle ] || exit 0
i=0
while [ ! -d %s ] || [ ! -d %s ]; do
	i=$((i + 1)); [ "$i" -lt 600 ] || exit 9; sleep 0.05
done
%s >/dev/null && %s && %s >/dev/null && echo meddled`,
		QuoteCommand([]string{l0.Release(v2)}), QuoteCommand([]string{l1.Release(v2)}),
		QuoteCommand(break0), QuoteCommand(lock0), QuoteCommand(break1))

	id, term := h.deployWatched(t, "deployment with changed locks", catalog.KindDeploy, c2, v2)
	if term != catalog.TypeDeployFailed || !strings.Contains(h.stepOutput(id, targets[runWaitHosts-1].Addr, "hook.pre_release"), "meddled") {
		t.Fatalf("ended %s:\n%s", term, h.describe(id))
	}
	fin := h.finished(id)
	if !slices.Equal(fin.Failed, []string{targets[0].Addr, targets[1].Addr}) || len(fin.Switched) != runWaitHosts-2 {
		t.Fatalf("deploy.failed %+v", fin)
	}
	for i, want := range []string{"locked by deployment other-desk (bob", "its lock was removed (broken)"} {
		var ev catalog.HostEvent
		for _, e := range h.ofType(id, catalog.TypeHostFailed) {
			if e.Decode(&ev) == nil && ev.Host == targets[i].Addr {
				break
			}
		}
		if ev.Host != targets[i].Addr || ev.Step != "lock.check" || !strings.Contains(ev.Error, want) {
			t.Fatalf("host %d: host_failed %+v, want lock.check saying %q", i, ev, want)
		}
		if got := runCurrentOf(t, targets[i]); got != v1 {
			t.Fatalf("host %d runs %s, want %s: not switched", i, got, v1)
		}
		if seq := h.hostSequence(id, targets[i].Addr); slices.Contains(seq, "switch") || slices.Contains(seq, "unlock") {
			t.Fatalf("host %d: %v", i, seq)
		}
	}
	ok(t)(l0.CheckLock(other.Deployment)) // left to its holder
	for _, host := range targets[2:] {
		if got := runCurrentOf(t, host); got != v2 {
			t.Fatalf("%s runs %s, want %s", host.Addr, got, v2)
		}
	}
	h.checkLockFreeOn(targets[1:])
}

// TestRunBatchLargerThanParallelCancelled: the same batch cancelled while
// its last host's pre_release hangs, the others staged and parked. None is
// switched; the parked ones are connected to again to be unlocked, the
// last one's staging is removed, within the same bound.
func TestRunBatchLargerThanParallelCancelled(t *testing.T) {
	h, slow, c1, v1, m1 := newSlowLastHostHarness(t)
	targets := h.targets()

	c2 := h.commit(map[string]string{"dir0/file000.txt": "v2\n"})
	id := h.submit(catalog.KindDeploy, c2, h.versionOf(c2))
	w := watchConns(t, h.cluster)
	done := make(chan error, 1)
	go func() { done <- h.r.Run(context.Background(), id) }()
	runWaitFile(t, filepath.Join(slow.Path, "hook.pid"))
	h.cancelAndWait(t, id, "not now", done)
	peak := w.end()
	t.Logf("cancelled deployment to %d hosts in one batch, parallel %d: peak %d connections open at once", runWaitHosts, runWaitParallel, peak)
	if peak > runWaitParallel+runConnSlack {
		t.Errorf("%d connections open at once, want at most parallel %d + %d", peak, runWaitParallel, runConnSlack)
	}
	runConnsAfter(t, h, "cancelled deployment")
	if term := h.terminal(id); term != catalog.TypeDeployCancelled {
		t.Fatalf("ended %s:\n%s", term, h.describe(id))
	}
	h.checkHosts(targets, v1, c1, m1)
	runNoStaging(t, targets...)
	h.checkLockFree()
	// At least 5 hosts had staged (and parked) before the last one started.
	parked := 0
	for _, host := range targets[:runWaitHosts-1] {
		seq := h.hostSequence(id, host.Addr)
		i := slices.Index(seq, catalog.TypeHostStaged)
		if i < 0 {
			continue
		}
		parked++
		if want := []string{catalog.TypeHostStaged, "reconnect", "unlock"}; !slices.Equal(seq[i:], want) {
			t.Fatalf("%s: %v, want %v at its end", host.Addr, seq, want)
		}
	}
	if parked < runWaitHosts-2 {
		t.Fatalf("%d hosts staged before the cancel, want at least %d", parked, runWaitHosts-2)
	}
}

// TestRunBatchLargerThanParallelLeftToRecovery: the runner closes while
// the batch's last host hangs in pre_release and the others wait parked:
// locked by the deployment, with no connection. Recovery on the restart
// unlocks them all and ends the deployment interrupted with every host on
// v1; a resume then reuses the sealed releases and switches every host.
func TestRunBatchLargerThanParallelLeftToRecovery(t *testing.T) {
	h, slow, c1, v1, m1 := newSlowLastHostHarness(t)
	targets := h.targets()
	if err := h.r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c2 := h.commit(map[string]string{"dir0/file000.txt": "v2\n"})
	v2, m2 := h.versionOf(c2), h.manifestOf(c2)
	id := h.submit(catalog.KindDeploy, c2, v2)
	runWaitFile(t, filepath.Join(slow.Path, "hook.pid"))
	if err := h.r.Close(); err != nil {
		t.Fatal(err)
	}
	runConnsAfter(t, h, "closed runner")
	parked := 0
	for _, host := range targets[:runWaitHosts-1] {
		if slices.Contains(h.hostSequence(id, host.Addr), catalog.TypeHostStaged) {
			parked++
			ok(t)(Layout{Path: host.Path}.CheckLock(id)) // still the deployment's
		}
	}
	if parked < runWaitHosts-2 {
		t.Fatalf("%d hosts parked before the close, want at least %d", parked, runWaitHosts-2)
	}

	h.restartInterrupted(id)
	h.checkHosts(targets, v1, c1, m1)
	runNoStaging(t, targets...)

	if err := os.Remove(filepath.Join(slow.Path, "slow")); err != nil {
		t.Fatal(err)
	}
	w := watchConns(t, h.cluster)
	if err := h.r.Resume(context.Background(), id, "alice"); err != nil {
		t.Fatal(err)
	}
	if peak := w.end(); peak > runWaitParallel+runConnSlack {
		t.Errorf("resume: %d connections open at once, want at most parallel %d + %d", peak, runWaitParallel, runConnSlack)
	}
	if term := h.terminal(id); term != catalog.TypeDeploySucceeded {
		t.Fatalf("resume: %s\n%s", term, h.describe(id))
	}
	h.checkHosts(targets, v2, c2, m2)
	h.checkLockFree()
}

// newSlowLastHostHarness is a run-wait harness (halt) on which every host
// runs v1 (commit c1, manifest m1) and whose last host, slow, now hangs in
// pre_release (writing the hook's pid to hook.pid beside its releases), so
// the hosts staged before it wait parked.
func newSlowLastHostHarness(t *testing.T) (h *runHarness, slow catalog.Host, c1, v1 string, m1 Manifest) {
	t.Helper()
	h = newRunWaitHarness(t, catalog.OnFailureHalt, func(p *catalog.Project) {
		p.Hooks.PreRelease = `if [ -e ../../slow ]; then echo $$ >../../hook.pid; exec sleep 30; fi`
	})
	c1 = h.head()
	v1, m1 = h.versionOf(c1), h.manifestOf(c1)
	h.mustSucceed(catalog.KindDeploy, c1, v1)
	slow = h.targets()[runWaitHosts-1]
	if err := os.WriteFile(filepath.Join(slow.Path, "slow"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return h, slow, c1, v1, m1
}
