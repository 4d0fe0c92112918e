package app_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"releasedesk/app/httpapi/apitest"
)

// toLive takes a new release of branch through test and approval to
// production and returns its id and the version production runs.
func toLive(t *testing.T, e *apitest.Env, repo, dev, tester, appr, branch string) (id, version string) {
	t.Helper()
	r := e.Must(http.StatusCreated, "POST", "/api/v1/releases", dev,
		map[string]any{"project": "shop", "branch": branch, "create_branch": true, "title": branch})
	id = apitest.Str(r.Body, "release", "id")
	apitest.GitCommit(t, repo, branch, map[string]string{"VERSION": branch}, "work on "+branch)
	return id, relive(t, e, id, dev, tester, appr)
}

// relive takes open release id through test and approval to production
// and returns the version production runs.
func relive(t *testing.T, e *apitest.Env, id, dev, tester, appr string) (version string) {
	t.Helper()
	r := e.Must(http.StatusAccepted, "POST", "/api/v1/releases/"+id+"/deploy", dev, map[string]any{"env": "test"})
	if dep := e.WaitDeployment(dev, apitest.Str(r.Body, "deployment"), time.Minute); dep["state"] != "succeeded" {
		t.Fatalf("test deploy of %s: %v", id, dep)
	}
	e.Must(http.StatusOK, "POST", "/api/v1/releases/"+id+"/test", tester, map[string]any{"passed": true})
	e.Must(http.StatusOK, "POST", "/api/v1/releases/"+id+"/approve", appr, map[string]any{"note": "go"})
	r = e.Must(http.StatusAccepted, "POST", "/api/v1/releases/"+id+"/deploy", appr, map[string]any{"env": "production"})
	if dep := e.WaitDeployment(appr, apitest.Str(r.Body, "deployment"), time.Minute); dep["state"] != "succeeded" {
		t.Fatalf("production deploy of %s: %v", id, dep)
	}
	return apitest.Str(r.Body, "version")
}

// TestRefuseWithRollback: a manager refuses a live release and, in the
// same decision, production goes back to the version before it. Every
// refusal of the combined decision changes nothing.
func TestRefuseWithRollback(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	repo := apitest.GitRepo(t, nil)
	root := e.Login("root", apitest.RootPassword)
	target := t.TempDir()
	e.Must(http.StatusCreated, "PUT", "/api/v1/projects/shop", root, apitest.LocalProject("shop", repo, target))
	dev := e.AddUser(root, "dev", false, map[string][]string{"shop": {"developer"}})
	tester := e.AddUser(root, "tess", false, map[string][]string{"shop": {"tester"}})
	appr := e.AddUser(root, "alice", false, map[string][]string{"shop": {"approver"}})
	mgr := e.AddUser(root, "max", false, map[string][]string{"shop": {"manager"}})

	first, v1 := toLive(t, e, repo, dev, tester, appr, "first")
	// Nothing ran before the first release: no offer, and asking anyway is
	// a conflict that records nothing.
	if r := e.Must(http.StatusOK, "GET", "/api/v1/releases/"+first, mgr, nil); r.Body["refuse_rollback"] != nil {
		t.Fatalf("offer with no version before: %s", r.Raw)
	}
	head := e.Must(http.StatusOK, "GET", "/api/v1/audit?limit=1", root, nil).Raw
	r := e.Call("POST", "/api/v1/releases/"+first+"/refuse", mgr, map[string]any{"reason": "broken", "rollback": true})
	if r.Status != http.StatusConflict {
		t.Fatalf("refuse+rollback of the first release: %d %s", r.Status, r.Raw)
	}
	if now := e.Must(http.StatusOK, "GET", "/api/v1/audit?limit=1", root, nil).Raw; string(now) != string(head) {
		t.Fatalf("a refused refusal changed the log:\n%s\n%s", head, now)
	}
	e.Must(http.StatusOK, "POST", "/api/v1/releases/"+first+"/accept", mgr, nil)
	e.Must(http.StatusOK, "POST", "/api/v1/releases/"+first+"/complete", mgr, nil)

	second, v2 := toLive(t, e, repo, dev, tester, appr, "second")
	r = e.Must(http.StatusOK, "GET", "/api/v1/releases/"+second, mgr, nil)
	if got := apitest.Str(r.Body, "refuse_rollback", "version"); got != v1 {
		t.Fatalf("manager's offer: version %q, want %s (%s)", got, v1, r.Raw)
	}
	if got := apitest.Str(r.Body, "refuse_rollback", "release"); got != first {
		t.Fatalf("manager's offer: release %q, want %s", got, first)
	}
	if r := e.Must(http.StatusOK, "GET", "/api/v1/releases/"+second, appr, nil); r.Body["refuse_rollback"] != nil {
		t.Fatalf("approver offered a refusal: %s", r.Raw)
	}

	// Refusals of the request itself change nothing.
	for _, c := range []struct {
		name, token string
		body        map[string]any
		status      int
		field       string
	}{
		{"no reason", mgr, map[string]any{"rollback": true}, http.StatusBadRequest, "reason"},
		{"rollback not a boolean", mgr, map[string]any{"reason": "x", "rollback": "yes"}, http.StatusBadRequest, "rollback"},
		{"oversized reason", mgr, map[string]any{"reason": strings.Repeat("x", 4001), "rollback": true}, http.StatusBadRequest, "reason"},
		{"unknown field", mgr, map[string]any{"reason": "x", "rollback": true, "to": v1}, http.StatusBadRequest, "to"},
		{"approver", appr, map[string]any{"reason": "x", "rollback": true}, http.StatusForbidden, ""},
	} {
		r := e.Call("POST", "/api/v1/releases/"+second+"/refuse", c.token, c.body)
		if r.Status != c.status || apitest.Str(r.Body, "error", "field") != c.field {
			t.Errorf("%s: %d %s, want %d naming %q", c.name, r.Status, r.Raw, c.status, c.field)
		}
	}
	if st := apitest.Str(e.Must(http.StatusOK, "GET", "/api/v1/releases/"+second, mgr, nil).Body, "release", "state"); st != "live" {
		t.Fatalf("after refused requests the release is %s, want live", st)
	}

	// A plain refusal rolls nothing back; deployed again, the release's
	// earlier version is not "the version before it".
	r = e.Must(http.StatusOK, "POST", "/api/v1/releases/"+second+"/refuse", mgr, map[string]any{"reason": "typo"})
	if st := apitest.Str(r.Body, "release", "state"); st != "open" {
		t.Fatalf("plain refusal: %s", r.Raw)
	}
	if cur, _ := os.Readlink(filepath.Join(target, "shop-prod", "current")); !strings.HasSuffix(cur, v2) {
		t.Fatalf("a plain refusal moved production to %s", cur)
	}
	time.Sleep(1100 * time.Millisecond) // a new version: its name holds the second
	if v2b := relive(t, e, second, dev, tester, appr); v2b == v2 {
		t.Fatalf("deployed again as the same version %s", v2)
	}
	r = e.Must(http.StatusAccepted, "POST", "/api/v1/releases/"+second+"/refuse", mgr,
		map[string]any{"reason": "checkout broke", "rollback": true})
	if st := apitest.Str(r.Body, "release", "state"); st != "open" {
		t.Fatalf("refused release is %s, want open: %s", st, r.Raw)
	}
	dep := apitest.Str(r.Body, "rollback", "deployment")
	if apitest.Str(r.Body, "rollback", "version") != v1 || apitest.Str(r.Body, "rollback", "kind") != "rollback" {
		t.Fatalf("rollback answer: %s", r.Raw)
	}
	if d := e.WaitDeployment(mgr, dep, time.Minute); d["state"] != "succeeded" {
		t.Fatalf("rollback deployment: %v", d)
	}
	cur, err := os.Readlink(filepath.Join(target, "shop-prod", "current"))
	if err != nil || !strings.HasSuffix(cur, v1) {
		t.Fatalf("production current %q %v, want %s (was %s)", cur, err, v1, v2)
	}
	// The audit trail says who refused and rolled back, naming the release.
	audit := e.Must(http.StatusOK, "GET", "/api/v1/audit?type=rollback.requested", root, nil).Raw
	if !strings.Contains(string(audit), "max refused release "+second+" and rolled shop/production back to "+v1) {
		t.Fatalf("audit of the rollback: %s", audit)
	}
}
