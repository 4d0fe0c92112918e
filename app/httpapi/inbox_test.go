package httpapi_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"releasedesk/app/httpapi/apitest"
)

// inboxOf is what waits for the holder of token: "kind release-or-deployment" each.
func inboxOf(t *testing.T, e *apitest.Env, token string) []string {
	t.Helper()
	r := e.Must(http.StatusOK, "GET", "/api/v1/inbox", token, nil)
	var out []string
	for _, it := range r.Body["items"].([]any) {
		m := it.(map[string]any)
		what := apitest.Str(m, "release")
		if m["kind"] == "failed_deployment" {
			what = apitest.Str(m, "deployment")
		}
		if !strings.HasPrefix(apitest.Str(m, "link"), "#/") {
			t.Errorf("an item without a link: %v", m)
		}
		out = append(out, apitest.Str(m, "kind")+" "+what)
	}
	if int(r.Body["count"].(float64)) != len(out) {
		t.Errorf("count %v for %d items", r.Body["count"], len(out))
	}
	return out
}

// TestInboxFollowsTheWorkflow: for each role an item appears when the
// workflow hands them a release (or their deployment fails) and goes when
// they act on it, or when someone else settles it.
func TestInboxFollowsTheWorkflow(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	root := e.Login("root", apitest.RootPassword)
	repo := apitest.GitRepo(t, map[string]string{"index.html": "v1\n"})
	target := t.TempDir()
	flag := filepath.Join(t.TempDir(), "may-deploy")
	cfg := strings.Replace(apitest.LocalProject("shop", repo, target), "environments:",
		fmt.Sprintf("hooks:\n  pre_deploy: 'test -e %s'\nenvironments:", flag), 1)
	e.Must(http.StatusCreated, "PUT", "/api/v1/projects/shop", root, cfg)
	dev := e.AddUser(root, "dev", false, map[string][]string{"shop": {"developer"}})
	tess := e.AddUser(root, "tess", false, map[string][]string{"shop": {"tester"}})
	alice := e.AddUser(root, "alice", false, map[string][]string{"shop": {"approver"}})
	max := e.AddUser(root, "max", false, map[string][]string{"shop": {"manager"}})
	people := map[string]string{"dev": dev, "tess": tess, "alice": alice, "max": max}
	expect := func(when string, want map[string][]string) {
		t.Helper()
		for name, tok := range people {
			got := inboxOf(t, e, tok)
			if strings.Join(got, ", ") != strings.Join(want[name], ", ") {
				t.Errorf("%s: %s's inbox %q, want %q", when, name, got, want[name])
			}
		}
	}
	deploy := func(by, id, env, want string) string {
		t.Helper()
		r := e.Must(http.StatusAccepted, "POST", "/api/v1/releases/"+id+"/deploy", by, map[string]string{"env": env})
		dep := apitest.Str(r.Body, "deployment")
		if d := e.WaitDeployment(dev, dep, time.Minute); d["state"] != want {
			t.Fatalf("deployment %s to %s: %v, want %s", dep, env, d["state"], want)
		}
		return dep
	}

	r := e.Must(http.StatusCreated, "POST", "/api/v1/releases", dev,
		map[string]any{"project": "shop", "branch": "f1", "create_branch": true, "title": "First"})
	id := apitest.Str(r.Body, "release", "id")
	expect("opened", nil)

	// A deployment that fails waits for whoever asked for it.
	failed := deploy(dev, id, "test", "failed")
	expect("its test deployment failed", map[string][]string{"dev": {"failed_deployment " + failed}})
	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	deploy(dev, id, "test", "succeeded")
	expect("deployed to test", map[string][]string{"tess": {"test " + id}})

	e.Must(http.StatusOK, "POST", "/api/v1/releases/"+id+"/test", tess, map[string]any{"passed": false, "note": "broken"})
	expect("test failed", map[string][]string{"dev": {"rework " + id}})
	item := e.Must(http.StatusOK, "GET", "/api/v1/inbox", dev, nil).Body["items"].([]any)[0].(map[string]any)
	if item["by"] != "tess" || item["note"] != "broken" || item["link"] != "#/releases/"+id {
		t.Errorf("the rework item says %v", item)
	}

	deploy(dev, id, "test", "succeeded")
	item = e.Must(http.StatusOK, "GET", "/api/v1/inbox", tess, nil).Body["items"].([]any)[0].(map[string]any)
	if item["by"] != "dev" || item["note"] != nil || item["environment"] != "test" {
		t.Errorf("the test item after a new deployment says %v, want handed over by dev on test", item)
	}
	e.Must(http.StatusOK, "POST", "/api/v1/releases/"+id+"/test", tess, map[string]any{"passed": true, "note": "good"})
	expect("tested", map[string][]string{"alice": {"approve " + id}})
	item = e.Must(http.StatusOK, "GET", "/api/v1/inbox", alice, nil).Body["items"].([]any)[0].(map[string]any)
	if item["by"] != "tess" || item["note"] != "good" {
		t.Errorf("the approve item says %v, want handed over by tess", item)
	}
	e.Must(http.StatusOK, "POST", "/api/v1/releases/"+id+"/approve", alice, map[string]any{})
	expect("approved", nil)
	deploy(alice, id, "production", "succeeded") // a stage that needs approval: the approver deploys
	expect("live", map[string][]string{"max": {"accept " + id}})
	e.Must(http.StatusOK, "POST", "/api/v1/releases/"+id+"/refuse", max, map[string]any{"reason": "slow"})
	expect("refused", map[string][]string{"dev": {"rework " + id}})

	// Someone else's release is not dev's to rework; root (admin) may act
	// on everything, so an admin's inbox holds what waits for any role.
	if got := inboxOf(t, e, root); strings.Join(got, ",") != "" {
		t.Errorf("root's inbox with only a release sent back to dev: %q", got)
	}
	e.Must(http.StatusOK, "POST", "/api/v1/releases/"+id+"/cancel", dev, map[string]any{"reason": "replaced"})
	expect("cancelled", nil)
}
