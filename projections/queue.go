package projections

import (
	"slices"
	"time"

	"releasedesk/events"
	"releasedesk/events/catalog"
)

// QueueEntry is a deployment requested and not yet claimed by a runner.
type QueueEntry struct {
	Deployment  string    `json:"deployment"`
	Project     string    `json:"project"`
	Environment string    `json:"environment"`
	Kind        string    `json:"kind"`
	Version     string    `json:"version"`
	Commit      string    `json:"commit"`
	Release     string    `json:"release,omitempty"`
	RequestedBy string    `json:"requested_by"`
	Requested   time.Time `json:"requested"`
	Position    uint64    `json:"position"` // of deploy.requested: the queue order
}

// EnvLock is an environment lock held by a deployment.
type EnvLock struct {
	Project     string    `json:"project"`
	Environment string    `json:"environment"`
	Deployment  string    `json:"deployment"`
	Holder      string    `json:"holder"` // who asked for the deployment
	Since       time.Time `json:"since"`
}

// Queue is the read model of the deployments waiting for the runner, in
// request order, and of the environment locks held.
type Queue struct {
	base
	waiting []QueueEntry // by Position
	locks   map[envKey]EnvLock
}

// NewQueue returns an empty model.
func NewQueue() *Queue { return &Queue{locks: map[envKey]EnvLock{}} }

// Apply folds one envelope (see Projection).
func (m *Queue) Apply(e events.Envelope) error { return applyOne(m, &m.base, e) }

func (m *Queue) apply(e *events.Envelope, p *payload, d *decoder) error {
	switch e.Type {
	case catalog.TypeDeployRequested:
		id := catalog.StreamID(e.Stream, catalog.DeployPrefix)
		if id == "" || m.index(id) >= 0 {
			return nil
		}
		q := QueueEntry{Deployment: d.internString(id), Environment: p.Environment, Kind: or(p.Kind, catalog.KindDeploy),
			Version: p.Version, Commit: p.Commit, Release: p.Release, RequestedBy: d.internString(e.Actor),
			Requested: e.Time, Position: e.Position}
		if p.ProjectRaw != nil {
			pi, err := d.projectOf(p)
			if err != nil {
				return err
			}
			q.Project = pi.ID
		}
		m.waiting = append(m.waiting, q)
	case catalog.TypeDeployStarted, catalog.TypeDeploySucceeded, catalog.TypeDeployFailed, catalog.TypeDeployCancelled, catalog.TypeDeployInterrupted:
		if i := m.index(catalog.StreamID(e.Stream, catalog.DeployPrefix)); i >= 0 {
			m.waiting = slices.Delete(m.waiting, i, i+1)
		}
	case catalog.TypeLockAcquired:
		m.locks[envKey{p.Project, p.Environment}] = EnvLock{Project: p.Project, Environment: p.Environment,
			Deployment: p.Deployment, Holder: p.Holder, Since: or0(p.Since, e.Time)}
	case catalog.TypeLockReleased, catalog.TypeLockBroken:
		delete(m.locks, envKey{p.Project, p.Environment})
	}
	return nil
}

func or0(t, def time.Time) time.Time {
	if t.IsZero() {
		return def
	}
	return t
}

// index finds a waiting deployment; the queue is short.
func (m *Queue) index(id string) int {
	for i := range m.waiting {
		if m.waiting[i].Deployment == id {
			return i
		}
	}
	return -1
}

// Waiting returns the deployments waiting, oldest request first.
func (m *Queue) Waiting() []QueueEntry {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return slices.Clone(m.waiting)
}

// WaitingFor returns the deployments waiting for one environment, oldest
// request first.
func (m *Queue) WaitingFor(project, env string) []QueueEntry {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []QueueEntry
	for _, q := range m.waiting {
		if q.Project == project && q.Environment == env {
			out = append(out, q)
		}
	}
	return out
}

// Lock returns the lock held on an environment, if any.
func (m *Queue) Lock(project, env string) (EnvLock, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	l, ok := m.locks[envKey{project, env}]
	return l, ok
}
