package runner

// The two-phase cut-over (cutover.go) on real hosts: a rollback costs one
// session per host, the hook past the gate gets its variables with go,
// and hosts waiting at their gate when the deployment stops change
// nothing and leave nothing running.

import (
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"releasedesk/events/catalog"
)

func TestRunRollbackInOneSession(t *testing.T) {
	t.Setenv("RD_TEST_CUTOVER_SECRET", "s3cr3t-token")
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyRsync, hosts: 3, files: 20,
		project: func(p *catalog.Project) {
			p.Hooks.PostRelease = `echo "previous=$RELEASEDESK_PREVIOUS token=$API_TOKEN"`
			p.Env = []catalog.EnvVar{{Name: "API_TOKEN", FromEnv: "RD_TEST_CUTOVER_SECRET", Secret: true}}
		}})
	hosts := h.targets()
	c1 := h.head()
	v1, m1 := h.versionOf(c1), h.manifestOf(c1)
	h.mustSucceed(catalog.KindDeploy, c1, v1)
	c2 := h.commit(map[string]string{"dir0/file000.txt": "v2\n"})
	v2 := h.versionOf(c2)
	h.mustSucceed(catalog.KindDeploy, c2, v2)

	before := h.handshakes()
	id := h.mustSucceed(catalog.KindRollback, c1, v1)
	h.checkHosts(hosts, v1, c1, m1)
	h.checkLockFree()
	if got := h.handshakesSince(before); !allEqual(got, 0) {
		t.Fatalf("handshakes per host: %v, want none (the connections kept from the deployment)", got)
	}
	for _, host := range hosts {
		seq := h.hostSequence(id, host.Addr)
		if want := []string{"connect", "prepare", catalog.TypeHostStaged, "switch", catalog.TypeHostSwitched}; !reflect.DeepEqual(seq, want) {
			t.Fatalf("%s: %v, want %v", host.Addr, seq, want)
		}
		// prepare and switch are the two halves of one session: the
		// same command, gated in the middle.
		prep, sw := h.stepCommand(id, host.Addr, "prepare"), h.stepCommand(id, host.Addr, "switch")
		if len(prep) == 0 || !reflect.DeepEqual(prep, sw) {
			t.Fatalf("%s: prepare and switch ran different commands:\n%q\n%q", host.Addr, prep, sw)
		}
		if parts := h.stepParts(id, host.Addr, "prepare"); !reflect.DeepEqual(parts, []string{"lock", "prepare", "current", "releases", "release"}) {
			t.Fatalf("%s: prepare ran %v", host.Addr, parts)
		}
		if parts := h.stepParts(id, host.Addr, "switch"); !reflect.DeepEqual(parts, []string{GatePart, "switch", "hook.post_release", "unlock"}) {
			t.Fatalf("%s: switch ran %v", host.Addr, parts)
		}
		// The hook's variables that depend on the host, and its
		// secrets, came with go: never in the command.
		out := h.stepOutput(id, host.Addr, "switch")
		if !strings.Contains(out, "previous="+v2+" token=[redacted]") || strings.Contains(out, "s3cr3t") {
			t.Fatalf("%s: hook output %q", host.Addr, out)
		}
		if cmd := strings.Join(sw, " "); strings.Contains(cmd, "s3cr3t") || strings.Contains(cmd, "RELEASEDESK_PREVIOUS=") {
			t.Fatalf("%s: the gated command carries what go should: %s", host.Addr, cmd)
		}
	}
}

// gatedShells lists the processes on this machine whose command line
// names dir and holds a sequence's gate: a session left waiting.
func gatedShells(t *testing.T, dir string) []string {
	t.Helper()
	out, _ := exec.Command("pgrep", "-af", "gate ready").Output()
	var found []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, dir) {
			found = append(found, line)
		}
	}
	return found
}

func TestRunCancelWhileArmed(t *testing.T) {
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyRsync, hosts: 3, files: 20})
	hosts := h.targets()
	c1 := h.head()
	v1, m1 := h.versionOf(c1), h.manifestOf(c1)
	h.mustSucceed(catalog.KindDeploy, c1, v1)

	// v2's pre_release hangs on the second host: the others are staged
	// and wait at their gates for the batch's cut-over.
	id, done, _ := h.deployHanging(t, hosts[1])
	deadline := time.Now().Add(20 * time.Second)
	for len(h.ofType(id, catalog.TypeHostStaged)) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("hosts 0 and 2 never staged:\n%s", h.describe(id))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := gatedShells(t, hosts[0].Path); len(got) == 0 {
		t.Fatal("host 0 is staged but no session waits at its gate")
	}
	h.cancelAndWait(t, id, "wrong commit", done)
	if term := h.terminal(id); term != catalog.TypeDeployCancelled {
		t.Fatalf("ended %s:\n%s", term, h.describe(id))
	}
	// Nobody passed the gate: every host still runs v1, nothing was
	// reverted, no staging is left, every lock is free.
	h.checkHosts(hosts, v1, c1, m1)
	runNoStaging(t, hosts...)
	h.checkLockFree()
	if fin := h.finished(id); len(fin.Switched) != 0 || len(fin.Reverted) != 0 {
		t.Fatalf("cancelled %+v", fin)
	}
	for _, host := range hosts {
		if seq := h.hostSequence(id, host.Addr); slices.Contains(seq, "switch") {
			t.Fatalf("%s: a switch step after a cancel at the gate: %v", host.Addr, seq)
		}
		if left := gatedShells(t, host.Path); len(left) > 0 {
			t.Fatalf("%s: sessions still waiting at a gate: %q", host.Addr, left)
		}
	}
}
