package projections

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"releasedesk/events"
	"releasedesk/events/catalog/catalogtest"
	"releasedesk/events/pgtest"
)

// Benchmarks over a million realistic events in a Badger store. Each
// prints its baseline from the same run. Run with
//
//	go test -run '^$' -bench . -benchtime 1x ./projections/
//
// The log is built once per process (in /dev/shm when it exists: building
// is fsync-bound on a disk, reading is not) and removed at the end; with
// RD_BENCH_LOG=DIR it is built in DIR once and reused by later runs.
// BenchmarkStartupPostgres (bench_pg_test.go) copies it into PostgreSQL.

const benchEvents = 1_000_000

var (
	benchOnce sync.Once
	benchDir  string
	benchErr  error
	benchMix  map[string]int
	benchKept bool
)

// benchLog returns the directory of the million-event store.
func benchLog(b *testing.B) string {
	benchOnce.Do(func() {
		if keep := os.Getenv("RD_BENCH_LOG"); keep != "" {
			// A log kept between runs (for profiling): built on the
			// first run, reused after. It is not removed.
			if _, err := os.Stat(keep + "/FORMAT"); err == nil {
				benchDir, benchKept = keep, true
				return
			}
			benchKept = true
			benchDir = keep
			benchMix, benchErr = buildBenchLog(keep, benchEvents)
			return
		}
		root := ""
		if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
			root = "/dev/shm"
		}
		benchDir, benchErr = os.MkdirTemp(root, "rd-projections-bench-")
		if benchErr != nil {
			return
		}
		start := time.Now()
		benchMix, benchErr = buildBenchLog(benchDir, benchEvents)
		b.Logf("built %d events in %v in %s", benchEvents, time.Since(start), benchDir)
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchDir
}

// TestMain removes the benchmark's store at the end and stops the
// PostgreSQL of BenchmarkStartupPostgres, and is the child process that
// measures a rebuild's peak RSS (rebuildRSS).
func TestMain(m *testing.M) {
	if dir := os.Getenv("RD_PROJECTIONS_RSS_DIR"); dir != "" {
		rssChild(dir)
		return
	}
	code := pgtest.Main(m)
	if benchDir != "" && !benchKept {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// buildBenchLog writes about n events to a new store in dir.
func buildBenchLog(dir string, n int) (map[string]int, error) {
	g := catalogtest.Generate(n)
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s, err := events.Open(dir, events.Options{Now: func() time.Time { clock = clock.Add(time.Millisecond); return clock }})
	if err != nil {
		return nil, err
	}
	// One Append per run of events of one stream (up to 1000): a
	// deployment's steps go in a few appends.
	if err := g.WriteTo(context.Background(), s); err != nil {
		s.Close()
		return nil, err
	}
	return g.Mix, s.Close()
}

func openBench(b *testing.B) *events.Store {
	s, err := events.Open(benchLog(b), events.Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// rssChild opens the store, builds the Set, and prints its peak RSS and
// what stays resident once built.
func rssChild(dir string) {
	s, err := events.Open(dir, events.Options{ReadOnly: true})
	if err == nil {
		var set *Set
		set, err = Build(context.Background(), s)
		runtime.GC()
		fmt.Printf("rss %d %d\n", procStatus("VmHWM"), procStatus("VmRSS"))
		runtime.KeepAlive(set)
		s.Close()
	}
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
}

// procStatus reads a size in kB from /proc/self/status, in bytes.
func procStatus(field string) int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == field+":" {
			var kb int64
			fmt.Sscan(f[1], &kb)
			return kb << 10
		}
	}
	return 0
}

// rebuildRSS runs a rebuild in a fresh process and returns its peak and
// final RSS.
func rebuildRSS(b *testing.B, dir string) (peak, final int64) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "RD_PROJECTIONS_RSS_DIR="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("rss child: %v\n%s", err, out)
	}
	if _, err := fmt.Sscanf(string(out), "rss %d %d", &peak, &final); err != nil {
		b.Fatalf("rss child: %q", out)
	}
	return peak, final
}

func heapMB() float64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapAlloc) / (1 << 20)
}

// BenchmarkRebuild folds the million events into every model, against
// the baseline of events.ReadAll alone over the same log.
func BenchmarkRebuild(b *testing.B) {
	s := openBench(b)
	ctx := context.Background()
	head := s.Head().Position
	var readAll, build time.Duration
	var heap float64
	var st Stats
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		n := uint64(0)
		mix := map[string]int{}
		if err := s.ReadAll(ctx, 1, func(e events.Envelope) error { n++; mix[e.Type]++; return nil }); err != nil || n != head {
			b.Fatalf("read %d of %d: %v", n, head, err)
		}
		readAll += time.Since(t0)
		benchMix = mix
		before := heapMB()
		t0 = time.Now()
		set, err := Build(ctx, s)
		if err != nil {
			b.Fatal(err)
		}
		build += time.Since(t0)
		if set.Position() != head {
			b.Fatalf("built to %d of %d", set.Position(), head)
		}
		heap = heapMB() - before
		st = set.Stats()
		runtime.KeepAlive(set)
	}
	b.StopTimer()
	logMix(b)
	per := func(d time.Duration) float64 { return float64(head) * float64(b.N) / d.Seconds() }
	b.ReportMetric(per(build), "events/s")
	b.ReportMetric(per(readAll), "readall_events/s")
	b.ReportMetric(heap, "heap_MB")
	b.Logf("rebuild of %d events: %.0f events/s (%v); baseline ReadAll alone %.0f events/s (%v); fold at %.0f%% of ReadAll's speed",
		head, per(build), build/time.Duration(b.N), per(readAll), readAll/time.Duration(b.N), 100*per(build)/per(readAll))
	b.Logf("state: %d releases, %d deployments, %d steps, %.1f MB of step output; heap of the Set %.0f MB",
		st.Releases, st.Deployments, st.Steps, float64(st.OutputBytes)/(1<<20), heap)
	peak, final := rebuildRSS(b, benchLog(b))
	b.ReportMetric(float64(peak)/(1<<20), "peak_rss_MB")
	b.Logf("rebuild in a fresh process: peak RSS %.0f MB, %.0f MB once built (Badger's caches included)",
		float64(peak)/(1<<20), float64(final)/(1<<20))
	if per(build) < 300_000 {
		b.Errorf("rebuild at %.0f events/s, the target is 300,000", per(build))
	}
}

// BenchmarkStartup compares starting from a checkpoint at the log's end
// with a rebuild, and measures audit queries on the million events.
func BenchmarkStartup(b *testing.B) {
	s := openBench(b)
	ctx := context.Background()
	t0 := time.Now()
	built, err := Build(ctx, s)
	if err != nil {
		b.Fatal(err)
	}
	rebuild := time.Since(t0)
	path := b.TempDir() + "/projections.ckpt"
	t0 = time.Now()
	if err := built.SaveCheckpointFile(path); err != nil {
		b.Fatal(err)
	}
	save := time.Since(t0)
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	var load, start time.Duration
	b.ResetTimer()
	for range b.N {
		runtime.GC()
		t0 := time.Now()
		raw, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		loaded, err := LoadCheckpoint(bytes.NewReader(raw), HashAt(ctx, s))
		if err != nil {
			b.Fatal(err)
		}
		load += time.Since(t0)
		runtime.KeepAlive(loaded)
		runtime.GC()
		t0 = time.Now()
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		set, info, err := Start(ctx, s, f)
		f.Close()
		if err != nil || !info.FromCheckpoint || set.Position() != s.Head().Position {
			b.Fatalf("start: %+v %v", info, err)
		}
		start += time.Since(t0)
	}
	b.StopTimer()
	load /= time.Duration(b.N)
	start /= time.Duration(b.N)
	b.ReportMetric(load.Seconds(), "load_s")
	b.ReportMetric(start.Seconds(), "start_s")
	b.ReportMetric(rebuild.Seconds(), "rebuild_s")
	b.ReportMetric(float64(fi.Size())/(1<<20), "checkpoint_MB")
	b.Logf("start-up with a checkpoint at the end of %d events: load %v, Start (load + hash check + catch-up) %v; rebuild %v (%.0fx); save %v; checkpoint %.1f MB",
		s.Head().Position, load, start, rebuild, rebuild.Seconds()/start.Seconds(), save, float64(fi.Size())/(1<<20))
	if start > time.Second {
		b.Errorf("start-up from a checkpoint took %v", start)
	}

	// Audit queries answered from the index and rendered from Badger.
	stats, err := s.Stats(ctx)
	if err != nil {
		b.Fatal(err)
	}
	span := stats.LastTime.Sub(stats.FirstTime)
	since := stats.FirstTime.Add(span / 2)
	for _, q := range []struct {
		name string
		q    AuditQuery
	}{
		{"newest page", AuditQuery{Limit: 100}},
		{"project, page 50", AuditQuery{Project: "shop", Offset: 5000, Limit: 100}},
		{"type prefix release.", AuditQuery{Type: "release."}},
		{"actor carol, decisions", AuditQuery{Actor: approver, Type: "release.approved"}},
		{"1% of the time, mid-log", AuditQuery{Since: since, Until: since.Add(span / 100)}},
	} {
		t0 := time.Now()
		page, err := built.Audit.Query(ctx, s, q.q)
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("audit query %-24s %6d matches, %3d rows in %v", q.name+":", page.Total, len(page.Rows), time.Since(t0))
	}
	t0 = time.Now()
	page := built.Releases.Board(BoardQuery{Text: "release 4", States: []string{StateCompleted}})
	b.Logf("board search over %d releases: %d matches in %v", built.Stats().Releases, page.Total, time.Since(t0))
}

func logMix(b *testing.B) {
	type kv struct {
		k string
		v int
	}
	var kvs []kv
	total := 0
	for k, v := range benchMix {
		kvs = append(kvs, kv{k, v})
		total += v
	}
	sort.Slice(kvs, func(i, j int) bool { return kvs[i].v > kvs[j].v })
	var parts []string
	for _, x := range kvs {
		parts = append(parts, fmt.Sprintf("%s %.1f%%", x.k, 100*float64(x.v)/float64(total)))
	}
	b.Logf("event mix: %s", strings.Join(parts, ", "))
}
