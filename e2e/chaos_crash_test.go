package e2e

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// chaosSwitchDelay is how long after a deployment's switch reached the
// stream the app is killed: 0 to 100 ms. In batches of two hosts, the
// next batch switches some 300 ms later (it stages first), so the kill
// finds hosts on two versions.
func chaosSwitchDelay() time.Duration {
	return rand.N(100*time.Millisecond + 1)
}

// The whole app killed with SIGKILL at a random moment of a five-host
// deployment, or just after its first host switched, then started again on
// the same data directory; then the deployment retried, or rolled back
// (itself killed once a host switched back, in some trials).
func TestChaosKillDuringDeploy(t *testing.T) {
	trials := chaosCount(5, 50)
	rep := newChaosReport(t, 1, "kill", "SIGKILL of the app during a five-host deployment",
		"A real `releasedesk serve` deploys a 40-file commit by rsync to 5 sshd hosts and is killed "+
			"(SIGKILL). In half of the trials the deployment runs every host at once and the kill falls at a "+
			"random moment between the request and one deployment's measured length. In the other half it "+
			"runs in batches of two hosts (all at once, the five switches leave together and complete on the "+
			"hosts whatever becomes of the app) and the kill falls 0 to 100 ms after the SSE "+
			"stream sent the deployment's first `deploy.host_switched` (its third, the second batch's first, "+
			"where the rollback that follows is killed too), so hosts run two versions at the kill. "+
			"Before the kill the test follows the SSE stream (every event sent is acknowledged) and polls "+
			"the log head from health (position and hash). After the kill: `releasedesk events verify` on "+
			"the data directory exits 0; the app starts again on it; every acknowledged event is in the "+
			"JSONL export at its position with the same type, stream and hash; the deployment is "+
			"`interrupted` (or had ended); what the app says each host runs (`GET .../versions`) is what the "+
			"host's `current` names; every host's `current` names a version-named release whose "+
			"REVISION names it and whose every file has the commit's content. Then even trials retry the "+
			"deployment (`POST /api/v1/deployments/{id}/retry`); odd trials where a host had switched roll "+
			"back to the previous version, which must be accepted (202) and succeed (where no host moved, "+
			"the rollback must answer 409, already current, and the trial retries). In one of two such "+
			"rollbacks the app is killed again, 0 to 100 ms after the rollback's first `deploy.host_switched`; "+
			"after the restart the same checks hold, and the interrupted rollback is retried, or a new "+
			"rollback asked for, in turn, and must succeed. Every trial ends with every host on one whole "+
			"release of the expected version, what the app records matching the hosts, and the chain "+
			"verifying. A full run fails unless it rolled back after such a crash, killed after a host "+
			"switched, with hosts on two versions, and killed during a rollback.")
	f := newChaosFleet(t, chaosOpts{hosts: 5, files: 40})
	// Two clean deployments: the second (a delta of the first, as every
	// trial's is) measures the window the kills fall in, and when its
	// hosts switch.
	var prev string
	var length, firstSwitch time.Duration
	for i := range 2 {
		f.commit()
		start := time.Now()
		var id string
		var rec *chaosSseRecorder
		if i == 1 {
			pos, _, err := chaosHead(f.app.URL)
			if err != nil {
				t.Fatal(err)
			}
			rec = chaosFollowStream(t, f.app.URL, f.root.Client.Token, pos)
		}
		id, prev = f.deploy()
		if rec != nil {
			if e, ok := chaosCrashSwitch(rec, "deploy/"+id, 1, 2*time.Minute); ok && e.Type == "deploy.host_switched" {
				firstSwitch = time.Since(start)
			}
			rec.close()
		}
		if d, _ := waitFor(f.root, id, 2*time.Minute, func(d map[string]any) bool { return chaosTerminal(d["state"]) }); d["state"] != "succeeded" {
			t.Fatalf("clean deployment: %v\n%s", d, f.app.Log())
		}
		length = time.Since(start)
	}
	rep.note("a clean deployment took %.2f s, its first host switched at %.2f s; random kills fell in [0, %.2f s]",
		length.Seconds(), firstSwitch.Seconds(), length.Seconds())
	k := &chaosKillTally{states: map[string]int{}, switchedAt: map[int]int{}, rbSwitchedAt: map[int]int{},
		rbThen: map[string]int{}}
	for trial := range trials {
		ok := f.killTrial(t, trial, length, &prev, k)
		rep.trial(ok)
		if !ok {
			t.Errorf("trial %d failed", trial)
			if t.Failed() && !chaosFull() {
				break
			}
		}
	}
	hosts := len(f.cl.Hosts)
	rep.note("kills: %d at a random moment, %d after a host switched (%d of them once the deployment had ended)",
		k.randomKills, k.switchKills, k.switchLate)
	rep.note("the deployment after restart: %s", chaosTallyLine(k.states))
	rep.note("killed after a host switched: %d, %d of them with hosts on two versions (hosts on the new version at the kill: %s)",
		k.afterSwitch, k.mixed, chaosHostsLine(k.switchedAt, hosts))
	rep.note("killed during a rollback: %d of %d rollbacks killed after their first switch (hosts back on the previous "+
		"version at the kill: %s); then %s", k.rbKills, k.rbKillTried, chaosHostsLine(k.rbSwitchedAt, hosts), chaosTallyLine(k.rbThen))
	rep.note("%d acknowledged events checked after the restarts", k.acked)
	if chaosFull() {
		// The paths the kill moments are chosen for: a run that missed one
		// covered less than this section says.
		for _, c := range []struct {
			n    int
			path string
		}{
			{k.states["then rolled back"], "rolled back after a crash that left a host switched"},
			{k.afterSwitch, "was killed after a host switched"},
			{k.mixed, "was killed with hosts on two versions"},
			{k.rbKills, "was killed during a rollback"},
		} {
			if c.n == 0 {
				t.Errorf("no trial %s: the run did not cover that path", c.path)
			}
		}
	}
	f.app.Stop()
	if err := chaosVerifyCLI(t, f.data); err != nil {
		t.Error(err)
	}
}

// chaosKillTally counts what the kills met.
type chaosKillTally struct {
	states                   map[string]int // the deployment after restart, and what followed
	acked                    int            // acknowledged events checked
	randomKills, switchKills int
	switchLate               int         // kills after a switch that came once the deployment had ended
	afterSwitch              int         // deployments interrupted with a host on the new version
	mixed                    int         // of those, with a host still on the previous one
	switchedAt               map[int]int // hosts on the new version at such a kill -> kills
	rbKillTried, rbKills     int         // rollbacks to be killed; those interrupted
	rbSwitchedAt             map[int]int
	rbThen                   map[string]int // what followed an interrupted rollback
}

// chaosTallyLine is "k1 n1, k2 n2" in key order.
func chaosTallyLine(m map[string]int) string {
	var out []string
	for k, v := range m {
		out = append(out, fmt.Sprintf("%s %d", k, v))
	}
	slices.Sort(out)
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

// chaosHostsLine is "1 of 5 hosts: n1, 5 of 5 hosts: n5", by count of hosts.
func chaosHostsLine(m map[int]int, hosts int) string {
	var out []string
	for n := range hosts + 1 {
		if m[n] > 0 {
			out = append(out, fmt.Sprintf("%d of %d hosts: %d", n, hosts, m[n]))
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

// killTrial is one kill; prev is the version every host runs before and
// after it. Trials whose trial%4 is 2 or 3 deploy in batches of two and
// kill after the deployment's first host switched (its third when the
// rollback is to be killed), the others deploy to every host at once and
// kill at a random moment of length; odd trials roll back where a host
// moved, and those whose trial%8 is 1 or 3 (one of two of each kind) kill
// the rollback too.
func (f *chaosFleet) killTrial(t *testing.T, trial int, length time.Duration, prev *string, k *chaosKillTally) bool {
	t.Helper()
	fail := func(format string, args ...any) bool {
		t.Errorf("trial %d: "+format, append([]any{trial}, args...)...)
		return false
	}
	f.commit()
	// A kill after a switch deploys in batches of two hosts: with every
	// host in one batch, the runner sends all five switches at once and
	// they complete on the hosts whatever becomes of the app, so no kill
	// could leave hosts on two versions.
	afterSwitch := trial%4 >= 2
	killRB := trial%8 == 1 || trial%8 == 3 // if it rolls back
	batch := 0
	if afterSwitch {
		batch = 2
	}
	if f.opts.batch != batch {
		f.opts.batch = batch
		if r := f.root.Call("PUT", "/api/v1/projects/fleet", f.projectYAML()); r.Status != http.StatusOK {
			return fail("configure batch %d: %d %s", batch, r.Status, r.Raw)
		}
	}
	var depID, depVersion string
	sent, err := f.chaosCrashRestart(t, func(rec *chaosSseRecorder, kill func()) error {
		var wg sync.WaitGroup
		dev := f.users["dev"]
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := dev.Try("POST", "/api/v1/releases/"+f.release+"/deploy", map[string]any{"env": "prod"})
			if err == nil && r.Status == http.StatusAccepted {
				depID, _ = r.Body["deployment"].(string)
				depVersion, _ = r.Body["version"].(string)
			}
		}()
		if afterSwitch {
			k.switchKills++
			// Only this deployment runs: a switch or the end on any
			// deployment's stream is its. Before a rollback that is killed
			// too, the second batch's first switch: the rollback then has
			// two batches to switch back, and its kill finds hosts on two
			// versions.
			nth := 1
			if killRB {
				nth = 3
			}
			e, ok := chaosCrashSwitch(rec, "", nth, 2*time.Minute)
			if ok && e.Type == "deploy.host_switched" {
				time.Sleep(chaosSwitchDelay())
			}
			if chaosCrashEnded(rec, e.Stream) {
				k.switchLate++
			}
		} else {
			k.randomKills++
			time.Sleep(time.Duration(rand.Float64() * float64(length)))
		}
		kill()
		wg.Wait() // the request ends with the app: depID is read after
		return nil
	})
	k.acked += len(sent)
	if err != nil {
		return fail("%v", err)
	}
	// The deployment: the one acknowledged, or whichever was written.
	if depID == "" {
		r := f.root.Must(http.StatusOK, "GET", "/api/v1/deployments?limit=1", nil)
		if ds, _ := r.Body["deployments"].([]any); len(ds) > 0 {
			d := ds[0].(map[string]any)
			if v, _ := d["version"].(string); v != *prev {
				depID, depVersion = d["id"].(string), v
			}
		}
	}
	if depID == "" {
		k.states["never written"]++
		return f.settle(t, trial, *prev, fail)
	}
	dep, ok := waitFor(f.root, depID, 30*time.Second, func(d map[string]any) bool { return chaosTerminal(d["state"]) })
	if !ok {
		return fail("deployment %s still %v after restart", depID, dep["state"])
	}
	state := dep["state"].(string)
	k.states[state]++
	if state != "interrupted" && state != "succeeded" {
		return fail("deployment %s after restart: %s (%v)", depID, state, dep["error"])
	}
	if _, err := f.checkHosts(); err != nil {
		return fail("after restart: %v", err)
	}
	if err := f.matchRecorded(); err != nil {
		return fail("after restart: %v", err)
	}
	if state == "succeeded" {
		*prev = depVersion
		return f.settle(t, trial, *prev, fail)
	}
	moved, err := f.chaosCrashOn(depVersion)
	if err != nil {
		return fail("%v", err)
	}
	if moved > 0 {
		k.afterSwitch++
		k.switchedAt[moved]++
		if moved < len(f.cl.Hosts) {
			k.mixed++
		}
	}
	if trial%2 == 1 && moved > 0 {
		// Hosts run two versions (or all the new one, the deployment
		// unfinished): a rollback to the previous one must be taken.
		if !f.rollbackAfterCrash(t, trial, *prev, killRB, k, fail) {
			return false
		}
		k.states["then rolled back"]++
		return f.settle(t, trial, *prev, fail)
	}
	if trial%2 == 1 {
		// Nothing moved: every host still runs prev, already current.
		r := f.users["dev"].Call("POST", "/api/v1/projects/fleet/environments/prod/rollback",
			map[string]any{"version": *prev, "reason": fmt.Sprintf("chaos trial %d", trial)})
		if r.Status != http.StatusConflict {
			return fail("rollback to %s where no host moved: %d %s, want 409", *prev, r.Status, r.Raw)
		}
	}
	if !f.retryDeployment(depID, fail) {
		return false
	}
	*prev = depVersion
	k.states["then retried"]++
	return f.settle(t, trial, *prev, fail)
}

// retryDeployment retries an interrupted deployment; it must succeed.
func (f *chaosFleet) retryDeployment(id string, fail func(string, ...any) bool) bool {
	r := f.users["dev"].Call("POST", "/api/v1/deployments/"+id+"/retry", nil)
	if r.Status != http.StatusAccepted {
		return fail("retry of %s: %d %s", id, r.Status, r.Raw)
	}
	d := f.root.WaitDeployment(id, 2*time.Minute)
	if d["state"] != "succeeded" {
		return fail("retry of %s: %v %v\n%s", id, d["state"], d["error"], f.app.Log())
	}
	return true
}

// rollbackAfterCrash rolls prod back to version after a crash left hosts
// on another; the rollback must be accepted and succeed. With killIt, the
// app is killed 0 to 100 ms after the rollback's first host switched,
// started again and checked, and the rollback finished: a retry of it, or
// a new rollback, in turn.
func (f *chaosFleet) rollbackAfterCrash(t *testing.T, trial int, version string, killIt bool, k *chaosKillTally, fail func(string, ...any) bool) bool {
	t.Helper()
	body := map[string]any{"version": version, "reason": fmt.Sprintf("chaos trial %d", trial)}
	start := func() (string, error) {
		r, err := f.users["dev"].Try("POST", "/api/v1/projects/fleet/environments/prod/rollback", body)
		switch {
		case err != nil:
			return "", err
		case r.Status != http.StatusAccepted:
			return "", fmt.Errorf("%d %s", r.Status, r.Raw)
		}
		id, _ := r.Body["deployment"].(string)
		return id, nil
	}
	if !killIt {
		id, err := start()
		if err != nil {
			return fail("rollback to %s after the crash: %v", version, err)
		}
		d := f.root.WaitDeployment(id, 2*time.Minute)
		if d["state"] != "succeeded" {
			return fail("rollback %s: %v %v\n%s", id, d["state"], d["error"], f.app.Log())
		}
		return true
	}
	var rbID string
	sent, err := f.chaosCrashRestart(t, func(rec *chaosSseRecorder, kill func()) error {
		id, err := start()
		if err != nil {
			return err
		}
		rbID = id
		if e, ok := chaosCrashSwitch(rec, "deploy/"+id, 1, 2*time.Minute); ok && e.Type == "deploy.host_switched" {
			time.Sleep(chaosSwitchDelay())
		}
		kill()
		return nil
	})
	if rbID == "" {
		return fail("rollback to %s after the crash: %v", version, err)
	}
	k.rbKillTried++
	k.acked += len(sent)
	if err != nil {
		return fail("rollback %s killed: %v", rbID, err)
	}
	d, done := waitFor(f.root, rbID, 30*time.Second, func(d map[string]any) bool { return chaosTerminal(d["state"]) })
	if !done {
		return fail("rollback %s still %v after restart", rbID, d["state"])
	}
	if _, err := f.checkHosts(); err != nil {
		return fail("after the rollback's restart: %v", err)
	}
	if err := f.matchRecorded(); err != nil {
		return fail("after the rollback's restart: %v", err)
	}
	switch d["state"] {
	case "succeeded":
		k.rbThen["it had ended"]++
		return true
	case "interrupted":
	default:
		return fail("rollback %s after restart: %v (%v)", rbID, d["state"], d["error"])
	}
	k.rbKills++
	back, err := f.chaosCrashOn(version)
	if err != nil {
		return fail("%v", err)
	}
	k.rbSwitchedAt[back]++
	// Finish it: the interrupted rollback retried, or a new one.
	if k.rbKills%2 == 1 {
		k.rbThen["retried"]++
		return f.retryDeployment(rbID, fail)
	}
	r := f.users["dev"].Call("POST", "/api/v1/projects/fleet/environments/prod/rollback", body)
	if r.Status == http.StatusConflict && back == len(f.cl.Hosts) && strings.Contains(string(r.Raw), "already current") {
		k.rbThen["nothing left to roll back"]++
		return true // every host was back: the app may say so
	}
	if r.Status != http.StatusAccepted {
		return fail("a new rollback to %s after the interrupted %s: %d %s", version, rbID, r.Status, r.Raw)
	}
	id := r.Body["deployment"].(string)
	k.rbThen["rolled back again"]++
	d = f.root.WaitDeployment(id, 2*time.Minute)
	if d["state"] != "succeeded" {
		return fail("rollback %s after the interrupted %s: %v %v\n%s", id, rbID, d["state"], d["error"], f.app.Log())
	}
	return true
}

// settle checks every host runs want, whole, and the chain verifies.
func (f *chaosFleet) settle(t *testing.T, trial int, want string, fail func(string, ...any) bool) bool {
	vs, err := f.checkHosts()
	if err != nil {
		return fail("after resume: %v", err)
	}
	for i, v := range vs {
		if v != want {
			return fail("host %d on %s, want %s", i, v, want)
		}
	}
	if err := f.matchRecorded(); err != nil {
		return fail("%v", err)
	}
	if err := f.verify(f.root); err != nil {
		return fail("%v", err)
	}
	return true
}
