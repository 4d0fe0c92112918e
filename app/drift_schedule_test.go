package app_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"releasedesk/app/httpapi/apitest"
	"releasedesk/events/catalog"
	"releasedesk/runner/sshtest"
)

// TestDriftScheduleOverSSH: an environment with drift_check is checked on
// real sshd hosts once its last check, by anyone, is older than the
// interval, and not before; the check is recorded by the runner as
// scheduled and shown in the versions answer and on the dashboard alike;
// two desks deciding at once record one check; an environment without
// drift_check is never checked. The schedule's clock is the test's.
func TestDriftScheduleOverSSH(t *testing.T) {
	c := sshtest.Start(t, 2)
	e := apitest.New(t, apitest.Options{NoRunner: true}) // no schedule of its own: the test turns it
	root := e.Login("root", apitest.RootPassword)
	cfg := sshProjectConfig(apitest.GitRepo(t, nil), c, []int{0}, []int{1})
	cfg = strings.Replace(cfg, "  - name: test\n", "  - name: test\n    drift_check: 1m\n", 1)
	e.Must(http.StatusCreated, "PUT", "/api/v1/projects/shop", root, cfg)
	tess := e.AddUser(root, "tess", false, map[string][]string{"shop": {"tester"}})
	e.As(root).TrustHosts(c)
	ctx := context.Background()
	stream := catalog.DriftStream("shop", "test")
	checks := func() int {
		head, err := e.Desk.Log.StreamHead(ctx, stream)
		if err != nil {
			t.Fatal(err)
		}
		return int(head.Version)
	}
	lastCheck := func() time.Time {
		last, ok := e.Desk.Set.Hosts.LastDrift("shop", "test")
		if !ok {
			t.Fatal("no drift check of shop/test")
		}
		return last.Checked
	}

	// A check someone asked for counts: the next is due a minute after it.
	e.Must(http.StatusOK, "POST", "/api/v1/projects/shop/environments/test/drift", tess, nil)
	asked := lastCheck()
	if got := e.Desk.DriftDue(ctx, asked.Add(30*time.Second)); got != nil || checks() != 1 {
		t.Fatalf("30 s after a check: checked %v, %d checks", got, checks())
	}
	if got := e.Desk.DriftDue(ctx, asked.Add(61*time.Second)); !slices.Equal(got, []string{"shop/test"}) || checks() != 2 {
		t.Fatalf("61 s after a check: checked %v, %d checks", got, checks())
	}
	scheduled := lastCheck()
	if last, _ := e.Desk.Set.Hosts.LastDrift("shop", "test"); last.By != "runner" || !last.Scheduled || len(last.Hosts) != 1 {
		t.Fatalf("the scheduled check: %+v", last)
	}
	if got := e.Desk.DriftDue(ctx, scheduled.Add(59*time.Second)); got != nil {
		t.Fatalf("59 s after the scheduled check: checked %v", got)
	}
	if _, ok := e.Desk.Set.Hosts.LastDrift("shop", "production"); ok {
		t.Fatal("production has no drift_check, and was checked")
	}

	// Someone points the test host's current at a release by hand; two
	// desks on this log decide at once: one check is recorded.
	hand := "20200101000000-aaaaaaa"
	if err := os.MkdirAll(filepath.Join(c.Hosts[0].Path, "releases", hand), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("releases", hand), filepath.Join(c.Hosts[0].Path, "current")); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ran []string
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := e.Desk.DriftDue(ctx, scheduled.Add(time.Minute))
			mu.Lock()
			ran = append(ran, got...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(ran) != 1 || checks() != 3 {
		t.Fatalf("two turns at once: checked %v, %d checks", ran, checks())
	}

	// The versions answer and the dashboard show the same check.
	v := e.Must(http.StatusOK, "GET", "/api/v1/projects/shop/environments/test/versions", tess, nil)
	drift, _ := v.Body["drift"].(map[string]any)
	hosts, _ := drift["hosts"].([]any)
	if drift == nil || drift["by"] != "runner" || drift["scheduled"] != true || v.Body["drift_every"] != "1m0s" || len(hosts) != 1 {
		t.Fatalf("versions: %s", v.Raw)
	}
	if h := hosts[0].(map[string]any); h["host"] != c.Hosts[0].Addr || h["drifted"] != true || h["actual"] != hand || h["expected"] != "" {
		t.Fatalf("versions' drift line: %v", h)
	}
	d := e.Must(http.StatusOK, "GET", "/api/v1/dashboard", tess, nil)
	if !strings.Contains(string(d.Raw), `"drifted":["`+c.Hosts[0].Addr+`"]`) {
		t.Fatalf("dashboard: %s", d.Raw)
	}

	// Shutdown: a turn with an ended context records nothing, and the
	// loop returns.
	done, cancel := context.WithCancel(ctx)
	cancel()
	if got := e.Desk.DriftDue(done, scheduled.Add(time.Hour)); got != nil || checks() != 3 {
		t.Fatalf("a turn after shutdown: checked %v, %d checks", got, checks())
	}
	ended := make(chan struct{})
	go func() {
		e.Desk.ScheduleDrift(done)
		close(ended)
	}()
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the schedule did not end with its context")
	}
}
