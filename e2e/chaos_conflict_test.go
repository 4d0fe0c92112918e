package e2e

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// 50 requests to deploy the same environment at once: one runs, the
// others are told the environment is busy.
func TestChaosConcurrentDeploys(t *testing.T) {
	rounds := chaosCount(1, 3)
	const n = 50
	rep := newChaosReport(t, 5, "conflict", "50 deployments of one environment at once",
		"50 goroutines send `POST /api/v1/releases/{id}/deploy` for the same environment at the same "+
			"moment (a barrier releases them together). Exactly one must answer 202; the 49 others "+
			"409 `conflict` with a message naming the busy environment; `GET /api/v1/deployments` must "+
			"then list exactly one new deployment, which succeeds. Trials are rounds of 50.")
	f := newChaosFleet(t, chaosOpts{hosts: 3, files: 20})
	for round := range rounds {
		f.commit()
		before := f.root.Must(http.StatusOK, "GET", "/api/v1/deployments", nil).Body["total"].(float64)
		var (
			wg       sync.WaitGroup
			gate     = make(chan struct{})
			mu       sync.Mutex
			accepted []string
			statuses = map[int]int{}
			bad      []string
		)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				r, err := f.users["dev"].Try("POST", "/api/v1/releases/"+f.release+"/deploy", map[string]any{"env": "prod"})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					bad = append(bad, err.Error())
					return
				}
				statuses[r.Status]++
				switch r.Status {
				case http.StatusAccepted:
					accepted = append(accepted, r.Body["deployment"].(string))
				case http.StatusConflict:
					e, _ := r.Body["error"].(map[string]any)
					msg, _ := e["message"].(string)
					if e["code"] != "conflict" || !strings.Contains(msg, "prod") || !strings.Contains(msg, "busy") {
						bad = append(bad, string(r.Raw))
					}
				default:
					bad = append(bad, string(r.Raw))
				}
			}()
		}
		close(gate)
		wg.Wait()
		ok := len(accepted) == 1 && statuses[http.StatusConflict] == n-1 && len(bad) == 0
		if !ok {
			t.Errorf("round %d: statuses %v, accepted %v, unclear answers %q", round, statuses, accepted, bad)
		}
		after := f.root.Must(http.StatusOK, "GET", "/api/v1/deployments", nil).Body["total"].(float64)
		if after-before != 1 {
			ok = false
			t.Errorf("round %d: %v new deployments, want 1", round, after-before)
		}
		if len(accepted) == 1 {
			if d := f.root.WaitDeployment(accepted[0], 2*time.Minute); d["state"] != "succeeded" {
				ok = false
				t.Errorf("round %d: the one deployment: %v %v", round, d["state"], d["error"])
			}
		}
		if err := f.verify(f.root); err != nil {
			ok = false
			t.Error(err)
		}
		rep.trial(ok)
	}
	rep.note("%d requests per round", n)
}
