package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"releasedesk/events"
	"releasedesk/events/catalog"
	"releasedesk/runner/sshtest"
)

// runFailHook refuses while <path>/fail-hook exists on the host: a hook runs
// in releases/<version> or its staging dir, two levels below the path.
const runFailHook = `if [ -e ../../fail-hook ]; then echo "refused: fail-hook is present" >&2; exit 3; fi`

// runFaultHarness is 5 hosts with v1 deployed everywhere.
func runFaultHarness(t *testing.T, onFailure string, batch int) (*runHarness, string, string, Manifest) {
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyRsync, hosts: 5, files: 50,
		env:     func(e *catalog.Environment) { e.OnFailure = onFailure; e.Batch = batch },
		project: func(p *catalog.Project) { p.Hooks.PreRelease = runFailHook }})
	c1 := h.head()
	v1 := h.versionOf(c1)
	h.mustSucceed(catalog.KindDeploy, c1, v1)
	return h, c1, v1, h.manifestOf(c1)
}

func runSetFailFlag(t *testing.T, host catalog.Host, on bool) {
	t.Helper()
	p := filepath.Join(host.Path, "fail-hook")
	if on {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	} else if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
}

// finished decodes the deployment's last terminal event.
func (h *runHarness) finished(id string) catalog.Finished {
	h.t.Helper()
	var fin catalog.Finished
	envs := h.events(id)
	for i := len(envs) - 1; i >= 0; i-- {
		if isTerminal(envs[i].Type) {
			if err := envs[i].Decode(&fin); err != nil {
				h.t.Fatal(err)
			}
			return fin
		}
	}
	h.t.Fatalf("%s has no terminal event", id)
	return fin
}

// runNoStaging asserts no unfinished release dir is left on any of hosts.
func runNoStaging(t *testing.T, hosts ...catalog.Host) {
	t.Helper()
	for _, host := range hosts {
		for _, name := range runReleasesOn(t, host) {
			if strings.HasSuffix(name, ".partial") || strings.HasSuffix(name, ".incoming") {
				t.Fatalf("%s: staging dir %s left behind", host.Addr, name)
			}
		}
	}
}

func TestRunHookFailsUnderHalt(t *testing.T) {
	// Batches of 2: the first batch switches, the second fails on its
	// second host (hosts[3]), the third batch never starts.
	h, c1, v1, m1 := runFaultHarness(t, catalog.OnFailureHalt, 2)
	hosts := h.targets()
	runSetFailFlag(t, hosts[3], true)
	c2 := h.commit(map[string]string{"dir0/file000.txt": "v2\n"})
	v2 := h.versionOf(c2)
	id, term := h.deploy(catalog.KindDeploy, c2, v2)
	if term != catalog.TypeDeployFailed {
		t.Fatalf("ended %s:\n%s", term, h.describe(id))
	}
	fin := h.finished(id)
	if !slices.Equal(fin.Failed, []string{hosts[3].Addr}) ||
		!slices.Equal(fin.Reverted, []string{hosts[0].Addr, hosts[1].Addr}) || len(fin.Switched) != 0 {
		t.Fatalf("deploy.failed %+v", fin)
	}
	// Everyone is back on (or never left) v1, complete.
	h.checkHosts(hosts, v1, c1, m1)
	runNoStaging(t, hosts...)
	// The failure carries the hook's output.
	var hf catalog.HostEvent
	h.decodeFirst(id, catalog.TypeHostFailed, &hf)
	if hf.Step != "hook.pre_release" || !strings.Contains(hf.Error, "refused: fail-hook is present") {
		t.Fatalf("host_failed %+v", hf)
	}
	if !strings.Contains(h.stepOutput(id, hosts[3].Addr, "hook.pre_release"), "refused: fail-hook is present") {
		t.Fatal("the hook's output is not in the step output")
	}
	// Switched hosts were reverted with Previous = v2.
	var rev catalog.HostEvent
	h.decodeFirst(id, catalog.TypeHostReverted, &rev)
	if rev.Version != v1 || rev.Previous != v2 {
		t.Fatalf("host_reverted %+v", rev)
	}
	// hosts[2] (same batch as the failure) staged but never switched; the
	// last batch was never touched.
	if got := h.hostSequence(id, hosts[2].Addr); slices.Contains(got, "switch") {
		t.Fatalf("%s switched in a failed batch: %v", hosts[2].Addr, got)
	}
	if got := h.hostSequence(id, hosts[4].Addr); len(got) != 0 {
		t.Fatalf("%s was touched after the halt: %v", hosts[4].Addr, got)
	}
	h.checkLockFree()
}

func TestRunHookFailsUnderContinueThenResume(t *testing.T) {
	h, _, _, _ := runFaultHarness(t, catalog.OnFailureContinue, 0)
	hosts := h.targets()
	runSetFailFlag(t, hosts[2], true)
	c2 := h.commit(map[string]string{"dir0/file000.txt": "v2\n"})
	v2, m2 := h.versionOf(c2), h.manifestOf(c2)
	id, term := h.deploy(catalog.KindDeploy, c2, v2)
	if term != catalog.TypeDeployFailed {
		t.Fatalf("ended %s:\n%s", term, h.describe(id))
	}
	fin := h.finished(id)
	others := slices.Delete(slices.Clone(hosts), 2, 3)
	var otherAddrs []string
	for _, o := range others {
		otherAddrs = append(otherAddrs, o.Addr)
	}
	if !slices.Equal(fin.Failed, []string{hosts[2].Addr}) || !slices.Equal(fin.Switched, otherAddrs) {
		t.Fatalf("deploy.failed %+v", fin)
	}
	h.checkHosts(others, v2, c2, m2)
	runNoStaging(t, hosts[2])

	// Fix the condition; the resume runs only the failed host.
	runSetFailFlag(t, hosts[2], false)
	before := len(h.events(id))
	if err := h.r.Resume(context.Background(), id, "bob"); err != nil {
		t.Fatal(err)
	}
	if got := h.terminal(id); got != catalog.TypeDeploySucceeded {
		t.Fatalf("resume ended %s:\n%s", got, h.describe(id))
	}
	for _, e := range h.events(id)[before:] {
		if e.Type == catalog.TypeStepStarted {
			var s catalog.StepStarted
			_ = e.Decode(&s)
			if s.Host != "" && s.Host != hosts[2].Addr {
				t.Fatalf("resume ran %s on %s", s.Name, s.Host)
			}
		}
	}
	var res catalog.Resumed
	h.decodeFirst(id, catalog.TypeDeployResumed, &res)
	if !slices.Equal(res.Hosts, []string{hosts[2].Addr}) {
		t.Fatalf("deploy.resumed %+v", res)
	}
	h.checkHosts(hosts, v2, c2, m2)
	if err := h.r.Resume(context.Background(), id, "bob"); !errors.Is(err, ErrNotResumable) {
		t.Fatalf("resume of a succeeded deployment: %v", err)
	}
	h.checkLockFree()
}

func TestRunHostKeyRejected(t *testing.T) {
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyRsync, hosts: 3, files: 20,
		env: func(e *catalog.Environment) { e.OnFailure = catalog.OnFailureContinue }})
	hosts := h.targets()
	// Host 1 unknown: drop its line from known_hosts. Host 2 changed.
	var kept []string
	for i := range hosts {
		if i != 1 {
			kept = append(kept, h.cluster.HostKeyLine(i))
		}
	}
	if err := os.WriteFile(h.cluster.KnownHostsPath, []byte(strings.Join(kept, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.cluster.RotateHostKey(2)

	c1 := h.head()
	v1 := h.versionOf(c1)
	id, term := h.deploy(catalog.KindDeploy, c1, v1)
	if term != catalog.TypeDeployFailed {
		t.Fatalf("ended %s", term)
	}
	if fin := h.finished(id); !slices.Equal(fin.Failed, []string{hosts[1].Addr, hosts[2].Addr}) {
		t.Fatalf("failed %v", fin.Failed)
	}
	for i, reason := range map[int]string{1: "unknown", 2: "changed"} {
		envs, err := h.log.ReadStream(context.Background(), catalog.HostStream(h.cluster.HostPort(i)), 1)
		if err != nil || len(envs) != 1 || envs[0].Type != catalog.TypeHostKeyRejected {
			t.Fatalf("host %d: key events %v %v", i, envs, err)
		}
		var kr catalog.HostKeyEvent
		_ = envs[0].Decode(&kr)
		want := "SHA256:" // the fingerprint of the offered key
		if kr.Reason != reason || !strings.HasPrefix(kr.Fingerprint, want) || kr.Deployment != id || kr.Key == "" {
			t.Fatalf("host %d: %+v", i, kr)
		}
		// Nothing ran there: the path was never even created.
		if _, err := os.Stat(hosts[i].Path); !os.IsNotExist(err) {
			t.Fatalf("host %d: %s exists: something ran there", i, hosts[i].Path)
		}
		if got := h.hostSequence(id, hosts[i].Addr); !reflect.DeepEqual(got, []string{"connect", catalog.TypeHostFailed}) {
			t.Fatalf("host %d: %v", i, got)
		}
	}

	// An admin trusts host 1's key (from the event); the retry finishes it.
	var kr catalog.HostKeyEvent
	envs, _ := h.log.ReadStream(context.Background(), catalog.HostStream(h.cluster.HostPort(1)), 1)
	_ = envs[0].Decode(&kr)
	if err := h.r.TrustHostKey(context.Background(), hosts[1].Addr, kr.Key, "admin"); err != nil {
		t.Fatal(err)
	}
	envs, _ = h.log.ReadStream(context.Background(), catalog.HostStream(h.cluster.HostPort(1)), 1)
	if len(envs) != 2 || envs[1].Type != catalog.TypeHostKeyTrusted || envs[1].Actor != "admin" {
		t.Fatalf("trust events %v", envs)
	}
	if err := h.r.Resume(context.Background(), id, "admin"); err != nil {
		t.Fatal(err)
	}
	if fin := h.finished(id); !slices.Equal(fin.Failed, []string{hosts[2].Addr}) {
		t.Fatalf("after trusting host 1: %+v", fin)
	}
	if runCurrentOf(t, hosts[1]) != v1 {
		t.Fatal("host 1 not deployed after its key was trusted")
	}
}

func TestRunHostUnreachable(t *testing.T) {
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyRsync, hosts: 2, files: 20})
	hosts := h.targets()
	h.cluster.Kill(1)
	c1 := h.head()
	v1 := h.versionOf(c1)
	start := time.Now()
	id, term := h.deploy(catalog.KindDeploy, c1, v1)
	if term != catalog.TypeDeployFailed {
		t.Fatalf("ended %s", term)
	}
	var hf catalog.HostEvent
	h.decodeFirst(id, catalog.TypeHostFailed, &hf)
	if hf.Host != hosts[1].Addr || hf.Step != "connect" || !strings.Contains(hf.Error, "connection refused") {
		t.Fatalf("host_failed %+v", hf)
	}
	t.Logf("unreachable host reported in %s: %s", time.Since(start).Round(time.Millisecond), hf.Error)
	// Under halt, the reachable host was not switched either.
	if runCurrentOf(t, hosts[0]) != "" {
		t.Fatal("host 0 switched although the deployment halted")
	}
	runNoStaging(t, hosts[0])
	h.checkLockFree()
}

func TestRunCancelMidDeploy(t *testing.T) {
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyRsync, hosts: 3, files: 20,
		env: func(e *catalog.Environment) { e.Batch = 1 }})
	hosts := h.targets()
	c1 := h.head()
	v1, m1 := h.versionOf(c1), h.manifestOf(c1)
	h.mustSucceed(catalog.KindDeploy, c1, v1)

	// v2's pre_release hook hangs on the second host (the first switches).
	id, done, pid := h.deployHanging(t, hosts[1])

	start := time.Now()
	h.cancelAndWait(t, id, "wrong commit", done)
	t.Logf("cancelled in %s", time.Since(start).Round(time.Millisecond))
	if term := h.terminal(id); term != catalog.TypeDeployCancelled {
		t.Fatalf("ended %s:\n%s", term, h.describe(id))
	}
	if sshtest.Alive(pid) {
		t.Fatalf("the hook's sleep (pid %s) still runs", pid)
	}
	// host 0 had switched: it is switched back, so the environment stays
	// on one version; the others never left v1.
	h.checkHosts(hosts, v1, c1, m1)
	runNoStaging(t, hosts...)
	if fin := h.finished(id); !slices.Equal(fin.Reverted, []string{hosts[0].Addr}) || len(fin.Failed) != 0 {
		t.Fatalf("cancelled %+v", fin)
	}
	if got := h.hostSequence(id, hosts[2].Addr); len(got) != 0 {
		t.Fatalf("host 2 touched after the cancel: %v", got)
	}
	if err := h.r.Cancel(context.Background(), id, "carol", "again"); !errors.Is(err, ErrFinished) {
		t.Fatalf("cancel of a finished deployment: %v", err)
	}
	h.checkLockFree()
}

// deployHanging commits and runs a new version whose pre_release hangs on
// slow (and only there) until the run is cancelled; it returns once the
// hook runs there, with the deployment's id, the channel Run's result
// comes on, and the hook's pid.
func (h *runHarness) deployHanging(t *testing.T, slow catalog.Host) (id string, done <-chan error, pid string) {
	t.Helper()
	h.p.Hooks.PreRelease = `if [ -e ../../slow ]; then echo $$ >../../hook.pid; exec sleep 30; fi`
	if err := os.WriteFile(filepath.Join(slow.Path, "slow"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c := h.commit(map[string]string{"dir0/file000.txt": "v2\n"})
	id = h.submit(catalog.KindDeploy, c, h.versionOf(c))
	ran := make(chan error, 1)
	go func() { ran <- h.r.Run(context.Background(), id) }()
	return id, ran, runWaitFile(t, filepath.Join(slow.Path, "hook.pid"))
}

// cancelAndWait cancels deployment id (carol, for reason) and waits for
// its Run, whose result done carries, to return without an error.
func (h *runHarness) cancelAndWait(t *testing.T, id, reason string, done <-chan error) {
	t.Helper()
	if err := h.r.Cancel(context.Background(), id, "carol", reason); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("cancel did not end the deployment")
	}
}

// runWaitFile waits for a file to hold something and returns it trimmed.
func runWaitFile(t *testing.T, p string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(p); err == nil && len(strings.TrimSpace(string(b))) > 0 {
			return strings.TrimSpace(string(b))
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never appeared", p)
	return ""
}

var _ = events.AnyVersion
