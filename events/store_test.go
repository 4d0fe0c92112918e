package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
)

var _ Log = (*Store)(nil)

func openStore(t *testing.T, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestStoreReopen(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	for i := range 10 {
		confAppend(t, s, fmt.Sprintf("release/%d", i%3), AnyVersion, confEvent("release.noted", i), confEvent("release.noted", i))
	}
	before := confReadAll(t, s, 0)
	head := s.Head()
	stats, _ := s.Stats(context.Background())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, dir, Options{})
	if s.Damage() != nil {
		t.Fatalf("healthy store reports damage: %v", s.Damage())
	}
	if got := s.Head(); got != head {
		t.Fatalf("head after reopen %+v, before %+v", got, head)
	}
	if dh, err := s.DurableHead(); err != nil || dh != head {
		t.Fatalf("durable head after reopen %+v %v", dh, err)
	}
	if got, _ := s.Stats(context.Background()); got != stats {
		t.Fatalf("stats after reopen %+v, before %+v", got, stats)
	}
	after := confReadAll(t, s, 0)
	if len(after) != len(before) {
		t.Fatalf("%d events after reopen, %d before", len(after), len(before))
	}
	for i := range before {
		a, b := after[i], before[i]
		if a.Hash != b.Hash || a.Stream != b.Stream || a.Version != b.Version || !a.Time.Equal(b.Time) || a.Time != b.Time || string(a.Data) != string(b.Data) {
			t.Fatalf("position %d changed across reopen:\n%+v\n%+v", i+1, a, b)
		}
	}
	// Positions, versions and the chain continue; versions come from disk.
	got := confAppend(t, s, "release/0", 8, confEvent("release.noted", 99))
	if got[0].Position != 21 || got[0].Version != 9 || got[0].PrevHash != head.Hash {
		t.Fatalf("append after reopen: %+v", got[0])
	}
	if _, err := s.Append(context.Background(), "release/1", NoStream, confEvent("release.noted", 1)); !errors.Is(err, ErrConcurrency) {
		t.Fatalf("NoStream on a stream from before the reopen: %v", err)
	}
	confCheckChain(t, s)
}

func TestStoreGroupCommit(t *testing.T) {
	const writers, each = 16, 25
	for _, c := range []struct {
		name     string
		maxBatch int
	}{{"grouped", 0}, {"alone", 1}} {
		t.Run(c.name, func(t *testing.T) {
			s := openStore(t, t.TempDir(), Options{MaxBatch: c.maxBatch})
			var wg sync.WaitGroup
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range each {
						if _, err := s.Append(context.Background(), fmt.Sprintf("deploy/%d", w), AnyVersion, confEvent("step.finished", i)); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			commits := s.commits.Load()
			t.Logf("%d appends in %d commits", writers*each, commits)
			if c.maxBatch == 1 && commits != writers*each {
				t.Fatalf("MaxBatch 1 made %d commits for %d appends", commits, writers*each)
			}
			if c.maxBatch != 1 && commits >= writers*each {
				t.Fatalf("group commit made %d commits for %d appends", commits, writers*each)
			}
			confCheckChain(t, s)
		})
	}
}

// blockFirstCommit makes the writer wait inside its first commit until
// release is closed, so that the next Appends queue up behind it.
func blockFirstCommit(s *Store) (entered, release chan struct{}) {
	entered, release = make(chan struct{}), make(chan struct{})
	var once sync.Once
	s.failCommit = func(bool) error {
		once.Do(func() { close(entered); <-release })
		return nil
	}
	return entered, release
}

func TestStoreGroupIsolatesConflicts(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	entered, release := blockFirstCommit(s)
	go func() { _, _ = s.Append(context.Background(), "user/first", NoStream, confEvent("user.added", 0)) }()
	<-entered

	type outcome struct {
		name string
		envs []Envelope
		err  error
	}
	results := make(chan outcome, 8)
	appendAs := func(name, stream string, expected int64) {
		envs, err := s.Append(context.Background(), stream, expected, confEvent("lock.taken", 1))
		results <- outcome{name, envs, err}
	}
	go appendAs("ok1", "lock/a", NoStream)
	go appendAs("ok2", "lock/b", NoStream)
	go appendAs("stale", "user/first", 5)
	go appendAs("ok3", "lock/c", NoStream)
	time.Sleep(300 * time.Millisecond) // let them all queue behind the blocked commit
	close(release)

	var positions []uint64
	for range 4 {
		r := <-results
		switch {
		case r.name == "stale":
			var ce *ConcurrencyError
			if !errors.As(r.err, &ce) || ce.Actual != 1 {
				t.Errorf("stale append: %v", r.err)
			}
		case r.err != nil:
			t.Errorf("%s failed with its group's conflict: %v", r.name, r.err)
		default:
			positions = append(positions, r.envs[0].Position)
		}
	}
	sort.Slice(positions, func(i, j int) bool { return positions[i] < positions[j] })
	if !confEqual(positions, []uint64{2, 3, 4}) {
		t.Fatalf("positions of the successful appends: %v", positions)
	}
	if n := s.commits.Load(); n != 2 {
		t.Fatalf("%d commits, want 2 (the blocked one, then one group)", n)
	}
	confCheckChain(t, s)
}

// TestStoreStreamHeadPublishedOnly holds a commit between Badger and its
// publication: the stream index already names the new version, but
// StreamHead, like ReadStream, must not report it until Append returns.
func TestStoreStreamHeadPublishedOnly(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	entered, release := make(chan struct{}), make(chan struct{})
	var commits int
	s.failCommit = func(afterCommit bool) error {
		if afterCommit {
			if commits++; commits == 2 {
				close(entered)
				<-release
			}
		}
		return nil
	}
	ctx := context.Background()
	first := confAppend(t, s, "deploy/1", NoStream, confEvent("step.finished", 1))
	done := make(chan []Envelope, 1)
	go func() {
		envs, err := s.Append(ctx, "deploy/1", 1, confEvent("step.finished", 2), confEvent("step.finished", 3))
		if err != nil {
			t.Error(err)
		}
		done <- envs
	}()
	<-entered
	h, err := s.StreamHead(ctx, "deploy/1")
	if err != nil || h != (StreamHead{Version: 1, Hash: first[0].Hash}) {
		close(release)
		t.Fatalf("stream head %+v (%v) while version 3 is committed but not published, want version 1", h, err)
	}
	if end := confStreamEnd(t, s, "deploy/1"); end != h {
		close(release)
		t.Fatalf("ReadStream ends at %+v, StreamHead at %+v", end, h)
	}
	close(release)
	envs := <-done
	h, err = s.StreamHead(ctx, "deploy/1")
	if err != nil || h != (StreamHead{Version: 3, Hash: envs[1].Hash}) {
		t.Fatalf("stream head %+v (%v) after the append returned version 3", h, err)
	}
}

// TestStoreGroupSplitsAtBudget queues large Appends behind a blocked commit:
// the writer must commit them in several transactions, none split.
func TestStoreGroupSplitsAtBudget(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	entered, release := blockFirstCommit(s)
	go func() { _, _ = s.Append(context.Background(), "user/first", NoStream, confEvent("user.added", 0)) }()
	<-entered

	const appends = 6
	big := make([]Event, MaxEventsPerAppend)
	for i := range big {
		big[i] = Event{Type: "step.output", Data: json.RawMessage(`"` + strings.Repeat("x", 600) + `"`)}
	}
	errs := make(chan error, appends)
	for i := range appends {
		go func() {
			envs, err := s.Append(context.Background(), fmt.Sprintf("deploy/%d", i), NoStream, big...)
			if err == nil && (len(envs) != MaxEventsPerAppend || envs[len(envs)-1].Position != envs[0].Position+MaxEventsPerAppend-1) {
				err = fmt.Errorf("append %d was split: %d envelopes from %d", i, len(envs), envs[0].Position)
			}
			errs <- err
		}()
	}
	time.Sleep(300 * time.Millisecond)
	close(release)
	for range appends {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := s.commits.Load(); n < 3 || n > appends+1 {
		t.Fatalf("%d commits for %d appends of %d KB each", n, appends, len(big)*600>>10)
	}
	t.Logf("%d large appends in %d commits after the blocked one", appends, s.commits.Load()-1)
	confCheckChain(t, s)
}

func TestStoreCommitFailure(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	confAppend(t, s, "host/a", NoStream, confEvent("host.added", 1))
	head := s.Head()
	diskFull := errors.New("no space left on device")
	var failing sync.Mutex
	fail := true
	s.failCommit = func(afterCommit bool) error {
		failing.Lock()
		defer failing.Unlock()
		if fail && !afterCommit {
			return diskFull
		}
		return nil
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Append(context.Background(), fmt.Sprintf("host/%d", i), NoStream, confEvent("host.added", i)); !errors.Is(err, diskFull) {
				t.Errorf("append during a failing commit: %v", err)
			}
		}()
	}
	wg.Wait()
	if _, err := s.Append(context.Background(), "host/a", 1, confEvent("host.checked", 2)); !errors.Is(err, diskFull) {
		t.Fatalf("append during a failing commit: %v", err)
	}
	if s.Head() != head {
		t.Fatalf("a failed commit moved the head to %+v", s.Head())
	}
	if st, _ := s.Stats(context.Background()); st.Count != 1 || st.Streams != 1 {
		t.Fatalf("a failed commit changed the stats: %+v", st)
	}
	if dh, _ := s.DurableHead(); dh != head {
		t.Fatalf("a failed commit moved the head record to %+v", dh)
	}

	failing.Lock()
	fail = false
	failing.Unlock()
	got := confAppend(t, s, "host/a", 1, confEvent("host.checked", 2))
	if got[0].Position != 2 || got[0].Version != 2 || got[0].PrevHash != head.Hash {
		t.Fatalf("append after the disk recovered: %+v", got[0])
	}
	confAppend(t, s, "host/0", NoStream, confEvent("host.added", 0))
	confCheckChain(t, s)
}

// TestStoreCommitFailedAfterWrite: Badger reports a failed commit whose
// writes reached the database anyway (a log sync that failed). The store must
// not plan new positions over them: it refuses appends until reopened, and
// the reopened log is whole.
func TestStoreCommitFailedAfterWrite(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	confAppend(t, s, "host/a", NoStream, confEvent("host.added", 1))
	syncFailed := errors.New("input/output error")
	var once sync.Once
	s.failCommit = func(afterCommit bool) error {
		var err error
		if afterCommit {
			once.Do(func() { err = syncFailed })
		}
		return err
	}
	if _, err := s.Append(context.Background(), "host/b", NoStream, confEvent("host.added", 2)); !errors.Is(err, syncFailed) {
		t.Fatalf("append whose commit failed: %v", err)
	}
	_, err := s.Append(context.Background(), "host/c", NoStream, confEvent("host.added", 3))
	if err == nil || !strings.Contains(err.Error(), "reopen") {
		t.Fatalf("append after an uncertain commit: %v", err)
	}
	if s.Head().Position != 1 {
		t.Fatalf("head moved to %d", s.Head().Position)
	}
	must(t, s.Close())

	s = openStore(t, dir, Options{})
	raw := confCheckChain(t, s)
	if len(raw) != 2 || raw[1].Stream != "host/b" {
		t.Fatalf("reopened log: %+v", raw)
	}
	confAppend(t, s, "host/c", NoStream, confEvent("host.added", 3))
	confCheckChain(t, s)
}

func TestStoreLocked(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	start := time.Now().Add(-time.Second)

	check := func(what string, err error, pid int) {
		t.Helper()
		var le *LockedError
		if !errors.Is(err, ErrLocked) || !errors.As(err, &le) {
			t.Fatalf("%s: %v, want a *LockedError", what, err)
		}
		if le.PID != pid || le.Dir != dir || le.Command == "" || le.Since.Before(start.Truncate(time.Second)) || le.Since.After(time.Now()) {
			t.Fatalf("%s: %+v, want pid %d, dir %s and a command", what, le, pid, dir)
		}
		if msg := err.Error(); !strings.Contains(msg, fmt.Sprintf("in use by pid %d", pid)) || !strings.Contains(msg, dir) || strings.Contains(msg, "Cannot acquire") {
			t.Fatalf("%s: message %q", what, msg)
		}
	}
	_, err := Open(dir, Options{})
	check("second open in this process", err, os.Getpid())
	_, err = Open(dir, Options{ReadOnly: true})
	check("read-only open beside a writer", err, os.Getpid())

	out := runStoreChild(t, "open", dir)
	var res childResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("child said %s", out)
	}
	if !res.Locked || res.PID != os.Getpid() || !strings.Contains(res.Err, fmt.Sprintf("in use by pid %d", os.Getpid())) {
		t.Fatalf("open from another process: %+v", res)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openStore(t, dir, Options{})
	_ = s2.Close()
}

// childResult is what a store child process reports on stdout.
type childResult struct {
	Err      string `json:"err,omitempty"`
	Locked   bool   `json:"locked,omitempty"`
	PID      int    `json:"pid,omitempty"`
	NotWrite bool   `json:"not_writable,omitempty"`
	Events   int    `json:"events,omitempty"`
	AppendRO bool   `json:"append_read_only,omitempty"`
}

// runStoreChild runs storeChild in a new process of this test binary.
func runStoreChild(t *testing.T, what, dir string) []byte {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "RD_STORE_CHILD="+what, "RD_STORE_DIR="+dir)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child %s: %v\n%s", what, err, out)
	}
	return childLine(t, out)
}

// childLine is the child's JSON line among go test's own output.
func childLine(t *testing.T, out []byte) []byte {
	t.Helper()
	for _, line := range bytes.Split(out, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("{")) {
			return line
		}
	}
	t.Fatalf("no result from the child in %q", out)
	return nil
}

// storeChild is the body of runStoreChild's process. TestMain runs it.
func storeChild(what, dir string) {
	var res childResult
	switch what {
	case "open":
		s, err := Open(dir, Options{})
		var le *LockedError
		if errors.As(err, &le) {
			res.Locked, res.PID = true, le.PID
		}
		if err != nil {
			res.Err = err.Error()
		} else {
			s.Close()
		}
	case "read-only-dir":
		res = checkReadOnlyDir(dir)
	}
	b, _ := json.Marshal(res)
	fmt.Printf("%s\n", b)
}

// checkReadOnlyDir opens a store this process cannot write: refused with a
// clear error, then read-only with reads working and appends refused.
func checkReadOnlyDir(dir string) childResult {
	var res childResult
	_, err := Open(dir, Options{})
	if err == nil {
		res.Err = "open of an unwritable directory succeeded"
		return res
	}
	res.Err = err.Error()
	res.NotWrite = errors.Is(err, fs.ErrPermission) && strings.Contains(err.Error(), "not writable")
	s, err := Open(dir, Options{ReadOnly: true})
	if err != nil {
		res.Err += "; read-only open: " + err.Error()
		return res
	}
	defer s.Close()
	_ = s.ReadAll(context.Background(), 0, func(Envelope) error { res.Events++; return nil })
	_, err = s.Append(context.Background(), "x", AnyVersion, Event{Type: "x.y"})
	res.AppendRO = errors.Is(err, ErrReadOnly)
	return res
}

func TestStoreNotAStore(t *testing.T) {
	for name, files := range map[string]map[string]string{
		"foreign files": {"notes.txt": "hello", "photos/a.jpg": "x"},
		"other format":  {"FORMAT": "something-else 3\n", "data.bin": "x"},
		"format only":   {"FORMAT": "releasedesk-events 2\n"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			for p, body := range files {
				must(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755))
				must(t, os.WriteFile(filepath.Join(dir, p), []byte(body), 0o644))
			}
			before := snapshotDir(t, dir)
			_, err := Open(dir, Options{})
			if !errors.Is(err, ErrNotStore) || !strings.Contains(err.Error(), dir) {
				t.Fatalf("open: %v, want ErrNotStore naming %s", err, dir)
			}
			if after := snapshotDir(t, dir); after != before {
				t.Fatalf("open changed the directory:\n%s\nbefore:\n%s", after, before)
			}
		})
	}
	t.Run("missing directory is created", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "a", "b")
		openStore(t, dir, Options{})
		if b, err := os.ReadFile(filepath.Join(dir, formatFileName)); err != nil || string(b) != formatMarker {
			t.Fatalf("marker %q %v", b, err)
		}
	})
	t.Run("read-only open of nothing", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := Open(dir, Options{ReadOnly: true}); !errors.Is(err, ErrNotStore) {
			t.Fatalf("read-only open of an empty directory: %v", err)
		}
		if after := snapshotDir(t, dir); after != "" {
			t.Fatalf("read-only open wrote %s", after)
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// snapshotDir lists every file under dir with its size, mode and mtime.
func snapshotDir(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(&b, "%s %d %v %d\n", rel, info.Size(), info.Mode(), info.ModTime().UnixNano())
		return nil
	})
	must(t, err)
	return b.String()
}

// makeStore fills a new store in dir with n events and closes it.
func makeStore(t *testing.T, dir string, n int) {
	t.Helper()
	s, err := Open(dir, Options{})
	must(t, err)
	for i := range n {
		if _, err := s.Append(context.Background(), "release/1", AnyVersion, confEvent("release.noted", i)); err != nil {
			t.Fatal(err)
		}
	}
	must(t, s.Close())
}

// TestStoreReadOnlyMount opens a store on a read-only file system (a
// read-only bind mount, which binds even root).
func TestStoreReadOnlyMount(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	makeStore(t, src, 7)
	if err := syscall.Mount(src, dst, "", syscall.MS_BIND, ""); err != nil {
		t.Skipf("cannot bind-mount here (%v); TestStoreUnwritableDir covers permissions", err)
	}
	defer syscall.Unmount(dst, 0)
	if err := syscall.Mount("", dst, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, ""); err != nil {
		t.Skipf("cannot remount read-only here (%v); TestStoreUnwritableDir covers permissions", err)
	}
	before := snapshotDir(t, src)
	res := checkReadOnlyDir(dst)
	if !res.NotWrite || res.Events != 7 || !res.AppendRO {
		t.Fatalf("read-only mount: %+v", res)
	}
	t.Logf("refusal: %s", res.Err)
	if after := snapshotDir(t, src); after != before {
		t.Fatalf("the store changed:\n%s\nbefore:\n%s", after, before)
	}
}

// TestStoreUnwritableDir opens a store whose directory and files this
// process may not write (chmod). Root ignores modes, so as root the check
// runs in a child process as user nobody.
func TestStoreUnwritableDir(t *testing.T) {
	base, err := os.MkdirTemp("", "rd-unwritable-")
	must(t, err)
	t.Cleanup(func() {
		_ = filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error { return os.Chmod(p, 0o755) })
		os.RemoveAll(base)
	})
	must(t, os.Chmod(base, 0o755))
	dir := filepath.Join(base, "data")
	makeStore(t, dir, 5)
	must(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.Chmod(p, 0o555)
		}
		return os.Chmod(p, 0o444)
	}))
	before := snapshotDir(t, dir)

	var res childResult
	if os.Geteuid() != 0 {
		res = checkReadOnlyDir(dir)
	} else {
		res = runAsNobody(t, base, dir)
	}
	if !res.NotWrite || res.Events != 5 || !res.AppendRO {
		t.Fatalf("unwritable directory: %+v", res)
	}
	t.Logf("refusal: %s", res.Err)
	if after := snapshotDir(t, dir); after != before {
		t.Fatalf("the store changed:\n%s\nbefore:\n%s", after, before)
	}
}

// runAsNobody runs checkReadOnlyDir in a child process as user nobody, from
// a copy of the test binary that nobody may execute.
func runAsNobody(t *testing.T, base, dir string) childResult {
	t.Helper()
	bin, err := os.ReadFile(os.Args[0])
	must(t, err)
	exe := filepath.Join(base, "events.test")
	must(t, os.WriteFile(exe, bin, 0o755))
	cmd := exec.Command(exe)
	cmd.Dir = base
	cmd.Env = append(os.Environ(), "RD_STORE_CHILD=read-only-dir", "RD_STORE_DIR="+dir, "HOME="+base)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child as nobody: %v\n%s", err, out)
	}
	var res childResult
	must(t, json.Unmarshal(childLine(t, out), &res))
	return res
}

func TestStoreReadOnlyOption(t *testing.T) {
	dir := t.TempDir()
	makeStore(t, dir, 3)
	before := snapshotDir(t, filepath.Join(dir, badgerDirName))
	s := openStore(t, dir, Options{ReadOnly: true})
	if got := confReadAll(t, s, 0); len(got) != 3 {
		t.Fatalf("read %d events", len(got))
	}
	if h, err := s.StreamHead(context.Background(), "release/1"); err != nil || h.Version != 3 || h != confStreamEnd(t, s, "release/1") {
		t.Fatalf("stream head of a read-only store: %+v %v", h, err)
	}
	if _, err := s.Append(context.Background(), "release/1", AnyVersion, confEvent("release.noted", 1)); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("append to a read-only store: %v", err)
	}
	// A second reader is welcome; a writer is not.
	s2 := openStore(t, dir, Options{ReadOnly: true})
	must(t, s2.Close())
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("writer beside a reader: %v", err)
	}
	must(t, s.Close())
	if after := snapshotDir(t, filepath.Join(dir, badgerDirName)); after != before {
		t.Fatalf("read-only open changed the database:\n%s\nbefore:\n%s", after, before)
	}
}

// writeHeadRecord replaces the head record of a closed store.
func writeHeadRecord(t *testing.T, dir string, h Head) {
	t.Helper()
	path := filepath.Join(dir, headFileName)
	_, seq, _ := readHeadRecord(path)
	hf, err := openHeadFile(path, seq)
	must(t, err)
	must(t, hf.write(h))
	must(t, hf.close())
}

func TestStoreLostTail(t *testing.T) {
	t.Run("head record ahead", func(t *testing.T) {
		dir := t.TempDir()
		makeStore(t, dir, 10)
		writeHeadRecord(t, dir, Head{Position: 15, Hash: strings.Repeat("ab", 32)})
		assertDamaged(t, dir, 10, 15)
	})
	t.Run("database restored from an older copy", func(t *testing.T) {
		dir, old := t.TempDir(), t.TempDir()
		makeStore(t, dir, 6)
		copyTree(t, filepath.Join(dir, badgerDirName), filepath.Join(old, badgerDirName))
		s := openStore(t, dir, Options{})
		for i := range 4 {
			confAppend(t, s, "release/1", AnyVersion, confEvent("release.noted", i))
		}
		must(t, s.Close())
		must(t, os.RemoveAll(filepath.Join(dir, badgerDirName)))
		copyTree(t, filepath.Join(old, badgerDirName), filepath.Join(dir, badgerDirName))
		assertDamaged(t, dir, 6, 10)
	})
	t.Run("head record names another hash", func(t *testing.T) {
		dir := t.TempDir()
		makeStore(t, dir, 4)
		writeHeadRecord(t, dir, Head{Position: 4, Hash: strings.Repeat("cd", 32)})
		s := openStore(t, dir, Options{})
		if !errors.Is(s.Damage(), ErrChainBroken) || !strings.Contains(s.Damage().Error(), "position 4") {
			t.Fatalf("damage %v", s.Damage())
		}
	})
	t.Run("head record behind is advanced", func(t *testing.T) {
		dir := t.TempDir()
		makeStore(t, dir, 8)
		s := openStore(t, dir, Options{})
		var third Envelope
		_ = s.ReadRaw(context.Background(), 3, func(e Envelope) error { third = e; return errors.New("stop") })
		head := s.Head()
		must(t, s.Close())
		writeHeadRecord(t, dir, Head{Position: 3, Hash: third.Hash})
		s = openStore(t, dir, Options{})
		if s.Damage() != nil {
			t.Fatalf("a head record behind the log is damage: %v", s.Damage())
		}
		if dh, _ := s.DurableHead(); dh != head {
			t.Fatalf("durable head %+v, want %+v", dh, head)
		}
		confAppend(t, s, "release/1", 8, confEvent("release.noted", 9))
	})
	t.Run("torn head record falls back to the previous slot", func(t *testing.T) {
		dir := t.TempDir()
		makeStore(t, dir, 5)
		path := filepath.Join(dir, headFileName)
		want, seq, err := readHeadRecord(path)
		must(t, err)
		b, _ := os.ReadFile(path)
		newest := int(seq%2) * headSlotSize
		copy(b[newest+20:newest+30], "tornwrite!")
		must(t, os.WriteFile(path, b, 0o644))
		got, _, err := readHeadRecord(path)
		if err != nil || got.Position != want.Position-1 {
			t.Fatalf("after a torn write: %+v %v, want the record of position %d", got, err, want.Position-1)
		}
		s := openStore(t, dir, Options{})
		if s.Damage() != nil {
			t.Fatalf("damage %v", s.Damage())
		}
	})
}

func assertDamaged(t *testing.T, dir string, logEnd, recorded uint64) {
	t.Helper()
	s := openStore(t, dir, Options{})
	d := s.Damage()
	if d == nil || !errors.Is(d, ErrChainBroken) ||
		!strings.Contains(d.Error(), fmt.Sprintf("position %d", logEnd)) || !strings.Contains(d.Error(), fmt.Sprintf("says %d", recorded)) {
		t.Fatalf("damage %v, want the log ending at %d and the record at %d", d, logEnd, recorded)
	}
	_, err := s.Append(context.Background(), "release/1", AnyVersion, confEvent("release.noted", 1))
	if !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), "lost") {
		t.Fatalf("append to a damaged store: %v", err)
	}
	t.Logf("append refused: %v", err)
	if got := confReadAll(t, s, 0); uint64(len(got)) != logEnd {
		t.Fatalf("read %d events from the damaged store, want %d", len(got), logEnd)
	}
	got := confReadAll(t, s, 0)
	last := got[len(got)-1]
	if h, err := s.StreamHead(context.Background(), "release/1"); err != nil || h != (StreamHead{Version: last.Version, Hash: last.Hash}) {
		t.Fatalf("stream head of the damaged store %+v (%v), want the last event's version %d", h, err, last.Version)
	}
	if dh, err := s.DurableHead(); err != nil || dh.Position != recorded {
		t.Fatalf("durable head %+v %v, want %d", dh, err, recorded)
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	must(t, filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	}))
}

func TestStoreInvalidInput(t *testing.T) {
	tooMany := make([]Event, MaxEventsPerAppend+1)
	for i := range tooMany {
		tooMany[i] = Event{Type: "x.happened"}
	}
	ok := Event{Type: "x.happened", Data: json.RawMessage(`{}`)}
	cases := []struct {
		name   string
		stream string
		evs    []Event
		field  string
	}{
		{"empty stream", "", []Event{ok}, "stream"},
		{"control char in stream", "release/\n1", []Event{ok}, "stream"},
		{"invalid UTF-8 stream", "release/\xff", []Event{ok}, "stream"},
		{"invalid JSON", "r/1", []Event{ok, {Type: "x.happened", Data: json.RawMessage(`{"a":`)}}, "data"},
		{"invalid UTF-8 data", "r/1", []Event{{Type: "x.happened", Data: json.RawMessage("\"\xff\"")}}, "data"},
		{"empty type", "r/1", []Event{{Data: json.RawMessage(`{}`)}}, "type"},
		{"control char in actor", "r/1", []Event{{Type: "x.happened", Actor: "a\x00b"}}, "actor"},
		{"negative schema", "r/1", []Event{{Type: "x.happened", Schema: -1}}, "schema"},
		{"too many events", "r/1", tooMany, "events"},
		{"no events", "r/1", nil, "events"},
		{"data too large", "r/1", []Event{{Type: "x.happened", Data: json.RawMessage(`"` + strings.Repeat("a", MaxDataBytes) + `"`)}}, "data"},
	}
	for name, open := range logFactories() {
		t.Run(name, func(t *testing.T) {
			l := open(t)
			for _, c := range cases {
				_, err := l.Append(context.Background(), c.stream, AnyVersion, c.evs...)
				var ie *InvalidEventError
				if !errors.Is(err, ErrInvalidEvent) || !errors.As(err, &ie) || ie.Field != c.field || !utf8.ValidString(err.Error()) {
					t.Errorf("%s: %v, want an invalid %s", c.name, err, c.field)
				}
			}
			if h := l.Head(); h.Position != 0 {
				t.Fatalf("refused appends wrote up to %d", h.Position)
			}
			if st, _ := l.Stats(context.Background()); st.Count != 0 || st.Streams != 0 {
				t.Fatalf("refused appends counted: %+v", st)
			}
		})
	}
}

// TestStoreLargeAppends checks that the largest Appends fit one transaction:
// many events with long names just under the value-log threshold (the worst
// case for the LSM tree), and events large enough for the value log.
func TestStoreLargeAppends(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	long := strings.Repeat("n", maxNameBytes)
	small := make([]Event, MaxEventsPerAppend)
	for i := range small {
		small[i] = Event{Type: long, Actor: long, CorrelationID: long, Data: json.RawMessage(`"` + strings.Repeat("d", 100) + `"`)}
	}
	big := make([]Event, MaxEventsPerAppend)
	for i := range big {
		big[i] = Event{Type: "step.output", Data: json.RawMessage(`"` + strings.Repeat("o", 8<<10) + `"`)}
	}
	confAppend(t, s, long[:500]+"/1", NoStream, small...)
	confAppend(t, s, "deploy/1", NoStream, big...)
	all := confReadAll(t, s, 0)
	if len(all) != 2*MaxEventsPerAppend || len(all[1500].Data) != 8<<10+2 {
		t.Fatalf("read %d events", len(all))
	}
	confCheckChain(t, s)
}

func TestCodecRoundTrip(t *testing.T) {
	e := Envelope{
		Position: 1 << 40, Stream: "user/zoë", Version: 3, Type: "user.renamed", Schema: 7,
		Time:  time.Date(1969, 7, 20, 20, 17, 40, 123456789, time.UTC),
		Actor: "ann", CorrelationID: "c-1", CausationID: "", Data: json.RawMessage(`{"name":"Zoë \u003c3"}`),
		PrevHash: GenesisHash, Hash: strings.Repeat("0f", 32),
	}
	b, err := encodeEnvelope(e)
	must(t, err)
	got, err := decodeEnvelope(b)
	must(t, err)
	if got.Time != e.Time || got.Stream != e.Stream || got.Position != e.Position || string(got.Data) != string(e.Data) ||
		got.Hash != e.Hash || got.PrevHash != e.PrevHash || got.Schema != e.Schema || got.CausationID != "" || got.CorrelationID != "c-1" {
		t.Fatalf("round trip:\n%+v\n%+v", got, e)
	}
	for i := range b {
		if _, err := decodeEnvelope(b[:i]); err == nil {
			t.Fatalf("decoding %d of %d bytes succeeded", i, len(b))
		}
	}
	if _, err := encodeEnvelope(Envelope{Hash: "nothex", PrevHash: GenesisHash}); err == nil {
		t.Fatal("encoded a malformed hash")
	}
	st := Stats{Count: 5, Bytes: 600, Streams: 2, FirstTime: e.Time, LastTime: e.Time.Add(time.Hour)}
	gotSt, err := decodeStats(encodeStats(st))
	if err != nil || gotSt != st {
		t.Fatalf("stats round trip %+v %v", gotSt, err)
	}
}

func TestSealMatchesComputeHash(t *testing.T) {
	envs, _, _ := seal(chainTip{head: emptyHead()}, "s/1", 0, normalizeTime(time.Now()), []Event{{Type: "a.b", Schema: 1, Data: json.RawMessage(`{}`)}, {Type: "a.c", Schema: 2, Data: json.RawMessage(`[1]`)}})
	for _, e := range envs {
		if e.Hash != e.ComputeHash() {
			t.Fatalf("sealed hash %s, ComputeHash %s", e.Hash, e.ComputeHash())
		}
	}
}
