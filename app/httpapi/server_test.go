package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"releasedesk/app"
	"releasedesk/app/httpapi"
	"releasedesk/app/httpapi/apitest"
	"releasedesk/events"
)

// newTestServer serves a real Badger log in a temp dir with a few events.
func newTestServer(t *testing.T, n int, problem error) (*httptest.Server, *events.Store) {
	t.Helper()
	store, err := events.Open(t.TempDir(), events.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	for i := 0; i < n; i++ {
		ev, _ := events.NewEvent("test.happened", "alice", map[string]int{"i": i})
		if _, err := store.Append(context.Background(), "test/1", events.AnyVersion, ev); err != nil {
			t.Fatal(err)
		}
	}
	fixed := time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)
	srv := httptest.NewServer(httpapi.NewServer(httpapi.ServerConfig{Log: store, Problem: problem, Assets: apitest.Assets(), Now: func() time.Time { return fixed }}))
	t.Cleanup(srv.Close)
	return srv, store
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func TestHealthReportsLogHead(t *testing.T) {
	srv, store := newTestServer(t, 3, nil)
	resp, body := get(t, srv.URL+"/api/v1/health")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("status %d type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var h httpapi.HealthResponse
	if err := json.Unmarshal([]byte(body), &h); err != nil {
		t.Fatal(err)
	}
	if h.Status != "ok" || h.ReadOnly || h.Events.Count != 3 || h.Events.Head != store.Head() || h.Version != app.Version {
		t.Fatalf("health = %+v, head %+v", h, store.Head())
	}
	if !h.Time.Equal(time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)) {
		t.Fatalf("time from the injected clock, got %v", h.Time)
	}
}

func TestHealthDegradedWhenLogDamaged(t *testing.T) {
	srv, _ := newTestServer(t, 1, errors.New("the log ends at 4 but its head record says 9"))
	_, body := get(t, srv.URL+"/api/v1/health")
	var h httpapi.HealthResponse
	if err := json.Unmarshal([]byte(body), &h); err != nil {
		t.Fatal(err)
	}
	if h.Status != "degraded" || !h.ReadOnly || !strings.Contains(h.Problem, "head record says 9") {
		t.Fatalf("health = %+v", h)
	}
}

func TestUnknownAPIRouteIsJSON404(t *testing.T) {
	srv, _ := newTestServer(t, 0, nil)
	for _, path := range []string{"/api/v1/nope", "/api/v2/health", "/api/"} {
		resp, body := get(t, srv.URL+path)
		var e struct {
			Error httpapi.Error `json:"error"`
		}
		if resp.StatusCode != 404 || json.Unmarshal([]byte(body), &e) != nil || e.Error.Code != "not_found" || e.Error.Message == "" {
			t.Fatalf("%s: status %d body %s", path, resp.StatusCode, body)
		}
	}
	resp, err := http.Post(srv.URL+"/api/v1/health", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == 200 {
		t.Fatal("POST to a GET-only route must not succeed")
	}
}

func TestStaticServesAppAndFallsBackToIndex(t *testing.T) {
	srv, _ := newTestServer(t, 0, nil)
	cases := []struct {
		path, want string
		status     int
	}{
		{"/", "<title>Release Desk</title>", 200},
		{"/releases/42", "<title>Release Desk</title>", 200}, // a route of the app
		{"/assets/app-abc.js", "console.log(1)", 200},
		{"/assets/missing.js", "404", 404}, // a missing asset is not the page
	}
	for _, c := range cases {
		resp, body := get(t, srv.URL+c.path)
		if resp.StatusCode != c.status || !strings.Contains(body, c.want) {
			t.Errorf("%s: status %d body %q", c.path, resp.StatusCode, body)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: security headers missing", c.path)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		for _, d := range []string{"default-src 'self'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("%s: Content-Security-Policy %q lacks %q", c.path, csp, d)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: Content-Security-Policy allows inline or eval: %q", c.path, csp)
		}
	}
	resp, _ := get(t, srv.URL+"/assets/app-abc.js")
	if !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
		t.Errorf("hashed assets should be cached: %q", resp.Header.Get("Cache-Control"))
	}
}

func TestStaticRefusesTraversal(t *testing.T) {
	srv, _ := newTestServer(t, 0, nil)
	for _, p := range []string{"/../go.mod", "/assets/../../main.go", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc/passwd"} {
		req, _ := http.NewRequest("GET", srv.URL+p, nil)
		req.URL.Opaque = p // send the path as written, not cleaned by the client
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), "module releasedesk") || strings.Contains(string(body), "root:") || strings.Contains(string(body), "package main") {
			t.Fatalf("%s leaked a file outside the frontend: %q", p, body)
		}
	}
}

func TestNotBuiltFrontendSaysHowToBuild(t *testing.T) {
	store, err := events.Open(t.TempDir(), events.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	srv := httptest.NewServer(httpapi.NewServer(httpapi.ServerConfig{Log: store, Assets: fstest.MapFS{".gitkeep": {}}}))
	defer srv.Close()
	resp, body := get(t, srv.URL+"/")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "make build") {
		t.Fatalf("status %d body %q", resp.StatusCode, body)
	}
	if resp, _ := get(t, srv.URL+"/api/v1/health"); resp.StatusCode != 200 {
		t.Fatalf("the API must work without a built frontend: %d", resp.StatusCode)
	}
}
