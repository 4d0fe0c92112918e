package projections

import (
	"slices"
	"strings"
	"time"

	"releasedesk/events"
	"releasedesk/events/catalog"
)

// Release is a release's row on the board.
type Release struct {
	ID      string `json:"id"`
	Project string `json:"project"`
	Branch  string `json:"branch"`
	Title   string `json:"title"`
	Note    string `json:"note,omitempty"`
	State   string `json:"state"` // StateOpen ... StateCancelled
	// PinnedCommit is the commit last deployed to a test stage (not the
	// last stage), and PinnedEnv that stage: what testers test.
	PinnedCommit string `json:"pinned_commit,omitempty"`
	PinnedEnv    string `json:"pinned_env,omitempty"`
	// TestedCommit and TestedEnv: what a tester passed (cleared by a new
	// test deployment, a failed test, a rejection or a refusal).
	TestedCommit string `json:"tested_commit,omitempty"`
	TestedEnv    string `json:"tested_env,omitempty"`
	// ApprovedCommit is what an approver approved (cleared likewise).
	ApprovedCommit string    `json:"approved_commit,omitempty"`
	Requester      string    `json:"requester"`          // who opened it
	Tester         string    `json:"tester,omitempty"`   // who last passed or failed it
	Approver       string    `json:"approver,omitempty"` // who last approved or rejected it
	Manager        string    `json:"manager,omitempty"`  // who last accepted, refused or completed it
	Tag            string    `json:"tag,omitempty"`      // release.completed's tag
	Created        time.Time `json:"created"`
	Updated        time.Time `json:"updated"`
	// Deployments is the last deployment of the release to each
	// environment, in the order the environments were first deployed to;
	// null before the first.
	Deployments []ReleaseDeployment `json:"deployments" tstype:"ReleaseDeployment[] | null"`
	Position    uint64              `json:"position"` // of release.opened
}

// ReleaseDeployment is a release's last deployment to one environment.
type ReleaseDeployment struct {
	Environment string    `json:"environment"`
	Deployment  string    `json:"deployment"`
	Commit      string    `json:"commit"`
	Version     string    `json:"version"`
	State       string    `json:"state"` // DeployQueued ... DeployInterrupted
	Requested   time.Time `json:"requested"`
	Finished    time.Time `json:"finished,omitzero"`
}

// TimelineEntry is one thing that happened to a release: a decision, a
// deployment asked for, a deployment's outcome.
type TimelineEntry struct {
	Position    uint64    `json:"position"`
	Time        time.Time `json:"time"`
	Actor       string    `json:"actor"`
	Action      string    `json:"action"`         // the event type: release.approved, deploy.succeeded, ...
	Note        string    `json:"note,omitempty"` // the note or reason; a deployment's error
	Commit      string    `json:"commit,omitempty"`
	Environment string    `json:"environment,omitempty"`
	Deployment  string    `json:"deployment,omitempty"`
	State       string    `json:"state"` // the release's state after it
}

// Releases is the read model of the release board and each release's
// timeline. It keeps the board ordered by creation (and a list by last
// update), so a board query filters and pages without sorting.
type Releases struct {
	base
	byID      map[string]*releaseState
	order     []*releaseState            // by release.opened position
	byProject map[string][]*releaseState // each by release.opened position
	// head..tail: every release by its last update, oldest first.
	head, tail *releaseState
	links      map[string]*relLink      // deployment -> its release
	stages     map[string][]Environment // project -> stages, from project.configured
}

type releaseState struct {
	r          Release
	timeline   []TimelineEntry
	search     string // lower-cased title and branch, for the board's text search
	upd        uint64 // position of the last update: the list's order
	prev, next *releaseState
}

// relLink ties a deployment to a release.
type relLink struct {
	rs          *releaseState
	env         string
	commit      string
	version     string
	kind        string
	staged      bool // last and approval below come from the request's snapshot
	last        bool // the environment is the project's last stage
	approval    bool // the environment takes only approved commits
	entry       bool // a timeline entry for the request was written
	deployIndex int  // index in rs.r.Deployments, -1 if none
}

// NewReleases returns an empty model.
func NewReleases() *Releases {
	return &Releases{byID: map[string]*releaseState{}, byProject: map[string][]*releaseState{},
		links: map[string]*relLink{}, stages: map[string][]Environment{}}
}

// Apply folds one envelope (see Projection).
func (m *Releases) Apply(e events.Envelope) error { return applyOne(m, &m.base, e) }

func (m *Releases) apply(e *events.Envelope, p *payload, d *decoder) error {
	switch e.Type {
	case catalog.TypeProjectConfigured:
		pi, err := d.projectOf(p)
		if err != nil {
			return err
		}
		id := p.ID
		if id == "" {
			id = pi.ID
		}
		m.stages[id] = pi.Environments
	case catalog.TypeReleaseOpened:
		m.open(e, p, d)
	case catalog.TypeReleaseDeployRequested:
		if rs := m.byID[p.ID]; rs != nil && p.Deployment != "" {
			l := m.link(rs, p.Deployment, p.Environment, p.Commit, p.Version)
			m.requested(rs, l, e, p, d)
		}
	case catalog.TypeDeployRequested:
		return m.deployRequested(e, p, d)
	case catalog.TypeDeployStarted, catalog.TypeDeployResumed, catalog.TypeDeploySucceeded, catalog.TypeDeployFailed, catalog.TypeDeployCancelled, catalog.TypeDeployInterrupted:
		if l := m.links[catalog.StreamID(e.Stream, catalog.DeployPrefix)]; l != nil {
			m.deployEvent(l, e, p, d)
		}
	case catalog.TypeReleaseTestPassed, catalog.TypeReleaseTestFailed, catalog.TypeReleaseApproved, catalog.TypeReleaseRejected,
		catalog.TypeReleaseAccepted, catalog.TypeReleaseRefused, catalog.TypeReleaseCompleted, catalog.TypeReleaseCancelled:
		if rs := m.byID[p.ID]; rs != nil {
			m.decide(rs, e, p, d)
		}
	}
	return nil
}

func (m *Releases) open(e *events.Envelope, p *payload, d *decoder) {
	if p.ID == "" || m.byID[p.ID] != nil {
		return
	}
	actor := d.internString(e.Actor)
	rs := &releaseState{r: Release{ID: p.ID, Project: p.Project, Branch: p.Branch, Title: p.Title, Note: p.Note,
		State: StateOpen, Requester: actor, Created: e.Time, Position: e.Position}}
	rs.search = searchKey(p.Title, p.Branch)
	m.byID[p.ID] = rs
	m.order = append(m.order, rs)
	m.byProject[p.Project] = append(m.byProject[p.Project], rs)
	rs.timeline = append(rs.timeline, TimelineEntry{Position: e.Position, Time: e.Time, Actor: actor,
		Action: e.Type, Note: p.Note, Commit: p.BaseCommit, State: StateOpen})
	m.touch(rs, e)
}

func searchKey(title, branch string) string { return strings.ToLower(title + "\n" + branch) }

// link returns the deployment's link to rs, made if new; fields already
// known are kept.
func (m *Releases) link(rs *releaseState, dep, env, commit, version string) *relLink {
	l := m.links[dep]
	if l == nil {
		l = &relLink{rs: rs, deployIndex: -1, kind: catalog.KindDeploy}
		m.links[dep] = l
	}
	if l.env == "" {
		l.env = env
	}
	if l.commit == "" {
		l.commit = commit
	}
	if l.version == "" {
		l.version = version
	}
	return l
}

// requested records a deployment asked for: one timeline entry per
// deployment, whichever of release.deploy_requested (the app's) and
// deploy.requested (the queue entry, naming the release) comes first.
func (m *Releases) requested(rs *releaseState, l *relLink, e *events.Envelope, p *payload, d *decoder) {
	dep := d.internString(catalog.StreamID(e.Stream, catalog.DeployPrefix))
	if e.Type == catalog.TypeReleaseDeployRequested {
		dep = p.Deployment
	}
	if l.deployIndex < 0 {
		rd := ReleaseDeployment{Environment: l.env, Deployment: dep, Commit: l.commit, Version: l.version,
			State: DeployQueued, Requested: e.Time}
		i := slices.IndexFunc(rs.r.Deployments, func(x ReleaseDeployment) bool { return x.Environment == l.env })
		if i < 0 {
			i = len(rs.r.Deployments)
			rs.r.Deployments = append(rs.r.Deployments, rd)
		} else {
			m.unlinkIndex(rs, i)
			rs.r.Deployments[i] = rd
		}
		l.deployIndex = i
	}
	if !l.entry {
		l.entry = true
		rs.timeline = append(rs.timeline, TimelineEntry{Position: e.Position, Time: e.Time,
			Actor: d.internString(e.Actor), Action: e.Type, Commit: l.commit, Environment: l.env,
			Deployment: dep, Note: p.Reason, State: rs.r.State})
	}
	m.touch(rs, e)
}

// unlinkIndex forgets which deployment held rs.r.Deployments[i]: a newer
// deployment to the same environment takes its place.
func (m *Releases) unlinkIndex(rs *releaseState, i int) {
	if old := m.links[rs.r.Deployments[i].Deployment]; old != nil && old.rs == rs {
		old.deployIndex = -1
	}
}

func (m *Releases) deployRequested(e *events.Envelope, p *payload, d *decoder) error {
	if p.Release == "" {
		return nil
	}
	rs := m.byID[p.Release]
	if rs == nil {
		return nil
	}
	dep := d.internString(catalog.StreamID(e.Stream, catalog.DeployPrefix))
	l := m.link(rs, dep, p.Environment, p.Commit, p.Version)
	if p.Kind != "" {
		l.kind = p.Kind
	}
	if p.ProjectRaw != nil {
		pi, err := d.projectOf(p)
		if err != nil {
			return err
		}
		if env, i, ok := pi.env(l.env); ok {
			l.staged, l.last, l.approval = true, i == len(pi.Environments)-1, env.Approval
		}
	}
	m.requested(rs, l, e, p, d)
	return nil
}

// deployEvent folds a linked deployment's start or end into its release.
func (m *Releases) deployEvent(l *relLink, e *events.Envelope, p *payload, d *decoder) {
	rs := l.rs
	var rd *ReleaseDeployment
	if l.deployIndex >= 0 {
		rd = &rs.r.Deployments[l.deployIndex]
	}
	state, terminal := terminalState(e.Type)
	if !terminal {
		if rd != nil {
			rd.State = DeployRunning
		}
		m.touch(rs, e)
		return
	}
	if rd != nil {
		rd.State, rd.Finished = state, e.Time
	}
	r := &rs.r
	if e.Type == catalog.TypeDeploySucceeded && l.kind == catalog.KindDeploy && r.State != StateCompleted && r.State != StateCancelled {
		last, approval := l.last, l.approval
		if !l.staged {
			last, approval = m.stageOf(r.Project, l.env)
		}
		commit := l.commit
		switch {
		case last:
			r.State = StateLive
		case approval && commit != "" && commit == r.ApprovedCommit && r.State == StateApproved:
			// The approved commit passing through a stage that takes only
			// approved commits (a pre-production stage) keeps its approval.
		default:
			r.State = StateTesting
			r.PinnedCommit, r.PinnedEnv = commit, l.env
			r.TestedCommit, r.TestedEnv, r.ApprovedCommit = "", "", ""
		}
	}
	rs.timeline = append(rs.timeline, TimelineEntry{Position: e.Position, Time: e.Time, Actor: d.internString(e.Actor),
		Action: e.Type, Note: p.Error, Commit: l.commit, Environment: l.env,
		Deployment: d.internString(catalog.StreamID(e.Stream, catalog.DeployPrefix)), State: r.State})
	m.touch(rs, e)
}

// stageOf says, from the project's current configuration, whether env is
// its last stage and whether it needs approval.
func (m *Releases) stageOf(project, env string) (last, approval bool) {
	envs := m.stages[project]
	for i, x := range envs {
		if x.Name == env {
			return i == len(envs)-1, x.Approval
		}
	}
	return false, false
}

// decide folds a person's decision.
func (m *Releases) decide(rs *releaseState, e *events.Envelope, p *payload, d *decoder) {
	r := &rs.r
	actor := d.internString(e.Actor)
	clear := func() { r.TestedCommit, r.TestedEnv, r.ApprovedCommit = "", "", "" }
	commit := p.Commit
	switch e.Type {
	case catalog.TypeReleaseTestPassed:
		r.State, r.Tester = StateTested, actor
		r.TestedCommit, r.TestedEnv = or(p.Commit, r.PinnedCommit), or(p.Environment, r.PinnedEnv)
		commit = r.TestedCommit
	case catalog.TypeReleaseTestFailed:
		r.State, r.Tester = StateOpen, actor
		clear()
	case catalog.TypeReleaseApproved:
		r.State, r.Approver = StateApproved, actor
		r.ApprovedCommit = or(p.Commit, r.TestedCommit)
		commit = r.ApprovedCommit
	case catalog.TypeReleaseRejected:
		r.State, r.Approver = StateOpen, actor
		clear()
	case catalog.TypeReleaseAccepted:
		r.State, r.Manager = StateAccepted, actor
	case catalog.TypeReleaseRefused:
		r.State, r.Manager = StateOpen, actor
		clear()
	case catalog.TypeReleaseCompleted:
		r.State, r.Manager, r.Tag = StateCompleted, actor, p.Tag
	case catalog.TypeReleaseCancelled:
		r.State = StateCancelled
	}
	rs.timeline = append(rs.timeline, TimelineEntry{Position: e.Position, Time: e.Time, Actor: actor,
		Action: e.Type, Note: or(p.Note, p.Reason), Commit: commit, Environment: p.Environment, State: r.State})
	if r.State == StateCompleted || r.State == StateCancelled {
		// The release is done: give back what appending left spare.
		rs.timeline = append([]TimelineEntry(nil), rs.timeline...)
	}
	m.touch(rs, e)
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// touch marks rs updated by e: its time, and its place at the end of the
// by-update list.
func (m *Releases) touch(rs *releaseState, e *events.Envelope) {
	rs.r.Updated = e.Time
	rs.upd = e.Position
	if m.tail == rs {
		return
	}
	m.unlist(rs)
	rs.prev = m.tail
	if m.tail != nil {
		m.tail.next = rs
	}
	m.tail = rs
	if m.head == nil {
		m.head = rs
	}
}

func (m *Releases) unlist(rs *releaseState) {
	if rs.prev != nil {
		rs.prev.next = rs.next
	} else if m.head == rs {
		m.head = rs.next
	}
	if rs.next != nil {
		rs.next.prev = rs.prev
	} else if m.tail == rs {
		m.tail = rs.prev
	}
	rs.prev, rs.next = nil, nil
}

// Get returns a release's board row.
func (m *Releases) Get(id string) (Release, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	rs, ok := m.byID[id]
	if !ok {
		return Release{}, false
	}
	return rs.r.clone(), true
}

// Timeline returns a release's timeline, oldest first.
func (m *Releases) Timeline(id string) []TimelineEntry {
	m.mu.RLock()
	defer m.mu.RUnlock()
	rs, ok := m.byID[id]
	if !ok {
		return nil
	}
	return slices.Clone(rs.timeline)
}

// OfDeployment returns the release a deployment belongs to.
func (m *Releases) OfDeployment(deployment string) (string, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	l, ok := m.links[deployment]
	if !ok {
		return "", false
	}
	return l.rs.r.ID, true
}

func (r Release) clone() Release {
	r.Deployments = slices.Clone(r.Deployments)
	return r
}
