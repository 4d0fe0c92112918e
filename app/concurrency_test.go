package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"releasedesk/app/httpapi/apitest"
)

// People acting at once on the same thing: the desk decides one after the
// other, so exactly one wins and the others get a clear 409, and the log
// holds one decision.

// burst sends n requests at once (released together) and returns the
// answers in order. req(i) gives the i-th request's method, path, token
// and JSON body.
func burst(t *testing.T, e *apitest.Env, n int, req func(i int) (method, path, token string, body any)) []apitest.Resp {
	t.Helper()
	out := make([]apitest.Resp, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		method, path, token, body := req(i)
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			hr, err := http.NewRequest(method, e.URL+path, bytes.NewReader(data))
			if err != nil {
				errs[i] = err
				return
			}
			hr.Header.Set("Content-Type", "application/json")
			hr.Header.Set("Authorization", "Bearer "+token)
			res, err := http.DefaultClient.Do(hr)
			if err != nil {
				errs[i] = err
				return
			}
			defer res.Body.Close()
			raw, _ := io.ReadAll(res.Body)
			out[i] = apitest.Resp{Status: res.StatusCode, Raw: raw, Header: res.Header}
			_ = json.Unmarshal(raw, &out[i].Body)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	return out
}

// oneWins checks that exactly one answer is win and every other a 409
// whose message says one of says; it returns the winner.
func oneWins(t *testing.T, what string, rs []apitest.Resp, win int, says ...string) apitest.Resp {
	t.Helper()
	var winner apitest.Resp
	wins := 0
	for _, r := range rs {
		switch r.Status {
		case win:
			wins++
			winner = r
		case http.StatusConflict:
			ok := r.ErrCode() == "conflict"
			named := false
			for _, s := range says {
				named = named || strings.Contains(r.ErrMessage(), s)
			}
			if !ok || !named {
				t.Errorf("%s: a loser's answer %s, want a conflict saying one of %q", what, r.Raw, says)
			}
		default:
			t.Errorf("%s: status %d, want %d or 409: %s", what, r.Status, win, r.Raw)
		}
	}
	if wins != 1 {
		t.Fatalf("%s: %d requests won, want exactly 1", what, wins)
	}
	return winner
}

// timelineCount counts a release's timeline entries of one action.
func timelineCount(e *apitest.Env, token, id, action string) int {
	e.T.Helper()
	r := e.Must(http.StatusOK, "GET", "/api/v1/releases/"+id, token, nil)
	n := 0
	for _, x := range r.Body["timeline"].([]any) {
		if apitest.Str(x.(map[string]any), "action") == action {
			n++
		}
	}
	return n
}

func TestAPIConcurrentApprovalsOneWins(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	root := e.Login("root", apitest.RootPassword)
	repo := apitest.GitRepo(t, nil)
	e.Must(http.StatusCreated, "PUT", "/api/v1/projects/shop", root, apitest.LocalProject("shop", repo, t.TempDir()))
	dev := e.AddUser(root, "dev", false, map[string][]string{"shop": {"developer"}})
	tess := e.AddUser(root, "tess", false, map[string][]string{"shop": {"tester"}})
	approvers := []string{
		e.AddUser(root, "alice", false, map[string][]string{"shop": {"approver"}}),
		e.AddUser(root, "bob", false, map[string][]string{"shop": {"approver"}}),
	}
	tested := func(branch string) string {
		t.Helper()
		id := apitest.Str(e.Must(http.StatusCreated, "POST", "/api/v1/releases", dev,
			map[string]any{"project": "shop", "branch": branch, "create_branch": true, "title": branch}).Body, "release", "id")
		r := e.Must(http.StatusAccepted, "POST", "/api/v1/releases/"+id+"/deploy", dev, map[string]string{"env": "test"})
		if dep := e.WaitDeployment(dev, apitest.Str(r.Body, "deployment"), time.Minute); dep["state"] != "succeeded" {
			t.Fatalf("test deploy: %v", dep)
		}
		e.Must(http.StatusOK, "POST", "/api/v1/releases/"+id+"/test", tess, map[string]any{"passed": true})
		return id
	}
	for _, n := range []int{2, 20} {
		id := tested(fmt.Sprintf("feature-%d", n))
		rs := burst(t, e, n, func(i int) (string, string, string, any) {
			return "POST", "/api/v1/releases/" + id + "/approve", approvers[i%2], map[string]string{"note": fmt.Sprintf("approval %d", i)}
		})
		what := fmt.Sprintf("%d approvals at once", n)
		w := oneWins(t, what, rs, http.StatusOK, "release "+id+" is approved: approving a release needs it tested")
		if apitest.Str(w.Body, "release", "state") != "approved" {
			t.Fatalf("%s: the winner's answer %s", what, w.Raw)
		}
		if got := timelineCount(e, root, id, "release.approved"); got != 1 {
			t.Fatalf("%s: %d approvals recorded, want 1", what, got)
		}
		r := e.Must(http.StatusOK, "GET", "/api/v1/audit?type=release.approved&limit=100", root, nil)
		if total := r.Body["total"].(float64); int(total) != map[int]int{2: 1, 20: 2}[n] {
			t.Fatalf("%s: %v release.approved events in the log", what, total)
		}
	}
}

func TestAPIConcurrentDeploysOneWins(t *testing.T) {
	// Without a runner the winning deployment stays queued, so its stage
	// stays busy for all the others: exactly one may win.
	e := apitest.New(t, apitest.Options{NoRunner: true})
	root := e.Login("root", apitest.RootPassword)
	repo := apitest.GitRepo(t, nil)
	e.Must(http.StatusCreated, "PUT", "/api/v1/projects/shop", root, apitest.LocalProject("shop", repo, t.TempDir()))
	devs := []string{
		e.AddUser(root, "dev", false, map[string][]string{"shop": {"developer"}}),
		e.AddUser(root, "dora", false, map[string][]string{"shop": {"developer"}}),
	}
	id := apitest.Str(e.Must(http.StatusCreated, "POST", "/api/v1/releases", devs[0],
		map[string]any{"project": "shop", "branch": "feature-1", "create_branch": true, "title": "First"}).Body, "release", "id")
	rs := burst(t, e, 20, func(i int) (string, string, string, any) {
		return "POST", "/api/v1/releases/" + id + "/deploy", devs[i%2], map[string]string{"env": "test"}
	})
	w := oneWins(t, "20 deploys at once", rs, http.StatusAccepted, "environment test of shop is busy", "release "+id+" is")
	dep := apitest.Str(w.Body, "deployment")
	for _, r := range rs {
		if r.Status == http.StatusConflict && strings.Contains(r.ErrMessage(), "busy") && !strings.Contains(r.ErrMessage(), "deployment "+dep) {
			t.Errorf("a busy stage names another deployment than %s: %s", dep, r.Raw)
		}
	}
	r := e.Must(http.StatusOK, "GET", "/api/v1/deployments?project=shop", root, nil)
	if r.Body["total"] != 1.0 {
		t.Fatalf("deployments: %s", r.Raw)
	}
	if got := timelineCount(e, root, id, "release.deploy_requested"); got != 1 {
		t.Fatalf("%d deploy requests recorded, want 1", got)
	}
}

func TestAPIConcurrentOpensOfABranchOneWins(t *testing.T) {
	e := apitest.New(t, apitest.Options{NoRunner: true})
	root := e.Login("root", apitest.RootPassword)
	repo := apitest.GitRepo(t, nil)
	e.Must(http.StatusCreated, "PUT", "/api/v1/projects/shop", root, apitest.LocalProject("shop", repo, t.TempDir()))
	dev := e.AddUser(root, "dev", false, map[string][]string{"shop": {"developer"}})
	mgr := e.AddUser(root, "max", false, map[string][]string{"shop": {"manager"}})
	tokens := []string{dev, mgr}

	for _, create := range []bool{true, false} {
		branch := map[bool]string{true: "new-branch", false: "feature-1"}[create]
		if !create {
			apitest.GitCommit(t, repo, "master", map[string]string{"index.html": "v2\n"}, "change index.html") // master moves; the branch is made by hand
			gitBranch(t, repo, branch)
		}
		rs := burst(t, e, 10, func(i int) (string, string, string, any) {
			return "POST", "/api/v1/releases", tokens[i%2],
				map[string]any{"project": "shop", "branch": branch, "create_branch": create, "title": fmt.Sprintf("Try %d", i)}
		})
		what := fmt.Sprintf("10 opens of %s (create_branch %v)", branch, create)
		w := oneWins(t, what, rs, http.StatusCreated, "branch "+branch+" of shop already has release", "already exists")
		if apitest.Str(w.Body, "release", "branch") != branch {
			t.Fatalf("%s: %s", what, w.Raw)
		}
		r := e.Must(http.StatusOK, "GET", "/api/v1/releases?q="+branch, root, nil)
		if r.Body["total"] != 1.0 {
			t.Fatalf("%s: releases of the branch: %s", what, r.Raw)
		}
	}
}

// gitBranch makes branch at master's head in repo.
func gitBranch(t *testing.T, repo, branch string) {
	t.Helper()
	if out, err := exec.Command("git", "-C", repo, "branch", branch, "master").CombinedOutput(); err != nil {
		t.Fatalf("git branch %s: %v\n%s", branch, err, out)
	}
}
