package runner

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

const (
	tv1  = "20240102030405-abcdef0"
	tv2  = "20240102030406-1234567"
	tsha = "abcdef0123456789abcdef0123456789abcdef01"
)

// layoutScripts are the only texts that may follow `sh -c` in a builder's
// argv: constants. Variable data must come after them, as arguments.
var layoutScripts = []string{
	lockScript, unlockScript, checkLockScript, breakLockScript, readCurrentScript, beginStagingScript,
	writeFilesScript, linkSharedScript, switchScript, releaseInfoScript, listReleasesScript,
	removeScript, hookScript, gitFetchScript, gitArchiveScript, seqScript, beginDeltaStagingScript,
	receiveScript,
}

// builderCases lists every builder with fixed inputs; the golden file
// holds each argv, quoted as the executors send it.
func builderCases(t *testing.T, l Layout) []struct {
	name string
	argv [][]string
} {
	t.Helper()
	one := func(argv []string, err error) [][]string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return [][]string{argv}
	}
	many := func(argv [][]string, err error) [][]string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return argv
	}
	since := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	return []struct {
		name string
		argv [][]string
	}{
		{"Prepare", one(l.Prepare())},
		{"Lock", one(l.Lock(LockInfo{Deployment: "d-42", Holder: "alice; $(touch CANARY)", Since: since}))},
		{"Unlock", one(l.Unlock("d-42"))},
		{"CheckLock", one(l.CheckLock("d-42"))},
		{"BreakLock", one(l.BreakLock())},
		{"ReadCurrent", one(l.ReadCurrent())},
		{"BeginStaging", one(l.BeginStaging(tv1))},
		{"Receive", one(l.Receive(tv2, tv1, []string{"REVISION", "old; $(touch CANARY).txt"}, []string{"assets/css"}))},
		{"ReceiveFresh", one(l.Receive(tv1, "", nil, []string{"a dir"}))},
		{"Finalize", many(l.Finalize(tv1, "version="+tv1+"\n`touch CANARY`\n", []string{"VERSION", "public/v.txt"}, []string{"storage/logs", ".env", "uploads/"}))},
		{"FinalizeNoShared", many(l.Finalize(tv1, "r", nil, nil))},
		{"Seal", many(l.Seal(tv1))},
		{"Switch", one(l.Switch(tv2))},
		{"ReleaseInfo", one(l.ReleaseInfo(tv1))},
		{"ListReleases", one(l.ListReleases())},
		{"Remove", one(l.Remove(tv1, tv2))},
		{"RemoveStaging", one(l.RemoveStaging(tv2))},
		{"Hook", one(l.Hook(tv1, "php artisan migrate --force && echo \"$APP_ENV\"", []string{"APP_ENV=prod", "NOTE=$(touch CANARY)"}))},
		{"Check", one(l.Check(tv1, "curl -fsS http://localhost/health", 1500*time.Millisecond, []string{"A=1"}))},
		{"GitFetch", one(l.GitFetch("git@example.com:team/app.git", tsha))},
		{"GitArchive", one(l.GitArchive(tsha, tv1, nil))},
		{"GitArchiveExclude", one(l.GitArchive(tsha, tv1, []string{"node_modules", "*.log", "/storage/logs/", "config/*.local.php", "x | $(touch CANARY)"}))},
	}
}

func TestLayoutBuildersGolden(t *testing.T) {
	l := Layout{Path: "/srv/www/my app"}
	var b strings.Builder
	for _, c := range builderCases(t, l) {
		fmt.Fprintf(&b, "## %s\n", c.name)
		for _, argv := range c.argv {
			assertScriptIsConstant(t, c.name, argv)
			b.WriteString(QuoteCommand(argv) + "\n")
		}
		b.WriteString("\n")
	}
	golden(t, "layout.golden", b.String())
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if string(want) != got {
		t.Errorf("%s differs from the builders' output (go test -update rewrites it):\n--- got\n%s", p, got)
	}
}

// assertScriptIsConstant checks that `sh -c X` only ever has a constant X.
func assertScriptIsConstant(t *testing.T, name string, argv []string) {
	t.Helper()
	for i := 0; i+2 < len(argv); i++ {
		if argv[i] == "sh" && argv[i+1] == "-c" {
			if i == 0 && !slices.Contains(layoutScripts, argv[i+2]) {
				t.Errorf("%s: sh -c with a non-constant script %q", name, argv[i+2])
			}
			break
		}
	}
}

func TestLayoutValidation(t *testing.T) {
	l := Layout{Path: "/srv/www"}
	badPaths := []string{"", "relative", "/", "/a/../b", "/a/./b", "/a/", "//a", "/a/-rf", "/a\nb", "/a\x00b", "/-x", "/a/b\r"}
	for _, p := range badPaths {
		if err := ValidatePath(p); err == nil {
			t.Errorf("ValidatePath(%q) accepted", p)
		}
		if _, err := (Layout{Path: p}).Prepare(); err == nil {
			t.Errorf("Layout{%q}.Prepare accepted", p)
		}
	}
	for _, p := range []string{"/srv/www", "/srv/my app/www", "/srv/é", "/srv/a:b", "/x/$(y)"} {
		if err := ValidatePath(p); err != nil {
			t.Errorf("ValidatePath(%q): %v", p, err)
		}
	}
	// Every payload is refused where a version, a SHA, a relative path, a
	// deployment id, an env name or a repo URL is expected.
	for _, p := range injectionPayloads {
		if _, err := l.BeginStaging(p); err == nil {
			t.Errorf("version %q accepted", p)
		}
		if _, err := l.Switch(p); err == nil {
			t.Errorf("Switch(%q) accepted", p)
		}
		if _, err := l.Seal(p); err == nil {
			t.Errorf("Seal(%q) accepted", p)
		}
		if _, err := l.Remove(tv1, p); err == nil {
			t.Errorf("Remove(%q) accepted", p)
		}
		if _, err := l.GitArchive(p, tv1, nil); err == nil {
			t.Errorf("sha %q accepted", p)
		}
		if _, err := l.Hook(tv1, "true", []string{p + "=1"}); err == nil {
			t.Errorf("env name %q accepted", p)
		}
		if strings.ContainsAny(p, " \t\n\r\x01\x7f") || strings.HasPrefix(p, "-") || p == "" {
			if _, err := l.Unlock(p); err == nil {
				t.Errorf("deployment %q accepted", p)
			}
		}
		if err := ValidateRepoURL(p); err == nil {
			t.Errorf("repo URL %q accepted", p)
		}
	}
	for _, p := range []string{"", "/etc/passwd", "../x", "a/../../x", "./a", "a//b", "-v", "a/-v", "a\nb", "."} {
		if _, err := l.Finalize(tv1, "r", []string{p}, nil); err == nil {
			t.Errorf("version file %q accepted", p)
		}
		if _, err := l.Finalize(tv1, "r", nil, []string{p}); err == nil {
			t.Errorf("shared path %q accepted", p)
		}
	}
	if _, err := l.Finalize(tv1, "a\x00b", nil, nil); err == nil {
		t.Error("NUL in REVISION accepted")
	}
	if _, err := l.Lock(LockInfo{Deployment: "d", Holder: "a\nb"}); err == nil {
		t.Error("newline in holder accepted")
	}
	if _, err := l.Check(tv1, "true", 0, nil); err == nil {
		t.Error("zero check timeout accepted")
	}
	if _, err := l.Hook(tv1, "  ", nil); err == nil {
		t.Error("empty hook accepted")
	}
	if _, err := l.Hook(tv1, "true", []string{"A=a\x00"}); err == nil {
		t.Error("NUL in env value accepted")
	}
	if _, err := l.GitFetch("/srv/repo.git", "HEAD"); err == nil {
		t.Error("a ref instead of a SHA accepted")
	}
}

func TestValidateRepoURL(t *testing.T) {
	for _, u := range []string{
		"/srv/git/app.git", "file:///srv/git/app.git", "ssh://git@example.com:2222/app.git",
		"https://github.com/o/r.git", "git@github.com:o/r.git", "example.com:o/r.git", "git://example.com/r",
	} {
		if err := ValidateRepoURL(u); err != nil {
			t.Errorf("ValidateRepoURL(%q): %v", u, err)
		}
	}
	for _, u := range []string{
		"ext::sh -c touch% CANARY", "ext::sh", "fd::3", "--upload-pack=touch CANARY", "-oProxyCommand=x",
		"ssh://-oProxyCommand=x/r", "git@-oProxyCommand=x:r", "git@h:-r", "https://h/a b", "/srv/a\nb",
		"relative/path", "/srv/../etc", "", "ftp://h/r", "h::r",
	} {
		if err := ValidateRepoURL(u); err == nil {
			t.Errorf("ValidateRepoURL(%q) accepted", u)
		}
	}
}

// --- the real commands, run by LocalExecutor on a temp dir ---

// Current is the layout's `current` symlink.
func (l Layout) Current() string { return l.Path + "/current" }

// fastTempDir is a temp dir on tmpfs when there is one.
func fastTempDir(t *testing.T) string {
	t.Helper()
	base := ""
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		base = "/dev/shm"
	}
	d, err := os.MkdirTemp(base, "rd-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				_ = os.Chmod(p, 0o755)
			}
			return nil
		})
		_ = os.RemoveAll(d)
	})
	return d
}

// try runs a builder's argv with LocalExecutor: try(t)(l.Switch(v)).
func try(t *testing.T) func([]string, error) (int, string) {
	return func(argv []string, err error) (int, string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		code, err := (&LocalExecutor{}).Run(context.Background(), argv, &out)
		if err != nil {
			t.Fatalf("%v: %v", argv, err)
		}
		return code, out.String()
	}
}

// ok is try that wants exit 0 and returns the output.
func ok(t *testing.T) func([]string, error) string {
	return func(argv []string, err error) string {
		t.Helper()
		code, out := try(t)(argv, err)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", QuoteCommand(argv), code, out)
		}
		return out
	}
}

func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// stage builds a release of version from files (copied, as rsync would).
func stage(t *testing.T, l Layout, version string, files map[string]string, versionFiles, shared []string, revision string) {
	t.Helper()
	ok(t)(l.BeginStaging(version))
	writeTree(t, l.Staging(version), files)
	finalizeAndSeal(t, l, version, revision, versionFiles, shared)
}

// finalizeAndSeal completes the staged release of version on this
// machine (completeCommands).
func finalizeAndSeal(t *testing.T, l Layout, version, revision string, versionFiles, shared []string) {
	t.Helper()
	for _, c := range completeCommands(t, l, version, revision, versionFiles, shared) {
		ok(t)(c, nil)
	}
}

// completeCommands are the commands that complete a staged release:
// Finalize's, then Seal's.
func completeCommands(t *testing.T, l Layout, version, revision string, versionFiles, shared []string) [][]string {
	t.Helper()
	cmds, err := l.Finalize(version, revision, versionFiles, shared)
	if err != nil {
		t.Fatal(err)
	}
	seal, err := l.Seal(version)
	if err != nil {
		t.Fatal(err)
	}
	return append(cmds, seal...)
}

func TestLayoutLock(t *testing.T) {
	l := Layout{Path: filepath.Join(fastTempDir(t), "www")}
	ok(t)(l.Prepare())
	since := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	mine := LockInfo{Deployment: "d-1", Holder: "alice $(touch CANARY)", Since: since}
	ok(t)(l.Lock(mine))
	if got := ParseLockInfo(readFile(t, filepath.Join(l.LockDir(), "info"))); got != mine {
		t.Fatalf("lock info %+v, want %+v", got, mine)
	}
	// Held: exit 3 and the holder's info.
	code, out := try(t)(l.Lock(LockInfo{Deployment: "d-2", Holder: "bob", Since: since}))
	if code != ExitLockHeld || ParseLockInfo(out) != mine {
		t.Fatalf("second lock: exit %d %q", code, out)
	}
	// Another deployment cannot unlock it.
	code, out = try(t)(l.Unlock("d-2"))
	if code != ExitLockHeld || ParseLockInfo(out).Deployment != "d-1" {
		t.Fatalf("foreign unlock: exit %d %q", code, out)
	}
	if _, err := os.Stat(l.LockDir()); err != nil {
		t.Fatal("a foreign unlock removed the lock")
	}
	// A prefix of the id is not the id.
	if code, _ := try(t)(l.Unlock("d-")); code != ExitLockHeld {
		t.Fatal("unlock by a prefix of the deployment id")
	}
	// CheckLock: its own deployment's, not another's nor a prefix.
	ok(t)(l.CheckLock("d-1"))
	for _, other := range []string{"d-2", "d-"} {
		if code, out := try(t)(l.CheckLock(other)); code != ExitLockHeld || ParseLockInfo(out) != mine {
			t.Fatalf("CheckLock(%s): exit %d %q", other, code, out)
		}
	}
	ok(t)(l.Unlock("d-1"))
	if _, err := os.Stat(l.LockDir()); !os.IsNotExist(err) {
		t.Fatal("own unlock left the lock")
	}
	// No lock at all (broken): not ours, and nobody named.
	if code, out := try(t)(l.CheckLock("d-1")); code != ExitLockHeld || strings.TrimSpace(out) != "" {
		t.Fatalf("CheckLock without a lock: exit %d %q", code, out)
	}
	ok(t)(l.Unlock("d-1")) // no lock: fine
	// Lock works without Prepare, and BreakLock prints and removes.
	l2 := Layout{Path: filepath.Join(fastTempDir(t), "fresh")}
	ok(t)(l2.Lock(LockInfo{Deployment: "d-3", Holder: "carol", Since: since}))
	out = ok(t)(l2.BreakLock())
	if ParseLockInfo(out).Holder != "carol" {
		t.Fatalf("BreakLock printed %q", out)
	}
	if _, err := os.Stat(l2.LockDir()); !os.IsNotExist(err) {
		t.Fatal("BreakLock left the lock")
	}
	assertNoCanary(t, l.Path)
	assertNoLockLeft(t, l)
}

// assertNoLockLeft checks that no lock and no lock.<random> dir is left.
func assertNoLockLeft(t *testing.T, l Layout) {
	t.Helper()
	left, _ := filepath.Glob(filepath.Join(l.Path, ".releasedesk", "lock*"))
	if len(left) > 0 {
		t.Fatalf("lock entries left: %v", left)
	}
}

// TestLayoutLockRace: 50 lockers at once, three rounds: exactly one wins
// each round, every loser is told who holds it, and a lock is never seen
// without its info (taking it is one atomic step).
func TestLayoutLockRace(t *testing.T) {
	l := Layout{Path: filepath.Join(fastTempDir(t), "www")}
	ok(t)(l.Prepare())
	since := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	lockers := 50
	for round := range 3 {
		var (
			wg      sync.WaitGroup
			stop    = make(chan struct{})
			seen    atomic.Int64
			watchWG sync.WaitGroup
		)
		// A watcher reads the lock as another host process would, all
		// the time: whenever `lock` exists, its info names a locker.
		watchWG.Add(1)
		go func() {
			defer watchWG.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := os.Lstat(l.LockDir()); err != nil {
					continue
				}
				b, err := os.ReadFile(filepath.Join(l.LockDir(), "info"))
				if err != nil || !strings.HasPrefix(ParseLockInfo(string(b)).Deployment, "r") {
					t.Errorf("round %d: a lock without info was seen: %q %v", round, b, err)
					return
				}
				seen.Add(1)
			}
		}()
		codes := make([]int, lockers)
		outs := make([]string, lockers)
		for i := range lockers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i], outs[i] = try(t)(l.Lock(LockInfo{Deployment: fmt.Sprintf("r%d-%d", round, i), Holder: "x", Since: since}))
			}()
		}
		wg.Wait()
		close(stop)
		watchWG.Wait()
		winner := -1
		for i, c := range codes {
			switch c {
			case 0:
				if winner >= 0 {
					t.Fatalf("round %d: lockers %d and %d both won", round, winner, i)
				}
				winner = i
			case ExitLockHeld:
			default:
				t.Fatalf("round %d: locker %d: exit %d: %s", round, i, c, outs[i])
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: nobody won", round)
		}
		want := fmt.Sprintf("r%d-%d", round, winner)
		for i, c := range codes {
			if c == ExitLockHeld && ParseLockInfo(outs[i]).Deployment != want {
				t.Fatalf("round %d: locker %d was told %q, want the winner %s", round, i, outs[i], want)
			}
		}
		if got := ParseLockInfo(readFile(t, filepath.Join(l.LockDir(), "info"))).Deployment; got != want {
			t.Fatalf("round %d: the lock names %s, want %s", round, got, want)
		}
		t.Logf("round %d: %s won; the watcher read the lock %d times", round, want, seen.Load())
		ok(t)(l.Unlock(want))
		assertNoLockLeft(t, l)
	}
}

// TestLayoutLockOlderStyle: a lock dir made by an older version (mkdir,
// then info inside) is still honoured; one without info is held while
// young and removed, with a note, once older than InfolessLockAge; a
// lock.<random> dir left by a crash is swept by its deployment's Unlock.
func TestLayoutLockOlderStyle(t *testing.T) {
	l := Layout{Path: filepath.Join(fastTempDir(t), "www")}
	ok(t)(l.Prepare())
	since := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	mine := LockInfo{Deployment: "d-1", Holder: "alice", Since: since}
	old := LockInfo{Deployment: "d-old", Holder: "olga", Since: since}
	// An older-style lock with info: held, its holder named; its
	// deployment unlocks it.
	if err := os.Mkdir(l.LockDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(l.LockDir(), "info"), []byte(old.String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := try(t)(l.Lock(mine)); code != ExitLockHeld || ParseLockInfo(out) != old {
		t.Fatalf("lock over an older-style lock: exit %d %q", code, out)
	}
	if code, out := try(t)(l.Unlock("d-1")); code != ExitLockHeld || ParseLockInfo(out) != old {
		t.Fatalf("foreign unlock of an older-style lock: exit %d %q", code, out)
	}
	ok(t)(l.Unlock("d-old"))
	assertNoLockLeft(t, l)

	// An older-style lock without info, young: held by nobody known.
	if err := os.Mkdir(l.LockDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	if code, out := try(t)(l.Lock(mine)); code != ExitLockHeld || out != "" {
		t.Fatalf("lock over a young info-less lock: exit %d %q", code, out)
	}
	if code, _ := try(t)(l.Unlock("d-1")); code != ExitLockHeld {
		t.Fatalf("unlock of a young info-less lock: exit %d", code)
	}
	assertLockDirIsDir(t, l)
	// Older than InfolessLockAge: Lock removes it, says so, and takes the lock.
	aged := time.Now().Add(-InfolessLockAge - time.Minute)
	if err := os.Chtimes(l.LockDir(), aged, aged); err != nil {
		t.Fatal(err)
	}
	out := ok(t)(l.Lock(mine))
	if !strings.HasPrefix(out, StaleLockNote) {
		t.Fatalf("no note of the removed lock: %q", out)
	}
	if got := ParseLockInfo(readFile(t, filepath.Join(l.LockDir(), "info"))); got != mine {
		t.Fatalf("lock info %+v", got)
	}
	ok(t)(l.Unlock("d-1"))
	// ... and so does Unlock (recovery of whichever deployment).
	if err := os.Mkdir(l.LockDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(l.LockDir(), aged, aged); err != nil {
		t.Fatal(err)
	}
	if out := ok(t)(l.Unlock("d-9")); !strings.HasPrefix(out, StaleLockNote) {
		t.Fatalf("no note of the removed lock: %q", out)
	}
	assertNoLockLeft(t, l)

	// A crash between filling lock.<random> and linking it: no lock; the
	// dir goes with its deployment's next Unlock, even while another
	// deployment holds the lock.
	stray := filepath.Join(l.Path, ".releasedesk", "lock.crashed1")
	if err := os.Mkdir(stray, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stray, "info"), []byte(mine.String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	other := LockInfo{Deployment: "d-2", Holder: "bob", Since: since}
	ok(t)(l.Lock(other))
	if code, out := try(t)(l.Unlock("d-1")); code != ExitLockHeld || ParseLockInfo(out) != other {
		t.Fatalf("unlock by d-1 of d-2's lock: exit %d %q", code, out)
	}
	if _, err := os.Stat(stray); !os.IsNotExist(err) {
		t.Fatalf("d-1's stray lock dir is left: %v", err)
	}
	// BreakLock removes the lock and the dir it points to.
	if out := ok(t)(l.BreakLock()); ParseLockInfo(out) != other {
		t.Fatalf("BreakLock printed %q", out)
	}
	assertNoLockLeft(t, l)

	// A crash between making lock.<tag> and writing its info: the dir
	// names nobody, yet its deployment's Unlock (recovery) removes it,
	// and its next Lock takes the lock anew.
	own := filepath.Join(l.Path, ".releasedesk", "lock."+lockTag("d-1"))
	if err := os.Mkdir(own, 0o755); err != nil {
		t.Fatal(err)
	}
	ok(t)(l.Unlock("d-1"))
	assertNoLockLeft(t, l)
	if err := os.Mkdir(own, 0o755); err != nil {
		t.Fatal(err)
	}
	ok(t)(l.Lock(mine))
	// Locking again (a resumed run): held, by itself, and still whole.
	if code, out := try(t)(l.Lock(mine)); code != ExitLockHeld || ParseLockInfo(out) != mine {
		t.Fatalf("second lock by d-1: exit %d %q", code, out)
	}
	if got := ParseLockInfo(readFile(t, filepath.Join(l.LockDir(), "info"))); got != mine {
		t.Fatalf("lock info after a second Lock: %+v", got)
	}
	ok(t)(l.Unlock("d-1"))
	assertNoLockLeft(t, l)
}

func assertLockDirIsDir(t *testing.T, l Layout) {
	t.Helper()
	fi, err := os.Lstat(l.LockDir())
	if err != nil || !fi.IsDir() {
		t.Fatalf("the older-style lock dir is gone: %v", err)
	}
}

func TestLayoutReleaseLifecycle(t *testing.T) {
	root := fastTempDir(t)
	l := Layout{Path: filepath.Join(root, "www")}
	ok(t)(l.Prepare())
	for _, d := range []string{"releases", "shared", ".releasedesk"} {
		if st, err := os.Stat(filepath.Join(l.Path, d)); err != nil || !st.IsDir() {
			t.Fatalf("Prepare: %s missing", d)
		}
	}
	// Nothing deployed yet.
	if v, rev := ParseCurrent(ok(t)(l.ReadCurrent())); v != "" || rev != "" {
		t.Fatalf("ReadCurrent on an empty host: %q %q", v, rev)
	}
	if out := ok(t)(l.ListReleases()); out != "" {
		t.Fatalf("ListReleases on an empty host: %q", out)
	}

	files := map[string]string{
		"index.php":        "<?php echo 1;",
		"VERSION":          "from git",
		"public/app.js":    "js",
		".env":             "SECRET=from-release",
		"storage/logs/old": "old log",
	}
	rev1 := Revision{Version: tv1, Commit: tsha, Deployment: "d-1", Who: "alice"}.String()
	versionFiles := []string{"VERSION", "public/v.txt"}
	shared := []string{"storage/logs", ".env", "uploads/", "config/local.yml"}
	stage(t, l, tv1, files, versionFiles, shared, rev1)

	r1 := l.Release(tv1)
	if _, err := os.Stat(l.Staging(tv1)); !os.IsNotExist(err) {
		t.Fatal("staging dir left after Seal")
	}
	if got := readFile(t, filepath.Join(r1, "REVISION")); got != rev1 {
		t.Fatalf("REVISION %q", got)
	}
	if ParseRevision(rev1).Commit != tsha {
		t.Fatal("ParseRevision")
	}
	for _, f := range versionFiles {
		if got := readFile(t, filepath.Join(r1, f)); got != tv1+"\n" {
			t.Fatalf("%s = %q", f, got)
		}
	}
	// Shared: links to <path>/shared/<p>; created from the release's copy
	// (.env, storage/logs) or empty (uploads/ a dir, config/local.yml a file).
	for _, p := range []string{"storage/logs", ".env", "uploads", "config/local.yml"} {
		target, err := os.Readlink(filepath.Join(r1, p))
		if err != nil || target != filepath.Join(l.Path, "shared", p) {
			t.Fatalf("%s: link %q %v", p, target, err)
		}
	}
	if got := readFile(t, filepath.Join(l.Path, "shared/.env")); got != "SECRET=from-release" {
		t.Fatalf("shared .env %q", got)
	}
	if got := readFile(t, filepath.Join(l.Path, "shared/storage/logs/old")); got != "old log" {
		t.Fatalf("shared log %q", got)
	}
	if st, err := os.Stat(filepath.Join(l.Path, "shared/uploads")); err != nil || !st.IsDir() {
		t.Fatal("shared uploads/ is not a dir")
	}
	if st, err := os.Stat(filepath.Join(l.Path, "shared/config/local.yml")); err != nil || !st.Mode().IsRegular() {
		t.Fatal("shared config/local.yml is not a file")
	}
	// shared stays writable; the release is read-only (mode bits: root
	// ignores them, so they are what we can check).
	if st, _ := os.Stat(filepath.Join(l.Path, "shared/.env")); st.Mode().Perm()&0o200 == 0 {
		t.Fatal("shared .env is read-only")
	}
	assertReadOnly(t, r1)

	// Second release: its files start as hard links of the first (as
	// rsync --link-dest makes them). Writing version files must not touch
	// the first release's inodes.
	ok(t)(l.BeginStaging(tv2))
	ok(t)([]string{"cp", "-al", r1 + "/.", l.Staging(tv2)}, nil)
	for _, p := range []string{"storage/logs", ".env", "uploads", "config/local.yml", "REVISION"} {
		_ = os.Remove(filepath.Join(l.Staging(tv2), p))
	}
	finalizeAndSeal(t, l, tv2, Revision{Version: tv2, Commit: tsha, Deployment: "d-2", Who: "bob"}.String(), versionFiles, shared)
	r2 := l.Release(tv2)
	if readFile(t, filepath.Join(r1, "VERSION")) != tv1+"\n" || readFile(t, filepath.Join(r2, "VERSION")) != tv2+"\n" {
		t.Fatal("a version file written through a hard link changed the older release")
	}
	if !sameFile(t, filepath.Join(r1, "index.php"), filepath.Join(r2, "index.php")) {
		t.Fatal("unchanged file is not shared")
	}
	if readFile(t, filepath.Join(l.Path, "shared/.env")) != "SECRET=from-release" {
		t.Fatal("an existing shared file was replaced")
	}

	// Switch, read, switch again.
	ok(t)(l.Switch(tv1))
	if target, _ := os.Readlink(l.Current()); target != "releases/"+tv1 {
		t.Fatalf("current -> %q", target)
	}
	v, rev := ParseCurrent(ok(t)(l.ReadCurrent()))
	if v != tv1 || rev != rev1 {
		t.Fatalf("ReadCurrent: %q %q", v, rev)
	}
	ok(t)(l.Switch(tv2))
	if v, rev := ParseCurrent(ok(t)(l.ReadCurrent())); v != tv2 || ParseRevision(rev).Who != "bob" {
		t.Fatalf("ReadCurrent after switch: %q %q", v, rev)
	}
	if code, _ := try(t)(l.Switch("20990101000000-0000000")); code != ExitMissing {
		t.Fatalf("switch to a missing release: exit %d", code)
	}
	if target, _ := os.Readlink(l.Current()); target != "releases/"+tv2 {
		t.Fatal("a failed switch moved current")
	}

	// ReleaseInfo.
	if out := ok(t)(l.ReleaseInfo(tv1)); out != rev1 {
		t.Fatalf("ReleaseInfo %q", out)
	}
	if code, _ := try(t)(l.ReleaseInfo("20990101000000-0000000")); code != ExitMissing {
		t.Fatalf("ReleaseInfo of a missing release: exit %d", code)
	}

	// List: only complete releases.
	ok(t)(l.BeginStaging("20250101000000-fffffff")) // a partial
	_ = os.Mkdir(filepath.Join(l.Releases(), "junk"), 0o755)
	_ = os.Symlink(r1, filepath.Join(l.Releases(), "20200101000000-aaaaaaa"))
	out := ok(t)(l.ListReleases())
	if out != tv1+"\n"+tv2+"\n" || !slices.Equal(ParseReleases(out), []string{tv1, tv2}) {
		t.Fatalf("ListReleases %q", out)
	}

	// Remove: never the current one; read-only trees go; files shared
	// with kept releases stay read-only.
	if code, _ := try(t)(l.Remove(tv1, tv2)); code != ExitIsCurrent {
		t.Fatalf("Remove of current: exit %d", code)
	}
	if _, err := os.Stat(r1); err != nil {
		t.Fatal("a refused Remove removed something")
	}
	ok(t)(l.Remove(tv1))
	if _, err := os.Stat(r1); !os.IsNotExist(err) {
		t.Fatal("Remove left the release")
	}
	assertReadOnly(t, r2)
	ok(t)(l.RemoveStaging("20250101000000-fffffff"))
	if _, err := os.Stat(l.Staging("20250101000000-fffffff")); !os.IsNotExist(err) {
		t.Fatal("RemoveStaging left the staging dir")
	}
	ok(t)(l.Remove("20990101000000-0000000")) // absent: fine
}

func TestLayoutFinalizeRefusesEscape(t *testing.T) {
	root := fastTempDir(t)
	outside := filepath.Join(root, "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	l := Layout{Path: filepath.Join(root, "www")}
	ok(t)(l.Prepare())
	ok(t)(l.BeginStaging(tv1))
	if err := os.Symlink(outside, filepath.Join(l.Staging(tv1), "public")); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][]string{{"public/VERSION"}, {"public/x/VERSION"}} {
		cmds, err := l.Finalize(tv1, "r", c, nil)
		if err != nil {
			t.Fatal(err)
		}
		if code, out := try(t)(cmds[0], nil); code == 0 || !strings.Contains(out, "leads out") {
			t.Fatalf("version file through a symlink: exit %d %q", code, out)
		}
		cmds, _ = l.Finalize(tv1, "r", nil, c)
		if code, out := try(t)(cmds[1], nil); code == 0 || !strings.Contains(out, "leads out") {
			t.Fatalf("shared path through a symlink: exit %d %q", code, out)
		}
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Fatalf("something was written outside the release: %v", entries)
	}
}

func TestLayoutSwitchNeverMissing(t *testing.T) {
	l := Layout{Path: filepath.Join(fastTempDir(t), "www")}
	ok(t)(l.Prepare())
	for _, v := range []string{tv1, tv2} {
		stage(t, l, v, map[string]string{"f": v}, nil, nil, v)
	}
	ok(t)(l.Switch(tv1))
	stop := make(chan struct{})
	var reads, misses atomic.Int64
	var wg sync.WaitGroup
	for range 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				target, err := os.Readlink(l.Current())
				reads.Add(1)
				if err != nil || (target != "releases/"+tv1 && target != "releases/"+tv2) {
					misses.Add(1)
				}
			}
		}()
	}
	for i := range 200 {
		v := tv1
		if i%2 == 0 {
			v = tv2
		}
		ok(t)(l.Switch(v))
	}
	close(stop)
	wg.Wait()
	if misses.Load() != 0 {
		t.Fatalf("current was missing or wrong %d times in %d reads", misses.Load(), reads.Load())
	}
	t.Logf("%d reads during 200 switches, none missed", reads.Load())
	if matches, _ := filepath.Glob(filepath.Join(l.Path, ".current.*")); len(matches) != 0 {
		t.Fatalf("temporary links left: %v", matches)
	}
}

func TestLayoutHookAndCheck(t *testing.T) {
	root := fastTempDir(t)
	l := Layout{Path: filepath.Join(root, "www")}
	ok(t)(l.Prepare())
	// Before Finalize the hook runs in the staging dir.
	ok(t)(l.BeginStaging(tv1))
	env := []string{"APP_ENV=prod", "NOTE=$(touch CANARY); `touch CANARY` 'x\"\ny"}
	script := `printf '%s|%s|%s' "$(pwd)" "$APP_ENV" "$NOTE"`
	out := ok(t)(l.Hook(tv1, script, env))
	if want := l.Staging(tv1) + "|prod|" + strings.TrimPrefix(env[1], "NOTE="); out != want {
		t.Fatalf("hook in staging: %q\nwant %q", out, want)
	}
	finalizeAndSeal(t, l, tv1, "r", nil, nil)
	out = ok(t)(l.Hook(tv1, script, env))
	if !strings.HasPrefix(out, l.Release(tv1)+"|prod|") {
		t.Fatalf("hook in release: %q", out)
	}
	if code, _ := try(t)(l.Hook(tv1, "exit 7", nil)); code != 7 {
		t.Fatalf("hook exit: %d", code)
	}
	if code, _ := try(t)(l.Hook(tv2, "true", nil)); code != ExitMissing {
		t.Fatalf("hook of a missing release: %d", code)
	}
	// Check: passes, fails, times out (quickly, and kills its children).
	if code, _ := try(t)(l.Check(tv1, `[ "$A" = 1 ]`, 5*time.Second, []string{"A=1"})); code != 0 {
		t.Fatalf("check: exit %d", code)
	}
	if code, _ := try(t)(l.Check(tv1, "exit 3", 5*time.Second, nil)); code != 3 {
		t.Fatalf("failing check: exit %d", code)
	}
	start := time.Now()
	code, _ := try(t)(l.Check(tv1, "sleep 20; echo late", 300*time.Millisecond, nil))
	if code != ExitTimeout || time.Since(start) > 5*time.Second {
		t.Fatalf("timed out check: exit %d after %s", code, time.Since(start))
	}
	assertNoCanary(t, root, l.Release(tv1))
}

func TestLayoutGitStrategy(t *testing.T) {
	withLocalTools(t) // this machine plays the host, which has git
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	root := fastTempDir(t)
	repo := filepath.Join(root, "src.git")
	work := filepath.Join(root, "work")
	git := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command(gitBinary, append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@x", "GIT_COMMITTER_NAME=t",
			"GIT_COMMITTER_EMAIL=t@x", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	ok(t)([]string{"git", "init", "-q", "--bare", repo}, nil)
	ok(t)([]string{"git", "init", "-q", work}, nil)
	writeTree(t, work, map[string]string{"a.txt": "A", "dir/b.txt": "B"})
	git(work, "add", ".")
	git(work, "commit", "-qm", "one")
	git(work, "push", "-q", repo, "HEAD:refs/heads/main")
	sha := git(work, "rev-parse", "HEAD")
	writeTree(t, work, map[string]string{"a.txt": "A2"})
	git(work, "commit", "-qam", "two")
	git(work, "push", "-q", repo, "HEAD:refs/heads/main")

	l := Layout{Path: filepath.Join(root, "www")}
	ok(t)(l.Prepare())
	ok(t)(l.GitFetch(repo, sha))
	ok(t)(l.GitFetch(repo, sha)) // already there: no fetch
	ok(t)(l.BeginStaging(tv1))
	ok(t)(l.GitArchive(sha, tv1, nil))
	if readFile(t, filepath.Join(l.Staging(tv1), "a.txt")) != "A" || readFile(t, filepath.Join(l.Staging(tv1), "dir/b.txt")) != "B" {
		t.Fatal("archive content")
	}
	if matches, _ := filepath.Glob(filepath.Join(l.Repo(), "*.tar")); len(matches) != 0 {
		t.Fatalf("archive temp left: %v", matches)
	}
	// An unknown commit fails, and leaves nothing half-extracted.
	if code, _ := try(t)(l.GitFetch(repo, strings.Repeat("1", 40))); code == 0 {
		t.Fatal("fetch of an unknown commit succeeded")
	}
	ok(t)(l.BeginStaging(tv2))
	if code, _ := try(t)(l.GitArchive(strings.Repeat("1", 40), tv2, nil)); code == 0 {
		t.Fatal("archive of an unknown commit succeeded")
	}
}

func assertReadOnly(t *testing.T, root string) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Mode().Perm()&0o222 != 0 {
			t.Errorf("%s is writable: %v", p, info.Mode())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	sa, err := os.Stat(a)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := os.Stat(b)
	if err != nil {
		t.Fatal(err)
	}
	return os.SameFile(sa, sb)
}

// TestGitArchiveExcludeMatchesExport: for each exclude list, what
// GitArchive extracts on a host (git archive | tar with TarArgs) is the
// very tree Export writes here, and refused patterns are refused by both.
func TestGitArchiveExcludeMatchesExport(t *testing.T) {
	needGit(t)
	files := map[string]string{}
	for _, p := range []string{
		"index.php", "app.log", "logs/today.log", "logs/keep.txt", "logs/x.log/inner.txt",
		"node_modules/x/y.js", "web/node_modules/z.js", "node_modules_x/keep.js",
		"storage/logs/a.txt", "storage/keep.txt", "a/storage/logs/b.txt", "storage/logsx/c.txt",
		"config/app.local.php", "config/app.php", "config/sub/b.local.php", "a/config/app.local.php",
		"public/app.js.map", "public/js/app.js.map", ".gitignore", ".github/ci.yml", ".env.example",
		"docs/private/secret.md", "docs/private-not.md", "with space/a b.txt", "q?/x.txt", "cache/x", "src/cache",
	} {
		files[p] = p + "\n"
	}
	repo, head := newTestRepo(t, files)
	m := testMirror(t, repo)
	withLocalTools(t) // this machine plays the host, which has git
	root := fastTempDir(t)
	l := Layout{Path: filepath.Join(root, "www")}
	ok(t)(l.Prepare())
	ok(t)(l.GitFetch(repo, head))
	cases := [][]string{
		nil,
		{"node_modules", "*.log"},
		{"storage/logs", "/public/*.map", "cache/"},
		{"config/*.local.php", "/docs/private"},
		{".git*", "*.md", "with space", "q?"},
		{"config/*", "logs/*.log", "[a-c]*", "??.txt"},
		{"[^a-z]*", "*/*/x", "web"},
	}
	var all int
	for i, ex := range cases {
		dest := filepath.Join(root, fmt.Sprintf("export%d", i))
		if err := m.Export(t.Context(), head, dest, ex); err != nil {
			t.Fatalf("%v: export: %v", ex, err)
		}
		want, err := BuildManifest(dest)
		if err != nil {
			t.Fatal(err)
		}
		ok(t)(l.BeginStaging(tv1))
		ok(t)(l.GitArchive(head, tv1, ex))
		got, err := BuildManifest(l.Staging(tv1))
		if err != nil {
			t.Fatal(err)
		}
		if got.Hash != want.Hash {
			t.Errorf("exclude %q: tar extracted\n%v\nexport wrote\n%v", ex, manifestPaths(got), manifestPaths(want))
		}
		if i == 0 {
			all = len(got.Entries)
		} else if len(got.Entries) >= all {
			t.Errorf("exclude %q left nothing out", ex)
		}
	}
	for _, bad := range []string{"a/**/b", "[!a]*", "[[:alpha:]]", `a\*`, "-x", "+ y", "a\nb", ""} {
		if _, err := l.GitArchive(head, tv1, []string{bad}); err == nil {
			t.Errorf("GitArchive took exclude %q", bad)
		}
		if err := m.Export(t.Context(), head, filepath.Join(root, "refused"), []string{bad}); err == nil && !strings.HasPrefix(bad, "-") && !strings.HasPrefix(bad, "+") {
			t.Errorf("Export took exclude %q", bad)
		}
	}
}

func manifestPaths(m Manifest) []string {
	var out []string
	for _, e := range m.Entries {
		out = append(out, e.Path)
	}
	return out
}

// TestLayoutRemoveRenamesFirst: Remove renames a release away before it
// deletes it, and removes what an interrupted Remove left; a name being
// removed is never listed as a release.
func TestLayoutRemoveRenamesFirst(t *testing.T) {
	l := Layout{Path: filepath.Join(fastTempDir(t), "www")}
	ok(t)(l.Prepare())
	files := map[string]string{"a.txt": "a", "d/b.txt": "b"}
	stage(t, l, tv1, files, nil, nil, "r1")
	stage(t, l, tv2, files, nil, nil, "r2")
	ok(t)(l.Switch(tv2))
	// What a crash in the middle of an earlier Remove of tv1 leaves.
	if err := os.Rename(l.Release(tv1), l.Release(tv1)+".removing"); err != nil {
		t.Fatal(err)
	}
	if got := ParseReleases(ok(t)(l.ListReleases())); !slices.Equal(got, []string{tv2}) {
		t.Fatalf("releases %v", got)
	}
	stage(t, l, tv1, files, nil, nil, "r1 again")
	ok(t)(l.Switch(tv1))
	ok(t)(l.Remove(tv2))
	entries, err := os.ReadDir(l.Releases())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{tv1}) {
		t.Fatalf("releases/ holds %v, want only %s", names, tv1)
	}
}
