package runner

// BenchmarkDeploy measures the runner on real sshd hosts against plain
// rsync on the same hosts, with the same tree, in the same run (issue 3,
// "Benchmarks"). Run it alone, once:
//
//	go test -run '^$' -bench 'Deploy' -benchtime 1x -timeout 30m ./runner/
//
// The fixture: a 5,000-file, ~50 MB tree in a real git repository; 20
// sshd hosts on loopback (sshtest), every target under /dev/shm. Each
// deployment goes through the real Runner (Submit, then Run) with the
// Badger event log of runHarness, the rsync strategy and parallel = the
// number of hosts, with the runner's default output interval.
//
// Sub-benchmarks, in order (each iteration of b.N uses fresh targets, so
// -benchtime Nx works; ns/op is the runner's wall time only):
//
//	Warmup            the project's first deployment (one host): the
//	                  go-git mirror's cold fetch, printed on its own, so
//	                  that no later figure hides it or pays it
//	Full/hosts=N      a release to N empty hosts (N = 1, 10, 20), exported
//	                  from scratch (the kept export is removed first), against
//	                  (a) a serial loop of plain `rsync -a` over ssh, one
//	                  host after the other, and (b) the same rsync to all N
//	                  hosts at once (one goroutine per host each running
//	                  rsync: what `xargs -P N` does), both from a plain
//	                  exported directory of the same commit into fresh
//	                  dirs; (b) runs before and after the runner, and the
//	                  ratio is taken against the mean of the two
//	Change1pct/hosts=20  a new commit changing 50 files (1%) deployed to
//	                  the 20 hosts of Full/hosts=20: wall time, bytes sent
//	                  per host (read from the transfer step's recorded
//	                  output: the size of the tar stream the runner sent
//	                  over the host's connection, or rsync --stats for an
//	                  rsync transfer) against the changed bytes plus
//	                  rsync's file list (none for a tar stream), and the disk the new release
//	                  takes on one host (blocks of entries whose inode the
//	                  previous release does not share); reference: plain
//	                  `rsync -a` of the changed tree to 20 copies of the
//	                  old one, in parallel; and the same change to one
//	                  host alone (the latency each host of a real fleet,
//	                  with CPUs of its own, would see)
//	Full/hosts=20/tar the same as Full/hosts=20 by a runner sending tar
//	                  streams (a desk without rsync: Transfer tar), beside
//	                  the parallel rsync baseline and Full/hosts=20's runner
//	Change1pct/hosts=20/tar, Change1pct/hosts=20/rsync  the 1% change by
//	                  a runner sending tar streams, and by rsync alone (the
//	                  kept manifests removed, so no delta: rsync over the
//	                  whole tree, --link-dest to the previous release),
//	                  beside Change1pct/hosts=20's runner
//	Rollback/hosts=20 back to the previous release, still on the hosts:
//	                  an instant switch; reference: one fresh ssh
//	                  connection per host running the same switch by
//	                  hand, in parallel
//
// Every figure is reported with b.ReportMetric beside its baseline and
// ratio, in a SUMMARY log line per sub-benchmark, and in a table printed
// on standard output at the end (testing drops a parent benchmark's log
// and cuts a sub-benchmark's after ten lines).
// Each runner figure also gets a breakdown read from the deployment's
// events (step durations, event counts) and the share of the machine's
// CPUs that was busy, which tells where the time went.

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"releasedesk/events/catalog"
)

// Size of the benchmark tree and of the change.
const (
	benchFiles        = 5000
	benchBytes        = 50 << 20
	benchChangedFiles = 50 // 1% of benchFiles
)

// Targets of issue 3.
const (
	benchFullRatioTarget   = 1.3 // full deploy to 20 hosts vs parallel rsync
	benchChangeTarget      = 2 * time.Second
	benchChangeBytesTarget = 1.5 // bytes sent per host vs changed bytes + file list
	benchRollbackTarget    = time.Second
	benchHandshakesTarget  = 2 // per host, a full deploy (the runner's connection, rsync riding on it: 1)
	benchHandshakesSwitch  = 1 // per host, a 1% change or a rollback: no connection but the runner's
)

func BenchmarkDeploy(b *testing.B) {
	f := newBenchFixture(b)
	b.Run("Warmup", f.benchWarmup)
	for _, n := range []int{1, 10, 20} {
		b.Run(fmt.Sprintf("Full/hosts=%d", n), func(b *testing.B) { f.benchFull(b, n, benchByDefault) })
	}
	for _, n := range []int{1, 20} {
		b.Run(fmt.Sprintf("Full/hosts=%d/tar", n), func(b *testing.B) { f.benchFull(b, n, benchByTar) })
	}
	b.Run("Change1pct/hosts=20", func(b *testing.B) { f.benchChange(b, benchByDefault) })
	b.Run("Change1pct/hosts=20/tar", func(b *testing.B) { f.benchChange(b, benchByTar) })
	b.Run("Change1pct/hosts=20/rsync", func(b *testing.B) { f.benchChange(b, benchByRsync) })
	b.Run("Rollback/hosts=20", f.benchRollback)
	f.summary()
}

// benchTransfer is how a sub-benchmark's runner sends the release.
type benchTransfer struct {
	name     string // in the figures' names: "" for the default
	transfer Transfer
	// noDelta removes the kept manifests before each deployment, so a
	// change goes by rsync over the whole tree (--link-dest to the
	// previous release) instead of as a delta.
	noDelta bool
	seed    int // a different change's contents for each
}

var (
	// What a desk with rsync does: rsync for a full release, a tar stream
	// of the changed files for a change.
	benchByDefault = benchTransfer{}
	// A desk without rsync (Windows): the whole release as a tar stream;
	// a change as the same delta.
	benchByTar = benchTransfer{name: "tar stream, no rsync on the desk", transfer: TransferTar, seed: 1}
	// A change by rsync alone (no kept manifest: the whole tree checked).
	benchByRsync = benchTransfer{name: "rsync --link-dest, no delta", transfer: TransferRsync, noDelta: true, seed: 2}
)

// label is a figure's name with the transfer said.
func (t benchTransfer) label(figure string) string {
	if t.name == "" {
		return figure
	}
	return figure + ", " + t.name
}

// use gives the fixture a runner sending as t, until the returned func.
func (f *benchFixture) use(t benchTransfer) (restore func()) {
	if t == benchByDefault {
		return func() {}
	}
	was := f.h.r
	f.h.r = f.h.newRunner(func(c *Config) { c.OutputInterval = DefaultOutputInterval; c.Transfer = t.transfer })
	return func() { f.h.r = was }
}

// benchFixture is what the sub-benchmarks share: the harness (log, runner,
// cluster), the repository, the plain tree the baselines send, and the 20
// hosts of the last full deployment, which the change and the rollback use.
type benchFixture struct {
	h     *runHarness
	repo  string   // the big repository's work tree
	head  string   // its commit of the first tree
	tree  string   // plain export of the latest commit: the baselines' source
	files []string // the tree's files, sorted (slash-separated)
	man   Manifest // the tree's manifest
	seq   int

	fixture string // what the fixture is, for the summary
	warm    bool
	live    *benchLive
	one     *benchLive // one host that follows live, for the change's per-host latency
	rows    []benchRow
	// The default runner's figures, which the other transfers are set
	// beside: the full deploy by number of hosts, and the 1% change.
	fullRun  map[int]time.Duration
	change20 time.Duration
}

// benchLive is an environment of all 20 hosts that the runner deployed,
// and plain rsync copies of the same tree on the same hosts.
type benchLive struct {
	env         catalog.Environment
	cur, prev   string // versions on the hosts: current and the one before
	curC, prevC string // their commits
	base        []string
}

// benchRow is one line of the final table.
type benchRow struct {
	figure, value, baseline, ratio, target string
}

func newBenchFixture(b *testing.B) *benchFixture {
	b.Helper()
	if _, err := exec.LookPath("rsync"); err != nil {
		b.Skip("rsync is not installed")
	}
	start := time.Now()
	repo, head := newBigTestRepo(b, benchFiles, benchBytes)
	tRepo := time.Since(start)
	h := newRunHarness(b, runHarnessOpts{strategy: catalog.StrategyRsync, hosts: 20, files: 1,
		// The production cadence of step.output, not the tests' 20 ms.
		config: func(c *Config) { c.OutputInterval = DefaultOutputInterval }})
	h.p.Repo = repo
	f := &benchFixture{h: h, repo: repo, head: head, tree: filepath.Join(tmpfsTempDir(b), "tree")}
	benchArchive(b, repo, head, f.tree)
	_ = filepath.WalkDir(f.tree, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(f.tree, p)
			f.files = append(f.files, filepath.ToSlash(rel))
		}
		return err
	})
	sort.Strings(f.files)
	f.treeChanged(b)
	var size int64
	for _, p := range f.files {
		fi, err := os.Stat(filepath.Join(f.tree, p))
		if err != nil {
			b.Fatal(err)
		}
		size += fi.Size()
	}
	f.fixture = fmt.Sprintf("%d files, %.1f MB (repository made in %s); 20 sshd hosts; other load before the run: %.2f of %d CPUs busy",
		len(f.files), benchMB(size), tRepo.Round(time.Millisecond), benchIdle(), runtime.NumCPU())
	return f
}

// benchArchive writes commit's tree into dest with `git archive | tar -x`.
func benchArchive(tb testing.TB, repo, commit, dest string) {
	tb.Helper()
	if err := os.MkdirAll(dest, 0o755); err != nil {
		tb.Fatal(err)
	}
	archive := exec.Command(gitBinary, "-C", repo, "archive", commit)
	extract := exec.Command("tar", "-x", "-C", dest)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	extract.Stdin = pipe
	if err := archive.Start(); err != nil {
		tb.Fatal(err)
	}
	if err := extract.Run(); err != nil {
		tb.Fatal(err)
	}
	if err := archive.Wait(); err != nil {
		tb.Fatal(err)
	}
}

// hostDir is host i's own directory: every target of the benchmark is a
// fresh directory in it.
func (f *benchFixture) hostDir(i int) string { return filepath.Dir(f.h.cluster.Hosts[i].Path) }

// env is an environment of the first n hosts, each at <hostDir>/<name>.
func (f *benchFixture) env(name string, n int) catalog.Environment {
	env := catalog.Environment{Name: name, Path: "/srv/unused", SSHKey: f.h.cluster.KeyPath, Parallel: n,
		OnFailure: catalog.OnFailureHalt}
	for i := range n {
		env.Hosts = append(env.Hosts, catalog.Host{Addr: f.h.cluster.Hosts[i].Addr, Path: filepath.Join(f.hostDir(i), name)})
	}
	return env
}

// deploy submits a deployment of env and runs it to its end; it fails the
// benchmark unless it succeeded. wall covers Submit and Run.
func (f *benchFixture) deploy(b *testing.B, kind string, env catalog.Environment, commit, version string) (id string, wall time.Duration, cpu float64) {
	b.Helper()
	f.seq++
	id = fmt.Sprintf("bench-%03d", f.seq)
	p := f.h.p
	p.Environments = []catalog.Environment{env}
	req := catalog.Request{Deployment: id, Kind: kind, Project: p, Environment: env.Name, Commit: commit, Version: version}
	wall, cpu = benchMeasure(func() {
		if err := Submit(context.Background(), f.h.log, req, "alice"); err != nil {
			b.Fatal(err)
		}
		if err := f.h.r.Run(context.Background(), id); err != nil {
			b.Fatalf("run %s: %v", id, err)
		}
	})
	if term := f.h.terminal(id); term != catalog.TypeDeploySucceeded {
		b.Fatalf("deployment %s ended %s:\n%s", id, term, f.h.describe(id))
	}
	return id, wall, cpu
}

// handshakes counts the SSH connections each host accepted so far.
func (f *benchFixture) handshakes() []int { return f.h.handshakes() }

// benchMaxDelta is the most connections one host accepted between two counts.
func benchMaxDelta(before, after []int) int {
	m := 0
	for i := range after {
		m = max(m, after[i]-before[i])
	}
	return m
}

// ensureWarm makes the project's first deployment, unless Warmup did.
func (f *benchFixture) ensureWarm(b *testing.B) {
	b.Helper()
	if f.warm {
		return
	}
	b.StopTimer()
	defer b.StartTimer()
	f.warmup(b)
}

// warmup deploys the first commit to one host of an environment of its
// own: the mirror's first fetch happens here.
func (f *benchFixture) warmup(b *testing.B) (id string, wall time.Duration) {
	b.Helper()
	env := f.env("warm", 1)
	id, wall, _ = f.deploy(b, catalog.KindDeploy, env, f.head, f.h.versionOf(f.head))
	f.warm = true
	benchRemoveTargets(env)
	return id, wall
}

// benchWarmup times the project's first deployment, once whatever b.N
// (a second one would find the mirror warm).
func (f *benchFixture) benchWarmup(b *testing.B) {
	if f.warm {
		b.Skip("already warm")
	}
	id, wall := f.warmup(b)
	b.StopTimer()
	steps := f.localSteps(id)
	b.ReportMetric(float64(wall.Nanoseconds()), "ns/op")
	b.ReportMetric(steps["fetch"].Seconds(), "s-cold-fetch")
	b.Logf("fixture: %s", f.fixture)
	b.Logf("SUMMARY warm-up: first deployment (1 host) %s, of which cold go-git fetch %s, export %s, manifest %s",
		benchSec(wall), benchSec(steps["fetch"]), benchSec(steps["export"]), benchSec(steps["manifest"]))
	f.row("cold fetch (go-git, once per project)", benchSec(steps["fetch"]), "", "", "printed")
	f.row("first deployment, 1 host, cold fetch included", benchSec(wall), "", "", "printed")
}

// benchFull: a release to n empty hosts, against serial and parallel
// rsync (the serial loop for the default transfer only: the others are
// set beside the default's figure).
func (f *benchFixture) benchFull(b *testing.B, n int, tr benchTransfer) {
	f.ensureWarm(b)
	defer f.use(tr)()
	b.StopTimer()
	b.ResetTimer()
	var serial, par, par2, run time.Duration
	var cpuSerial, cpuPar, cpuRun float64
	var shakes int
	var lastID string
	for iter := range b.N {
		tag := fmt.Sprintf("%d-%d", n, iter)
		if tr != benchByDefault {
			tag += "-" + string(tr.transfer)
		}
		if tr == benchByDefault {
			d, c := f.rsyncSerial(b, n, "serial-"+tag)
			serial, cpuSerial = serial+d, cpuSerial+c
		}
		bases, d, c := f.rsyncParallel(b, n, "par-"+tag)
		par, cpuPar = par+d, cpuPar+c

		env := f.env("full"+tag, n)
		v := f.h.versionOf(f.head)
		// A full deploy exports the commit from scratch: the export kept
		// by the previous deployment would make this a redeploy.
		if err := os.RemoveAll(filepath.Join(f.h.ws.Dir, "exports", f.h.p.ID)); err != nil {
			b.Fatal(err)
		}
		before := f.handshakes()
		b.StartTimer()
		id, d, c := f.deploy(b, catalog.KindDeploy, env, f.head, v)
		b.StopTimer()
		run, cpuRun, lastID = run+d, cpuRun+c, id
		shakes = max(shakes, benchMaxDelta(before, f.handshakes()))
		f.checkRelease(b, env, v)

		// The parallel baseline again, after the runner: this machine's
		// speed drifts by 10-20% within a minute, and the ratio is taken
		// against the mean of the two.
		again, d, _ := f.rsyncParallel(b, n, "par2-"+tag)
		par2 += d
		benchRemoveDirs(again)
		benchRemoveDirs(f.serialDirs(n, "serial-"+tag))
		if n == 20 && iter == b.N-1 && tr == benchByDefault {
			if f.live != nil {
				benchRemoveTargets(f.live.env)
				benchRemoveDirs(f.live.base)
			}
			f.live = &benchLive{env: env, cur: v, curC: f.head, base: bases}
		} else {
			benchRemoveTargets(env)
			benchRemoveDirs(bases)
		}
	}
	N := float64(b.N)
	serial, run = serial/time.Duration(b.N), run/time.Duration(b.N)
	before, after := par/time.Duration(b.N), par2/time.Duration(b.N)
	par = (before + after) / 2
	ratio := run.Seconds() / par.Seconds()
	b.ReportMetric(run.Seconds(), "s-runner")
	b.ReportMetric(par.Seconds(), "s-rsync-parallel")
	b.ReportMetric(ratio, "x-vs-parallel")
	b.ReportMetric(float64(shakes), "handshakes/host")
	b.Logf("where the time goes (%s): %s", lastID, f.breakdown(lastID))
	figure := tr.label(fmt.Sprintf("full deploy, %d host(s)", n))
	if tr != benchByDefault {
		vsDefault, def := "", f.fullRun[n]
		if def > 0 {
			vsDefault = fmt.Sprintf("%.2fx", run.Seconds()/def.Seconds())
			b.ReportMetric(run.Seconds()/def.Seconds(), "x-vs-default")
		}
		b.Logf("SUMMARY %s: runner %s = %.2fx parallel rsync %s (%s before, %s after); the default transfer's runner %s (%s); "+
			"CPUs busy: runner %.2f, parallel %.2f of %d; ssh handshakes per host %d",
			figure, benchSec(run), ratio, benchSec(par), benchSec(before), benchSec(after), benchSec(def), vsDefault,
			cpuRun/N, cpuPar/N, runtime.NumCPU(), shakes)
		f.row(figure+" vs parallel rsync", benchSec(run), fmt.Sprintf("%s (mean of %s, %s)", benchSec(par), benchSec(before), benchSec(after)),
			fmt.Sprintf("%.2fx", ratio), "printed")
		f.row(figure+" vs the default (rsync)", benchSec(run), fmt.Sprintf("%s (Full/hosts=%d)", benchSec(def), n), vsDefault, "printed")
		return
	}
	if f.fullRun == nil {
		f.fullRun = map[int]time.Duration{}
	}
	f.fullRun[n] = run
	b.ReportMetric(serial.Seconds(), "s-rsync-serial")
	b.ReportMetric(run.Seconds()/serial.Seconds(), "x-vs-serial")
	verdict := ""
	if n == 20 {
		verdict = fmt.Sprintf(" (target <= %.1fx: %s)", benchFullRatioTarget, benchMet(ratio <= benchFullRatioTarget))
	}
	b.Logf("SUMMARY full deploy to %d host(s): runner %s = %.2fx parallel rsync %s (%s before, %s after)%s, %.2fx serial rsync %s; "+
		"CPUs busy: runner %.2f, parallel %.2f, serial %.2f of %d; ssh handshakes per host %d",
		n, benchSec(run), ratio, benchSec(par), benchSec(before), benchSec(after), verdict, run.Seconds()/serial.Seconds(), benchSec(serial),
		cpuRun/N, cpuPar/N, cpuSerial/N, runtime.NumCPU(), shakes)
	target := ""
	if n == 20 {
		target = fmt.Sprintf("<= %.1fx", benchFullRatioTarget)
		f.row("ssh handshakes per host, full deploy", strconv.Itoa(shakes), "", "", fmt.Sprintf("<= %d: %s", benchHandshakesTarget, benchMet(shakes <= benchHandshakesTarget)))
	}
	f.row(figure+" vs parallel rsync", benchSec(run), fmt.Sprintf("%s (mean of %s, %s)", benchSec(par), benchSec(before), benchSec(after)),
		fmt.Sprintf("%.2fx", ratio), benchVerdict(target, ratio <= benchFullRatioTarget))
	f.row(figure+" vs serial rsync", benchSec(run), benchSec(serial),
		fmt.Sprintf("%.2fx", run.Seconds()/serial.Seconds()), "")
}

// ensureLive makes sure the 20 hosts run a release of the runner and hold
// plain copies, unless Full/hosts=20 left them.
func (f *benchFixture) ensureLive(b *testing.B) {
	b.Helper()
	f.ensureWarm(b)
	if f.live != nil {
		return
	}
	b.StopTimer()
	defer b.StartTimer()
	env := f.env("live", 20)
	v := f.h.versionOf(f.head)
	f.deploy(b, catalog.KindDeploy, env, f.head, v)
	bases, _, _ := f.rsyncParallel(b, 20, "par-live")
	f.live = &benchLive{env: env, cur: v, curC: f.head, base: bases}
}

// benchChangeResult is what one 1% change measured.
type benchChangeResult struct {
	id          string
	wall        time.Duration
	cpu         float64
	shakes      int
	changed     int64 // bytes of the changed files
	sent, flist int64 // per host, summed over hosts
	literal     int64
	transferred int64
	worst, sum  float64   // ratio of bytes sent to changed + file list: worst host, sum over hosts
	disk        benchDisk // the new release beyond the previous one, on host 0
	ref         time.Duration
	refSent     int64
	one         time.Duration // the same change to one host
	oneID       string
	tar         bool // sent as tar streams (no file list), not by rsync
}

// changeOnce commits a change of 1% of the files and deploys it to the
// live hosts (the deployment alone timed, when the timer runs), then runs
// the plain-rsync reference.
func (f *benchFixture) changeOnce(b *testing.B, iter int, tr benchTransfer) benchChangeResult {
	b.Helper()
	b.StopTimer()
	live := f.live
	if f.one == nil || f.one.cur != live.cur {
		if f.one == nil {
			f.one = &benchLive{env: f.env("one-host", 1)}
		}
		f.deploy(b, catalog.KindDeploy, f.one.env, live.curC, live.cur)
		f.one.cur, f.one.curC = live.cur, live.curC
	}
	files, size := f.changeFiles(b, iter)
	commit := commitFiles(b, f.repo, fmt.Sprintf("bench change %d", iter), files)
	for p, content := range files {
		dst := filepath.Join(f.tree, filepath.FromSlash(p))
		_ = os.Remove(dst)
		if err := os.WriteFile(dst, []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	f.treeChanged(b)
	v := f.h.versionOf(commit)
	f.forgetManifests(b, tr)
	before := f.handshakes()
	b.StartTimer()
	id, wall, cpu := f.deploy(b, catalog.KindDeploy, live.env, commit, v)
	b.StopTimer()
	r := benchChangeResult{id: id, wall: wall, cpu: cpu, shakes: benchMaxDelta(before, f.handshakes()), changed: size}
	live.prev, live.prevC, live.cur, live.curC = live.cur, live.curC, v, commit
	f.checkRelease(b, live.env, v)

	for _, host := range live.env.Hosts {
		out := f.h.stepOutput(id, host.Addr, "transfer")
		var sent, fl, literal, transferred int64
		if ts, err := ParseTarStats(out); err == nil {
			// A tar stream over the host's connection: its size is what
			// was sent; it has no file list, so the baseline is the
			// changed bytes alone (headers and padding count as sent).
			sent, literal, transferred = ts.Bytes, ts.FileBytes, ts.Files
			r.tar = true
		} else {
			st, err := ParseRsyncStats(out)
			if err != nil {
				b.Fatalf("%s: %v in %q", host.Addr, err, out)
			}
			sent, literal, transferred = st.BytesSent, st.LiteralData, st.FilesTransferred
			fl = benchFileListSize(b, out)
		}
		ratio := float64(sent) / float64(size+fl)
		r.worst, r.sum = max(r.worst, ratio), r.sum+ratio
		r.sent, r.flist, r.literal, r.transferred = r.sent+sent, r.flist+fl, r.literal+literal, r.transferred+transferred
	}
	first := live.env.Hosts[0].Path
	r.disk = benchUniqueBlocks(b, filepath.Join(first, "releases", live.prev), filepath.Join(first, "releases", v))

	// Reference: plain rsync -a of the changed tree to the copies of the
	// old one, all at once (its quick check finds the 50 files by mtime
	// and size; their content travels as rsync deltas).
	r.ref, r.refSent = f.rsyncUpdate(b, live.base)

	// The same change to one host alone: what each host of a real fleet
	// (its own CPUs) would wait, the local preparation included.
	f.forgetManifests(b, tr)
	r.oneID, r.one, _ = f.deploy(b, catalog.KindDeploy, f.one.env, commit, v)
	f.one.cur, f.one.curC = v, commit
	return r
}

// forgetManifests removes the kept manifests where tr says no delta.
func (f *benchFixture) forgetManifests(b *testing.B, tr benchTransfer) {
	if !tr.noDelta {
		return
	}
	if err := os.RemoveAll(filepath.Join(f.h.ws.Dir, "manifests")); err != nil {
		b.Fatal(err)
	}
}

// benchChange: a new commit changing 1% of the files, to the 20 hosts.
func (f *benchFixture) benchChange(b *testing.B, tr benchTransfer) {
	f.ensureLive(b)
	defer f.use(tr)()
	b.StopTimer()
	b.ResetTimer()
	var t benchChangeResult
	for iter := range b.N {
		// Each transfer its own contents (a change deployed once).
		r := f.changeOnce(b, iter+100*tr.seed, tr)
		t.id, t.wall, t.cpu, t.shakes = r.id, t.wall+r.wall, t.cpu+r.cpu, max(t.shakes, r.shakes)
		t.changed, t.sent, t.flist, t.literal, t.transferred = t.changed+r.changed, t.sent+r.sent, t.flist+r.flist, t.literal+r.literal, t.transferred+r.transferred
		t.worst, t.sum = max(t.worst, r.worst), t.sum+r.sum
		t.disk.add(r.disk)
		t.ref, t.refSent = t.ref+r.ref, t.refSent+r.refSent
		t.one, t.oneID = t.one+r.one, r.oneID
		t.tar = t.tar || r.tar
	}
	N := int64(b.N)
	hosts := N * int64(len(f.live.env.Hosts))
	run, ref := t.wall/time.Duration(N), t.ref/time.Duration(N)
	changed, sent, flist := t.changed/N, t.sent/hosts, t.flist/hosts
	unique := t.disk.unique / N
	mean := t.sum / float64(hosts)
	b.ReportMetric(run.Seconds(), "s-runner")
	b.ReportMetric(ref.Seconds(), "s-rsync-parallel")
	b.ReportMetric(float64(sent), "B-sent/host")
	b.ReportMetric(float64(changed+flist), "B-changed+flist")
	b.ReportMetric(t.worst, "x-bytes-worst-host")
	b.ReportMetric(float64(unique), "B-new-release-disk")
	b.ReportMetric(float64(changed), "B-changed")
	b.ReportMetric(float64(t.shakes), "handshakes/host")
	figure := tr.label("1% change, 20 hosts")
	vsDefault := ""
	if tr == benchByDefault {
		f.change20 = run
	} else if f.change20 > 0 {
		vsDefault = fmt.Sprintf("%.2fx", run.Seconds()/f.change20.Seconds())
		b.ReportMetric(run.Seconds()/f.change20.Seconds(), "x-vs-default")
		b.Logf("SUMMARY %s: runner %s; the default transfer's runner %s (%s)", figure, benchSec(run), benchSec(f.change20), vsDefault)
	}
	b.Logf("SUMMARY 1%% change (%d files, %s) to %d hosts: runner %s (target < %s: %s); plain parallel rsync -a of the same change %s (runner %.2fx); "+
		"CPUs busy %.2f of %d; ssh handshakes per host %d",
		benchChangedFiles, benchKB(changed), len(f.live.env.Hosts), benchSec(run), benchSec(benchChangeTarget), benchMet(run < benchChangeTarget),
		benchSec(ref), run.Seconds()/ref.Seconds(), t.cpu/float64(N), runtime.NumCPU(), t.shakes)
	how := "rsync --stats"
	if t.tar {
		how = "the tar stream's size; a tar stream has no file list"
	}
	b.Logf("SUMMARY bytes sent per host (%s): %s = %.2fx (changed %s + file list %s) (worst host %.2fx, target <= %.1fx: %s); "+
		"%d files and %s file data per host; plain rsync -a sent %s per host",
		how, benchKB(sent), mean, benchKB(changed), benchKB(flist), t.worst, benchChangeBytesTarget, benchMet(t.worst <= benchChangeBytesTarget),
		t.transferred/hosts, benchKB(t.literal/hosts), benchKB(t.refSent/hosts))
	b.Logf("SUMMARY disk of the new release on one host: %s allocated by %d entries whose inode the previous release lacks (%d regular files, %s apparent) "+
		"vs changed bytes %s: %.2fx; the release alone allocates %s",
		benchKB(unique), t.disk.entries/N, t.disk.files/N, benchKB(t.disk.fileBytes/N), benchKB(changed), float64(unique)/float64(changed), benchKB(t.disk.all/N))
	b.Logf("where the time goes (%s): %s", t.id, f.breakdown(t.id))
	one := t.one / time.Duration(N)
	b.ReportMetric(one.Seconds(), "s-runner-1-host")
	b.Logf("SUMMARY the same change to 1 host alone: %s; where the time goes (%s): %s", benchSec(one), t.oneID, f.breakdown(t.oneID))
	f.row(figure, benchSec(run), benchSec(ref)+" (plain rsync -a)", fmt.Sprintf("%.2fx", run.Seconds()/ref.Seconds()),
		benchVerdict("< "+benchSec(benchChangeTarget), run < benchChangeTarget))
	if tr != benchByDefault {
		f.row(figure+" vs the default", benchSec(run), benchSec(f.change20)+" (Change1pct/hosts=20)", vsDefault, "printed")
	}
	f.row(tr.label("1% change, 1 host alone (per-host latency)"), benchSec(one), "", "", "printed")
	f.row(tr.label("1% change, bytes sent per host"), benchKB(sent), benchKB(changed+flist)+" (changed+flist)",
		fmt.Sprintf("%.2fx (worst %.2fx)", mean, t.worst), benchVerdict(fmt.Sprintf("<= %.1fx", benchChangeBytesTarget), t.worst <= benchChangeBytesTarget))
	f.row(tr.label("1% change, new release's own disk, 1 host"), benchKB(unique), benchKB(changed)+" (changed)",
		fmt.Sprintf("%.2fx", float64(unique)/float64(changed)), "printed")
	f.row(tr.label("ssh handshakes per host, 1% change"), strconv.Itoa(t.shakes), "", "", benchVerdict(fmt.Sprintf("<= %d", benchHandshakesSwitch), t.shakes <= benchHandshakesSwitch))
}

// changeFiles rewrites benchChangedFiles files of the tree (one in every
// hundred, a different set each iteration) with new content of about the
// same size; it returns them and their total size.
func (f *benchFixture) changeFiles(b *testing.B, iter int) (map[string]string, int64) {
	b.Helper()
	words := strings.Fields("go rsync host release switch link current deploy build commit tree hash")
	step := len(f.files) / benchChangedFiles
	out := map[string]string{}
	var total int64
	for i := range benchChangedFiles {
		p := f.files[i*step+iter%step]
		fi, err := os.Stat(filepath.Join(f.tree, filepath.FromSlash(p)))
		if err != nil {
			b.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(uint64(iter), uint64(i)))
		var s strings.Builder
		for int64(s.Len()) < fi.Size() {
			s.WriteString(words[rng.IntN(len(words))])
			s.WriteByte(" \n"[rng.IntN(2)])
		}
		out[p] = s.String()
		total += int64(s.Len())
	}
	return out, total
}

// benchRollback: the 20 hosts back to the previous release (and, on the
// next iteration, forward again: the same instant switch).
func (f *benchFixture) benchRollback(b *testing.B) {
	f.ensureLive(b)
	live := f.live
	if live.prev == "" {
		f.changeOnce(b, 1000, benchByDefault) // a previous release to go back to
	}
	b.StopTimer()
	b.ResetTimer()
	var run, ref time.Duration
	var cpuRun float64
	var shakes int
	var lastID string
	for range b.N {
		before := f.handshakes()
		b.StartTimer()
		id, d, c := f.deploy(b, catalog.KindRollback, live.env, live.prevC, live.prev)
		b.StopTimer()
		run, cpuRun, lastID = run+d, cpuRun+c, id
		shakes = max(shakes, benchMaxDelta(before, f.handshakes()))
		live.prev, live.prevC, live.cur, live.curC = live.cur, live.curC, live.prev, live.prevC
		for _, host := range live.env.Hosts {
			if got := runCurrentOf(b, host); got != live.cur {
				b.Fatalf("%s: current -> %s after the rollback, want %s", host.Addr, got, live.cur)
			}
		}
		ref += f.sshSwitchAll(b, live.base)
	}
	run, ref = run/time.Duration(b.N), ref/time.Duration(b.N)
	b.ReportMetric(run.Seconds(), "s-runner")
	b.ReportMetric(ref.Seconds(), "s-ssh-switch-parallel")
	b.ReportMetric(run.Seconds()/ref.Seconds(), "x-vs-ssh-switch")
	b.ReportMetric(float64(shakes), "handshakes/host")
	b.Logf("SUMMARY rollback of %d hosts: runner %s (target < %s: %s); one fresh ssh connection per host running the switch by hand, in parallel: %s (%.2fx); CPUs busy %.2f of %d; ssh handshakes per host %d",
		len(live.env.Hosts), benchSec(run), benchSec(benchRollbackTarget), benchMet(run < benchRollbackTarget), benchSec(ref),
		run.Seconds()/ref.Seconds(), cpuRun/float64(b.N), runtime.NumCPU(), shakes)
	b.Logf("where the time goes (%s): %s", lastID, f.breakdown(lastID))
	f.row("rollback, 20 hosts", benchSec(run), benchSec(ref)+" (ssh switch by hand)", fmt.Sprintf("%.2fx", run.Seconds()/ref.Seconds()),
		benchVerdict("< "+benchSec(benchRollbackTarget), run < benchRollbackTarget))
	f.row("ssh handshakes per host, rollback", strconv.Itoa(shakes), "", "", benchVerdict(fmt.Sprintf("<= %d", benchHandshakesSwitch), shakes <= benchHandshakesSwitch))
}

// summary prints the table of every figure measured, on standard output:
// a parent benchmark's own log is never printed, and testing cuts a
// benchmark's log after ten lines.
func (f *benchFixture) summary() {
	if len(f.rows) == 0 {
		return
	}
	var buf bytes.Buffer
	w := [5]int{}
	all := append([]benchRow{{"figure", "measured", "baseline (same run)", "ratio", "target"}}, f.rows...)
	for _, r := range all {
		for i, c := range []string{r.figure, r.value, r.baseline, r.ratio, r.target} {
			w[i] = max(w[i], len(c))
		}
	}
	fmt.Fprintf(&buf, "BenchmarkDeploy summary; %s; other load now: %.2f of %d CPUs busy\n", f.fixture, benchIdle(), runtime.NumCPU())
	for _, r := range all {
		fmt.Fprintf(&buf, "  %-*s | %*s | %-*s | %-*s | %s\n", w[0], r.figure, w[1], r.value, w[2], r.baseline, w[3], r.ratio, r.target)
	}
	os.Stdout.Write(buf.Bytes())
}

// benchIdle is how many CPUs other processes keep busy while this one
// waits a second: a figure measured on a busy machine is not worth much.
func benchIdle() float64 {
	_, cpus := benchMeasure(func() { time.Sleep(time.Second) })
	return cpus
}

func (f *benchFixture) row(figure, value, baseline, ratio, target string) {
	f.rows = append(f.rows, benchRow{figure, value, baseline, ratio, target})
}

// checkRelease asserts that every host of env runs version, and that the
// first host's release is complete against the plain tree's manifest.
func (f *benchFixture) checkRelease(b *testing.B, env catalog.Environment, version string) {
	b.Helper()
	for _, host := range env.Hosts {
		if got := runCurrentOf(b, host); got != version {
			b.Fatalf("%s: current -> %q, want %q", host.Addr, got, version)
		}
	}
	f.h.checkComplete(env.Hosts[0], f.man)
}

// treeChanged lists the plain tree again after a change.
func (f *benchFixture) treeChanged(b *testing.B) {
	b.Helper()
	man, err := BuildManifest(f.tree)
	if err != nil {
		b.Fatal(err)
	}
	f.man = man
}

// rsyncTo is a plain `rsync -a` of src's content into dest on cluster host
// i over ssh (a fresh connection; the same strict host key checking as the
// runner's, no multiplexing), with extra options before the paths.
func (f *benchFixture) rsyncTo(ctx context.Context, i int, src, dest string, extra ...string) *exec.Cmd {
	c := f.h.cluster
	user, host, port, err := ParseHostAddr(c.Hosts[i].Addr)
	if err != nil {
		panic(err)
	}
	e := strings.Join([]string{"ssh", "-F", "none", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
		"-o", rsyncWord("UserKnownHostsFile=" + c.KnownHostsPath), "-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "IdentitiesOnly=yes", "-i", rsyncWord(c.KeyPath), "-p", strconv.Itoa(port)}, " ")
	argv := append([]string{"-a", "-e", e}, extra...)
	argv = append(argv, "--", strings.TrimRight(src, "/")+"/", user+"@"+host+":"+dest+"/")
	return exec.CommandContext(ctx, "rsync", argv...)
}

// rsyncWord quotes one word of rsync's -e value the way rsync splits it:
// on spaces, with single quotes grouping (a doubled quote inside is one).
func rsyncWord(s string) string {
	if s != "" && !strings.ContainsAny(s, " '\"") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func (f *benchFixture) serialDirs(n int, name string) []string {
	out := make([]string, n)
	for i := range n {
		out[i] = filepath.Join(f.hostDir(i), name)
	}
	return out
}

// rsyncSerial is baseline (a): rsync to hosts 0..n-1, one after the other,
// each into a fresh dir.
func (f *benchFixture) rsyncSerial(b *testing.B, n int, name string) (time.Duration, float64) {
	b.Helper()
	dirs := f.serialDirs(n, name)
	return benchMeasure(func() {
		for i, d := range dirs {
			if out, err := f.rsyncTo(b.Context(), i, f.tree, d).CombinedOutput(); err != nil {
				b.Fatalf("rsync to host %d: %v: %s", i, err, out)
			}
		}
	})
}

// rsyncParallel is baseline (b): the same rsync to all n hosts at once,
// one goroutine per host each running rsync (as `xargs -P n` would run
// them). It returns the dirs it filled.
func (f *benchFixture) rsyncParallel(b *testing.B, n int, name string) ([]string, time.Duration, float64) {
	b.Helper()
	dirs := f.serialDirs(n, name)
	errs := make([]error, n)
	d, c := benchMeasure(func() {
		var wg sync.WaitGroup
		for i, dir := range dirs {
			wg.Go(func() {
				if out, err := f.rsyncTo(b.Context(), i, f.tree, dir).CombinedOutput(); err != nil {
					errs[i] = fmt.Errorf("rsync to host %d: %v: %s", i, err, out)
				}
			})
		}
		wg.Wait()
	})
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	return dirs, d, c
}

// rsyncUpdate is the change's reference: plain rsync -a (with --stats, to
// count bytes) of the tree to dirs, which hold the previous tree, in
// parallel. It returns the time and the bytes sent to all hosts.
func (f *benchFixture) rsyncUpdate(b *testing.B, dirs []string) (time.Duration, int64) {
	b.Helper()
	sent := make([]int64, len(dirs))
	errs := make([]error, len(dirs))
	d, _ := benchMeasure(func() {
		var wg sync.WaitGroup
		for i, dir := range dirs {
			wg.Go(func() {
				out, err := f.rsyncTo(b.Context(), i, f.tree, dir, "--stats").CombinedOutput()
				if err != nil {
					errs[i] = fmt.Errorf("rsync to host %d: %v: %s", i, err, out)
					return
				}
				st, err := ParseRsyncStats(string(out))
				sent[i], errs[i] = st.BytesSent, err
			})
		}
		wg.Wait()
	})
	var total int64
	for i, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
		total += sent[i]
	}
	return d, total
}

// sshSwitchAll is the rollback's reference: on each host at once, one
// fresh ssh connection that switches a `current` symlink the way the
// runner does (a temporary link renamed over it), in the dir of that
// host's plain copy.
func (f *benchFixture) sshSwitchAll(b *testing.B, dirs []string) time.Duration {
	b.Helper()
	c := f.h.cluster
	errs := make([]error, len(dirs))
	d, _ := benchMeasure(func() {
		var wg sync.WaitGroup
		for i, dir := range dirs {
			wg.Go(func() {
				user, host, port, _ := ParseHostAddr(c.Hosts[i].Addr)
				script := QuoteCommand([]string{"sh", "-c", `cd "$1" && ln -sfn . .current.tmp && mv -T .current.tmp current`, "sh", dir})
				out, err := exec.CommandContext(b.Context(), "ssh", "-F", "none", "-o", "BatchMode=yes",
					"-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile="+c.KnownHostsPath,
					"-o", "GlobalKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes", "-i", c.KeyPath,
					"-p", strconv.Itoa(port), "-l", user, host, script).CombinedOutput()
				if err != nil {
					errs[i] = fmt.Errorf("ssh to host %d: %v: %s", i, err, out)
				}
			})
		}
		wg.Wait()
	})
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	return d
}

var benchFileListRe = regexp.MustCompile(`(?m)^File list size: ([0-9][0-9,.]*)`)

// benchFileListSize reads "File list size" of rsync --stats.
func benchFileListSize(b *testing.B, out string) int64 {
	b.Helper()
	m := benchFileListRe.FindStringSubmatch(out)
	if m == nil {
		b.Fatalf("no file list size in %q", out)
	}
	n, err := strconv.ParseInt(strings.NewReplacer(",", "", ".", "").Replace(m[1]), 10, 64)
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// benchDisk is the disk a release takes beyond the previous one.
type benchDisk struct {
	unique    int64 // allocated bytes (st_blocks) of entries whose inode the previous release lacks
	entries   int64 // how many such entries (directories included)
	fileBytes int64 // apparent size of such regular files (du --apparent-size of files with no link into prev)
	files     int64
	all       int64 // allocated bytes of the whole release, counted alone
}

func (d *benchDisk) add(o benchDisk) {
	d.unique, d.entries, d.fileBytes, d.files, d.all = d.unique+o.unique, d.entries+o.entries, d.fileBytes+o.fileBytes, d.files+o.files, d.all+o.all
}

// benchUniqueBlocks measures what next takes on disk beyond prev: every
// entry of next whose inode prev does not hold (hard links into prev cost
// nothing but a directory entry).
func benchUniqueBlocks(b *testing.B, prev, next string) benchDisk {
	b.Helper()
	seen := map[uint64]bool{}
	walk := func(root string, fn func(*syscall.Stat_t)) {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			var st syscall.Stat_t
			if err := syscall.Lstat(p, &st); err != nil {
				return err
			}
			fn(&st)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	walk(prev, func(st *syscall.Stat_t) { seen[st.Ino] = true })
	var d benchDisk
	walk(next, func(st *syscall.Stat_t) {
		d.all += st.Blocks * 512
		if seen[st.Ino] {
			return
		}
		d.unique += st.Blocks * 512
		d.entries++
		if st.Mode&syscall.S_IFMT == syscall.S_IFREG {
			d.fileBytes += st.Size
			d.files++
		}
	})
	return d
}

// localSteps are the durations of a deployment's steps on this machine.
func (f *benchFixture) localSteps(id string) map[string]time.Duration {
	names := map[string]string{}
	out := map[string]time.Duration{}
	for _, e := range f.h.events(id) {
		switch e.Type {
		case catalog.TypeStepStarted:
			var s catalog.StepStarted
			_ = e.Decode(&s)
			if s.Host == "" {
				names[s.Step] = s.Name
			}
		case catalog.TypeStepFinished:
			var s catalog.StepFinished
			_ = e.Decode(&s)
			if n, ok := names[s.Step]; ok {
				out[n] += time.Duration(s.DurationMS) * time.Millisecond
			}
		}
	}
	return out
}

// breakdown tells where a deployment's time went, from its events: the
// phases (claim to plan, plan to the last host staged, to the last host
// switched, to the end), the local steps, each host step's mean and
// slowest duration, and how many events were written.
func (f *benchFixture) breakdown(id string) string {
	envs := f.h.events(id)
	type agg struct {
		n        int
		sum, max time.Duration
	}
	stepName := map[string]catalog.StepStarted{}
	hostSteps := map[string]*agg{}
	var order []string
	local := []string{}
	counts := map[string]int{}
	var started, planned, lastStaged, lastSwitched, end time.Time
	for _, e := range envs {
		counts[e.Type]++
		switch e.Type {
		case catalog.TypeDeployStarted:
			started = e.Time
		case catalog.TypeDeployPlanned:
			planned = e.Time
		case catalog.TypeHostStaged:
			lastStaged = e.Time
		case catalog.TypeHostSwitched:
			lastSwitched = e.Time
		case catalog.TypeStepStarted:
			var s catalog.StepStarted
			_ = e.Decode(&s)
			stepName[s.Step] = s
		case catalog.TypeStepFinished:
			var s catalog.StepFinished
			_ = e.Decode(&s)
			st := stepName[s.Step]
			d := time.Duration(s.DurationMS) * time.Millisecond
			if st.Host == "" {
				local = append(local, fmt.Sprintf("%s %s", st.Name, benchSec(d)))
				continue
			}
			a := hostSteps[st.Name]
			if a == nil {
				a = &agg{}
				hostSteps[st.Name] = a
				order = append(order, st.Name)
			}
			a.n++
			a.sum += d
			a.max = max(a.max, d)
		}
		if isTerminal(e.Type) {
			end = e.Time
		}
	}
	var b strings.Builder
	phase := func(name string, from, to time.Time) {
		if !from.IsZero() && !to.IsZero() {
			fmt.Fprintf(&b, "%s %s, ", name, benchSec(to.Sub(from)))
		}
	}
	phase("claim→planned", started, planned)
	phase("planned→last staged", planned, lastStaged)
	phase("→last switched", lastStaged, lastSwitched)
	if lastSwitched.IsZero() {
		lastSwitched = lastStaged
	}
	phase("→end", lastSwitched, end)
	fmt.Fprintf(&b, "local steps [%s]; host steps mean/max [", strings.Join(local, ", "))
	for i, n := range order {
		a := hostSteps[n]
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s/%s", n, benchSec(a.sum/time.Duration(a.n)), benchSec(a.max))
	}
	total := 0
	for _, c := range counts {
		total += c
	}
	fmt.Fprintf(&b, "]; %d events (%d step.output)", total, counts[catalog.TypeStepOutput])
	return b.String()
}

// benchMeasure runs fn and returns its wall time and how many CPUs were busy on
// average meanwhile (the whole machine: sshd, ssh and rsync included).
func benchMeasure(fn func()) (time.Duration, float64) {
	c0 := benchReadCPU()
	start := time.Now()
	fn()
	d := time.Since(start)
	c1 := benchReadCPU()
	cpus := 0.0
	if total := c1.total - c0.total; total > 0 {
		cpus = float64(c1.busy-c0.busy) / float64(total) * float64(runtime.NumCPU())
	}
	return d, cpus
}

type benchCPUSample struct{ busy, total uint64 }

// benchReadCPU reads the machine's CPU time from /proc/stat (zero elsewhere).
func benchReadCPU() benchCPUSample {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return benchCPUSample{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line)
	if len(fields) < 5 || fields[0] != "cpu" {
		return benchCPUSample{}
	}
	var s benchCPUSample
	for i, v := range fields[1:] {
		n, _ := strconv.ParseUint(v, 10, 64)
		s.total += n
		if i != 3 && i != 4 { // idle, iowait
			s.busy += n
		}
	}
	return s
}

// benchRemoveTargets removes the target dirs of env's hosts.
func benchRemoveTargets(env catalog.Environment) {
	var dirs []string
	for _, h := range env.Hosts {
		dirs = append(dirs, h.Path)
	}
	benchRemoveDirs(dirs)
}

// benchRemoveDirs removes dirs (read-only releases included), in parallel.
func benchRemoveDirs(dirs []string) {
	var wg sync.WaitGroup
	for _, d := range slices.Compact(slices.Sorted(slices.Values(dirs))) {
		wg.Go(func() { _ = removeTree(d) })
	}
	wg.Wait()
}

func benchSec(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

func benchMB(n int64) float64 { return float64(n) / (1 << 20) }

func benchKB(n int64) string {
	if n >= 10<<20 {
		return fmt.Sprintf("%.1f MB", benchMB(n))
	}
	return fmt.Sprintf("%.1f KB", float64(n)/1024)
}

func benchMet(met bool) string {
	if met {
		return "met"
	}
	return "MISSED"
}

func benchVerdict(target string, met bool) string {
	if target == "" {
		return ""
	}
	return target + ": " + benchMet(met)
}
