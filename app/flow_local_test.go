package app

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// gitRepo makes a real repository with a mainline "master" of one commit
// and returns its path.
func gitRepo(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=dev", "GIT_AUTHOR_EMAIL=dev@example.invalid",
			"GIT_COMMITTER_NAME=dev", "GIT_COMMITTER_EMAIL=dev@example.invalid")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	run("init", "-q", "-b", "master")
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("v1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run("add", ".")
	run("commit", "-q", "-m", "first")
	return dir
}

// gitCommit adds a commit to branch of repo (a non-bare repository).
func gitCommit(t *testing.T, repo, branch, file, content string) {
	t.Helper()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=dev", "GIT_AUTHOR_EMAIL=dev@example.invalid",
			"GIT_COMMITTER_NAME=dev", "GIT_COMMITTER_EMAIL=dev@example.invalid")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	run("checkout", "-q", branch)
	if err := os.WriteFile(filepath.Join(repo, file), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	run("add", ".")
	run("commit", "-q", "-m", "change "+file)
	run("checkout", "-q", "master")
}

func TestFlowLocalStrategy(t *testing.T) {
	e := newAPIEnv(t, apiOptions{})
	repo := gitRepo(t)
	root := e.login("root", rootPassword)
	target := t.TempDir()
	cfg := fmt.Sprintf(`id: shop
repo: %s
branch: master
strategy: local
keep_releases: 3
version_files: [VERSION]
environments:
  - name: test
    path: %s/test
  - name: production
    path: %s/prod
    approval: true
`, repo, target, target)
	e.must(http.StatusCreated, "PUT", "/api/v1/projects/shop", root, cfg)
	dev := e.addUser(root, "dev", false, map[string][]string{"shop": {"developer"}})
	tester := e.addUser(root, "tess", false, map[string][]string{"shop": {"tester"}})
	appr := e.addUser(root, "alice", false, map[string][]string{"shop": {"approver"}})
	mgr := e.addUser(root, "max", false, map[string][]string{"shop": {"manager"}})

	r := e.must(http.StatusCreated, "POST", "/api/v1/releases", dev,
		map[string]any{"project": "shop", "branch": "feature-1", "create_branch": true, "title": "First"})
	id := str(r.Body, "release", "id")
	r = e.must(http.StatusAccepted, "POST", "/api/v1/releases/"+id+"/deploy", dev, map[string]any{"env": "test"})
	dep := e.waitDeployment(dev, str(r.Body, "deployment"), time.Minute)
	if dep["state"] != "succeeded" {
		t.Fatalf("test deploy: %v", dep)
	}
	if r := e.call("POST", "/api/v1/releases/"+id+"/test", dev, map[string]any{"passed": true}); r.Status != 403 {
		t.Fatalf("developer testing: %d %s", r.Status, r.Raw)
	}
	e.must(http.StatusOK, "POST", "/api/v1/releases/"+id+"/test", tester, map[string]any{"passed": true, "note": "ok"})
	e.must(http.StatusOK, "POST", "/api/v1/releases/"+id+"/approve", appr, map[string]any{"note": "go"})
	r = e.must(http.StatusAccepted, "POST", "/api/v1/releases/"+id+"/deploy", appr, map[string]any{"env": "production"})
	dep = e.waitDeployment(appr, str(r.Body, "deployment"), time.Minute)
	if dep["state"] != "succeeded" {
		t.Fatalf("prod deploy: %v", dep)
	}
	version := str(r.Body, "version")
	e.must(http.StatusOK, "POST", "/api/v1/releases/"+id+"/accept", mgr, map[string]any{"note": "fine"})
	r = e.must(http.StatusOK, "POST", "/api/v1/releases/"+id+"/complete", mgr, nil)
	if str(r.Body, "release", "state") != "completed" || str(r.Body, "release", "tag") != "release/"+version {
		t.Fatalf("complete: %s", r.Raw)
	}
	cur, err := os.Readlink(filepath.Join(target, "prod", "current"))
	if err != nil || !strings.HasSuffix(cur, version) {
		t.Fatalf("prod current %q %v, want %s", cur, err, version)
	}
	out, err := exec.Command("git", "-C", repo, "rev-parse", "release/"+version+"^{commit}").CombinedOutput()
	if err != nil {
		t.Fatalf("tag missing: %v %s", err, out)
	}
}
