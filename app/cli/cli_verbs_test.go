package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"releasedesk/app"
	"releasedesk/app/cli"
	"releasedesk/app/httpapi"
	"releasedesk/app/httpapi/apitest"
	"releasedesk/runner/sshtest"
)

// cliDemo is `releasedesk demo` on a fresh data directory, served by a real
// server (desk with its runner, HTTP on a free loopback port), driven only
// through the command line in-process.
type cliDemo struct {
	T      *testing.T
	data   string
	URL    string
	pw     map[string]string // demo user -> password
	tokens map[string]string // demo user -> session token, from `login`
}

func startCLIDemo(t *testing.T) *cliDemo {
	t.Helper()
	data := t.TempDir()
	code, out, errOut := runIn(t, "", "demo", "--data", data, "--log-level", "warning")
	if code != cli.ExitOK || !strings.Contains(out, "release 1 is open on branch spring-sale") {
		t.Fatalf("demo: exit %d\n%s\n%s", code, out, errOut)
	}
	pw, err := readDemoPasswords(filepath.Join(data, "demo", "passwords.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"admin", "dev", "tess", "alice", "max"} {
		if pw[name] == "" || !strings.Contains(out, pw[name]) {
			t.Fatalf("demo printed no password for %s:\n%s", name, out)
		}
	}
	desk, err := app.OpenDesk(context.Background(), app.DeskConfig{Data: app.DataDir{Path: data}, Logger: apitest.Logger()})
	if err != nil {
		t.Fatalf("OpenDesk over the demo: %v", err)
	}
	srv := httptest.NewServer(httpapi.NewServer(httpapi.ServerConfig{Desk: desk, Assets: apitest.Assets(), Logger: apitest.Logger()}))
	t.Cleanup(func() {
		srv.Close()
		desk.Close()
	})
	return &cliDemo{T: t, data: data, URL: srv.URL, pw: pw, tokens: map[string]string{}}
}

// runIn runs the command line in-process with stdin.
func runIn(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), apitest.Assets(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// as runs a verb against the demo's server as user ("" for nobody), its
// token in RELEASEDESK_TOKEN as a script would have it.
func (e *cliDemo) as(user string, args ...string) (int, string, string) {
	e.T.Helper()
	tok := ""
	if user != "" {
		tok = e.token(user)
	}
	e.T.Setenv("RELEASEDESK_TOKEN", tok)
	return runIn(e.T, "", append(args, "--server", e.URL)...)
}

// must runs a verb as user and fails the test unless it exits 0.
func (e *cliDemo) Must(user string, args ...string) string {
	e.T.Helper()
	code, out, errOut := e.as(user, args...)
	if code != cli.ExitOK {
		e.T.Fatalf("%s: releasedesk %s: exit %d\nstdout: %s\nstderr: %s", user, strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// token signs user in with `releasedesk login` once.
func (e *cliDemo) token(user string) string {
	e.T.Helper()
	if tok := e.tokens[user]; tok != "" {
		return tok
	}
	code, out, errOut := runIn(e.T, e.pw[user]+"\n", "login", "--user", user, "--server", e.URL)
	tok := strings.TrimSpace(out)
	if code != cli.ExitOK || tok == "" || strings.Contains(tok, "\n") {
		e.T.Fatalf("login %s: exit %d, out %q, err %q", user, code, out, errOut)
	}
	e.tokens[user] = tok
	return tok
}

// deployJSON runs a deploying verb with --wait --json and returns the
// finished deployment.
func (e *cliDemo) deployJSON(user string, args ...string) map[string]any {
	e.T.Helper()
	out := e.Must(user, append(args, "--wait", "--json")...)
	var dep map[string]any
	if err := json.Unmarshal([]byte(out), &dep); err != nil {
		e.T.Fatalf("deployment JSON: %v\n%s", err, out)
	}
	if dep["state"] != "succeeded" || apitest.Str(dep, "version") == "" {
		e.T.Fatalf("deployment did not succeed: %s", out)
	}
	return dep
}

// target is a demo environment's directory.
func (e *cliDemo) target(env string) string { return filepath.Join(e.data, "demo", "hosts", env) }

// wantLive checks that env's current symlink points at version, whose
// VERSION file holds it, and returns the release directory.
func (e *cliDemo) wantLive(env, version string) string {
	e.T.Helper()
	cur, err := os.Readlink(filepath.Join(e.target(env), "current"))
	if err != nil || filepath.Base(cur) != version {
		e.T.Fatalf("%s current -> %q (%v), want releases/%s", env, cur, err, version)
	}
	dir := filepath.Join(e.target(env), "current")
	v, err := os.ReadFile(filepath.Join(dir, "VERSION"))
	if err != nil || strings.TrimSpace(string(v)) != version {
		e.T.Fatalf("%s VERSION = %q (%v), want %s", env, v, err, version)
	}
	return dir
}

// pushCommit commits a file to branch of the demo's bare repository, as a
// developer would from a clone.
func (e *cliDemo) pushCommit(branch, file, content string) {
	e.T.Helper()
	clone := filepath.Join(e.T.TempDir(), "clone")
	git := func(dir string, args ...string) {
		e.T.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=dev", "GIT_AUTHOR_EMAIL=dev@example.invalid",
			"GIT_COMMITTER_NAME=dev", "GIT_COMMITTER_EMAIL=dev@example.invalid")
		if out, err := cmd.CombinedOutput(); err != nil {
			e.T.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git(e.T.TempDir(), "clone", "-q", "-b", branch, filepath.Join(e.data, "demo", "shop.git"), clone)
	if err := os.WriteFile(filepath.Join(clone, file), []byte(content), 0o644); err != nil {
		e.T.Fatal(err)
	}
	git(clone, "add", ".")
	git(clone, "commit", "-q", "-m", "change "+file)
	git(clone, "push", "-q", "origin", branch)
}

// TestCLIDemoFlow walks DESIGN.md section 3 on the demo with the verbs
// alone: dev deploys the demo's release to test, tess passes it, alice
// approves and deploys production, max accepts and completes; then a
// second release with a new commit goes the same way, and alice rolls
// production back to the first.
func TestCLIDemoFlow(t *testing.T) {
	e := startCLIDemo(t)
	repo := filepath.Join(e.data, "demo", "shop.git")

	out := e.Must("dev", "release", "list", "--project", "shop", "--state", "open")
	if !strings.Contains(out, "Spring sale banner") || !strings.Contains(out, "spring-sale") {
		t.Fatalf("release list: %s", out)
	}
	// 3. deploy to test: the branch head is pinned.
	test1 := e.deployJSON("dev", "release", "deploy", "1", "--env", "test")
	e.wantLive("test", apitest.Str(test1, "version"))
	// 4. the developer may not pass it; the tester does.
	if code, _, errOut := e.as("dev", "release", "test", "1", "--pass"); code != cli.ExitFailure || !strings.Contains(errOut, "tester") {
		t.Fatalf("developer passing: exit %d: %s", code, errOut)
	}
	if out := e.Must("tess", "release", "test", "1", "--pass", "--note", "looks right"); !strings.Contains(out, "release 1: tested") {
		t.Fatalf("test: %s", out)
	}
	// 5-6. approve, then deploy the approved commit to production.
	if out := e.Must("alice", "release", "approve", "1", "--note", "go"); !strings.Contains(out, "release 1: approved") {
		t.Fatalf("approve: %s", out)
	}
	out = e.Must("alice", "release", "deploy", "1", "--env", "production", "--wait")
	if !strings.Contains(out, "succeeded") || !strings.Contains(out, "switched") {
		t.Fatalf("production deploy output: %s", out)
	}
	show := e.Must("alice", "release", "show", "1", "--json")
	var rel1 httpapi.ReleaseResponse
	if err := json.Unmarshal([]byte(show), &rel1); err != nil || rel1.Release.State != "live" {
		t.Fatalf("release after production: %v %s", err, show)
	}
	v1 := ""
	for _, d := range rel1.Release.Deployments {
		if d.Environment == "production" {
			v1 = d.Version
		}
	}
	if v1 == "" || rel1.Release.ApprovedCommit != apitest.Str(test1, "commit") {
		t.Fatalf("production version %q, approved %s, tested %s", v1, rel1.Release.ApprovedCommit, apitest.Str(test1, "commit"))
	}
	e.wantLive("production", v1)
	// 7-8. accept, complete: the commit is tagged release/<version>.
	e.Must("max", "release", "accept", "1", "--note", "sales are up")
	if out := e.Must("max", "release", "complete", "1"); !strings.Contains(out, "release 1: completed") ||
		!strings.Contains(out, "tagged release/"+v1) {
		t.Fatalf("complete: %s", out)
	}
	tagged, err := exec.Command("git", "-C", repo, "rev-parse", "release/"+v1+"^{commit}").CombinedOutput()
	if err != nil || strings.TrimSpace(string(tagged)) != apitest.Str(test1, "commit") {
		t.Fatalf("tag release/%s: %v %s", v1, err, tagged)
	}

	// A second release with a commit of its own, all the way to production.
	out = e.Must("dev", "release", "open", "--project", "shop", "--branch", "summer", "--create-branch",
		"--title", "Summer prices", "--note", "new prices")
	if !strings.Contains(out, "release 2 opened") {
		t.Fatalf("open: %s", out)
	}
	e.pushCommit("summer", "index.html", "<h1>Summer prices</h1>\n")
	test2 := e.deployJSON("dev", "release", "deploy", "2", "--env", "test")
	if apitest.Str(test2, "commit") == apitest.Str(test1, "commit") {
		t.Fatal("the second release pinned the first one's commit")
	}
	e.Must("tess", "release", "test", "2", "--pass")
	e.Must("alice", "release", "approve", "2")
	prod2 := e.deployJSON("alice", "release", "deploy", "2", "--env", "production")
	v2 := apitest.Str(prod2, "version")
	if dir := e.wantLive("production", v2); !fileHas(t, filepath.Join(dir, "index.html"), "Summer prices") {
		t.Fatal("production does not serve the second release")
	}

	// Roll production back to the first version: instant, recorded with why.
	if out := e.Must("alice", "versions", "--project", "shop", "--env", "production"); !strings.Contains(out, v1) ||
		!strings.Contains(out, v2) {
		t.Fatalf("versions: %s", out)
	}
	if code, _, errOut := e.as("dev", "rollback", "--project", "shop", "--env", "production", "--version", v1,
		"--reason", "x"); code != cli.ExitFailure || !strings.Contains(errOut, "refused by the rule") {
		t.Fatalf("developer rolling back production: exit %d: %s", code, errOut)
	}
	rb := e.deployJSON("alice", "rollback", "--project", "shop", "--env", "production", "--version", v1,
		"--reason", "summer prices are wrong")
	if rb["kind"] != "rollback" || apitest.Str(rb, "version") != v1 {
		t.Fatalf("rollback: %v", rb)
	}
	if dir := e.wantLive("production", v1); fileHas(t, filepath.Join(dir, "index.html"), "Summer prices") {
		t.Fatal("production still serves the second release after the rollback")
	}
	if out := e.Must("dev", "deployment", "show", apitest.Str(rb, "id")); !strings.Contains(out, "rollback of "+v1) ||
		!strings.Contains(out, "summer prices are wrong") {
		t.Fatalf("deployment show: %s", out)
	}

	// The audit trail tells it all, and its JSONL export verifies offline.
	csvFile := filepath.Join(t.TempDir(), "audit.csv")
	e.Must("admin", "audit", "export", "--format", "csv", "--out", csvFile)
	for _, want := range []string{"alice,release.approved", "max,release.completed", "alice,rollback.requested"} {
		if !fileHas(t, csvFile, want) {
			t.Errorf("audit CSV has no %q row", want)
		}
	}
	jsonl := filepath.Join(t.TempDir(), "audit.jsonl")
	e.Must("admin", "audit", "export", "--format", "jsonl", "--out", jsonl)
	if code, out, errOut := runIn(t, "", "events", "verify", "--archive", jsonl); code != cli.ExitOK {
		t.Fatalf("the exported JSONL does not verify: %d %s %s", code, out, errOut)
	}
}

func fileHas(t *testing.T, path, want string) bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(string(b), want)
}

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestCLIVerbExitCodes: 2 for bad flags and arguments, 1 for a refusal of
// the server (with its message and rule), for no server, and for an
// invalid project file (every problem listed); 0 otherwise.
func TestCLIVerbExitCodes(t *testing.T) {
	e := startCLIDemo(t)
	for _, c := range []struct {
		user string
		args []string
		want int
		errs []string // in stderr
	}{
		{"dev", []string{"release", "deploy", "--env", "test"}, cli.ExitUsage, []string{"ID"}},
		{"dev", []string{"release", "deploy", "1"}, cli.ExitUsage, []string{"--env"}},
		{"dev", []string{"release", "test", "1"}, cli.ExitUsage, []string{"--pass or --fail"}},
		{"dev", []string{"release", "test", "1", "--pass", "--fail"}, cli.ExitUsage, []string{"--pass or --fail"}},
		{"dev", []string{"release", "reject", "1"}, cli.ExitUsage, []string{"--reason"}},
		{"dev", []string{"release", "list", "--no-such-flag"}, cli.ExitUsage, []string{"--no-such-flag"}},
		{"dev", []string{"rollback", "--project", "shop", "--env", "test"}, cli.ExitUsage, []string{"--version"}},
		{"dev", []string{"audit", "export", "--format", "xml"}, cli.ExitUsage, []string{"--format"}},
		{"admin", []string{"hosts", "trust", "10.0.0.5:22", "--key", "k", "--yes"}, cli.ExitUsage, []string{"--key and --yes"}},
		{"dev", []string{"release", "show", "1"}, cli.ExitOK, nil},
		{"", []string{"release", "show", "1"}, cli.ExitFailure, []string{"releasedesk login"}},
		{"dev", []string{"release", "show", "99"}, cli.ExitFailure, []string{`no release "99"`}},
		{"dev", []string{"release", "show", "../../users"}, cli.ExitFailure, []string{`no release "../../users"`}},
		{"dev", []string{"release", "approve", ".."}, cli.ExitFailure, []string{`no release ".."`}},
		{"dev", []string{"release", "deploy", "1", "--env", "staging"}, cli.ExitFailure, []string{"no environment \"staging\""}},
		{"tess", []string{"release", "approve", "1"}, cli.ExitFailure, []string{"refused by the rule: approving a release needs the approver role"}},
		{"dev", []string{"release", "open", "--project", "shop", "--branch", "master", "--title", "x"}, cli.ExitFailure,
			[]string{"branch: master is the mainline"}},
		{"dev", []string{"hosts", "key", "not an address"}, cli.ExitFailure, []string{"addr"}},
	} {
		code, out, errOut := e.as(c.user, c.args...)
		if code != c.want {
			t.Errorf("%s %v: exit %d, want %d\nstdout: %s\nstderr: %s", c.user, c.args, code, c.want, out, errOut)
			continue
		}
		for _, w := range c.errs {
			if !strings.Contains(errOut, w) {
				t.Errorf("%s %v: stderr %q lacks %q", c.user, c.args, errOut, w)
			}
		}
	}

	// A group without its command is a usage error, not help and success.
	if code, _, errOut := runIn(t, "", "release"); code != cli.ExitUsage || !strings.Contains(errOut, "needs a command") {
		t.Fatalf("release alone: exit %d: %s", code, errOut)
	}
	if code, _, errOut := runIn(t, "", "release", "promote", "1"); code != cli.ExitUsage || !strings.Contains(errOut, `unknown command "promote"`) {
		t.Fatalf("release promote: exit %d: %s", code, errOut)
	}

	// No server: exit 1, and the message says where it looked.
	addr := "http://" + closedPort(t)
	code, _, errOut := runIn(t, "", "release", "list", "--server", addr)
	if code != cli.ExitFailure || !strings.Contains(errOut, "cannot reach Release Desk at "+addr+": ") {
		t.Fatalf("unreachable: exit %d: %s", code, errOut)
	}
	if code, _, errOut := runIn(t, "", "release", "list", "--server", "ftp://x"); code != cli.ExitUsage {
		t.Fatalf("bad --server: exit %d: %s", code, errOut)
	}

	// Self-approval: admin may do everything but approve a release they opened.
	e.Must("admin", "release", "open", "--project", "shop", "--branch", "own", "--create-branch", "--title", "Own work")
	e.deployJSON("admin", "release", "deploy", "2", "--env", "test")
	e.Must("tess", "release", "test", "2", "--pass")
	code, _, errOut = e.as("admin", "release", "approve", "2")
	if code != cli.ExitFailure || !strings.Contains(errOut, "refused by the rule: nobody approves their own release") {
		t.Fatalf("self-approval: exit %d: %s", code, errOut)
	}

	// project apply: an invalid file names every problem; nothing changes.
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("id: shop\nrepo: /srv/shop.git\nbranch: master\nstrategy: ftp\nkeep_releases: -1\n"+
		"colour: red\nenvironments:\n  - name: test\n    path: relative/dir\n"), 0o600)
	code, out, errOut := e.as("admin", "project", "apply", "-f", bad)
	if code != cli.ExitFailure {
		t.Fatalf("invalid project: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, w := range []string{"\n  strategy: ", "\n  keep_releases: ", "\n  colour: unknown field", "\n  environments[0].path: "} {
		if !strings.Contains(errOut, w) {
			t.Errorf("invalid project: stderr lacks %q:\n%s", w, errOut)
		}
	}
	// A valid change prints its diff; applying it again changes nothing.
	cfg, err := app.DemoProjectConfig(filepath.Join(e.data, "demo"), filepath.Join(e.data, "demo", "shop.git"))
	if err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "shop.json")
	os.WriteFile(good, bytes.Replace(cfg, []byte(`"keep_releases":5`), []byte(`"keep_releases":3`), 1), 0o600)
	if code, _, errOut := e.as("dev", "project", "apply", "-f", good); code != cli.ExitFailure || !strings.Contains(errOut, "refused by the rule") {
		t.Fatalf("developer configuring: exit %d: %s", code, errOut)
	}
	if out := e.Must("admin", "project", "apply", "-f", good, "--dry-run"); !strings.Contains(out, "keep_releases") {
		t.Fatalf("dry run: %s", out)
	}
	if out := e.Must("admin", "project", "apply", "-f", good); !strings.Contains(out, "project shop: changed") ||
		!strings.Contains(out, "keep_releases") {
		t.Fatalf("apply: %s", out)
	}
	if out := e.Must("admin", "project", "apply", "-f", good); !strings.Contains(out, "project shop: unchanged") {
		t.Fatalf("apply again: %s", out)
	}
}

// TestCLIUserAdd: the first admin without a server; a second add of one
// name refuses; a server owning the data directory is named.
func TestCLIUserAdd(t *testing.T) {
	data := t.TempDir()
	code, out, errOut := runIn(t, "", "user", "add", "--name", "root", "--admin", "--data", data, "--log-level", "warning")
	if code != cli.ExitOK || !strings.Contains(out, "user root created (admin)") {
		t.Fatalf("user add: exit %d\n%s\n%s", code, out, errOut)
	}
	_, generated, _ := strings.Cut(out, "password: ")
	generated, _, _ = strings.Cut(generated, "\n")
	if len(generated) < 20 {
		t.Fatalf("no generated password in %q", out)
	}
	code, _, errOut = runIn(t, "other-password-1\n", "user", "add", "--name", "root", "--password-stdin", "--data", data)
	if code != cli.ExitFailure || !strings.Contains(errOut, "user root already exists") {
		t.Fatalf("second add: exit %d: %s", code, errOut)
	}
	for _, c := range []struct {
		args []string
		want int
		err  string
	}{
		{[]string{"user", "add"}, cli.ExitUsage, "--name"},
		{[]string{"user", "add", "--name", "dev", "--role", "shop"}, cli.ExitUsage, "project=role"},
		{[]string{"user", "add", "--name", "dev", "--role", "shop=boss"}, cli.ExitFailure, "unknown role"},
		{[]string{"user", "add", "--name", "Dev!"}, cli.ExitFailure, "name"},
	} {
		code, _, errOut := runIn(t, "", append(c.args, "--data", data)...)
		if code != c.want || !strings.Contains(errOut, c.err) {
			t.Errorf("%v: exit %d (want %d): %s", c.args, code, c.want, errOut)
		}
	}
	code, out, errOut = runIn(t, "dev-password-1\n", "user", "add", "--name", "dev", "--role", "shop=developer,shop=tester",
		"--password-stdin", "--data", data)
	if code != cli.ExitOK || strings.Contains(out, "password:") || !strings.Contains(out, "shop: developer, tester") {
		t.Fatalf("user add with roles: exit %d\n%s\n%s", code, out, errOut)
	}

	// Both can sign in to a server on that data directory, with the
	// passwords given; while it runs, user add is refused and says why.
	desk, err := app.OpenDesk(context.Background(), app.DeskConfig{Data: app.DataDir{Path: data}, Logger: apitest.Logger(), NoRunner: true})
	if err != nil {
		t.Fatal(err)
	}
	defer desk.Close()
	srv := httptest.NewServer(httpapi.NewServer(httpapi.ServerConfig{Desk: desk, Assets: apitest.Assets(), Logger: apitest.Logger()}))
	defer srv.Close()
	for user, pw := range map[string]string{"root": generated, "dev": "dev-password-1"} {
		if code, out, errOut := runIn(t, pw+"\n", "login", "--user", user, "--server", srv.URL, "--json"); code != cli.ExitOK ||
			!strings.Contains(out, `"token"`) {
			t.Fatalf("login %s: exit %d %s %s", user, code, out, errOut)
		}
	}
	if code, _, errOut := runIn(t, "wrong-password\n", "login", "--user", "dev", "--server", srv.URL); code != cli.ExitFailure {
		t.Fatalf("login with a wrong password: exit %d %s", code, errOut)
	}
	code, _, errOut = runIn(t, "", "user", "add", "--name", "carol", "--data", data)
	if code != cli.ExitFailure || !strings.Contains(errOut, "in use by pid") || !strings.Contains(errOut, "stop that server first") {
		t.Fatalf("user add beside a server: exit %d: %s", code, errOut)
	}
}

// TestCLIHostsTrust: a real sshd's key is shown, trusted by an admin only
// after its fingerprint is printed, and a changed key is flagged and
// trusted again with --key.
func TestCLIHostsTrust(t *testing.T) {
	e := startCLIDemo(t)
	c := sshtest.Start(t, 1)
	addr := c.Hosts[0].Addr
	fp := ssh.FingerprintSHA256(c.HostKey(0))

	if out := e.Must("dev", "hosts", "key", addr); !strings.Contains(out, fp) || !strings.Contains(out, "(unknown)") {
		t.Fatalf("hosts key: %s", out)
	}
	// Without --yes the answer comes from stdin: none is no.
	code, out, errOut := e.as("admin", "hosts", "trust", addr)
	if code != cli.ExitFailure || !strings.Contains(out, fp) || !strings.Contains(errOut, "not trusted") {
		t.Fatalf("trust without an answer: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, _, errOut := e.as("dev", "hosts", "trust", addr, "--yes"); code != cli.ExitFailure || !strings.Contains(errOut, "refused by the rule") {
		t.Fatalf("developer trusting: exit %d: %s", code, errOut)
	}
	if out := e.Must("admin", "hosts", "trust", addr, "--yes"); !strings.Contains(out, "trusted "+addr+": "+fp) {
		t.Fatalf("trust: %s", out)
	}
	if out := e.Must("dev", "hosts", "key", addr); !strings.Contains(out, "(trusted)") {
		t.Fatalf("hosts key after trust: %s", out)
	}
	if out := e.Must("admin", "hosts", "trust", addr, "--yes"); !strings.Contains(out, "already trusted") {
		t.Fatalf("trust again: %s", out)
	}

	line := c.RotateHostKey(0)
	newFP := ssh.FingerprintSHA256(c.HostKey(0))
	if out := e.Must("dev", "hosts", "key", addr); !strings.Contains(out, "(changed)") || !strings.Contains(out, "WARNING") {
		t.Fatalf("hosts key after rotation: %s", out)
	}
	_, key, _ := strings.Cut(line, " ")
	if out := e.Must("admin", "hosts", "trust", addr, "--key", key); !strings.Contains(out, newFP) {
		t.Fatalf("trust --key: %s", out)
	}
	if out := e.Must("dev", "hosts", "key", addr); !strings.Contains(out, "(trusted)") {
		t.Fatalf("hosts key after trusting the new key: %s", out)
	}
}

// TestCLIDeploymentVerbs: deployment list (filters, table and JSON),
// cancel (a reason required; a finished one refused) and retry (the
// failed hosts, followed to the end), against the demo's server.
func TestCLIDeploymentVerbs(t *testing.T) {
	e := startCLIDemo(t)
	// A file where the test environment's directory goes: the deployment fails.
	if err := os.MkdirAll(filepath.Dir(e.target("test")), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.target("test"), []byte("not a directory\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := e.as("dev", "release", "deploy", "1", "--env", "test", "--wait", "--json")
	var dep map[string]any
	if err := json.Unmarshal([]byte(out), &dep); code != cli.ExitFailure || err != nil || dep["state"] != "failed" {
		t.Fatalf("a deployment to a file: exit %d %v\n%s\n%s", code, err, out, errOut)
	}
	id := apitest.Str(dep, "id")

	list := e.Must("dev", "deployment", "list", "--project", "shop", "--state", "failed")
	if !strings.Contains(list, "ID") || !strings.Contains(list, id) || !strings.Contains(list, "failed") {
		t.Fatalf("deployment list: %s", list)
	}
	var page httpapi.DeploymentList
	if err := json.Unmarshal([]byte(e.Must("dev", "deployment", "list", "--state", "succeeded", "--json")), &page); err != nil || page.Total != 0 {
		t.Fatalf("no deployment succeeded yet: %+v %v", page, err)
	}
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"deployment", "list", "--limit", "-1"}, cli.ExitUsage, "--limit"},
		{[]string{"deployment", "list", "--state", "sleeping"}, cli.ExitFailure, "state"},
		{[]string{"deployment", "cancel", id}, cli.ExitUsage, "--reason"},
		{[]string{"deployment", "cancel", id, "--reason", "too late"}, cli.ExitFailure, id},
		{[]string{"deployment", "retry"}, cli.ExitUsage, "ID"},
		{[]string{"deployment", "retry", "d999"}, cli.ExitFailure, "d999"},
	} {
		if code, _, errOut := e.as("dev", c.args...); code != c.code || !strings.Contains(errOut, c.says) {
			t.Errorf("%v: exit %d (want %d): %s", c.args, code, c.code, errOut)
		}
	}

	// The directory back: the retry finishes the failed host.
	if err := os.Remove(e.target("test")); err != nil {
		t.Fatal(err)
	}
	out = e.Must("dev", "deployment", "retry", id, "--wait")
	if !strings.Contains(out, "retrying "+id) || !strings.Contains(out, "succeeded") {
		t.Fatalf("retry: %s", out)
	}
	if list := e.Must("dev", "deployment", "list", "--env", "test"); !strings.Contains(list, id) || !strings.Contains(list, "succeeded") {
		t.Fatalf("after the retry: %s", list)
	}
}

// TestCLIAccountVerbs: token create (printed once, usable), list and
// revoke; password (current and new on stdin: sessions end, the new one
// signs in); versions bad. Bad input exits 2 naming the flag.
func TestCLIAccountVerbs(t *testing.T) {
	e := startCLIDemo(t)
	tok := strings.TrimSpace(e.Must("dev", "token", "create", "--name", "ci", "--days", "30"))
	if !strings.HasPrefix(tok, "rd_") {
		t.Fatalf("token create printed %q", tok)
	}
	t.Setenv("RELEASEDESK_TOKEN", tok)
	code, list, errOut := runIn(t, "", "token", "list", "--server", e.URL)
	if code != cli.ExitOK || !strings.Contains(list, "personal") || !strings.Contains(list, "ci") || strings.Contains(list, tok) {
		t.Fatalf("token list with the new token: exit %d\n%s%s", code, list, errOut)
	}
	var tokens httpapi.TokenList
	if err := json.Unmarshal([]byte(e.Must("dev", "token", "list", "--json")), &tokens); err != nil {
		t.Fatal(err)
	}
	id := ""
	for _, x := range tokens.Tokens {
		if x.Name == "ci" {
			id = x.ID
		}
	}
	if out := e.Must("dev", "token", "revoke", id); !strings.Contains(out, "revoked "+id) {
		t.Fatalf("revoke: %s", out)
	}
	t.Setenv("RELEASEDESK_TOKEN", tok)
	if code, _, errOut := runIn(t, "", "token", "list", "--server", e.URL); code != cli.ExitFailure || !strings.Contains(errOut, "revoked") {
		t.Fatalf("a revoked token still works: exit %d %s", code, errOut)
	}

	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"token", "create"}, "--name"},
		{[]string{"token", "create", "--name", "x", "--days", "-3"}, "--days"},
		{[]string{"token", "revoke"}, "ID"},
		{[]string{"versions", "bad", "--project", "shop", "--env", "test", "--version", "v1"}, "--reason"},
	} {
		if code, _, errOut := e.as("dev", c.args...); code != cli.ExitUsage || !strings.Contains(errOut, c.says) {
			t.Errorf("%v: exit %d: %s", c.args, code, errOut)
		}
	}

	// Mark a version bad: first one to mark.
	test1 := e.deployJSON("dev", "release", "deploy", "1", "--env", "test")
	version := apitest.Str(test1, "version")
	if out := e.Must("tess", "versions", "bad", "--project", "shop", "--env", "test", "--version", version, "--reason", "slow"); !strings.Contains(out, "marked bad") {
		t.Fatalf("versions bad: %s", out)
	}
	if out := e.Must("tess", "versions", "--project", "shop", "--env", "test"); !strings.Contains(out, "bad") {
		t.Fatalf("the timeline after marking: %s", out)
	}

	// Password: wrong current refused; then changed, the old session ends.
	old := e.token("dev")
	t.Setenv("RELEASEDESK_TOKEN", old)
	if code, _, errOut := runIn(t, "wrong\nnew-password-42\n", "password", "--server", e.URL); code != cli.ExitFailure || errOut == "" {
		t.Fatalf("a wrong current password: exit %d %s", code, errOut)
	}
	if code, _, errOut := runIn(t, e.pw["dev"]+"\n", "password", "--server", e.URL); code != cli.ExitUsage || !strings.Contains(errOut, "two lines") {
		t.Fatalf("one line: exit %d %s", code, errOut)
	}
	code, out, errOut := runIn(t, e.pw["dev"]+"\nnew-password-42\n", "password", "--server", e.URL)
	if code != cli.ExitOK || !strings.Contains(out, "password of dev changed") {
		t.Fatalf("password: exit %d %s %s", code, out, errOut)
	}
	if code, _, _ := runIn(t, "", "token", "list", "--server", e.URL); code != cli.ExitFailure {
		t.Fatalf("the old session still works after the password changed")
	}
	if code, out, errOut := runIn(t, "new-password-42\n", "login", "--user", "dev", "--server", e.URL); code != cli.ExitOK || !strings.HasPrefix(out, "rd_") {
		t.Fatalf("login with the new password: exit %d %s", code, errOut)
	}
}

// TestCLIHostsDrift: hosts drift reads what the hosts run: ok after a
// deployment (exit 0), DRIFTED after someone switched a host by hand
// (exit 1, for a cron job); bad flags exit 2, an unknown environment 1.
// (Refusals by role: e2e TestChaosAuthorization.)
func TestCLIHostsDrift(t *testing.T) {
	e := startCLIDemo(t)
	test1 := e.deployJSON("dev", "release", "deploy", "1", "--env", "test")
	version := apitest.Str(test1, "version")
	out := e.Must("tess", "hosts", "drift", "--project", "shop", "--env", "test")
	if !strings.Contains(out, "HOST") || !strings.Contains(out, version) || !strings.Contains(out, "ok") {
		t.Fatalf("drift after a deployment: %s", out)
	}
	// Someone points current elsewhere by hand.
	other := filepath.Join(e.target("test"), "releases", "20200101000000-aaaaaaa")
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	cur := filepath.Join(e.target("test"), "current")
	if err := os.Remove(cur); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("releases", "20200101000000-aaaaaaa"), cur); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := e.as("tess", "hosts", "drift", "--project", "shop", "--env", "test")
	if code != cli.ExitFailure || !strings.Contains(out, "DRIFTED") || !strings.Contains(errOut, "1 of 1 hosts of shop/test drifted") {
		t.Fatalf("drift after a hand switch: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, _, errOut := e.as("tess", "hosts", "drift", "--project", "shop"); code != cli.ExitUsage || !strings.Contains(errOut, "--env") {
		t.Fatalf("no --env: exit %d %s", code, errOut)
	}
	if code, _, errOut := e.as("tess", "hosts", "drift", "--project", "shop", "--env", "nowhere"); code != cli.ExitFailure || !strings.Contains(errOut, "nowhere") {
		t.Fatalf("an unknown environment: exit %d %s", code, errOut)
	}
}

// TestCLIHostsUnlock: hosts unlock breaks a stale host lock (admins only)
// on one host or with --all, says what it found, and prints the server's
// answer with --json; flags that do not fit exit 2, a refusal 1.
func TestCLIHostsUnlock(t *testing.T) {
	e := startCLIDemo(t)
	lockDir := filepath.Join(e.target("test"), ".releasedesk", "lock")
	stale := func() {
		t.Helper()
		if err := os.MkdirAll(lockDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(lockDir, "info"), []byte("deployment=d9\nholder=ghost\nsince=2026-11-26T09:58:00Z\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stale()
	for _, c := range []struct {
		user  string
		args  []string
		code  int
		words string
	}{
		{"dev", []string{"local", "--project", "shop", "--env", "test", "--reason", "stale"}, cli.ExitFailure, "breaking a deploy lock needs the admin role"},
		{"admin", []string{"local", "--project", "shop", "--env", "test"}, cli.ExitUsage, "--reason"},
		{"admin", []string{"--project", "shop", "--env", "test", "--reason", "stale"}, cli.ExitUsage, "ADDR (a host of the environment) or --all"},
		{"admin", []string{"local", "--all", "--project", "shop", "--env", "test", "--reason", "stale"}, cli.ExitUsage, "not both"},
		{"admin", []string{"www@10.0.0.9:22", "--project", "shop", "--env", "test", "--reason", "stale"}, cli.ExitFailure, "is not a host of environment test of shop"},
	} {
		code, _, errOut := e.as(c.user, append([]string{"hosts", "unlock"}, c.args...)...)
		if code != c.code || !strings.Contains(errOut, c.words) {
			t.Errorf("%s %v: exit %d %s, want %d %q", c.user, c.args, code, errOut, c.code, c.words)
		}
	}
	if _, err := os.Stat(lockDir); err != nil {
		t.Fatalf("a refused unlock touched the lock: %v", err)
	}
	out := e.Must("admin", "hosts", "unlock", "local", "--project", "shop", "--env", "test", "--reason", "d9 died")
	if !strings.Contains(out, "local") || !strings.Contains(out, "removed the lock of deployment d9 (ghost, since 2026-11-26T09:58:00Z)") {
		t.Fatalf("unlock: %s", out)
	}
	if _, err := os.Stat(lockDir); !os.IsNotExist(err) {
		t.Fatalf("the lock is still there: %v", err)
	}
	stale()
	out = e.Must("admin", "hosts", "unlock", "--all", "--project", "shop", "--env", "test", "--reason", "again", "--json")
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	hosts, _ := res["broken"].(map[string]any)["hosts"].([]any)
	if len(hosts) != 1 || apitest.Str(hosts[0].(map[string]any), "deployment") != "d9" || len(res["unreachable"].([]any)) != 0 {
		t.Fatalf("--all --json: %s", out)
	}
	if out := e.Must("admin", "hosts", "unlock", "--help"); !strings.Contains(out, "--all") || !strings.Contains(out, "lock.broken") {
		t.Fatalf("--help: %s", out)
	}
}
