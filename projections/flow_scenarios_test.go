package projections

import (
	"context"
	"slices"
	"strings"
	"testing"

	"releasedesk/events"
	"releasedesk/events/catalog"
)

// TestEightStepFlow walks DESIGN.md section 3 and checks every model
// after each step, from a Set applied live (one event at a time).
func TestEightStepFlow(t *testing.T) {
	f := newMemFlow(t)
	f.users()
	f.configure("shop")
	s := NewSet()
	sync := func() {
		t.Helper()
		if err := s.CatchUp(f.ctx, f.log); err != nil {
			t.Fatal(err)
		}
	}
	state := func(want string) Release {
		t.Helper()
		sync()
		r, ok := s.Releases.Get("42")
		if !ok {
			t.Fatal("release 42 missing")
		}
		if r.State != want {
			t.Fatalf("state %s, want %s", r.State, want)
		}
		return r
	}

	commit := commitOf("release 42")
	f.append("release/42", catalog.TypeReleaseOpened, dev, catalog.ReleaseOpened{ID: "42", Project: "shop", Branch: "feature/checkout",
		Title: "Checkout: pay by card", Note: "fixes #12"})
	r := state(StateOpen)
	if r.Requester != dev || r.Branch != "feature/checkout" || r.Project != "shop" || r.Created.IsZero() {
		t.Fatalf("opened: %+v", r)
	}

	v1 := f.versionOf(commit)
	// A deployment asked and not yet claimed waits in the queue.
	f.append("release/42", catalog.TypeReleaseDeployRequested, dev, catalog.ReleaseDeployRequested{ID: "42", Project: "shop",
		Environment: "test", Deployment: "d1", Commit: commit, Version: v1})
	f.append("deploy/d1", catalog.TypeDeployRequested, dev, catalog.Request{Deployment: "d1", Kind: catalog.KindDeploy, Project: f.cfg["shop"],
		Environment: "test", Commit: commit, Version: v1, Release: "42"})
	sync()
	if q := s.Queue.WaitingFor("shop", "test"); len(q) != 1 || q[0].Deployment != "d1" || q[0].RequestedBy != dev || q[0].Release != "42" {
		t.Fatalf("queue: %+v", q)
	}
	if d, _ := s.Deployments.Get("d1"); d.State != DeployQueued || len(d.Hosts) != 2 || d.Hosts[0].State != HostPending {
		t.Fatalf("queued deployment: %+v", d)
	}
	// The runner's side, as runner.Submit's request was already written.
	f.deployRunnerOnly(dep{id: "d1", project: "shop", env: "test", commit: commit, version: v1, release: "42"})
	r = state(StateTesting)
	if r.PinnedCommit != commit || r.PinnedEnv != "test" || len(r.Deployments) != 1 || r.Deployments[0].State != DeploySucceeded {
		t.Fatalf("after the test deployment: %+v", r)
	}
	if len(s.Queue.Waiting()) != 0 {
		t.Fatal("queue not emptied by deploy.started")
	}
	if _, held := s.Queue.Lock("shop", "test"); held {
		t.Fatal("lock still held")
	}

	f.decision("42", catalog.TypeReleaseTestPassed, tester, "test", commit, "all green")
	r = state(StateTested)
	if r.Tester != tester || r.TestedCommit != commit || r.TestedEnv != "test" {
		t.Fatalf("tested: %+v", r)
	}
	f.decision("42", catalog.TypeReleaseApproved, approver, "", commit, "ok")
	r = state(StateApproved)
	if r.Approver != approver || r.ApprovedCommit != commit {
		t.Fatalf("approved: %+v", r)
	}
	f.deploy(dep{id: "d2", project: "shop", env: "production", commit: commit, version: v1, release: "42", actor: approver})
	r = state(StateLive)
	if len(r.Deployments) != 2 || r.Deployments[1].Environment != "production" || r.ApprovedCommit != commit {
		t.Fatalf("live: %+v", r)
	}
	f.decision("42", catalog.TypeReleaseAccepted, manager, "", "", "")
	state(StateAccepted)
	f.append("release/42", catalog.TypeReleaseCompleted, manager, catalog.ReleaseCompleted{ID: "42", Project: "shop", Commit: commit, Tag: "release/" + v1})
	r = state(StateCompleted)
	if r.Manager != manager || r.Tag != "release/"+v1 {
		t.Fatalf("completed: %+v", r)
	}

	// The timeline, in order, with its actors.
	var got []string
	for _, e := range s.Releases.Timeline("42") {
		got = append(got, e.Actor+" "+e.Action+" "+e.Environment+" "+e.State)
	}
	want := []string{
		"alice release.opened  open",
		"alice release.deploy_requested test open",
		"runner deploy.succeeded test testing",
		"bob release.test_passed test tested",
		"carol release.approved  approved",
		"carol release.deploy_requested production approved",
		"runner deploy.succeeded production live",
		"dave release.accepted  accepted",
		"dave release.completed  completed",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("timeline:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The production deployment in detail.
	d, ok := s.Deployments.Get("d2")
	if !ok {
		t.Fatal("d2 missing")
	}
	if d.State != DeploySucceeded || d.RequestedBy != approver || d.Release != "42" || d.Project != "shop" ||
		d.Plan.Files != 120 || d.Plan.Bytes != 345678 || len(d.Plan.Batches) != 1 || d.Runner != "build1/4242" ||
		d.Started.IsZero() || d.Finished.IsZero() || d.DurationMS != 4321 || len(d.Switched) != 3 {
		t.Fatalf("d2: %+v", d)
	}
	for _, h := range d.Hosts {
		if h.State != HostSwitched || h.Version != v1 || h.Step != "" || h.Staged.IsZero() || h.Switched.IsZero() {
			t.Fatalf("d2 host: %+v", h)
		}
	}
	// export + 3 hosts x (connect, stage, check, switch)
	if len(d.Steps) != 13 || d.Steps[0].Name != "export" || d.Steps[0].Host != "" {
		t.Fatalf("d2 steps: %d", len(d.Steps))
	}
	stage := d.Steps[2]
	if stage.ID != "www@10.0.1.1:22:stage" || stage.Output != "sending incremental file list\nindex.html\nassets/app.js\n<script> & \"quotes\" é ✓\n" ||
		stage.ExitCode != 0 || stage.DurationMS != 120 || stage.Finished.IsZero() || stage.Command[0] != "sh" {
		t.Fatalf("stage step: %+v", stage)
	}

	// Versions: production runs v1 on every host; it is kept everywhere.
	ev, ok := s.Versions.Env("shop", "production")
	if !ok || ev.Current != v1 || ev.CurrentDeployment != "d2" || len(ev.Timeline) != 1 || ev.Mixed || len(ev.Hosts) != 3 {
		t.Fatalf("production versions: %+v", ev)
	}
	e := ev.Timeline[0]
	if e.By != approver || e.Release != "42" || e.Kind != catalog.KindDeploy || e.Outcome != OutcomeSucceeded || !e.Current ||
		!e.Instant || len(e.Kept) != 3 || e.Commit != commit || len(e.Hosts) != 3 {
		t.Fatalf("production entry: %+v", e)
	}

	// Hosts: what each runs.
	h, ok := s.Hosts.Get("www@10.0.1.2:22")
	if !ok || len(h.Runs) != 1 || h.Runs[0].Version != v1 || h.Runs[0].Via != "switched" || h.HostPort != "10.0.1.2:22" {
		t.Fatalf("host: %+v", h)
	}

	// Projects and users.
	p, _ := s.Projects.Get("shop")
	if p.Branch != "main" || len(p.Environments) != 2 || !p.Environments[1].Approval ||
		!slices.Equal(p.Environments[0].Hosts, []string{"www@10.0.0.5:22", "www@10.0.0.6:22"}) || len(s.Projects.History("shop")) != 1 {
		t.Fatalf("project: %+v", p)
	}
	if _, i, last, ok := s.Projects.Stage("shop", "production"); !ok || i != 1 || !last {
		t.Fatal("production is not the last stage")
	}
	u, _ := s.Users.Get(tester)
	if !u.HasRole("shop", catalog.RoleTester) || u.HasRole("shop", catalog.RoleApprover) {
		t.Fatalf("user: %+v", u)
	}

	// The board.
	page := s.Releases.Board(BoardQuery{Project: "shop", States: []string{StateCompleted}})
	if page.Total != 1 || page.Releases[0].ID != "42" {
		t.Fatalf("board: %+v", page)
	}

	// Audit: summaries of a few rows, and the fold's context on step rows.
	rows, err := s.Audit.Query(f.ctx, f.log, AuditQuery{Type: "release.approved"})
	if err != nil || rows.Total != 1 || rows.Rows[0].Summary != "carol approved release 42 at "+commit[:7]+": ok" ||
		rows.Rows[0].Release != "42" || rows.Rows[0].Project != "shop" {
		t.Fatalf("audit approved: %+v %v", rows, err)
	}
	rows, _ = s.Audit.Query(f.ctx, f.log, AuditQuery{Type: "deploy.host_switched", Project: "shop", Oldest: true})
	if rows.Total != 5 || rows.Rows[0].Summary != "www@10.0.0.5:22: switched to "+v1 ||
		rows.Rows[0].Environment != "test" || rows.Rows[0].Host != "www@10.0.0.5:22" || rows.Rows[0].Version != v1 {
		t.Fatalf("audit switched: %+v", rows.Rows)
	}
	rows, _ = s.Audit.Query(f.ctx, f.log, AuditQuery{Type: "step.output", Project: "shop", Limit: 1})
	if rows.Rows[0].Release != "42" || rows.Rows[0].Environment != "production" || !strings.Contains(rows.Rows[0].Summary, "of output") {
		t.Fatalf("audit step.output: %+v", rows.Rows)
	}
}

// deployRunnerOnly appends the runner's events of a deployment whose
// request is already in the log.
func (f *flow) deployRunnerOnly(d dep) {
	d.noRequest = true
	d.kind = catalog.KindDeploy
	stream := "deploy/" + d.id
	f.append(stream, catalog.TypeDeployStarted, "runner", catalog.Started{Deployment: d.id, Runner: "build1/4242"})
	hosts := f.envHosts(d.project, d.env)
	lock := "lock/" + d.project + "/" + d.env
	f.append(lock, catalog.TypeLockAcquired, "runner", catalog.LockEvent{Project: d.project, Environment: d.env, Deployment: d.id, Holder: dev})
	f.append(stream, catalog.TypeDeployPlanned, "runner", catalog.Planned{Deployment: d.id, Project: d.project, Environment: d.env,
		Version: d.version, Commit: d.commit, Kind: d.kind, Batches: [][]string{hosts}, Parallel: 2, OnFailure: "halt"})
	for _, h := range hosts {
		f.step(&d, h, "stage", 0, "ok\n")
		f.append(stream, catalog.TypeHostStaged, "runner", catalog.HostEvent{Deployment: d.id, Project: d.project, Environment: d.env, Host: h, Version: d.version, Commit: d.commit})
	}
	for _, h := range hosts {
		f.step(&d, h, "switch", 0, "")
		f.append(stream, catalog.TypeHostSwitched, "runner", catalog.HostEvent{Deployment: d.id, Project: d.project, Environment: d.env, Host: h, Version: d.version, Commit: d.commit})
	}
	f.append(lock, catalog.TypeLockReleased, "runner", catalog.LockEvent{Project: d.project, Environment: d.env, Deployment: d.id, Holder: dev})
	f.append(stream, catalog.TypeDeploySucceeded, "runner", catalog.Finished{Deployment: d.id, Project: d.project, Environment: d.env,
		Version: d.version, Commit: d.commit, Kind: d.kind, Switched: hosts, DurationMS: 1000})
}

// TestRollbackAndPruning: two releases reach production; the second
// prunes an older version on one host; production is rolled back to the
// first release's version; then a version is marked bad.
func TestRollbackAndPruning(t *testing.T) {
	f := newMemFlow(t)
	f.users()
	f.configure("shop")
	_, _, v1 := f.eightSteps("1", "")
	_, _, v2 := f.eightSteps("2", v1)

	s := f.build()
	ev, _ := s.Versions.Env("shop", "production")
	if ev.Current != v2 || len(ev.Timeline) != 2 || !ev.Timeline[0].Instant || !ev.Timeline[1].Current {
		t.Fatalf("before the rollback: %+v", ev)
	}

	// A third deployment prunes v1 on one production host only.
	commit3 := commitOf("hotfix")
	v3 := f.versionOf(commit3)
	f.deploy(dep{id: "d3", project: "shop", env: "production", commit: commit3, version: v3, actor: approver,
		previous: v2, onlyHosts: []string{"www@10.0.1.1:22"}, prune: []string{v1}})
	s = f.build()
	ev, _ = s.Versions.Env("shop", "production")
	e1 := ev.Timeline[0]
	if e1.Instant || slices.Contains(e1.Kept, "www@10.0.1.1:22") || len(e1.Kept) != 2 {
		t.Fatalf("v1 after pruning on one host: %+v", e1)
	}
	if !ev.Mixed || ev.Current != v3 {
		t.Fatalf("production after a one-host deployment: %+v", ev)
	}

	// Roll production back to v2 (kept everywhere: instant).
	f.append("project/shop", catalog.TypeRollbackRequested, approver, catalog.RollbackRequested{Project: "shop", Environment: "production",
		Version: v2, Commit: commitOf("release 2"), Deployment: "rb1", Reason: "checkout broken"})
	f.deploy(dep{id: "rb1", project: "shop", env: "production", commit: commitOf("release 2"), version: v2, kind: catalog.KindRollback,
		actor: approver, reason: "checkout broken", previous: v3})
	f.append("project/shop", catalog.TypeVersionMarkedBad, approver, catalog.VersionMarkedBad{Project: "shop", Environment: "production", Version: v3, Reason: "500s on /cart"})
	s = f.build()
	ev, _ = s.Versions.Env("shop", "production")
	if len(ev.Timeline) != 4 || ev.Current != v2 || ev.CurrentDeployment != "rb1" || ev.Mixed {
		t.Fatalf("after the rollback: %+v", ev)
	}
	rb := ev.Timeline[3]
	if rb.Kind != catalog.KindRollback || rb.Release != "2" || rb.By != approver || !rb.Current || !rb.Instant || rb.Version != v2 {
		t.Fatalf("rollback entry: %+v", rb)
	}
	bad := ev.Timeline[2]
	if !bad.Bad || bad.Reason != "500s on /cart" || bad.BadBy != approver || bad.Version != v3 {
		t.Fatalf("bad entry: %+v", bad)
	}
	if got, ok := s.Versions.Entry("shop", "production", v2); !ok || got.Deployment != "rb1" {
		t.Fatalf("Entry(v2): %+v", got)
	}
	d, _ := s.Deployments.Get("rb1")
	if d.Kind != catalog.KindRollback || d.Reason != "checkout broken" {
		t.Fatalf("rollback deployment: %+v", d)
	}
	for _, st := range d.Steps {
		if st.Name == "export" {
			t.Fatal("a rollback exported")
		}
	}
	// The release of v2 stays completed: a rollback is no release event.
	if r, _ := s.Releases.Get("2"); r.State != StateCompleted {
		t.Fatalf("release 2: %s", r.State)
	}
	rows, _ := s.Audit.Query(f.ctx, f.log, AuditQuery{Type: "rollback.", Actor: approver})
	if rows.Total != 1 || rows.Rows[0].Summary != "carol rolled shop/production back to "+v2+": checkout broken" {
		t.Fatalf("audit rollback: %+v", rows.Rows)
	}
	rows, _ = s.Audit.Query(f.ctx, f.log, AuditQuery{Type: "release.pruned"})
	if rows.Total != 1 || rows.Rows[0].Summary != "www@10.0.1.1:22: pruned 1 old release: "+v1 {
		t.Fatalf("audit pruned: %+v", rows.Rows)
	}
}

// TestFailedDeployments: a host failing at stage (nothing switched), and
// a switch failing with another host left on the new version (partial).
func TestFailedDeployments(t *testing.T) {
	f := newMemFlow(t)
	f.users()
	f.configure("shop")
	_, _, v1 := f.eightSteps("1", "")

	c2 := commitOf("release 2")
	f.append("release/2", catalog.TypeReleaseOpened, dev, catalog.ReleaseOpened{ID: "2", Project: "shop", Branch: "b2", Title: "two"})
	v2 := f.versionOf(c2)
	f.deploy(dep{id: "t2", project: "shop", env: "test", commit: c2, version: v2, release: "2", failHost: "www@10.0.0.6:22", previous: v1})
	s := f.build()
	r, _ := s.Releases.Get("2")
	if r.State != StateOpen || r.PinnedCommit != "" || r.Deployments[0].State != DeployFailed {
		t.Fatalf("release after a failed test deployment: %+v", r)
	}
	tl := s.Releases.Timeline("2")
	if last := tl[len(tl)-1]; last.Action != "deploy.failed" || last.Note != "1 host(s) failed" || last.Deployment != "t2" {
		t.Fatalf("timeline end: %+v", last)
	}
	d, _ := s.Deployments.Get("t2")
	if d.State != DeployFailed || d.Hosts[1].State != HostFailed || d.Hosts[1].FailedStep != "www@10.0.0.6:22:stage" ||
		d.Hosts[0].State != HostStaged || !slices.Equal(d.Failed, []string{"www@10.0.0.6:22"}) {
		t.Fatalf("failed deployment: %+v", d)
	}
	var failedStep Step
	for _, st := range d.Steps {
		if st.ExitCode != 0 {
			failedStep = st
		}
	}
	if failedStep.ExitCode != 23 || !strings.Contains(failedStep.Error, "disk full") || !strings.Contains(failedStep.Output, "No space left") {
		t.Fatalf("failed step: %+v", failedStep)
	}
	ev, _ := s.Versions.Env("shop", "test")
	if len(ev.Timeline) != 1 || ev.Current != v1 {
		t.Fatalf("test versions after a failure with nothing switched: %+v", ev)
	}

	// Production, continue-like failure: host 1 switched, host 2's switch
	// fails, nobody reverts: v2 is partly live.
	f.deploy(dep{id: "p2", project: "shop", env: "production", commit: c2, version: v2, release: "2", actor: approver,
		failSwitchHost: "www@10.0.1.2:22", previous: v1})
	s = f.build()
	ev, _ = s.Versions.Env("shop", "production")
	if len(ev.Timeline) != 2 || ev.Current != v1 || !ev.Mixed {
		t.Fatalf("production after a partial failure: %+v", ev)
	}
	if p := ev.Timeline[1]; p.Outcome != OutcomePartial || p.Current || !slices.Equal(p.Hosts, []string{"www@10.0.1.1:22"}) {
		t.Fatalf("partial entry: %+v", p)
	}
	if r, _ := s.Releases.Get("2"); r.State != StateOpen {
		t.Fatalf("a failed production deployment moved the release to %s", r.State)
	}

	// The same with the halt policy reverting the switched host: no entry.
	f.deploy(dep{id: "p3", project: "shop", env: "production", commit: c2, version: v2, release: "2", actor: approver,
		failSwitchHost: "www@10.0.1.2:22", previous: v1, revert: true})
	s = f.build()
	ev, _ = s.Versions.Env("shop", "production")
	if len(ev.Timeline) != 2 {
		t.Fatalf("a fully reverted deployment made an entry: %+v", ev.Timeline)
	}
	d, _ = s.Deployments.Get("p3")
	if d.Hosts[0].State != HostReverted || d.Hosts[0].Version != v1 || !slices.Equal(d.Reverted, []string{"www@10.0.1.1:22"}) {
		t.Fatalf("reverted host: %+v", d.Hosts[0])
	}
	if h, _ := s.Hosts.Get("www@10.0.1.1:22"); h.Runs[0].Version != v1 || h.Runs[0].Via != "reverted" {
		t.Fatalf("host after revert: %+v", h.Runs)
	}
}

// TestInterruptedAndResumed: the runner dies after switching one of three
// production hosts; recovery observes the hosts; a resume finishes.
func TestInterruptedAndResumed(t *testing.T) {
	f := newMemFlow(t)
	f.users()
	f.configure("shop")
	_, _, v1 := f.eightSteps("1", "")
	c2 := commitOf("release 2")
	v2 := f.versionOf(c2)
	f.deploy(dep{id: "p2", project: "shop", env: "production", commit: c2, version: v2, actor: approver, previous: v1, interruptAfter: 1})
	s := f.build()
	d, _ := s.Deployments.Get("p2")
	if d.State != DeployInterrupted || d.Hosts[0].State != HostObserved || d.Hosts[0].Version != v2 || d.Hosts[1].Version != v1 {
		t.Fatalf("interrupted: %+v", d)
	}
	ev, _ := s.Versions.Env("shop", "production")
	if len(ev.Timeline) != 2 || ev.Timeline[1].Outcome != OutcomePartial || ev.Current != v1 || !ev.Mixed {
		t.Fatalf("versions after the interruption: %+v", ev)
	}

	f.deploy(dep{id: "p2", project: "shop", env: "production", commit: c2, version: v2, actor: approver, previous: v1,
		noRequest: true, resumeHosts: []string{"www@10.0.1.2:22", "www@10.0.1.3:22"}})
	s2 := NewSet()
	if err := s2.CatchUp(f.ctx, f.log); err != nil {
		t.Fatal(err)
	}
	d, _ = s2.Deployments.Get("p2")
	if d.State != DeploySucceeded || d.Runs != 2 || d.ResumedBy != approver {
		t.Fatalf("resumed: %+v", d)
	}
	for _, h := range d.Hosts {
		if h.Version != v2 {
			t.Fatalf("host after the resume: %+v", h)
		}
	}
	ev, _ = s2.Versions.Env("shop", "production")
	if len(ev.Timeline) != 2 || ev.Timeline[1].Outcome != OutcomeSucceeded || ev.Current != v2 || ev.Mixed ||
		!slices.Equal(ev.Timeline[1].Hosts, []string{"www@10.0.1.1:22", "www@10.0.1.2:22", "www@10.0.1.3:22"}) {
		t.Fatalf("versions after the resume: %+v", ev)
	}
}

func TestUsersAndTokens(t *testing.T) {
	f := newMemFlow(t)
	f.users()
	for range 4 {
		f.append("user/"+dev, catalog.TypeLoginFailed, dev, catalog.LoginFailed{Name: dev, Reason: "bad_password"})
	}
	f.append("user/nobody", catalog.TypeLoginFailed, "nobody", catalog.LoginFailed{Name: "nobody", Reason: "unknown_user"})
	s := f.build()
	u, _ := s.Users.Get(dev)
	if u.FailedLogins != 4 || u.LastFailure.IsZero() {
		t.Fatalf("failures: %+v", u)
	}
	f.append("user/"+dev, catalog.TypeLoginSucceeded, dev, catalog.UserRef{Name: dev})
	last := f.append("user/"+dev, catalog.TypeTokenCreated, dev, catalog.TokenEvent{User: dev, ID: "tok1", Name: "ci", Kind: "personal",
		ExpiresAt: f.clock.peek().AddDate(0, 1, 0)})
	f.append("user/"+dev, catalog.TypeTokenCreated, dev, catalog.TokenEvent{User: dev, ID: "tok2", Kind: "session"})
	f.append("user/"+dev, catalog.TypeTokenRevoked, admin, catalog.TokenEvent{User: dev, ID: "tok2"})
	f.append("user/"+dev, catalog.TypeUserRolesChanged, admin, catalog.UserRolesChanged{Name: dev, Roles: map[string][]string{"shop": {catalog.RoleDeveloper, catalog.RoleTester}}})
	f.append("user/"+tester, catalog.TypeUserDisabled, admin, catalog.UserRef{Name: tester, Reason: "left"})
	s = f.build()
	u, _ = s.Users.Get(dev)
	if u.FailedLogins != 0 || u.LastLogin.IsZero() || len(u.Tokens) != 2 || !u.HasRole("shop", catalog.RoleTester) {
		t.Fatalf("user: %+v", u)
	}
	tok, owner, ok := s.Users.Token("tok1")
	if !ok || owner != dev || tok.Name != "ci" || !tok.Valid(last.Time) || tok.Valid(last.Time.AddDate(0, 2, 0)) {
		t.Fatalf("tok1: %+v", tok)
	}
	tok, _, _ = s.Users.Token("tok2")
	if !tok.Revoked || tok.RevokedBy != admin || tok.Valid(last.Time) {
		t.Fatalf("tok2: %+v", tok)
	}
	if b, _ := s.Users.Get(tester); !b.Disabled {
		t.Fatal("bob not disabled")
	}
	if _, ok := s.Users.Get("nobody"); ok || s.Users.Count() != 5 {
		t.Fatal("a failed login made a user")
	}
	// Copies out: changing a result changes nothing inside.
	u.Roles["shop"][0] = "admin"
	u.Tokens[0].Revoked = true
	u2, _ := s.Users.Get(dev)
	if u2.Roles["shop"][0] != catalog.RoleDeveloper || u2.Tokens[0].Revoked {
		t.Fatal("Get returned internal state")
	}
}

func TestHostKeysAndDrift(t *testing.T) {
	f := newMemFlow(t)
	f.configure("shop")
	f.append("host/10.0.1.1:22", catalog.TypeHostKeyRejected, "runner", catalog.HostKeyEvent{Host: "10.0.1.1:22", KeyType: "ssh-ed25519",
		Fingerprint: "SHA256:aaa", Key: "ssh-ed25519 AAAA", Reason: "unknown", Deployment: "d1"})
	s := f.build()
	if k, ok := s.Hosts.Key("www@10.0.1.1:22"); !ok || k.State != KeyUnknown || k.OfferedFingerprint != "SHA256:aaa" || k.OfferedKey == "" {
		t.Fatalf("unknown key: %+v", k)
	}
	f.append("host/10.0.1.1:22", catalog.TypeHostKeyTrusted, admin, catalog.HostKeyEvent{Host: "10.0.1.1:22", KeyType: "ssh-ed25519", Fingerprint: "SHA256:aaa", Key: "ssh-ed25519 AAAA"})
	s = f.build()
	if k, _ := s.Hosts.Key("10.0.1.1:22"); k.State != KeyTrusted || k.TrustedBy != admin || k.Fingerprint != "SHA256:aaa" || k.OfferedKey != "" {
		t.Fatalf("trusted key: %+v", k)
	}
	f.append("host/10.0.1.1:22", catalog.TypeHostKeyRejected, "runner", catalog.HostKeyEvent{Host: "10.0.1.1:22", KeyType: "ssh-ed25519",
		Fingerprint: "SHA256:bbb", Reason: "changed"})
	_, _, v1 := f.eightStepsNoUsers()
	f.append("drift/shop/production", catalog.TypeDriftChecked, "runner", catalog.DriftReport{Project: "shop", Environment: "production",
		Hosts: []catalog.HostDrift{{Host: "www@10.0.1.1:22", Expected: v1, Actual: "20261101000000-abcdef0", Drifted: true},
			{Host: "www@10.0.1.2:22", Expected: v1, Actual: v1}, {Host: "www@10.0.1.3:22", Expected: v1, Error: "connect: refused"}}})
	s = f.build()
	h, _ := s.Hosts.Get("www@10.0.1.1:22")
	if h.Key.State != KeyChanged || h.Key.Fingerprint != "SHA256:aaa" || h.Key.OfferedFingerprint != "SHA256:bbb" {
		t.Fatalf("changed key: %+v", h.Key)
	}
	if h.Runs[0].Drift == nil || !h.Runs[0].Drift.Drifted || h.Runs[0].Drift.Actual != "20261101000000-abcdef0" {
		t.Fatalf("drift: %+v", h.Runs)
	}
	rows, _ := s.Audit.Query(f.ctx, f.log, AuditQuery{Type: "drift."})
	if rows.Rows[0].Summary != "drift check of shop/production: 1 of 3 hosts drifted, 1 unreadable" || rows.Rows[0].Project != "shop" {
		t.Fatalf("drift row: %+v", rows.Rows[0])
	}
	if len(s.Hosts.List()) != 5 {
		t.Fatalf("hosts: %d", len(s.Hosts.List()))
	}
	// The environment's last check, as the versions screen shows it: the
	// report's hosts in its order, who asked, whether it was scheduled.
	if _, ok := s.Hosts.LastDrift("shop", "test"); ok {
		t.Fatal("a drift check of an environment never checked")
	}
	last, ok := s.Hosts.LastDrift("shop", "production")
	if !ok || last.By != "runner" || last.Scheduled || len(last.Hosts) != 3 || last.Checked.IsZero() ||
		last.Hosts[0] != (DriftLine{Host: "www@10.0.1.1:22", Expected: v1, Actual: "20261101000000-abcdef0", Drifted: true}) ||
		last.Hosts[2].Error != "connect: refused" || last.Hosts[2].Drifted {
		t.Fatalf("last drift check: %+v", last)
	}
	f.append("drift/shop/production", catalog.TypeDriftChecked, "runner", catalog.DriftReport{Project: "shop", Environment: "production",
		Scheduled: true, Hosts: []catalog.HostDrift{{Host: "www@10.0.1.2:22", Expected: v1, Actual: v1}}})
	s = f.build()
	if last, _ := s.Hosts.LastDrift("shop", "production"); last.By != "runner" || !last.Scheduled || len(last.Hosts) != 1 ||
		last.Hosts[0] != (DriftLine{Host: "www@10.0.1.2:22", Expected: v1, Actual: v1}) {
		t.Fatalf("a scheduled check: %+v", last)
	}
	f.append("drift/shop/production", catalog.TypeDriftChecked, tester, catalog.DriftReport{Project: "shop", Environment: "production",
		Hosts: []catalog.HostDrift{{Host: "www@10.0.1.1:22", Expected: v1, Actual: v1}}})
	s = f.build()
	if last, _ := s.Hosts.LastDrift("shop", "production"); last.By != tester || last.Scheduled || len(last.Hosts) != 1 || last.Hosts[0].Drifted {
		t.Fatalf("the later check by a person: %+v", last)
	}
}

func (f *flow) eightStepsNoUsers() (string, string, string) { return f.eightSteps("9", "") }

// TestQueue: requests wait in order per environment until claimed.
func TestQueue(t *testing.T) {
	f := newMemFlow(t)
	f.configure("shop")
	for i, env := range []string{"test", "production", "test"} {
		id := []string{"q1", "q2", "q3"}[i]
		c := commitOf(id)
		f.append("deploy/"+id, catalog.TypeDeployRequested, dev, catalog.Request{Deployment: id, Kind: catalog.KindDeploy, Project: f.cfg["shop"],
			Environment: env, Commit: c, Version: f.versionOf(c)})
	}
	s := f.build()
	if w := s.Queue.Waiting(); len(w) != 3 || w[0].Deployment != "q1" || w[2].Deployment != "q3" || w[0].Project != "shop" {
		t.Fatalf("waiting: %+v", w)
	}
	f.append("deploy/q1", catalog.TypeDeployStarted, "runner", catalog.Started{Deployment: "q1", Runner: "r"})
	f.append("lock/shop/test", catalog.TypeLockAcquired, "runner", catalog.LockEvent{Project: "shop", Environment: "test", Deployment: "q1", Holder: dev})
	f.append("deploy/q2", catalog.TypeDeployCancelled, "runner", catalog.Finished{Deployment: "q2", Project: "shop", Environment: "production", Error: "cancelled"})
	s = f.build()
	if w := s.Queue.WaitingFor("shop", "test"); len(w) != 1 || w[0].Deployment != "q3" {
		t.Fatalf("waiting for test: %+v", w)
	}
	if len(s.Queue.WaitingFor("shop", "production")) != 0 {
		t.Fatal("a cancelled request still waits")
	}
	if l, ok := s.Queue.Lock("shop", "test"); !ok || l.Deployment != "q1" || l.Holder != dev {
		t.Fatalf("lock: %+v", l)
	}
	if d, _ := s.Deployments.Get("q2"); d.State != DeployCancelled {
		t.Fatalf("q2: %s", d.State)
	}
}

// TestStepOutputCap: output beyond StepOutputCap is cut and flagged; the
// runner's own truncation flag is kept.
func TestStepOutputCap(t *testing.T) {
	f := newMemFlow(t)
	f.configure("shop")
	c := commitOf("x")
	f.append("deploy/d", catalog.TypeDeployRequested, dev, catalog.Request{Deployment: "d", Kind: catalog.KindDeploy, Project: f.cfg["shop"],
		Environment: "test", Commit: c, Version: f.versionOf(c)})
	f.append("deploy/d", catalog.TypeStepStarted, "runner", catalog.StepStarted{Deployment: "d", Step: "build", Name: "build"})
	chunk := strings.Repeat("é", 20000) // 40,000 bytes
	for range 2 {
		f.append("deploy/d", catalog.TypeStepOutput, "runner", catalog.StepOutput{Deployment: "d", Step: "build", Text: chunk})
	}
	f.append("deploy/d", catalog.TypeStepStarted, "runner", catalog.StepStarted{Deployment: "d", Step: "other", Name: "other"})
	f.append("deploy/d", catalog.TypeStepOutput, "runner", catalog.StepOutput{Deployment: "d", Step: "other", Text: "tail\n[output truncated: 5 bytes dropped]", Truncated: true})
	s := f.build()
	st, _ := s.Deployments.Step("d", "build")
	if len(st.Output) > StepOutputCap || len(st.Output) < StepOutputCap-1 || !st.Truncated || !strings.HasSuffix(st.Output, "é") {
		t.Fatalf("capped output: %d bytes, truncated %v", len(st.Output), st.Truncated)
	}
	st, _ = s.Deployments.Step("d", "other")
	if !st.Truncated || st.Output != "tail\n[output truncated: 5 bytes dropped]" {
		t.Fatalf("runner-truncated output: %+v", st)
	}
}

// TestMalformedEvent: an undecodable payload is counted and skipped; the
// rest of the log folds; the audit still has its row.
func TestMalformedEvent(t *testing.T) {
	f := newMemFlow(t)
	f.configure("shop")
	bad := events.Event{Type: catalog.TypeReleaseOpened, Actor: dev, Data: []byte(`{"id":42,"project":"shop"}`)}
	if _, err := f.log.Append(f.ctx, "release/42", events.AnyVersion, bad); err != nil {
		t.Fatal(err)
	}
	f.append("release/43", catalog.TypeReleaseOpened, dev, catalog.ReleaseOpened{ID: "43", Project: "shop", Branch: "b", Title: "t"})
	s, err := Build(context.Background(), f.log)
	if err != nil {
		t.Fatal(err)
	}
	n, lastErr := s.Skipped()
	if n != 1 || lastErr == nil || !strings.Contains(lastErr.Error(), `field "id"`) {
		t.Fatalf("skipped %d: %v", n, lastErr)
	}
	if _, ok := s.Releases.Get("43"); !ok || s.Audit.Len() != 3 || s.Position() != 3 {
		t.Fatal("the events after a malformed one were not folded")
	}
}

// TestForeignEvent: an event type no model folds is indexed for the audit
// and otherwise ignored, whatever its data.
func TestForeignEvent(t *testing.T) {
	f := newMemFlow(t)
	f.append("session/x", "session.pinged", dev, map[string]any{"id": 7, "name": []int{1}, "project": "shop"})
	s := f.build() // fails on any skipped event
	if pos, total := s.Audit.Positions(AuditQuery{Project: "shop"}); total != 1 || pos[0] != 1 {
		t.Fatalf("audit: %v %d", pos, total)
	}
	row := s.Audit.Row(func() events.Envelope {
		var e events.Envelope
		_ = f.log.ReadAll(f.ctx, 1, func(x events.Envelope) error { e = x; return nil })
		return e
	}())
	if row.Summary != "session.pinged" || row.Project != "shop" {
		t.Fatalf("row: %+v", row)
	}
}
