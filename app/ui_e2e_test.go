package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"releasedesk/app/cli"
	"releasedesk/app/httpapi/apitest"
	"releasedesk/events"
	"releasedesk/runner/sshtest"
)

// TestUIEndToEnd drives the built UI (frontend/dist) in real headless
// Chromium through frontend/e2e/run.mjs (playwright-core and Debian's
// chromium) against a real desk and HTTP server, six real sshd hosts
// and a real git repository: four people walk the eight-step flow by
// clicking, follow deployments live, roll production back from the
// versions timeline and export the audit CSV; then the exported log is
// opened with `releasedesk open` and reviewed read-only. Screenshots,
// the CSV, the server's log and the results go to build/artifacts/ui/.
func TestUIEndToEnd(t *testing.T) {
	root := repoRoot(t)
	dist := filepath.Join(root, "frontend", "dist")
	if _, err := os.Stat(filepath.Join(dist, "index.html")); err != nil {
		t.Fatalf("frontend/dist/index.html is missing: build the UI first (make frontend, or cd frontend && npm ci && npm run build): %v", err)
	}
	node := uiPrerequisites(t, root)
	artifacts := filepath.Join(root, "build", "artifacts", "ui")
	if err := os.RemoveAll(artifacts); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	// A snapshot of the build: a rebuild of frontend/dist during the run
	// (a developer's, in this tree) cannot pull assets from under the page.
	snapshot := filepath.Join(t.TempDir(), "dist")
	if err := os.CopyFS(snapshot, os.DirFS(dist)); err != nil {
		t.Fatalf("copy frontend/dist: %v", err)
	}
	if !fileExists(filepath.Join(snapshot, "index.html")) {
		t.Fatalf("frontend/dist changed while it was copied: run the test again once the build is done")
	}
	assets := os.DirFS(snapshot)

	// The desk and its server, logging to an artifact for diagnosis.
	logFile, err := os.Create(filepath.Join(artifacts, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logFile.Close() })
	logger := logrus.New()
	logger.SetOutput(logFile)
	// Debug: every request is logged, so the check below that no token,
	// ticket or secret reaches a log line covers every request of the flow.
	logger.SetLevel(logrus.DebugLevel)
	e := apitest.New(t, apitest.Options{Assets: assets, Logger: logger})

	// Six hosts, the repository, the project, the people; the keys of the
	// five in the project trusted, the sixth (spare) left for the UI to
	// add to the project and trust.
	c := sshtest.Start(t, 6)
	repo := apitest.GitRepo(t, nil)
	// A branch with a commit of its own, for the second release (opened
	// from an existing branch; the first one creates its branch).
	gitBranch(t, repo, "feature-2")
	apitest.GitCommit(t, repo, "feature-2", map[string]string{"search.html": "search\n"}, "change search.html")
	rootTok := e.Login("root", apitest.RootPassword)
	testHosts, prodHosts := []int{0, 1}, []int{2, 3, 4}
	// A pre_release hook that prints, so every host has output to show.
	cfg := strings.Replace(sshProjectConfig(repo, c, testHosts, prodHosts), "hooks:\n",
		"hooks:\n  pre_release: 'echo \"releasing $RELEASEDESK_VERSION on $(hostname)\"; ls'\n", 1)
	e.Must(http.StatusCreated, "PUT", "/api/v1/projects/shop", rootTok, cfg)
	type person struct {
		Name     string `json:"name"`
		Password string `json:"password"`
	}
	people := map[string]person{"admin": {"root", apitest.RootPassword}}
	for _, p := range []struct {
		role, name string
		roles      []string
	}{
		// The developer also holds tester and approver: the UI must still
		// not offer them a test result or an approval of their own release.
		{"developer", "dev", []string{"developer", "tester", "approver"}},
		{"tester", "tess", []string{"tester"}},
		{"approver", "alice", []string{"approver"}},
		{"manager", "max", []string{"manager"}},
	} {
		e.AddUser(rootTok, p.name, false, map[string][]string{"shop": p.roles})
		people[p.role] = person{p.name, p.name + "-password-1"}
	}
	e.As(rootTok).TrustHosts(c, append(slices.Clone(testHosts), prodHosts...)...)

	usersJSON, _ := json.Marshal(people)
	spareJSON := func() string {
		b, _ := json.Marshal(map[string]string{"addr": c.Hosts[5].Addr, "path": c.Hosts[5].Path})
		return string(b)
	}()
	hostsJSON := func(idx []int) string {
		b, _ := json.Marshal(addrsOf(c, idx))
		return string(b)
	}
	env := []string{
		"RD_USERS=" + string(usersJSON),
		"RD_PROJECT=shop",
		"RD_TEST_ENV=test",
		"RD_PROD_ENV=production",
		"RD_TEST_HOSTS=" + hostsJSON(testHosts),
		"RD_PROD_HOSTS=" + hostsJSON(prodHosts),
		"RD_REPO=" + repo,
		"RD_EXISTING_BRANCH=feature-2",
		"RD_SPARE_HOST=" + spareJSON,
		"RD_ARTIFACTS=" + artifacts,
	}

	start := time.Now()
	onlineOK := runE2E(t, node, root, "online", append(env, "RD_BASE_URL="+e.URL))
	t.Logf("online scenarios: %v", time.Since(start).Round(time.Second))

	// The audit screen's JSONL download must verify like the API's export.
	if ui := filepath.Join(artifacts, "audit-ui.jsonl"); fileExists(ui) {
		if report, err := events.VerifyArchive(ui); err != nil || !report.OK() {
			t.Errorf("the JSONL the audit screen downloaded does not verify: %v %v", err, report.Err())
		}
	}

	// Offline review: the log exported, opened with `releasedesk open`.
	// An open release goes in first: online its requester could deploy or
	// cancel it, so offline its page must offer nothing.
	devTok := e.Login(people["developer"].Name, people["developer"].Password)
	open := e.Must(http.StatusCreated, "POST", "/api/v1/releases", devTok,
		map[string]any{"project": "shop", "branch": "feature-3", "create_branch": true, "title": "Third, still open"})
	if a := open.Body["actions"]; !strings.Contains(fmt.Sprint(a), "cancel") {
		t.Fatalf("the open release offers its requester %v online, want cancel among them", a)
	}
	export := e.Must(http.StatusOK, "GET", "/api/v1/audit/export?format=jsonl", rootTok, nil)
	archive := filepath.Join(artifacts, "audit.jsonl")
	if err := os.WriteFile(archive, export.Raw, 0o600); err != nil {
		t.Fatal(err)
	}
	offURL, reviewURL, reviewLog, stop := openArchive(t, assets, archive)
	start = time.Now()
	offlineOK := runE2E(t, node, root, "offline", append(env, "RD_OFFLINE_URL="+offURL, "RD_REVIEW_URL="+reviewURL,
		"RD_OFFLINE_RELEASE="+apitest.Str(open.Body, "release", "id")))
	stop()
	t.Logf("offline scenarios: %v", time.Since(start).Round(time.Second))

	// No credential reached the server's log, nor the review process's.
	logFile.Sync()
	serverLog, err := os.ReadFile(filepath.Join(artifacts, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	for name, log := range map[string]string{"the server's log": string(serverLog), "the review's log": reviewLog()} {
		if m := apitest.CredentialShape.FindString(log); m != "" {
			t.Errorf("%s holds a credential: %s", name, m)
		}
		if strings.Contains(log, rootTok) {
			t.Errorf("%s holds root's session token", name)
		}
	}
	if n := strings.Count(string(serverLog), "msg=request"); n < 100 {
		t.Errorf("the server's log shows only %d requests: the credential check read too little", n)
	}

	if !onlineOK || !offlineOK {
		t.Fatalf("UI end-to-end scenarios failed (online ok: %v, offline ok: %v): see the log above and the screenshots in build/artifacts/ui/", onlineOK, offlineOK)
	}
}

// loopbackURL is u with its host (an unspecified address) made 127.0.0.1.
func loopbackURL(t *testing.T, u string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatalf("%q: %v", u, err)
	}
	p.Host = net.JoinHostPort("127.0.0.1", p.Port())
	return p.String()
}

// repoRoot is the repository's top directory (go test runs in ./app).
func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if fileExists(filepath.Join(dir, "go.mod")) && fileExists(filepath.Join(dir, "frontend", "package.json")) {
			return dir
		}
		if dir == filepath.Dir(dir) {
			t.Fatalf("cannot find the repository root above %s", wd)
		}
	}
}

// uiPrerequisites fails, naming what to install, unless node, chromium
// and playwright-core are there. It returns node's path.
func uiPrerequisites(t *testing.T, root string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed: the UI tests need Node.js 20 (scripts/setup.sh checks for it): %v", err)
	}
	chromium := os.Getenv("RD_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if !fileExists(chromium) {
		t.Fatalf("%s is missing: the UI tests need Debian's chromium (apt-get install chromium; scripts/setup.sh installs it)", chromium)
	}
	if !fileExists(filepath.Join(root, "frontend", "node_modules", "playwright-core", "package.json")) {
		t.Fatalf("frontend/node_modules/playwright-core is missing: run scripts/setup.sh (or cd frontend && npm ci)")
	}
	return node
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// runE2E runs `node e2e/run.mjs phase` in frontend/ with env, streaming
// its output into the test log; it reports whether it passed.
func runE2E(t *testing.T, node, root, phase string, env []string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("e2e", "run.mjs"), phase)
	cmd.Dir = filepath.Join(root, "frontend")
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			t.Log(sc.Text())
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	err := cmd.Run()
	pw.Close()
	wg.Wait()
	if ctx.Err() != nil {
		t.Errorf("e2e %s: killed after %v", phase, 6*time.Minute)
		return false
	}
	if err != nil {
		t.Logf("e2e %s: %v", phase, err)
		return false
	}
	return true
}

// openArchive runs `releasedesk open --addr 0.0.0.0:0 --insecure-http
// FILE` (its log at debug level) and returns its URL (no trailing slash)
// and the review link it printed, both on 127.0.0.1, its log so far, and
// a stop function.
func openArchive(t *testing.T, assets fs.FS, file string) (string, string, func() string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut apitest.Buffer
	done := make(chan int, 1)
	go func() {
		// On every interface, as plain HTTP on purpose: the review shows
		// the warning banner that comes with it.
		done <- cli.Main(ctx, assets, []string{"open", "--addr", "0.0.0.0:0", "--insecure-http", "--log-level", "debug", file},
			strings.NewReader(""), &out, &errOut)
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case code := <-done:
				if code != 0 {
					t.Errorf("releasedesk open exited %d: %s", code, errOut.String())
				}
			case <-time.After(10 * time.Second):
				t.Errorf("releasedesk open did not stop within 10 s")
			}
		})
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := apitest.ServingLine.FindStringSubmatch(out.String()); m != nil {
			review := apitest.ReviewLine.FindStringSubmatch(out.String())
			if review == nil {
				t.Fatalf("releasedesk open printed no review link: %q", out.String())
			}
			return loopbackURL(t, strings.TrimSuffix(m[1], "/")), loopbackURL(t, review[1]), errOut.String, stop
		}
		select {
		case code := <-done:
			t.Fatalf("releasedesk open %s exited %d: %s%s", filepath.Base(file), code, out.String(), errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("releasedesk open printed no URL: %q %q", out.String(), errOut.String())
	return "", "", errOut.String, stop
}
