package app_test

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
	"releasedesk/events/catalog"
	"releasedesk/runner"
	"releasedesk/runner/sshtest"
)

// TestBreakLockOverSSH: an admin breaks a stale host lock with a reason,
// on one host or on every host of an environment, on real sshd hosts.
// Everyone else is refused, and bad input (no reason, a reason too long,
// a host of no environment) changes nothing; a host that cannot be
// reached is named in the answer, and the decision is recorded anyway.
func TestBreakLockOverSSH(t *testing.T) {
	c := sshtest.Start(t, 3)
	e := apitest.New(t, apitest.Options{NoRunner: true})
	root := e.Login("root", apitest.RootPassword)
	e.Must(http.StatusCreated, "PUT", "/api/v1/projects/shop", root, sshProjectConfig(apitest.GitRepo(t, nil), c, []int{0}, []int{1, 2}))
	e.AddUser(root, "dev", false, map[string][]string{"shop": {"developer", "approver", "manager"}})
	e.As(root).TrustHosts(c)
	ctx := context.Background()
	admin, _ := e.Desk.Auth.User("root")
	dev, _ := e.Desk.Auth.User("dev")

	// A deployment of another desk died holding the lock of both
	// production hosts.
	lockDirs := []string{staleHostLock(t, c.Hosts[1].Path), staleHostLock(t, c.Hosts[2].Path)}
	stream := catalog.LockStream("shop", "production")
	lockEvents := func() int {
		head, err := e.Desk.Log.StreamHead(ctx, stream)
		if err != nil {
			t.Fatal(err)
		}
		return int(head.Version)
	}

	for _, c := range []struct {
		name         string
		user         app.UserView
		env, host    string
		reason       string
		kind         error
		field, words string
	}{
		{"not an admin", dev, "production", "", "stale", app.ErrForbidden, "", "breaking a deploy lock needs the admin role"},
		{"no reason", admin, "production", "", "  ", app.ErrInvalid, "reason", "is required"},
		{"a reason too long", admin, "production", "", strings.Repeat("x", 501), app.ErrInvalid, "reason", "longer than 500"},
		{"a control character", admin, "production", "", "stale\x1b[2J", app.ErrInvalid, "reason", "control character"},
		{"a host of another environment", admin, "production", c.Hosts[0].Addr, "stale", app.ErrInvalid, "host", "is not a host of environment production of shop"},
		{"a host of none", admin, "production", "www@10.0.0.9:22", "stale", app.ErrInvalid, "host", c.Hosts[1].Addr},
		{"an environment of none", admin, "staging", "", "stale", app.ErrNotFound, "", "staging"},
	} {
		_, err := e.Desk.BreakLock(ctx, c.user, "shop", c.env, c.host, c.reason)
		var inv *app.InvalidError
		if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.words) || (c.field != "" && (!errors.As(err, &inv) || inv.Field != c.field)) {
			t.Errorf("%s: %v, want %v naming %q %q", c.name, err, c.kind, c.field, c.words)
		}
	}
	if n := lockEvents(); n != 0 {
		t.Fatalf("refusals wrote %d lock events", n)
	}
	for _, dir := range lockDirs {
		if _, err := os.Stat(dir); err != nil {
			t.Fatalf("a refusal touched a host lock: %v", err)
		}
	}

	// One host: its lock goes, with what it named; the other stays.
	res, err := e.Desk.BreakLock(ctx, admin, "shop", "production", c.Hosts[1].Addr, "d9 died with another desk")
	if err != nil {
		t.Fatal(err)
	}
	if res.Host != c.Hosts[1].Addr || res.Broken.Deployment != "" || len(res.Unreachable) != 0 || len(res.Broken.Hosts) != 1 ||
		res.Broken.Hosts[0].Host != c.Hosts[1].Addr || res.Broken.Hosts[0].Deployment != "d9" || res.Broken.Hosts[0].Holder != "ghost" {
		t.Fatalf("one host: %+v", res)
	}
	if _, err := os.Stat(lockDirs[0]); !os.IsNotExist(err) {
		t.Fatalf("the host's lock is still there: %v", err)
	}
	if _, err := os.Stat(lockDirs[1]); err != nil {
		t.Fatalf("the other host's lock is gone: %v", err)
	}
	envs, _ := e.Desk.Log.ReadStream(ctx, stream, 1)
	var ev catalog.LockEvent
	if len(envs) != 1 || envs[0].Type != catalog.TypeLockBroken || envs[0].Actor != "root" || envs[0].Decode(&ev) != nil ||
		ev.Host != c.Hosts[1].Addr || ev.Reason != "d9 died with another desk" {
		t.Fatalf("lock stream: %+v", envs)
	}
	r := e.Must(http.StatusOK, "GET", "/api/v1/audit?type=lock.broken", root, nil)
	if !strings.Contains(string(r.Raw), "root broke the lock of shop/production on host "+c.Hosts[1].Addr+": d9 died with another desk") {
		t.Fatalf("audit: %s", r.Raw)
	}

	// Every host, one of them down: the reachable one is unlocked, the
	// other named, and the break recorded all the same.
	c.Kill(2)
	res, err = e.Desk.BreakLock(ctx, admin, "shop", "production", "", "all of them")
	if err != nil {
		t.Fatal(err)
	}
	if res.Host != "" || len(res.Broken.Hosts) != 1 || res.Broken.Hosts[0].Host != c.Hosts[1].Addr || res.Broken.Hosts[0].Deployment != "" ||
		len(res.Unreachable) != 1 || res.Unreachable[0].Host != c.Hosts[2].Addr || res.Unreachable[0].Error == "" {
		t.Fatalf("every host, one down: %+v", res)
	}
	if n := lockEvents(); n != 2 {
		t.Fatalf("%d lock events after two breaks", n)
	}
	if _, err := os.Stat(lockDirs[1]); err != nil {
		t.Fatalf("the unreachable host's lock: %v", err)
	}

	// A deployment under way (queued: this desk runs none): its lock is
	// not stale, and breaking is refused without a word in the log.
	devTok := e.Login("dev", "dev-password-1")
	rel := e.Must(http.StatusCreated, "POST", "/api/v1/releases", devTok,
		map[string]any{"project": "shop", "branch": "busy", "create_branch": true, "title": "busy"})
	e.Must(http.StatusAccepted, "POST", "/api/v1/releases/"+apitest.Str(rel.Body, "release", "id")+"/deploy", devTok,
		map[string]any{"env": "test"})
	testLock := catalog.LockStream("shop", "test")
	_, err = e.Desk.BreakLock(ctx, admin, "shop", "test", "", "is it stale?")
	if head, _ := e.Desk.Log.StreamHead(ctx, testLock); !errors.Is(err, app.ErrConflict) || !strings.Contains(err.Error(), "busy") || head.Version != 0 {
		t.Fatalf("a break while a deployment is queued: %v (lock events %d)", err, head.Version)
	}
}

// staleHostLock leaves the lock a deployment d9 of another desk took on a
// host (as an older Release Desk made it: a dir holding its info) and
// returns its path.
func staleHostLock(t *testing.T, path string) string {
	t.Helper()
	dir := runner.Layout{Path: path}.LockDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	info := runner.LockInfo{Deployment: "d9", Holder: "ghost"}
	if err := os.WriteFile(filepath.Join(dir, "info"), []byte(info.String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}
