package events

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"releasedesk/events/pgtest"
)

// ack is one Append the crash child saw succeed.
type ack struct {
	pos     uint64
	stream  string
	version uint64
	hash    string
}

// TestCrashRecovery kills a busy writer process with SIGKILL at random
// moments, over and over on the same directory, and checks after each kill
// that every acknowledged event survived, the chain verifies, the head
// record is neither behind an acknowledgement nor ahead of the log, and
// appending resumes.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 20 processes")
	}
	dir := t.TempDir()
	crashRounds(t, dir, func() (Log, error) {
		s, err := Open(dir, Options{})
		if err == nil && s.Damage() != nil {
			err = fmt.Errorf("damage after a kill: %v", s.Damage())
		}
		return s, err
	}, func() (Head, error) {
		rec, _, err := readHeadRecord(filepath.Join(dir, headFileName))
		return rec, err
	})
}

// TestCrashRecoveryPostgres is TestCrashRecovery on PostgreSQL: the
// writer process is killed mid-transaction, the server stays up.
func TestCrashRecoveryPostgres(t *testing.T) {
	dsn := pgtest.Database(t)
	open := func() (Log, error) { return OpenPostgres(context.Background(), dsn, Options{}) }
	crashRounds(t, dsn, open, func() (Head, error) {
		s, err := open()
		if err != nil {
			return Head{}, err
		}
		defer s.Close()
		return s.(RawReader).DurableHead()
	})
}

// crashRounds kills the crash child on target 20 times; after each kill
// it reads the head record (headRecord, before reopening), reopens the log
// and checks what TestCrashRecovery says.
func crashRounds(t *testing.T, target string, open func() (Log, error), headRecord func() (Head, error)) {
	const rounds = 20
	acked := map[uint64]ack{}
	var lastMax uint64
	for round := range rounds {
		got := crashOnce(t, target, time.Duration(50+rand.IntN(350))*time.Millisecond)
		var maxAck uint64
		for _, a := range got {
			acked[a.pos] = a
			maxAck = max(maxAck, a.pos)
		}
		rec, err := headRecord()
		if err != nil {
			t.Fatalf("round %d: head record: %v", round, err)
		}
		s, err := open()
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		raw := confCheckChain(t, s)
		for pos, a := range acked {
			if pos > uint64(len(raw)) {
				t.Fatalf("round %d: acknowledged position %d lost; the log ends at %d", round, pos, len(raw))
			}
			e := raw[pos-1]
			if e.Stream != a.stream || e.Version != a.version || e.Hash != a.hash {
				t.Fatalf("round %d: position %d is %s v%d %s, acknowledged as %s v%d %s", round, pos, e.Stream, e.Version, e.Hash, a.stream, a.version, a.hash)
			}
		}
		if rec.Position > uint64(len(raw)) || (rec.Position > 0 && raw[rec.Position-1].Hash != rec.Hash) {
			t.Fatalf("round %d: head record %+v is not in the log of %d events", round, rec, len(raw))
		}
		if rec.Position < maxAck {
			t.Fatalf("round %d: head record at %d, behind the acknowledged %d", round, rec.Position, maxAck)
		}
		if dh, err := s.(RawReader).DurableHead(); err != nil || dh != s.Head() {
			t.Fatalf("round %d: durable head %+v %v after reopen, head %+v", round, dh, err, s.Head())
		}
		versions := map[string]uint64{}
		for _, e := range raw {
			if e.Version != versions[e.Stream]+1 {
				t.Fatalf("round %d: %s jumps from version %d to %d at position %d", round, e.Stream, versions[e.Stream], e.Version, e.Position)
			}
			versions[e.Stream] = e.Version
		}
		after := confAppend(t, s, "crash/check", AnyVersion, confEvent("crash.checked", round))
		if after[0].Position != uint64(len(raw))+1 {
			t.Fatalf("round %d: append after recovery at %d, log had %d", round, after[0].Position, len(raw))
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: %d acknowledged, log %d events, head record %d", round, len(got), len(raw)+1, rec.Position)
		lastMax = uint64(len(raw)) + 1
	}
	if len(acked) < rounds {
		t.Fatalf("only %d acknowledged appends in %d rounds", len(acked), rounds)
	}
	t.Logf("%d acknowledged events over %d kills, log of %d", len(acked), rounds, lastMax)
}

// crashOnce starts the child on dir, lets it acknowledge appends for after
// (counted from its first acknowledgement), kills it and returns what it
// acknowledged.
func crashOnce(t *testing.T, dir string, after time.Duration) []ack {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "RD_CRASH_DIR="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())

	first := make(chan struct{})
	var acks []ack
	var mu sync.Mutex
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(out)
		once := sync.Once{}
		for sc.Scan() {
			a, ok := parseAck(sc.Text())
			if !ok {
				continue
			}
			mu.Lock()
			acks = append(acks, a)
			mu.Unlock()
			once.Do(func() { close(first) })
		}
	}()
	select {
	case <-first:
	case <-readDone:
		_ = cmd.Wait()
		t.Fatal("crash child ended before acknowledging anything")
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("crash child acknowledged nothing in 20 s")
	}
	time.Sleep(after)
	must(t, cmd.Process.Signal(syscall.SIGKILL))
	<-readDone // the pipe ends when the process is gone
	_ = cmd.Wait()
	mu.Lock()
	defer mu.Unlock()
	return acks
}

func parseAck(line string) (ack, bool) {
	f := strings.Fields(line)
	if len(f) != 5 || f[0] != "ack" {
		return ack{}, false
	}
	pos, err1 := strconv.ParseUint(f[1], 10, 64)
	ver, err2 := strconv.ParseUint(f[3], 10, 64)
	if err1 != nil || err2 != nil {
		return ack{}, false
	}
	return ack{pos: pos, stream: f[2], version: ver, hash: f[4]}, true
}

// crashChild is the process TestCrashRecovery kills: it appends as fast as
// it can from several goroutines to several streams and prints each
// acknowledged event the moment Append returns. TestMain runs it.
func crashChild(dir string) {
	var s Log
	var err error
	if IsPostgresURL(dir) {
		s, err = OpenPostgres(context.Background(), dir, Options{})
	} else {
		s, err = Open(dir, Options{})
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "crash child: open: %v\n", err)
		os.Exit(2)
	}
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				stream := fmt.Sprintf("crash/%d", rand.IntN(4))
				n := 1 + rand.IntN(3)
				evs := make([]Event, n)
				for j := range evs {
					evs[j] = confEvent("crash.written", w*1_000_000+i)
				}
				envs, err := s.Append(context.Background(), stream, AnyVersion, evs...)
				if err != nil {
					fmt.Fprintf(os.Stderr, "crash child: append: %v\n", err)
					os.Exit(3)
				}
				var b strings.Builder
				for _, e := range envs {
					fmt.Fprintf(&b, "ack %d %s %d %s\n", e.Position, e.Stream, e.Version, e.Hash)
				}
				// One write per Append: a pipe write under 4 KiB is atomic,
				// so lines from different goroutines never interleave.
				if _, err := os.Stdout.WriteString(b.String()); err != nil {
					os.Exit(4)
				}
			}
		}()
	}
	wg.Wait()
}
