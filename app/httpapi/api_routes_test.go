package httpapi_test

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"releasedesk/app"
	"releasedesk/app/httpapi"
	"releasedesk/app/httpapi/apitest"
	"releasedesk/runner"

	"golang.org/x/crypto/ssh"
)

// The API route by route: every route of api_routes.go answers with
// success at least once, refuses callers without a valid token, and
// refuses bad requests with the error shape and status the client can act
// on.

// apiRoutes is every route of the API's table, so a route added there is
// one these tests must cover.
func apiRoutes(t *testing.T) []string {
	t.Helper()
	out := httpapi.Routes()
	if len(out) < 40 {
		t.Fatalf("found only %d routes in the API's table", len(out))
	}
	return out
}

// routesBut is every route of the table but those named.
func routesBut(t *testing.T, except ...string) []string {
	var out []string
	for _, r := range apiRoutes(t) {
		if !slices.Contains(except, r) {
			out = append(out, r)
		}
	}
	return out
}

// routePath fills a pattern's wildcards with plausible values.
func routePath(pattern string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	r := strings.NewReplacer("{name}", "root", "{id}", "1", "{project}", "shop", "{env}", "test",
		"{version}", "20250101000000-abcdef0", "{channel}", "hook")
	return method, r.Replace(path)
}

// routeCover records which routes answered with success.
type routeCover struct {
	e   *apitest.Env
	hit map[string]bool
}

func (c *routeCover) Must(want int, pattern, path, token string, body any) apitest.Resp {
	c.e.T.Helper()
	method, _, _ := strings.Cut(pattern, " ")
	r := c.e.Must(want, method, path, token, body)
	c.hit[pattern] = true
	return r
}

// oneStageConfig is a local project of one stage, with a pre_release hook.
func oneStageConfig(id, repo, target, hook string) string {
	return fmt.Sprintf(`id: %s
repo: %s
branch: master
strategy: local
hooks: {pre_release: %q}
environments:
  - name: live
    path: %s/%s
`, id, repo, hook, target, id)
}

// sshKeyServer is a host that offers an SSH host key and lets nobody in:
// enough for GET /api/v1/hosts/key.
func sshKeyServer(t *testing.T) (addr string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				cfg := &ssh.ServerConfig{PasswordCallback: func(ssh.ConnMetadata, []byte) (*ssh.Permissions, error) {
					return nil, fmt.Errorf("nobody gets in")
				}}
				cfg.AddHostKey(signer)
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				_, _, _, _ = ssh.NewServerConn(c, cfg)
			}()
		}
	}()
	return ln.Addr().String()
}

// waitState polls a deployment until it is in state.
func waitDeploymentState(e *apitest.Env, token, id, state string) {
	e.T.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := e.Must(http.StatusOK, "GET", "/api/v1/deployments/"+id, token, nil)
		if r.Body["state"] == state {
			return
		}
		if time.Now().After(deadline) {
			e.T.Fatalf("deployment %s never %s: %s", id, state, r.Raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAPIEveryRouteAnswers(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	c := &routeCover{e: e, hit: map[string]bool{}}
	repo := apitest.GitRepo(t, nil)
	target := t.TempDir()

	// People.
	r := c.Must(http.StatusOK, "POST /api/v1/login", "/api/v1/login", "", map[string]string{"user": "root", "password": apitest.RootPassword})
	root := apitest.Str(r.Body, "token")
	if !strings.HasPrefix(root, "rd_") || apitest.Str(r.Body, "user", "name") != "root" {
		t.Fatalf("login: %s", r.Raw)
	}
	r = c.Must(http.StatusOK, "GET /api/v1/me", "/api/v1/me", root, nil)
	if apitest.Str(r.Body, "user", "name") != "root" || r.Body["user"].(map[string]any)["admin"] != true {
		t.Fatalf("me: %s", r.Raw)
	}
	r = c.Must(http.StatusOK, "GET /api/v1/dashboard", "/api/v1/dashboard", root, nil)
	if l, ok := r.Body["environments"].([]any); !ok || len(l) != 0 {
		t.Fatalf("dashboard before any project: %s", r.Raw)
	}
	r = c.Must(http.StatusOK, "GET /api/v1/inbox", "/api/v1/inbox", root, nil)
	if r.Body["count"] != float64(0) {
		t.Fatalf("inbox before anything: %s", r.Raw)
	}
	r = c.Must(http.StatusOK, "PUT /api/v1/me/language", "/api/v1/me/language", root, map[string]string{"language": "en"})
	if apitest.Str(r.Body, "language") != "en" {
		t.Fatalf("language: %s", r.Raw)
	}

	// Projects: validated, configured, configured again unchanged, read.
	cfg := apitest.LocalProject("shop", repo, target)
	r = c.Must(http.StatusOK, "POST /api/v1/projects/validate", "/api/v1/projects/validate", root, cfg)
	if r.Body["valid"] != true || len(r.Body["diff"].([]any)) == 0 {
		t.Fatalf("validate: %s", r.Raw)
	}
	if r := e.Call("GET", "/api/v1/projects/shop", root, nil); r.Status != http.StatusNotFound {
		t.Fatalf("validate wrote the project: %d %s", r.Status, r.Raw)
	}
	r = c.Must(http.StatusCreated, "PUT /api/v1/projects/{project}", "/api/v1/projects/shop", root, cfg)
	if r.Body["changed"] != true {
		t.Fatalf("put project: %s", r.Raw)
	}
	if r := e.Must(http.StatusOK, "PUT", "/api/v1/projects/shop", root, cfg); r.Body["changed"] != false {
		t.Fatalf("put the same project again: %s", r.Raw)
	}
	for _, p := range []string{"slow", "broken"} {
		hook := map[string]string{"slow": "sleep 30", "broken": "exit 3"}[p]
		e.Must(http.StatusCreated, "PUT", "/api/v1/projects/"+p, root, oneStageConfig(p, repo, target, hook))
	}
	r = c.Must(http.StatusOK, "GET /api/v1/projects", "/api/v1/projects", root, nil)
	if n := len(r.Body["projects"].([]any)); n != 3 {
		t.Fatalf("projects: %d, want 3: %s", n, r.Raw)
	}
	r = c.Must(http.StatusOK, "GET /api/v1/projects/{project}", "/api/v1/projects/shop", root, nil)
	if !strings.Contains(apitest.Str(r.Body, "yaml"), "production") || len(r.Body["history"].([]any)) != 1 {
		t.Fatalf("project: %s", r.Raw)
	}

	// Users.
	r = c.Must(http.StatusCreated, "POST /api/v1/users", "/api/v1/users", root,
		map[string]any{"name": "dev", "password": "dev-password-1", "roles": map[string][]string{"shop": {"developer"}}})
	if apitest.Str(r.Body, "name") != "dev" {
		t.Fatalf("create user: %s", r.Raw)
	}
	dev := e.Login("dev", "dev-password-1")
	tess := e.AddUser(root, "tess", false, map[string][]string{"shop": {"tester"}})
	alice := e.AddUser(root, "alice", false, map[string][]string{"shop": {"approver"}})
	max := e.AddUser(root, "max", false, map[string][]string{"shop": {"manager"}})
	e.AddUser(root, "temp", false, nil)
	r = c.Must(http.StatusOK, "GET /api/v1/users", "/api/v1/users", root, nil)
	if n := len(r.Body["users"].([]any)); n != 6 {
		t.Fatalf("users: %d, want 6: %s", n, r.Raw)
	}
	r = c.Must(http.StatusOK, "GET /api/v1/users/{name}", "/api/v1/users/dev", root, nil)
	if apitest.Str(r.Body, "name") != "dev" {
		t.Fatalf("get user: %s", r.Raw)
	}
	e.Must(http.StatusOK, "GET", "/api/v1/users/dev", dev, nil) // oneself
	r = c.Must(http.StatusOK, "PUT /api/v1/users/{name}", "/api/v1/users/dev", root,
		map[string]any{"roles": map[string][]string{"shop": {"developer"}, "slow": {"developer"}, "broken": {"developer"}}})
	if fmt.Sprint(r.Body["roles"]) != "map[broken:[developer] shop:[developer] slow:[developer]]" {
		t.Fatalf("set roles: %s", r.Raw)
	}
	c.Must(http.StatusNoContent, "POST /api/v1/users/{name}/password", "/api/v1/users/temp/password", root,
		map[string]string{"password": "a-new-password-2"})
	r = c.Must(http.StatusOK, "PUT /api/v1/users/{name}/contacts", "/api/v1/users/dev/contacts", dev,
		map[string]string{"email": "dev@example.com", "mobile": "", "feishu": "", "slack": "U012AB3CD"})
	if apitest.Str(r.Body, "contacts", "email") != "dev@example.com" || apitest.Str(r.Body, "contacts", "slack") != "U012AB3CD" {
		t.Fatalf("contacts: %s", r.Raw)
	}
	temp := e.Login("temp", "a-new-password-2")
	r = c.Must(http.StatusOK, "POST /api/v1/users/{name}/disable", "/api/v1/users/temp/disable", root,
		map[string]string{"reason": "left"})
	if r.Body["disabled"] != true {
		t.Fatalf("disable: %s", r.Raw)
	}
	if r := e.Call("GET", "/api/v1/me", temp, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("a disabled user's session: %d %s", r.Status, r.Raw)
	}
	r = c.Must(http.StatusOK, "POST /api/v1/users/{name}/enable", "/api/v1/users/temp/enable", root,
		map[string]string{"reason": "back"})
	if r.Body["disabled"] == true {
		t.Fatalf("enable: %s", r.Raw)
	}
	e.Login("temp", "a-new-password-2")

	// Personal tokens.
	r = c.Must(http.StatusCreated, "POST /api/v1/tokens", "/api/v1/tokens", dev, map[string]any{"name": "ci", "ttl_days": 30})
	pat, patID := apitest.Str(r.Body, "token"), apitest.Str(r.Body, "info", "id")
	if apitest.Str(r.Body, "info", "kind") != "personal" || pat == "" {
		t.Fatalf("create token: %s", r.Raw)
	}
	r = c.Must(http.StatusOK, "GET /api/v1/tokens", "/api/v1/tokens", pat, nil)
	if !strings.Contains(string(r.Raw), patID) || strings.Contains(string(r.Raw), pat) {
		t.Fatalf("tokens: want %s listed and no secret: %s", patID, r.Raw)
	}
	c.Must(http.StatusNoContent, "DELETE /api/v1/tokens/{id}", "/api/v1/tokens/"+patID, dev, nil)

	// A release through every decision: failed once, rejected once,
	// refused once, then accepted and completed.
	r = c.Must(http.StatusCreated, "POST /api/v1/releases", "/api/v1/releases", dev,
		map[string]any{"project": "shop", "branch": "feature-1", "create_branch": true, "title": "First"})
	id := apitest.Str(r.Body, "release", "id")
	r = c.Must(http.StatusOK, "GET /api/v1/projects/{project}/branches", "/api/v1/projects/shop/branches", dev, nil)
	if apitest.Str(r.Body, "mainline") != "master" || !strings.Contains(string(r.Raw), "feature-1") {
		t.Fatalf("branches: %s", r.Raw)
	}
	n := 1
	deployTest := func() {
		t.Helper()
		n++
		apitest.GitCommit(t, repo, "feature-1", map[string]string{"index.html": "v" + strconv.Itoa(n) + "\n"}, "change index.html")
		r := c.Must(http.StatusAccepted, "POST /api/v1/releases/{id}/deploy", "/api/v1/releases/"+id+"/deploy", dev,
			map[string]string{"env": "test"})
		if dep := e.WaitDeployment(dev, apitest.Str(r.Body, "deployment"), time.Minute); dep["state"] != "succeeded" {
			t.Fatalf("test deploy: %v", dep)
		}
		c.hit["GET /api/v1/deployments/{id}"] = true
	}
	deployProd := func() {
		t.Helper()
		r := e.Must(http.StatusAccepted, "POST", "/api/v1/releases/"+id+"/deploy", alice, map[string]string{"env": "production"})
		if dep := e.WaitDeployment(alice, apitest.Str(r.Body, "deployment"), time.Minute); dep["state"] != "succeeded" {
			t.Fatalf("production deploy: %v", dep)
		}
	}
	decide := func(pattern, token string, body any, state string) {
		t.Helper()
		path := strings.Replace(strings.TrimPrefix(pattern, "POST "), "{id}", id, 1)
		r := c.Must(http.StatusOK, pattern, path, token, body)
		if got := apitest.Str(r.Body, "release", "state"); got != state {
			t.Fatalf("%s: state %s, want %s: %s", pattern, got, state, r.Raw)
		}
	}
	deployTest()
	decide("POST /api/v1/releases/{id}/test", tess, map[string]any{"passed": false, "note": "broken"}, "open")
	deployTest()
	decide("POST /api/v1/releases/{id}/test", tess, map[string]any{"passed": true}, "tested")
	decide("POST /api/v1/releases/{id}/approve", alice, map[string]any{"note": "ok"}, "approved")
	decide("POST /api/v1/releases/{id}/reject", alice, map[string]any{"reason": "wrong copy"}, "open")
	deployTest()
	decide("POST /api/v1/releases/{id}/test", tess, map[string]any{"passed": true}, "tested")
	decide("POST /api/v1/releases/{id}/approve", alice, nil, "approved")
	deployProd()
	decide("POST /api/v1/releases/{id}/refuse", max, map[string]any{"reason": "slow pages"}, "open")
	deployTest()
	decide("POST /api/v1/releases/{id}/test", tess, map[string]any{"passed": true}, "tested")
	decide("POST /api/v1/releases/{id}/approve", alice, nil, "approved")
	deployProd()
	decide("POST /api/v1/releases/{id}/accept", max, map[string]any{"note": "good"}, "accepted")
	decide("POST /api/v1/releases/{id}/complete", max, nil, "completed")

	r = c.Must(http.StatusCreated, "POST /api/v1/releases", "/api/v1/releases", dev,
		map[string]any{"project": "shop", "branch": "feature-2", "create_branch": true, "title": "Second"})
	id2 := apitest.Str(r.Body, "release", "id")
	c.Must(http.StatusOK, "POST /api/v1/releases/{id}/cancel", "/api/v1/releases/"+id2+"/cancel", dev,
		map[string]string{"reason": "not needed"})

	r = c.Must(http.StatusOK, "GET /api/v1/releases", "/api/v1/releases?project=shop", dev, nil)
	if r.Body["total"] != 2.0 {
		t.Fatalf("board: %s", r.Raw)
	}
	r = c.Must(http.StatusOK, "GET /api/v1/releases/{id}", "/api/v1/releases/"+id, dev, nil)
	if apitest.Str(r.Body, "release", "state") != "completed" || !strings.HasPrefix(apitest.Str(r.Body, "release", "tag"), "release/") {
		t.Fatalf("release: %s", r.Raw)
	}
	r = c.Must(http.StatusOK, "GET /api/v1/deployments", "/api/v1/deployments?release="+id, dev, nil)
	if r.Body["total"] != 6.0 {
		t.Fatalf("deployments of release %s: %s", id, r.Raw)
	}

	// Versions: the test stage's timeline, compared, one marked bad, a
	// rollback to another.
	r = c.Must(http.StatusOK, "GET /api/v1/projects/{project}/environments/{env}/versions",
		"/api/v1/projects/shop/environments/test/versions", dev, nil)
	tl := r.Body["timeline"].([]any)
	if len(tl) != 4 {
		t.Fatalf("test timeline: %d versions, want 4: %s", len(tl), r.Raw)
	}
	version := func(i int) string { return tl[i].(map[string]any)["version"].(string) }
	r = c.Must(http.StatusOK, "GET /api/v1/projects/{project}/compare",
		"/api/v1/projects/shop/compare?env=test&from="+version(0)+"&to="+version(3), dev, nil)
	if len(r.Body["commits"].([]any)) != 3 || len(r.Body["files"].([]any)) != 1 {
		t.Fatalf("compare: %s", r.Raw)
	}
	r = c.Must(http.StatusOK, "POST /api/v1/projects/{project}/environments/{env}/drift",
		"/api/v1/projects/shop/environments/test/drift", tess, nil)
	if hosts := r.Body["hosts"].([]any); len(hosts) != 1 || hosts[0].(map[string]any)["drifted"] != false {
		t.Fatalf("drift check: %s", r.Raw)
	}
	// A stale lock on the test host, broken by an admin (nobody else);
	// bad input changes nothing.
	lockDir := runner.Layout{Path: target + "/shop-test"}.LockDir()
	if err := os.MkdirAll(lockDir, 0o755); err != nil {
		t.Fatal(err)
	}
	unlock := "/api/v1/projects/shop/environments/test/unlock"
	for _, bad := range []struct {
		token string
		body  map[string]string
		want  int
		words string
	}{
		{dev, map[string]string{"reason": "stale"}, http.StatusForbidden, "breaking a deploy lock needs the admin role"},
		{root, map[string]string{}, http.StatusBadRequest, "reason: is required"},
		{root, map[string]string{"reason": strings.Repeat("x", 501)}, http.StatusBadRequest, "reason: is longer than 500 characters"},
		{root, map[string]string{"host": "www@10.0.0.9:22", "reason": "stale"}, http.StatusBadRequest, `is not a host of environment test of shop (its hosts: local)","field":"host"`},
	} {
		if r := e.Call("POST", unlock, bad.token, bad.body); r.Status != bad.want || !strings.Contains(string(r.Raw), bad.words) {
			t.Fatalf("unlock %v: %d %s, want %d %q", bad.body, r.Status, r.Raw, bad.want, bad.words)
		}
	}
	if _, err := os.Stat(lockDir); err != nil {
		t.Fatalf("a refused unlock touched the host lock: %v", err)
	}
	r = c.Must(http.StatusOK, "POST /api/v1/projects/{project}/environments/{env}/unlock", unlock, root,
		map[string]string{"host": "local", "reason": "left by a crash"})
	if apitest.Str(r.Body, "host") != "local" || len(r.Body["broken"].(map[string]any)["hosts"].([]any)) != 1 ||
		len(r.Body["unreachable"].([]any)) != 0 {
		t.Fatalf("unlock: %s", r.Raw)
	}
	if _, err := os.Stat(lockDir); !os.IsNotExist(err) {
		t.Fatalf("the host lock is still there: %v", err)
	}
	r = c.Must(http.StatusOK, "POST /api/v1/projects/{project}/environments/{env}/versions/{version}/bad",
		"/api/v1/projects/shop/environments/test/versions/"+version(1)+"/bad", tess, map[string]string{"reason": "broken"})
	if r.Body["bad"] != true || apitest.Str(r.Body, "bad_by") != "tess" {
		t.Fatalf("mark bad: %s", r.Raw)
	}
	r = c.Must(http.StatusAccepted, "POST /api/v1/projects/{project}/environments/{env}/rollback",
		"/api/v1/projects/shop/environments/test/rollback", dev, map[string]string{"version": version(2), "reason": "back"})
	if dep := e.WaitDeployment(dev, apitest.Str(r.Body, "deployment"), time.Minute); dep["state"] != "succeeded" {
		t.Fatalf("rollback: %v", dep)
	}
	if r := e.Must(http.StatusOK, "GET", "/api/v1/projects/shop/environments/test/versions", dev, nil); apitest.Str(r.Body, "current") != version(2) {
		t.Fatalf("after the rollback, test runs %s, want %s", apitest.Str(r.Body, "current"), version(2))
	}

	// A running deployment cancelled; a failed one retried.
	r = e.Must(http.StatusCreated, "POST", "/api/v1/releases", dev,
		map[string]any{"project": "slow", "branch": "feature-1", "title": "Slow"})
	r = e.Must(http.StatusAccepted, "POST", "/api/v1/releases/"+apitest.Str(r.Body, "release", "id")+"/deploy", dev, map[string]string{"env": "live"})
	slow := apitest.Str(r.Body, "deployment")
	waitDeploymentState(e, dev, slow, "running")
	c.Must(http.StatusAccepted, "POST /api/v1/deployments/{id}/cancel", "/api/v1/deployments/"+slow+"/cancel", dev,
		map[string]string{"reason": "too slow"})
	if dep := e.WaitDeployment(dev, slow, time.Minute); dep["state"] != "cancelled" {
		t.Fatalf("cancelled deployment: %v", dep)
	}
	if r := e.Call("POST", "/api/v1/deployments/"+slow+"/cancel", dev, map[string]string{"reason": "again"}); r.Status != http.StatusConflict ||
		!strings.Contains(r.ErrMessage(), "is cancelled: only a queued or running one can be cancelled") {
		t.Fatalf("cancelling a cancelled deployment: %d %s", r.Status, r.Raw)
	}
	if r := e.Call("POST", "/api/v1/deployments/"+slow+"/retry", dev, nil); r.Status != http.StatusConflict {
		t.Fatalf("retrying a cancelled deployment: %d %s", r.Status, r.Raw)
	}
	r = e.Must(http.StatusCreated, "POST", "/api/v1/releases", dev,
		map[string]any{"project": "broken", "branch": "feature-1", "title": "Broken"})
	r = e.Must(http.StatusAccepted, "POST", "/api/v1/releases/"+apitest.Str(r.Body, "release", "id")+"/deploy", dev, map[string]string{"env": "live"})
	broken := apitest.Str(r.Body, "deployment")
	if dep := e.WaitDeployment(dev, broken, time.Minute); dep["state"] != "failed" {
		t.Fatalf("a failing hook: %v", dep)
	}
	r = c.Must(http.StatusAccepted, "POST /api/v1/deployments/{id}/retry", "/api/v1/deployments/"+broken+"/retry", dev, nil)
	if r.Body["runs"].(float64) < 2 {
		t.Fatalf("retry: %s", r.Raw)
	}
	if dep := e.WaitDeployment(dev, broken, time.Minute); dep["state"] != "failed" {
		t.Fatalf("a failing hook, retried: %v", dep)
	}

	// A channel's test message, to a receiver that checks its signature
	// (TestAPINotificationChannels tells the rest).
	rc := newWebhookReceiver(t, "whsec-every-route")
	secretFile := filepath.Join(t.TempDir(), "hook.secret")
	if err := os.WriteFile(secretFile, []byte("whsec-every-route"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.Must(http.StatusCreated, "PUT", "/api/v1/projects/notified", root, oneStageConfig("notified", repo, target, "true")+
		fmt.Sprintf("notify:\n  - {name: hook, kind: webhook, url: %q, secret: {from_file: %q}, events: [release.opened]}\n", rc.srv.URL+"/hook", secretFile))
	r = c.Must(http.StatusOK, "POST /api/v1/projects/{project}/channels/{channel}/test", "/api/v1/projects/notified/channels/hook/test", root, nil)
	if apitest.Str(r.Body, "state") != "sent" || len(rc.received("channel.test")) != 1 {
		t.Fatalf("a channel's test message: %s", r.Raw)
	}

	// Hosts: a key scanned, trusted, listed.
	if r := e.Must(http.StatusOK, "GET", "/api/v1/hosts", dev, nil); !strings.HasPrefix(strings.ReplaceAll(string(r.Raw), " ", ""), `{"hosts":[`) {
		t.Errorf("hosts, none known: want a list: %s", r.Raw)
	}
	addr := sshKeyServer(t)
	r = c.Must(http.StatusOK, "GET /api/v1/hosts/key", "/api/v1/hosts/key?addr="+addr, dev, nil)
	key := apitest.Str(r.Body, "key")
	if apitest.Str(r.Body, "state") != "unknown" || !strings.HasPrefix(key, "ssh-ed25519 ") {
		t.Fatalf("host key: %s", r.Raw)
	}
	if r := e.Call("POST", "/api/v1/hosts/trust", dev, map[string]string{"addr": addr, "key": key}); r.Status != http.StatusForbidden {
		t.Fatalf("a developer trusting a host: %d %s", r.Status, r.Raw)
	}
	c.Must(http.StatusOK, "POST /api/v1/hosts/trust", "/api/v1/hosts/trust", root, map[string]string{"addr": addr, "key": key})
	if r := e.Must(http.StatusOK, "GET", "/api/v1/hosts/key?addr="+addr, dev, nil); apitest.Str(r.Body, "state") != "trusted" {
		t.Fatalf("host key once trusted: %s", r.Raw)
	}
	r = c.Must(http.StatusOK, "GET /api/v1/hosts", "/api/v1/hosts", dev, nil)
	if !strings.Contains(string(r.Raw), addr) {
		t.Fatalf("hosts: want %s: %s", addr, r.Raw)
	}

	// The audit trail.
	r = c.Must(http.StatusOK, "GET /api/v1/audit", "/api/v1/audit?actor=alice&limit=5", dev, nil)
	rows := r.Body["rows"].([]any)
	if len(rows) == 0 || r.Body["total"].(float64) < 5 {
		t.Fatalf("audit: %s", r.Raw)
	}
	for _, row := range rows {
		if apitest.Str(row.(map[string]any), "actor") != "alice" {
			t.Fatalf("audit filtered by actor: %v", row)
		}
	}
	r = c.Must(http.StatusOK, "GET /api/v1/audit/export", "/api/v1/audit/export?format=csv", max, nil)
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") || strings.Count(string(r.Raw), "\n") < 20 {
		t.Fatalf("csv export: %s %q", r.Header.Get("Content-Type"), r.Raw)
	}
	r = e.Must(http.StatusOK, "GET", "/api/v1/audit/export?format=jsonl", max, nil)
	if r.Header.Get("Content-Type") != "application/x-ndjson" || strings.Count(string(r.Raw), "\n") < 20 {
		t.Fatalf("jsonl export: %s", r.Header.Get("Content-Type"))
	}
	if r := e.Call("GET", "/api/v1/audit/export", dev, nil); r.Status != http.StatusForbidden {
		t.Fatalf("a developer exporting the audit: %d %s", r.Status, r.Raw)
	}
	r = c.Must(http.StatusOK, "GET /api/v1/audit/verify", "/api/v1/audit/verify", dev, nil)
	if r.Body["ok"] != true || r.Body["count"].(float64) < 50 {
		t.Fatalf("verify: %s", r.Raw)
	}

	// The live stream: a signed-in client gets a ticket, and with it an
	// event stream (EventSource cannot send the bearer header).
	tk := c.Must(http.StatusOK, "POST /api/v1/stream/ticket", "/api/v1/stream/ticket", root, nil)
	streamAnswers(t, e, apitest.Str(tk.Body, "ticket"))
	c.hit["GET /api/v1/stream"] = true
	// Served only in offline review: TestOfflineReviewNeedsTheSecret.
	c.hit["POST /api/v1/review"] = true

	// Logout ends the session it is called with.
	c.Must(http.StatusNoContent, "POST /api/v1/logout", "/api/v1/logout", tess, nil)
	if r := e.Call("GET", "/api/v1/me", tess, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("after logout: %d %s", r.Status, r.Raw)
	}

	for _, route := range apiRoutes(t) {
		if !c.hit[route] {
			t.Errorf("route %s was not covered with a success", route)
		}
	}
}

// streamAnswers opens the stream with a ticket in the query and fails
// the test unless it answers as an event stream.
func streamAnswers(t *testing.T, e *apitest.Env, ticket string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.URL+"/api/v1/stream?ticket="+ticket, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		line, _ := bufio.NewReader(res.Body).ReadString('\n')
		t.Fatalf("stream: %d %s %s", res.StatusCode, res.Header.Get("Content-Type"), line)
	}
}

// Every route but login and health refuses a request without a token, with
// a token that is not one, and with a revoked token: 401, the error shape,
// and a WWW-Authenticate challenge; and none of them writes anything.
func TestAPIRoutesNeedAValidToken(t *testing.T) {
	e := apitest.New(t, apitest.Options{NoRunner: true})
	root := e.Login("root", apitest.RootPassword)
	revoked := e.Login("root", apitest.RootPassword)
	e.Must(http.StatusNoContent, "POST", "/api/v1/logout", revoked, nil)
	pat := e.Must(http.StatusCreated, "POST", "/api/v1/tokens", root, map[string]any{"name": "script"})
	revokedPAT := apitest.Str(pat.Body, "token")
	e.Must(http.StatusNoContent, "DELETE", "/api/v1/tokens/"+apitest.Str(pat.Body, "info", "id"), root, nil)
	head := e.Desk.Log.Head().Position

	for _, route := range append(apiRoutes(t), "GET /api/v1/health") {
		method, path := routePath(route)
		for _, tc := range []struct{ name, token string }{
			{"no token", ""}, {"not a token", "rd_nonsense"}, {"a revoked session", revoked}, {"a revoked personal token", revokedPAT},
		} {
			r := e.Call(method, path, tc.token, map[string]any{})
			switch route {
			case "POST /api/v1/login", "GET /api/v1/health":
				if r.Status == http.StatusUnauthorized {
					t.Errorf("%s with %s: 401, want it public", route, tc.name)
				}
				continue
			case "POST /api/v1/review": // public, and only in offline review
				if r.Status != http.StatusNotFound {
					t.Errorf("%s with %s outside offline review: %d %s, want 404", route, tc.name, r.Status, r.Raw)
				}
				continue
			}
			if r.Status != http.StatusUnauthorized || r.ErrCode() != "unauthorized" || r.ErrMessage() == "" {
				t.Errorf("%s with %s: %d %s, want 401 unauthorized", route, tc.name, r.Status, r.Raw)
			}
			if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s with %s: no Bearer challenge", route, tc.name)
			}
		}
	}
	// Nothing was written (login with an empty body names no user).
	if got := e.Desk.Log.Head().Position; got != head {
		t.Errorf("refused requests wrote to the log: position %d -> %d", head, got)
	}
	if r := e.Call("GET", "/api/v1/me", root, nil); r.Status != http.StatusOK {
		t.Fatalf("the live session stopped working: %d %s", r.Status, r.Raw)
	}
}

// Bad bodies are refused with 400 naming the field, 413 or 415, before
// anything is decided.
func TestAPIBadBodies(t *testing.T) {
	e := apitest.New(t, apitest.Options{NoRunner: true})
	root := e.Login("root", apitest.RootPassword)
	repo := apitest.GitRepo(t, nil)
	e.Must(http.StatusCreated, "PUT", "/api/v1/projects/shop", root, apitest.LocalProject("shop", repo, t.TempDir()))
	id := apitest.Str(e.Must(http.StatusCreated, "POST", "/api/v1/releases", root,
		map[string]any{"project": "shop", "branch": "feature-1", "create_branch": true, "title": "First"}).Body, "release", "id")
	rel := "/api/v1/releases/" + id

	for _, tc := range []struct {
		name, method, path string
		body               any
		field              string
	}{
		{"unknown field", "POST", "/api/v1/releases", map[string]any{"project": "shop", "branch": "b", "title": "t", "bogus": 1}, "bogus"},
		{"unknown field of a decision", "POST", rel + "/approve", map[string]any{"reason": "x"}, "reason"},
		{"unknown field of login", "POST", "/api/v1/login", map[string]any{"user": "root", "password": "x", "otp": "1"}, "otp"},
		{"wrong type: a number for a string", "POST", "/api/v1/releases", map[string]any{"project": "shop", "branch": "b", "title": 5}, "title"},
		{"wrong type: a string for a bool", "POST", rel + "/test", map[string]any{"passed": "yes"}, "passed"},
		{"wrong type: a list for a map", "POST", "/api/v1/users", map[string]any{"name": "x", "password": "long-enough-1", "roles": []string{"tester"}}, "roles"},
		{"wrong type: a string for a number", "POST", "/api/v1/tokens", map[string]any{"name": "x", "ttl_days": "30"}, "ttl_days"},
		{"not JSON", "POST", rel + "/deploy", []byte(`{"env": `), "body"},
		{"two JSON values", "POST", rel + "/deploy", []byte(`{"env": "test"} {"env": "production"}`), "body"},
		{"missing passed", "POST", rel + "/test", map[string]any{"note": "fine"}, "passed"},
		{"missing env", "POST", rel + "/deploy", map[string]any{}, "env"},
		{"missing title", "POST", "/api/v1/releases", map[string]any{"project": "shop", "branch": "b"}, "title"},
		{"missing project", "POST", "/api/v1/releases", map[string]any{"branch": "b", "title": "t"}, "project"},
		{"missing reason", "POST", rel + "/cancel", map[string]any{}, "reason"},
		{"missing user", "POST", "/api/v1/login", map[string]any{"password": "x"}, "user"},
		{"bad branch name", "POST", "/api/v1/releases", map[string]any{"project": "shop", "branch": "-x", "title": "t"}, "branch"},
		{"the mainline as a release branch", "POST", "/api/v1/releases", map[string]any{"project": "shop", "branch": "master", "title": "t"}, "branch"},
		{"unknown environment", "POST", rel + "/deploy", map[string]any{"env": "staging"}, "env"},
		{"a control character", "POST", "/api/v1/releases", map[string]any{"project": "shop", "branch": "b", "title": "a\x1bb"}, "title"},
		{"a too long note", "POST", rel + "/cancel", map[string]any{"reason": strings.Repeat("x", 4001)}, "reason"},
		{"ttl out of range", "POST", "/api/v1/tokens", map[string]any{"name": "x", "ttl_days": 4000}, "ttl_days"},
		{"bad version", "POST", "/api/v1/projects/shop/environments/test/rollback", map[string]any{"version": "v1", "reason": "x"}, "version"},
		{"bad limit", "GET", "/api/v1/releases?limit=-1", nil, "limit"},
		{"bad sort", "GET", "/api/v1/releases?sort=random", nil, "sort"},
		{"bad audit time", "GET", "/api/v1/audit?since=yesterday", nil, "since"},
		{"bad export format", "GET", "/api/v1/audit/export?format=xml", nil, "format"},
		{"host key without addr", "GET", "/api/v1/hosts/key", nil, "addr"},
		{"host key of a bad addr", "GET", "/api/v1/hosts/key?addr=a%20b:22", nil, "addr"},
		{"compare without to", "GET", "/api/v1/projects/shop/compare", nil, "to"},
		{"unlock without a reason", "POST", "/api/v1/projects/shop/environments/test/unlock", map[string]any{"host": "local"}, "reason"},
		{"unlock of a host of none", "POST", "/api/v1/projects/shop/environments/test/unlock", map[string]any{"host": "www@10.0.0.9:22", "reason": "x"}, "host"},
		{"unlock: a number for a host", "POST", "/api/v1/projects/shop/environments/test/unlock", map[string]any{"host": 5, "reason": "x"}, "host"},
	} {
		head := e.Desk.Log.Head().Position
		r := e.Call(tc.method, tc.path, root, tc.body)
		if r.Status != http.StatusBadRequest || r.ErrCode() != "invalid" || apitest.Str(r.Body, "error", "field") != tc.field {
			t.Errorf("%s: %d %s, want 400 invalid with field %q", tc.name, r.Status, r.Raw, tc.field)
		}
		if tc.path != "/api/v1/login" && e.Desk.Log.Head().Position != head {
			t.Errorf("%s: a refused request wrote to the log", tc.name)
		}
	}

	// Too large: 413, for JSON bodies and project documents alike.
	big := map[string]any{"reason": strings.Repeat("x", 70<<10)}
	if r := e.Call("POST", rel+"/cancel", root, big); r.Status != http.StatusRequestEntityTooLarge || r.ErrCode() != "too_large" {
		t.Errorf("a 70 KiB body: %d %s", r.Status, r.Raw)
	}
	if r := e.Call("PUT", "/api/v1/projects/shop", root, []byte("# "+strings.Repeat("x", 2<<20))); r.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("a 2 MiB project: %d %s", r.Status, r.Raw)
	}

	// Not JSON by its Content-Type: 415.
	req, _ := http.NewRequest("POST", e.URL+rel+"/cancel", strings.NewReader("reason=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+root)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("a form body: %d, want 415", res.StatusCode)
	}
	if r := e.Must(http.StatusOK, "GET", rel, root, nil); apitest.Str(r.Body, "release", "state") != "open" || len(r.Body["timeline"].([]any)) != 1 {
		t.Fatalf("the release changed: %s", r.Raw)
	}
}

// Unknown things are 404 with the error shape.
func TestAPIUnknownThingsAre404(t *testing.T) {
	e := apitest.New(t, apitest.Options{NoRunner: true})
	root := e.Login("root", apitest.RootPassword)
	repo := apitest.GitRepo(t, nil)
	e.Must(http.StatusCreated, "PUT", "/api/v1/projects/shop", root, apitest.LocalProject("shop", repo, t.TempDir()))
	for _, tc := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/v1/releases/999", nil},
		{"POST", "/api/v1/releases/999/deploy", map[string]string{"env": "test"}},
		{"POST", "/api/v1/releases/999/approve", nil},
		{"POST", "/api/v1/releases/999/test", map[string]any{"passed": true}},
		{"POST", "/api/v1/releases/999/complete", nil},
		{"GET", "/api/v1/deployments/d999", nil},
		{"POST", "/api/v1/deployments/d999/cancel", map[string]string{"reason": "x"}},
		{"POST", "/api/v1/deployments/d999/retry", nil},
		{"GET", "/api/v1/projects/nope", nil},
		{"GET", "/api/v1/projects/nope/branches", nil},
		{"GET", "/api/v1/projects/nope/environments/test/versions", nil},
		{"GET", "/api/v1/projects/shop/environments/staging/versions", nil},
		{"POST", "/api/v1/projects/shop/environments/test/rollback", map[string]string{"version": "20250101000000-abcdef0", "reason": "x"}},
		{"POST", "/api/v1/projects/shop/environments/test/versions/20250101000000-abcdef0/bad", map[string]string{"reason": "x"}},
		{"POST", "/api/v1/releases", map[string]any{"project": "nope", "branch": "b", "title": "t"}},
		{"GET", "/api/v1/users/nobody", nil},
		{"PUT", "/api/v1/users/nobody", map[string]any{"roles": map[string][]string{}}},
		{"POST", "/api/v1/users/nobody/disable", map[string]string{"reason": "x"}},
		{"DELETE", "/api/v1/tokens/nope", nil},
		{"GET", "/api/v1/no-such-route", nil},
	} {
		r := e.Call(tc.method, tc.path, root, tc.body)
		if r.Status != http.StatusNotFound || r.ErrCode() != "not_found" || r.ErrMessage() == "" {
			t.Errorf("%s %s: %d %s, want 404 not_found", tc.method, tc.path, r.Status, r.Raw)
		}
	}
}

// Refusals by role are 403 and name the rule.
func TestAPIForbiddenNamesTheRule(t *testing.T) {
	e := apitest.New(t, apitest.Options{NoRunner: true})
	root := e.Login("root", apitest.RootPassword)
	repo := apitest.GitRepo(t, nil)
	cfg := apitest.LocalProject("shop", repo, t.TempDir())
	e.Must(http.StatusCreated, "PUT", "/api/v1/projects/shop", root, cfg)
	dev := e.AddUser(root, "dev", false, map[string][]string{"shop": {"developer"}})
	tess := e.AddUser(root, "tess", false, map[string][]string{"shop": {"tester"}})
	id := apitest.Str(e.Must(http.StatusCreated, "POST", "/api/v1/releases", dev,
		map[string]any{"project": "shop", "branch": "feature-1", "create_branch": true, "title": "First"}).Body, "release", "id")
	for _, tc := range []struct {
		method, path, token string
		body                any
		rule                string
	}{
		{"PUT", "/api/v1/projects/shop", dev, cfg, "configuring a project needs the admin role"},
		{"GET", "/api/v1/users", dev, nil, "managing users needs the admin role"},
		{"GET", "/api/v1/users/root", dev, nil, "managing users needs the admin role"},
		{"POST", "/api/v1/users", dev, map[string]any{"name": "eve", "password": "eve-password-1"}, "managing users needs the admin role"},
		{"POST", "/api/v1/users/dev/disable", tess, map[string]string{"reason": "x"}, "admin"},
		{"POST", "/api/v1/releases", tess, map[string]any{"project": "shop", "branch": "feature-2", "title": "t"},
			"opening a release needs the developer or manager role on project shop"},
		{"POST", "/api/v1/releases/" + id + "/deploy", tess, map[string]string{"env": "test"},
			"deploying to a stage without approval needs the developer role on project shop"},
		{"POST", "/api/v1/releases/" + id + "/cancel", tess, map[string]string{"reason": "x"},
			"cancelling a release needs the developer or manager role on project shop"},
		{"POST", "/api/v1/hosts/trust", dev, map[string]string{"addr": "127.0.0.1:22", "key": "ssh-ed25519 AAAA"},
			"trusting a host key needs the admin role"},
		{"GET", "/api/v1/audit/export", tess, nil, "exporting the audit log needs the manager role on some project, or admin"},
	} {
		r := e.Call(tc.method, tc.path, tc.token, tc.body)
		if r.Status != http.StatusForbidden || r.ErrCode() != "forbidden" || !strings.Contains(apitest.Str(r.Body, "error", "rule"), tc.rule) {
			t.Errorf("%s %s: %d %s, want 403 with rule %q", tc.method, tc.path, r.Status, r.Raw, tc.rule)
		}
	}
	// Revoking another user's token is an admin's.
	tok := e.Must(http.StatusCreated, "POST", "/api/v1/tokens", dev, map[string]any{"name": "ci"})
	r := e.Call("DELETE", "/api/v1/tokens/"+apitest.Str(tok.Body, "info", "id"), tess, nil)
	if r.Status != http.StatusForbidden || !strings.Contains(apitest.Str(r.Body, "error", "rule"), "another user's token") {
		t.Errorf("revoking another's token: %d %s", r.Status, r.Raw)
	}
	e.Must(http.StatusNoContent, "DELETE", "/api/v1/tokens/"+apitest.Str(tok.Body, "info", "id"), root, nil)
}

// Conflicts: the state or what exists does not allow it now.
func TestAPIConflicts(t *testing.T) {
	e := apitest.New(t, apitest.Options{NoRunner: true})
	root := e.Login("root", apitest.RootPassword)
	repo := apitest.GitRepo(t, nil)
	e.Must(http.StatusCreated, "PUT", "/api/v1/projects/shop", root, apitest.LocalProject("shop", repo, t.TempDir()))
	open := func(branch string, create bool) apitest.Resp {
		return e.Call("POST", "/api/v1/releases", root, map[string]any{"project": "shop", "branch": branch, "create_branch": create, "title": "t"})
	}
	if r := open("feature-1", true); r.Status != http.StatusCreated {
		t.Fatalf("open: %d %s", r.Status, r.Raw)
	}
	for _, tc := range []struct {
		name string
		r    apitest.Resp
		says string
	}{
		{"a second release of a branch", open("feature-1", false), "already has release 1"},
		{"creating a branch that exists", func() apitest.Resp {
			e.Must(http.StatusOK, "POST", "/api/v1/releases/1/cancel", root, map[string]string{"reason": "again"})
			return open("feature-1", true)
		}(), "feature-1"},
		{"a second user of a name", e.Call("POST", "/api/v1/users", root, map[string]any{"name": "root", "password": "another-pass-1"}), "root"},
	} {
		if tc.r.Status != http.StatusConflict || tc.r.ErrCode() != "conflict" || !strings.Contains(tc.r.ErrMessage(), tc.says) {
			t.Errorf("%s: %d %s, want 409 saying %q", tc.name, tc.r.Status, tc.r.Raw, tc.says)
		}
	}
	// The cancelled release takes nothing more; a release of the branch
	// without creating it does.
	for _, path := range []string{"approve", "test", "deploy", "complete", "cancel"} {
		body := map[string]any{"passed": true, "env": "test", "reason": "x"}
		switch path {
		case "approve", "complete":
			body = nil
		case "test":
			body = map[string]any{"passed": true}
		case "deploy":
			body = map[string]any{"env": "test"}
		case "cancel":
			body = map[string]any{"reason": "x"}
		}
		if r := e.Call("POST", "/api/v1/releases/1/"+path, root, body); r.Status != http.StatusConflict || !strings.Contains(r.ErrMessage(), "cancelled") {
			t.Errorf("%s a cancelled release: %d %s", path, r.Status, r.Raw)
		}
	}
	r := open("feature-1", false)
	if r.Status != http.StatusCreated {
		t.Fatalf("reopening a branch: %d %s", r.Status, r.Raw)
	}
	id := apitest.Str(r.Body, "release", "id")
	// Queued (no runner here), the deployment keeps its stage busy.
	dep := apitest.Str(e.Must(http.StatusAccepted, "POST", "/api/v1/releases/"+id+"/deploy", root, map[string]string{"env": "test"}).Body, "deployment")
	if r := e.Call("POST", "/api/v1/releases/"+id+"/deploy", root, map[string]string{"env": "test"}); r.Status != http.StatusConflict ||
		!strings.Contains(r.ErrMessage(), "environment test of shop is busy: deployment "+dep) {
		t.Errorf("a second deploy while one is queued: %d %s", r.Status, r.Raw)
	}
	if r := e.Call("POST", "/api/v1/deployments/"+dep+"/retry", root, nil); r.Status != http.StatusConflict || !strings.Contains(r.ErrMessage(), "queued") {
		t.Errorf("retrying a queued deployment: %d %s", r.Status, r.Raw)
	}
	if r := e.Call("POST", "/api/v1/users/root/disable", root, map[string]string{"reason": "x"}); r.Status != http.StatusConflict {
		t.Errorf("disabling the last admin: %d %s", r.Status, r.Raw)
	}
}

// A project configuration that does not hold is refused with every
// problem, each by its path in the document.
func TestAPIProjectConfigErrorsNameTheirPaths(t *testing.T) {
	e := apitest.New(t, apitest.Options{NoRunner: true})
	root := e.Login("root", apitest.RootPassword)
	repo := apitest.GitRepo(t, nil)
	doc := fmt.Sprintf(`id: shop
repo: %s
branch: master
strategy: ftp
environments:
  - name: test
    path: www/shop
    hosts: ["deploy@exa mple.com:22"]
  - name: test
    path: /srv/shop
    hosts: ["deploy@example.com:99999"]
`, repo)
	want := map[string]string{
		"strategy":                 "unknown strategy",
		"environments[0].path":     "",
		"environments[0].hosts[0]": "",
		"environments[1].name":     "duplicate environment",
		"environments[1].hosts[0]": "",
	}
	for _, route := range []struct{ method, path string }{{"PUT", "/api/v1/projects/shop"}, {"POST", "/api/v1/projects/validate"}} {
		r := e.Call(route.method, route.path, root, doc)
		if r.Status != http.StatusBadRequest || r.ErrCode() != "invalid_config" {
			t.Fatalf("%s %s: %d %s", route.method, route.path, r.Status, r.Raw)
		}
		got := map[string]string{}
		for _, f := range r.Body["error"].(map[string]any)["fields"].([]any) {
			fe := f.(map[string]any)
			got[fe["path"].(string)] = fe["reason"].(string)
		}
		for path, says := range want {
			reason, ok := got[path]
			if !ok || reason == "" || !strings.Contains(reason, says) {
				t.Errorf("%s %s: field %s: %q, want a reason saying %q (all: %v)", route.method, route.path, path, reason, says, got)
			}
		}
	}
	if r := e.Call("GET", "/api/v1/projects/shop", root, nil); r.Status != http.StatusNotFound {
		t.Fatalf("a refused configuration was stored: %d", r.Status)
	}
	// The document must configure the project the URL names.
	r := e.Call("PUT", "/api/v1/projects/blog", root, apitest.LocalProject("shop", repo, t.TempDir()))
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Raw), `"path":"id"`) {
		t.Fatalf("a document for another project: %d %s", r.Status, r.Raw)
	}
}

// Five failed logins in a row lock the account: 429 with Retry-After,
// even for the right password.
func TestAPILoginLockout(t *testing.T) {
	e := apitest.New(t, apitest.Options{NoRunner: true})
	root := e.Login("root", apitest.RootPassword)
	e.AddUser(root, "alice", false, nil)
	for i := 1; i <= 5; i++ {
		r := e.Call("POST", "/api/v1/login", "", map[string]string{"user": "alice", "password": "wrong"})
		if r.Status != http.StatusUnauthorized || r.ErrCode() != "unauthorized" {
			t.Fatalf("failure %d: %d %s", i, r.Status, r.Raw)
		}
	}
	r := e.Call("POST", "/api/v1/login", "", map[string]string{"user": "alice", "password": "alice-password-1"})
	if r.Status != http.StatusTooManyRequests || r.ErrCode() != "locked" {
		t.Fatalf("sixth login: %d %s", r.Status, r.Raw)
	}
	if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 || s > int(app.LockoutMax/time.Second) {
		t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
	}
	// Others are not locked out.
	e.Login("root", apitest.RootPassword)
	// An admin re-enabling the account lifts the lock.
	e.Must(http.StatusOK, "POST", "/api/v1/users/alice/disable", root, map[string]string{"reason": "locked out"})
	e.Must(http.StatusOK, "POST", "/api/v1/users/alice/enable", root, map[string]string{"reason": "it was me"})
	e.Login("alice", "alice-password-1")
}

// Personal tokens: created (shown once), listed, used, revoked.
func TestAPIPersonalTokens(t *testing.T) {
	e := apitest.New(t, apitest.Options{NoRunner: true})
	root := e.Login("root", apitest.RootPassword)
	dev := e.AddUser(root, "dev", false, nil)
	r := e.Must(http.StatusCreated, "POST", "/api/v1/tokens", dev, map[string]any{"name": "deploy script", "ttl_days": 7})
	pat, id := apitest.Str(r.Body, "token"), apitest.Str(r.Body, "info", "id")
	if exp := apitest.Str(r.Body, "info", "expires_at"); exp == "" {
		t.Fatalf("a 7-day token without expiry: %s", r.Raw)
	}
	if r := e.Must(http.StatusOK, "GET", "/api/v1/me", pat, nil); apitest.Str(r.Body, "user", "name") != "dev" {
		t.Fatalf("me with a personal token: %s", r.Raw)
	}
	r = e.Must(http.StatusOK, "GET", "/api/v1/tokens", dev, nil)
	var kinds []string
	for _, x := range r.Body["tokens"].([]any) {
		kinds = append(kinds, apitest.Str(x.(map[string]any), "kind"))
	}
	slices.Sort(kinds)
	if !slices.Equal(kinds, []string{"personal", "session"}) || strings.Contains(string(r.Raw), pat) {
		t.Fatalf("tokens: %v %s", kinds, r.Raw)
	}
	// Others' token lists are their own.
	if r := e.Must(http.StatusOK, "GET", "/api/v1/tokens", root, nil); strings.Contains(string(r.Raw), id) {
		t.Fatalf("root sees dev's token: %s", r.Raw)
	}
	e.Must(http.StatusNoContent, "DELETE", "/api/v1/tokens/"+id, pat, nil)
	if r := e.Call("GET", "/api/v1/me", pat, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("a revoked personal token: %d", r.Status)
	}
	r = e.Must(http.StatusOK, "GET", "/api/v1/tokens", dev, nil)
	if strings.Contains(string(r.Raw), id) {
		t.Fatalf("a revoked token still listed: %s", r.Raw)
	}
	// The session is untouched; logging out ends it, and only it.
	other := e.Login("dev", "dev-password-1")
	e.Must(http.StatusNoContent, "POST", "/api/v1/logout", dev, nil)
	if r := e.Call("GET", "/api/v1/tokens", dev, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("after logout: %d", r.Status)
	}
	e.Must(http.StatusOK, "GET", "/api/v1/me", other, nil)
}

// The board: filtered by state (an unknown one refused), paged, counted.
func TestAPIBoardPagingAndCounts(t *testing.T) {
	e := apitest.New(t, apitest.Options{NoRunner: true})
	root := e.Login("root", apitest.RootPassword)
	repo := apitest.GitRepo(t, nil)
	e.Must(http.StatusCreated, "PUT", "/api/v1/projects/shop", root, apitest.LocalProject("shop", repo, t.TempDir()))
	for i := 1; i <= 5; i++ {
		e.Must(http.StatusCreated, "POST", "/api/v1/releases", root,
			map[string]any{"project": "shop", "branch": fmt.Sprintf("feature-%d", i), "create_branch": true, "title": fmt.Sprintf("R%d", i)})
	}
	e.Must(http.StatusOK, "POST", "/api/v1/releases/2/cancel", root, map[string]string{"reason": "x"})
	e.Must(http.StatusOK, "POST", "/api/v1/releases/4/cancel", root, map[string]string{"reason": "x"})

	if r := e.Call("GET", "/api/v1/releases?state=bogus", root, nil); r.Status != http.StatusBadRequest || apitest.Str(r.Body, "error", "field") != "state" {
		t.Fatalf("state=bogus: %d %s", r.Status, r.Raw)
	}
	if r := e.Call("GET", "/api/v1/releases?state=open,bogus", root, nil); r.Status != http.StatusBadRequest {
		t.Fatalf("state=open,bogus: %d %s", r.Status, r.Raw)
	}
	ids := func(r apitest.Resp) string {
		var out []string
		for _, x := range r.Body["releases"].([]any) {
			out = append(out, apitest.Str(x.(map[string]any), "id"))
		}
		return strings.Join(out, ",")
	}
	r := e.Must(http.StatusOK, "GET", "/api/v1/releases?limit=2&offset=1", root, nil)
	if ids(r) != "4,3" || r.Body["total"] != 5.0 || r.Body["limit"] != 2.0 || r.Body["offset"] != 1.0 {
		t.Fatalf("page 2 of 2: %s", r.Raw)
	}
	if c := r.Body["counts"].(map[string]any); c["open"] != 3.0 || c["cancelled"] != 2.0 || len(c) != 2 {
		t.Fatalf("counts: %v", c)
	}
	r = e.Must(http.StatusOK, "GET", "/api/v1/releases?limit=2&offset=4", root, nil)
	if ids(r) != "1" {
		t.Fatalf("last page: %s", r.Raw)
	}
	r = e.Must(http.StatusOK, "GET", "/api/v1/releases?limit=2&offset=10", root, nil)
	if ids(r) != "" || r.Body["total"] != 5.0 {
		t.Fatalf("past the end: %s", r.Raw)
	}
	r = e.Must(http.StatusOK, "GET", "/api/v1/releases?state=open&project=shop", root, nil)
	if ids(r) != "5,3,1" || r.Body["total"] != 3.0 {
		t.Fatalf("open ones: %s", r.Raw)
	}
	r = e.Must(http.StatusOK, "GET", "/api/v1/releases?q=feature-4", root, nil)
	if ids(r) != "4" {
		t.Fatalf("search: %s", r.Raw)
	}
	r = e.Must(http.StatusOK, "GET", "/api/v1/releases?project=other", root, nil)
	if ids(r) != "" || len(r.Body["counts"].(map[string]any)) != 0 {
		t.Fatalf("another project: %s", r.Raw)
	}
}

// Rollbacks: a version marked bad is never rolled back to; what runs now
// is not "rolled back to"; a stage that needs approval is rolled back by
// approvers only.
func TestAPIRollbackRules(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	root := e.Login("root", apitest.RootPassword)
	repo := apitest.GitRepo(t, nil)
	e.Must(http.StatusCreated, "PUT", "/api/v1/projects/shop", root, apitest.LocalProject("shop", repo, t.TempDir()))
	dev := e.AddUser(root, "dev", false, map[string][]string{"shop": {"developer"}})
	tess := e.AddUser(root, "tess", false, map[string][]string{"shop": {"tester"}})
	alice := e.AddUser(root, "alice", false, map[string][]string{"shop": {"approver"}})

	// Two releases, each tested, approved and live in production.
	var prod []string
	for i := 1; i <= 2; i++ {
		branch := fmt.Sprintf("feature-%d", i)
		id := apitest.Str(e.Must(http.StatusCreated, "POST", "/api/v1/releases", dev,
			map[string]any{"project": "shop", "branch": branch, "create_branch": true, "title": branch}).Body, "release", "id")
		apitest.GitCommit(t, repo, branch, map[string]string{"index.html": branch + "\n"}, "change index.html")
		r := e.Must(http.StatusAccepted, "POST", "/api/v1/releases/"+id+"/deploy", dev, map[string]string{"env": "test"})
		e.WaitDeployment(dev, apitest.Str(r.Body, "deployment"), time.Minute)
		e.Must(http.StatusOK, "POST", "/api/v1/releases/"+id+"/test", tess, map[string]any{"passed": true})
		e.Must(http.StatusOK, "POST", "/api/v1/releases/"+id+"/approve", alice, nil)
		r = e.Must(http.StatusAccepted, "POST", "/api/v1/releases/"+id+"/deploy", alice, map[string]string{"env": "production"})
		if dep := e.WaitDeployment(alice, apitest.Str(r.Body, "deployment"), time.Minute); dep["state"] != "succeeded" {
			t.Fatalf("production: %v", dep)
		}
		prod = append(prod, apitest.Str(r.Body, "version"))
	}
	rollback := func(token, env, version string) apitest.Resp {
		return e.Call("POST", "/api/v1/projects/shop/environments/"+env+"/rollback", token,
			map[string]string{"version": version, "reason": "bad release"})
	}
	deploys := func() float64 {
		return e.Must(http.StatusOK, "GET", "/api/v1/deployments", root, nil).Body["total"].(float64)
	}
	before := deploys()

	r := rollback(dev, "production", prod[0])
	if r.Status != http.StatusForbidden ||
		apitest.Str(r.Body, "error", "rule") != "rolling back a stage that needs approval needs the approver role on project shop" {
		t.Fatalf("a developer rolling production back: %d %s", r.Status, r.Raw)
	}
	if r := rollback(alice, "production", prod[1]); r.Status != http.StatusConflict || !strings.Contains(r.ErrMessage(), "already current") {
		t.Fatalf("rolling back to what runs: %d %s", r.Status, r.Raw)
	}
	if r := rollback(alice, "production", "20200101000000-abcdef0"); r.Status != http.StatusNotFound {
		t.Fatalf("rolling back to a version that never ran: %d %s", r.Status, r.Raw)
	}
	if r := e.Call("POST", "/api/v1/projects/shop/environments/production/versions/"+prod[0]+"/bad", dev,
		map[string]string{"reason": "x"}); r.Status != http.StatusForbidden {
		t.Fatalf("a developer marking a version bad: %d %s", r.Status, r.Raw)
	}
	e.Must(http.StatusOK, "POST", "/api/v1/projects/shop/environments/production/versions/"+prod[0]+"/bad", tess,
		map[string]string{"reason": "corrupts carts"})
	if r := e.Call("POST", "/api/v1/projects/shop/environments/production/versions/"+prod[0]+"/bad", alice,
		map[string]string{"reason": "again"}); r.Status != http.StatusConflict {
		t.Fatalf("marking a version bad twice: %d %s", r.Status, r.Raw)
	}
	r = rollback(alice, "production", prod[0])
	if r.Status != http.StatusConflict || !strings.Contains(r.ErrMessage(), "marked bad by tess (corrupts carts)") {
		t.Fatalf("rolling back to a bad version: %d %s", r.Status, r.Raw)
	}
	if got := deploys(); got != before {
		t.Fatalf("refused rollbacks queued deployments: %v -> %v", before, got)
	}
	r = e.Must(http.StatusOK, "GET", "/api/v1/projects/shop/environments/production/versions", alice, nil)
	if apitest.Str(r.Body, "current") != prod[1] {
		t.Fatalf("production now runs %s, want %s", apitest.Str(r.Body, "current"), prod[1])
	}

	// On the test stage (no approval) a developer may roll back.
	tl := e.Must(http.StatusOK, "GET", "/api/v1/projects/shop/environments/test/versions", dev, nil).Body["timeline"].([]any)
	first := tl[0].(map[string]any)["version"].(string)
	r = rollback(dev, "test", first)
	if r.Status != http.StatusAccepted || apitest.Str(r.Body, "kind") != "rollback" {
		t.Fatalf("a developer rolling the test stage back: %d %s", r.Status, r.Raw)
	}
	if dep := e.WaitDeployment(dev, apitest.Str(r.Body, "deployment"), time.Minute); dep["state"] != "succeeded" {
		t.Fatalf("rollback: %v", dep)
	}
	if r := e.Must(http.StatusOK, "GET", "/api/v1/projects/shop/environments/test/versions", dev, nil); apitest.Str(r.Body, "current") != first {
		t.Fatalf("test runs %s after the rollback, want %s", apitest.Str(r.Body, "current"), first)
	}
}
