package projections

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"releasedesk/events"
	"releasedesk/events/catalog"
)

// flow appends realistic event sequences to a log: the app's workflow
// events and the runner's deploy.* events with the runner's exact JSON.

// testClock ticks a second per event, from a fixed start, so hashes and
// times are reproducible.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2026, 11, 26, 3, 15, 0, 0, time.UTC)}
}

// peek is the last time handed out.
func (c *testClock) peek() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

type flow struct {
	t     testing.TB
	log   events.Log
	ctx   context.Context
	clock *testClock
	seq   int
	cfg   map[string]catalog.Project
}

func newMemFlow(t testing.TB) *flow {
	clock := newTestClock()
	l := events.NewMemStore(events.Options{Now: clock.Now})
	t.Cleanup(func() { l.Close() })
	return &flow{t: t, log: l, ctx: context.Background(), clock: clock, cfg: map[string]catalog.Project{}}
}

func newBadgerFlow(t testing.TB, dir string) *flow {
	clock := newTestClock()
	l, err := events.Open(dir, events.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return &flow{t: t, log: l, ctx: context.Background(), clock: clock, cfg: map[string]catalog.Project{}}
}

func (f *flow) append(stream, typ, actor string, data any) events.Envelope {
	f.t.Helper()
	e, err := events.NewEvent(typ, actor, data)
	if err != nil {
		f.t.Fatal(err)
	}
	envs, err := f.log.Append(f.ctx, stream, events.AnyVersion, e)
	if err != nil {
		f.t.Fatal(err)
	}
	return envs[0]
}

// commitOf makes a 40-hex commit from a name.
func commitOf(name string) string {
	h := sha1.Sum([]byte(name))
	return hex.EncodeToString(h[:])
}

// versionOf makes a version id: YYYYMMDDHHMMSS-<sha7>.
func (f *flow) versionOf(commit string) string {
	f.seq++
	t := time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC).Add(time.Duration(f.seq) * time.Minute)
	return t.Format("20060102150405") + "-" + commit[:7]
}

// Users of the standard flow.
const (
	dev      = "alice"
	tester   = "bob"
	approver = "carol"
	manager  = "dave"
	admin    = "root"
)

func (f *flow) users() {
	f.append("user/"+admin, catalog.TypeUserCreated, "system", catalog.UserCreated{Name: admin, Admin: true})
	for _, u := range [][2]string{{dev, catalog.RoleDeveloper}, {tester, catalog.RoleTester}, {approver, catalog.RoleApprover}, {manager, catalog.RoleManager}} {
		name, role := u[0], u[1]
		f.append("user/"+name, catalog.TypeUserCreated, admin, catalog.UserCreated{Name: name, Roles: map[string][]string{"shop": {role}}})
	}
}

// configure sets project id up with test (2 hosts) and production (3
// hosts, approval).
func (f *flow) configure(id string) {
	p := catalog.Project{ID: id, Title: "The " + id, Repo: "/srv/git/" + id + ".git", Branch: "main", Strategy: "rsync",
		KeepReleases: 3, Environments: []catalog.Environment{
			{Name: "test", Path: "/srv/www/" + id, Hosts: []catalog.Host{{Addr: "www@10.0.0.5:22"}, {Addr: "www@10.0.0.6:22", Path: "/srv/other"}},
				SSHKey: "/home/rd/.ssh/id_ed25519", Parallel: 2},
			{Name: "production", Path: "/srv/www/" + id, Hosts: []catalog.Host{{Addr: "www@10.0.1.1:22"}, {Addr: "www@10.0.1.2:22"}, {Addr: "www@10.0.1.3:22"}},
				SSHKey: "/home/rd/.ssh/id_ed25519", Parallel: 2, Batch: 2, OnFailure: "halt", Approval: true},
		}}
	raw, _ := json.Marshal(p)
	diff := []string{"+ id: " + id}
	if _, ok := f.cfg[id]; ok {
		diff = []string{"~ keep_releases: 3"}
	}
	f.cfg[id] = p
	f.append("project/"+id, catalog.TypeProjectConfigured, admin, catalog.ProjectConfigured{ID: id, Config: raw, Diff: diff})
}

func (f *flow) envHosts(project, env string) []string {
	for _, e := range f.cfg[project].Environments {
		if e.Name == env && f.cfg[project].Strategy == "local" {
			return []string{catalog.LocalHost}
		}
		if e.Name == env {
			var out []string
			for _, h := range e.Hosts {
				out = append(out, h.Addr)
			}
			return out
		}
	}
	f.t.Fatalf("no environment %s/%s", project, env)
	return nil
}

// dep describes one deployment for deploy.
type dep struct {
	id, project, env, commit, version, release, actor, kind, reason string
	// failHost fails at its stage step; with halt, hosts already switched
	// are reverted (none are: staging comes first).
	failHost string
	// failSwitchHost fails at its switch step after others were switched;
	// revert says whether the runner reverted the switched ones (halt).
	failSwitchHost string
	revert         bool
	// interruptAfter stops the run after that many hosts were switched;
	// recovery then observes every host and ends in deploy.interrupted.
	interruptAfter int
	// prune: versions each host prunes after its switch.
	prune []string
	// previous: what each host ran before.
	previous string
	// onlyHosts: a subset of the environment's hosts.
	onlyHosts []string
	// resumeRun: this is a resume of hosts (no request).
	resumeHosts []string
	noRequest   bool
}

// step appends a runner step: started, output, finished.
func (f *flow) step(d *dep, host, name string, exit int, output string) {
	id := name
	if host != "" {
		id = host + ":" + name
	}
	stream := "deploy/" + d.id
	f.append(stream, catalog.TypeStepStarted, "runner", catalog.StepStarted{Deployment: d.id, Step: id, Name: name, Host: host,
		Command: []string{"sh", "-c", "cd '/srv/www/shop/releases/.partial' && " + name}})
	if output != "" {
		f.append(stream, catalog.TypeStepOutput, "runner", catalog.StepOutput{Deployment: d.id, Step: id, Host: host, Text: output})
	}
	fin := catalog.StepFinished{Deployment: d.id, Step: id, Host: host, ExitCode: exit, DurationMS: 120}
	if exit != 0 {
		fin.Error = fmt.Sprintf("%s: exit status %d: disk full", name, exit)
	}
	f.append(stream, catalog.TypeStepFinished, "runner", fin)
}

// deploy appends a whole deployment as the app and the runner write it,
// and returns the hosts left on its version.
func (f *flow) deploy(d dep) []string {
	f.t.Helper()
	if d.kind == "" {
		d.kind = catalog.KindDeploy
	}
	if d.actor == "" {
		d.actor = dev
	}
	hosts := f.envHosts(d.project, d.env)
	if len(d.onlyHosts) > 0 {
		hosts = d.onlyHosts
	}
	stream := "deploy/" + d.id
	lock := "lock/" + d.project + "/" + d.env
	if !d.noRequest {
		if d.release != "" {
			f.append("release/"+d.release, catalog.TypeReleaseDeployRequested, d.actor, catalog.ReleaseDeployRequested{ID: d.release,
				Project: d.project, Environment: d.env, Deployment: d.id, Commit: d.commit, Version: d.version})
		}
		f.append(stream, catalog.TypeDeployRequested, d.actor, catalog.Request{Deployment: d.id, Kind: d.kind, Project: f.cfg[d.project],
			Environment: d.env, Commit: d.commit, Version: d.version, Release: d.release, Reason: d.reason, Hosts: d.onlyHosts})
		f.append(stream, catalog.TypeDeployStarted, "runner", catalog.Started{Deployment: d.id, Runner: "build1/4242"})
	} else {
		f.append(stream, catalog.TypeDeployResumed, d.actor, catalog.Resumed{Deployment: d.id, Hosts: d.resumeHosts})
		hosts = d.resumeHosts
	}
	f.append(lock, catalog.TypeLockAcquired, "runner", catalog.LockEvent{Project: d.project, Environment: d.env, Deployment: d.id,
		Holder: d.actor, Since: f.clock.peek()})
	f.append(stream, catalog.TypeDeployPlanned, "runner", catalog.Planned{Deployment: d.id, Project: d.project, Environment: d.env,
		Version: d.version, Commit: d.commit, Kind: d.kind, Batches: [][]string{hosts}, Parallel: 2, OnFailure: "halt",
		ManifestHash: "sha256:" + d.commit[:16], Files: 120, Bytes: 345678})
	if d.kind == catalog.KindDeploy {
		f.step(&d, "", "export", 0, "exported "+d.commit[:7]+"\n")
	}
	hostEvent := func(typ, host, version, commit, previous string) {
		f.append(stream, typ, "runner", catalog.HostEvent{Deployment: d.id, Project: d.project, Environment: d.env, Host: host,
			Version: version, Commit: commit, Previous: previous})
	}
	fin := catalog.Finished{Deployment: d.id, Project: d.project, Environment: d.env, Version: d.version, Commit: d.commit, Kind: d.kind, DurationMS: 4321}
	failed := false
	for _, h := range hosts {
		f.step(&d, h, "connect", 0, "")
		if h == d.failHost {
			f.step(&d, h, "stage", 23, "rsync: write failed on \"/srv/www/shop/releases\": No space left on device (28)\n")
			f.append(stream, catalog.TypeHostFailed, "runner", catalog.HostEvent{Deployment: d.id, Project: d.project, Environment: d.env,
				Host: h, Step: h + ":stage", Error: "stage: exit status 23"})
			fin.Failed = append(fin.Failed, h)
			failed = true
			break
		}
		f.step(&d, h, "stage", 0, "sending incremental file list\nindex.html\nassets/app.js\n<script> & \"quotes\" é ✓\n")
		f.step(&d, h, "check", 0, "ok\n")
		hostEvent(catalog.TypeHostStaged, h, d.version, d.commit, d.previous)
	}
	var on []string
	if !failed {
		for i, h := range hosts {
			if d.interruptAfter > 0 && i == d.interruptAfter {
				// The runner died here: recovery observes each host.
				for j, h := range hosts {
					f.step(&d, h, "current", 0, "")
					if j < i {
						hostEvent(catalog.TypeHostObserved, h, d.version, d.commit, "")
					} else {
						hostEvent(catalog.TypeHostObserved, h, d.previous, commitOf("prev"), "")
					}
				}
				f.append(lock, catalog.TypeLockReleased, "runner", catalog.LockEvent{Project: d.project, Environment: d.env, Deployment: d.id, Holder: d.actor, Reason: catalog.TypeDeployInterrupted})
				fin.Switched = on
				fin.Error = "the runner stopped during the deployment"
				f.append(stream, catalog.TypeDeployInterrupted, "runner", fin)
				return on
			}
			if h == d.failSwitchHost {
				f.step(&d, h, "switch", 1, "mv: cannot move\n")
				f.append(stream, catalog.TypeHostFailed, "runner", catalog.HostEvent{Deployment: d.id, Project: d.project, Environment: d.env,
					Host: h, Step: h + ":switch", Error: "switch: exit status 1"})
				fin.Failed = append(fin.Failed, h)
				failed = true
				break
			}
			f.step(&d, h, "switch", 0, "")
			hostEvent(catalog.TypeHostSwitched, h, d.version, d.commit, d.previous)
			on = append(on, h)
			if len(d.prune) > 0 {
				f.step(&d, h, "prune", 0, "")
				f.append(stream, catalog.TypeReleasePruned, "runner", catalog.Pruned{Deployment: d.id, Project: d.project, Environment: d.env, Host: h, Versions: d.prune})
			}
		}
	}
	if failed && d.revert && d.previous != "" {
		for _, h := range on {
			f.step(&d, h, "revert", 0, "")
			hostEvent(catalog.TypeHostReverted, h, d.previous, commitOf("prev"), d.version)
			fin.Reverted = append(fin.Reverted, h)
		}
		on = nil
	}
	fin.Switched = on
	f.append(lock, catalog.TypeLockReleased, "runner", catalog.LockEvent{Project: d.project, Environment: d.env, Deployment: d.id, Holder: d.actor, Reason: "done"})
	if failed {
		fin.Error = fmt.Sprintf("%d host(s) failed", len(fin.Failed))
		f.append(stream, catalog.TypeDeployFailed, "runner", fin)
	} else {
		f.append(stream, catalog.TypeDeploySucceeded, "runner", fin)
	}
	return on
}

// decision appends a release decision.
func (f *flow) decision(id, typ, actor, env, commit, note string) {
	f.append("release/"+id, typ, actor, catalog.ReleaseDecision{ID: id, Project: "shop", Environment: env, Commit: commit, Note: note})
}

// eightSteps runs DESIGN.md section 3's flow for one release of "shop":
// open, deploy to test, pass, approve, deploy to production, accept,
// complete. It returns the deployments' ids and the version.
func (f *flow) eightSteps(id, previous string) (testDep, prodDep, version string) {
	f.t.Helper()
	commit := commitOf("release " + id)
	f.append("release/"+id, catalog.TypeReleaseOpened, dev, catalog.ReleaseOpened{ID: id, Project: "shop", Branch: "release/" + id,
		Title: "Checkout fixes " + id, CreatedBranch: true, BaseCommit: commitOf("main")})
	version = f.versionOf(commit)
	testDep, prodDep = "d-"+id+"-test", "d-"+id+"-prod"
	f.deploy(dep{id: testDep, project: "shop", env: "test", commit: commit, version: version, release: id, previous: previous})
	f.decision(id, catalog.TypeReleaseTestPassed, tester, "test", commit, "looks good")
	f.decision(id, catalog.TypeReleaseApproved, approver, "", commit, "ship it")
	f.deploy(dep{id: prodDep, project: "shop", env: "production", commit: commit, version: version, release: id, actor: approver, previous: previous})
	f.decision(id, catalog.TypeReleaseAccepted, manager, "", "", "customers happy")
	f.append("release/"+id, catalog.TypeReleaseCompleted, manager, catalog.ReleaseCompleted{ID: id, Project: "shop", Commit: commit, Tag: "release/" + version})
	return testDep, prodDep, version
}

// build replays the flow's log into a new Set.
func (f *flow) build() *Set {
	f.t.Helper()
	s, err := Build(f.ctx, f.log)
	if err != nil {
		f.t.Fatal(err)
	}
	if n, err := s.Skipped(); n != 0 {
		f.t.Fatalf("%d events skipped: %v", n, err)
	}
	return s
}
