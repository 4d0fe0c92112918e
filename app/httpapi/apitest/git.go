//go:build linux

package apitest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// GitRepo makes a real repository (with git's own command line) whose
// mainline "master" has one commit holding files (nil: an index.html of
// "v1\n"), and returns its path.
func GitRepo(t testing.TB, files map[string]string) string {
	t.Helper()
	if files == nil {
		files = map[string]string{"index.html": "v1\n"}
	}
	dir := filepath.Join(t.TempDir(), "repo")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	Git(t, dir, "init", "-q", "-b", "master")
	GitCommit(t, dir, "", files, "first")
	return dir
}

// GitCommit writes files on branch of repo ("": the branch checked out)
// and commits them with msg; repo is left on the branch it was on.
func GitCommit(t testing.TB, repo, branch string, files map[string]string, msg string) {
	t.Helper()
	if branch != "" {
		Git(t, repo, "checkout", "-q", branch)
		defer Git(t, repo, "checkout", "-q", "-")
	}
	for name, content := range files {
		p := filepath.Join(repo, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	Git(t, repo, "add", "-A")
	Git(t, repo, "commit", "-q", "-m", msg)
}

// Git runs git in dir as the tests' developer.
func Git(t testing.TB, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=dev", "GIT_AUTHOR_EMAIL=dev@example.invalid",
		"GIT_COMMITTER_NAME=dev", "GIT_COMMITTER_EMAIL=dev@example.invalid")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}
