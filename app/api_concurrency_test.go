package app

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
)

// People acting at once on the same thing: the desk decides one after the
// other, so exactly one wins and the others get a clear 409, and the log
// holds one decision.

// burst sends n requests at once (released together) and returns the
// answers in order. req(i) gives the i-th request's method, path, token
// and JSON body.
func burst(t *testing.T, e *apiEnv, n int, req func(i int) (method, path, token string, body any)) []apiResp {
	t.Helper()
	out := make([]apiResp, n)
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
			hr, err := http.NewRequest(method, e.url+path, bytes.NewReader(data))
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
			out[i] = apiResp{Status: res.StatusCode, Raw: raw, Header: res.Header}
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
func oneWins(t *testing.T, what string, rs []apiResp, win int, says ...string) apiResp {
	t.Helper()
	var winner apiResp
	wins := 0
	for _, r := range rs {
		switch r.Status {
		case win:
			wins++
			winner = r
		case http.StatusConflict:
			ok := r.errCode() == "conflict"
			named := false
			for _, s := range says {
				named = named || strings.Contains(r.errMessage(), s)
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
func timelineCount(e *apiEnv, token, id, action string) int {
	e.t.Helper()
	r := e.must(http.StatusOK, "GET", "/api/v1/releases/"+id, token, nil)
	n := 0
	for _, x := range r.Body["timeline"].([]any) {
		if str(x.(map[string]any), "action") == action {
			n++
		}
	}
	return n
}

func TestAPIConcurrentApprovalsOneWins(t *testing.T) {
	e := newAPIEnv(t, apiOptions{})
	root := e.login("root", rootPassword)
	repo := gitRepo(t)
	e.must(http.StatusCreated, "PUT", "/api/v1/projects/shop", root, shopConfig("shop", repo, t.TempDir()))
	dev := e.addUser(root, "dev", false, map[string][]string{"shop": {"developer"}})
	tess := e.addUser(root, "tess", false, map[string][]string{"shop": {"tester"}})
	approvers := []string{
		e.addUser(root, "alice", false, map[string][]string{"shop": {"approver"}}),
		e.addUser(root, "bob", false, map[string][]string{"shop": {"approver"}}),
	}
	tested := func(branch string) string {
		t.Helper()
		id := str(e.must(http.StatusCreated, "POST", "/api/v1/releases", dev,
			map[string]any{"project": "shop", "branch": branch, "create_branch": true, "title": branch}).Body, "release", "id")
		r := e.must(http.StatusAccepted, "POST", "/api/v1/releases/"+id+"/deploy", dev, map[string]string{"env": "test"})
		if dep := e.waitDeployment(dev, str(r.Body, "deployment"), time.Minute); dep["state"] != "succeeded" {
			t.Fatalf("test deploy: %v", dep)
		}
		e.must(http.StatusOK, "POST", "/api/v1/releases/"+id+"/test", tess, map[string]any{"passed": true})
		return id
	}
	for _, n := range []int{2, 20} {
		id := tested(fmt.Sprintf("feature-%d", n))
		rs := burst(t, e, n, func(i int) (string, string, string, any) {
			return "POST", "/api/v1/releases/" + id + "/approve", approvers[i%2], map[string]string{"note": fmt.Sprintf("approval %d", i)}
		})
		what := fmt.Sprintf("%d approvals at once", n)
		w := oneWins(t, what, rs, http.StatusOK, "release "+id+" is approved: approving a release needs it tested")
		if str(w.Body, "release", "state") != "approved" {
			t.Fatalf("%s: the winner's answer %s", what, w.Raw)
		}
		if got := timelineCount(e, root, id, "release.approved"); got != 1 {
			t.Fatalf("%s: %d approvals recorded, want 1", what, got)
		}
		r := e.must(http.StatusOK, "GET", "/api/v1/audit?type=release.approved&limit=100", root, nil)
		if total := r.Body["total"].(float64); int(total) != map[int]int{2: 1, 20: 2}[n] {
			t.Fatalf("%s: %v release.approved events in the log", what, total)
		}
	}
}

func TestAPIConcurrentDeploysOneWins(t *testing.T) {
	// Without a runner the winning deployment stays queued, so its stage
	// stays busy for all the others: exactly one may win.
	e := newAPIEnv(t, apiOptions{noRunner: true})
	root := e.login("root", rootPassword)
	repo := gitRepo(t)
	e.must(http.StatusCreated, "PUT", "/api/v1/projects/shop", root, shopConfig("shop", repo, t.TempDir()))
	devs := []string{
		e.addUser(root, "dev", false, map[string][]string{"shop": {"developer"}}),
		e.addUser(root, "dora", false, map[string][]string{"shop": {"developer"}}),
	}
	id := str(e.must(http.StatusCreated, "POST", "/api/v1/releases", devs[0],
		map[string]any{"project": "shop", "branch": "feature-1", "create_branch": true, "title": "First"}).Body, "release", "id")
	rs := burst(t, e, 20, func(i int) (string, string, string, any) {
		return "POST", "/api/v1/releases/" + id + "/deploy", devs[i%2], map[string]string{"env": "test"}
	})
	w := oneWins(t, "20 deploys at once", rs, http.StatusAccepted, "environment test of shop is busy", "release "+id+" is")
	dep := str(w.Body, "deployment")
	for _, r := range rs {
		if r.Status == http.StatusConflict && strings.Contains(r.errMessage(), "busy") && !strings.Contains(r.errMessage(), "deployment "+dep) {
			t.Errorf("a busy stage names another deployment than %s: %s", dep, r.Raw)
		}
	}
	r := e.must(http.StatusOK, "GET", "/api/v1/deployments?project=shop", root, nil)
	if r.Body["total"] != 1.0 {
		t.Fatalf("deployments: %s", r.Raw)
	}
	if got := timelineCount(e, root, id, "release.deploy_requested"); got != 1 {
		t.Fatalf("%d deploy requests recorded, want 1", got)
	}
}

func TestAPIConcurrentOpensOfABranchOneWins(t *testing.T) {
	e := newAPIEnv(t, apiOptions{noRunner: true})
	root := e.login("root", rootPassword)
	repo := gitRepo(t)
	e.must(http.StatusCreated, "PUT", "/api/v1/projects/shop", root, shopConfig("shop", repo, t.TempDir()))
	dev := e.addUser(root, "dev", false, map[string][]string{"shop": {"developer"}})
	mgr := e.addUser(root, "max", false, map[string][]string{"shop": {"manager"}})
	tokens := []string{dev, mgr}

	for _, create := range []bool{true, false} {
		branch := map[bool]string{true: "new-branch", false: "feature-1"}[create]
		if !create {
			gitCommit(t, repo, "master", "index.html", "v2\n") // master moves; the branch is made by hand
			gitBranch(t, repo, branch)
		}
		rs := burst(t, e, 10, func(i int) (string, string, string, any) {
			return "POST", "/api/v1/releases", tokens[i%2],
				map[string]any{"project": "shop", "branch": branch, "create_branch": create, "title": fmt.Sprintf("Try %d", i)}
		})
		what := fmt.Sprintf("10 opens of %s (create_branch %v)", branch, create)
		w := oneWins(t, what, rs, http.StatusCreated, "branch "+branch+" of shop already has release", "already exists")
		if str(w.Body, "release", "branch") != branch {
			t.Fatalf("%s: %s", what, w.Raw)
		}
		r := e.must(http.StatusOK, "GET", "/api/v1/releases?q="+branch, root, nil)
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
