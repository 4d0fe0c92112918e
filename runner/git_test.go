package runner

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"releasedesk/events/catalog"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

func TestFetchFollowsTheRepository(t *testing.T) {
	dir, head := newTestRepo(t, map[string]string{"a.txt": "A", "d/b.txt": "B"})
	newBranch(t, dir, "feature", "master")
	gitCmd(t, dir, "tag", "v1")
	m := testMirror(t, dir)

	for ref, want := range map[string]string{"master": head, "feature": head, "v1": head} {
		if got, err := m.Resolve(ref); err != nil || got != head {
			t.Errorf("Resolve(%q) = %q, %v; want %s", ref, got, err, want)
		}
	}
	if b, err := m.Branches(); err != nil || !slices.Equal(b, []string{"feature", "master"}) {
		t.Fatalf("Branches = %v, %v", b, err)
	}

	// New commits, a deleted branch and a deleted tag.
	next := commitFiles(t, dir, "second", map[string]string{"c.txt": "C"})
	gitCmd(t, dir, "branch", "-D", "feature")
	gitCmd(t, dir, "tag", "-d", "v1")
	if m.HasCommit(next) {
		t.Fatal("HasCommit before the fetch")
	}
	if err := m.Fetch(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, err := m.Resolve("master"); err != nil || got != next {
		t.Fatalf("Resolve(master) after fetch = %q, %v; want %s", got, err, next)
	}
	if !m.HasCommit(next) || !m.HasCommit(head) {
		t.Fatal("HasCommit after the fetch")
	}
	if b, _ := m.Branches(); !slices.Equal(b, []string{"master"}) {
		t.Fatalf("Branches after prune = %v", b)
	}
	for _, ref := range []string{"feature", "v1"} {
		if _, err := m.Resolve(ref); !errors.Is(err, ErrUnknownRef) {
			t.Errorf("Resolve(%q) after prune: %v, want ErrUnknownRef", ref, err)
		}
	}
	// Fetching again with nothing new is fine.
	if err := m.Fetch(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestFetchFileURLAndForcePush(t *testing.T) {
	origin, work, head := newTestOrigin(t, map[string]string{"a.txt": "A"})
	m := testMirror(t, "file://"+origin)
	if got, _ := m.Resolve("master"); got != head {
		t.Fatalf("Resolve = %s, want %s", got, head)
	}
	// History rewritten upstream: the mirror follows it.
	gitCmd(t, work, "commit", "-q", "--amend", "-m", "rewritten")
	rewritten := gitCmd(t, work, "rev-parse", "HEAD")
	gitCmd(t, work, "push", "-q", "--force", "origin", "master")
	if err := m.Fetch(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Resolve("master"); got != rewritten {
		t.Fatalf("Resolve after force push = %s, want %s", got, rewritten)
	}
}

func TestFetchErrorsNameTheRepo(t *testing.T) {
	needGit(t)
	tmp := t.TempDir()
	plain := filepath.Join(tmp, "plain")
	empty := filepath.Join(tmp, "empty")
	os.Mkdir(plain, 0o755)
	gitCmd(t, tmp, "init", "-q", "--bare", empty)
	for _, tc := range []struct {
		repo, want string
		is         error
	}{
		{filepath.Join(tmp, "missing"), "repo " + filepath.Join(tmp, "missing") + ": not a git repository", ErrRepoNotFound},
		{plain, "repo " + plain + ": not a git repository", ErrRepoNotFound},
		{empty, "repo " + empty + ": empty repository", nil},
		{"http://127.0.0.1:1/x.git", "repo http://127.0.0.1:1/x.git: fetch: ", nil},
	} {
		m, err := OpenMirror(t.Context(), Workspace{Dir: t.TempDir()}, testProject(tc.repo))
		if err != nil {
			t.Fatal(err)
		}
		err = m.Fetch(t.Context())
		if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.is != nil && !errors.Is(err, tc.is)) {
			t.Errorf("Fetch(%s) = %v; want %q", tc.repo, err, tc.want)
		}
	}
}

func TestOpenMirrorFollowsRepoChange(t *testing.T) {
	a, headA := newTestRepo(t, map[string]string{"a.txt": "A"})
	newBranch(t, a, "only-in-a", "master")
	b, headB := newTestRepo(t, map[string]string{"b.txt": "B"})
	w := Workspace{Dir: t.TempDir()}
	m := testMirrorIn(t, w, a)
	if got, _ := m.Resolve("master"); got != headA {
		t.Fatal("mirror of a")
	}
	m2 := testMirrorIn(t, w, b)
	if m2.Dir() != m.Dir() || m2.Repo() != b {
		t.Fatalf("second mirror: dir %s repo %s", m2.Dir(), m2.Repo())
	}
	if got, _ := m2.Resolve("master"); got != headB {
		t.Fatalf("Resolve after the repo changed = %s, want %s", got, headB)
	}
	// The first Mirror sees what the second fetched (same directory).
	if got, _ := m.Resolve("master"); got != headB {
		t.Fatalf("other Mirror of the same dir: %s, want %s", got, headB)
	}
	if br, _ := m2.Branches(); !slices.Equal(br, []string{"master"}) {
		t.Fatalf("branches of a not pruned: %v", br)
	}
}

func TestOpenMirrorRemakesABrokenMirror(t *testing.T) {
	dir, head := newTestRepo(t, map[string]string{"a.txt": "A"})
	w := Workspace{Dir: t.TempDir()}
	md := w.MirrorDir("demo")
	if err := os.MkdirAll(md, 0o755); err != nil { // half made: no repository in it
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(md, "junk"), []byte("x"), 0o644)
	m := testMirrorIn(t, w, dir)
	if got, _ := m.Resolve("master"); got != head {
		t.Fatal("mirror not remade")
	}
}

func TestOpenMirrorRefusals(t *testing.T) {
	ctx := t.Context()
	for _, tc := range []struct {
		w Workspace
		p catalog.Project
	}{
		{Workspace{Dir: "relative"}, catalog.Project{ID: "demo", Repo: "/x"}},
		{Workspace{Dir: t.TempDir()}, catalog.Project{ID: "../etc", Repo: "/x"}},
		{Workspace{Dir: t.TempDir()}, catalog.Project{ID: "demo", Repo: "x"}},
	} {
		if _, err := OpenMirror(ctx, tc.w, tc.p); err == nil {
			t.Errorf("OpenMirror(%+v, %+v): no error", tc.w, tc.p)
		}
	}
}

// resolveFixture is a repository with branches, tags of both kinds and
// two commits whose SHAs share their first 7 hex digits.
type resolveFixture struct {
	dir, c1, c2, tree string
	twinA, twinB      string // same 7-digit prefix
	annotated         string
	m                 *Mirror
}

func newResolveFixture(t *testing.T) resolveFixture {
	var f resolveFixture
	f.dir, f.c1 = newTestRepo(t, map[string]string{"a.txt": "A"})
	f.c2 = commitFiles(t, f.dir, "second", map[string]string{"b.txt": "B"})
	f.tree = gitCmd(t, f.dir, "rev-parse", "HEAD^{tree}")
	gitCmd(t, f.dir, "tag", "light", f.c1)
	gitCmd(t, f.dir, "tag", "-a", "-m", "release one", "annotated", f.c1)
	f.annotated = gitCmd(t, f.dir, "rev-parse", "refs/tags/annotated")
	gitCmd(t, f.dir, "tag", "-a", "-m", "tag of a tag", "nested", "annotated")
	gitCmd(t, f.dir, "tag", "treetag", f.tree)
	newBranch(t, f.dir, "release/1.0", f.c1)
	newBranch(t, f.dir, "both", f.c1)
	gitCmd(t, f.dir, "tag", "both", f.c2)
	f.twinA, f.twinB = makeTwinCommits(t, f.dir, f.tree, f.c2)
	newBranch(t, f.dir, "twin-a", f.twinA)
	newBranch(t, f.dir, "twin-b", f.twinB)
	f.m = testMirror(t, f.dir)
	return f
}

// makeTwinCommits writes two commits whose SHAs share the first 7 hex
// digits (a birthday search over commit messages, about 20,000 SHA-1s).
func makeTwinCommits(t *testing.T, dir, tree, parent string) (string, string) {
	body := func(i int) []byte {
		return fmt.Appendf(nil, "tree %s\nparent %s\nauthor Test <test@example.com> 1767225600 +0000\ncommitter Test <test@example.com> 1767225600 +0000\n\ntwin %d\n", tree, parent, i)
	}
	seen := map[string]int{}
	for i := 0; i < 1<<22; i++ {
		b := body(i)
		sum := sha1.Sum(append(fmt.Appendf(nil, "commit %d\x00", len(b)), b...))
		p := hex.EncodeToString(sum[:4])[:7]
		if j, ok := seen[p]; ok {
			var out [2]string
			for k, n := range []int{j, i} {
				s, err := gitCmdErr(dir, body(n), "hash-object", "-t", "commit", "-w", "--stdin")
				if err != nil {
					t.Fatal(err)
				}
				out[k] = s
			}
			if out[0][:7] != out[1][:7] {
				t.Fatalf("twins %s %s", out[0], out[1])
			}
			return out[0], out[1]
		}
		seen[p] = i
	}
	t.Fatal("no twin commits found")
	return "", ""
}

func TestResolve(t *testing.T) {
	f := newResolveFixture(t)
	for _, tc := range []struct{ ref, want string }{
		{"master", f.c2},
		{"release/1.0", f.c1},
		{"light", f.c1},
		{"annotated", f.c1}, // peeled to the commit
		{"nested", f.c1},
		{"refs/heads/both", f.c1},
		{"refs/tags/both", f.c2},
		{"refs/tags/annotated", f.c1},
		{f.c1, f.c1},
		{strings.ToUpper(f.c1), f.c1},
		{f.c1[:7], f.c1},
		{f.c2[:12], f.c2},
		{f.twinA[:8], f.twinA}, // 8 digits tell the twins apart
		{f.annotated, f.c1},    // a tag object's SHA, peeled
		{f.annotated[:9], f.c1},
	} {
		got, err := f.m.Resolve(tc.ref)
		if err != nil || got != tc.want {
			t.Errorf("Resolve(%q) = %q, %v; want %s", tc.ref, got, err, tc.want)
		}
		// Cross-check with git itself.
		if want := gitCmd(t, f.dir, "rev-parse", "--verify", "--quiet", tc.ref+"^{commit}"); want != tc.want {
			t.Errorf("git rev-parse %s = %s; test wants %s", tc.ref, want, tc.want)
		}
	}
	for _, tc := range []struct {
		ref, msg string
		is       error
	}{
		{"nope", `ref "nope": no such branch or tag in ` + f.dir, ErrUnknownRef},
		{"refs/heads/nope", `no such branch or tag in ` + f.dir, ErrUnknownRef},
		{"0000000", `ref "0000000": no such branch or tag (nor a commit)`, ErrUnknownRef},
		{"0000000000000000000000000000000000000000", "no such branch or tag", ErrUnknownRef},
		{f.twinA[:7], "2 commits start with it", ErrAmbiguousRef},
		{"both", "both a branch", ErrAmbiguousRef},
		{"treetag", "not a commit", nil},
		{f.tree, "nor a commit", ErrUnknownRef},         // a tree's SHA
		{"abc", "no such branch or tag", ErrUnknownRef}, // too short for a SHA
	} {
		_, err := f.m.Resolve(tc.ref)
		if err == nil || !strings.Contains(err.Error(), tc.msg) || (tc.is != nil && !errors.Is(err, tc.is)) {
			t.Errorf("Resolve(%q) = %v; want %q", tc.ref, err, tc.msg)
		}
	}
}

// hostileRefs are names that must never be looked up, written or reach a
// shell; CANARY files would show that one did.
func hostileRefs(canaryDir string) []string {
	c := filepath.Join(canaryDir, "CANARY")
	return []string{
		"$(touch CANARY)", "$(touch " + c + ")", "`id`", "`touch " + c + "`",
		"a;b", "a;touch CANARY", "a|b", "a|touch CANARY", "a&b", "a>CANARY",
		"a\nb", "a\rb", "a\x00b", "a b", "a\tb",
		"-x", "--upload-pack=touch CANARY", "--upload-pack=touch " + c,
		"ext::sh", "ext::sh -c touch% CANARY", "../x", "a/../../x", "a..b",
		"x.lock", "a/.hidden", "a//b", "/abs", "trail/", "end.", "@", "a@{1}",
		"a~1", "a^", "a:b", "a?", "a*", "a[b", `a\b`, "'q'", `"q"`, "a{b}",
		"", strings.Repeat("x", 300), "\xff\xfe",
	}
}

// noCanary fails the test if a CANARY file exists in any of dirs or the
// package directory (the test's working directory).
func noCanary(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range append(dirs, ".") {
		_ = filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err == nil && strings.Contains(e.Name(), "CANARY") {
				t.Errorf("canary file %s exists", p)
			}
			return nil
		})
	}
}

func TestValidateRef(t *testing.T) {
	for _, ok := range []string{"master", "main", "release/2026-11", "feature/JIRA-12_x", "v1.2.3",
		"release/20261126-abc1234", "fix#12", "café", "a+b", "x@y", "a,b=c%d", "HEAD"} {
		if err := ValidateRef(ok); err != nil {
			t.Errorf("ValidateRef(%q) = %v", ok, err)
		}
	}
	for _, bad := range hostileRefs(t.TempDir()) {
		if err := ValidateRef(bad); !errors.Is(err, ErrBadRef) {
			t.Errorf("ValidateRef(%q) = %v, want ErrBadRef", bad, err)
		}
	}
}

func TestHostileRefsRefusedBeforeLookup(t *testing.T) {
	canaries := t.TempDir()
	origin, _, head := newTestOrigin(t, map[string]string{"a.txt": "A"})
	m := testMirror(t, origin)
	ctx := t.Context()
	var zero Mirror // any lookup on it would panic: refusals come first
	for _, ref := range hostileRefs(canaries) {
		for name, err := range map[string]error{
			"zero Resolve":      func() error { _, err := zero.Resolve(ref); return err }(),
			"Resolve":           func() error { _, err := m.Resolve(ref); return err }(),
			"Log to":            func() error { _, err := m.Log("", ref, 0); return err }(),
			"Log from":          func() error { _, err := m.Log(ref, "master", 0); return err }(),
			"ChangedFiles":      func() error { _, err := m.ChangedFiles(ref, "master"); return err }(),
			"CreateBranch":      func() error { _, err := m.CreateBranch(ctx, ref, "master"); return err }(),
			"CreateBranch from": func() error { _, err := m.CreateBranch(ctx, "ok-branch", ref); return err }(),
			"Tag":               m.Tag(ctx, ref, head, "msg", "Tester"),
			"FastForward":       m.FastForward(ctx, ref, head),
			"zero FastFwd":      zero.FastForward(ctx, ref, head),
		} {
			if (name == "Log from" || name == "ChangedFiles") && ref == "" {
				continue // "" is "from nothing"
			}
			if !errors.Is(err, ErrBadRef) {
				t.Errorf("%s(%q) = %v, want ErrBadRef", name, ref, err)
			}
		}
	}
	noCanary(t, canaries, origin, m.Dir())
	if out := gitCmd(t, origin, "for-each-ref", "--format=%(refname)"); out != "refs/heads/master" {
		t.Fatalf("origin refs changed: %q", out)
	}
}

func TestValidateRepo(t *testing.T) {
	c := filepath.Join(t.TempDir(), "CANARY")
	for _, ok := range []string{"/srv/git/blog.git", "/srv/git/my repo.git", "file:///srv/git/blog.git",
		"https://github.com/a/b.git", "http://127.0.0.1:8080/b.git", "ssh://git@host:22/a/b.git",
		"git@github.com:a/b.git", "host:a/b.git", "git://host/a.git", "https://[::1]/a.git"} {
		if err := validateRepo(ok); err != nil {
			t.Errorf("validateRepo(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", " /x", "/x\nb", "relative/repo.git", "./repo", "../repo",
		"ext::sh -c touch% " + c, "ext::sh -c touch% CANARY", "fd::17", "EXT::sh", "transport::x",
		"--upload-pack=touch CANARY", "--upload-pack=touch " + c, "-oProxyCommand=touch " + c,
		"-oProxyCommand=touch CANARY:repo", "ssh://-oProxyCommand=touch%20CANARY/x",
		"ssh://-oProxyCommand=x@host/x", "user@-oProxyCommand=x:repo", "-user@host:repo",
		"/x --upload-pack=touch CANARY", "ftp://host/x.git", "file://host/x", "file://relative",
		"https:///nohost", "host:"} {
		if err := validateRepo(bad); !errors.Is(err, ErrBadRepo) {
			t.Errorf("validateRepo(%q) = %v, want ErrBadRepo", bad, err)
		}
	}
}

func TestHostileRepoURLsRefused(t *testing.T) {
	canaries := t.TempDir()
	c := filepath.Join(canaries, "CANARY")
	for _, repo := range []string{
		"ext::sh -c touch% " + c,
		"ext::sh -c touch% CANARY",
		"--upload-pack=touch " + c,
		"--upload-pack=touch CANARY",
		"-oProxyCommand=touch " + c,
		"ssh://-oProxyCommand=touch%20" + c + "/x",
	} {
		w := Workspace{Dir: t.TempDir()}
		_, err := OpenMirror(t.Context(), w, testProject(repo))
		if !errors.Is(err, ErrBadRepo) || !strings.Contains(err.Error(), "repo ") {
			t.Errorf("OpenMirror(%q) = %v, want ErrBadRepo naming the repo", repo, err)
		}
		noCanary(t, canaries, w.Dir)
	}
}

func TestExportMatchesGitArchive(t *testing.T) {
	dir, _ := newTestRepo(t, map[string]string{
		"README.md":                   "# demo\n",
		"empty.txt":                   "",
		"src/app/main.go":             "package main\n",
		"src/app/deep/er/still/x.txt": "deep\n",
		"ünïcödé/日本語.txt":             "こんにちは\n",
		"with space/and 'quote'.txt":  "spaces\n",
		"emoji-🚀.md":                  "rocket\n",
		"-leading-dash.txt":           "dash\n",
	})
	writeTestFile(t, dir, "bin/deploy.sh", "#!/bin/sh\necho hi\n", 0o755)
	writeTestFile(t, dir, "link-rel", "src/app/main.go", fs.ModeSymlink)
	writeTestFile(t, dir, "src/link-up", "../README.md", fs.ModeSymlink)
	writeTestFile(t, dir, "link-abs", "/etc/passwd", fs.ModeSymlink)
	writeTestFile(t, dir, "link-dangling", "does/not/exist", fs.ModeSymlink)
	writeTestFile(t, dir, "big.bin", strings.Repeat("0123456789abcdef", 1<<16), 0o644) // 1 MiB, not a small object
	head := commitAll(t, dir, "everything")
	m := testMirror(t, dir)

	dest := filepath.Join(t.TempDir(), "export")
	if err := m.Export(t.Context(), head, dest, nil); err != nil {
		t.Fatal(err)
	}
	archived := gitArchive(t, dir, head)
	got, err := BuildManifest(dest)
	if err != nil {
		t.Fatal(err)
	}
	want, err := BuildManifest(archived)
	if err != nil {
		t.Fatal(err)
	}
	if got.Hash != want.Hash {
		t.Errorf("export differs from git archive:\n got %v\nwant %v", got.Entries, want.Entries)
	}
	if err := want.Verify(dest, nil); err != nil {
		t.Error(err)
	}
	// Exact modes, whatever the umask.
	for p, mode := range map[string]fs.FileMode{
		"README.md": 0o644, "bin/deploy.sh": 0o755, "src": fs.ModeDir | 0o755,
		"src/app/deep": fs.ModeDir | 0o755, "link-abs": fs.ModeSymlink | 0o777,
	} {
		fi, err := os.Lstat(filepath.Join(dest, p))
		if err != nil || fi.Mode() != mode {
			t.Errorf("%s: mode %v, %v; want %v", p, fi.Mode(), err, mode)
		}
	}
	if target, _ := os.Readlink(filepath.Join(dest, "link-abs")); target != "/etc/passwd" {
		t.Errorf("link-abs -> %q", target)
	}
}

// gitArchive extracts `git archive sha` with tar into a new directory.
func gitArchive(t testing.TB, repo, sha string) string {
	t.Helper()
	dest := t.TempDir()
	archive := exec.Command(gitBinary, "-C", repo, "archive", sha)
	extract := exec.Command("tar", "-x", "-C", dest)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	extract.Stdin = pipe
	var stderr, archiveErr bytes.Buffer
	extract.Stderr, archive.Stderr = &stderr, &archiveErr
	if err := archive.Start(); err != nil {
		t.Fatal(err)
	}
	if err := extract.Run(); err != nil {
		t.Fatalf("tar: %v: %s", err, stderr.String())
	}
	if err := archive.Wait(); err != nil {
		t.Fatalf("git archive: %v: %s", err, archiveErr.String())
	}
	return dest
}

func TestExportExclude(t *testing.T) {
	files := map[string]string{}
	for _, p := range []string{
		"index.php", "app.log", "logs/today.log", "logs/keep.txt", "node_modules/x/y.js",
		"web/node_modules/z.js", "docs/private/secret.md", "docs/private-not.md", "docs/public.md",
		"config/app.local.php", "config/app.php", "a/config/app.local.php", ".gitignore", ".github/ci.yml",
	} {
		files[p] = p
	}
	dir, head := newTestRepo(t, files)
	m := testMirror(t, dir)
	dest := filepath.Join(t.TempDir(), "x")
	err := m.Export(t.Context(), head, dest, []string{".git", "node_modules/", "*.log", "/docs/private", "config/*.local.php", ".git*"})
	if err != nil {
		t.Fatal(err)
	}
	got := listFiles(t, dest)
	want := []string{"a/config/app.local.php", "config/app.php", "docs/private-not.md", "docs/public.md", "index.php", "logs/keep.txt"}
	if !slices.Equal(got, want) {
		t.Fatalf("exported %v\nwant %v", got, want)
	}
	if _, err := CompileExclude([]string{"a[b"}); err == nil {
		t.Error("bad pattern accepted")
	}
	if err := m.Export(t.Context(), head, filepath.Join(t.TempDir(), "y"), []string{""}); err == nil {
		t.Error("empty pattern accepted")
	}
}

func TestExcludeMatch(t *testing.T) {
	ex, err := CompileExclude([]string{".git", "node_modules", "*.log", "storage/logs", "/public/*.map", "cache/"})
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{
		".git": true, ".git/config": true, "a/.git/x": true, ".gitignore": false,
		"node_modules": true, "web/node_modules/a/b.js": true, "node_modules_x": false,
		"x.log": true, "a/b/x.log": true, "x.log.gz": false, "logs/x.log/inner": true,
		"storage/logs": true, "storage/logs/a/b": true, "storage/logsx": false, "a/storage/logs": false,
		"public/app.js.map": true, "public/js/app.js.map": false, "cache/x": true, "src/cache": true,
		"index.php": false,
	} {
		if got := ex.Match(p); got != want {
			t.Errorf("Match(%q) = %v, want %v", p, got, want)
		}
	}
	var none *ExcludeMatcher
	if none.Match("x") {
		t.Error("nil matcher matched")
	}
}

func listFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func TestExportRefusesUnsafeDestinations(t *testing.T) {
	dir, head := newTestRepo(t, map[string]string{"a.txt": "A", "sub/b.txt": "B"})
	m := testMirror(t, dir)
	ctx := t.Context()
	outside := t.TempDir()

	// dest is a symlink to a directory elsewhere.
	tmp := t.TempDir()
	link := filepath.Join(tmp, "link")
	os.Symlink(outside, link)
	if err := m.Export(ctx, head, link, nil); !errors.Is(err, ErrUnsafePath) {
		t.Errorf("export to a symlink: %v", err)
	}
	// dest holds a symlink planted where a file or directory will go.
	planted := filepath.Join(tmp, "planted")
	os.Mkdir(planted, 0o755)
	os.Symlink(outside, filepath.Join(planted, "sub"))
	os.Symlink(filepath.Join(outside, "a.txt"), filepath.Join(planted, "a.txt"))
	if err := m.Export(ctx, head, planted, nil); !errors.Is(err, ErrUnsafePath) {
		t.Errorf("export into a dir with symlinks: %v", err)
	}
	if names := listFiles(t, outside); len(names) != 0 {
		t.Errorf("written through a symlink: %v", names)
	}
	if _, err := os.Lstat(filepath.Join(planted, "sub")); err != nil {
		t.Errorf("the planted symlink was removed: %v", err)
	}
	// Other refusals.
	if err := m.Export(ctx, head, "relative/dir", nil); !errors.Is(err, ErrUnsafePath) {
		t.Errorf("relative dest: %v", err)
	}
	file := filepath.Join(tmp, "file")
	os.WriteFile(file, nil, 0o644)
	if err := m.Export(ctx, head, file, nil); err == nil {
		t.Error("dest is a file: no error")
	}
	if err := m.Export(ctx, "0000000000000000000000000000000000000000", filepath.Join(tmp, "none"), nil); err == nil {
		t.Error("unknown commit: no error")
	}
	if err := m.Export(ctx, "master", filepath.Join(tmp, "none"), nil); err == nil {
		t.Error("a branch name instead of a SHA: no error")
	}
	// An empty existing directory is fine.
	emptyDir := filepath.Join(tmp, "empty")
	os.Mkdir(emptyDir, 0o755)
	if err := m.Export(ctx, head, emptyDir, nil); err != nil {
		t.Errorf("empty dest: %v", err)
	}
}

// hostileCommit writes, straight into the mirror, a commit whose root tree
// has the given entries (a tree git itself would refuse to make).
func hostileCommit(t *testing.T, m *Mirror, entries []object.TreeEntry) string {
	t.Helper()
	r, unlock, err := m.lock()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	store := func(o interface {
		Encode(plumbing.EncodedObject) error
	}) plumbing.Hash {
		obj := r.Storer.NewEncodedObject()
		if err := o.Encode(obj); err != nil {
			t.Fatal(err)
		}
		h, err := r.Storer.SetEncodedObject(obj)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	tree := store(&object.Tree{Entries: entries})
	sig := object.Signature{Name: "Mallory", Email: "m@example.com", When: time.Unix(1767225600, 0)}
	return store(&object.Commit{Author: sig, Committer: sig, Message: "hostile\n", TreeHash: tree}).String()
}

// blob stores content in the mirror and returns its hash.
func blob(t *testing.T, m *Mirror, content string) plumbing.Hash {
	t.Helper()
	r, unlock, err := m.lock()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	obj := r.Storer.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	w, _ := obj.Writer()
	w.Write([]byte(content))
	w.Close()
	h, err := r.Storer.SetEncodedObject(obj)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestExportRefusesHostileTrees(t *testing.T) {
	dir, _ := newTestRepo(t, map[string]string{"a.txt": "A"})
	m := testMirror(t, dir)
	outside := t.TempDir()
	b := blob(t, m, "pwned\n")
	target := blob(t, m, outside)
	// A tree "d" holding "pwned", to follow a symlink "d" of the same name.
	inner := func() plumbing.Hash {
		sha := hostileCommit(t, m, []object.TreeEntry{{Name: "pwned", Mode: filemode.Regular, Hash: b}})
		r, unlock, _ := m.lock()
		defer unlock()
		c, err := r.CommitObject(plumbing.NewHash(sha))
		if err != nil {
			t.Fatal(err)
		}
		return c.TreeHash
	}()
	for name, entries := range map[string][]object.TreeEntry{
		"dotdot": {{Name: "..", Mode: filemode.Regular, Hash: b}},
		"dot":    {{Name: ".", Mode: filemode.Dir, Hash: inner}},
		"slash":  {{Name: "../../x", Mode: filemode.Regular, Hash: b}},
		"dotgit": {{Name: ".git", Mode: filemode.Dir, Hash: inner}},
		"dotGIT": {{Name: ".GIT", Mode: filemode.Dir, Hash: inner}},
		"empty":  {{Name: "", Mode: filemode.Regular, Hash: b}},
		"symlink then dir": {
			{Name: "d", Mode: filemode.Symlink, Hash: target},
			{Name: "d", Mode: filemode.Dir, Hash: inner},
		},
		"file twice": {
			{Name: "f", Mode: filemode.Regular, Hash: b},
			{Name: "f", Mode: filemode.Regular, Hash: b},
		},
	} {
		sha := hostileCommit(t, m, entries)
		dest := filepath.Join(t.TempDir(), "dest")
		err := m.Export(t.Context(), sha, dest, nil)
		if !errors.Is(err, ErrUnsafePath) && (name != "empty" || err == nil) { // go-git refuses to read an empty name
			t.Errorf("%s: Export = %v, want ErrUnsafePath", name, err)
		}
		if _, err := os.Lstat(dest); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: dest left behind after a failed export", name)
		}
	}
	if names := listFiles(t, outside); len(names) != 0 {
		t.Errorf("written outside the export: %v", names)
	}
}

func TestExportSubmoduleSkippedWithANote(t *testing.T) {
	dir, head := newTestRepo(t, map[string]string{"a.txt": "A"})
	gitCmd(t, dir, "update-index", "--add", "--cacheinfo", "160000,"+head+",vendor/lib")
	gitCmd(t, dir, "commit", "-q", "-m", "submodule")
	withSub := gitCmd(t, dir, "rev-parse", "HEAD")
	m := testMirror(t, dir)
	var notes []string
	m.Note = func(s string) { notes = append(notes, s) }
	dest := filepath.Join(t.TempDir(), "x")
	if err := m.Export(t.Context(), withSub, dest, nil); err != nil {
		t.Fatal(err)
	}
	if got := listFiles(t, dest); !slices.Equal(got, []string{"a.txt"}) {
		t.Errorf("files %v", got)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "submodule vendor/lib") {
		t.Errorf("notes %q", notes)
	}
}

func TestExportCancelledLeavesNothing(t *testing.T) {
	files := map[string]string{}
	for i := range 300 {
		files[fmt.Sprintf("d%d/f%d.txt", i%7, i)] = strings.Repeat("x", i)
	}
	dir, head := newTestRepo(t, files)
	m := testMirror(t, dir)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	dest := filepath.Join(t.TempDir(), "x")
	if err := m.Export(ctx, head, dest, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Export with a cancelled context = %v", err)
	}
	if _, err := os.Lstat(dest); !errors.Is(err, fs.ErrNotExist) {
		t.Error("dest left behind")
	}
}

func TestMirrorConcurrentUse(t *testing.T) {
	files := map[string]string{}
	for i := range 200 {
		files[fmt.Sprintf("d%d/f%d.txt", i%5, i)] = strings.Repeat("y", i*10)
	}
	dir, head := newTestRepo(t, files)
	w := Workspace{Dir: t.TempDir()}
	m1 := testMirrorIn(t, w, dir)
	m2, err := OpenMirror(t.Context(), w, testProject(dir))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := BuildManifest(gitArchive(t, dir, head))
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 6 {
		m := m1
		if i%2 == 1 {
			m = m2
		}
		wg.Go(func() {
			if i == 0 {
				errs <- m.Fetch(t.Context())
				return
			}
			dest := filepath.Join(t.TempDir(), "x")
			if err := m.Export(t.Context(), head, dest, nil); err != nil {
				errs <- err
				return
			}
			errs <- want.Verify(dest, nil)
			_, err := m.Resolve(head[:9])
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestLogMatchesGitLog(t *testing.T) {
	dir, c1 := newTestRepo(t, map[string]string{"a.txt": "1"})
	c2 := commitFiles(t, dir, "second\n\nwith a body", map[string]string{"a.txt": "2"})
	newBranch(t, dir, "feature", c2)
	checkout(t, dir, "feature")
	commitFiles(t, dir, "feature one", map[string]string{"f.txt": "f1"})
	commitFiles(t, dir, "feature two\nspans lines", map[string]string{"f.txt": "f2"})
	checkout(t, dir, "master")
	commitFiles(t, dir, "third", map[string]string{"b.txt": "3"})
	gitCmd(t, dir, "merge", "-q", "--no-ff", "-m", "merge feature", "feature")
	commitFiles(t, dir, "after merge", map[string]string{"c.txt": "4"})
	m := testMirror(t, dir)

	for _, tc := range []struct {
		from, to string
		max      int
	}{
		{"", "master", 0}, {c1, "master", 0}, {c2, "master", 0}, {"feature", "master", 0},
		{"master", "feature", 0}, {"master", "master", 0}, {c1, "feature", 0},
		{"", "master", 3}, {c1, "master", 2}, {c2[:7], "feature", 0},
	} {
		got, err := m.Log(tc.from, tc.to, tc.max)
		if err != nil {
			t.Fatal(err)
		}
		args := []string{"log", "--format=%H%x00%an%x00%ae%x00%at%x00%s"}
		if tc.max > 0 {
			args = append(args, fmt.Sprintf("-n%d", tc.max))
		}
		if tc.from != "" {
			args = append(args, tc.from+".."+tc.to)
		} else {
			args = append(args, tc.to)
		}
		var want []string
		if out := gitCmd(t, dir, args...); out != "" {
			want = strings.Split(out, "\n")
		}
		var have []string
		for _, c := range got {
			have = append(have, fmt.Sprintf("%s\x00%s\x00%s\x00%d\x00%s", c.SHA, c.Author, c.Email, c.Time.Unix(), c.Subject))
		}
		if !slices.Equal(have, want) {
			t.Errorf("Log(%q, %q, %d):\n got %q\nwant %q", tc.from, tc.to, tc.max, have, want)
		}
	}
	if _, err := m.Log("", "", 0); err == nil {
		t.Error("Log to nothing: no error")
	}
	if _, err := m.Log("nope", "master", 0); !errors.Is(err, ErrUnknownRef) {
		t.Errorf("Log from an unknown ref: %v", err)
	}
}

func TestChangedFilesMatchesGitDiff(t *testing.T) {
	dir, a := newTestRepo(t, map[string]string{
		"keep.txt": "same", "edit.txt": "old", "gone.txt": "bye", "dir/x.txt": "x",
		"mode.sh": "#!/bin/sh\n", "type.txt": "file", "dir/sub/y.txt": "y",
	})
	writeTestFile(t, dir, "edit.txt", "new", 0o644)
	writeTestFile(t, dir, "mode.sh", "#!/bin/sh\n", 0o755)
	writeTestFile(t, dir, "type.txt", "keep.txt", fs.ModeSymlink)
	writeTestFile(t, dir, "added/new.txt", "new", 0o644)
	os.Remove(filepath.Join(dir, "gone.txt"))
	os.RemoveAll(filepath.Join(dir, "dir/sub"))
	b := commitAll(t, dir, "changes")
	m := testMirror(t, dir)

	for _, tc := range [][2]string{{a, b}, {b, a}, {"", b}, {a, a}, {a[:7], "master"}} {
		got, err := m.ChangedFiles(tc[0], tc[1])
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		if tc[0] == "" {
			for _, p := range strings.Split(gitCmd(t, dir, "ls-tree", "-r", "--name-only", tc[1]), "\n") {
				want = append(want, "added "+p)
			}
		} else if out := gitCmd(t, dir, "diff", "--no-renames", "--name-status", "-z", tc[0], tc[1]); out != "" {
			f := strings.Split(strings.TrimSuffix(out, "\x00"), "\x00")
			for i := 0; i+1 < len(f); i += 2 {
				action := map[string]string{"A": "added", "M": "modified", "T": "modified", "D": "deleted"}[f[i]]
				want = append(want, action+" "+f[i+1])
			}
		}
		sort.Slice(want, func(i, j int) bool { return strings.SplitN(want[i], " ", 2)[1] < strings.SplitN(want[j], " ", 2)[1] })
		var have []string
		for _, c := range got {
			have = append(have, c.Action+" "+c.Path)
		}
		if !slices.Equal(have, want) {
			t.Errorf("ChangedFiles(%.7s, %.7s):\n got %q\nwant %q", tc[0], tc[1], have, want)
		}
	}
}

func TestCreateBranchTagFastForward(t *testing.T) {
	origin, work, head := newTestOrigin(t, map[string]string{"a.txt": "A"})
	m := testMirror(t, origin)
	ctx := t.Context()
	m.Now = func() time.Time { return time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC) }

	// CreateBranch.
	sha, err := m.CreateBranch(ctx, "release/1", "master")
	if err != nil || sha != head {
		t.Fatalf("CreateBranch = %s, %v", sha, err)
	}
	if got := gitCmd(t, origin, "rev-parse", "refs/heads/release/1"); got != head {
		t.Fatalf("origin release/1 = %s", got)
	}
	if _, err := m.CreateBranch(ctx, "release/1", "master"); !errors.Is(err, ErrRefExists) {
		t.Errorf("CreateBranch again: %v", err)
	}
	if _, err := m.CreateBranch(ctx, "release/2", "nope"); !errors.Is(err, ErrUnknownRef) {
		t.Errorf("CreateBranch from nothing: %v", err)
	}
	if _, err := m.CreateBranch(ctx, "deadbeef", "master"); !errors.Is(err, ErrBadRef) {
		t.Errorf("CreateBranch named like a SHA: %v", err)
	}
	// A branch created upstream meanwhile is seen (CreateBranch fetches first).
	gitCmd(t, work, "push", "-q", "origin", "master:refs/heads/release/3")
	if _, err := m.CreateBranch(ctx, "release/3", "master"); !errors.Is(err, ErrRefExists) {
		t.Errorf("CreateBranch of a branch made upstream: %v", err)
	}

	// Tag.
	name := "release/20261126-" + head[:7]
	if err := m.Tag(ctx, name, head, "Release 1\n\nAccepted by Ann.", "Ann Manager <ann@example.com>"); err != nil {
		t.Fatal(err)
	}
	if got := gitCmd(t, origin, "cat-file", "-t", name); got != "tag" {
		t.Errorf("cat-file -t %s = %s, want tag", name, got)
	}
	if got := gitCmd(t, origin, "rev-parse", name+"^{commit}"); got != head {
		t.Errorf("tag points to %s", got)
	}
	if got := gitCmd(t, origin, "tag", "-l"); got != name {
		t.Errorf("tag -l = %q", got)
	}
	if got := gitCmd(t, origin, "for-each-ref", "--format=%(taggername) %(taggeremail) %(taggerdate:iso-strict) %(contents:subject)", "refs/tags/"+name); got != "Ann Manager <ann@example.com> 2026-11-26T10:00:00+00:00 Release 1" {
		t.Errorf("tag object: %q", got)
	}
	if err := m.Tag(ctx, name, head, "again", "Ann"); err != nil {
		t.Errorf("Tag again at the same commit: %v", err)
	}
	next := commitFiles(t, work, "next", map[string]string{"b.txt": "B"})
	gitCmd(t, work, "push", "-q", "origin", "master")
	if err := m.Tag(ctx, name, next, "moved", "Ann"); !errors.Is(err, ErrRefExists) {
		t.Errorf("Tag moved to another commit: %v", err)
	}
	if err := m.Tag(ctx, "v2", next, "", "bad\nname"); err == nil {
		t.Error("bad tagger accepted")
	}
	if err := m.Tag(ctx, "v2", "1111111111111111111111111111111111111111", "", "Ann"); err == nil {
		t.Error("tag of an unknown commit accepted")
	}

	// FastForward: release/1 (at head) to next, which descends from it.
	if err := m.FastForward(ctx, "release/1", next); err != nil {
		t.Fatal(err)
	}
	if got := gitCmd(t, origin, "rev-parse", "refs/heads/release/1"); got != next {
		t.Fatalf("origin release/1 = %s, want %s", got, next)
	}
	if err := m.FastForward(ctx, "release/1", next); err != nil {
		t.Errorf("FastForward to where it is: %v", err)
	}
	// A commit on a side branch does not descend from master.
	gitCmd(t, work, "checkout", "-q", "-b", "side", head)
	side := commitFiles(t, work, "side", map[string]string{"s.txt": "S"})
	gitCmd(t, work, "push", "-q", "origin", "side")
	err = m.FastForward(ctx, "master", side)
	if !errors.Is(err, ErrNotFastForward) || !strings.Contains(err.Error(), `branch "master"`) {
		t.Errorf("FastForward to a non-descendant = %v", err)
	}
	if got := gitCmd(t, origin, "rev-parse", "refs/heads/master"); got != next {
		t.Errorf("origin master moved to %s", got)
	}
	// Backwards is not forwards either.
	if err := m.FastForward(ctx, "release/1", head); !errors.Is(err, ErrNotFastForward) {
		t.Errorf("FastForward backwards = %v", err)
	}
	if err := m.FastForward(ctx, "nope", next); !errors.Is(err, ErrUnknownRef) {
		t.Errorf("FastForward of a missing branch = %v", err)
	}
	// The mirror knows all of it.
	if got, _ := m.Resolve("release/1"); got != next {
		t.Errorf("mirror release/1 = %s", got)
	}
}

func TestParseTagger(t *testing.T) {
	for in, want := range map[string]string{
		"Ann":                 "Ann|",
		"Ann Manager <a@b.c>": "Ann Manager|a@b.c",
		"  Ann   <a@b.c>  ":   "Ann|a@b.c",
	} {
		s, err := parseTagger(in)
		if err != nil || s.Name+"|"+s.Email != want {
			t.Errorf("parseTagger(%q) = %+v, %v", in, s, err)
		}
	}
	for _, bad := range []string{"", "<a@b.c>", "a\nb", "a <b> <c>"} {
		if _, err := parseTagger(bad); err == nil {
			t.Errorf("parseTagger(%q) accepted", bad)
		}
	}
}

// BenchmarkExport5000 exports a 5,000-file, 50 MB tree, against the git
// CLI's `git archive <sha> | tar -x` in the same run, and builds the
// manifest of the result. Each export opens the repository afresh, as
// after a fetch (pack index and object cache cold).
func BenchmarkExport5000(b *testing.B) {
	dir, head := newBigTestRepo(b, 5000, 50<<20)
	tmp := tmpfsTempDir(b)
	start := time.Now()
	m := testMirrorIn(b, Workspace{Dir: filepath.Join(tmp, "ws")}, dir)
	b.Logf("first fetch (go-git): %v", time.Since(start).Round(time.Millisecond))
	first := filepath.Join(tmp, "first")
	if err := m.Export(b.Context(), head, first, nil); err != nil {
		b.Fatal(err)
	}
	mf, err := BuildManifest(first)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("tree: %d files, %d bytes", mf.Files, mf.Bytes)
	n := 0
	dest := func() string { n++; return filepath.Join(tmp, fmt.Sprint("x", n)) }
	b.Run("go-git", func(b *testing.B) {
		b.SetBytes(mf.Bytes)
		for b.Loop() {
			b.StopTimer()
			m.state.mu.Lock()
			m.changed()
			m.state.mu.Unlock()
			d := dest()
			b.StartTimer()
			if err := m.Export(b.Context(), head, d, nil); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			removeTree(d)
			b.StartTimer()
		}
	})
	b.Run("git-archive", func(b *testing.B) {
		b.SetBytes(mf.Bytes)
		for b.Loop() {
			b.StopTimer()
			d := dest()
			os.Mkdir(d, 0o755)
			b.StartTimer()
			archive := exec.Command(gitBinary, "-C", dir, "archive", head)
			extract := exec.Command("tar", "-x", "-C", d)
			pipe, _ := archive.StdoutPipe()
			extract.Stdin = pipe
			if err := archive.Start(); err != nil {
				b.Fatal(err)
			}
			if err := extract.Run(); err != nil {
				b.Fatal(err)
			}
			if err := archive.Wait(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			removeTree(d)
			b.StartTimer()
		}
	})
	b.Run("manifest", func(b *testing.B) {
		b.SetBytes(mf.Bytes)
		for b.Loop() {
			if _, err := BuildManifest(first); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("verify", func(b *testing.B) {
		b.SetBytes(mf.Bytes)
		for b.Loop() {
			if err := mf.Verify(first, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}
