package app

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Offline review: an exported log is verified, then served read-only to
// anyone holding the file; every write is refused and says why.
func TestOfflineReviewOfAnExport(t *testing.T) {
	e := newAPIEnv(t, apiOptions{noRunner: true})
	root := e.login("root", rootPassword)
	e.addUser(root, "dev", false, map[string][]string{"shop": {"developer"}})
	export := e.must(http.StatusOK, "GET", "/api/v1/audit/export?format=jsonl", root, nil)
	file := filepath.Join(t.TempDir(), "audit.jsonl")
	if err := os.WriteFile(file, export.Raw, 0o600); err != nil {
		t.Fatal(err)
	}

	desk, err := OpenDesk(context.Background(), DeskConfig{Archive: file, Logger: testLogger()})
	if err != nil {
		t.Fatalf("OpenDesk(archive): %v", err)
	}
	t.Cleanup(desk.Close)
	srv := httptest.NewServer(NewServer(ServerConfig{Desk: desk, Assets: testAssets(), Logger: testLogger()}))
	t.Cleanup(srv.Close)
	off := &apiEnv{t: t, desk: desk, srv: srv, url: srv.URL}

	h := off.must(http.StatusOK, "GET", "/api/v1/health", "", nil)
	if h.Body["offline"] != true || h.Body["read_only"] != true || h.Body["status"] != "ok" {
		t.Fatalf("health of an archive: %s", h.Raw)
	}
	users := off.must(http.StatusOK, "GET", "/api/v1/users", "", nil)
	if !strings.Contains(string(users.Raw), `"dev"`) {
		t.Fatalf("users of the archive: %s", users.Raw)
	}
	audit := off.must(http.StatusOK, "GET", "/api/v1/audit?type=user.created", "", nil)
	if audit.Body["total"].(float64) != 2 {
		t.Fatalf("audit of the archive: %s", audit.Raw)
	}
	me := off.must(http.StatusOK, "GET", "/api/v1/me", "", nil)
	if me.Body["offline"] != true || str(me.Body, "user", "name") != reviewer.Name {
		t.Fatalf("me in offline review: %s", me.Raw)
	}
	for _, w := range []struct{ method, path string }{
		{"POST", "/api/v1/login"},
		{"POST", "/api/v1/releases"},
		{"PUT", "/api/v1/projects/shop"},
		{"POST", "/api/v1/users"},
		{"POST", "/api/v1/hosts/trust"},
	} {
		r := off.call(w.method, w.path, "", map[string]any{})
		if r.Status != http.StatusServiceUnavailable || r.errCode() != "read_only" || !strings.Contains(r.errMessage(), "offline review") {
			t.Errorf("%s %s in offline review: %d %s", w.method, w.path, r.Status, r.Raw)
		}
	}
	if desk.Log.Head().Position == 0 {
		t.Fatalf("the archive holds no events")
	}

	// A tampered file is refused with the verify exit code.
	bad := strings.Replace(string(export.Raw), `"dev"`, `"eve"`, 1)
	badFile := filepath.Join(t.TempDir(), "tampered.jsonl")
	if err := os.WriteFile(badFile, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = OpenDesk(context.Background(), DeskConfig{Archive: badFile, Logger: testLogger()})
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != ExitVerify {
		t.Fatalf("a tampered archive: %v, want exit code %d", err, ExitVerify)
	}
}

// `releasedesk open FILE.jsonl` serves the file read-only; a bad call or a
// tampered file exits with its code.
func TestOpenCommand(t *testing.T) {
	e := newAPIEnv(t, apiOptions{noRunner: true})
	root := e.login("root", rootPassword)
	export := e.must(http.StatusOK, "GET", "/api/v1/audit/export?format=jsonl", root, nil)
	file := filepath.Join(t.TempDir(), "log.jsonl")
	if err := os.WriteFile(file, export.Raw, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut syncBuffer
	if code := Main(context.Background(), testAssets(), []string{"open"}, strings.NewReader(""), &out, &errOut); code != ExitUsage {
		t.Fatalf("open without a file: exit %d, want %d (%s)", code, ExitUsage, errOut.String())
	}
	tampered := filepath.Join(t.TempDir(), "bad.jsonl")
	if err := os.WriteFile(tampered, []byte(strings.Replace(string(export.Raw), `"root"`, `"toor"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if code := Main(context.Background(), testAssets(), []string{"open", tampered}, strings.NewReader(""), &out, &errOut); code != ExitVerify {
		t.Fatalf("open a tampered file: exit %d, want %d (%s)", code, ExitVerify, errOut.String())
	}

	ctx, cancel := context.WithCancel(context.Background())
	var serveOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, testAssets(), []string{"open", "--addr", "127.0.0.1:0", file}, strings.NewReader(""), &serveOut, &errOut)
	}()
	url := waitForURL(t, &serveOut)
	if !strings.Contains(serveOut.String(), "offline review") {
		t.Fatalf("open does not say it is read-only: %q", serveOut.String())
	}
	res, err := http.Get(url + "api/v1/releases")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET releases in offline review: %d", res.StatusCode)
	}
	cancel()
	if code := <-done; code != ExitOK {
		t.Fatalf("open ended with %d: %s", code, errOut.String())
	}
}

// A host address far longer than any real one is refused before any
// lookup or connection is tried.
func TestHostKeyRefusesAnOverlongAddress(t *testing.T) {
	e := newAPIEnv(t, apiOptions{noRunner: true})
	root := e.login("root", rootPassword)
	long := strings.Repeat("a", 5000) + ":22"
	r := e.call("GET", "/api/v1/hosts/key?addr="+long, root, nil)
	if r.Status != http.StatusBadRequest || str(r.Body, "error", "field") != "addr" {
		t.Fatalf("overlong addr: %d %s", r.Status, r.Raw)
	}
	r = e.call("POST", "/api/v1/hosts/trust", root, map[string]any{"addr": long, "key": "ssh-ed25519 AAAA"})
	if r.Status != http.StatusBadRequest || str(r.Body, "error", "field") != "addr" {
		t.Fatalf("overlong addr to trust: %d %s", r.Status, r.Raw)
	}
}
