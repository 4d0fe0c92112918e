package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"releasedesk/app"
	"releasedesk/app/httpapi/apitest"
	"releasedesk/events"
)

// Offline review: an exported log is verified, then served read-only to
// the holder of the review link; every write is refused and says why.
func TestOfflineReviewOfAnExport(t *testing.T) {
	e := apitest.New(t, apitest.Options{NoRunner: true})
	root := e.Login("root", apitest.RootPassword)
	e.AddUser(root, "dev", false, map[string][]string{"shop": {"developer"}})
	file, exported := e.Export(root)
	off := apitest.ServeArchive(t, file, apitest.Options{})
	desk := off.Desk
	rev := off.Review()

	h := off.Must(http.StatusOK, "GET", "/api/v1/health", rev, nil)
	if h.Body["offline"] != true || h.Body["read_only"] != true || h.Body["status"] != "ok" {
		t.Fatalf("health of an archive: %s", h.Raw)
	}
	users := off.Must(http.StatusOK, "GET", "/api/v1/users", rev, nil)
	if !strings.Contains(string(users.Raw), `"dev"`) {
		t.Fatalf("users of the archive: %s", users.Raw)
	}
	audit := off.Must(http.StatusOK, "GET", "/api/v1/audit?type=user.created", rev, nil)
	if audit.Body["total"].(float64) != 2 {
		t.Fatalf("audit of the archive: %s", audit.Raw)
	}
	me := off.Must(http.StatusOK, "GET", "/api/v1/me", rev, nil)
	if me.Body["offline"] != true || apitest.Str(me.Body, "user", "name") != "offline-reviewer" {
		t.Fatalf("me in offline review: %s", me.Raw)
	}
	for _, w := range []struct{ method, path string }{
		{"POST", "/api/v1/login"},
		{"POST", "/api/v1/releases"},
		{"PUT", "/api/v1/projects/shop"},
		{"POST", "/api/v1/users"},
		{"POST", "/api/v1/hosts/trust"},
		{"POST", "/api/v1/projects/shop/environments/test/unlock"},
	} {
		r := off.Call(w.method, w.path, rev, map[string]any{})
		if r.Status != http.StatusServiceUnavailable || r.ErrCode() != "read_only" || !strings.Contains(r.ErrMessage(), "offline review") {
			t.Errorf("%s %s in offline review: %d %s", w.method, w.path, r.Status, r.Raw)
		}
	}
	if desk.Log.Head().Position == 0 {
		t.Fatalf("the archive holds no events")
	}

	// A tampered file is refused as a broken chain (the verify exit code).
	bad := strings.Replace(string(exported), `"dev"`, `"eve"`, 1)
	badFile := filepath.Join(t.TempDir(), "tampered.jsonl")
	if err := os.WriteFile(badFile, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := app.OpenDesk(context.Background(), app.DeskConfig{Archive: badFile, Logger: apitest.Logger()})
	var broken *app.BrokenChainError
	if !errors.As(err, &broken) || !errors.Is(err, events.ErrChainBroken) {
		t.Fatalf("a tampered archive: %v, want a broken chain", err)
	}
}

// TestOfflineReviewNeedsTheSecret: serving an archive, every route (and
// health) answers 401 until the review link's secret is exchanged; the
// secret mints one session and is spent by it; the session reads and
// never writes; a wrong secret spends nothing.
func TestOfflineReviewNeedsTheSecret(t *testing.T) {
	e := apitest.New(t, apitest.Options{NoRunner: true})
	root := e.Login("root", apitest.RootPassword)
	file, _ := e.Export(root)
	off := apitest.ServeArchive(t, file, apitest.Options{})
	desk := off.Desk

	locked := func(when, token string) {
		t.Helper()
		for _, route := range append(routesBut(t, "POST /api/v1/review"), "GET /api/v1/health") {
			method, path := routePath(route)
			r := off.Call(method, path, token, map[string]any{})
			if r.Status != http.StatusUnauthorized || r.ErrCode() != "review_secret_required" {
				t.Errorf("%s: %s: %d %s, want 401 review_secret_required", when, route, r.Status, r.Raw)
			}
			if strings.Contains(string(r.Raw), "root") {
				t.Errorf("%s: %s tells of the archive: %s", when, route, r.Raw)
			}
		}
	}
	locked("no session", "")
	locked("a made-up session", "rdr_AAAAAAAAAAAAAAAAAAAAAAAAAA")

	_, secret, _ := strings.Cut(off.API.ReviewURL("http://x"), "/#/review/")
	if r := off.Call("POST", "/api/v1/review", "", map[string]string{"secret": secret + "x"}); r.Status != http.StatusUnauthorized || r.ErrCode() != "review_secret_wrong" {
		t.Fatalf("a wrong secret: %d %s", r.Status, r.Raw)
	}
	if r := off.Call("POST", "/api/v1/review", "", map[string]string{}); r.Status != http.StatusBadRequest || r.Body["error"].(map[string]any)["field"] != "secret" {
		t.Fatalf("no secret: %d %s", r.Status, r.Raw)
	}
	r := off.Must(http.StatusOK, "POST", "/api/v1/review", "", map[string]string{"secret": secret})
	session := apitest.Str(r.Body, "token")
	if !strings.HasPrefix(session, "rdr_") || session == secret {
		t.Fatalf("the review session: %s", r.Raw)
	}
	// Spent: the same secret mints nothing more.
	if r := off.Call("POST", "/api/v1/review", "", map[string]string{"secret": secret}); r.Status != http.StatusUnauthorized || r.ErrCode() != "review_secret_spent" {
		t.Fatalf("the secret used twice: %d %s", r.Status, r.Raw)
	}
	if off.API.ReviewURL("http://x") != "http://x/#/review/" {
		t.Fatalf("a spent secret is still shown: %s", off.API.ReviewURL("http://x"))
	}
	// The session reads everything, and writes nothing.
	audit := off.Must(http.StatusOK, "GET", "/api/v1/audit", session, nil)
	if audit.Body["total"].(float64) < 1 {
		t.Fatalf("audit in review: %s", audit.Raw)
	}
	head := desk.Log.Head()
	for _, route := range routesBut(t, "POST /api/v1/review", "POST /api/v1/stream/ticket") {
		method, path := routePath(route)
		if method == http.MethodGet {
			continue
		}
		if r := off.Call(method, path, session, map[string]any{}); r.Status != http.StatusServiceUnavailable || r.ErrCode() != "read_only" {
			t.Errorf("review session: %s: %d %s, want 503 read_only", route, r.Status, r.Raw)
		}
	}
	if desk.Log.Head() != head {
		t.Fatalf("review wrote to the archive's log")
	}

	// The desktop window (`open --window`) reads without the secret: its
	// page reaches the handler in-process, never over the network.
	inWindow := func(method, target string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, target, strings.NewReader("{}"))
		rec := httptest.NewRecorder()
		off.API.ServeHTTP(rec, req)
		return rec
	}
	if rec := inWindow("GET", "wails://wails/api/v1/me"); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "offline-reviewer") {
		t.Fatalf("the window in offline review: %d %s", rec.Code, rec.Body)
	}
	if rec := inWindow("GET", "wails://wails/api/v1/health"); rec.Code != http.StatusOK {
		t.Fatalf("the window's health in offline review: %d %s", rec.Code, rec.Body)
	}
	if rec := inWindow("POST", "wails://wails/api/v1/releases"); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("a write from the window in offline review: %d %s", rec.Code, rec.Body)
	}
}

// A host address far longer than any real one is refused before any
// lookup or connection is tried.
func TestHostKeyRefusesAnOverlongAddress(t *testing.T) {
	e := apitest.New(t, apitest.Options{NoRunner: true})
	root := e.Login("root", apitest.RootPassword)
	long := strings.Repeat("a", 5000) + ":22"
	r := e.Call("GET", "/api/v1/hosts/key?addr="+long, root, nil)
	if r.Status != http.StatusBadRequest || apitest.Str(r.Body, "error", "field") != "addr" {
		t.Fatalf("overlong addr: %d %s", r.Status, r.Raw)
	}
	r = e.Call("POST", "/api/v1/hosts/trust", root, map[string]any{"addr": long, "key": "ssh-ed25519 AAAA"})
	if r.Status != http.StatusBadRequest || apitest.Str(r.Body, "error", "field") != "addr" {
		t.Fatalf("overlong addr to trust: %d %s", r.Status, r.Raw)
	}
}
