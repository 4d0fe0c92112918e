package e2e

// BenchmarkClickToSucceeded measures what a user waits for (issue 17):
// from the POST of a deploy (or a rollback) to the deployment's
// deploy.succeeded read on the live stream, through a real `releasedesk
// serve` whose data directory is on the ordinary disk (not tmpfs), with
// 20 sshd hosts on loopback, a tree of 5,000 files / about 51 MB, the
// rsync strategy and parallel 20. Each time is the median of
// RD_CLICK_RUNS (3) runs, each ratio the median of the runs' own ratios.
// Run it alone:
//
//	go test -run '^$' -bench BenchmarkClickToSucceeded -benchtime 1x -timeout 60m ./e2e/
//
// Baselines, in the same run, before and after the app's deployment (the
// ratio is against their mean): plain `rsync -a --delete -e ssh`
// (OpenSSH) to every host at once, of the same tree into fresh
// directories (full), then of the 1%-changed tree over those copies
// (change); for the rollback, a fresh ssh per host switching a symlink.
// Also printed: from the click to the first byte of the release reaching
// a host (the first host's transfer starting), and where each host's time
// went (its steps, means over the hosts). RD_CLICK_TRACE=1 prints each
// click's timeline, its first host's steps included, on stderr.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Targets of issue 17.
const (
	clickFullTarget      = 1.1 // full deploy vs parallel plain rsync
	clickChangeTarget    = 1.0 // 1% change vs parallel plain rsync over the copies
	clickRollbackTarget  = time.Second
	clickFirstByteTarget = 500 * time.Millisecond
)

// clickFigure is one figure's runs.
type clickFigure struct {
	app, base []time.Duration // the app's time and the baseline's (mean of before and after)
	firstByte []time.Duration
	steps     []map[string]time.Duration // per run: step name -> mean over the hosts
	phases    []map[string]time.Duration // per run: the deployment's phases (fleetDeployment.phases)
}

func (c *clickFigure) add(app, base, firstByte time.Duration, d fleetDeployment) {
	c.app, c.base, c.firstByte = append(c.app, app), append(c.base, base), append(c.firstByte, firstByte)
	c.steps, c.phases = append(c.steps, d.hostStepMeans()), append(c.phases, d.phases())
}

// clickBench is the benchmark's state.
type clickBench struct {
	b      *testing.B
	f      *fleet
	hosts  int
	tmp    string
	ends   *clickEnds
	full   clickFigure
	change clickFigure
	back   clickFigure
}

func BenchmarkClickToSucceeded(b *testing.B) {
	hosts, files, runs := envInt("RD_CLICK_HOSTS", 20), envInt("RD_CLICK_FILES", 5000), envInt("RD_CLICK_RUNS", 3)
	base, err := os.MkdirTemp("", "rd-click-") // the ordinary disk: not /dev/shm
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = os.RemoveAll(base) })
	cb := &clickBench{b: b, hosts: hosts, tmp: filepath.Join(base, "trees")}
	cb.f = newFleetIn(b, base, hosts, files, int64(files)*51<<20/5000)
	cb.ends = followEnds(b, cb.f)
	// The project's first deployment (environment "warm", newFleet's)
	// fetches the repository: once, not what a user waits for at each click.
	id, _ := cb.f.deploy("warm")
	cb.f.wait(id, 10*time.Minute)
	for r := range runs {
		cb.run(r)
	}
	cb.report(files)
}

// run is one full deploy, one 1% change and one rollback to the full.
func (cb *clickBench) run(r int) {
	f := cb.f
	sub := fmt.Sprintf("click%d", r)
	f.configure(sub, cb.hosts, cb.hosts)
	paths := f.hostPaths(sub)
	copiesA, copiesB := cb.dirs(sub+"-rsync-a"), cb.dirs(sub+"-rsync-b")

	f.change(1) // a commit of its own: a new version to empty targets
	tree := filepath.Join(cb.tmp, sub+"-full")
	f.export(tree)
	before := f.rsyncPool(tree, copiesA, cb.hosts)
	d, v1, wall := cb.click(func() string { id, _ := f.deploy("prod"); return id })
	after := f.rsyncPool(tree, copiesB, cb.hosts)
	f.checkCurrent(paths, v1)
	cb.full.add(wall, (before+after)/2, d.firstTransfer(), d)

	f.change(len(f.files) / 100)
	tree2 := filepath.Join(cb.tmp, sub+"-change")
	f.export(tree2)
	before = f.rsyncPool(tree2, copiesA, cb.hosts)
	d, v2, wall := cb.click(func() string { id, _ := f.deploy("prod"); return id })
	after = f.rsyncPool(tree2, copiesB, cb.hosts)
	f.checkCurrent(paths, v2)
	cb.change.add(wall, (before+after)/2, d.firstTransfer(), d)

	d, _, wall = cb.click(func() string { return f.rollback(v1) })
	f.checkCurrent(paths, v1)
	base := f.sshPool(cb.hosts, func(i int) string {
		dir := filepath.Dir(copiesA[i])
		return fmt.Sprintf("ln -sfn %s %s/base-current.tmp && mv -T %s/base-current.tmp %s/base-current", copiesA[i], dir, dir, dir)
	})
	cb.back.add(wall, base, 0, d)
	cb.b.Logf("run %d: full %s (rsync %s), change %s (rsync %s), rollback %s (ssh %s)", r,
		fleetSec(cb.full.app[r]), fleetSec(cb.full.base[r]), fleetSec(cb.change.app[r]), fleetSec(cb.change.base[r]),
		fleetSec(cb.back.app[r]), fleetSec(base))
	for _, p := range slices.Concat(paths, copiesA, copiesB) {
		_ = os.RemoveAll(p)
	}
	_ = os.RemoveAll(cb.tmp)
}

// dirs are fresh directories name on every host.
func (cb *clickBench) dirs(name string) []string {
	var out []string
	for _, h := range cb.f.cl.Hosts {
		out = append(out, filepath.Join(h.Path, name))
	}
	return out
}

// click times post (which asks for a deployment and returns its id) to
// the deployment's succeeded read on the stream; it fails the benchmark
// unless it succeeded. The deployment's document comes back with it.
func (cb *clickBench) click(post func() string) (fleetDeployment, string, time.Duration) {
	start := time.Now()
	id := post()
	end := cb.ends.wait(cb.b, id, 10*time.Minute)
	wall := end.Sub(start)
	d := cb.f.wait(id, time.Minute) // the document, and a check that it succeeded
	d.clicked = start
	if os.Getenv("RD_CLICK_TRACE") != "" {
		d.trace(os.Stderr)
	}
	return d, cb.versionOf(id), wall
}

// trace prints, from the click, when the request was recorded, claimed
// and planned, then when each step of the deployment and of its first
// host started and how long it took: where one host's wait went.
func (d fleetDeployment) trace(w io.Writer) {
	at := func(t time.Time) float64 { return t.Sub(d.clicked).Seconds() }
	fmt.Fprintf(w, "click: requested %.3fs, started %.3fs, planned %.3fs\n", at(d.Requested), at(d.Started), at(d.Planned))
	first := ""
	for _, s := range d.Steps {
		if first == "" && s.Host != "" {
			first = s.Host
		}
		if s.Host == "" || s.Host == first {
			fmt.Fprintf(w, "click: %-24s %-12s at %6.3fs for %6.3fs\n", s.Host, s.Name, at(s.Started), s.Finished.Sub(s.Started).Seconds())
		}
	}
}

// versionOf is the version a deployment put live.
func (cb *clickBench) versionOf(id string) string {
	r := cb.f.root.Must(http.StatusOK, "GET", "/api/v1/deployments/"+url.PathEscape(id), nil)
	v, _ := r.Body["version"].(string)
	return v
}

// clickEnds follows the live stream and notes when each deployment's
// terminal event was read.
type clickEnds struct {
	mu   sync.Mutex
	ends map[string]time.Time
	kind map[string]string
	seen chan struct{} // signalled on every terminal event
}

func followEnds(tb testing.TB, f *fleet) *clickEnds {
	c := &clickEnds{ends: map[string]time.Time{}, kind: map[string]string{}, seen: make(chan struct{}, 1)}
	stop, _ := streamData(tb, f.app.URL, f.root.Client.Token, "", func(data []byte, at time.Time) bool {
		var m struct{ Type, Deployment string }
		if json.Unmarshal(data, &m) != nil || m.Deployment == "" || !strings.HasPrefix(m.Type, "deploy.") {
			return true
		}
		switch m.Type {
		case "deploy.succeeded", "deploy.failed", "deploy.cancelled", "deploy.interrupted":
			c.mu.Lock()
			c.ends[m.Deployment], c.kind[m.Deployment] = at, m.Type
			c.mu.Unlock()
			select {
			case c.seen <- struct{}{}:
			default:
			}
		}
		return true
	})
	tb.Cleanup(stop)
	return c
}

// wait returns when deployment id's terminal event was read; it fails
// the benchmark unless that was deploy.succeeded.
func (c *clickEnds) wait(tb testing.TB, id string, timeout time.Duration) time.Time {
	tb.Helper()
	deadline := time.After(timeout)
	for {
		c.mu.Lock()
		at, ok := c.ends[id]
		kind := c.kind[id]
		c.mu.Unlock()
		if ok {
			if kind != "deploy.succeeded" {
				tb.Fatalf("deployment %s ended %s", id, kind)
			}
			return at
		}
		select {
		case <-c.seen:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			tb.Fatalf("deployment %s: no end on the stream within %s", id, timeout)
		}
	}
}

// firstTransfer is the time from the click to the first host's transfer
// starting: the release's first byte on its way to a host.
func (d fleetDeployment) firstTransfer() time.Duration {
	var first time.Time
	for _, s := range d.Steps {
		if s.Host != "" && s.Name == "transfer" && (first.IsZero() || s.Started.Before(first)) {
			first = s.Started
		}
	}
	if first.IsZero() {
		return 0
	}
	return first.Sub(d.clicked)
}

// phases is where the click's time went in the app: until the runner
// claimed the deployment, until its plan, until the last host's switch,
// until its end (the stream's event read after it is the rest); and the
// skew between the first and the last host's switch.
func (d fleetDeployment) phases() map[string]time.Duration {
	last := d.Planned
	for _, h := range d.Hosts {
		if h.Switched.After(last) {
			last = h.Switched
		}
	}
	return map[string]time.Duration{"claimed": d.Started.Sub(d.clicked), "planned": d.Planned.Sub(d.Started),
		"last switch": last.Sub(d.Planned), "end": d.Finished.Sub(last), "switch skew": d.switchSkew()}
}

// hostStepMeans is each host step's mean duration over the hosts that ran it.
func (d fleetDeployment) hostStepMeans() map[string]time.Duration {
	sum, n := map[string]time.Duration{}, map[string]int{}
	for _, s := range d.Steps {
		if s.Host == "" {
			continue
		}
		sum[s.Name] += time.Duration(s.DurationMS) * time.Millisecond
		n[s.Name]++
	}
	for k := range sum {
		sum[k] /= time.Duration(n[k])
	}
	return sum
}

// ratio is the median of the runs' ratios of the app's time to the
// baseline's.
func (c *clickFigure) ratio() float64 {
	var rs []float64
	for i := range c.app {
		rs = append(rs, c.app[i].Seconds()/c.base[i].Seconds())
	}
	if len(rs) == 0 {
		return 0
	}
	slices.Sort(rs)
	return rs[(len(rs)-1)/2]
}

// median of ds (the lower middle of an even count).
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// report prints the figures (medians) with their baselines and targets.
func (cb *clickBench) report(files int) {
	b := cb.b
	var out strings.Builder
	fmt.Fprintf(&out, "BenchmarkClickToSucceeded: %d hosts, %d files (%s), data directory on disk, medians of %d runs\n",
		cb.hosts, files, fleetMB(int64(files)*51<<20/5000), len(cb.full.app))
	// The ratio is the median of each run's own ratio: this machine's
	// speed drifts between runs, not within one.
	line := func(figure string, app, base time.Duration, ratio float64, target string) {
		r, baseline := "", ""
		if base > 0 {
			r, baseline = fmt.Sprintf("%.2fx", ratio), fleetSec(base)
		}
		fmt.Fprintf(&out, "  %-44s %8s | baseline %8s | %6s | %s\n", figure, fleetSec(app), baseline, r, target)
	}
	for _, c := range []struct {
		name   string
		fig    *clickFigure
		target float64
		metric string
	}{{"full deploy, click to succeeded", &cb.full, clickFullTarget, "full"}, {"1% change, click to succeeded", &cb.change, clickChangeTarget, "change"}} {
		app, base, ratio := median(c.fig.app), median(c.fig.base), c.fig.ratio()
		line(c.name, app, base, ratio, fmt.Sprintf("<= %.1fx: %s", c.target, fleetMet(ratio <= c.target)))
		fb := median(c.fig.firstByte)
		line("  click to the first byte reaching a host", fb, 0, 0, fmt.Sprintf("< %s: %s", fleetSec(clickFirstByteTarget), fleetMet(fb < clickFirstByteTarget)))
		fmt.Fprintf(&out, "  %-44s %s\n", "  from the click", clickSteps(c.fig.phases))
		fmt.Fprintf(&out, "  %-44s %s\n", "  per host (means)", clickSteps(c.fig.steps))
		b.ReportMetric(app.Seconds(), "s-"+c.metric)
		b.ReportMetric(ratio, "x-"+c.metric)
	}
	app, base := median(cb.back.app), median(cb.back.base)
	line("rollback, click to succeeded", app, base, cb.back.ratio(), fmt.Sprintf("< %s: %s", fleetSec(clickRollbackTarget), fleetMet(app < clickRollbackTarget)))
	fmt.Fprintf(&out, "  %-44s %s\n", "  from the click", clickSteps(cb.back.phases))
	fmt.Fprintf(&out, "  %-44s %s\n", "  per host (means)", clickSteps(cb.back.steps))
	b.ReportMetric(app.Seconds(), "s-rollback")
	os.Stdout.WriteString(out.String())
	cb.writeDoc(out.String())
}

// clickSection marks the click benchmark's section of docs/BENCHMARKS.md.
const clickSection = "<!-- BenchmarkClickToSucceeded -->"

// benchSection is the section of doc that starts at marker, up to the end
// (the click section is the document's last); "" when there is none.
func benchSection(doc, marker string) string {
	if i := strings.Index(doc, marker); i >= 0 {
		return doc[i:]
	}
	return ""
}

// writeDoc puts the report into docs/BENCHMARKS.md as its last section
// (replacing the one an earlier run wrote; BenchmarkFleet keeps it when it
// rewrites the rest), or into RD_FLEET_DOC.
func (cb *clickBench) writeDoc(report string) {
	path := os.Getenv("RD_FLEET_DOC")
	if path == "" {
		path = filepath.Join("..", "docs", "BENCHMARKS.md")
	}
	old, err := os.ReadFile(path)
	if err != nil {
		cb.b.Fatal(err)
	}
	doc := string(old)
	if i := strings.Index(doc, clickSection); i >= 0 {
		doc = doc[:i]
	}
	doc = strings.TrimRight(doc, "\n") + "\n\n"
	var w strings.Builder
	w.WriteString(clickSection + "\n## From the click to succeeded\n\n")
	fmt.Fprintf(&w, "Written by `make bench` (`BenchmarkClickToSucceeded` in `e2e/click_bench_test.go`) on %s; not edited by hand. "+
		"What a user waits for: from the `POST` of a deploy (or a rollback) to the deployment's `deploy.succeeded` read on the live "+
		"stream, through a real `releasedesk serve` whose data directory is on the ordinary disk, %d sshd hosts on loopback, the "+
		"rsync strategy, `parallel` %d. Baselines in the same run: plain `rsync -a --delete -e ssh` (OpenSSH) to every host at once, "+
		"before and after the app (full: into fresh directories; change: the changed tree over those copies); for the rollback, a "+
		"fresh ssh per host switching a symlink. Each time is the median of the runs, each ratio the median of the runs' own ratios; "+
		"\"per host\" is each step's mean over the hosts.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), cb.hosts, cb.hosts)
	w.WriteString("```\n" + report + "```\n")
	if err := os.WriteFile(path, []byte(doc+w.String()), 0o644); err != nil {
		cb.b.Fatal(err)
	}
}

// clickSteps is, for each step (or phase), the median over the runs, in
// the order a deployment runs them.
func clickSteps(runs []map[string]time.Duration) string {
	names := map[string]bool{}
	for _, r := range runs {
		for k := range r {
			names[k] = true
		}
	}
	order := []string{"claimed", "planned", "last switch", "end", "switch skew",
		"connect", "lock", "prepare", "staging", "transfer", "finalize", "check", "switch", "unlock"}
	var keys []string
	for k := range names {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := slices.Index(order, keys[i]), slices.Index(order, keys[j])
		if a < 0 {
			a = len(order)
		}
		if b < 0 {
			b = len(order)
		}
		return a < b || (a == b && keys[i] < keys[j])
	})
	var parts []string
	for _, k := range keys {
		var ds []time.Duration
		for _, r := range runs {
			if d, ok := r[k]; ok {
				ds = append(ds, d)
			}
		}
		parts = append(parts, fmt.Sprintf("%s %s", k, fleetSec(median(ds))))
	}
	return strings.Join(parts, ", ")
}
