package projections

import (
	"bytes"
	"context"
	"encoding/json"
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
	"releasedesk/events/catalog"
)

// Benchmarks over a million realistic events in a Badger store. Each
// prints its baseline from the same run. Run with
//
//	go test -run '^$' -bench . -benchtime 1x ./projections/
//
// The log is built once per process (in /dev/shm when it exists: building
// is fsync-bound on a disk, reading is not) and removed at the end; with
// RD_BENCH_LOG=DIR it is built in DIR once and reused by later runs.

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

// TestMain removes the benchmark's store at the end, and is the child
// process that measures a rebuild's peak RSS (rebuildRSS).
func TestMain(m *testing.M) {
	if dir := os.Getenv("RD_PROJECTIONS_RSS_DIR"); dir != "" {
		rssChild(dir)
		return
	}
	code := m.Run()
	if benchDir != "" && !benchKept {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// genLog produces a realistic log: releases through the eight steps,
// each deployment as the runner reports it (steps with output, host
// events, locks), some failures, rollbacks, logins.
type genLog struct {
	clock   time.Time
	seq     int
	units   []genUnit // appends in order
	n       int
	mix     map[string]int
	project catalog.Project
	raw     json.RawMessage
}

type genUnit struct {
	stream string
	evs    []events.Event
}

func (g *genLog) add(stream, typ, actor string, data any) {
	raw, err := json.Marshal(data)
	if err != nil {
		panic(err)
	}
	e := events.Event{Type: typ, Actor: actor, Data: raw}
	g.mix[typ]++
	g.n++
	if k := len(g.units) - 1; k >= 0 && g.units[k].stream == stream && len(g.units[k].evs) < events.MaxEventsPerAppend {
		g.units[k].evs = append(g.units[k].evs, e)
		return
	}
	g.units = append(g.units, genUnit{stream: stream, evs: []events.Event{e}})
}

var benchOutputs = []string{
	"sending incremental file list\n./\nindex.html\nassets/\nassets/app.3f2a1b0.js\nassets/app.3f2a1b0.css\nassets/img/logo.svg\n\nsent 48,213 bytes  received 1,242 bytes  98,910.00 bytes/sec\ntotal size is 2,345,678  speedup is 47.43\n",
	"20261126031500-3f2a1b0\nversion=20261126031500-3f2a1b0 commit=3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a deployment=d who=alice\n",
	"ok\n",
	"> shop@1.4.2 build\n> vite build\n\nvite v7.0.4 building for production...\n✓ 412 modules transformed.\ndist/index.html                  0.46 kB │ gzip:  0.30 kB\ndist/assets/index-BvP4Tf3x.css  12.31 kB │ gzip:  3.10 kB\ndist/assets/index-D8sGq2hK.js  143.78 kB │ gzip: 46.20 kB\n✓ built in 2.41s\n",
	"health: GET /healthz 200 in 12ms <ok> & \"ready\"\n",
}

func (g *genLog) deployment(id, env, commit, version, release, actor, kind, previous string, hosts []string, fail bool) {
	stream := "deploy/" + id
	g.add(stream, catalog.TypeDeployRequested, actor, catalog.Request{Deployment: id, Kind: kind, Project: g.project, Environment: env,
		Commit: commit, Version: version, Release: release})
	g.add(stream, catalog.TypeDeployStarted, "runner", catalog.Started{Deployment: id, Runner: "build1/4242"})
	g.add("lock/shop/"+env, catalog.TypeLockAcquired, "runner", catalog.LockEvent{Project: "shop", Environment: env, Deployment: id, Holder: actor, Since: g.clock})
	g.add(stream, catalog.TypeDeployPlanned, "runner", catalog.Planned{Deployment: id, Project: "shop", Environment: env, Version: version,
		Commit: commit, Kind: kind, Batches: [][]string{hosts}, Parallel: 10, OnFailure: "halt",
		ManifestHash: "sha256:" + commit[:32], Files: 1234, Bytes: 45678901})
	step := func(host, name string, outputs []int, exit int) {
		sid := name
		if host != "" {
			sid = host + ":" + name
		}
		g.add(stream, catalog.TypeStepStarted, "runner", catalog.StepStarted{Deployment: id, Step: sid, Name: name, Host: host,
			Command: []string{"sh", "-c", "cd '/srv/www/shop/releases/." + version + ".partial' && " + name}})
		for _, o := range outputs {
			g.add(stream, catalog.TypeStepOutput, "runner", catalog.StepOutput{Deployment: id, Step: sid, Host: host, Text: benchOutputs[o]})
		}
		fin := catalog.StepFinished{Deployment: id, Step: sid, Host: host, ExitCode: exit, DurationMS: 87}
		if exit != 0 {
			fin.Error = name + ": exit status 1: No space left on device"
		}
		g.add(stream, catalog.TypeStepFinished, "runner", fin)
	}
	if kind == catalog.KindDeploy {
		step("", "export", []int{2}, 0)
		step("", "build", []int{3, 3}, 0)
	}
	failed := false
	for i, h := range hosts {
		step(h, "connect", nil, 0)
		step(h, "lock", nil, 0)
		step(h, "current", []int{1}, 0)
		if fail && i == len(hosts)-1 {
			step(h, "stage", []int{0}, 1)
			g.add(stream, catalog.TypeHostFailed, "runner", catalog.HostEvent{Deployment: id, Project: "shop", Environment: env, Host: h,
				Step: h + ":stage", Error: "stage: exit status 1"})
			failed = true
			break
		}
		step(h, "stage", []int{0}, 0)
		step(h, "link", nil, 0)
		step(h, "check", []int{4}, 0)
		g.add(stream, catalog.TypeHostStaged, "runner", catalog.HostEvent{Deployment: id, Project: "shop", Environment: env, Host: h,
			Version: version, Commit: commit, Previous: previous})
	}
	var switched []string
	if !failed {
		for _, h := range hosts {
			step(h, "switch", nil, 0)
			g.add(stream, catalog.TypeHostSwitched, "runner", catalog.HostEvent{Deployment: id, Project: "shop", Environment: env, Host: h,
				Version: version, Commit: commit, Previous: previous})
			step(h, "releases", []int{1}, 0)
			switched = append(switched, h)
		}
		if g.seq%3 == 0 {
			for _, h := range hosts {
				g.add(stream, catalog.TypeReleasePruned, "runner", catalog.Pruned{Deployment: id, Project: "shop", Environment: env, Host: h,
					Versions: []string{"20250101000000-0000000"}})
			}
		}
	}
	for _, h := range hosts {
		step(h, "unlock", nil, 0)
	}
	g.add("lock/shop/"+env, catalog.TypeLockReleased, "runner", catalog.LockEvent{Project: "shop", Environment: env, Deployment: id, Holder: actor, Reason: "done"})
	fin := catalog.Finished{Deployment: id, Project: "shop", Environment: env, Version: version, Commit: commit, Kind: kind,
		Switched: switched, DurationMS: 8123}
	if failed {
		fin.Failed = hosts[len(hosts)-1:]
		fin.Error = "1 host(s) failed"
		g.add(stream, catalog.TypeDeployFailed, "runner", fin)
	} else {
		g.add(stream, catalog.TypeDeploySucceeded, "runner", fin)
	}
}

// genBenchLog makes about n events.
func genBenchLog(n int) *genLog {
	g := &genLog{clock: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), mix: map[string]int{}}
	g.project = catalog.Project{ID: "shop", Title: "Shop", Repo: "/srv/git/shop.git", Branch: "main", Strategy: "rsync", KeepReleases: 5,
		Environments: []catalog.Environment{
			{Name: "test", Path: "/srv/www/shop", Hosts: []catalog.Host{{Addr: "www@10.0.0.5:22"}, {Addr: "www@10.0.0.6:22"}}, SSHKey: "/k", Parallel: 10},
			{Name: "production", Path: "/srv/www/shop", Hosts: []catalog.Host{{Addr: "www@10.0.1.1:22"}, {Addr: "www@10.0.1.2:22"}, {Addr: "www@10.0.1.3:22"}},
				SSHKey: "/k", Parallel: 10, Approval: true},
		}}
	g.raw, _ = json.Marshal(g.project)
	for _, u := range []string{dev, tester, approver, manager} {
		g.add("user/"+u, catalog.TypeUserCreated, admin, catalog.UserCreated{Name: u, Roles: map[string][]string{"shop": {catalog.RoleDeveloper, catalog.RoleTester}}})
	}
	g.add("project/shop", catalog.TypeProjectConfigured, admin, catalog.ProjectConfigured{ID: "shop", Config: g.raw, Diff: []string{"+ id: shop"}})
	testHosts, prodHosts := []string{"www@10.0.0.5:22", "www@10.0.0.6:22"}, []string{"www@10.0.1.1:22", "www@10.0.1.2:22", "www@10.0.1.3:22"}
	prev := ""
	var lastVersions []string
	for g.n < n {
		g.seq++
		id := fmt.Sprint(g.seq)
		rs := "release/" + id
		commit := commitOf(id)
		version := g.clock.Add(time.Duration(g.seq)*time.Minute).Format("20060102150405") + "-" + commit[:7]
		g.add("user/"+dev, catalog.TypeLoginSucceeded, dev, catalog.UserRef{Name: dev})
		g.add(rs, catalog.TypeReleaseOpened, dev, catalog.ReleaseOpened{ID: id, Project: "shop", Branch: "release/" + id, Title: "Release " + id + ": checkout and search fixes"})
		g.add(rs, catalog.TypeReleaseDeployRequested, dev, catalog.ReleaseDeployRequested{ID: id, Project: "shop", Environment: "test", Deployment: "t" + id, Commit: commit, Version: version})
		fail := g.seq%10 == 0
		g.deployment("t"+id, "test", commit, version, id, dev, catalog.KindDeploy, prev, testHosts, fail)
		if fail {
			g.add(rs, catalog.TypeReleaseCancelled, manager, catalog.ReleaseDecision{ID: id, Project: "shop", Note: "broken build"})
			continue
		}
		g.add(rs, catalog.TypeReleaseTestPassed, tester, catalog.ReleaseDecision{ID: id, Project: "shop", Environment: "test", Commit: commit, Note: "ok"})
		g.add(rs, catalog.TypeReleaseApproved, approver, catalog.ReleaseDecision{ID: id, Project: "shop", Commit: commit})
		g.add(rs, catalog.TypeReleaseDeployRequested, approver, catalog.ReleaseDeployRequested{ID: id, Project: "shop", Environment: "production", Deployment: "p" + id, Commit: commit, Version: version})
		g.deployment("p"+id, "production", commit, version, id, approver, catalog.KindDeploy, prev, prodHosts, false)
		g.add(rs, catalog.TypeReleaseAccepted, manager, catalog.ReleaseDecision{ID: id, Project: "shop"})
		g.add(rs, catalog.TypeReleaseCompleted, manager, catalog.ReleaseCompleted{ID: id, Project: "shop", Commit: commit, Tag: "release/" + version})
		if g.seq%50 == 0 && len(lastVersions) > 1 {
			back := lastVersions[len(lastVersions)-2]
			g.add("project/shop", catalog.TypeRollbackRequested, approver, catalog.RollbackRequested{Project: "shop", Environment: "production", Version: back, Deployment: "rb" + id, Reason: "errors"})
			g.deployment("rb"+id, "production", commitOf(fmt.Sprint(g.seq-1)), back, "", approver, catalog.KindRollback, version, prodHosts, false)
		}
		prev = version
		lastVersions = append(lastVersions, version)
	}
	return g
}

// buildBenchLog writes about n events to a new store in dir.
func buildBenchLog(dir string, n int) (map[string]int, error) {
	g := genBenchLog(n)
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s, err := events.Open(dir, events.Options{Now: func() time.Time { clock = clock.Add(time.Millisecond); return clock }})
	if err != nil {
		return nil, err
	}
	// One Append per run of events of one stream (up to 1000): a
	// deployment's steps go in a few appends.
	ctx := context.Background()
	for _, u := range g.units {
		if _, err := s.Append(ctx, u.stream, events.AnyVersion, u.evs...); err != nil {
			s.Close()
			return nil, err
		}
	}
	return g.mix, s.Close()
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
