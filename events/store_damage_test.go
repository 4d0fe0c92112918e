package events

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// storeTable makes a closed store of n events (Close flushes them into a
// table) and returns the path of its one table.
func storeTable(t *testing.T, n int) (dir, sst string) {
	t.Helper()
	dir = t.TempDir()
	makeStore(t, dir, n)
	tables, _ := filepath.Glob(filepath.Join(dir, badgerDirName, "*.sst"))
	if len(tables) != 1 {
		t.Fatalf("want one table after close, found %v", tables)
	}
	return dir, tables[0]
}

func flipByte(t *testing.T, path string, at int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	must(t, err)
	defer f.Close()
	b := make([]byte, 1)
	_, err = f.ReadAt(b, at)
	must(t, err)
	b[0] ^= 0x5a
	_, err = f.WriteAt(b, at)
	must(t, err)
}

// A table cut short made Badger panic in a goroutine of its own; a
// byte flipped in a table's index, or a table missing, failed the open
// with Badger's words. Each is now a DamagedStoreError naming the table,
// and the process lives.
func TestOpenDamagedTable(t *testing.T) {
	for _, c := range []struct {
		name   string
		damage func(t *testing.T, path string, size int64)
	}{
		{"truncated to half", func(t *testing.T, path string, size int64) { must(t, os.Truncate(path, size/2)) }},
		{"index byte flipped", func(t *testing.T, path string, size int64) { flipByte(t, path, size-40) }},
		// The MANIFEST then names a table that is not there, as when it
		// is cut short after a compaction removed the table it names.
		{"missing", func(t *testing.T, path string, size int64) { must(t, os.Remove(path)) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir, sst := storeTable(t, 300)
			info, err := os.Stat(sst)
			must(t, err)
			c.damage(t, sst, info.Size())
			s, err := Open(dir, Options{})
			if err == nil {
				s.Close()
				t.Fatal("a damaged table opened")
			}
			var damaged *DamagedStoreError
			if !errors.As(err, &damaged) {
				t.Fatalf("want a DamagedStoreError, got %T %v", err, err)
			}
			num := strings.TrimLeft(strings.TrimSuffix(filepath.Base(sst), ".sst"), "0")
			named := strings.Contains(err.Error(), filepath.Base(sst)) || strings.Contains(err.Error(), "table "+num)
			if !errors.Is(err, ErrChainBroken) || !named {
				t.Errorf("error %q: want ErrChainBroken naming the table", err)
			}
		})
	}
}

func waitVerified(t *testing.T, s *Store) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for s.Verifying() {
		if time.Now().After(deadline) {
			t.Fatal("verification still running after 30 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A byte flipped in a table's data passes the open (its blocks are not
// read) but not the background verification: the store turns read-only,
// says why, and keeps serving reads.
func TestVerifyOnOpenFindsDamage(t *testing.T) {
	dir, sst := storeTable(t, 300)
	info, err := os.Stat(sst)
	must(t, err)
	flipByte(t, sst, info.Size()/3)
	s := openStore(t, dir, Options{VerifyOnOpen: true})
	// An append made during the verification waits for its verdict.
	_, err = s.Append(context.Background(), "release/1", AnyVersion, confEvent("release.noted", 1))
	if !errors.Is(err, ErrReadOnly) {
		t.Fatalf("append over a damaged table: %v, want ErrReadOnly", err)
	}
	waitVerified(t, s)
	if p := s.Problem(); !errors.Is(p, ErrReadOnly) || !strings.Contains(p.Error(), "damaged") && !strings.Contains(p.Error(), "checksum") && !strings.Contains(p.Error(), "chain") {
		t.Errorf("Problem = %v, want the damage", p)
	}
	if s.Head().Position != 300 {
		t.Errorf("head %d, want 300: the log is still served", s.Head().Position)
	}
	// StreamHead reads the stream's last index entry and event, not the
	// stream: it may well miss the damaged block that fails ReadStream,
	// and then must give the true end (every event is in release/1, so it
	// is the log's head). If it meets the damage, it says so; it never
	// crashes the process.
	h, err := s.StreamHead(context.Background(), "release/1")
	var damaged *DamagedStoreError
	switch {
	case err == nil && h != (StreamHead{Version: 300, Hash: s.Head().Hash}):
		t.Errorf("stream head over a damaged table %+v, want version 300 and the head's hash", h)
	case err != nil && !errors.As(err, &damaged):
		t.Errorf("stream head over a damaged table: %v, want a DamagedStoreError", err)
	}
}

func TestVerifyOnOpenHealthy(t *testing.T) {
	dir, _ := storeTable(t, 300)
	s := openStore(t, dir, Options{VerifyOnOpen: true})
	if _, err := s.Append(context.Background(), "release/1", AnyVersion, confEvent("release.noted", 1)); err != nil {
		t.Fatal(err)
	}
	waitVerified(t, s)
	if p := s.Problem(); p != nil {
		t.Errorf("Problem of a healthy store: %v", p)
	}
}

// Below the reserve appends fail with a DiskFullError that says how much is
// free; once there is room again they are accepted, with no reopen.
func TestDiskGuardRefusesBelowReserve(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{MinFreeBytes: 1 << 62})
	before := snapshotDir(t, filepath.Join(dir, badgerDirName))
	_, err := s.Append(context.Background(), "release/1", AnyVersion, confEvent("release.noted", 1))
	var full *DiskFullError
	if !errors.As(err, &full) || !errors.Is(err, ErrDiskFull) || !strings.Contains(err.Error(), "free") {
		t.Fatalf("append below the reserve: %v, want a DiskFullError", err)
	}
	if !errors.Is(s.Problem(), ErrDiskFull) {
		t.Errorf("Problem = %v, want ErrDiskFull", s.Problem())
	}
	if s.Head().Position != 0 || snapshotDir(t, filepath.Join(dir, badgerDirName)) != before {
		t.Error("a refused append changed the store")
	}
	s.guard.mu.Lock()
	s.guard.reserve = 1
	s.guard.mu.Unlock()
	if _, err := s.Append(context.Background(), "release/1", AnyVersion, confEvent("release.noted", 1)); err != nil {
		t.Fatalf("append once there is room: %v", err)
	}
	if p := s.Problem(); p != nil {
		t.Errorf("Problem once there is room: %v", p)
	}
}

// Problem answers from a check younger than diskReadingFresh (the API
// asks it for nearly every request), and measures again after that.
func TestDiskGuardProblemFromRecentCheck(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{MinFreeBytes: 1 << 62})
	if _, err := s.Append(context.Background(), "release/1", AnyVersion, confEvent("release.noted", 1)); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("append below the reserve: %v", err)
	}
	s.guard.mu.Lock()
	s.guard.reserve = 1 // room again, not measured yet
	s.guard.mu.Unlock()
	if !errors.Is(s.Problem(), ErrDiskFull) {
		t.Errorf("Problem right after a check = %v, want that check's ErrDiskFull", s.Problem())
	}
	old := *s.guard.last.Load()
	old.at = old.at.Add(-diskReadingFresh)
	s.guard.last.Store(&old)
	if p := s.Problem(); p != nil {
		t.Errorf("Problem once the last check is old = %v, want a new measure: room", p)
	}
}

// The write-ahead log is a memory map: its blocks are allocated at open,
// so writing it never needs space the disk may no longer have.
func TestWriteAheadLogPreallocated(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	if _, err := s.Append(context.Background(), "release/1", AnyVersion, confEvent("release.noted", 1)); err != nil {
		t.Fatal(err)
	}
	mems, _ := filepath.Glob(filepath.Join(dir, badgerDirName, "*.mem"))
	if len(mems) == 0 {
		t.Fatal("no write-ahead log file")
	}
	for _, m := range mems {
		info, err := os.Stat(m)
		must(t, err)
		st := info.Sys().(*syscall.Stat_t)
		if st.Blocks*512 < info.Size() {
			t.Errorf("%s: %d bytes allocated of %d", filepath.Base(m), st.Blocks*512, info.Size())
		}
	}
}

// What a crash leaves mid-write is not damage: a table the MANIFEST does
// not name yet (Badger deletes it unopened), and a write-ahead log file
// created but not yet sized (it never held an event).
func TestOpenAfterCrashLeftovers(t *testing.T) {
	dir, _ := storeTable(t, 300)
	db := filepath.Join(dir, badgerDirName)
	orphan := make([]byte, 64<<10)
	copy(orphan[len(orphan)-8:], []byte{1, 2, 3, 4, 0xff, 0xff, 0xff, 0x7f})
	must(t, os.WriteFile(filepath.Join(db, "000099.sst"), orphan, 0o644))
	must(t, os.WriteFile(filepath.Join(db, "00007.mem"), nil, 0o644))
	s := openStore(t, dir, Options{})
	if s.Head().Position != 300 {
		t.Fatalf("head %d, want 300", s.Head().Position)
	}
	if _, err := s.Append(context.Background(), "release/1", AnyVersion, confEvent("release.noted", 1)); err != nil {
		t.Fatal(err)
	}
}
