package e2e

// Helpers of TestChaosKillDuringDeploy (chaos_crash_test.go): one kill of
// the app and its restart with the checks every kill ends with, waiting
// for an event on the SSE stream (to kill at a chosen moment of a
// deployment), and what the app records each host runs.

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// chaosCrashRestart kills the app and starts it again on its data
// directory. run starts the work to interrupt and calls kill at the chosen
// moment (the app is killed anyway once run returns; when run returns an
// error, nothing is killed and that error is returned); while run runs, the
// SSE stream is followed from the log head and the head is polled from
// health. After the kill: `releasedesk events verify` exits 0; the app
// starts again and every client signs in again; every event sent on the
// stream is in the JSONL export at its position with the same type and
// stream; every head health gave has its hash; the app's own walk of the
// chain is ok. It returns the events the stream sent before the kill.
func (f *chaosFleet) chaosCrashRestart(t *testing.T, run func(rec *chaosSseRecorder, kill func()) error) (map[uint64]chaosEvent, error) {
	t.Helper()
	headPos, _, err := chaosHead(f.app.URL)
	if err != nil {
		return nil, fmt.Errorf("health: %w", err)
	}
	rec := chaosFollowStream(t, f.app.URL, f.root.Client.Token, headPos)
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
	base := f.app.URL
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			if p, h, err := chaosHead(base); err == nil {
				headsMu.Lock()
				heads = append(heads, head{p, h})
				headsMu.Unlock()
			}
			time.Sleep(15 * time.Millisecond)
		}
	}()
	app := f.app
	runErr := run(rec, app.Kill)
	if runErr == nil {
		app.Kill()
	}
	stop.Store(true)
	wg.Wait()
	rec.close()
	sent := rec.snapshot()
	if runErr != nil {
		return sent, runErr
	}
	if err := chaosVerifyCLI(t, f.data); err != nil {
		return sent, fmt.Errorf("after the kill: %w", err)
	}
	f.app = startApp(t, f.data)
	f.relogin()
	exported, _, err := f.export(f.root)
	if err != nil {
		return sent, err
	}
	for pos, e := range sent {
		x, ok := exported[pos]
		if !ok || x.Type != e.Type || x.Stream != e.Stream {
			return sent, fmt.Errorf("acknowledged event %d %s %s: after restart %+v", pos, e.Type, e.Stream, x)
		}
	}
	for _, h := range heads {
		if h.pos == 0 {
			continue
		}
		if x := exported[h.pos]; x.Hash != h.hash {
			return sent, fmt.Errorf("acknowledged head %d hash %s: after restart %q", h.pos, h.hash, x.Hash)
		}
	}
	if err := f.verify(f.root); err != nil {
		return sent, err
	}
	return sent, nil
}

// chaosDeployEnded are the terminal events of a deployment.
var chaosDeployEnded = []string{"deploy.succeeded", "deploy.failed", "deploy.cancelled", "deploy.interrupted"}

// chaosCrashSwitch waits until the stream has sent the nth
// deploy.host_switched of a deployment (stream, or any deployment's when
// stream is "") or its end, whichever comes first in log order, or until
// timeout passes. It returns that event and whether one came.
func chaosCrashSwitch(rec *chaosSseRecorder, stream string, n int, timeout time.Duration) (chaosEvent, bool) {
	deadline := time.Now().Add(timeout)
	for {
		rec.mu.Lock()
		var sent []chaosEvent
		for _, e := range rec.seen {
			if stream != "" && e.Stream == stream || stream == "" && strings.HasPrefix(e.Stream, "deploy/") {
				sent = append(sent, e)
			}
		}
		rec.mu.Unlock()
		slices.SortFunc(sent, func(a, b chaosEvent) int { return cmp.Compare(a.Position, b.Position) })
		switched := 0
		for _, e := range sent {
			if e.Type == "deploy.host_switched" {
				switched++
			}
			if switched == n && e.Type == "deploy.host_switched" || slices.Contains(chaosDeployEnded, e.Type) {
				return e, true
			}
		}
		if time.Now().After(deadline) {
			return chaosEvent{}, false
		}
		select {
		case <-rec.done: // the stream ended: nothing more will come
			return chaosEvent{}, false
		case <-time.After(time.Millisecond):
		}
	}
}

// chaosCrashEnded says the stream has sent the end of a deployment (any
// deployment's when stream is "").
func chaosCrashEnded(rec *chaosSseRecorder, stream string) bool {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, e := range rec.seen {
		if (stream == "" || e.Stream == stream) && slices.Contains(chaosDeployEnded, e.Type) {
			return true
		}
	}
	return false
}

// chaosCrashRecorded is what the app says each host of prod runs (GET
// .../versions), by address.
func (f *chaosFleet) chaosCrashRecorded() (map[string]string, error) {
	r := f.root.Call("GET", "/api/v1/projects/fleet/environments/prod/versions", nil)
	if r.Status != http.StatusOK {
		return nil, fmt.Errorf("versions: %d %s", r.Status, r.Raw)
	}
	out := map[string]string{}
	hs, _ := r.Body["hosts"].([]any)
	for _, h := range hs {
		m, _ := h.(map[string]any)
		v, _ := m["version"].(string)
		out[fmt.Sprint(m["host"])] = v
	}
	return out, nil
}

// chaosCrashOn counts the hosts of the fleet the app records on version.
func (f *chaosFleet) chaosCrashOn(version string) (int, error) {
	says, err := f.chaosCrashRecorded()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, h := range f.cl.Hosts {
		if says[h.Addr] == version {
			n++
		}
	}
	return n, nil
}
