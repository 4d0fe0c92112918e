package cli_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"releasedesk/app"
	"releasedesk/app/cli"
	"releasedesk/app/httpapi/apitest"
	"releasedesk/app/projectconfig"
	"releasedesk/events"
	"releasedesk/events/catalog"
)

// logStats is the data directory's log, counted by the command line.
func logStats(t *testing.T, data string) events.Stats {
	t.Helper()
	code, out, errOut := runIn(t, "", "events", "stats", "--json", "--data", data)
	var st events.Stats
	if code != cli.ExitOK || json.Unmarshal([]byte(out), &st) != nil {
		t.Fatalf("events stats: exit %d %s %s", code, out, errOut)
	}
	return st
}

// readDemoPasswords reads back the passwords file the demo writes (lines
// of name, role, password): user name -> password.
func readDemoPasswords(path string) (map[string]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && !strings.HasPrefix(f[0], "#") {
			out[f[0]] = f[2]
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no users in " + path)
	}
	return out, nil
}

func TestDemoSetsUpAndIsIdempotent(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	code, out, errOut := runIn(t, "", "demo", "--data", data, "--log-level", "warning")
	if code != cli.ExitOK {
		t.Fatalf("demo: exit %d\n%s\n%s", code, out, errOut)
	}
	pwFile := filepath.Join(data, "demo", "passwords.txt")
	if fi, err := os.Stat(pwFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("passwords file: %v %v", fi, err)
	}
	pw, err := readDemoPasswords(pwFile)
	if err != nil || len(pw) != 5 {
		t.Fatalf("passwords: %v %v", pw, err)
	}

	// A bare repository with a mainline of three commits, and the
	// release's branch made from it.
	repo := filepath.Join(data, "demo", "shop.git")
	git := func(args ...string) string {
		t.Helper()
		b, err := exec.Command("git", append([]string{"-C", repo}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v %s", args, err, b)
		}
		return strings.TrimSpace(string(b))
	}
	if git("rev-parse", "--is-bare-repository") != "true" || git("rev-list", "--count", "master") != "3" ||
		git("rev-parse", "spring-sale") != git("rev-parse", "master") || !strings.Contains(git("ls-tree", "--name-only", "master"), "index.html") {
		t.Fatal("the demo repository is not the one described")
	}

	before := logStats(t, data)
	code, out, _ = runIn(t, "", "demo", "--data", data)
	if code != cli.ExitOK || !strings.Contains(out, "already set up") || !strings.Contains(out, pwFile) {
		t.Fatalf("second demo: exit %d %q", code, out)
	}
	if code, out, errOut = runIn(t, "", "demo", "--quiet", "--data", data); code != cli.ExitOK || out != "" || errOut != "" {
		t.Fatalf("demo --quiet: exit %d %q %q", code, out, errOut)
	}
	if after := logStats(t, data); after.Count != before.Count || after.Head != before.Head {
		t.Fatalf("a second demo changed the log: %+v -> %+v", before, after)
	}

	d, err := app.OpenDesk(ctx, app.DeskConfig{Data: app.DataDir{Path: data}, Logger: apitest.Logger(), NoRunner: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	view, err := d.Project(app.DemoProject)
	if err != nil {
		t.Fatal(err)
	}
	p, err := projectconfig.Parse([]byte(view.YAML), "application/yaml")
	if err != nil {
		t.Fatal(err)
	}
	if p.Strategy != catalog.StrategyLocal || p.Repo != repo || p.Branch != "master" || p.KeepReleases != 5 ||
		len(p.VersionFiles) != 1 || p.VersionFiles[0] != "VERSION" || len(p.Environments) != 2 ||
		p.Environments[0].Name != "test" || p.Environments[0].Approval ||
		p.Environments[1].Name != "production" || !p.Environments[1].Approval ||
		p.Environments[1].Path != filepath.Join(data, "demo", "hosts", "production") {
		t.Fatalf("demo project %+v", p)
	}
	for name, role := range map[string]string{"dev": "developer", "tess": "tester", "alice": "approver", "max": "manager"} {
		u, err := d.Auth.User(name)
		if err != nil || u.Admin || len(u.Roles["shop"]) != 1 || u.Roles["shop"][0] != role {
			t.Fatalf("user %s: %+v %v", name, u, err)
		}
		if _, _, err := d.Auth.Login(ctx, name, pw[name]); err != nil {
			t.Fatalf("login %s with the demo's password: %v", name, err)
		}
	}
	if u, err := d.Auth.User("admin"); err != nil || !u.Admin {
		t.Fatalf("admin: %+v %v", u, err)
	}
	r, err := d.Release("1")
	if err != nil || r.State != "open" || r.Requester != "dev" || r.Branch != "spring-sale" {
		t.Fatalf("demo release: %+v %v", r, err)
	}
}

// A data directory in use without the demo is left alone: refused, or
// skipped in silence with --quiet (make run on a real data directory).
func TestDemoRefusesADataDirInUse(t *testing.T) {
	data := t.TempDir()
	if err := os.Chmod(data, 0o700); err != nil { // as the desk makes one: no warning to print
		t.Fatal(err)
	}
	if code, _, errOut := runIn(t, "", "user", "add", "--name", "root", "--admin", "--data", data); code != cli.ExitOK {
		t.Fatalf("user add: %d %s", code, errOut)
	}
	before := logStats(t, data)
	code, _, errOut := runIn(t, "", "demo", "--data", data, "--log-level", "warning")
	if code != cli.ExitFailure || !strings.Contains(errOut, "already holds 1 users and 0 projects") {
		t.Fatalf("demo on a data directory in use: exit %d: %s", code, errOut)
	}
	if code, out, errOut := runIn(t, "", "demo", "--quiet", "--data", data, "--log-level", "warning"); code != cli.ExitOK || out != "" || errOut != "" {
		t.Fatalf("demo --quiet on a data directory in use: exit %d %q %q", code, out, errOut)
	}
	if after := logStats(t, data); after.Count != before.Count {
		t.Fatalf("the refused demo wrote %d events", after.Count-before.Count)
	}
	if _, err := os.Stat(filepath.Join(data, "demo")); !os.IsNotExist(err) {
		t.Fatalf("the refused demo left files: %v", err)
	}
}
