package projections

import (
	"slices"
	"sort"
	"time"

	"releasedesk/events"
	"releasedesk/events/catalog"
)

// Outcomes of a version's timeline entry.
const (
	OutcomeSucceeded = "succeeded" // the deployment succeeded
	OutcomePartial   = "partial"   // it failed (or was cut short) with hosts left on the version
	OutcomeReverted  = "reverted"  // it was partial, then a later run left no host on it
)

// EnvVersions is an environment's version timeline and what runs now.
type EnvVersions struct {
	Project     string `json:"project"`
	Environment string `json:"environment"`
	// Current is the version of the last deployment that succeeded.
	Current           string `json:"current,omitempty"`
	CurrentDeployment string `json:"current_deployment,omitempty"`
	// Hosts is what each host runs, as the log says (switches, reverts,
	// observations), by host; null for an environment never deployed to.
	Hosts []HostVersion `json:"hosts" tstype:"HostVersion[] | null"`
	// Mixed: the hosts do not all run the same version (a partial
	// deployment, or a host not yet deployed).
	Mixed bool `json:"mixed,omitempty"`
	// Timeline holds the versions that went live, oldest first; null in a
	// project's view of an environment never deployed to.
	Timeline []VersionEntry `json:"timeline" tstype:"VersionEntry[] | null"`
	// Drift is the environment's last drift check (Hosts.LastDrift) and
	// DriftEvery the interval of its periodic check ("30m0s"; "" when
	// off): the app adds them from the hosts model and the configuration,
	// so the versions screen and the dashboard read drift from one place.
	Drift      *EnvDrift `json:"drift,omitempty"`
	DriftEvery string    `json:"drift_every,omitempty"`
}

// HostVersion is what one host of an environment runs.
type HostVersion struct {
	Host       string    `json:"host"`
	Version    string    `json:"version"`
	Commit     string    `json:"commit,omitempty"`
	Deployment string    `json:"deployment,omitempty"`
	Since      time.Time `json:"since"`
}

// VersionEntry is one version going live on an environment.
type VersionEntry struct {
	Version    string    `json:"version"`
	Commit     string    `json:"commit"`
	Release    string    `json:"release,omitempty"` // for a rollback: the release the version was first deployed from
	Deployment string    `json:"deployment"`
	By         string    `json:"by"`   // who asked for the deployment
	Kind       string    `json:"kind"` // KindDeploy | KindRollback
	At         time.Time `json:"at"`
	Position   uint64    `json:"position"` // of the deployment's terminal event
	Outcome    string    `json:"outcome"`  // OutcomeSucceeded | OutcomePartial | OutcomeReverted
	Hosts      []string  `json:"hosts,omitempty"`
	Current    bool      `json:"current,omitempty"`
	// Kept lists the hosts that still hold the release; Instant means
	// every host of the environment does, so a rollback to it is a switch.
	Kept    []string  `json:"kept,omitempty"`
	Instant bool      `json:"instant,omitempty"`
	Bad     bool      `json:"bad,omitempty"`
	BadBy   string    `json:"bad_by,omitempty"`
	BadAt   time.Time `json:"bad_at,omitzero"`
	Reason  string    `json:"reason,omitempty"` // why it was marked bad
}

// Versions is the read model of each environment's versions.
type Versions struct {
	base
	envs map[envKey]*envVersions
	deps map[string]*vdep // deployment -> what it does
	bad  map[badKey]badMark
}

type envKey struct{ project, env string }

type badKey struct{ project, env, version string }

type badMark struct {
	by     string
	at     time.Time
	reason string
}

type envVersions struct {
	project, env string
	timeline     []versionEntry
	current      int // index in timeline, -1 if none
	live         map[string]HostVersion
	kept         map[string]map[string]struct{} // host -> versions it holds
	cfgHosts     []string                       // from project.configured
	reqHosts     []string                       // from the last request's snapshot
}

// versionEntry is a VersionEntry as kept (Current, Kept, Instant and Bad
// are worked out when asked).
type versionEntry struct {
	version, commit, release, deployment, by, kind string
	at                                             time.Time
	position                                       uint64
	outcome                                        string
	hosts                                          []string
}

type vdep struct {
	env                                    *envVersions
	id, version, commit, release, by, kind string
	on                                     []string // hosts this deployment left on its version
	entry                                  int      // index in env.timeline, -1 if none
}

// NewVersions returns an empty model.
func NewVersions() *Versions {
	return &Versions{envs: map[envKey]*envVersions{}, deps: map[string]*vdep{}, bad: map[badKey]badMark{}}
}

// Apply folds one envelope (see Projection).
func (m *Versions) Apply(e events.Envelope) error { return applyOne(m, &m.base, e) }

func (m *Versions) env(project, env string) *envVersions {
	k := envKey{project, env}
	ev := m.envs[k]
	if ev == nil {
		ev = &envVersions{project: project, env: env, current: -1,
			live: map[string]HostVersion{}, kept: map[string]map[string]struct{}{}}
		m.envs[k] = ev
	}
	return ev
}

func (m *Versions) apply(e *events.Envelope, p *payload, d *decoder) error {
	switch e.Type {
	case catalog.TypeProjectConfigured:
		pi, err := d.projectOf(p)
		if err != nil {
			return err
		}
		id := or(p.ID, pi.ID)
		for _, env := range pi.Environments {
			m.env(id, env.Name).cfgHosts = env.Hosts
		}
		return nil
	case catalog.TypeVersionMarkedBad:
		m.bad[badKey{p.Project, p.Environment, p.Version}] = badMark{by: d.internString(e.Actor), at: e.Time, reason: p.Reason}
		return nil
	case catalog.TypeDeployRequested:
		return m.requested(e, p, d)
	case catalog.TypeHostStaged, catalog.TypeHostSwitched, catalog.TypeHostReverted, catalog.TypeHostObserved, catalog.TypeReleasePruned,
		catalog.TypeDeploySucceeded, catalog.TypeDeployFailed, catalog.TypeDeployCancelled, catalog.TypeDeployInterrupted:
	default:
		return nil
	}
	dep := m.deps[catalog.StreamID(e.Stream, catalog.DeployPrefix)]
	if dep == nil {
		return nil
	}
	ev := dep.env
	switch e.Type {
	case catalog.TypeHostStaged:
		ev.keep(p.Host, p.Version)
	case catalog.TypeHostSwitched:
		ev.keep(p.Host, p.Version)
		ev.runs(p, e)
		dep.onVersion(p.Host, p.Version == dep.version)
	case catalog.TypeHostReverted:
		ev.keep(p.Host, p.Version)
		ev.runs(p, e)
		dep.onVersion(p.Host, false)
	case catalog.TypeHostObserved:
		if p.Version != "" {
			ev.keep(p.Host, p.Version)
			ev.runs(p, e)
			dep.onVersion(p.Host, p.Version == dep.version)
		}
	case catalog.TypeReleasePruned:
		if set := ev.kept[p.Host]; set != nil {
			for _, v := range p.Versions {
				delete(set, v)
			}
		}
	default:
		if _, ok := terminalState(e.Type); ok {
			m.finished(dep, e, p)
		}
	}
	return nil
}

func (m *Versions) requested(e *events.Envelope, p *payload, d *decoder) error {
	id := catalog.StreamID(e.Stream, catalog.DeployPrefix)
	if id == "" || m.deps[id] != nil || p.ProjectRaw == nil {
		return nil
	}
	pi, err := d.projectOf(p)
	if err != nil {
		return err
	}
	ev := m.env(pi.ID, p.Environment)
	if env, _, ok := pi.env(p.Environment); ok {
		ev.reqHosts = env.Hosts
	}
	id = d.internString(id)
	m.deps[id] = &vdep{env: ev, id: id, version: p.Version, commit: p.Commit, release: p.Release,
		by: d.internString(e.Actor), kind: or(p.Kind, catalog.KindDeploy), entry: -1}
	return nil
}

func (ev *envVersions) keep(host, version string) {
	if host == "" || version == "" {
		return
	}
	set := ev.kept[host]
	if set == nil {
		set = map[string]struct{}{}
		ev.kept[host] = set
	}
	set[version] = struct{}{}
}

func (ev *envVersions) runs(p *payload, e *events.Envelope) {
	if p.Host == "" {
		return
	}
	ev.live[p.Host] = HostVersion{Host: p.Host, Version: p.Version, Commit: p.Commit,
		Deployment: p.Deployment, Since: e.Time}
}

func (dep *vdep) onVersion(host string, on bool) {
	i := slices.Index(dep.on, host)
	switch {
	case on && i < 0:
		dep.on = append(dep.on, host)
	case !on && i >= 0:
		dep.on = slices.Delete(dep.on, i, i+1)
	}
}

// finished records a deployment's end: an entry of the timeline when the
// version went live on any host.
func (m *Versions) finished(dep *vdep, e *events.Envelope, p *payload) {
	ev := dep.env
	// The hosts on the version: as the host events tell (across a resume's
	// runs), and as the terminal event lists (this run's).
	hosts := slices.Clone(dep.on)
	for _, h := range p.Switched {
		if !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	outcome := OutcomePartial
	switch {
	case e.Type == catalog.TypeDeploySucceeded:
		outcome = OutcomeSucceeded
	case len(hosts) == 0:
		if dep.entry < 0 {
			return // nothing went live
		}
		outcome = OutcomeReverted
	}
	ve := versionEntry{version: dep.version, commit: dep.commit, release: dep.release,
		deployment: dep.id, by: dep.by, kind: dep.kind, at: e.Time,
		position: e.Position, outcome: outcome, hosts: hosts}
	if ve.release == "" {
		// A rollback names no release: the version's first entry does.
		for _, x := range ev.timeline {
			if x.version == ve.version && x.release != "" {
				ve.release = x.release
				break
			}
		}
	}
	if dep.entry >= 0 {
		ev.timeline[dep.entry] = ve
	} else {
		dep.entry = len(ev.timeline)
		ev.timeline = append(ev.timeline, ve)
	}
	if outcome == OutcomeSucceeded {
		ev.current = dep.entry
	}
}

// Env returns an environment's versions.
func (m *Versions) Env(project, env string) (EnvVersions, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	ev, ok := m.envs[envKey{project, env}]
	if !ok {
		return EnvVersions{}, false
	}
	return m.view(ev), true
}

// Entry returns the newest timeline entry of version in an environment
// (for a rollback: its commit, and whether it is kept everywhere).
func (m *Versions) Entry(project, env, version string) (VersionEntry, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	ev, ok := m.envs[envKey{project, env}]
	if !ok {
		return VersionEntry{}, false
	}
	for i := len(ev.timeline) - 1; i >= 0; i-- {
		if ev.timeline[i].version == version {
			return m.entry(ev, i, ev.envHosts()), true
		}
	}
	return VersionEntry{}, false
}

// Environments lists the environments of a project that have versions or
// configuration, by name.
func (m *Versions) Environments(project string) []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []string
	for k := range m.envs {
		if k.project == project {
			out = append(out, k.env)
		}
	}
	sort.Strings(out)
	return out
}

// envHosts are the environment's hosts: as configured, else as last
// requested, else every host seen.
func (ev *envVersions) envHosts() []string {
	switch {
	case len(ev.cfgHosts) > 0:
		return ev.cfgHosts
	case len(ev.reqHosts) > 0:
		return ev.reqHosts
	}
	var hs []string
	for h := range ev.kept {
		hs = append(hs, h)
	}
	sort.Strings(hs)
	return hs
}

func (m *Versions) view(ev *envVersions) EnvVersions {
	out := EnvVersions{Project: ev.project, Environment: ev.env, Hosts: make([]HostVersion, 0, len(ev.live)),
		Timeline: make([]VersionEntry, len(ev.timeline))}
	if ev.current >= 0 {
		out.Current, out.CurrentDeployment = ev.timeline[ev.current].version, ev.timeline[ev.current].deployment
	}
	for _, h := range ev.live {
		out.Hosts = append(out.Hosts, h)
	}
	sort.Slice(out.Hosts, func(i, j int) bool { return out.Hosts[i].Host < out.Hosts[j].Host })
	for _, h := range out.Hosts {
		if h.Version != out.Hosts[0].Version {
			out.Mixed = true
		}
	}
	hosts := ev.envHosts()
	if len(out.Hosts) > 0 && len(out.Hosts) < len(hosts) {
		out.Mixed = true
	}
	for i := range ev.timeline {
		out.Timeline[i] = m.entry(ev, i, hosts)
	}
	return out
}

func (m *Versions) entry(ev *envVersions, i int, envHosts []string) VersionEntry {
	x := ev.timeline[i]
	ve := VersionEntry{Version: x.version, Commit: x.commit, Release: x.release, Deployment: x.deployment,
		By: x.by, Kind: x.kind, At: x.at, Position: x.position, Outcome: x.outcome,
		Hosts: slices.Clone(x.hosts), Current: i == ev.current}
	for _, h := range envHosts {
		if _, ok := ev.kept[h][x.version]; ok {
			ve.Kept = append(ve.Kept, h)
		}
	}
	// Hosts no longer configured may still hold it: list them too.
	var gone []string
	for h, set := range ev.kept {
		if _, ok := set[x.version]; ok && !slices.Contains(envHosts, h) {
			gone = append(gone, h)
		}
	}
	sort.Strings(gone)
	ve.Kept = append(ve.Kept, gone...)
	ve.Instant = len(envHosts) > 0
	for _, h := range envHosts {
		if _, ok := ev.kept[h][x.version]; !ok {
			ve.Instant = false
			break
		}
	}
	if b, ok := m.bad[badKey{ev.project, ev.env, x.version}]; ok {
		ve.Bad, ve.BadBy, ve.BadAt, ve.Reason = true, b.by, b.at, b.reason
	}
	return ve
}
