package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"releasedesk/events"
	"releasedesk/events/catalog"
)

// runPayloads each try to create the canary file if any shell ever
// runs them.
func runPayloads(canary string) []string {
	return []string{
		"$(touch " + canary + ")",
		"`touch " + canary + "`",
		"x; touch " + canary,
		"x | touch " + canary,
		"x\ntouch " + canary,
		"--upload-pack=touch " + canary,
		"-oProxyCommand=touch " + canary,
		"ext::sh -c touch% " + canary,
		"../../../../tmp/x",
		"x' ; touch '" + canary,
	}
}

func TestRunSubmitRefusesBadRequests(t *testing.T) {
	dir := runShmDir(t)
	canary := filepath.Join(dir, "canary")
	log := events.NewMemStore(events.Options{})
	repo, head := newTestRepo(t, map[string]string{"a.txt": "a"})
	good := func() catalog.Request {
		v, _ := NewVersion(testCommitBase, head)
		return catalog.Request{Deployment: "d1", Kind: catalog.KindDeploy, Environment: "prod", Commit: head, Version: v,
			Project: catalog.Project{ID: "demo", Repo: repo, Strategy: catalog.StrategyRsync,
				Environments: []catalog.Environment{{Name: "prod", Path: "/srv/www", SSHKey: "/keys/id",
					Hosts: []catalog.Host{{Addr: "deploy@10.0.0.5:22"}}}}}}
	}
	if err := validateRequest(good()); err != nil {
		t.Fatalf("the good request is refused: %v", err)
	}
	type mutation struct {
		name string
		mut  func(*catalog.Request, string)
	}
	muts := []mutation{
		{"deployment id", func(r *catalog.Request, p string) { r.Deployment = p }},
		{"version", func(r *catalog.Request, p string) { r.Version = p }},
		{"commit", func(r *catalog.Request, p string) { r.Commit = p }},
		{"environment", func(r *catalog.Request, p string) { r.Environment = p }},
		{"host addr", func(r *catalog.Request, p string) { r.Project.Environments[0].Hosts[0].Addr = p }},
		{"project id", func(r *catalog.Request, p string) { r.Project.ID = p }},
		{"env name", func(r *catalog.Request, p string) { r.Project.Env = []catalog.EnvVar{{Name: p, Value: "x"}} }},
		{"secret value", func(r *catalog.Request, p string) {
			r.Project.Env = []catalog.EnvVar{{Name: "K", Value: p, Secret: true}}
		}},
		{"subset host", func(r *catalog.Request, p string) { r.Hosts = []string{p} }},
	}
	for _, m := range muts {
		for _, p := range runPayloads(canary) {
			req := good()
			m.mut(&req, p)
			if err := validateRequest(req); err == nil {
				t.Errorf("%s = %q accepted", m.name, p)
			}
		}
	}
	// Paths refuse "..", a leading '-' and control characters; other
	// characters are a file's name, quoted wherever they go (see
	// TestRunFreeTextNeverReachesHosts).
	for _, m := range []mutation{
		{"env path", func(r *catalog.Request, p string) { r.Project.Environments[0].Path = p }},
		{"host path", func(r *catalog.Request, p string) { r.Project.Environments[0].Hosts[0].Path = p }},
		{"version file", func(r *catalog.Request, p string) { r.Project.VersionFiles = []string{p} }},
		{"shared path", func(r *catalog.Request, p string) { r.Project.Shared = []string{p} }},
	} {
		for _, p := range []string{"/srv/../etc", "/srv/-rf", "/srv/a\nb", "relative", "../up", "-x", "a/../../b", "a\x00b"} {
			if m.name == "version file" || m.name == "shared path" {
				p = strings.TrimPrefix(p, "/srv/")
				if p == "relative" {
					continue
				}
			} else if p == "-x" {
				p = "/srv/" + p
			}
			req := good()
			m.mut(&req, p)
			if err := validateRequest(req); err == nil {
				t.Errorf("%s = %q accepted", m.name, p)
			}
		}
	}
	// The git strategy hands the repository to hosts: remote helpers and
	// options are refused.
	for _, repoURL := range []string{"ext::sh -c touch% " + canary, "--upload-pack=touch " + canary, "-x"} {
		req := good()
		req.Project.Strategy = catalog.StrategyGit
		req.Project.Repo = repoURL
		if err := validateRequest(req); err == nil {
			t.Errorf("git repo %q accepted", repoURL)
		}
	}
	// Version and commit must agree.
	req := good()
	req.Version = "20260101000000-0000000"
	if err := Submit(context.Background(), log, req, "alice"); !errors.Is(err, ErrInvalidRequest) ||
		!strings.Contains(err.Error(), "does not name commit") {
		t.Fatalf("mismatched version: %v", err)
	}
	// A refused request writes nothing.
	if h := log.Head(); h.Position != 0 {
		t.Fatalf("%d events written by refused requests", h.Position)
	}
	if err := Submit(context.Background(), log, good(), "alice"); err != nil {
		t.Fatal(err)
	}
	if err := Submit(context.Background(), log, good(), "alice"); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("a second request with the same id: %v", err)
	}
	if _, err := os.Stat(canary); err == nil {
		t.Fatal("the canary file exists")
	}
}

// TestRunFreeTextNeverReachesHosts deploys with payloads in every free
// text field a request carries (title, branch, reason, release, the
// requester's name, a secret), on real hosts: no canary appears, and no
// command line recorded holds a payload.
func TestRunFreeTextNeverReachesHosts(t *testing.T) {
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyRsync, hosts: 2, files: 10,
		project: func(p *catalog.Project) {
			p.Hooks.PreRelease = `test -n "$API_TOKEN" && echo "token is $API_TOKEN"`
			p.Env = []catalog.EnvVar{{Name: "API_TOKEN", FromEnv: "RD_TEST_API_TOKEN", Secret: true}}
		}})
	t.Setenv("RD_TEST_API_TOKEN", "tok-SECRET-123")
	canary := filepath.Join(runShmDir(t), "canary")
	payloads := runPayloads(canary)
	h.p.Title = strings.Join(payloads, " ")
	h.p.Branch = payloads[0]
	// Odd but valid names: quoted wherever they go, never run.
	h.p.VersionFiles = []string{"VERSION", "x; touch " + filepath.Base(canary), "$(touch canary)"}
	h.p.Shared = []string{"`touch canary`/"}
	h.p.Exclude = []string{"x | touch canary"}
	c := h.head()
	v := h.versionOf(c)
	req := catalog.Request{Deployment: "inject1", Kind: catalog.KindDeploy, Project: h.p, Environment: "prod", Commit: c, Version: v,
		Release: payloads[1], Reason: payloads[2]}
	if err := Submit(context.Background(), h.log, req, payloads[3]); err != nil {
		t.Fatal(err)
	}
	if err := h.r.Run(context.Background(), "inject1"); err != nil {
		t.Fatal(err)
	}
	if term := h.terminal("inject1"); term != catalog.TypeDeploySucceeded {
		t.Fatalf("%s\n%s", term, h.describe("inject1"))
	}
	for _, dir := range []string{filepath.Dir(canary), h.targets()[0].Path, h.targets()[1].Path, h.repo, "."} {
		for _, name := range []string{"canary", filepath.Base(canary)} {
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				t.Fatalf("a canary file was created in %s", dir)
			}
		}
	}
	if b, err := os.ReadFile(filepath.Join(h.targets()[0].Path, "current", "$(touch canary)")); err != nil || string(b) != v+"\n" {
		t.Fatalf("the odd version file: %q %v", b, err)
	}
	for _, e := range h.events("inject1") {
		switch e.Type {
		case catalog.TypeStepStarted:
			var s catalog.StepStarted
			_ = e.Decode(&s)
			line := strings.Join(s.Command, " ")
			for _, p := range payloads {
				if strings.Contains(line, p) {
					t.Fatalf("step %s carries %q: %q", s.Step, p, line)
				}
			}
			if strings.Contains(line, "tok-SECRET-123") {
				t.Fatalf("step %s shows the secret: %q", s.Step, line)
			}
		case catalog.TypeStepOutput:
			if strings.Contains(string(e.Data), "tok-SECRET-123") {
				t.Fatalf("output shows the secret: %s", e.Data)
			}
		}
	}
	if !strings.Contains(h.stepOutput("inject1", h.targets()[0].Addr, "hook.pre_release"), "token is [redacted]") {
		t.Fatal("the hook's output was not recorded redacted")
	}
	// The requester's name is not plain: hosts get a placeholder.
	rev, err := os.ReadFile(filepath.Join(h.targets()[0].Path, "current", "REVISION"))
	if err != nil {
		t.Fatal(err)
	}
	if r := ParseRevision(string(rev)); r.Who != "unnamed" || r.Commit != c {
		t.Fatalf("REVISION %+v", r)
	}
}
