package runner

import (
	"errors"
	"strings"
	"testing"
	"time"

	"releasedesk/events/catalog"
)

// rulesRequest is a request validateRequest takes, with no repository or
// host behind it.
func rulesRequest() catalog.Request {
	const commit = "0123456789abcdef0123456789abcdef01234567"
	return catalog.Request{Deployment: "d1", Kind: catalog.KindDeploy, Environment: "prod",
		Commit: commit, Version: "20260101120000-" + commit[:7],
		Project: catalog.Project{ID: "demo", Repo: "/srv/git/demo.git", Strategy: catalog.StrategyRsync,
			Environments: []catalog.Environment{{Name: "prod", Path: "/srv/www", SSHKey: "/keys/id",
				Hosts: []catalog.Host{{Addr: "deploy@10.0.0.5:22"}, {Addr: "deploy@10.0.0.6"}}}}}}
}

// TestRulesRefusalNamesTheField: a request refused by a rule of rules.go
// names the project's field as the app names it, then the rule's reason.
func TestRulesRefusalNamesTheField(t *testing.T) {
	if err := validateRequest(rulesRequest()); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		mut  func(p *catalog.Project)
		want string
	}{
		{"strategy", func(p *catalog.Project) { p.Strategy = "ftp" }, `project.strategy: unknown strategy "ftp": want rsync, git or local`},
		{"repo option", func(p *catalog.Project) { p.Repo = "ssh://h/x--upload-pack=y" }, `project.repo: contains "--upload-pack": git would read it as an option`},
		{"exclude", func(p *catalog.Project) { p.Exclude = []string{"ok", "-x"} }, `project.exclude[1]: bad rsync options: exclude pattern "-x": no leading '-' or '+'`},
		{"shared", func(p *catalog.Project) { p.Shared = []string{"../x/"} }, `project.shared[0]: bad path "../x"`},
		{"secret", func(p *catalog.Project) { p.Env = []catalog.EnvVar{{Name: "K", Value: "v", Secret: true}} }, "project.env[0].value: a secret must not be written"},
		{"env name", func(p *catalog.Project) { p.Env = []catalog.EnvVar{{Name: "A", Value: "1"}, {Name: "A=B", Value: "1"}} }, `project.env[1].name: "A=B": want letters`},
		{"on_failure", func(p *catalog.Project) { p.Environments[0].OnFailure = "retry" }, `project.environments[0].on_failure: "retry": want halt or continue`},
		{"no hosts", func(p *catalog.Project) { p.Environments[0].Hosts = nil }, "project.environments[0].hosts: at least one host is required for the rsync strategy"},
		{"drift_check", func(p *catalog.Project) { p.Environments[0].DriftCheck = catalog.Duration(10 * time.Second) }, "project.environments[0].drift_check: 10s: want 1m0s to 168h"},
		{"host addr", func(p *catalog.Project) { p.Environments[0].Hosts[1].Addr = "10.0.0.6" }, `project.environments[0].hosts[1]: bad host address "10.0.0.6"`},
		// Two spellings of one host are one host: the runner used to
		// compare the addresses as written, and took both.
		{"host twice", func(p *catalog.Project) {
			p.Environments[0].Hosts[1] = catalog.Host{Addr: "deploy@10.0.0.5", Path: "/srv/b"}
		},
			"project.environments[0].hosts[1]: host deploy@10.0.0.5:22 is listed twice (also environments[0].hosts[0])"},
	} {
		req := rulesRequest()
		c.mut(&req.Project)
		err := validateRequest(req)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %s...", c.name, err, c.want)
		}
	}
}

// TestRulesKeptDifferences pins what the runner still takes that the app's
// configuration rules refuse: values no configuration the app accepts
// holds, which the runner has always taken and can honour.
func TestRulesKeptDifferences(t *testing.T) {
	for _, c := range []struct {
		name string
		mut  func(r *catalog.Request)
	}{
		// prune keeps the current release and the one it replaced whatever
		// the count.
		{"keep_releases 1", func(r *catalog.Request) { r.Project.KeepReleases = 1 }},
		{"keep_releases 500", func(r *catalog.Request) { r.Project.KeepReleases = 500 }},
		// The environment a request names has the runner's own, wider rule.
		{"environment Prod.1", func(r *catalog.Request) { r.Environment, r.Project.Environments[0].Name = "Prod.1", "Prod.1" }},
		// The local strategy ignores hosts (catalog.Project.Targets).
		{"local with hosts", func(r *catalog.Request) { r.Project.Strategy = catalog.StrategyLocal }},
	} {
		req := rulesRequest()
		c.mut(&req)
		if err := validateRequest(req); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	req := rulesRequest()
	req.Project.KeepReleases = -1
	if err := validateRequest(req); err == nil || !strings.HasSuffix(err.Error(), CheckKeepReleases(-1).Error()) {
		t.Errorf("keep_releases -1: got %v, want CheckKeepReleases's reason", err)
	}
}

func TestRulesUnits(t *testing.T) {
	for _, c := range []struct{ addr, key string }{
		{"www@10.0.0.5", "www@10.0.0.5:22"},
		{"www@10.0.0.5:22", "www@10.0.0.5:22"},
		{"www@host.example:2222", "www@host.example:2222"},
		{"www@[::1]", "www@[::1]:22"},
		{"www@[::1]:2222", "www@[::1]:2222"},
	} {
		if got, err := HostKey(c.addr); err != nil || got != c.key {
			t.Errorf("HostKey(%q) = %q, %v; want %q", c.addr, got, err, c.key)
		}
	}
	if _, err := HostKey("nouser"); !errors.Is(err, ErrBadHostAddr) || strings.HasPrefix(err.Error(), "runner: ") {
		t.Errorf("HostKey refusal: %v (want ErrBadHostAddr, reason without the package prefix)", err)
	}
	seen := map[string]int{}
	for i, k := range []string{"a@h:22", "b@h:22"} {
		if _, err := CheckHostOnce(seen, k, i); err != nil {
			t.Fatal(err)
		}
	}
	if first, err := CheckHostOnce(seen, "b@h:22", 5); first != 1 || err == nil {
		t.Errorf("CheckHostOnce: %d, %v", first, err)
	}
	if p, err := CheckSharedPath("storage/logs/"); p != "storage/logs" || err != nil {
		t.Errorf("CheckSharedPath: %q, %v", p, err)
	}
	if _, err := CheckSharedPath("/etc"); !errors.Is(err, ErrBadPath) {
		t.Errorf("CheckSharedPath refusal: %v", err)
	}
	for _, k := range []int{0, 2, 5, 100} {
		if err := CheckKeepReleases(k); err != nil {
			t.Errorf("CheckKeepReleases(%d): %v", k, err)
		}
	}
	for _, k := range []int{-1, 1, 101} {
		if err := CheckKeepReleases(k); err == nil {
			t.Errorf("CheckKeepReleases(%d) accepted", k)
		}
	}
	for _, d := range []time.Duration{0, time.Minute, 30 * time.Minute, 7 * 24 * time.Hour} {
		if err := CheckDriftCheck(d); err != nil {
			t.Errorf("CheckDriftCheck(%s): %v", d, err)
		}
	}
	for _, d := range []time.Duration{-time.Minute, time.Second, 59 * time.Second, 7*24*time.Hour + time.Second} {
		if err := CheckDriftCheck(d); err == nil || !strings.HasPrefix(err.Error(), d.String()+": want 1m0s to 168h") {
			t.Errorf("CheckDriftCheck(%s) = %v, want a refusal naming the value and the bounds", d, err)
		}
	}
	// The mirror's refusal still names the address and wraps ErrBadRepo.
	if err := validateRepo("git@host:"); !errors.Is(err, ErrBadRepo) || !strings.Contains(err.Error(), `repo "git@host:"`) ||
		!strings.HasSuffix(err.Error(), CheckRepo("git@host:").Error()) {
		t.Errorf("validateRepo: %v", err)
	}
}
