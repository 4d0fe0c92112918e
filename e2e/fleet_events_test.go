package e2e

// A compact writer of a realistic event log for the start-up figure of the
// fleet benchmark: releases through the workflow, each deployment as the
// runner reports it (steps with output, host events, locks), some failures
// and rollbacks, logins. It appends through the events package straight
// into a data directory's log (no app running), with the app's and the
// runner's own payload types.

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"releasedesk/events"
	"releasedesk/events/catalog"
)

type fleetGen struct {
	units []fleetUnit
	n     int
	seq   int
}

type fleetUnit struct {
	stream string
	evs    []events.Event
}

func (g *fleetGen) add(stream, typ, actor string, data any) {
	raw, err := json.Marshal(data)
	if err != nil {
		panic(err)
	}
	e := events.Event{Type: typ, Actor: actor, Data: raw}
	g.n++
	if k := len(g.units) - 1; k >= 0 && g.units[k].stream == stream && len(g.units[k].evs) < events.MaxEventsPerAppend {
		g.units[k].evs = append(g.units[k].evs, e)
		return
	}
	g.units = append(g.units, fleetUnit{stream: stream, evs: []events.Event{e}})
}

var fleetGenOutputs = []string{
	"sending incremental file list\n./\nindex.html\nassets/\nassets/app.3f2a1b0.js\nassets/app.3f2a1b0.css\n\nsent 48,213 bytes  received 1,242 bytes  98,910.00 bytes/sec\ntotal size is 2,345,678  speedup is 47.43\n",
	"20261126031500-3f2a1b0\n",
	"live: 20261126031500-3f2a1b0\n",
	"> shop@1.4.2 build\n> vite build\n\nvite v7.0.4 building for production...\n✓ 412 modules transformed.\ndist/index.html 0.46 kB\n✓ built in 2.41s\n",
}

func fleetCommit(i int) string {
	h := sha1.Sum([]byte(fmt.Sprint("commit", i)))
	return hex.EncodeToString(h[:])
}

const (
	genDev, genTester, genApprover, genManager = "dana", "tess", "aldo", "max"
)

func (g *fleetGen) deployment(p catalog.Project, id, env, commit, version, release, actor, kind, previous string, hosts []string, fail bool) {
	stream := catalog.DeployStream(id)
	lock := catalog.LockStream(p.ID, env)
	g.add(stream, catalog.TypeDeployRequested, actor, catalog.Request{Deployment: id, Kind: kind, Project: p, Environment: env,
		Commit: commit, Version: version, Release: release})
	g.add(stream, catalog.TypeDeployStarted, "runner", catalog.Started{Deployment: id, Runner: "deskhost/4121"})
	g.add(lock, catalog.TypeLockAcquired, "runner", catalog.LockEvent{Project: p.ID, Environment: env, Deployment: id, Holder: actor})
	g.add(stream, catalog.TypeDeployPlanned, "runner", catalog.Planned{Deployment: id, Project: p.ID, Environment: env, Version: version,
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
			g.add(stream, catalog.TypeStepOutput, "runner", catalog.StepOutput{Deployment: id, Step: sid, Host: host, Text: fleetGenOutputs[o]})
		}
		fin := catalog.StepFinished{Deployment: id, Step: sid, Host: host, ExitCode: exit, DurationMS: 87}
		if exit != 0 {
			fin.Error = name + ": exit status 1: No space left on device"
		}
		g.add(stream, catalog.TypeStepFinished, "runner", fin)
	}
	if kind == catalog.KindDeploy {
		step("", "export", nil, 0)
		step("", "build", []int{3}, 0)
	}
	failed := false
	for i, h := range hosts {
		step(h, "connect", nil, 0)
		step(h, "current", []int{1}, 0)
		if fail && i == len(hosts)-1 {
			step(h, "stage", []int{0}, 1)
			g.add(stream, catalog.TypeHostFailed, "runner", catalog.HostEvent{Deployment: id, Project: p.ID, Environment: env, Host: h,
				Step: h + ":stage", Error: "stage: exit status 1"})
			failed = true
			break
		}
		step(h, "stage", []int{0}, 0)
		g.add(stream, catalog.TypeHostStaged, "runner", catalog.HostEvent{Deployment: id, Project: p.ID, Environment: env, Host: h,
			Version: version, Commit: commit, Previous: previous})
	}
	var switched []string
	if !failed {
		for _, h := range hosts {
			step(h, "switch", nil, 0)
			g.add(stream, catalog.TypeHostSwitched, "runner", catalog.HostEvent{Deployment: id, Project: p.ID, Environment: env, Host: h,
				Version: version, Commit: commit, Previous: previous})
			step(h, "hook.post_release", []int{2}, 0)
			switched = append(switched, h)
		}
	}
	g.add(lock, catalog.TypeLockReleased, "runner", catalog.LockEvent{Project: p.ID, Environment: env, Deployment: id, Holder: actor, Reason: "done"})
	fin := catalog.Finished{Deployment: id, Project: p.ID, Environment: env, Version: version, Commit: commit, Kind: kind,
		Switched: switched, DurationMS: 8123}
	if failed {
		fin.Failed, fin.Error = hosts[len(hosts)-1:], "1 host(s) failed"
		g.add(stream, catalog.TypeDeployFailed, "runner", fin)
	} else {
		g.add(stream, catalog.TypeDeploySucceeded, "runner", fin)
	}
}

// genFleetLog makes about n events of a project "shop" with a test stage
// of 2 hosts and an approved production of 3.
func genFleetLog(n int) *fleetGen {
	g := &fleetGen{}
	// Hosts nobody listens on: the app never reaches them (it has no
	// reason to: every deployment of the log ended).
	testHosts := []string{"www@127.0.0.1:9", "www@127.0.0.2:9"}
	prodHosts := []string{"www@127.0.0.3:9", "www@127.0.0.4:9", "www@127.0.0.5:9"}
	hostsOf := func(addrs []string) []catalog.Host {
		var out []catalog.Host
		for _, a := range addrs {
			out = append(out, catalog.Host{Addr: a})
		}
		return out
	}
	p := catalog.Project{ID: "shop", Title: "Shop", Repo: "/srv/git/shop.git", Branch: "main", Strategy: "rsync", KeepReleases: 5,
		Environments: []catalog.Environment{
			{Name: "test", Path: "/srv/www/shop", Hosts: hostsOf(testHosts), SSHKey: "/etc/releasedesk/key", Parallel: 10},
			{Name: "production", Path: "/srv/www/shop", Hosts: hostsOf(prodHosts), SSHKey: "/etc/releasedesk/key", Parallel: 10, Approval: true},
		}}
	raw, _ := json.Marshal(p)
	for _, u := range []struct {
		name, role string
	}{{genDev, catalog.RoleDeveloper}, {genTester, catalog.RoleTester}, {genApprover, catalog.RoleApprover}, {genManager, catalog.RoleManager}} {
		g.add("user/"+u.name, catalog.TypeUserCreated, "root", catalog.UserCreated{Name: u.name, Roles: map[string][]string{"shop": {u.role}}})
	}
	g.add("project/shop", catalog.TypeProjectConfigured, "root", catalog.ProjectConfigured{ID: "shop", Config: raw, Diff: []string{"+ project created"}})
	clock := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	prev := ""
	var versions []string
	for g.n < n {
		g.seq++
		id := fmt.Sprint(g.seq)
		rs := "release/" + id
		commit := fleetCommit(g.seq)
		version := clock.Add(time.Duration(g.seq)*time.Minute).Format("20060102150405") + "-" + commit[:7]
		g.add("user/"+genDev, catalog.TypeLoginSucceeded, genDev, catalog.UserRef{Name: genDev})
		g.add(rs, catalog.TypeReleaseOpened, genDev, catalog.ReleaseOpened{ID: id, Project: "shop", Branch: "release/" + id, Title: "Release " + id + ": checkout and search fixes"})
		g.add(rs, catalog.TypeReleaseDeployRequested, genDev, catalog.ReleaseDeployRequested{ID: id, Project: "shop", Environment: "test", Deployment: "t" + id, Commit: commit, Version: version})
		fail := g.seq%10 == 0
		g.deployment(p, "t"+id, "test", commit, version, id, genDev, catalog.KindDeploy, prev, testHosts, fail)
		if fail {
			g.add(rs, catalog.TypeReleaseCancelled, genManager, catalog.ReleaseDecision{ID: id, Project: "shop", Note: "broken build"})
			continue
		}
		g.add(rs, catalog.TypeReleaseTestPassed, genTester, catalog.ReleaseDecision{ID: id, Project: "shop", Environment: "test", Commit: commit, Note: "ok"})
		g.add(rs, catalog.TypeReleaseApproved, genApprover, catalog.ReleaseDecision{ID: id, Project: "shop", Commit: commit})
		g.add(rs, catalog.TypeReleaseDeployRequested, genApprover, catalog.ReleaseDeployRequested{ID: id, Project: "shop", Environment: "production", Deployment: "p" + id, Commit: commit, Version: version})
		g.deployment(p, "p"+id, "production", commit, version, id, genApprover, catalog.KindDeploy, prev, prodHosts, false)
		g.add(rs, catalog.TypeReleaseAccepted, genManager, catalog.ReleaseDecision{ID: id, Project: "shop"})
		g.add(rs, catalog.TypeReleaseCompleted, genManager, catalog.ReleaseCompleted{ID: id, Project: "shop", Commit: commit, Tag: "release/" + version})
		if g.seq%50 == 0 && len(versions) > 1 {
			back := versions[len(versions)-2]
			backCommit := fleetCommit(g.seq - 1)
			g.add("project/shop", catalog.TypeRollbackRequested, genApprover, catalog.RollbackRequested{Project: "shop", Environment: "production",
				Version: back, Commit: backCommit, Deployment: "rb" + id, Reason: "errors after the release"})
			g.deployment(p, "rb"+id, "production", backCommit, back, "", genApprover, catalog.KindRollback, version, prodHosts, false)
		}
		prev = version
		versions = append(versions, version)
	}
	return g
}

// writeFleetLog writes about n events into the log of the data directory
// data (created), one Append per run of events of one stream, and
// returns the number written.
func writeFleetLog(data string, n int) (int, error) {
	g := genFleetLog(n)
	clock := time.Now().Add(-time.Duration(g.n) * time.Millisecond).UTC()
	s, err := events.Open(filepath.Join(data, "events"), events.Options{Now: func() time.Time { clock = clock.Add(time.Millisecond); return clock }})
	if err != nil {
		return 0, err
	}
	ctx := context.Background()
	for _, u := range g.units {
		if _, err := s.Append(ctx, u.stream, events.AnyVersion, u.evs...); err != nil {
			s.Close()
			return 0, err
		}
	}
	return g.n, s.Close()
}
