package runner

// A runHarness for the runner's end-to-end tests: a real git repository, a
// real event log (Badger in a temp dir), real targets (sshd hosts from
// sshtest, or a local path on /dev/shm), and helpers that deploy and then
// check what the hosts hold against the manifest of the deployed commit.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"releasedesk/events"
	"releasedesk/events/catalog"
	"releasedesk/runner/sshtest"
)

// Compile-time checks: both stores are a runner Log.
var (
	_ Log = (*events.Store)(nil)
	_ Log = (*events.MemStore)(nil)
)

// runHarness is one project with one environment "prod" on real targets.
type runHarness struct {
	t        testing.TB
	log      Log
	store    *events.Store
	storeDir string
	ws       Workspace
	repo     string // git work tree, the project's repository
	p        catalog.Project
	cluster  *sshtest.Cluster
	r        *Runner
	seq      atomic.Int64 // deployment ids and version times
	base     time.Time
	cfgTweak func(*Config)
}

// runHarnessOpts shape a runHarness.
type runHarnessOpts struct {
	strategy string
	hosts    int  // sshd hosts (rsync and git)
	files    int  // files in the first commit (200 by default)
	mem      bool // a MemStore instead of Badger
	env      func(*catalog.Environment)
	project  func(*catalog.Project)
	config   func(*Config) // runner config tweaks
}

// runShmDir makes a directory under /dev/shm (tmpfs: many small files are
// slow on this disk), removed at cleanup.
func runShmDir(t testing.TB) string {
	t.Helper()
	base := "/dev/shm"
	if st, err := os.Stat(base); err != nil || !st.IsDir() {
		base = os.TempDir()
	}
	dir, err := os.MkdirTemp(base, "rd-runner-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = removeTree(dir) })
	return dir
}

// runTestFiles is a tree of n small files in a few directories, plus an
// executable and a symlink.
func runTestFiles(n int) map[string]string {
	files := map[string]string{}
	for i := range n {
		files[fmt.Sprintf("dir%d/file%03d.txt", i%7, i)] = strings.Repeat(fmt.Sprintf("file %d line\n", i), 20+i%50)
	}
	return files
}

func newRunHarness(t testing.TB, o runHarnessOpts) *runHarness {
	t.Helper()
	if o.files == 0 {
		o.files = 200
	}
	h := &runHarness{t: t, base: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	if o.mem {
		h.log = events.NewMemStore(events.Options{})
	} else {
		h.storeDir = t.TempDir()
		h.openStore()
		t.Cleanup(func() { _ = h.store.Close() })
	}
	h.ws = Workspace{Dir: filepath.Join(runShmDir(t), "workspace")}
	repo, _ := newTestRepo(t, runTestFiles(o.files))
	writeTestFile(t, repo, "bin/run.sh", "#!/bin/sh\necho run\n", 0o755)
	writeTestFile(t, repo, "link-to-readme", "dir0/file000.txt", os.ModeSymlink)
	commitAll(t, repo, "executable and symlink")
	h.repo = repo

	env := catalog.Environment{Name: "prod", OnFailure: catalog.OnFailureHalt}
	switch o.strategy {
	case catalog.StrategyLocal:
		env.Path = filepath.Join(runShmDir(t), "www")
	default:
		h.cluster = sshtest.Start(t, o.hosts)
		env.SSHKey = h.cluster.KeyPath
		env.Path = "/srv/unused" // every host has its own path
		for _, ch := range h.cluster.Hosts {
			env.Hosts = append(env.Hosts, catalog.Host(ch))
		}
	}
	if o.env != nil {
		o.env(&env)
	}
	h.p = catalog.Project{ID: "demo", Title: "Demo", Repo: repo, Branch: "master", Strategy: o.strategy,
		VersionFiles: []string{"VERSION"}, Shared: []string{"storage/logs/", ".env"}, KeepReleases: 5,
		Environments: []catalog.Environment{env}}
	if o.project != nil {
		o.project(&h.p)
	}
	h.cfgTweak = o.config
	h.r = h.newRunner(o.config)
	return h
}

// openStore opens the Badger log of the runHarness.
func (h *runHarness) openStore() {
	h.t.Helper()
	st, err := events.Open(h.storeDir, events.Options{})
	if err != nil {
		h.t.Fatal(err)
	}
	h.store, h.log = st, st
}

// closeStore closes the runner and the log, so another process may open it.
func (h *runHarness) closeStore() {
	h.t.Helper()
	if err := h.r.Close(); err != nil {
		h.t.Fatal(err)
	}
	if err := h.store.Close(); err != nil {
		h.t.Fatal(err)
	}
}

// reopen opens the log again with a new runner (a restart).
func (h *runHarness) reopen() {
	h.t.Helper()
	h.openStore()
	h.r = h.newRunner(h.cfgTweak)
}

// restartInterrupted starts a new runner on the log, as after a runner
// closed or died mid-deployment, and checks that its recovery ended
// deployment id interrupted and freed the lock.
func (h *runHarness) restartInterrupted(id string) {
	h.t.Helper()
	h.r = h.newRunner(nil)
	if err := h.r.Start(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	if term := h.terminal(id); term != catalog.TypeDeployInterrupted {
		h.t.Fatalf("after restart: %q\n%s", term, h.describe(id))
	}
	h.checkLockFree()
}

// newRunner makes a runner on the runHarness's log.
func (h *runHarness) newRunner(tweak func(*Config)) *Runner {
	h.t.Helper()
	logger := logrus.New()
	logger.SetOutput(runTestWriter{h.t})
	logger.SetLevel(logrus.WarnLevel)
	cfg := Config{Log: h.log, Workspace: h.ws, Name: "test-runner", Logger: logger, Transfer: suiteTransfer,
		OutputInterval: 20 * time.Millisecond, StepTimeout: time.Minute, SSHTimeout: 5 * time.Second}
	if h.cluster != nil {
		cfg.KnownHostsPath = h.cluster.KnownHostsPath
	}
	if tweak != nil {
		tweak(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { _ = r.Close() })
	return r
}

// runTestWriter sends the runner's log lines to the test's log.
type runTestWriter struct{ t testing.TB }

func (w runTestWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (h *runHarness) env() catalog.Environment { return h.p.Environments[0] }

func (h *runHarness) targets() []catalog.Host { return h.p.Targets(h.env()) }

// commit changes files in the repository and returns the new head.
func (h *runHarness) commit(files map[string]string) string {
	h.t.Helper()
	return commitFiles(h.t, h.repo, fmt.Sprintf("change %d", h.seq.Add(1)), files)
}

// head is the repository's current commit.
func (h *runHarness) head() string {
	h.t.Helper()
	return gitCmd(h.t, h.repo, "rev-parse", "HEAD")
}

// versionOf makes a fresh version id for commit (a minute after the last).
func (h *runHarness) versionOf(commit string) string {
	h.t.Helper()
	v, err := NewVersion(h.base.Add(time.Duration(h.seq.Add(1))*time.Minute), commit)
	if err != nil {
		h.t.Fatal(err)
	}
	return v
}

// submit requests a deployment and returns its id.
func (h *runHarness) submit(kind, commit, version string) string {
	h.t.Helper()
	id := fmt.Sprintf("d%03d", h.seq.Add(1))
	req := catalog.Request{Deployment: id, Kind: kind, Project: h.p, Environment: "prod", Commit: commit, Version: version}
	if err := Submit(context.Background(), h.log, req, "alice"); err != nil {
		h.t.Fatal(err)
	}
	return id
}

// deploy submits and runs a deployment synchronously; it returns the id and
// the terminal event type.
func (h *runHarness) deploy(kind, commit, version string) (string, string) {
	h.t.Helper()
	id := h.submit(kind, commit, version)
	if err := h.r.Run(context.Background(), id); err != nil {
		h.t.Fatalf("run %s: %v", id, err)
	}
	return id, h.terminal(id)
}

// mustSucceed deploys and fails the test, with the failing steps, unless
// the deployment succeeded.
func (h *runHarness) mustSucceed(kind, commit, version string) string {
	h.t.Helper()
	id, term := h.deploy(kind, commit, version)
	if term != catalog.TypeDeploySucceeded {
		h.t.Fatalf("deployment %s ended %s:\n%s", id, term, h.describe(id))
	}
	return id
}

// terminal is the deployment's last terminal event type ("" if none).
func (h *runHarness) terminal(id string) string {
	h.t.Helper()
	last := ""
	for _, e := range h.events(id) {
		if isTerminal(e.Type) {
			last = e.Type
		}
	}
	return last
}

// events is the deployment's stream.
func (h *runHarness) events(id string) []events.Envelope {
	h.t.Helper()
	envs, err := h.log.ReadStream(context.Background(), catalog.DeployStream(id), 1)
	if err != nil {
		h.t.Fatal(err)
	}
	return envs
}

// ofType returns the events of a deployment with the given type.
func (h *runHarness) ofType(id, typ string) []events.Envelope {
	var out []events.Envelope
	for _, e := range h.events(id) {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// decodeFirst decodes the deployment's first event of type typ into v,
// failing the test when there is none or it does not decode.
func (h *runHarness) decodeFirst(id, typ string, v any) {
	h.t.Helper()
	evs := h.ofType(id, typ)
	if len(evs) == 0 {
		h.t.Fatalf("%s has no %s:\n%s", id, typ, h.describe(id))
	}
	if err := evs[0].Decode(v); err != nil {
		h.t.Fatalf("%s: %v", typ, err)
	}
}

// describe renders a deployment's stream for a failure message.
func (h *runHarness) describe(id string) string {
	var b strings.Builder
	for _, e := range h.events(id) {
		switch e.Type {
		case catalog.TypeStepOutput:
			var o catalog.StepOutput
			_ = e.Decode(&o)
			fmt.Fprintf(&b, "    | %s\n", strings.ReplaceAll(strings.TrimRight(o.Text, "\n"), "\n", "\n    | "))
		default:
			fmt.Fprintf(&b, "%4d %s %s\n", e.Version, e.Type, e.Data)
		}
	}
	return b.String()
}

// hostSequence is what one host saw in a deployment: step names (from
// step.started) and host event types, in order.
func (h *runHarness) hostSequence(id, addr string) []string {
	var out []string
	for _, e := range h.events(id) {
		switch e.Type {
		case catalog.TypeStepStarted:
			var s catalog.StepStarted
			_ = e.Decode(&s)
			if s.Host == addr {
				out = append(out, s.Name)
			}
		case catalog.TypeHostStaged, catalog.TypeHostSwitched, catalog.TypeHostFailed, catalog.TypeHostReverted, catalog.TypeHostObserved:
			var he catalog.HostEvent
			_ = e.Decode(&he)
			if he.Host == addr {
				out = append(out, e.Type)
			}
		}
	}
	return out
}

// deploySequence is a deployment's own events: neither steps nor host events.
func (h *runHarness) deploySequence(id string) []string {
	var out []string
	for _, e := range h.events(id) {
		switch e.Type {
		case catalog.TypeStepStarted, catalog.TypeStepOutput, catalog.TypeStepFinished,
			catalog.TypeHostStaged, catalog.TypeHostSwitched, catalog.TypeHostFailed, catalog.TypeHostReverted, catalog.TypeHostObserved, catalog.TypeReleasePruned:
		default:
			out = append(out, e.Type)
		}
	}
	return out
}

// stepOutput is the whole recorded output of the steps named name on host.
func (h *runHarness) stepOutput(id, addr, name string) string {
	steps := map[string]bool{}
	var b strings.Builder
	for _, e := range h.events(id) {
		switch e.Type {
		case catalog.TypeStepStarted:
			var s catalog.StepStarted
			_ = e.Decode(&s)
			if s.Host == addr && s.Name == name {
				steps[s.Step] = true
			}
		case catalog.TypeStepOutput:
			var o catalog.StepOutput
			_ = e.Decode(&o)
			if steps[o.Step] {
				b.WriteString(o.Text)
			}
		}
	}
	return b.String()
}

// seqPartRe is a sequence's marker line (Sequence): nonce, part, status.
var seqPartRe = regexp.MustCompile(`(?m)^rd-[0-9a-f]{24} ([a-z._]+) exit (\d+)$`)

// stepParts lists the parts of the sequences recorded as the steps named
// name on host that reported, each as "part" (status 0) or "part=N".
func (h *runHarness) stepParts(id, addr, name string) []string {
	var out []string
	for _, m := range seqPartRe.FindAllStringSubmatch(h.stepOutput(id, addr, name), -1) {
		if m[2] == "0" {
			out = append(out, m[1])
		} else {
			out = append(out, m[1]+"="+m[2])
		}
	}
	return out
}

// manifestOf exports commit into a temp dir and lists it: what a release
// of that commit must hold.
func (h *runHarness) manifestOf(commit string) Manifest {
	h.t.Helper()
	m := testMirrorIn(h.t, Workspace{Dir: h.t.TempDir()}, h.repo)
	dir := filepath.Join(h.t.TempDir(), "tree")
	if err := m.Export(context.Background(), commit, dir, h.p.Exclude); err != nil {
		h.t.Fatal(err)
	}
	man, err := BuildManifest(dir)
	if err != nil {
		h.t.Fatal(err)
	}
	return man
}

// deployTimeFiles are written at deploy time, not part of the tree.
func (h *runHarness) deployTimeFiles(p string) bool {
	if p == "REVISION" || slices.Contains(h.p.VersionFiles, p) {
		return true
	}
	for _, s := range h.p.Shared {
		if _, sp := SharedKind(s); p == sp || strings.HasPrefix(p, sp+"/") || strings.HasPrefix(sp, p+"/") {
			return true
		}
	}
	return false
}

// runCurrentOf reads where a target's `current` points (a version id, "" if
// none). All sshtest hosts share this machine's filesystem.
func runCurrentOf(t testing.TB, host catalog.Host) string {
	t.Helper()
	target, err := os.Readlink(filepath.Join(host.Path, "current"))
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Base(target)
}

// checkHosts asserts that every target runs version, whose release
// matches man (deploy-time files aside) and whose REVISION names commit.
func (h *runHarness) checkHosts(hosts []catalog.Host, version, commit string, man Manifest) {
	h.t.Helper()
	for _, host := range hosts {
		if got := runCurrentOf(h.t, host); got != version {
			h.t.Fatalf("%s: current -> %q, want %q", host.Addr, got, version)
		}
		h.checkComplete(host, man)
		rev, err := os.ReadFile(filepath.Join(host.Path, "current", "REVISION"))
		if err != nil {
			h.t.Fatal(err)
		}
		if r := ParseRevision(string(rev)); r.Commit != commit || r.Version != version {
			h.t.Fatalf("%s: REVISION %+v, want %s %s", host.Addr, r, version, commit)
		}
	}
}

// checkComplete asserts that a host's current release matches man.
func (h *runHarness) checkComplete(host catalog.Host, man Manifest) {
	h.t.Helper()
	dir, err := filepath.EvalSymlinks(filepath.Join(host.Path, "current"))
	if err != nil {
		h.t.Fatalf("%s: current: %v", host.Addr, err)
	}
	if err := man.Verify(dir, h.deployTimeFiles); err != nil {
		h.t.Fatalf("%s: release %s: %v", host.Addr, filepath.Base(dir), err)
	}
}

// runReleasesOn lists the release dirs of a target.
func runReleasesOn(t testing.TB, host catalog.Host) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(host.Path, "releases"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// lockHistory is the environment lock stream's event types.
func (h *runHarness) lockHistory() []events.Envelope {
	h.t.Helper()
	envs, err := h.log.ReadStream(context.Background(), catalog.LockStream(h.p.ID, "prod"), 1)
	if err != nil {
		h.t.Fatal(err)
	}
	return envs
}

// checkLockFree asserts the environment lock is released and no host
// holds a lock (nor a lock.<random> dir).
func (h *runHarness) checkLockFree() {
	h.t.Helper()
	h.checkLockFreeOn(h.targets())
}

// checkLockFreeOn is checkLockFree looking at the given hosts only (a dead
// host keeps the lock its deployment could not release).
func (h *runHarness) checkLockFreeOn(hosts []catalog.Host) {
	h.t.Helper()
	envs := h.lockHistory()
	if n := len(envs); n == 0 || envs[n-1].Type == catalog.TypeLockAcquired {
		h.t.Fatalf("environment lock still held: %d events", n)
	}
	for _, host := range hosts {
		left, _ := filepath.Glob(filepath.Join(host.Path, ".releasedesk", "lock*"))
		if len(left) > 0 {
			h.t.Fatalf("%s: remote lock left behind: %v", host.Addr, left)
		}
	}
}
