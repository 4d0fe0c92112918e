package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"releasedesk/app/httpapi"
	"releasedesk/app/httpapi/apitest"
)

// Every route without a token, with a revoked token, and with each role
// that must not use it.
func TestChaosAuthorization(t *testing.T) {
	t.Parallel()
	rep := newChaosReport(t, 7, "authz", "Authorization on every route; static files",
		"Every route of the API's table (`app/httpapi/api_routes.go`) but login, health and the review secret's exchange is sent with no token, with a "+
			"malformed token, with a revoked session token and with a revoked personal token: each must "+
			"answer 401 with a JSON error. Every route restricted by role is sent, with a valid body, by "+
			"each user whose roles must not use it (developer, tester, approver, manager, a user with no "+
			"role, per the table in docs/api.md): each must answer 403. The log head (position and hash, "+
			"from health) must be the same after all of them as before. Static file serving gets "+
			"path-traversal requests on a raw TCP connection (`/../../etc/passwd`, encoded and "+
			"double-encoded dots and slashes, backslashes, an absolute path): none may answer with the "+
			"content of /etc/passwd or any file outside the embedded frontend.")
	f := newChaosFleet(t, chaosOpts{hosts: 2, files: 5})
	f.commit()
	depID, version := f.deploy()
	if d := f.root.WaitDeployment(depID, 2*time.Minute); d["state"] != "succeeded" {
		t.Fatalf("deployment: %v", d)
	}
	f.commit()
	dep2, _ := f.deploy()
	f.root.WaitDeployment(dep2, 2*time.Minute)
	rel := f.release
	// A second release to decide on.
	// Tokens to revoke: a session and a personal token of dev.
	revokedSession := apitest.Login(t, f.app.URL, "dev", chaosPassword)
	revokedSession.Must(http.StatusNoContent, "POST", "/api/v1/logout", nil)
	pt := f.users["dev"].Must(http.StatusCreated, "POST", "/api/v1/tokens", map[string]any{"name": "to revoke"})
	personal := &apitest.Caller{T: t, Client: httpapi.Client{Base: f.app.URL, Token: pt.Body["token"].(string), HTTP: &http.Client{Timeout: time.Minute}}}
	f.users["dev"].Must(http.StatusNoContent, "DELETE", "/api/v1/tokens/"+pt.Body["info"].(map[string]any)["id"].(string), nil)
	rootTok := f.root.Must(http.StatusOK, "GET", "/api/v1/tokens", nil).Body["tokens"].([]any)[0].(map[string]any)["id"].(string)
	pos0, hash0, _ := chaosHead(f.app.URL)

	// Each route: a concrete path, a body, and who must be refused (by role).
	type rt struct {
		path    string
		body    any
		refused []string // users who must get 403
	}
	vp := "/api/v1/projects/fleet/environments/prod/"
	all := []string{"dev", "tess", "appr", "mgr", "nobody"}
	except := func(ok ...string) []string {
		var out []string
		for _, u := range all {
			if !slices.Contains(ok, u) {
				out = append(out, u)
			}
		}
		return out
	}
	routes := map[string]rt{
		"POST /api/v1/login":                                          {path: "/api/v1/login"},
		"POST /api/v1/logout":                                         {path: "/api/v1/logout"},
		"GET /api/v1/me":                                              {path: "/api/v1/me"},
		"PUT /api/v1/me/language":                                     {path: "/api/v1/me/language", body: map[string]any{"language": "zh-CN"}},
		"GET /api/v1/inbox":                                           {path: "/api/v1/inbox"},
		"GET /api/v1/dashboard":                                       {path: "/api/v1/dashboard"},
		"GET /api/v1/users":                                           {path: "/api/v1/users", refused: all},
		"POST /api/v1/users":                                          {path: "/api/v1/users", body: map[string]any{"name": "mallory", "password": chaosPassword, "admin": true}, refused: all},
		"GET /api/v1/users/{name}":                                    {path: "/api/v1/users/root", refused: all},
		"PUT /api/v1/users/{name}":                                    {path: "/api/v1/users/nobody", body: map[string]any{"admin": true}, refused: all},
		"POST /api/v1/users/{name}/password":                          {path: "/api/v1/users/root/password", body: map[string]any{"password": "taken-over-1"}, refused: all},
		"PUT /api/v1/users/{name}/contacts":                           {path: "/api/v1/users/root/contacts", body: map[string]any{"email": "mallory@example.com"}, refused: all}, // the user themself or an admin
		"POST /api/v1/users/{name}/disable":                           {path: "/api/v1/users/root/disable", body: map[string]any{"reason": "x"}, refused: all},
		"POST /api/v1/users/{name}/enable":                            {path: "/api/v1/users/root/enable", body: map[string]any{"reason": "x"}, refused: all},
		"GET /api/v1/tokens":                                          {path: "/api/v1/tokens"},
		"POST /api/v1/tokens":                                         {path: "/api/v1/tokens", body: map[string]any{"name": "x"}},
		"DELETE /api/v1/tokens/{id}":                                  {path: "/api/v1/tokens/" + rootTok, refused: all},
		"GET /api/v1/projects":                                        {path: "/api/v1/projects"},
		"GET /api/v1/projects/{project}":                              {path: "/api/v1/projects/fleet"},
		"PUT /api/v1/projects/{project}":                              {path: "/api/v1/projects/fleet", body: strings.Replace(f.projectYAML(), "keep_releases: 3", "keep_releases: 4", 1), refused: all},
		"POST /api/v1/projects/validate":                              {path: "/api/v1/projects/validate", body: f.projectYAML()},
		"GET /api/v1/projects/{project}/branches":                     {path: "/api/v1/projects/fleet/branches"},
		"GET /api/v1/projects/{project}/compare":                      {path: "/api/v1/projects/fleet/compare?env=prod&to=" + version},
		"GET /api/v1/projects/{project}/environments/{env}/versions":  {path: vp + "versions"},
		"POST /api/v1/projects/{project}/environments/{env}/rollback": {path: vp + "rollback", body: map[string]any{"version": version, "reason": "x"}, refused: except("dev", "appr")},
		"POST /api/v1/projects/{project}/environments/{env}/versions/{version}/bad": {path: vp + "versions/" + version + "/bad", body: map[string]any{"reason": "x"}, refused: except("tess", "appr", "mgr")},
		"POST /api/v1/projects/{project}/environments/{env}/drift":                  {path: vp + "drift", refused: []string{"nobody"}},
		"POST /api/v1/projects/{project}/environments/{env}/unlock":                 {path: vp + "unlock", body: map[string]any{"reason": "x"}, refused: all},
		"POST /api/v1/projects/{project}/channels/{channel}/test":                   {path: "/api/v1/projects/fleet/channels/hook/test", refused: all}, // admins only, refused before the channel is looked up
		"GET /api/v1/hosts":                    {path: "/api/v1/hosts"},
		"GET /api/v1/hosts/key":                {path: "/api/v1/hosts/key?addr=" + url.QueryEscape(f.cl.Hosts[0].Addr)},
		"POST /api/v1/hosts/trust":             {path: "/api/v1/hosts/trust", body: map[string]any{"addr": "127.0.0.1:1", "key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHq7Tg9d0b1m2N3p4Q5r6S7t8U9v0W1x2Y3z4A5b6C7d"}, refused: all},
		"POST /api/v1/releases":                {path: "/api/v1/releases", body: map[string]any{"project": "fleet", "branch": "r2", "create_branch": true, "title": "x"}, refused: except("dev", "mgr")},
		"GET /api/v1/releases":                 {path: "/api/v1/releases"},
		"GET /api/v1/releases/{id}":            {path: "/api/v1/releases/" + rel},
		"POST /api/v1/releases/{id}/deploy":    {path: "/api/v1/releases/" + rel + "/deploy", body: map[string]any{"env": "prod"}, refused: except("dev")},
		"POST /api/v1/releases/{id}/test":      {path: "/api/v1/releases/" + rel + "/test", body: map[string]any{"passed": true}, refused: except("tess")},
		"POST /api/v1/releases/{id}/approve":   {path: "/api/v1/releases/" + rel + "/approve", body: map[string]any{}, refused: except("appr")},
		"POST /api/v1/releases/{id}/reject":    {path: "/api/v1/releases/" + rel + "/reject", body: map[string]any{"reason": "x"}, refused: except("appr")},
		"POST /api/v1/releases/{id}/accept":    {path: "/api/v1/releases/" + rel + "/accept", body: map[string]any{}, refused: except("mgr")},
		"POST /api/v1/releases/{id}/refuse":    {path: "/api/v1/releases/" + rel + "/refuse", body: map[string]any{"reason": "x"}, refused: except("mgr")},
		"POST /api/v1/releases/{id}/cancel":    {path: "/api/v1/releases/" + rel + "/cancel", body: map[string]any{"reason": "x"}, refused: except("dev", "mgr")},
		"POST /api/v1/releases/{id}/complete":  {path: "/api/v1/releases/" + rel + "/complete", refused: except("dev", "mgr")},
		"GET /api/v1/deployments":              {path: "/api/v1/deployments"},
		"GET /api/v1/deployments/{id}":         {path: "/api/v1/deployments/" + depID},
		"POST /api/v1/deployments/{id}/cancel": {path: "/api/v1/deployments/" + dep2 + "/cancel", body: map[string]any{"reason": "x"}, refused: except("dev", "appr")},
		"POST /api/v1/deployments/{id}/retry":  {path: "/api/v1/deployments/" + dep2 + "/retry", refused: except("dev", "appr")},
		"GET /api/v1/audit":                    {path: "/api/v1/audit"},
		"GET /api/v1/audit/export":             {path: "/api/v1/audit/export?format=jsonl", refused: except("mgr")},
		"GET /api/v1/audit/verify":             {path: "/api/v1/audit/verify"},
		"GET /api/v1/stream":                   {path: "/api/v1/stream?since=0"},
		"POST /api/v1/stream/ticket":           {path: "/api/v1/stream/ticket"},
		"POST /api/v1/review":                  {path: "/api/v1/review", body: map[string]any{"secret": "rdv_x"}},
	}
	anon := &apitest.Caller{T: t, Client: httpapi.Client{Base: f.app.URL, HTTP: &http.Client{Timeout: time.Minute}}}
	bogus := &apitest.Caller{T: t, Client: httpapi.Client{Base: f.app.URL, Token: "rd_" + strings.Repeat("A", 43), HTTP: &http.Client{Timeout: time.Minute}}}
	callers := []struct {
		name string
		c    *apitest.Caller
	}{{"no token", anon}, {"a malformed token", bogus}, {"a revoked session", revokedSession}, {"a revoked personal token", personal}}
	var tries, bad int
	var problems []string
	send := func(c *apitest.Caller, method string, r rt) apitest.Resp {
		var body []byte
		ctype := "application/json"
		switch b := r.body.(type) {
		case string:
			body, ctype = []byte(b), "application/yaml"
		case nil:
		default:
			body = chaosMustJSON(b)
		}
		res, err := tryRawCT(c, method, r.path, body, ctype)
		if err != nil {
			return apitest.Resp{Status: -1, Raw: []byte(err.Error())}
		}
		return res
	}
	for _, pattern := range chaosRoutes(t) {
		r, ok := routes[pattern]
		if !ok {
			problems = append(problems, "route without an authorization case: "+pattern)
			continue
		}
		method, _, _ := strings.Cut(pattern, " ")
		// Public: login, and the review secret's exchange (404 outside
		// offline review; TestChaosPerimeter covers it there).
		if pattern != "POST /api/v1/login" && pattern != "POST /api/v1/review" {
			for _, cl := range callers {
				tries++
				res := send(cl.c, method, r)
				e, _ := res.Body["error"].(map[string]any)
				if res.Status != http.StatusUnauthorized || e == nil || e["code"] != "unauthorized" {
					bad++
					problems = append(problems, fmt.Sprintf("%s with %s: %d %s", pattern, cl.name, res.Status, chaosClip(string(res.Raw))))
				}
			}
		}
		for _, u := range r.refused {
			tries++
			res := send(f.users[u], method, r)
			if res.Status != http.StatusForbidden {
				bad++
				problems = append(problems, fmt.Sprintf("%s as %s (%s): %d %s", pattern, u, chaosRoles[u], res.Status, chaosClip(string(res.Raw))))
			}
		}
	}
	pos1, hash1, _ := chaosHead(f.app.URL)
	if pos1 != pos0 || hash1 != hash0 {
		problems = append(problems, fmt.Sprintf("the log changed: head %d %s -> %d %s", pos0, hash0, pos1, hash1))
		bad++
	}
	// Static files: path traversal on a raw connection.
	trav := []string{"/../../../../etc/passwd", "/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/assets/..%2f..%2f..%2f..%2fetc%2fpasswd",
		"/..%5c..%5c..%5cetc%5cpasswd", "/%252e%252e/%252e%252e/etc/passwd", "//etc/passwd", "/assets/../../../../etc/passwd",
		"/.%2e/.%2e/.%2e/etc/passwd", "/index.html/../../../etc/passwd", "/..;/..;/etc/passwd", "/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd"}
	u, _ := url.Parse(f.app.URL)
	for _, p := range trav {
		tries++
		status, body, err := chaosRawGet(u.Host, p)
		if err != nil {
			problems = append(problems, fmt.Sprintf("static %s: %v", p, err))
			bad++
			continue
		}
		if strings.Contains(body, "root:x:0:0") || strings.Contains(body, "root:") && strings.Contains(body, "/bin/") {
			problems = append(problems, fmt.Sprintf("static %s: %d served /etc/passwd", p, status))
			bad++
		}
	}
	for _, p := range problems {
		t.Error(p)
	}
	rep.r.Trials, rep.r.Failures = tries, bad
	rep.note("%d routes; %d refusals checked (401 without a valid token, 403 by role), %d traversal requests; log head unchanged at position %d",
		len(chaosRoutes(t)), tries-len(trav), len(trav), pos0)
}

func chaosMustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// chaosRawGet sends "GET path" as written (no client-side cleaning) and reads
// the answer's status and up to 1 MiB of it.
func chaosRawGet(hostport, path string) (int, string, error) {
	conn, err := net.DialTimeout("tcp", hostport, 5*time.Second)
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, hostport)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return res.StatusCode, string(b), nil
}
