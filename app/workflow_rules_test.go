package app_test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"releasedesk/app/httpapi/apitest"
)

// The workflow's rules written out as a table, independently of the code
// that applies them: for every release state, every action and every kind
// of actor, what the API answers. Releases are driven through the real API
// with real local deployments, so the states are the ones people reach.

// Actions a person takes on a release.
const (
	ruleDeployTest = "deploy to test"
	ruleDeployProd = "deploy to production"
	ruleTestPass   = "test pass"
	ruleTestFail   = "test fail"
	ruleApprove    = "approve"
	ruleReject     = "reject"
	ruleAccept     = "accept"
	ruleRefuse     = "refuse"
	ruleComplete   = "complete"
	ruleCancel     = "cancel"
)

var ruleActions = []string{ruleDeployTest, ruleDeployProd, ruleTestPass, ruleTestFail, ruleApprove, ruleReject,
	ruleAccept, ruleRefuse, ruleComplete, ruleCancel}

// Actors: one user per project role, an admin, a user whose roles are all
// on another project, and "self": the release's requester, who holds every
// project role.
var ruleActors = []string{"developer", "tester", "approver", "manager", "admin", "norole", "self"}

var ruleStates = []string{"open", "testing", "tested", "approved", "live", "accepted", "completed", "cancelled"}

// ruleNeeds is, per action, the project roles that may take it (besides an
// admin) and the words the refusal names them with.
var ruleNeeds = map[string]struct {
	roles []string
	words string
}{
	ruleDeployTest: {[]string{"developer"}, "deploying to a stage without approval needs the developer role on project shop"},
	ruleDeployProd: {[]string{"approver"}, "deploying to a stage that needs approval needs the approver role on project shop"},
	ruleTestPass:   {[]string{"tester"}, "passing or failing a release's test needs the tester role on project shop"},
	ruleTestFail:   {[]string{"tester"}, "passing or failing a release's test needs the tester role on project shop"},
	ruleApprove:    {[]string{"approver"}, "approving a release needs the approver role on project shop"},
	ruleReject:     {[]string{"approver"}, "rejecting a release needs the approver role on project shop"},
	ruleAccept:     {[]string{"manager"}, "accepting a release needs the manager role on project shop"},
	ruleRefuse:     {[]string{"manager"}, "refusing a release needs the manager role on project shop"},
	ruleComplete:   {[]string{"developer", "manager"}, "completing a release needs the developer or manager role on project shop"},
	ruleCancel:     {[]string{"developer", "manager"}, "cancelling a release needs the developer or manager role on project shop"},
}

// ruleFrom is, per action, the states it is taken in. The test stage takes
// a release that is open or in test; production (approval: true, the last
// stage) only an approved commit, again while it is live; a test verdict
// needs it in test; approval needs it tested; rejecting, tested or
// approved; accepting and refusing, live; completing, accepted; cancelling,
// any state before completed.
var ruleFrom = map[string][]string{
	ruleDeployTest: {"open", "testing"},
	ruleDeployProd: {"approved", "live"},
	ruleTestPass:   {"testing"},
	ruleTestFail:   {"testing"},
	ruleApprove:    {"tested"},
	ruleReject:     {"tested", "approved"},
	ruleAccept:     {"live"},
	ruleRefuse:     {"live"},
	ruleComplete:   {"accepted"},
	ruleCancel:     {"open", "testing", "tested", "approved", "live", "accepted"},
}

// ruleAfter is the state an allowed action leaves the release in.
var ruleAfter = map[string]string{
	ruleDeployTest: "testing", ruleDeployProd: "live", ruleTestPass: "tested", ruleTestFail: "open",
	ruleApprove: "approved", ruleReject: "open", ruleAccept: "accepted", ruleRefuse: "open",
	ruleComplete: "completed", ruleCancel: "cancelled",
}

// ruleOffer is the name GET /api/v1/releases/{id} offers an action by.
var ruleOffer = map[string]string{
	ruleDeployTest: "deploy:test", ruleDeployProd: "deploy:production", ruleTestPass: "test", ruleTestFail: "test",
	ruleApprove: "approve", ruleReject: "reject", ruleAccept: "accept", ruleRefuse: "refuse",
	ruleComplete: "complete", ruleCancel: "cancel",
}

// ruleOutcome is what the API answers.
type ruleOutcome struct {
	status int    // 200 or 202 when allowed
	rule   string // a 403's rule must contain this
}

func (o ruleOutcome) allowed() bool { return o.status < 300 }

// ruleExpect is the table: the role first (a refusal by role never looks
// at the state), then the state, then separation of duties (nobody
// approves, passes or fails their own release on a strict project).
func ruleExpect(action, state, actor string) ruleOutcome {
	need := ruleNeeds[action]
	holds := actor == "admin" || actor == "self" || slices.Contains(need.roles, actor)
	switch {
	case !holds:
		return ruleOutcome{status: http.StatusForbidden, rule: need.words}
	case !slices.Contains(ruleFrom[action], state):
		return ruleOutcome{status: http.StatusConflict}
	case actor == "self" && (action == ruleTestPass || action == ruleTestFail):
		return ruleOutcome{status: http.StatusForbidden, rule: "a tester cannot pass or fail their own release"}
	case actor == "self" && action == ruleApprove:
		return ruleOutcome{status: http.StatusForbidden, rule: "nobody approves their own release"}
	case action == ruleDeployTest || action == ruleDeployProd:
		return ruleOutcome{status: http.StatusAccepted}
	}
	return ruleOutcome{status: http.StatusOK}
}

// ruleWorld is one desk with the shop project, its people and a source
// repository each release gets its own branch in.
type ruleWorld struct {
	e      *apitest.Env
	repo   string
	tokens map[string]string // actor -> session token
	n      int               // branches made
}

func newRuleWorld(t *testing.T) *ruleWorld {
	e := apitest.New(t, apitest.Options{})
	repo := apitest.GitRepo(t, nil)
	root := e.Login("root", apitest.RootPassword)
	target := t.TempDir()
	cfg := fmt.Sprintf(`id: shop
repo: %s
branch: master
strategy: local
keep_releases: 3
environments:
  - name: test
    path: %s/test
  - name: production
    path: %s/prod
    approval: true
`, repo, target, target)
	e.Must(http.StatusCreated, "PUT", "/api/v1/projects/shop", root, cfg)
	all := []string{"developer", "tester", "approver", "manager"}
	w := &ruleWorld{e: e, repo: repo, tokens: map[string]string{"admin": root}}
	for _, role := range all {
		w.tokens[role] = e.AddUser(root, role+"-user", false, map[string][]string{"shop": {role}})
	}
	w.tokens["norole"] = e.AddUser(root, "nora", false, map[string][]string{"other": all})
	w.tokens["self"] = e.AddUser(root, "sam", false, map[string][]string{"shop": all})
	return w
}

// on returns the world's API env reporting to t (a subtest).
func (w *ruleWorld) on(t *testing.T) *apitest.Env {
	e := *w.e
	e.T = t
	return &e
}

// branch makes a new branch off master with a commit of its own, so each
// release deploys a distinct commit (and so a distinct version).
func (w *ruleWorld) branch(t testing.TB) string {
	t.Helper()
	w.n++
	name := fmt.Sprintf("rel-%d", w.n)
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = w.repo
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=dev", "GIT_AUTHOR_EMAIL=dev@example.invalid",
			"GIT_COMMITTER_NAME=dev", "GIT_COMMITTER_EMAIL=dev@example.invalid")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("checkout", "-q", "-b", name, "master")
	if err := os.WriteFile(filepath.Join(w.repo, name+".txt"), []byte(name+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git("add", ".")
	git("commit", "-q", "-m", name)
	git("checkout", "-q", "master")
	return name
}

// do takes action on release id as actor and returns the answer; an
// accepted deployment is waited for, so the next step finds the stage free.
func (w *ruleWorld) do(e *apitest.Env, actor, action, id string) apitest.Resp {
	e.T.Helper()
	tok := w.tokens[actor]
	path := "/api/v1/releases/" + id + "/"
	var r apitest.Resp
	switch action {
	case ruleDeployTest:
		r = e.Call("POST", path+"deploy", tok, map[string]any{"env": "test"})
	case ruleDeployProd:
		r = e.Call("POST", path+"deploy", tok, map[string]any{"env": "production"})
	case ruleTestPass:
		r = e.Call("POST", path+"test", tok, map[string]any{"passed": true, "note": "works"})
	case ruleTestFail:
		r = e.Call("POST", path+"test", tok, map[string]any{"passed": false, "note": "broken"})
	case ruleApprove, ruleAccept:
		r = e.Call("POST", path+action, tok, map[string]any{"note": "fine"})
	case ruleReject, ruleRefuse, ruleCancel:
		r = e.Call("POST", path+action, tok, map[string]any{"reason": "not now"})
	case ruleComplete:
		r = e.Call("POST", path+"complete", tok, nil)
	default:
		e.T.Fatalf("unknown action %q", action)
	}
	if r.Status == http.StatusAccepted {
		dep := apitest.Str(r.Body, "deployment")
		if got := e.WaitDeployment(tok, dep, time.Minute); got["state"] != "succeeded" {
			e.T.Fatalf("%s of release %s: deployment %s %v: %v", action, id, dep, got["state"], got)
		}
	}
	return r
}

// reach opens a release (as "self") on a fresh branch and drives it to
// state by the usual people, each step checked.
func (w *ruleWorld) reach(e *apitest.Env, state string) string {
	e.T.Helper()
	r := e.Must(http.StatusCreated, "POST", "/api/v1/releases", w.tokens["self"],
		map[string]any{"project": "shop", "branch": w.branch(e.T), "title": "Release for " + state})
	id := apitest.Str(r.Body, "release", "id")
	steps := map[string][][2]string{
		"open":      nil,
		"testing":   {{"developer", ruleDeployTest}},
		"tested":    {{"developer", ruleDeployTest}, {"tester", ruleTestPass}},
		"approved":  {{"developer", ruleDeployTest}, {"tester", ruleTestPass}, {"approver", ruleApprove}},
		"live":      {{"developer", ruleDeployTest}, {"tester", ruleTestPass}, {"approver", ruleApprove}, {"approver", ruleDeployProd}},
		"accepted":  {{"developer", ruleDeployTest}, {"tester", ruleTestPass}, {"approver", ruleApprove}, {"approver", ruleDeployProd}, {"manager", ruleAccept}},
		"completed": {{"developer", ruleDeployTest}, {"tester", ruleTestPass}, {"approver", ruleApprove}, {"approver", ruleDeployProd}, {"manager", ruleAccept}, {"manager", ruleComplete}},
		"cancelled": {{"manager", ruleCancel}},
	}[state]
	for _, s := range steps {
		if r := w.do(e, s[0], s[1], id); r.Status >= 300 {
			e.T.Fatalf("reaching %s: %s by %s: %d %s", state, s[1], s[0], r.Status, r.Raw)
		}
	}
	if got := w.state(e, id); got != state {
		e.T.Fatalf("reaching %s: release %s is %s", state, id, got)
	}
	return id
}

// releaseSnapshot is what a refusal must leave untouched.
type releaseSnapshot struct {
	state       string
	timeline    int
	deployments int // the release's
	allDeploys  int // the desk's
}

func (w *ruleWorld) snapshot(e *apitest.Env, id string) releaseSnapshot {
	e.T.Helper()
	r := e.Must(http.StatusOK, "GET", "/api/v1/releases/"+id, w.tokens["admin"], nil)
	tl, _ := r.Body["timeline"].([]any)
	deps, _ := r.Body["release"].(map[string]any)["deployments"].([]any)
	list := e.Must(http.StatusOK, "GET", "/api/v1/deployments?limit=1", w.tokens["admin"], nil)
	total, _ := list.Body["total"].(float64)
	return releaseSnapshot{state: apitest.Str(r.Body, "release", "state"), timeline: len(tl), deployments: len(deps),
		allDeploys: int(total)}
}

func (w *ruleWorld) state(e *apitest.Env, id string) string {
	e.T.Helper()
	return apitest.Str(e.Must(http.StatusOK, "GET", "/api/v1/releases/"+id, w.tokens["admin"], nil).Body, "release", "state")
}

func TestWorkflowRulesEveryStateActionActor(t *testing.T) {
	w := newRuleWorld(t)
	for _, state := range ruleStates {
		t.Run(state, func(t *testing.T) {
			e := w.on(t)
			base := w.reach(e, state)

			// What the release offers each actor is what the table allows.
			for _, actor := range ruleActors {
				var want []string
				for _, action := range ruleActions {
					if ruleExpect(action, state, actor).allowed() && !slices.Contains(want, ruleOffer[action]) {
						want = append(want, ruleOffer[action])
					}
				}
				r := e.Must(http.StatusOK, "GET", "/api/v1/releases/"+base, w.tokens[actor], nil)
				var got []string
				for _, a := range r.Body["actions"].([]any) {
					got = append(got, a.(string))
				}
				slices.Sort(want)
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Errorf("%s release, actions offered to %s: %v, want %v", state, actor, got, want)
				}
			}

			// Every refusal, on the one release: the status, the rule, and
			// nothing written.
			for _, action := range ruleActions {
				for _, actor := range ruleActors {
					want := ruleExpect(action, state, actor)
					if want.allowed() {
						continue
					}
					before := w.snapshot(e, base)
					r := w.do(e, actor, action, base)
					if r.Status != want.status {
						t.Errorf("%s release, %s by %s: status %d, want %d: %s", state, action, actor, r.Status, want.status, r.Raw)
						continue
					}
					switch want.status {
					case http.StatusForbidden:
						if rule := apitest.Str(r.Body, "error", "rule"); !strings.Contains(rule, want.rule) {
							t.Errorf("%s release, %s by %s: rule %q, want it to say %q", state, action, actor, rule, want.rule)
						}
					case http.StatusConflict:
						if r.ErrCode() != "conflict" || !strings.Contains(r.ErrMessage(), state) {
							t.Errorf("%s release, %s by %s: %s, want a conflict naming the state", state, action, actor, r.Raw)
						}
					}
					if after := w.snapshot(e, base); after != before {
						t.Errorf("%s release, refused %s by %s changed it: %+v -> %+v", state, action, actor, before, after)
					}
				}
			}

			// Every allowed cell, each on a release of its own.
			for _, action := range ruleActions {
				for _, actor := range ruleActors {
					if !ruleExpect(action, state, actor).allowed() {
						continue
					}
					id := w.reach(e, state)
					r := w.do(e, actor, action, id)
					if want := ruleExpect(action, state, actor).status; r.Status != want {
						t.Errorf("%s release, %s by %s: status %d, want %d: %s", state, action, actor, r.Status, want, r.Raw)
						continue
					}
					if got := w.state(e, id); got != ruleAfter[action] {
						t.Errorf("%s release, %s by %s: now %s, want %s", state, action, actor, got, ruleAfter[action])
					}
				}
			}
		})
	}
}

// A project that allows self-tests lets the requester pass their own
// release, and offers it; approving it stays refused.
func TestWorkflowRulesAllowSelfTest(t *testing.T) {
	w := newRuleWorld(t)
	e := w.e
	cfg := apitest.Str(e.Must(http.StatusOK, "GET", "/api/v1/projects/shop", w.tokens["admin"], nil).Body, "yaml")
	e.Must(http.StatusOK, "PUT", "/api/v1/projects/shop", w.tokens["admin"], cfg+"workflow:\n  allow_self_test: true\n")
	id := w.reach(e, "testing")
	r := e.Must(http.StatusOK, "GET", "/api/v1/releases/"+id, w.tokens["self"], nil)
	if got := fmt.Sprint(r.Body["actions"]); !strings.Contains(got, "test") {
		t.Errorf("self-test allowed, but actions offered to the requester: %s", got)
	}
	r = w.do(e, "self", ruleTestPass, id)
	if r.Status != http.StatusOK || apitest.Str(r.Body, "release", "state") != "tested" || apitest.Str(r.Body, "release", "tester") != "sam" {
		t.Fatalf("self-test on a project that allows it: %d %s", r.Status, r.Raw)
	}
	r = w.do(e, "self", ruleApprove, id)
	if r.Status != http.StatusForbidden || !strings.Contains(apitest.Str(r.Body, "error", "rule"), "nobody approves their own release") {
		t.Fatalf("self-approval with self-tests allowed: %d %s", r.Status, r.Raw)
	}
}
