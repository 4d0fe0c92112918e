package projections

import (
	"slices"
	"sync"
	"time"

	"releasedesk/events"
	"releasedesk/events/catalog"
)

// StepOutputCap is the most output a deployment's step keeps (the runner
// caps a step at 1 MiB; a page shows far less). Beyond it the step is
// marked Truncated; the whole output stays in the log.
const StepOutputCap = 64 << 10

// Deployment is one deployment: what was asked, how it was planned, how
// each host is doing and every step with its output.
type Deployment struct {
	ID          string   `json:"id"`
	Kind        string   `json:"kind"` // KindDeploy | KindRollback
	Project     string   `json:"project"`
	Environment string   `json:"environment"`
	Commit      string   `json:"commit"`
	Version     string   `json:"version"`
	Release     string   `json:"release,omitempty"`
	RequestedBy string   `json:"requested_by"`
	Reason      string   `json:"reason,omitempty"`     // why (rollbacks)
	OnlyHosts   []string `json:"only_hosts,omitempty"` // the hosts asked for; empty: all of the environment
	State       string   `json:"state"`                // DeployQueued ... DeployInterrupted
	Runner      string   `json:"runner,omitempty"`     // which runner claimed it
	Runs        int      `json:"runs"`                 // starts and resumes

	CancelRequested   bool      `json:"cancel_requested,omitempty"`
	CancelRequestedBy string    `json:"cancel_requested_by,omitempty"`
	CancelReason      string    `json:"cancel_reason,omitempty"`
	ResumedBy         string    `json:"resumed_by,omitempty"`
	Resumed           time.Time `json:"resumed,omitzero"`

	Plan  Plan           `json:"plan"`
	Hosts []HostProgress `json:"hosts"`                        // in target order
	Steps []Step         `json:"steps" tstype:"Step[] | null"` // in start order; null from List

	Error    string   `json:"error,omitempty"`
	Switched []string `json:"switched,omitempty"` // from the terminal event: hosts on Version
	Failed   []string `json:"failed,omitempty"`
	Reverted []string `json:"reverted,omitempty"`

	Requested  time.Time `json:"requested"`
	Started    time.Time `json:"started,omitzero"` // first start
	Planned    time.Time `json:"planned,omitzero"`
	Finished   time.Time `json:"finished,omitzero"` // last terminal event
	DurationMS int64     `json:"duration_ms"`       // the runner's own measure of the last run
	Position   uint64    `json:"position"`          // of deploy.requested
}

// Plan is deploy.planned: the hosts in batches and the tree to publish.
type Plan struct {
	Batches      [][]string `json:"batches" tstype:"string[][] | null"` // null until planned
	Parallel     int        `json:"parallel"`
	OnFailure    string     `json:"on_failure"`
	ManifestHash string     `json:"manifest_hash"`
	Files        int        `json:"files"`
	Bytes        int64      `json:"bytes"`
	Skipped      []string   `json:"skipped,omitempty"` // hosts already on the version (a resume)
}

// HostProgress is one host of a deployment.
type HostProgress struct {
	Host       string    `json:"host"`
	State      string    `json:"state"`             // HostPending ... HostObserved
	Step       string    `json:"step,omitempty"`    // the step running there now, "" if none
	Version    string    `json:"version,omitempty"` // what the host runs after its last event
	Commit     string    `json:"commit,omitempty"`
	Previous   string    `json:"previous,omitempty"` // what it ran before this deployment switched it
	Error      string    `json:"error,omitempty"`
	FailedStep string    `json:"failed_step,omitempty"`
	Staged     time.Time `json:"staged,omitzero"`
	Switched   time.Time `json:"switched,omitzero"`
	Updated    time.Time `json:"updated,omitzero"`
}

// Step is one step of a deployment with its output.
type Step struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Host       string    `json:"host,omitempty"`                   // "" for a step on this machine
	Command    []string  `json:"command" tstype:"string[] | null"` // null: none recorded
	Started    time.Time `json:"started"`
	Finished   time.Time `json:"finished,omitzero"` // zero while it runs
	ExitCode   int       `json:"exit_code"`
	DurationMS int64     `json:"duration_ms"`
	Error      string    `json:"error,omitempty"`
	Output     string    `json:"output,omitempty"`
	Truncated  bool      `json:"truncated,omitempty"` // output beyond the runner's or StepOutputCap was dropped
}

// Deployments is the read model of deployments.
type Deployments struct {
	base
	byID  map[string]*deployState
	order []*deployState // by request
	// last is the deployment of the last event: a deployment's events
	// mostly come in runs, and this spares the map lookup.
	last *deployState
	// names numbers step ids, step names and hosts: a few hundred
	// distinct values over hundreds of thousands of steps.
	names nameTable
}

type deployState struct {
	d     Deployment // Steps unused: steps hold the steps
	steps []step
	// What steps refer to by number (1-based; 0 is none): commands (argv
	// as JSON, see decoder.argv), errors and outputs.
	cmds []string
	errs []string
	outs [][]byte
	// argvs are the commands decoded, for the reads (argvCache).
	argvs argvCache
	// rev is the position of the last event that changed it (0 for one
	// loaded from a checkpoint and not changed since): see Revision.
	rev uint64
}

// step is a Step as kept. A large log holds hundreds of thousands, so it
// holds no pointer at all: the garbage collector never scans the steps,
// and each takes 56 bytes. Names are numbers in Deployments.names, the
// rest numbers in its deployState's tables; times are Unix nanoseconds.
type step struct {
	id, name, host uint32
	cmd, err, out  uint32
	exit           int32
	truncated      bool
	started        int64
	finished       int64
	durationMS     int64
}

// cmdIndex numbers a command within ds. Identical commands recur across
// a deployment's hosts; looking back a little finds most of them.
func (ds *deployState) cmdIndex(cmd string) uint32 {
	if cmd == "" {
		return 0
	}
	for i := len(ds.cmds) - 1; i >= 0 && i >= len(ds.cmds)-32; i-- {
		if ds.cmds[i] == cmd {
			return uint32(i + 1)
		}
	}
	ds.cmds = append(ds.cmds, cmd)
	return uint32(len(ds.cmds))
}

// argvCache holds the commands of a running deployment decoded, made on
// the first read of its steps and dropped when it ends. A command is kept
// as JSON, the least memory for the hundreds of thousands of a large log;
// but a running deployment is read again after each of its events by
// whoever watches it, and decoding every step's command on each read
// cost more than all the rest of the read: a deployment to 100 hosts
// holds some 800 commands of a kilobyte or two.
type argvCache struct {
	mu   sync.Mutex // reads share the model's read lock: they fill it in turn
	list [][]string // by command number - 1
}

// commands returns ds's commands decoded, by number - 1: from the cache
// while ds runs, else decoded for this read alone. The caller holds the
// model's lock (read or write) and clones what it hands out.
func (ds *deployState) commands() [][]string {
	if ds.d.State != DeployQueued && ds.d.State != DeployRunning {
		out := make([][]string, len(ds.cmds))
		for i, c := range ds.cmds {
			out[i] = argvOf(c)
		}
		return out
	}
	c := &ds.argvs
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.list) < len(ds.cmds) {
		c.list = append(c.list, argvOf(ds.cmds[len(c.list)]))
	}
	return c.list
}

func (ds *deployState) errIndex(err string) uint32 {
	if err == "" {
		return 0
	}
	ds.errs = append(ds.errs, err)
	return uint32(len(ds.errs))
}

func at[T any](list []T, i uint32) (v T) {
	if i > 0 && int(i) <= len(list) {
		v = list[i-1]
	}
	return v
}

// NewDeployments returns an empty model.
func NewDeployments() *Deployments { return &Deployments{byID: map[string]*deployState{}} }

// Apply folds one envelope (see Projection).
func (m *Deployments) Apply(e events.Envelope) error { return applyOne(m, &m.base, e) }

func (m *Deployments) apply(e *events.Envelope, p *payload, d *decoder) error {
	id := catalog.StreamID(e.Stream, catalog.DeployPrefix)
	if id == "" {
		return nil
	}
	if e.Type == catalog.TypeDeployRequested {
		return m.requested(id, e, p, d)
	}
	ds := m.last
	if ds == nil || ds.d.ID != id {
		if ds = m.byID[id]; ds == nil {
			return nil
		}
		m.last = ds
	}
	ds.rev = e.Position
	x := &ds.d
	switch e.Type {
	case catalog.TypeStepOutput:
		if s := m.step(ds, p.StepView); s != nil {
			ds.appendOutput(s, p)
		}
	case catalog.TypeStepStarted:
		id := m.names.idBytes(p.StepView)
		ds.steps = append(ds.steps, step{id: id, name: m.names.idBytes(p.NameView),
			host: m.names.idBytes(p.HostView), cmd: ds.cmdIndex(p.Command), started: e.Time.UnixNano()})
		if h := ds.host(p.HostView); h != nil {
			if h.State == HostPending {
				h.State = HostStaging
			}
			h.Step, h.Updated = m.names.name(id), e.Time
		}
	case catalog.TypeStepFinished:
		if s := m.step(ds, p.StepView); s != nil {
			s.finished, s.exit, s.durationMS = e.Time.UnixNano(), int32(p.ExitCode), p.DurationMS
			s.err = ds.errIndex(p.Error)
			if s.out > 0 {
				if out := ds.outs[s.out-1]; cap(out)-len(out) > 256 {
					ds.outs[s.out-1] = slices.Clip(append([]byte(nil), out...))
				}
			}
		}
		if h := ds.host(p.HostView); h != nil && h.Step == string(p.StepView) {
			h.Step, h.Updated = "", e.Time
		}
	case catalog.TypeHostStaged, catalog.TypeHostSwitched, catalog.TypeHostFailed, catalog.TypeHostReverted, catalog.TypeHostObserved:
		m.hostEvent(ds, e, p)
	case catalog.TypeDeployStarted:
		x.State, x.Runner = DeployRunning, p.Runner
		if x.Started.IsZero() {
			x.Started = e.Time
		}
		x.Runs++
	case catalog.TypeDeployResumed:
		x.State, x.Resumed, x.ResumedBy = DeployRunning, e.Time, d.internString(e.Actor)
		x.Runs++
		x.CancelRequested, x.CancelRequestedBy, x.CancelReason, x.Error = false, "", "", ""
		for _, addr := range p.Hosts {
			if h := ds.host([]byte(addr)); h != nil {
				h.State, h.Error, h.FailedStep, h.Step, h.Updated = HostPending, "", "", "", e.Time
			}
		}
	case catalog.TypeDeployPlanned:
		x.Plan = Plan{Batches: p.Batches, Parallel: int(p.Parallel), OnFailure: p.OnFailure,
			ManifestHash: p.ManifestHash, Files: int(p.Files), Bytes: p.Bytes, Skipped: p.Skipped}
		x.Planned = e.Time
		for _, b := range p.Batches {
			for _, addr := range b {
				ds.ensureHost(addr)
			}
		}
	case catalog.TypeDeployCancelRequested:
		x.CancelRequested, x.CancelRequestedBy, x.CancelReason = true, d.internString(e.Actor), p.Reason
	default:
		state, ok := terminalState(e.Type)
		if !ok {
			return nil
		}
		x.State, x.Finished, x.DurationMS, x.Error = state, e.Time, p.DurationMS, p.Error
		x.Switched, x.Failed, x.Reverted = p.Switched, p.Failed, p.Reverted
		for i := range x.Hosts {
			x.Hosts[i].Step = ""
		}
		ds.argvs.list = nil // see argvCache
		// A run is over: give back what appending left spare (a large
		// log holds hundreds of thousands of steps). A resume appends again.
		if cap(ds.steps)-len(ds.steps) > len(ds.steps)/8 {
			ds.steps = append([]step(nil), ds.steps...)
		}
	}
	return nil
}

func (m *Deployments) requested(id string, e *events.Envelope, p *payload, d *decoder) error {
	if m.byID[id] != nil {
		return nil
	}
	id = d.internString(id)
	ds := &deployState{d: Deployment{ID: id, Kind: or(p.Kind, catalog.KindDeploy), Environment: p.Environment,
		Commit: p.Commit, Version: p.Version, Release: p.Release, RequestedBy: d.internString(e.Actor),
		Reason: p.Reason, OnlyHosts: p.Hosts, State: DeployQueued, Requested: e.Time, Position: e.Position},
		rev: e.Position}
	m.byID[id] = ds
	m.order = append(m.order, ds)
	if p.ProjectRaw == nil {
		return nil
	}
	pi, err := d.projectOf(p)
	if err != nil {
		return err
	}
	ds.d.Project = pi.ID
	if env, _, ok := pi.env(p.Environment); ok {
		for _, h := range env.Hosts {
			if len(p.Hosts) == 0 || slices.Contains(p.Hosts, h) {
				ds.ensureHost(h)
			}
		}
	}
	return nil
}

func (m *Deployments) hostEvent(ds *deployState, e *events.Envelope, p *payload) {
	h := ds.ensureHost(p.Host)
	h.Updated = e.Time
	switch e.Type {
	case catalog.TypeHostStaged:
		h.State, h.Staged = HostStaged, e.Time
		h.Version, h.Commit, h.Previous = p.Version, p.Commit, p.Previous
	case catalog.TypeHostSwitched:
		h.State, h.Switched = HostSwitched, e.Time
		h.Version, h.Commit, h.Previous = p.Version, p.Commit, p.Previous
	case catalog.TypeHostFailed:
		h.State, h.Error, h.FailedStep = HostFailed, p.Error, p.Step
	case catalog.TypeHostReverted:
		h.State, h.Version, h.Commit = HostReverted, p.Version, p.Commit
	case catalog.TypeHostObserved:
		h.State, h.Error = HostObserved, p.Error
		if p.Version != "" || p.Error == "" {
			h.Version, h.Commit = p.Version, p.Commit
		}
	}
}

// step finds a step of ds by id, searching from the newest: the step an
// event names is nearly always among the last few started.
func (m *Deployments) step(ds *deployState, id []byte) *step {
	if len(id) == 0 {
		return nil
	}
	for i := len(ds.steps) - 1; i >= 0; i-- {
		if m.names.name(ds.steps[i].id) == string(id) {
			return &ds.steps[i]
		}
	}
	return nil
}

func (ds *deployState) host(addr []byte) *HostProgress {
	if len(addr) == 0 {
		return nil
	}
	for i := range ds.d.Hosts {
		if ds.d.Hosts[i].Host == string(addr) {
			return &ds.d.Hosts[i]
		}
	}
	return nil
}

func (ds *deployState) ensureHost(addr string) *HostProgress {
	if h := ds.host([]byte(addr)); h != nil || addr == "" {
		return h
	}
	ds.d.Hosts = append(ds.d.Hosts, HostProgress{Host: addr, State: HostPending})
	return &ds.d.Hosts[len(ds.d.Hosts)-1]
}

// appendOutput adds a step.output's text to s, within StepOutputCap.
func (ds *deployState) appendOutput(s *step, p *payload) {
	if p.Truncated {
		s.truncated = true
	}
	if s.out == 0 {
		ds.outs = append(ds.outs, nil)
		s.out = uint32(len(ds.outs))
	}
	have := ds.outs[s.out-1]
	room := StepOutputCap - len(have)
	if room <= 0 {
		if len(p.Text) > 2 {
			s.truncated = true
		}
		return
	}
	n := len(have)
	out, ok := appendString(have, p.Text)
	if !ok {
		return
	}
	if len(out)-n > room {
		// Cut at a rune boundary.
		cut := n + room
		for cut > n && out[cut]&0xC0 == 0x80 {
			cut--
		}
		out = out[:cut]
		s.truncated = true
	}
	ds.outs[s.out-1] = out
}

// public returns step s of ds as a Step, with its command argv.
func (ds *deployState) public(s *step, names *nameTable, argv []string) Step {
	return Step{ID: names.name(s.id), Name: names.name(s.name), Host: names.name(s.host),
		Command: argv, Started: unixTime(s.started), Finished: unixTime(s.finished),
		ExitCode: int(s.exit), DurationMS: s.durationMS, Error: at(ds.errs, s.err),
		Output: string(at(ds.outs, s.out)), Truncated: s.truncated}
}

func unixTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// Get returns a deployment with its steps and their output.
func (m *Deployments) Get(id string) (Deployment, bool) {
	d, _, ok := m.GetRevision(id)
	return d, ok
}

// GetRevision is Get, and the deployment's Revision that view is of.
func (m *Deployments) GetRevision(id string) (Deployment, uint64, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	ds, ok := m.byID[id]
	if !ok {
		return Deployment{}, 0, false
	}
	d := ds.d.clone()
	d.Steps = make([]Step, len(ds.steps))
	argvs := ds.commands()
	for i := range ds.steps {
		s := &ds.steps[i]
		d.Steps[i] = ds.public(s, &m.names, slices.Clone(at(argvs, s.cmd)))
	}
	return d, ds.rev, true
}

// Revision is the position of the last event that changed a deployment.
// Its view (Get) stays the same as long as this does, so a caller may keep
// the view, encoded, and serve it again without building it.
func (m *Deployments) Revision(id string) (uint64, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	ds, ok := m.byID[id]
	if !ok {
		return 0, false
	}
	return ds.rev, true
}

// Step returns one step of a deployment.
func (m *Deployments) Step(id, stepID string) (Step, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	ds, ok := m.byID[id]
	if !ok {
		return Step{}, false
	}
	s := m.step(ds, []byte(stepID))
	if s == nil {
		return Step{}, false
	}
	return ds.public(s, &m.names, argvOf(at(ds.cmds, s.cmd))), true
}

// DeploymentQuery selects deployments; zero values select all, newest
// first, 50 of them.
type DeploymentQuery struct {
	Project     string
	Environment string
	Release     string
	RequestedBy string // who asked for it
	Kind        string // catalog.KindDeploy or catalog.KindRollback
	States      []string
	Offset      int
	Limit       int // 0: 50; at most MaxBoardLimit
}

// List returns matching deployments without their steps, newest first,
// and how many match.
func (m *Deployments) List(q DeploymentQuery) ([]Deployment, int) {
	offset, limit := pageBounds(q.Offset, q.Limit, DefaultBoardLimit, MaxBoardLimit)
	m.mu.RLock()
	defer m.mu.RUnlock()
	out, total := []Deployment{}, 0
	for i := len(m.order) - 1; i >= 0; i-- {
		d := &m.order[i].d
		switch {
		case q.Project != "" && d.Project != q.Project,
			q.Environment != "" && d.Environment != q.Environment,
			q.Release != "" && d.Release != q.Release,
			q.RequestedBy != "" && d.RequestedBy != q.RequestedBy,
			q.Kind != "" && d.Kind != q.Kind,
			len(q.States) > 0 && !slices.Contains(q.States, d.State):
			continue
		}
		if total >= offset && len(out) < limit {
			out = append(out, d.clone())
		}
		total++
	}
	return out, total
}

func (d Deployment) clone() Deployment {
	d.OnlyHosts = slices.Clone(d.OnlyHosts)
	d.Hosts = append([]HostProgress{}, d.Hosts...) // [] not null in JSON
	d.Switched, d.Failed, d.Reverted = slices.Clone(d.Switched), slices.Clone(d.Failed), slices.Clone(d.Reverted)
	d.Plan.Skipped = slices.Clone(d.Plan.Skipped)
	if d.Plan.Batches != nil {
		b := make([][]string, len(d.Plan.Batches))
		for i, x := range d.Plan.Batches {
			b[i] = slices.Clone(x)
		}
		d.Plan.Batches = b
	}
	return d
}
