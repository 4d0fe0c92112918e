package app_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"releasedesk/app"
	"releasedesk/app/httpapi/apitest"
)

// A table cut short keeps Badger from opening the log at all. The app still
// starts: it serves the views saved at its last clean stop, read-only, and
// says what is wrong; the routes that read the log itself answer 503.
func TestDamagedStoreServesSavedViews(t *testing.T) {
	env := apitest.New(t, apitest.Options{NoRunner: true})
	root := env.Login("root", apitest.RootPassword)
	env.AddUser(root, "alice", false, nil)
	env.Close() // saves the checkpoint; Badger flushes its memtable into a table
	tables, _ := filepath.Glob(filepath.Join(env.Dir, "events", "db", "*.sst"))
	if len(tables) == 0 {
		t.Fatal("no table to damage")
	}
	info, err := os.Stat(tables[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(tables[0], info.Size()/2); err != nil {
		t.Fatal(err)
	}

	desk, err := app.OpenDesk(context.Background(), app.DeskConfig{Data: app.DataDir{Path: env.Dir}, Logger: apitest.Logger()})
	if err != nil {
		t.Fatalf("a damaged store must still be served: %v", err)
	}
	served := apitest.Serve(t, desk, apitest.Options{})
	if p := desk.Problem(); p == nil || !strings.Contains(p.Error(), filepath.Base(tables[0])) || !strings.Contains(p.Error(), "saved at position") {
		t.Fatalf("Problem = %v, want the damaged file and what is served", p)
	}
	if desk.Runner != nil {
		t.Error("a runner started over a log that cannot be read")
	}
	env.URL = served.URL

	users := env.Must(http.StatusOK, "GET", "/api/v1/users", root, nil)
	if !strings.Contains(string(users.Raw), `"alice"`) {
		t.Errorf("the saved views lack alice: %s", users.Raw)
	}
	if r := env.Call("POST", "/api/v1/tokens", root, map[string]any{"name": "after"}); r.Status != http.StatusServiceUnavailable || r.ErrCode() != "read_only" {
		t.Errorf("a write: %d %s, want 503 read_only", r.Status, r.Raw)
	}
	if r := env.Call("GET", "/api/v1/audit/export?format=jsonl", root, nil); r.Status != http.StatusServiceUnavailable {
		t.Errorf("an export of a log that cannot be read: %d %s, want 503", r.Status, r.Raw)
	}
	h := env.Must(http.StatusOK, "GET", "/api/v1/health", "", nil)
	if h.Body["status"] != "degraded" || !strings.Contains(apitest.Str(h.Body, "problem"), "damaged") {
		t.Errorf("health: %s", h.Raw)
	}
}
