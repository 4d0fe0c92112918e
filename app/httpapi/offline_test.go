package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"releasedesk/app"
	"releasedesk/app/httpapi/apitest"
	"releasedesk/events"
)

// Offline review: an exported log is verified, then served read-only to
// anyone holding the file; every write is refused and says why.
func TestOfflineReviewOfAnExport(t *testing.T) {
	e := apitest.New(t, apitest.Options{NoRunner: true})
	root := e.Login("root", apitest.RootPassword)
	e.AddUser(root, "dev", false, map[string][]string{"shop": {"developer"}})
	export := e.Must(http.StatusOK, "GET", "/api/v1/audit/export?format=jsonl", root, nil)
	file := filepath.Join(t.TempDir(), "audit.jsonl")
	if err := os.WriteFile(file, export.Raw, 0o600); err != nil {
		t.Fatal(err)
	}

	desk, err := app.OpenDesk(context.Background(), app.DeskConfig{Archive: file, Logger: apitest.Logger()})
	if err != nil {
		t.Fatalf("OpenDesk(archive): %v", err)
	}
	off := apitest.Serve(t, desk, apitest.Options{})

	h := off.Must(http.StatusOK, "GET", "/api/v1/health", "", nil)
	if h.Body["offline"] != true || h.Body["read_only"] != true || h.Body["status"] != "ok" {
		t.Fatalf("health of an archive: %s", h.Raw)
	}
	users := off.Must(http.StatusOK, "GET", "/api/v1/users", "", nil)
	if !strings.Contains(string(users.Raw), `"dev"`) {
		t.Fatalf("users of the archive: %s", users.Raw)
	}
	audit := off.Must(http.StatusOK, "GET", "/api/v1/audit?type=user.created", "", nil)
	if audit.Body["total"].(float64) != 2 {
		t.Fatalf("audit of the archive: %s", audit.Raw)
	}
	me := off.Must(http.StatusOK, "GET", "/api/v1/me", "", nil)
	if me.Body["offline"] != true || apitest.Str(me.Body, "user", "name") != "offline-reviewer" {
		t.Fatalf("me in offline review: %s", me.Raw)
	}
	for _, w := range []struct{ method, path string }{
		{"POST", "/api/v1/login"},
		{"POST", "/api/v1/releases"},
		{"PUT", "/api/v1/projects/shop"},
		{"POST", "/api/v1/users"},
		{"POST", "/api/v1/hosts/trust"},
	} {
		r := off.Call(w.method, w.path, "", map[string]any{})
		if r.Status != http.StatusServiceUnavailable || r.ErrCode() != "read_only" || !strings.Contains(r.ErrMessage(), "offline review") {
			t.Errorf("%s %s in offline review: %d %s", w.method, w.path, r.Status, r.Raw)
		}
	}
	if desk.Log.Head().Position == 0 {
		t.Fatalf("the archive holds no events")
	}

	// A tampered file is refused as a broken chain (the verify exit code).
	bad := strings.Replace(string(export.Raw), `"dev"`, `"eve"`, 1)
	badFile := filepath.Join(t.TempDir(), "tampered.jsonl")
	if err := os.WriteFile(badFile, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = app.OpenDesk(context.Background(), app.DeskConfig{Archive: badFile, Logger: apitest.Logger()})
	var broken *app.BrokenChainError
	if !errors.As(err, &broken) || !errors.Is(err, events.ErrChainBroken) {
		t.Fatalf("a tampered archive: %v, want a broken chain", err)
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
