package runner

import (
	"sort"
	"strings"
	"sync"

	"releasedesk/events"
	"releasedesk/events/catalog"
)

// Deployment states as the runner's fold tells them (the same words as
// DESIGN.md section 5) before a run ends; an ended run is in the state
// its terminal event names (deployState.State).
const (
	StateQueued  = "queued"
	StateRunning = "running"
)

// isTerminal reports whether an event type ends a run of a deployment.
func isTerminal(typ string) bool {
	switch typ {
	case catalog.TypeDeploySucceeded, catalog.TypeDeployFailed, catalog.TypeDeployCancelled, catalog.TypeDeployInterrupted:
		return true
	}
	return false
}

// deployState is what the runner needs to know of one deployment. The
// projections package keeps the full read model for the UI; this is the
// runner's own small fold, so runner depends on no other package of ours
// but events.
type deployState struct {
	ID        string
	Request   catalog.Request
	Actor     string // who asked for it
	Requested uint64 // position of deploy.requested: the queue order
	Started   bool   // claimed once
	Running   bool   // started or resumed, with no terminal event since
	Terminal  string // the last terminal event type, "" if none yet
	Cancel    bool   // a cancel was requested during the current run
	OnVersion map[string]bool
	Failed    map[string]bool
}

// State returns the deployment's state word: StateQueued, StateRunning,
// or succeeded, failed, cancelled or interrupted, after the type of its
// last terminal event.
func (d *deployState) State() string {
	switch {
	case d.Running:
		return StateRunning
	case d.Terminal == "":
		return StateQueued
	}
	return strings.TrimPrefix(d.Terminal, "deploy.")
}

// liveKey names one host of one environment.
type liveKey struct{ Project, Env, Host string }

// liveHost is what the log says a host runs.
type liveHost struct {
	Version    string
	Commit     string
	Deployment string
}

// lockState is the last event of a lock stream.
type lockState struct {
	Held    bool
	Event   catalog.LockEvent
	Version uint64 // stream version of the last event
}

// state is the fold of deploy/* and lock/* streams, applied in global
// order. It is fed both by Start's subscription and by catchUp before any
// call that reads it; apply skips what it has seen, so both may run.
type state struct {
	mu      sync.RWMutex
	pos     uint64
	deploys map[string]*deployState
	locks   map[string]*lockState
	live    map[liveKey]liveHost
}

func newState() *state {
	return &state{deploys: map[string]*deployState{}, locks: map[string]*lockState{},
		live: map[liveKey]liveHost{}}
}

// position is the last applied position.
func (s *state) position() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.pos
}

// apply folds one envelope; it returns false if the envelope was already
// applied. A payload that does not decode is skipped: the fold must not
// stop the runner over one malformed event.
func (s *state) apply(e events.Envelope) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.Position <= s.pos {
		return false
	}
	s.pos = e.Position
	switch {
	case strings.HasPrefix(e.Stream, catalog.DeployPrefix):
		s.applyDeploy(catalog.StreamID(e.Stream, catalog.DeployPrefix), e)
	case strings.HasPrefix(e.Stream, catalog.LockPrefix):
		s.applyLock(e)
	}
	return true
}

func (s *state) applyDeploy(id string, e events.Envelope) {
	d := s.deploys[id]
	if e.Type == catalog.TypeDeployRequested {
		var req catalog.Request
		if e.Decode(&req) != nil {
			return
		}
		s.deploys[id] = &deployState{ID: id, Request: req, Actor: e.Actor, Requested: e.Position,
			OnVersion: map[string]bool{}, Failed: map[string]bool{}}
		return
	}
	if d == nil {
		return
	}
	switch e.Type {
	case catalog.TypeDeployStarted, catalog.TypeDeployResumed:
		d.Started, d.Running, d.Terminal, d.Cancel = true, true, "", false
		d.Failed = map[string]bool{}
	case catalog.TypeDeployCancelRequested:
		d.Cancel = true
	case catalog.TypeHostSwitched, catalog.TypeHostReverted, catalog.TypeHostObserved:
		var h catalog.HostEvent
		if e.Decode(&h) != nil {
			return
		}
		d.OnVersion[h.Host] = h.Version != "" && h.Version == d.Request.Version
		if h.Version != "" || e.Type != catalog.TypeHostObserved {
			s.live[liveKey{h.Project, h.Environment, h.Host}] = liveHost{Version: h.Version, Commit: h.Commit, Deployment: id}
		}
	case catalog.TypeHostFailed:
		var h catalog.HostEvent
		if e.Decode(&h) == nil {
			d.Failed[h.Host] = true
		}
	default:
		if isTerminal(e.Type) {
			d.Running, d.Terminal = false, e.Type
		}
	}
}

func (s *state) applyLock(e events.Envelope) {
	var l catalog.LockEvent
	if e.Decode(&l) != nil {
		return
	}
	st := &lockState{Event: l, Version: e.Version}
	switch e.Type {
	case catalog.TypeLockAcquired:
		st.Held = true
	case catalog.TypeLockReleased, catalog.TypeLockBroken:
	default:
		if old := s.locks[e.Stream]; old != nil {
			st.Held, st.Event = old.Held, old.Event
		}
	}
	s.locks[e.Stream] = st
}

// deploy returns a copy of one deployment's state.
func (s *state) deploy(id string) (deployState, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d, ok := s.deploys[id]
	if !ok {
		return deployState{}, false
	}
	c := *d
	c.OnVersion = cloneSet(d.OnVersion)
	c.Failed = cloneSet(d.Failed)
	return c, true
}

// filter returns the ids of deployments matching keep, in request order.
func (s *state) filter(keep func(*deployState) bool) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var ds []*deployState
	for _, d := range s.deploys {
		if keep(d) {
			ds = append(ds, d)
		}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].Requested < ds[j].Requested })
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	return ids
}

// queued are deployments requested and never claimed, in request order.
func (s *state) queued() []string {
	return s.filter(func(d *deployState) bool { return !d.Started && d.Terminal == "" })
}

// unfinished are deployments whose last run has no terminal event.
func (s *state) unfinished() []string {
	return s.filter(func(d *deployState) bool { return d.Running })
}

// heldLocks returns the lock streams currently held, by stream name.
func (s *state) heldLocks() map[string]lockState {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[string]lockState{}
	for k, l := range s.locks {
		if l.Held {
			out[k] = *l
		}
	}
	return out
}

// liveVersion is what the log says host runs in project/env.
func (s *state) liveVersion(project, env, host string) (liveHost, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	l, ok := s.live[liveKey{project, env, host}]
	return l, ok
}

func cloneSet(m map[string]bool) map[string]bool {
	out := make(map[string]bool, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
