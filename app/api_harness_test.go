package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// apiEnv is a real desk (Badger log on disk, credentials, runner) behind a
// real HTTP server on a free loopback port, for API tests.
type apiEnv struct {
	t    *testing.T
	dir  string
	desk *Desk
	srv  *httptest.Server
	url  string // base URL, no trailing slash
}

// apiOptions tune newAPIEnv.
type apiOptions struct {
	noRunner bool // deployments stay queued
}

// newAPIEnv opens a desk on a fresh data directory and serves it. The
// admin "root" (password rootPassword) exists from the start.
func newAPIEnv(t *testing.T, opt apiOptions) *apiEnv {
	t.Helper()
	dir := t.TempDir()
	desk, err := OpenDesk(context.Background(), DeskConfig{Data: DataDir{Path: dir}, Logger: testLogger(), NoRunner: opt.noRunner})
	if err != nil {
		t.Fatalf("OpenDesk: %v", err)
	}
	desk.Auth.argon = cheapArgon
	if err := desk.Auth.CreateUser(context.Background(), SystemActor, "root", rootPassword, true, nil); err != nil {
		t.Fatalf("create root: %v", err)
	}
	srv := httptest.NewServer(NewServer(ServerConfig{Desk: desk, Assets: testAssets(), Logger: testLogger()}))
	env := &apiEnv{t: t, dir: dir, desk: desk, srv: srv, url: srv.URL}
	t.Cleanup(func() {
		srv.Close()
		desk.Close()
	})
	return env
}

const rootPassword = "root-password-1"

// apiResp is a decoded answer.
type apiResp struct {
	Status int
	Body   map[string]any
	Raw    []byte
	Header http.Header
}

// errCode is the answer's error code ("" if none).
func (r apiResp) errCode() string {
	e, _ := r.Body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

// errMessage is the answer's error message ("" if none).
func (r apiResp) errMessage() string {
	e, _ := r.Body["error"].(map[string]any)
	s, _ := e["message"].(string)
	return s
}

// call sends method path with body (nil, a []byte sent as is, or a value
// sent as JSON) and the bearer token (may be "").
func (e *apiEnv) call(method, path, token string, body any) apiResp {
	e.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatalf("marshal: %v", err)
		}
		rd, ct = bytes.NewReader(data), "application/json"
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatalf("request: %v", err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := apiResp{Status: res.StatusCode, Raw: raw, Header: res.Header}
	_ = json.Unmarshal(raw, &out.Body)
	return out
}

// must calls and fails the test unless the status is want.
func (e *apiEnv) must(want int, method, path, token string, body any) apiResp {
	e.t.Helper()
	r := e.call(method, path, token, body)
	if r.Status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Raw)
	}
	return r
}

// login returns a session token for user.
func (e *apiEnv) login(user, password string) string {
	e.t.Helper()
	r := e.must(http.StatusOK, "POST", "/api/v1/login", "", map[string]string{"user": user, "password": password})
	tok, _ := r.Body["token"].(string)
	if tok == "" {
		e.t.Fatalf("login %s: no token in %s", user, r.Raw)
	}
	return tok
}

// addUser creates a user with roles on project (through the API, as root)
// and returns a session token for them.
func (e *apiEnv) addUser(rootToken, name string, admin bool, roles map[string][]string) string {
	e.t.Helper()
	pw := name + "-password-1"
	e.must(http.StatusCreated, "POST", "/api/v1/users", rootToken,
		map[string]any{"name": name, "password": pw, "admin": admin, "roles": roles})
	return e.login(name, pw)
}

// waitDeployment polls GET /api/v1/deployments/{id} until its state is
// terminal, and returns its body.
func (e *apiEnv) waitDeployment(token, id string, timeout time.Duration) map[string]any {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r := e.must(http.StatusOK, "GET", "/api/v1/deployments/"+id, token, nil)
		switch r.Body["state"] {
		case "succeeded", "failed", "cancelled", "interrupted":
			return r.Body
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("deployment %s still %v after %v: %s", id, r.Body["state"], timeout, r.Raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// str reads a string at a path of nested maps: str(m, "release", "state").
func str(m map[string]any, path ...string) string {
	var cur any = m
	for _, k := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = mm[k]
	}
	s, _ := cur.(string)
	return s
}
