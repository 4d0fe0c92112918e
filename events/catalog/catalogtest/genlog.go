package catalogtest

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"releasedesk/events"
	"releasedesk/events/catalog"
)

// A realistic log for benchmarks of start-up and of the read models:
// releases through the eight steps of the workflow, each deployment as the
// runner reports it (steps with output, host events, locks, pruning),
// failures, rollbacks, logins. It is built in memory and appended in runs
// of one stream's events, as the runner's batches are.

// The people of the generated log, one per role, and its admin.
const (
	GenAdmin    = "root"
	GenDev      = "dana"
	GenTester   = "tess"
	GenApprover = "aldo"
	GenManager  = "max"
)

// GenLog is a generated log, not yet written.
type GenLog struct {
	Units   []GenUnit      // the appends, in order
	N       int            // events in all
	Mix     map[string]int // events per type
	Project catalog.Project

	clock time.Time
	seq   int
}

// GenUnit is one append: events of one stream.
type GenUnit struct {
	Stream string
	Events []events.Event
}

// Hosts nobody listens on: a desk started over the log never reaches them
// (it has no reason to: every deployment of the log ended).
var (
	genTestHosts = []string{"www@127.0.0.1:9", "www@127.0.0.2:9"}
	genProdHosts = []string{"www@127.0.0.3:9", "www@127.0.0.4:9", "www@127.0.0.5:9"}
)

// Generate makes about n events of a project "shop" with a test stage of
// two hosts and a production stage of three that needs approval.
func Generate(n int) *GenLog {
	g := &GenLog{clock: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Mix: map[string]int{}}
	hostsOf := func(addrs []string) []catalog.Host {
		var out []catalog.Host
		for _, a := range addrs {
			out = append(out, catalog.Host{Addr: a})
		}
		return out
	}
	g.Project = catalog.Project{ID: "shop", Title: "Shop", Repo: "/srv/git/shop.git", Branch: "main", Strategy: "rsync", KeepReleases: 5,
		Environments: []catalog.Environment{
			{Name: "test", Path: "/srv/www/shop", Hosts: hostsOf(genTestHosts), SSHKey: "/etc/releasedesk/key", Parallel: 10},
			{Name: "production", Path: "/srv/www/shop", Hosts: hostsOf(genProdHosts), SSHKey: "/etc/releasedesk/key", Parallel: 10, Approval: true},
		}}
	raw, err := json.Marshal(g.Project)
	if err != nil {
		panic(err)
	}
	for _, u := range []struct{ name, role string }{
		{GenDev, catalog.RoleDeveloper}, {GenTester, catalog.RoleTester}, {GenApprover, catalog.RoleApprover}, {GenManager, catalog.RoleManager},
	} {
		g.add(catalog.UserStream(u.name), catalog.TypeUserCreated, GenAdmin, catalog.UserCreated{Name: u.name, Roles: map[string][]string{"shop": {u.role}}})
	}
	g.add(catalog.ProjectStream("shop"), catalog.TypeProjectConfigured, GenAdmin, catalog.ProjectConfigured{ID: "shop", Config: raw, Diff: []string{"+ project created"}})
	prev := ""
	var versions []string
	for g.N < n {
		g.seq++
		id := fmt.Sprint(g.seq)
		rs := catalog.ReleaseStream(id)
		commit := GenCommit(g.seq)
		version := g.clock.Add(time.Duration(g.seq)*time.Minute).Format("20060102150405") + "-" + commit[:7]
		g.add(catalog.UserStream(GenDev), catalog.TypeLoginSucceeded, GenDev, catalog.UserRef{Name: GenDev})
		g.add(rs, catalog.TypeReleaseOpened, GenDev, catalog.ReleaseOpened{ID: id, Project: "shop", Branch: "release/" + id, Title: "Release " + id + ": checkout and search fixes"})
		g.add(rs, catalog.TypeReleaseDeployRequested, GenDev, catalog.ReleaseDeployRequested{ID: id, Project: "shop", Environment: "test", Deployment: "t" + id, Commit: commit, Version: version})
		fail := g.seq%10 == 0
		g.deployment("t"+id, "test", commit, version, id, GenDev, catalog.KindDeploy, prev, genTestHosts, fail)
		if fail {
			g.add(rs, catalog.TypeReleaseCancelled, GenManager, catalog.ReleaseDecision{ID: id, Project: "shop", Note: "broken build"})
			continue
		}
		g.add(rs, catalog.TypeReleaseTestPassed, GenTester, catalog.ReleaseDecision{ID: id, Project: "shop", Environment: "test", Commit: commit, Note: "ok"})
		g.add(rs, catalog.TypeReleaseApproved, GenApprover, catalog.ReleaseDecision{ID: id, Project: "shop", Commit: commit})
		g.add(rs, catalog.TypeReleaseDeployRequested, GenApprover, catalog.ReleaseDeployRequested{ID: id, Project: "shop", Environment: "production", Deployment: "p" + id, Commit: commit, Version: version})
		g.deployment("p"+id, "production", commit, version, id, GenApprover, catalog.KindDeploy, prev, genProdHosts, false)
		g.add(rs, catalog.TypeReleaseAccepted, GenManager, catalog.ReleaseDecision{ID: id, Project: "shop"})
		g.add(rs, catalog.TypeReleaseCompleted, GenManager, catalog.ReleaseCompleted{ID: id, Project: "shop", Commit: commit, Tag: "release/" + version})
		if g.seq%50 == 0 && len(versions) > 1 {
			back, backCommit := versions[len(versions)-2], GenCommit(g.seq-1)
			g.add(catalog.ProjectStream("shop"), catalog.TypeRollbackRequested, GenApprover, catalog.RollbackRequested{Project: "shop",
				Environment: "production", Version: back, Commit: backCommit, Deployment: "rb" + id, Reason: "errors after the release"})
			g.deployment("rb"+id, "production", backCommit, back, "", GenApprover, catalog.KindRollback, version, genProdHosts, false)
		}
		prev = version
		versions = append(versions, version)
	}
	return g
}

// GenCommit is the generated log's i-th commit: 40 hex digits.
func GenCommit(i int) string {
	h := sha1.Sum([]byte(fmt.Sprint("commit", i)))
	return hex.EncodeToString(h[:])
}

// Appender is what writing a generated log needs of an event log.
type Appender interface {
	Append(ctx context.Context, stream string, expectedVersion int64, evs ...events.Event) ([]events.Envelope, error)
}

// WriteTo appends the log's events, one Append per unit.
func (g *GenLog) WriteTo(ctx context.Context, log Appender) error {
	for _, u := range g.Units {
		if _, err := log.Append(ctx, u.Stream, events.AnyVersion, u.Events...); err != nil {
			return err
		}
	}
	return nil
}

func (g *GenLog) add(stream, typ, actor string, data any) {
	e, err := catalog.NewEvent(typ, actor, data)
	if err != nil {
		panic(err)
	}
	g.Mix[typ]++
	g.N++
	if k := len(g.Units) - 1; k >= 0 && g.Units[k].Stream == stream && len(g.Units[k].Events) < events.MaxEventsPerAppend {
		g.Units[k].Events = append(g.Units[k].Events, e)
		return
	}
	g.Units = append(g.Units, GenUnit{Stream: stream, Events: []events.Event{e}})
}

var genOutputs = []string{
	"sending incremental file list\n./\nindex.html\nassets/\nassets/app.3f2a1b0.js\nassets/app.3f2a1b0.css\nassets/img/logo.svg\n\nsent 48,213 bytes  received 1,242 bytes  98,910.00 bytes/sec\ntotal size is 2,345,678  speedup is 47.43\n",
	"20261126031500-3f2a1b0\nversion=20261126031500-3f2a1b0 commit=3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a deployment=d who=alice\n",
	"ok\n",
	"> shop@1.4.2 build\n> vite build\n\nvite v7.0.4 building for production...\n✓ 412 modules transformed.\ndist/index.html                  0.46 kB │ gzip:  0.30 kB\ndist/assets/index-BvP4Tf3x.css  12.31 kB │ gzip:  3.10 kB\ndist/assets/index-D8sGq2hK.js  143.78 kB │ gzip: 46.20 kB\n✓ built in 2.41s\n",
	"health: GET /healthz 200 in 12ms <ok> & \"ready\"\n",
}

// deployment adds one deployment as the runner reports it: the request,
// the claim, the lock, the plan, each host's steps (one failing on the
// last host when fail), the switches, pruning now and then, the end.
func (g *GenLog) deployment(id, env, commit, version, release, actor, kind, previous string, hosts []string, fail bool) {
	stream := catalog.DeployStream(id)
	lock := catalog.LockStream("shop", env)
	g.add(stream, catalog.TypeDeployRequested, actor, catalog.Request{Deployment: id, Kind: kind, Project: g.Project, Environment: env,
		Commit: commit, Version: version, Release: release})
	g.add(stream, catalog.TypeDeployStarted, "runner", catalog.Started{Deployment: id, Runner: "build1/4242"})
	g.add(lock, catalog.TypeLockAcquired, "runner", catalog.LockEvent{Project: "shop", Environment: env, Deployment: id, Holder: actor, Since: g.clock})
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
			g.add(stream, catalog.TypeStepOutput, "runner", catalog.StepOutput{Deployment: id, Step: sid, Host: host, Text: genOutputs[o]})
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
	g.add(lock, catalog.TypeLockReleased, "runner", catalog.LockEvent{Project: "shop", Environment: env, Deployment: id, Holder: actor, Reason: "done"})
	fin := catalog.Finished{Deployment: id, Project: "shop", Environment: env, Version: version, Commit: commit, Kind: kind,
		Switched: switched, DurationMS: 8123}
	if failed {
		fin.Failed, fin.Error = hosts[len(hosts)-1:], "1 host(s) failed"
		g.add(stream, catalog.TypeDeployFailed, "runner", fin)
	} else {
		g.add(stream, catalog.TypeDeploySucceeded, "runner", fin)
	}
}
