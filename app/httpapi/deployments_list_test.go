package httpapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"releasedesk/app/httpapi/apitest"
)

// TestDeploymentListFilters: the deployment list filtered by who asked
// and by kind, alone and with the other filters; a filter no name can
// have (an unknown kind or state, an over-long, malformed or control
// character value) is a 400 naming its field, and writes nothing.
func TestDeploymentListFilters(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	root := e.Login("root", apitest.RootPassword)
	repo := apitest.GitRepo(t, nil)
	e.Must(http.StatusCreated, "PUT", "/api/v1/projects/shop", root, apitest.LocalProject("shop", repo, t.TempDir()))
	dev := e.AddUser(root, "dev", false, map[string][]string{"shop": {"developer"}})
	dana := e.AddUser(root, "dana", false, map[string][]string{"shop": {"developer"}})

	deployTest := func(token, branch string) (id, version string) {
		t.Helper()
		r := e.Must(http.StatusCreated, "POST", "/api/v1/releases", token,
			map[string]any{"project": "shop", "branch": branch, "create_branch": true, "title": branch})
		apitest.GitCommit(t, repo, branch, map[string]string{"index.html": branch + "\n"}, branch)
		d := e.Must(http.StatusAccepted, "POST", "/api/v1/releases/"+apitest.Str(r.Body, "release", "id")+"/deploy", token,
			map[string]string{"env": "test"})
		id, version = apitest.Str(d.Body, "deployment"), apitest.Str(d.Body, "version")
		if got := e.WaitDeployment(token, id, time.Minute); got["state"] != "succeeded" {
			t.Fatalf("deployment %s: %v", id, got)
		}
		return id, version
	}
	d1, v1 := deployTest(dev, "f1")
	d2, _ := deployTest(dana, "f2")
	r := e.Must(http.StatusAccepted, "POST", "/api/v1/projects/shop/environments/test/rollback", dana,
		map[string]string{"version": v1, "reason": "f2 breaks the cart"})
	d3 := apitest.Str(r.Body, "deployment")
	if got := e.WaitDeployment(dana, d3, time.Minute); got["state"] != "succeeded" {
		t.Fatalf("rollback %s: %v", d3, got)
	}

	// ids lists a page's deployments as "d3,d2 of 2".
	ids := func(query string) string {
		t.Helper()
		r := e.Must(http.StatusOK, "GET", "/api/v1/deployments?"+query, dev, nil)
		var out []string
		for _, d := range asList(r.Body["deployments"]) {
			out = append(out, d.(map[string]any)["id"].(string))
		}
		return fmt.Sprintf("%s of %v", strings.Join(out, ","), r.Body["total"])
	}
	for _, tc := range []struct{ query, want string }{
		{"", d3 + "," + d2 + "," + d1 + " of 3"},
		{"requested_by=dana", d3 + "," + d2 + " of 2"},
		{"requested_by=dev", d1 + " of 1"},
		{"kind=rollback", d3 + " of 1"},
		{"kind=deploy", d2 + "," + d1 + " of 2"},
		{"requested_by=dana&kind=deploy", d2 + " of 1"},
		{"project=shop&env=test&kind=deploy&state=succeeded,failed&requested_by=dev", d1 + " of 1"},
		{"kind=rollback&state=failed", " of 0"},
		{"requested_by=nobody", " of 0"},
		{"requested_by=Dana", " of 0"}, // names are compared exactly
		{"kind=deploy&limit=1", d2 + " of 2"},
		{"kind=deploy&limit=1&offset=1", d1 + " of 2"},
	} {
		if got := ids(tc.query); got != tc.want {
			t.Errorf("?%s: %q, want %q", tc.query, got, tc.want)
		}
	}

	head := e.Desk.Log.Head().Position
	long := strings.Repeat("a", 129)
	for _, tc := range []struct{ query, field, says string }{
		{"kind=retry", "kind", `unknown kind "retry": want deploy or rollback`},
		{"kind=Deploy", "kind", "unknown kind"},
		{"kind=deploy,rollback", "kind", "unknown kind"},
		{"state=done", "state", `unknown deployment state "done"`},
		{"state=succeeded,", "state", `unknown deployment state ""`},
		{"requested_by=" + long, "requested_by", "129 bytes: at most 128"},
		{"project=" + long, "project", "at most 128"},
		{"env=" + long, "env", "at most 128"},
		{"release=" + long, "release", "at most 128"},
		{"kind=" + long, "kind", "at most 128"},
		{"state=" + strings.Repeat("failed,", 30), "state", "at most 128"},
		{"requested_by=" + url.QueryEscape("dev\n"), "requested_by", "control character"},
		{"project=%ff%fe", "project", "not valid UTF-8"},
		{"offset=-1", "offset", "non-negative integer"},
		{"limit=ten", "limit", "non-negative integer"},
	} {
		r := e.Call("GET", "/api/v1/deployments?"+tc.query, dev, nil)
		if r.Status != http.StatusBadRequest || r.ErrCode() != "invalid" || apitest.Str(r.Body, "error", "field") != tc.field ||
			!strings.Contains(r.ErrMessage(), tc.says) {
			t.Errorf("?%s: %d %s, want 400 invalid naming %s (%q)", tc.query[:min(len(tc.query), 40)], r.Status, r.Raw, tc.field, tc.says)
		}
	}
	if got := e.Desk.Log.Head().Position; got != head {
		t.Fatalf("refused queries wrote to the log: head %d -> %d", head, got)
	}
	if got := ids(""); got != d3+","+d2+","+d1+" of 3" {
		t.Fatalf("after refused queries the list is %q", got)
	}
}
