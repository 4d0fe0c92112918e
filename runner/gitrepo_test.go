package runner

// Helpers that build real git repositories for tests, with the git CLI.
// Every repository lives in a t.TempDir(), on branch master; commits get a
// fixed author and committer ("Test <test@example.com>") and dates one
// minute apart, so logs have a definite order. No user or system git
// configuration is read.
//
//	dir, head := newTestRepo(t, map[string]string{"index.php": "<?php"})
//	next := commitFiles(t, dir, "second", map[string]string{"a.txt": "A"})
//	newBranch(t, dir, "release/1", "master")
//	origin, work, head := newTestOrigin(t, files) // a bare repo to push to
//	m := testMirror(t, dir)                       // a fetched Mirror of it

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"releasedesk/events/catalog"
)

// testCommitTime is the date of the first test commit; each git command
// run by gitCmd moves it on by a minute.
var (
	testCommitBase = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	testCommitSeq  atomic.Int64
)

// needGit skips the test when the git CLI is not installed (CI installs it).
func needGit(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath(gitBinary); err != nil {
		t.Skip("git is not installed")
	}
}

// gitCmd runs `git args...` in dir (no shell) with a clean, fixed
// environment and returns its standard output, trimmed. It fails the test
// on a non-zero exit, showing stderr.
func gitCmd(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := gitCmdErr(dir, nil, args...)
	if err != nil {
		t.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// gitCmdErr is gitCmd returning the error, with optional stdin.
func gitCmdErr(dir string, stdin []byte, args ...string) (string, error) {
	when := testCommitBase.Add(time.Duration(testCommitSeq.Add(1)) * time.Minute).Format(time.RFC3339)
	cmd := exec.Command(gitBinary, append([]string{
		"-c", "init.defaultBranch=master",
		"-c", "core.autocrlf=false",
		"-c", "core.symlinks=true",
		"-c", "commit.gpgsign=false",
		"-c", "tag.gpgsign=false",
		"-c", "protocol.file.allow=always",
	}, args...)...)
	cmd.Dir = dir
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env,
		"GIT_CONFIG_GLOBAL="+os.DevNull, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com", "GIT_AUTHOR_DATE="+when,
		"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com", "GIT_COMMITTER_DATE="+when,
	)
	if stdin != nil {
		cmd.Stdin = strings.NewReader(string(stdin))
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimRight(string(out), "\n"), nil
}

// newTestRepo makes a non-bare repository on branch master whose first
// commit holds files (path -> content; parent directories are made; see
// writeTestFile for executables and symlinks). It returns the directory
// and the commit's SHA.
func newTestRepo(t testing.TB, files map[string]string) (dir, head string) {
	t.Helper()
	needGit(t)
	dir = t.TempDir()
	gitCmd(t, dir, "init", "-q")
	return dir, commitFiles(t, dir, "initial", files)
}

// commitFiles writes files into the work tree of dir (overwriting), adds
// everything and commits with message msg; it returns the new head SHA.
// An empty map makes an empty commit.
func commitFiles(t testing.TB, dir, msg string, files map[string]string) string {
	t.Helper()
	for p, content := range files {
		writeTestFile(t, dir, p, content, 0o644)
	}
	return commitAll(t, dir, msg)
}

// writeTestFile writes one file into the work tree of dir, making parent
// directories. mode 0755 makes it executable; mode fs.ModeSymlink makes a
// symlink whose target is content. It does not commit.
func writeTestFile(t testing.TB, dir, path, content string, mode fs.FileMode) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(p)
	if mode&fs.ModeSymlink != 0 {
		if err := os.Symlink(content, p); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := os.WriteFile(p, []byte(content), mode.Perm()); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode.Perm()); err != nil {
		t.Fatal(err)
	}
}

// commitAll adds everything in dir's work tree and commits (empty commits
// allowed); it returns the new head SHA.
func commitAll(t testing.TB, dir, msg string) string {
	t.Helper()
	gitCmd(t, dir, "add", "-A")
	gitCmd(t, dir, "commit", "-q", "--allow-empty", "-m", msg)
	return gitCmd(t, dir, "rev-parse", "HEAD")
}

// newBranch creates branch name at from (a ref or SHA) in dir, without
// switching to it, and returns its SHA.
func newBranch(t testing.TB, dir, name, from string) string {
	t.Helper()
	gitCmd(t, dir, "branch", name, from)
	return gitCmd(t, dir, "rev-parse", "refs/heads/"+name)
}

// checkout switches dir's work tree to branch.
func checkout(t testing.TB, dir, branch string) {
	t.Helper()
	gitCmd(t, dir, "checkout", "-q", branch)
}

// newTestOrigin makes a bare repository (one that accepts pushes, like a
// project's real origin) and a non-bare work clone of it whose remote
// "origin" is it. Commit in work with commitFiles, then
// gitCmd(t, work, "push", "origin", "master") to change the origin.
func newTestOrigin(t testing.TB, files map[string]string) (origin, work, head string) {
	t.Helper()
	src, head := newTestRepo(t, files)
	origin = filepath.Join(t.TempDir(), "origin.git")
	gitCmd(t, src, "clone", "-q", "--bare", src, origin)
	work = filepath.Join(t.TempDir(), "work")
	gitCmd(t, src, "clone", "-q", origin, work)
	return origin, work, head
}

// testProject is a minimal project "demo" whose repository is repo.
func testProject(repo string) catalog.Project {
	return catalog.Project{ID: "demo", Repo: repo, Branch: "master", Strategy: catalog.StrategyLocal}
}

// testMirror opens a mirror of repo in a fresh workspace and fetches it.
func testMirror(t testing.TB, repo string) *Mirror {
	t.Helper()
	return testMirrorIn(t, Workspace{Dir: t.TempDir()}, repo)
}

// testMirrorIn opens and fetches the mirror of repo in workspace w.
func testMirrorIn(t testing.TB, w Workspace, repo string) *Mirror {
	t.Helper()
	m, err := OpenMirror(context.Background(), w, testProject(repo))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Fetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	return m
}

// newBigTestRepo makes a repository whose one commit holds files text
// files of about totalBytes in all (sizes vary, content is seeded
// pseudo-random words, so the same arguments give the same tree), in
// 10 x (files/1000+1) directories. It lives on tmpfs when the machine has
// one (this disk is slow for many small files). For benchmarks:
// newBigTestRepo(b, 5000, 50<<20).
func newBigTestRepo(tb testing.TB, files int, totalBytes int64) (dir, head string) {
	tb.Helper()
	needGit(tb)
	dir = filepath.Join(tmpfsTempDir(tb), "big")
	rng := rand.New(rand.NewPCG(uint64(files), uint64(totalBytes)))
	words := strings.Fields("func return if err nil the release host deploy { } ( ) := value string int64 for range package import")
	avg := int(totalBytes / int64(files))
	for i := range files {
		p := filepath.Join(dir, fmt.Sprintf("d%02d", i%10), fmt.Sprintf("s%d", i/1000), fmt.Sprintf("f%04d.txt", i))
		size := avg/10 + rng.IntN(avg*18/10+1)
		b := make([]byte, 0, size+16)
		for len(b) < size {
			if rng.IntN(4) == 0 {
				b = append(b, byte('a'+rng.IntN(26)), byte('0'+rng.IntN(10)))
			} else {
				b = append(b, words[rng.IntN(len(words))]...)
			}
			b = append(b, " \n\t"[rng.IntN(3)])
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	gitCmd(tb, dir, "init", "-q")
	return dir, commitAll(tb, dir, "big tree")
}

// tmpfsTempDir is a temporary directory on tmpfs (/dev/shm) when there is
// one, else tb.TempDir(); removed at cleanup.
func tmpfsTempDir(tb testing.TB) string {
	tb.Helper()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "releasedesk-test-"); err == nil {
			tb.Cleanup(func() { removeTree(d) })
			return d
		}
	}
	return tb.TempDir()
}
