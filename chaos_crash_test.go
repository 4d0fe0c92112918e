package main

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The whole app killed with SIGKILL at a random moment of a five-host
// deployment, then started again on the same data directory.
func TestChaosKillDuringDeploy(t *testing.T) {
	trials := chaosCount(5, 50)
	rep := newChaosReport(t, 1, "kill", "SIGKILL of the app during a five-host deployment",
		"A real `releasedesk serve` deploys a 40-file commit by rsync to 5 sshd hosts and is killed "+
			"(SIGKILL) at a random moment between the request and one deployment's measured length. "+
			"Before the kill the test follows the SSE stream (every event sent is acknowledged) and polls "+
			"the log head from health (position and hash). After the kill: `releasedesk events verify` on "+
			"the data directory exits 0; the app starts again on it; every acknowledged event is in the "+
			"JSONL export at its position with the same type, stream and hash; the deployment is "+
			"`interrupted` (or had ended); what the app says each host runs (`GET .../versions`) is what the "+
			"host's `current` names; every host's `current` names a version-named release whose "+
			"REVISION names it and whose every file has the commit's content; then a retry (even trials) "+
			"or a rollback to the previous version (odd trials; a retry where nothing moved) succeeds and "+
			"leaves every host on one whole release.")
	f := newChaosFleet(t, chaosOpts{hosts: 5, files: 40})
	// Two clean deployments: the second (a delta of the first, as every
	// trial's is) measures the window the kills fall in.
	var prev string
	var length time.Duration
	for range 2 {
		f.commit()
		start := time.Now()
		var id string
		id, prev = f.deploy()
		if d, _ := f.root.waitFor(id, 2*time.Minute, func(d map[string]any) bool { return chaosTerminal(d["state"]) }); d["state"] != "succeeded" {
			t.Fatalf("clean deployment: %v\n%s", d, f.app.Log())
		}
		length = time.Since(start)
	}
	rep.note("a clean deployment took %.2f s; kills fell in [0, %.2f s]", length.Seconds(), length.Seconds())
	states := map[string]int{}
	var acked int
	for trial := range trials {
		ok := f.killTrial(t, trial, length, &prev, states, &acked)
		rep.trial(ok)
		if !ok {
			t.Errorf("trial %d failed", trial)
			if t.Failed() && !chaosFull() {
				break
			}
		}
	}
	var seen []string
	for k, v := range states {
		seen = append(seen, fmt.Sprintf("%s %d", k, v))
	}
	slices.Sort(seen)
	rep.note("the deployment after restart: %s", strings.Join(seen, ", "))
	rep.note("%d acknowledged events checked after the restarts", acked)
	f.app.Stop()
	if err := chaosVerifyCLI(t, f.data); err != nil {
		t.Error(err)
	}
}

// killTrial is one kill; prev is the version every host runs before and
// after it.
func (f *chaosFleet) killTrial(t *testing.T, trial int, length time.Duration, prev *string, states map[string]int, acked *int) bool {
	t.Helper()
	fail := func(format string, args ...any) bool {
		t.Errorf("trial %d: "+format, append([]any{trial}, args...)...)
		return false
	}
	f.commit()
	headPos, _, err := chaosHead(f.app.URL)
	if err != nil {
		return fail("health: %v", err)
	}
	rec := chaosFollowStream(t, f.app.URL, f.root.token, headPos)
	type head struct {
		pos  uint64
		hash string
	}
	var (
		heads   []head
		headsMu sync.Mutex
		stop    atomic.Bool
		wg      sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			if p, h, err := chaosHead(f.app.URL); err == nil {
				headsMu.Lock()
				heads = append(heads, head{p, h})
				headsMu.Unlock()
			}
			time.Sleep(15 * time.Millisecond)
		}
	}()
	delay := time.Duration(rand.Float64() * float64(length))
	var depID, depVersion string
	var depMu sync.Mutex
	wg.Add(1)
	go func() {
		defer wg.Done()
		r, err := f.users["dev"].try("POST", "/api/v1/releases/"+f.release+"/deploy", map[string]any{"env": "prod"})
		if err == nil && r.Status == http.StatusAccepted {
			depMu.Lock()
			depID, _ = r.Body["deployment"].(string)
			depVersion, _ = r.Body["version"].(string)
			depMu.Unlock()
		}
	}()
	time.Sleep(delay)
	f.app.Kill()
	stop.Store(true)
	wg.Wait()
	rec.close()
	if err := chaosVerifyCLI(t, f.data); err != nil {
		return fail("after the kill: %v", err)
	}
	f.app = startApp(t, f.data)
	f.relogin()
	exported, _, err := f.export(f.root)
	if err != nil {
		return fail("%v", err)
	}
	for pos, e := range rec.snapshot() {
		x, ok := exported[pos]
		if !ok || x.Type != e.Type || x.Stream != e.Stream {
			return fail("acknowledged event %d %s %s: after restart %+v", pos, e.Type, e.Stream, x)
		}
		*acked++
	}
	for _, h := range heads {
		if h.pos == 0 {
			continue
		}
		if x := exported[h.pos]; x.Hash != h.hash {
			return fail("acknowledged head %d hash %s: after restart %q", h.pos, h.hash, x.Hash)
		}
	}
	if err := f.verify(f.root); err != nil {
		return fail("%v", err)
	}
	// The deployment: the one acknowledged, or whichever was written.
	if depID == "" {
		r := f.root.must(http.StatusOK, "GET", "/api/v1/deployments?limit=1", nil)
		if ds, _ := r.Body["deployments"].([]any); len(ds) > 0 {
			d := ds[0].(map[string]any)
			if v, _ := d["version"].(string); v != *prev {
				depID, depVersion = d["id"].(string), v
			}
		}
	}
	if depID == "" {
		states["never written"]++
		return f.settle(t, trial, *prev, fail)
	}
	dep, ok := f.root.waitFor(depID, 30*time.Second, func(d map[string]any) bool { return chaosTerminal(d["state"]) })
	if !ok {
		return fail("deployment %s still %v after restart", depID, dep["state"])
	}
	state := dep["state"].(string)
	states[state]++
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
	// Resume (even) or roll back (odd; a retry when nothing moved).
	rolledBack := false
	if trial%2 == 1 {
		r := f.users["dev"].call("POST", "/api/v1/projects/fleet/environments/prod/rollback",
			map[string]any{"version": *prev, "reason": fmt.Sprintf("chaos trial %d", trial)})
		switch r.Status {
		case http.StatusAccepted:
			rolledBack = true
			states["then rolled back"]++
			d := f.root.waitDeployment(r.Body["deployment"].(string), 2*time.Minute)
			if d["state"] != "succeeded" {
				return fail("rollback: %v %v", d["state"], d["error"])
			}
		case http.StatusConflict: // already current everywhere
		default:
			return fail("rollback: %d %s", r.Status, r.Raw)
		}
	}
	if !rolledBack {
		r := f.users["dev"].call("POST", "/api/v1/deployments/"+depID+"/retry", nil)
		if r.Status != http.StatusAccepted {
			return fail("retry: %d %s", r.Status, r.Raw)
		}
		d := f.root.waitDeployment(depID, 2*time.Minute)
		if d["state"] != "succeeded" {
			return fail("retry: %v %v\n%s", d["state"], d["error"], f.app.Log())
		}
		*prev = depVersion
		states["then retried"]++
	}
	return f.settle(t, trial, *prev, fail)
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
