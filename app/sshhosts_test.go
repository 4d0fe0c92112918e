package app_test

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"releasedesk/app/httpapi/apitest"
	"releasedesk/runner/sshtest"
)

// Helpers for flows over real sshd hosts: a project whose environments
// are slices of one sshtest cluster, trusting host keys through the API,
// and reading what a host really runs from its own disk.

// sshProjectConfig is project "shop" over rsync: test on hosts[testHosts],
// production (approval) on hosts[prodHosts]. Every host has its own path
// (the hosts share this machine's filesystem); the post_release hook
// appends the version to a shared log, which outlives releases.
func sshProjectConfig(repo string, c *sshtest.Cluster, testHosts, prodHosts []int) string {
	hosts := func(idx []int) string {
		var b strings.Builder
		for _, i := range idx {
			fmt.Fprintf(&b, "      - {addr: %q, path: %q}\n", c.Hosts[i].Addr, c.Hosts[i].Path)
		}
		return b.String()
	}
	// The environments' own path is never used: every host overrides it.
	unused := filepath.Join(c.Dir, "unused")
	return fmt.Sprintf(`id: shop
title: Shop
repo: %q
branch: master
strategy: rsync
keep_releases: 3
version_files: [VERSION]
shared: [storage/logs/]
hooks:
  post_release: 'echo "$RELEASEDESK_VERSION" >> storage/logs/post_release.log'
environments:
  - name: test
    path: %q
    ssh_key: %q
    hosts:
%s  - name: production
    path: %q
    ssh_key: %q
    approval: true
    hosts:
%s`, repo, unused, c.KeyPath, hosts(testHosts), unused, c.KeyPath, hosts(prodHosts))
}

// hostKeyState asks GET /api/v1/hosts/key about host i and checks the
// offered key is the one the host really has.
func hostKeyState(e *apitest.Env, token string, c *sshtest.Cluster, i int) map[string]any {
	e.T.Helper()
	r := e.Must(http.StatusOK, "GET", "/api/v1/hosts/key?addr="+url.QueryEscape(c.Hosts[i].Addr), token, nil)
	if got, want := apitest.Str(r.Body, "fingerprint"), ssh.FingerprintSHA256(c.HostKey(i)); got != want {
		e.T.Fatalf("host %d offers %s, its key is %s", i, got, want)
	}
	return r.Body
}

// assertHostRuns checks, on host i's own disk, that current points to
// releases/<version> and that the release's VERSION file holds it.
func assertHostRuns(t *testing.T, c *sshtest.Cluster, i int, version string) {
	t.Helper()
	path := c.Hosts[i].Path
	link, err := os.Readlink(filepath.Join(path, "current"))
	if err != nil {
		t.Fatalf("host %d: current: %v", i, err)
	}
	if filepath.Clean(link) != filepath.Join("releases", version) && filepath.Clean(link) != filepath.Join(path, "releases", version) {
		t.Fatalf("host %d: current -> %s, want releases/%s", i, link, version)
	}
	b, err := os.ReadFile(filepath.Join(path, "current", "VERSION"))
	if err != nil {
		t.Fatalf("host %d: VERSION: %v", i, err)
	}
	if got := strings.TrimSpace(string(b)); got != version {
		t.Fatalf("host %d: VERSION holds %q, want %q", i, got, version)
	}
}

// assertHookRan checks host i's post_release hook logged version.
func assertHookRan(t *testing.T, c *sshtest.Cluster, i int, version string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.Hosts[i].Path, "shared", "storage", "logs", "post_release.log"))
	if err != nil {
		t.Fatalf("host %d: post_release log: %v", i, err)
	}
	if !strings.Contains(string(b), version+"\n") {
		t.Fatalf("host %d: post_release log %q lacks %s", i, b, version)
	}
}

// deployAndWait asks for a deployment of release id to env as token and
// waits for it; it fails the test unless the deployment ends in want.
// It returns the deploy answer and the finished deployment.
func deployAndWait(e *apitest.Env, token, id, env, want string) (map[string]any, map[string]any) {
	e.T.Helper()
	r := e.Must(http.StatusAccepted, "POST", "/api/v1/releases/"+id+"/deploy", token, map[string]any{"env": env})
	dep := e.WaitDeployment(token, apitest.Str(r.Body, "deployment"), 2*time.Minute)
	if dep["state"] != want {
		e.T.Fatalf("deploy release %s to %s: %v, want %s: %v", id, env, dep["state"], want, dep)
	}
	return r.Body, dep
}

// gitRev resolves a revision of repo to its commit.
func gitRev(t *testing.T, repo, rev string) string {
	t.Helper()
	out, err := exec.Command("git", "-C", repo, "rev-parse", "--verify", rev+"^{commit}").CombinedOutput()
	if err != nil {
		t.Fatalf("git rev-parse %s: %v %s", rev, err, out)
	}
	return strings.TrimSpace(string(out))
}

// refused calls and checks the answer is status with a message holding
// every one of words.
func refused(e *apitest.Env, status int, method, path, token string, body any, words ...string) apitest.Resp {
	e.T.Helper()
	r := e.Call(method, path, token, body)
	if r.Status != status {
		e.T.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, status, r.Raw)
	}
	for _, w := range words {
		if !strings.Contains(r.ErrMessage(), w) {
			e.T.Fatalf("%s %s: message %q lacks %q", method, path, r.ErrMessage(), w)
		}
	}
	return r
}

// localProjectConfig is project "shop" with the local strategy: test and
// production (approval) in two directories of target.
func localProjectConfig(repo, target string) string {
	return fmt.Sprintf(`id: shop
repo: %q
branch: master
strategy: local
keep_releases: 3
version_files: [VERSION]
environments:
  - name: test
    path: %q
  - name: production
    path: %q
    approval: true
`, repo, filepath.Join(target, "test"), filepath.Join(target, "prod"))
}

// assertLocalRuns checks a local target runs version with index.html
// holding content.
func assertLocalRuns(t *testing.T, path, version, content string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(path, "current", "VERSION"))
	if err != nil || strings.TrimSpace(string(b)) != version {
		t.Fatalf("%s runs %q (%v), want %s", path, b, err, version)
	}
	if b, err := os.ReadFile(filepath.Join(path, "current", "index.html")); err != nil || string(b) != content {
		t.Fatalf("index.html holds %q (%v), want %q", b, err, content)
	}
}
