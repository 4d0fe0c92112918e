package e2e

// BenchmarkFleet proves the whole app at fleet scale (issue 6, "Fleet
// scale"): a real `releasedesk serve` process, 100 real sshd hosts on
// loopback (targets on /dev/shm), real rsync and git, everything driven
// through the HTTP API; every figure beside a baseline measured in the
// same run. It writes docs/BENCHMARKS.md itself. Run it alone, once:
//
//	go test -run '^$' -bench BenchmarkFleet -benchtime 1x -timeout 60m .
//
// (`make bench` does, after the package benchmarks.) Smaller runs for
// development: RD_FLEET_HOSTS (default 100), RD_FLEET_FILES (2000),
// RD_FLEET_EVENTS (1000000), and RD_FLEET_DOC (default
// docs/BENCHMARKS.md) to write the report elsewhere. RD_FLEET_ONLY=api
// runs part 3 alone, for quick work on the API: one full deployment
// unloaded (the figure the loaded one is compared with), then the load;
// its figures are printed (SUMMARY lines) and no report is written.
//
// Parts, in order:
//
//  1. Deploy: parallel = batch = hosts/5 (20), then hosts/2 (50), each a
//     full deployment to empty targets, then a 1% change: total time,
//     time per batch (from the hosts' switch times in the deployment, the
//     batches of its plan), peak SSH connections open to the hosts (the
//     sshd side of /proc/net/tcp, polled every 50 ms), peak RSS of the app.
//     Baseline: a pool of `parallel` plain `rsync -a -e ssh` of an exported
//     tree of the same commit to fresh dirs on the same hosts (for the
//     change: of the changed tree to those dirs), once before and once
//     after the app's deployment; the ratio is against their mean.
//  2. Rollback of every host to the first deployment of the last round:
//     time and the skew between the first and the last host's switch.
//     Baseline: a pool of `parallel` fresh ssh connections switching a
//     symlink on each host.
//  3. API under load: 50 clients alternating GET /api/v1/releases and GET
//     /api/v1/deployments/{id} while a full deployment to every host
//     (parallel 20) streams its output, and 20 SSE subscribers following
//     /api/v1/stream (bearer header) from the head: every one must receive every
//     event id to the end, in order, no gap, no duplicate. Baseline: the
//     same clients for 5 s with no deployment running.
//  4. Start-up on a log of 1,000,000 realistic events (fleet_events_test.go):
//     process start to the first 200 of /api/v1/health and of
//     /api/v1/releases with a token, and RSS; a rebuild (no checkpoint)
//     against a start from the checkpoint saved at SIGTERM. Baseline: the
//     same start on a log of one user.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"releasedesk/app/httpapi/apitest"
)

// Targets (issues 3, 4 and 6).
const (
	fleetPerBatchTarget = 1.25            // per-batch time ratio (50 vs 20 hosts a batch) at most this x plain rsync's
	fleetStartupTarget  = time.Second     // issue 4: start-up from a checkpoint at 1M events
	fleetChange20Target = 2 * time.Second // issue 3: 1% change to 20 hosts (printed beside the 20-hosts-a-batch figure)
)

type fleetRow struct {
	figure, value, baseline, ratio, target string
}

type fleetBench struct {
	b              *testing.B
	f              *fleet
	hosts, files   int
	bytes          int64
	events         int
	tmp            string
	rows           []fleetRow
	notes          []string
	rounds         map[int]*fleetRound
	parallels      []int
	connsHoldBound bool
	maxConnsSeen   int
	started        time.Time
	loadBefore     string
}

// fleetRound is what one parallel setting measured.
type fleetRound struct {
	p                  int
	full, change       fleetDeployment
	fullBase, chBase   time.Duration // mean of before and after
	fullConns, chConns int
	fullRSS, chRSS     int64
	fullVersion        string
	baseDirs           []string
	sub                string
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func BenchmarkFleet(b *testing.B) {
	if _, err := exec.LookPath("rsync"); err != nil {
		b.Skip("rsync is not installed")
	}
	fb := &fleetBench{b: b, hosts: envInt("RD_FLEET_HOSTS", 100), files: envInt("RD_FLEET_FILES", 2000),
		events: envInt("RD_FLEET_EVENTS", 1_000_000), rounds: map[int]*fleetRound{}, started: time.Now(), connsHoldBound: true}
	fb.bytes = int64(fb.files) * 10 << 10 // 10 KiB a file on average
	fb.parallels = []int{max(1, fb.hosts/5), max(1, fb.hosts/2)}
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		fb.loadBefore = strings.Join(strings.Fields(string(la))[:3], " ")
	}
	fb.tmp = fleetDir(b, "bench")
	t0 := time.Now()
	fb.f = newFleet(b, fb.hosts, fb.files, fb.bytes)
	b.Logf("fleet of %d hosts, app and repository ready in %v", fb.hosts, time.Since(t0).Round(time.Millisecond))
	id, _ := fb.f.deploy("warm")
	warm := fb.f.wait(id, 10*time.Minute)
	fb.row("first deployment (1 host, cold clone of the repository)", fleetSec(warm.wall()), "", "", "printed")

	switch only := os.Getenv("RD_FLEET_ONLY"); only {
	case "":
		for _, p := range fb.parallels {
			fb.round(p)
		}
		fb.scaling()
		fb.rollback()
		fb.apiLoad()
		fb.startup()
		fb.write()
	case "api":
		fb.unloadedRound(fb.parallels[0])
		fb.apiLoad()
	default:
		b.Fatalf("RD_FLEET_ONLY=%s: the one part that runs alone is api", only)
	}
	if !fb.connsHoldBound && runnerBoundsConnections {
		b.Errorf("open SSH connections exceeded parallel + %d (peak %d): see docs/BENCHMARKS.md", fleetConnSlack, fb.maxConnsSeen)
	}
}

func (fb *fleetBench) row(figure, value, baseline, ratio, target string) {
	fb.rows = append(fb.rows, fleetRow{figure, value, baseline, ratio, target})
	fb.b.Logf("SUMMARY %s: %s | baseline %s | %s | %s", figure, value, baseline, ratio, target)
}

// dirs are fresh baseline directories name on every host.
func (fb *fleetBench) dirs(name string) []string {
	var out []string
	for _, h := range fb.f.cl.Hosts {
		out = append(out, filepath.Join(h.Path, name))
	}
	return out
}

// run deploys the release to prod under the monitor.
func (fb *fleetBench) run() (d fleetDeployment, version string, conns int, rss int64) {
	m := startMonitor(fb.f.cl, fb.f.app.Pid())
	id, v := fb.f.deploy("prod")
	d = fb.f.wait(id, 30*time.Minute)
	conns, rss = m.end()
	return d, v, conns, rss
}

func (fb *fleetBench) round(p int) {
	f, b := fb.f, fb.b
	r := &fleetRound{p: p, sub: fmt.Sprintf("p%d", p)}
	fb.rounds[p] = r
	f.configure(r.sub, p, p)
	paths := f.hostPaths(r.sub)

	// Full: a new commit to empty targets.
	f.change(1)
	tree := filepath.Join(fb.tmp, r.sub+"-full")
	f.export(tree)
	dirsA, dirsB := fb.dirs(r.sub+"-rsync-a"), fb.dirs(r.sub+"-rsync-b")
	before := f.rsyncPool(tree, dirsA, p)
	var v string
	r.full, v, r.fullConns, r.fullRSS = fb.run()
	after := f.rsyncPool(tree, dirsB, p)
	f.checkCurrent(paths, v)
	r.fullVersion = v
	r.fullBase = (before + after) / 2
	fb.deployRows(r, "full deployment", r.full, r.fullBase, before, after, r.fullConns, r.fullRSS)

	// 1%: the changed tree over the previous one.
	changed := f.change(fb.files / 100)
	tree2 := filepath.Join(fb.tmp, r.sub+"-change")
	f.export(tree2)
	before = f.rsyncPool(tree2, dirsA, p)
	r.change, v, r.chConns, r.chRSS = fb.run()
	after = f.rsyncPool(tree2, dirsB, p)
	f.checkCurrent(paths, v)
	r.chBase = (before + after) / 2
	fb.deployRows(r, fmt.Sprintf("1%% change (%d files, %s)", fb.files/100, fleetKB(changed)), r.change, r.chBase, before, after, r.chConns, r.chRSS)
	if p == 20 {
		per := fleetMean(r.change.batchTimes())
		fb.row("1% change, one batch of 20 hosts (time per batch)", fleetSec(per), "", "",
			fmt.Sprintf("issue 3: 20 hosts < %s: %s", fleetSec(fleetChange20Target), fleetMet(per < fleetChange20Target)))
	}
	r.baseDirs = dirsA
	b.ReportMetric(r.full.wall().Seconds(), fmt.Sprintf("s-full-p%d", p))
	b.ReportMetric(r.change.wall().Seconds(), fmt.Sprintf("s-change-p%d", p))
	// Free the memory of the rounds before the last (the last one is
	// what the rollback goes back on).
	if p != fb.parallels[len(fb.parallels)-1] {
		for _, d := range append(append(paths, dirsA...), dirsB...) {
			_ = os.RemoveAll(d)
		}
	} else {
		for _, d := range dirsB {
			_ = os.RemoveAll(d)
		}
	}
	_ = os.RemoveAll(tree)
	_ = os.RemoveAll(tree2)
}

// unloadedRound is the full deployment of round p alone (no rsync
// baseline, no change after it): what apiLoad compares its loaded
// deployment with when it runs alone (RD_FLEET_ONLY=api).
func (fb *fleetBench) unloadedRound(p int) {
	r := &fleetRound{p: p, sub: fmt.Sprintf("p%d", p)}
	fb.rounds[p] = r
	fb.f.configure(r.sub, p, p)
	fb.f.change(1)
	var v string
	r.full, v, r.fullConns, r.fullRSS = fb.run()
	fb.f.checkCurrent(fb.f.hostPaths(r.sub), v)
	fb.row(fmt.Sprintf("full deployment, %d hosts, parallel %d", fb.hosts, p), fleetSec(r.full.wall()), "", "", "printed")
	for _, d := range fb.f.hostPaths(r.sub) {
		_ = os.RemoveAll(d)
	}
}

func (fb *fleetBench) deployRows(r *fleetRound, what string, d fleetDeployment, base, before, after time.Duration, conns int, rss int64) {
	n := len(d.Plan.Batches)
	bt := d.batchTimes()
	fb.row(fmt.Sprintf("%s, %d hosts, parallel %d (%d batches of %d)", what, fb.hosts, r.p, n, r.p),
		fleetSec(d.wall()), fmt.Sprintf("%s parallel rsync (%s before, %s after)", fleetSec(base), fleetSec(before), fleetSec(after)),
		fleetRatio(d.wall(), base), "printed")
	parts := make([]string, len(bt))
	for i, t := range bt {
		parts[i] = fleetSec(t)
	}
	fb.row(fmt.Sprintf("  time per batch (%s)", strings.Join(parts, ", ")), fleetSec(fleetMean(bt)),
		fmt.Sprintf("%s per round of %d rsync", fleetSec(base/time.Duration(max(1, (fb.hosts+r.p-1)/r.p))), r.p), "", "printed")
	fb.connsRow(conns, r.p)
	fb.row("  peak RSS of the app", fleetMB(rss), "", "", "printed")
	if ex := d.stepTime("export"); ex > 0 {
		fb.row("  export step (this machine, once per deployment)", fleetSec(ex), "", "", "printed")
	}
}

// connsRow records the peak of SSH connections open at once to the hosts
// during a deployment with parallel p, against issue 6's bound.
func (fb *fleetBench) connsRow(conns, p int) {
	fb.maxConnsSeen = max(fb.maxConnsSeen, conns)
	held := conns <= p+fleetConnSlack
	if !held {
		fb.connsHoldBound = false
	}
	fb.row("  peak SSH connections open to the hosts", strconv.Itoa(conns), fmt.Sprintf("parallel %d", p), "",
		fmt.Sprintf("issue 6: <= parallel + %d: %s", fleetConnSlack, fleetMet(held)))
}

// scaling compares the rounds: the time per batch with 50 hosts a batch
// against 20, for the app and for plain rsync in rounds of the same size.
func (fb *fleetBench) scaling() {
	if len(fb.parallels) < 2 {
		return
	}
	a, z := fb.rounds[fb.parallels[0]], fb.rounds[fb.parallels[1]]
	hostsRatio := float64(z.p) / float64(a.p)
	for _, k := range []struct {
		what       string
		da, dz     fleetDeployment
		base, basz time.Duration
	}{
		{"full deployment", a.full, z.full, a.fullBase, z.fullBase},
		{"1% change", a.change, z.change, a.chBase, z.chBase},
	} {
		pa, pz := fleetMean(k.da.batchTimes()), fleetMean(k.dz.batchTimes())
		ra := pz.Seconds() / pa.Seconds()
		roundsA, roundsZ := (fb.hosts+a.p-1)/a.p, (fb.hosts+z.p-1)/z.p
		rb := (k.basz.Seconds() / float64(roundsZ)) / (k.base.Seconds() / float64(roundsA))
		met := ra <= fleetPerBatchTarget*rb
		fb.row(fmt.Sprintf("%s: time per batch, %d vs %d hosts a batch (%.1fx the hosts)", k.what, z.p, a.p, hostsRatio),
			fmt.Sprintf("%s vs %s = %.2fx", fleetSec(pz), fleetSec(pa), ra),
			fmt.Sprintf("plain rsync per round: %.2fx", rb), fmt.Sprintf("%.2f", ra/rb),
			fmt.Sprintf("issue 6: grows with batches, not hosts a batch (<= %.2fx rsync's): %s", fleetPerBatchTarget, fleetMet(met)))
		fb.row(fmt.Sprintf("%s: total, %d batches vs %d", k.what, roundsA, roundsZ),
			fmt.Sprintf("%s vs %s = %.2fx", fleetSec(k.da.wall()), fleetSec(k.dz.wall()), k.da.wall().Seconds()/k.dz.wall().Seconds()),
			fmt.Sprintf("plain rsync: %s vs %s = %.2fx", fleetSec(k.base), fleetSec(k.basz), k.base.Seconds()/k.basz.Seconds()), "", "printed")
	}
}

// fleetSkewTarget is issue 17's bound on the time between the first and
// the last of 100 hosts' switch.
const fleetSkewTarget = 500 * time.Millisecond

// rollback switches every host back to the last round's full deployment,
// all of them in one batch (parallel = hosts): the two-phase cut-over
// (runner/cutover.go) switches them in one short window.
func (fb *fleetBench) rollback() {
	f := fb.f
	r := fb.rounds[fb.parallels[len(fb.parallels)-1]]
	p := fb.hosts
	f.configure(r.sub, p, p)
	m := startMonitor(f.cl, f.app.Pid())
	id := f.rollback(r.fullVersion)
	d := f.wait(id, 30*time.Minute)
	conns, rss := m.end()
	f.checkCurrent(f.hostPaths(r.sub), r.fullVersion)
	base := f.sshPool(p, func(i int) string {
		dir := filepath.Dir(r.baseDirs[i])
		return fmt.Sprintf("ln -sfn %s %s/base-current.tmp && mv -T %s/base-current.tmp %s/base-current", r.baseDirs[i], dir, dir, dir)
	})
	fb.row(fmt.Sprintf("rollback of %d hosts, one batch, parallel %d (releases still on the hosts)", fb.hosts, p), fleetSec(d.wall()),
		fmt.Sprintf("%s: a fresh ssh per host switching a symlink, %d at once", fleetSec(base), p), fleetRatio(d.wall(), base), "printed")
	skew := d.switchSkew()
	fb.row("  skew between the first and the last host's switch", fleetSec(skew), "", "",
		fmt.Sprintf("issue 17: < %s: %s", fleetSec(fleetSkewTarget), fleetMet(skew < fleetSkewTarget)))
	fb.b.ReportMetric(skew.Seconds(), "s-switch-skew")
	fb.connsRow(conns, p)
	fb.row("  peak RSS of the app", fleetMB(rss), "", "", "printed")
	fb.b.ReportMetric(d.wall().Seconds(), "s-rollback")
	// The rounds' targets are done with.
	for _, d := range append(f.hostPaths(r.sub), r.baseDirs...) {
		_ = os.RemoveAll(d)
	}
}

// apiLoad measures the API with and without a deployment streaming.
func (fb *fleetBench) apiLoad() {
	f, b := fb.f, fb.b
	const clients, subscribers = 50, 20
	p := fb.parallels[0]
	last := fb.lastDeployment()
	stop := make(chan struct{})
	time.AfterFunc(5*time.Second, func() { close(stop) })
	idle := apitest.Load(f.app.URL, f.root.Client.Token, last, clients, stop)
	if idle.Errs > 0 {
		b.Fatalf("API with no deployment: %d errors of %d (first: %s)", idle.Errs, idle.N, idle.FirstErr)
	}

	f.configure("api", p, p)
	f.change(1)
	from := headPosition(f.root)
	var subs []*apitest.Stream
	for range subscribers {
		s, err := apitest.Subscribe(f.app.URL, f.root.Client.Token, from)
		if err != nil {
			b.Fatal(err)
		}
		subs = append(subs, s)
	}
	// The monitor starts once the deployment has planned: the
	// connections the rollback (parallel 100) left idle are the
	// rollback's, and a deployment closes them down to its own parallel
	// before it plans (runner/connpool.go).
	id, v := f.deploy("prod")
	f.waitPlanned(id, time.Minute)
	m := startMonitor(f.cl, f.app.Pid())
	stop = make(chan struct{})
	loaded := make(chan apitest.LoadResult, 1)
	t0 := time.Now()
	go func() { loaded <- apitest.Load(f.app.URL, f.root.Client.Token, id, clients, stop) }()
	d := f.wait(id, 30*time.Minute)
	close(stop)
	busy := <-loaded
	span := time.Since(t0)
	conns, rss := m.end()
	f.checkCurrent(f.hostPaths("api"), v)
	if busy.Errs > 0 {
		b.Fatalf("API during the deployment: %d errors of %d (first: %s)", busy.Errs, busy.N, busy.FirstErr)
	}
	until := headPosition(f.root)
	var failed []string
	for i, s := range subs {
		if err := s.Check(from, until, time.Minute); err != nil {
			failed = append(failed, fmt.Sprintf("subscriber %d: %v", i, err))
		}
	}
	if len(failed) > 0 {
		b.Fatalf("SSE: %s", strings.Join(failed, "; "))
	}
	rel50, rel99 := apitest.Quantile(busy.Releases, .5), apitest.Quantile(busy.Releases, .99)
	dep50, dep99 := apitest.Quantile(busy.Deploys, .5), apitest.Quantile(busy.Deploys, .99)
	fb.row(fmt.Sprintf("deployment under load: %d hosts, parallel %d, %d API clients, %d SSE subscribers", fb.hosts, p, clients, subscribers),
		fleetSec(d.wall()), fmt.Sprintf("%s the same deployment unloaded (round 1)", fleetSec(fb.rounds[p].full.wall())),
		fleetRatio(d.wall(), fb.rounds[p].full.wall()), "printed")
	fb.row("  GET /api/v1/releases p50 / p99", fleetMS(rel50)+" / "+fleetMS(rel99),
		fleetMS(apitest.Quantile(idle.Releases, .5))+" / "+fleetMS(apitest.Quantile(idle.Releases, .99))+" (no deployment)",
		fleetRatio(rel50, apitest.Quantile(idle.Releases, .5))+" / "+fleetRatio(rel99, apitest.Quantile(idle.Releases, .99)), "printed")
	fb.row(fmt.Sprintf("  GET /api/v1/deployments/{id} p50 / p99 (%d hosts, its steps and output)", fb.hosts), fleetMS(dep50)+" / "+fleetMS(dep99),
		fleetMS(apitest.Quantile(idle.Deploys, .5))+" / "+fleetMS(apitest.Quantile(idle.Deploys, .99))+" (no deployment)",
		fleetRatio(dep50, apitest.Quantile(idle.Deploys, .5))+" / "+fleetRatio(dep99, apitest.Quantile(idle.Deploys, .99)), "printed")
	fb.row("  requests answered", fmt.Sprintf("%d in %s (%.0f/s), 0 errors", busy.N, fleetSec(span), float64(busy.N)/span.Seconds()),
		fmt.Sprintf("%d in 5.00s (%.0f/s)", idle.N, float64(idle.N)/5), "", "printed")
	fb.row(fmt.Sprintf("  SSE: %d subscribers, events %d..%d (%d each)", subscribers, from+1, until, until-from),
		"every id, in order", "", "", "issue 6: none lost, reordered or repeated: met")
	fb.connsRow(conns, p)
	fb.row("  peak RSS of the app", fleetMB(rss), "", "", "printed")
	b.ReportMetric(rel99.Seconds()*1000, "ms-releases-p99")
	b.ReportMetric(dep99.Seconds()*1000, "ms-deployment-p99")
	for _, d := range f.hostPaths("api") {
		_ = os.RemoveAll(d)
	}
}

func (fb *fleetBench) lastDeployment() string {
	r := fb.f.root.Must(http.StatusOK, "GET", "/api/v1/deployments?limit=1", nil)
	deps, _ := r.Body["deployments"].([]any)
	if len(deps) == 0 {
		fb.b.Fatal("no deployment")
	}
	return deps[0].(map[string]any)["id"].(string)
}

// startMeasure is one start of the app: to the first 200 of health, of
// the releases with a token, and the RSS then and at its peak.
type startMeasure struct {
	health, releases time.Duration
	rss, hwm         int64
	// verified: when health stopped saying `verifying` (the background
	// verification of the whole log a start runs; writes wait for it),
	// and the peak RSS by then.
	verified    time.Duration
	verifiedHWM int64
	stop        time.Duration
}

func (fb *fleetBench) measureStart(data, token string) startMeasure {
	b := fb.b
	var m startMeasure
	t0 := time.Now()
	app := startApp(b, data)
	hc := &http.Client{Timeout: 10 * time.Second}
	poll := func(path, token string) time.Duration {
		for {
			req, _ := http.NewRequest("GET", app.URL+path, nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			if res, err := hc.Do(req); err == nil {
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					return time.Since(t0)
				}
			}
			if time.Since(t0) > 5*time.Minute {
				b.Fatalf("%s: no 200 in 5 minutes\n%s", path, app.Log())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	m.health = poll("/api/v1/health", "")
	m.releases = poll("/api/v1/releases", token)
	m.rss, m.hwm = procRSS(app.Pid(), "VmRSS"), procRSS(app.Pid(), "VmHWM")
	for {
		var h struct {
			Verifying bool `json:"verifying"`
		}
		if res, err := hc.Get(app.URL + "/api/v1/health"); err == nil {
			_ = json.NewDecoder(res.Body).Decode(&h)
			res.Body.Close()
			if !h.Verifying {
				break
			}
		}
		if time.Since(t0) > 5*time.Minute {
			b.Fatalf("still verifying after 5 minutes\n%s", app.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	m.verified, m.verifiedHWM = time.Since(t0), procRSS(app.Pid(), "VmHWM")
	t1 := time.Now()
	app.Stop()
	m.stop = time.Since(t1)
	return m
}

// startup measures the start on a million-event log.
func (fb *fleetBench) startup() {
	b := fb.b
	base := fleetDir(b, "startup")
	small := filepath.Join(base, "small")
	addUser(b, small, "root", "root-password-1", true)
	app := startApp(b, small)
	tok := apitest.Login(b, app.URL, "root", "root-password-1").Client.Token
	app.Stop()
	empty := fb.measureStart(small, tok)

	big := filepath.Join(base, "big")
	t0 := time.Now()
	n, err := writeFleetLog(big, fb.events)
	if err != nil {
		b.Fatal(err)
	}
	gen := time.Since(t0)
	addUser(b, big, "root", "root-password-1", true)
	app = startApp(b, big)
	c := apitest.Login(b, app.URL, "root", "root-password-1")
	total := headPosition(c)
	app.Stop()
	ckpt := filepath.Join(big, "projections.checkpoint")
	if err := os.Remove(ckpt); err != nil && !os.IsNotExist(err) {
		b.Fatal(err)
	}
	rebuild := fb.measureStart(big, c.Client.Token)
	if _, err := os.Stat(ckpt); err != nil {
		b.Fatalf("no checkpoint after SIGTERM: %v", err)
	}
	fromCkpt := fb.measureStart(big, c.Client.Token)
	fi, _ := os.Stat(ckpt)
	var ckMB int64
	if fi != nil {
		ckMB = fi.Size()
	}
	fb.row(fmt.Sprintf("start-up, %d events, from the checkpoint saved at SIGTERM: ready API (releases with a token)", total),
		fleetSec(fromCkpt.releases), fleetSec(empty.releases)+" (a log of one user)", fleetRatio(fromCkpt.releases, empty.releases),
		fmt.Sprintf("issue 4: < %s: %s", fleetSec(fleetStartupTarget), fleetMet(fromCkpt.releases < fleetStartupTarget)))
	fb.row(fmt.Sprintf("start-up, %d events, rebuild (no checkpoint): ready API", total),
		fmt.Sprintf("%s (%.0f events/s)", fleetSec(rebuild.releases), float64(total)/rebuild.releases.Seconds()),
		fleetSec(fromCkpt.releases)+" (from the checkpoint)", fleetRatio(rebuild.releases, fromCkpt.releases), "printed")
	fb.row("  first 200 of /api/v1/health: from checkpoint / rebuild", fleetSec(fromCkpt.health)+" / "+fleetSec(rebuild.health),
		fleetSec(empty.health)+" (a log of one user)", "", "printed")
	fb.row("  RSS when ready (peak): from checkpoint / rebuild", fmt.Sprintf("%s (%s) / %s (%s)", fleetMB(fromCkpt.rss), fleetMB(fromCkpt.hwm), fleetMB(rebuild.rss), fleetMB(rebuild.hwm)),
		fmt.Sprintf("%s (%s) (a log of one user)", fleetMB(empty.rss), fleetMB(empty.hwm)), "", "printed")
	fb.row("  whole log verified in the background (writes wait for it): from checkpoint / rebuild",
		fmt.Sprintf("%s / %s after the start; peak RSS by then %s / %s", fleetSec(fromCkpt.verified), fleetSec(rebuild.verified),
			fleetMB(fromCkpt.verifiedHWM), fleetMB(rebuild.verifiedHWM)),
		fleetSec(empty.verified)+" (a log of one user)", "", "printed")
	fb.row("  stop (SIGTERM, checkpoint saved) / checkpoint size", fleetSec(rebuild.stop)+" / "+fleetMB(ckMB), "", "", "printed")
	fb.notes = append(fb.notes, fmt.Sprintf("The start-up log: %d generated events (releases through test, approval and production, each deployment's steps, output, host and lock events, failures, rollbacks, logins) written through the events package in %s, plus the bootstrap user and one login.", n, fleetSec(gen)))
	b.ReportMetric(fromCkpt.releases.Seconds(), "s-startup-checkpoint")
	b.ReportMetric(rebuild.releases.Seconds(), "s-startup-rebuild")
}

// write renders docs/BENCHMARKS.md (or RD_FLEET_DOC).
func (fb *fleetBench) write() {
	path := os.Getenv("RD_FLEET_DOC")
	if path == "" {
		path = filepath.Join("..", "docs", "BENCHMARKS.md")
	}
	var w strings.Builder
	w.WriteString("# Benchmarks\n\n")
	fmt.Fprintf(&w, "Written by `make bench` (`BenchmarkFleet` in `e2e/fleet_bench_test.go`) on %s, in %s; not edited by hand. "+
		"Every figure is measured against a real `releasedesk serve` process, real sshd hosts, real rsync and git, driven "+
		"through the HTTP API, beside a baseline measured in the same run. Run again with `make bench` "+
		"(or `go test -run '^$' -bench BenchmarkFleet -benchtime 1x -timeout 60m ./e2e/`).\n\n",
		fb.started.UTC().Format("2006-01-02 15:04 MST"), fleetSec(time.Since(fb.started)))
	w.WriteString("## Machine\n\n| | |\n|---|---|\n")
	for _, kv := range fleetMachine() {
		fmt.Fprintf(&w, "| %s | %s |\n", kv[0], kv[1])
	}
	loadAfter := ""
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		loadAfter = strings.Join(strings.Fields(string(la))[:3], " ")
	}
	fmt.Fprintf(&w, "| load average (1, 5, 15 min) before / after the run | %s / %s |\n", fb.loadBefore, loadAfter)
	w.WriteString("\n")
	w.WriteString("## Fixture\n\n")
	fmt.Fprintf(&w, "- %d sshd hosts on loopback (`runner/sshtest`: each its own host key and target dir); every target on /dev/shm (tmpfs), "+
		"as are the app's data directory (event log, exports) and the repository.\n", fb.hosts)
	fmt.Fprintf(&w, "- A tree of %d files, %s, in a git repository; the 1%% change rewrites %d of them. Strategy rsync, keep_releases 3, a post_release hook per host.\n",
		fb.files, fleetMB(fb.bytes), fb.files/100)
	fmt.Fprintf(&w, "- Each deploy round sets `parallel` = `batch` (so batches are explicit in the plan); its time per batch runs from the end of the previous batch "+
		"(the plan, for the first) to the last switch of the batch, read from the deployment's hosts through the API.\n")
	fmt.Fprintf(&w, "- SSH connections: the ESTABLISHED sockets of /proc/net/tcp whose local port is a host's sshd, polled every 50 ms during each deployment "+
		"(each TCP connection counts: a host's one connection of the runner, rsync's transfer included, and any other). RSS: VmRSS of the serve process, polled alongside (its rsync and ssh children not included).\n")
	fmt.Fprintf(&w, "- Baselines: a pool of `parallel` plain `rsync -a -e ssh` of `git archive` of the same commit to fresh dirs on the same hosts, "+
		"run before and after the app's deployment (the ratio is against their mean); for the change, the changed tree over those copies; "+
		"for the rollback, a pool of fresh ssh connections switching a symlink; for the API, the same clients with no deployment running; "+
		"for the start-up, the same start on a log of one user.\n\n")
	w.WriteString("## Results\n\n| figure | value | same-run baseline | ratio | target |\n|---|---|---|---|---|\n")
	for _, r := range fb.rows {
		fmt.Fprintf(&w, "| %s | %s | %s | %s | %s |\n", fleetCell(r.figure), fleetCell(r.value), fleetCell(r.baseline), fleetCell(r.ratio), fleetCell(r.target))
	}
	w.WriteString("\n## Targets\n\n")
	parent := ""
	for _, r := range fb.rows {
		figure := r.figure
		if strings.HasPrefix(figure, "  ") {
			figure = parent + ": " + strings.TrimSpace(figure)
		} else {
			parent = figure
		}
		if strings.HasPrefix(r.target, "issue") {
			fmt.Fprintf(&w, "- **%s** (%s): %s — %s\n", r.target[strings.LastIndex(r.target, ": ")+2:], r.target[:strings.LastIndex(r.target, ": ")], figure, r.value)
		}
	}
	w.WriteString("\n## Notes\n\n")
	fb.notes = append(fb.notes, "The runner holds one SSH connection per host at work (rsync's remote half runs on it), from the host's connect "+
		"to the end of its own work in its batch, when it releases the host's lock and closes it (`runner/hostend.go`). In a batch larger "+
		"than `parallel`, a staged host waits for the batch's switch locked but unconnected, and reconnects for it, `parallel` at a time "+
		"(`runner/hostwait.go`). So the connections open at once follow `parallel`, not the number of hosts; here `batch` = `parallel`, "+
		"so every host connects once.")
	if !fb.connsHoldBound {
		fb.notes = append(fb.notes, fmt.Sprintf("Open SSH connections exceeded `parallel` + %d in this run (peak %d): see the targets marked MISSED.",
			fleetConnSlack, fb.maxConnsSeen))
	}
	fb.notes = append(fb.notes, "The package benchmarks (`events`, `projections`, `runner`, `app`) run first in `make bench`; their output is in `build/bench-*.txt`.")
	for _, n := range fb.notes {
		fmt.Fprintf(&w, "- %s\n", n)
	}
	// The click benchmark's section (BenchmarkClickToSucceeded, run after
	// this one by make bench) is its own: kept as it is.
	if old, err := os.ReadFile(path); err == nil {
		if sec := benchSection(string(old), clickSection); sec != "" {
			w.WriteString("\n" + sec)
		}
	}
	if err := os.WriteFile(path, []byte(w.String()), 0o644); err != nil {
		fb.b.Fatal(err)
	}
	fmt.Printf("\n%s\n", w.String())
}

func fleetCell(s string) string { return strings.ReplaceAll(s, "|", "\\|") }

// fleetMachine describes this machine.
func fleetMachine() [][2]string {
	cpu := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := "?"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
			}
		}
	}
	kernel := "?"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	osName := "?"
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				osName = strings.Trim(v, `"`)
			}
		}
	}
	commit := "?"
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		commit = strings.TrimSpace(string(out))
		if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
			commit += " (with uncommitted changes)"
		}
	}
	var tools []string
	for _, t := range [][]string{{"rsync", "--version"}, {"ssh", "-V"}, {"git", "--version"}} {
		out, _ := exec.Command(t[0], t[1:]...).CombinedOutput()
		first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		if first != "" {
			tools = append(tools, first)
		}
	}
	return [][2]string{
		{"CPU", cpu}, {"cores", strconv.Itoa(runtime.NumCPU())}, {"memory", mem}, {"kernel", kernel}, {"OS", osName},
		{"Go", runtime.Version()}, {"commit", commit}, {"tools", strings.Join(tools, "; ")},
	}
}

func fleetMean(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	var s time.Duration
	for _, d := range ds {
		s += d
	}
	return s / time.Duration(len(ds))
}

func fleetSec(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }
func fleetMS(d time.Duration) string  { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }
func fleetMB(n int64) string          { return fmt.Sprintf("%.0f MB", float64(n)/(1<<20)) }
func fleetKB(n int64) string          { return fmt.Sprintf("%.0f KB", float64(n)/(1<<10)) }

func fleetRatio(a, b time.Duration) string {
	if b <= 0 {
		return ""
	}
	return fmt.Sprintf("%.2fx", a.Seconds()/b.Seconds())
}

func fleetMet(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}
