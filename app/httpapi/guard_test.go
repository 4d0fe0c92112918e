package httpapi_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"releasedesk/app/httpapi"
	"releasedesk/app/httpapi/apitest"
)

// rawCall sends one request with the headers given (Host included), the
// way a browser under DNS rebinding would: the connection goes to the
// desk, the names are the attacker's.
func rawCall(t *testing.T, e *apitest.Env, method, path, token string, headers map[string]string) (int, string) {
	t.Helper()
	var body *bytes.Reader
	if method == http.MethodGet || method == http.MethodHead {
		body = bytes.NewReader(nil)
	} else {
		body = bytes.NewReader([]byte("{}"))
	}
	req, err := http.NewRequest(method, e.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(res.Body)
	return res.StatusCode, b.String()
}

// TestDNSRebindingIsRefused: every route of the table, the UI's page and
// its files refuse a Host that is not the desk's with 421 (and say how to
// allow a name); the desk's own names keep working.
func TestDNSRebindingIsRefused(t *testing.T) {
	e := apitest.New(t, apitest.Options{NoRunner: true,
		Hosts: httpapi.HostPolicy{PublicNames: []string{"desk.example.com", "ops.example.com:8443"}}})
	root := e.Login("root", apitest.RootPassword)
	port := e.URL[strings.LastIndex(e.URL, ":")+1:]
	head := e.Desk.Log.Head()

	foreign := []string{"attacker.example:" + port, "attacker.example", "127.0.0.1.attacker.example:" + port,
		"localhost.attacker.example:" + port, "127.0.0.1:1", "localhost:1", "localhost", "ops.example.com:9999", "wails"}
	paths := append(apiRoutes(t), "GET /api/v1/health", "GET /", "GET /index.html", "GET /assets/app.js", "GET /api/v1/nope")
	for _, route := range paths {
		method, path := routePath(route)
		for _, host := range foreign {
			status, body := rawCall(t, e, method, path, root, map[string]string{"Host": host})
			if status != http.StatusMisdirectedRequest || !strings.Contains(body, "misdirected_request") {
				t.Errorf("%s with Host %q: %d %s, want 421", route, host, status, body)
			}
		}
	}
	status, body := rawCall(t, e, "GET", "/api/v1/health", "", map[string]string{"Host": "attacker.example:" + port})
	if !strings.Contains(body, "--public-name attacker.example") {
		t.Errorf("the 421 does not say how to allow the name: %d %s", status, body)
	}
	for _, host := range []string{"127.0.0.1:" + port, "localhost:" + port, "LOCALHOST:" + port, "[::1]:" + port,
		"desk.example.com", "desk.example.com:443", "ops.example.com:8443"} {
		if status, body := rawCall(t, e, "GET", "/api/v1/me", root, map[string]string{"Host": host}); status != http.StatusOK {
			t.Errorf("the desk's own name %q: %d %s", host, status, body)
		}
		if status, _ := rawCall(t, e, "GET", "/", "", map[string]string{"Host": host}); status != http.StatusOK {
			t.Errorf("the UI under the desk's own name %q: %d", host, status)
		}
	}
	if e.Desk.Log.Head() != head {
		t.Fatalf("refused requests wrote to the log")
	}
}

// TestForeignOriginWritesAreRefused: every write of the table refuses an
// Origin (or, without one, a Referer) that is not one of the desk's pages
// with 403, before it does anything; the desk's own pages and requests
// with neither header (scripts, the CLI) pass.
func TestForeignOriginWritesAreRefused(t *testing.T) {
	e := apitest.New(t, apitest.Options{NoRunner: true, Hosts: httpapi.HostPolicy{PublicNames: []string{"desk.example.com"}}})
	root := e.Login("root", apitest.RootPassword)
	port := e.URL[strings.LastIndex(e.URL, ":")+1:]
	head := e.Desk.Log.Head()

	foreign := []map[string]string{
		{"Origin": "http://attacker.example"},
		{"Origin": "http://attacker.example:" + port},
		{"Origin": "http://127.0.0.1:1"}, // another page on this machine
		{"Origin": "null"},               // a sandboxed frame, a file
		{"Origin": "file://"},
		{"Referer": "http://attacker.example/page.html"},
		{"Referer": "http://localhost:1/x"},
	}
	writes := 0
	for _, route := range append(apiRoutes(t), "POST /api/v1/nope") {
		method, path := routePath(route)
		if method == http.MethodGet {
			continue
		}
		writes++
		for _, h := range foreign {
			status, body := rawCall(t, e, method, path, root, h)
			if status != http.StatusForbidden || !strings.Contains(body, "foreign_origin") {
				t.Errorf("%s from %v: %d %s, want 403 foreign_origin", route, h, status, body)
			}
		}
	}
	if writes < 25 {
		t.Fatalf("only %d writes in the table", writes)
	}
	if e.Desk.Log.Head() != head {
		t.Fatalf("refused writes changed the log")
	}
	// The desk's own pages, and scripts that send neither header.
	own := []map[string]string{
		{"Origin": "http://127.0.0.1:" + port},
		{"Origin": "http://localhost:" + port},
		{"Origin": "https://desk.example.com"},
		{"Referer": "http://127.0.0.1:" + port + "/#/releases"},
		{},
	}
	for _, h := range own {
		status, body := rawCall(t, e, "POST", "/api/v1/users", root, mergeHeaders(h, map[string]string{"Content-Type": "application/json"}))
		if status != http.StatusBadRequest || !strings.Contains(body, `"field":"name"`) {
			t.Errorf("a write from %v reached no handler: %d %s", h, status, body)
		}
	}
}

func mergeHeaders(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// TestWindowOrigin: the Wails window's requests reach the handler without
// a network connection, under the names wails (Linux, macOS) and
// wails.localhost (Windows): they pass, and a foreign name still fails.
func TestWindowOrigin(t *testing.T) {
	e := apitest.New(t, apitest.Options{NoRunner: true})
	call := func(method, target string, h map[string]string) int {
		req := httptest.NewRequest(method, target, strings.NewReader(`{"user":"root","password":"`+apitest.RootPassword+`"}`))
		req.Host = ""
		if u, err := url.Parse(target); err == nil && u.Host != "" {
			req.Host = u.Host
		}
		for k, v := range h {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		e.API.ServeHTTP(rec, req) // as Wails' asset server calls it: no connection
		return rec.Code
	}
	for _, c := range []struct {
		target, origin string
	}{
		{"wails://wails/api/v1/login", "wails://wails"},
		{"http://wails.localhost/api/v1/login", "http://wails.localhost"},
	} {
		if got := call("POST", c.target, map[string]string{"Origin": c.origin, "Content-Type": "application/json"}); got != http.StatusOK {
			t.Errorf("the window's sign-in at %s: %d", c.target, got)
		}
	}
	if got := call("GET", "http://attacker.example/api/v1/health", nil); got != http.StatusMisdirectedRequest {
		t.Errorf("a foreign name without a connection: %d, want 421", got)
	}
	if got := call("POST", "wails://wails/api/v1/login", map[string]string{"Origin": "http://attacker.example"}); got != http.StatusForbidden {
		t.Errorf("a foreign origin in the window: %d, want 403", got)
	}
}

func TestCheckPublicNames(t *testing.T) {
	for _, ok := range []string{"desk.example.com", "desk.example.com:8443", "10.0.0.5", "10.0.0.5:7788", "[fd00::1]:443", "fd00::1", "Desk-1.Example.COM"} {
		if err := httpapi.CheckPublicNames([]string{ok}); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"https://desk.example.com", "desk.example.com/x", "desk.example.com:0", "desk.example.com:http", "-desk.example.com", "", "desk example"} {
		err := httpapi.CheckPublicNames([]string{"ok.example.com", bad})
		if err == nil || !strings.Contains(err.Error(), "--public-name") {
			t.Errorf("%q: %v, want a refusal naming --public-name", bad, err)
		}
	}
}

// TestWindowLanguage: the machine's language is told to the window's own
// page (in-process requests) and to no browser.
func TestWindowLanguage(t *testing.T) {
	e := apitest.New(t, apitest.Options{NoRunner: true})
	srv := httpapi.NewServer(httpapi.ServerConfig{Desk: e.Desk, Assets: apitest.Assets(), Logger: apitest.Logger(), WindowLanguage: "zh-CN"})
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest("GET", "wails://wails/api/v1/health", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"window_language":"zh-CN"`) {
		t.Fatalf("the window's health: %d %s", rec.Code, rec.Body)
	}
	web := httptest.NewServer(srv)
	defer web.Close()
	res, err := http.Get(web.URL + "/api/v1/health")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	_, _ = io.Copy(&b, res.Body)
	if res.StatusCode != http.StatusOK || strings.Contains(b.String(), "window_language") {
		t.Fatalf("a browser's health: %d %s", res.StatusCode, b.String())
	}
}
