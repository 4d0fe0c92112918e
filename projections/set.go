package projections

import (
	"context"
	"errors"
	"sync"

	"releasedesk/events"
	"releasedesk/events/catalog"
)

// Set is every read model of the app, folded together: one decode per
// envelope, fanned out to each model in global order. The app builds it
// at start (Build, or a checkpoint and CatchUp), keeps it live with
// Follow, and reads the models through their own methods.
type Set struct {
	Projects    *Projects
	Users       *Users
	Releases    *Releases
	Deployments *Deployments
	Versions    *Versions
	Hosts       *Hosts
	Audit       *Audit
	Queue       *Queue
	// Notifications are the messages the outbox sent, per release and channel.
	Notifications *Notifications

	// applying is held by whoever folds events (one at a time) and by
	// SaveCheckpoint; mu guards what follows it, and is held only to
	// read or publish them, so a reader of the position never waits
	// for a fold. The models have their own locks for their readers.
	applying sync.Mutex
	mu       sync.RWMutex
	pos      uint64
	hash     string // of the event at pos
	dec      *decoder
	models   []folder
	skipped  uint64 // malformed events
	lastErr  error
	changed  chan struct{} // closed and replaced after each applied batch
}

// NewSet returns an empty set of models.
func NewSet() *Set {
	s := &Set{Projects: NewProjects(), Users: NewUsers(), Releases: NewReleases(), Deployments: NewDeployments(),
		Versions: NewVersions(), Hosts: NewHosts(), Audit: NewAudit(), Queue: NewQueue(), Notifications: NewNotifications(),
		dec: newDecoder(), changed: make(chan struct{})}
	s.models = []folder{s.Projects, s.Users, s.Releases, s.Deployments, s.Versions, s.Hosts, s.Audit, s.Queue, s.Notifications}
	return s
}

// Position is the last position applied to every model.
func (s *Set) Position() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.pos
}

// Head is the last position applied and that event's hash.
func (s *Set) Head() events.Head {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return events.Head{Position: s.pos, Hash: s.hash}
}

// Skipped returns how many events could not be read (ErrMalformed) and the
// last such error. They were skipped; everything else was folded.
func (s *Set) Skipped() (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.skipped, s.lastErr
}

// WaitFor returns once position is applied (the app waits for its own
// append to be visible before answering), or when ctx ends.
func (s *Set) WaitFor(ctx context.Context, position uint64) error {
	for {
		s.mu.RLock()
		pos, ch := s.pos, s.changed
		s.mu.RUnlock()
		if pos >= position {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Apply folds one envelope into every model. An envelope at or below
// Position is ignored. A malformed payload is skipped (the error, wrapping
// ErrMalformed, is returned and counted) and the position still advances.
func (s *Set) Apply(e events.Envelope) error {
	return s.applyBatch([]events.Envelope{e}, lockPerFold)
}

// lockScope is how long applyBatch holds the models' locks.
type lockScope int

const (
	// lockPerFold: each model is locked only while it folds one
	// envelope, so a reader waits at most for that (the live feed,
	// Follow, folds while the API reads). Locking every model for a
	// whole batch made the readers of any model wait for the batch, and
	// for the slowest reader of a model locked later: while the fold
	// waited for a long read of the deployments, it held the users, and
	// every request's authentication waited with it.
	lockPerFold lockScope = iota
	// lockPerBatch: every model is locked once for the batch, the
	// cheapest for a replay of the log (CatchUp, at the start), which
	// nobody reads meanwhile.
	lockPerBatch
)

// applyBatch folds envelopes in order, the models locked as scope says,
// then publishes the new position.
func (s *Set) applyBatch(envs []events.Envelope, scope lockScope) error {
	var firstErr error

	s.applying.Lock()
	defer s.applying.Unlock()
	whole := scope == lockPerBatch
	if whole {
		for _, m := range s.models {
			m.lock()
		}
	}
	pos, hash, skipped, lastErr := s.pos, s.hash, s.skipped, s.lastErr // only appliers write them
	for i := range envs {
		e := &envs[i]
		if e.Position <= pos {
			continue
		}
		p, err := s.dec.decode(e)
		if _, known := catalog.SpecOf(e.Type); err != nil && !known {
			err = nil // a type no model folds: its data is none of our business
		}
		for _, m := range s.models {
			if !whole {
				m.lock()
			}
			if e.Position > m.position() {
				m.setPosition(e.Position)
				if err == nil || m == folder(s.Audit) { // the audit row needs no data; the others skip the event
					if merr := m.apply(e, p, s.dec); merr != nil && err == nil {
						err = merr
					}
				}
			}
			if !whole {
				m.unlock()
			}
		}
		if err != nil {
			skipped++
			lastErr = err
			if firstErr == nil {
				firstErr = err
			}
		}
		pos, hash = e.Position, e.Hash
	}
	if whole {
		for i := len(s.models) - 1; i >= 0; i-- {
			s.models[i].unlock()
		}
	}
	s.mu.Lock()
	if pos != s.pos {
		s.pos, s.hash = pos, hash
		close(s.changed)
		s.changed = make(chan struct{})
	}
	s.skipped, s.lastErr = skipped, lastErr
	s.mu.Unlock()
	return firstErr
}

// change describes e; the models' locks are held.
func (s *Set) change(e *events.Envelope, p *payload) Change {
	c := Change{Envelope: *e, Project: p.Project, Environment: p.Environment, Host: p.hostName(), Step: p.stepID()}
	switch {
	case catalog.StreamID(e.Stream, catalog.DeployPrefix) != "":
		c.Deployment = catalog.StreamID(e.Stream, catalog.DeployPrefix)
		if ds := s.Deployments.byID[c.Deployment]; ds != nil {
			c.Project, c.Environment, c.Release = ds.d.Project, ds.d.Environment, ds.d.Release
		}
	case catalog.StreamID(e.Stream, catalog.ReleasePrefix) != "":
		c.Release = catalog.StreamID(e.Stream, catalog.ReleasePrefix)
		if rs := s.Releases.byID[c.Release]; rs != nil {
			c.Project = rs.r.Project
		}
	case catalog.StreamID(e.Stream, catalog.ProjectPrefix) != "":
		c.Project = catalog.StreamID(e.Stream, catalog.ProjectPrefix)
	}
	if e.Type == catalog.TypeReleaseDeployRequested {
		c.Deployment = p.Deployment
	}
	return c
}

// buildBatch is how many envelopes CatchUp hands the fold at a time.
const buildBatch = 1024

// Build replays the whole log into a new Set.
func Build(ctx context.Context, r events.Reader) (*Set, error) {
	s := NewSet()
	if err := s.CatchUp(ctx, r); err != nil {
		return nil, err
	}
	return s, nil
}

// CatchUp applies the log's events after Position, up to its head as
// read when it starts. Reading and folding overlap: the log is read on
// this goroutine while another folds the previous batch.
func (s *Set) CatchUp(ctx context.Context, r events.Reader) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	full := make(chan []events.Envelope, 2)
	free := make(chan []events.Envelope, 3)
	for range cap(free) {
		free <- make([]events.Envelope, 0, buildBatch)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for b := range full {
			_ = s.applyBatch(b, lockPerBatch) // malformed events are counted, not fatal
			clear(b)                          // drop the references to the events' data
			free <- b[:0]
		}
	}()
	buf := <-free
	err := r.ReadAll(ctx, s.Position()+1, func(e events.Envelope) error {
		buf = append(buf, e)
		if len(buf) == buildBatch {
			full <- buf
			select {
			case buf = <-free:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	if err == nil && len(buf) > 0 {
		full <- buf
	}
	close(full)
	<-done
	if err != nil {
		return err
	}
	return ctx.Err()
}

// subscriber is what Follow needs of a log (events.Store and MemStore).
type subscriber interface {
	Subscribe(ctx context.Context, fromPosition uint64) *events.Subscription
}

// followBatch bounds how many waiting envelopes Follow folds at once.
const followBatch = 256

// Follow keeps the set live: it subscribes from Position()+1 and applies
// every event as it commits, until ctx ends (it then returns ctx.Err()) or
// the subscription fails (its error). Events already waiting are folded
// together, the position published once per batch; each model is locked
// only while it folds one of them (lockPerFold). Run one Follow per
// Set, and no CatchUp meanwhile: both would apply correctly (Apply is
// idempotent), but the work would be done twice.
func (s *Set) Follow(ctx context.Context, l subscriber) error {
	sub := l.Subscribe(ctx, s.Position()+1)
	batch := make([]events.Envelope, 0, followBatch)
	for {
		e, ok := <-sub.C
		if !ok {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := sub.Err(); err != nil {
				return err
			}
			return errors.New("projections: subscription ended")
		}
		batch = append(batch[:0], e)
	drain:
		for len(batch) < followBatch {
			select {
			case e, ok := <-sub.C:
				if !ok {
					break drain
				}
				batch = append(batch, e)
			default:
				break drain
			}
		}
		_ = s.applyBatch(batch, lockPerFold)
		clear(batch)
	}
}

// Stats are figures of a Set for logs and health checks.
type Stats struct {
	Position    uint64 `json:"position"`
	Events      int    `json:"events"` // audit rows indexed
	Projects    int    `json:"projects"`
	Users       int    `json:"users"`
	Releases    int    `json:"releases"`
	Deployments int    `json:"deployments"`
	Steps       int    `json:"steps"`
	OutputBytes int    `json:"output_bytes"`
	Skipped     uint64 `json:"skipped"`
}

// Stats counts what the set holds.
func (s *Set) Stats() Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := Stats{Position: s.pos, Skipped: s.skipped}
	st.Events = s.Audit.Len()
	s.Projects.mu.RLock()
	st.Projects = len(s.Projects.byID)
	s.Projects.mu.RUnlock()
	st.Users = s.Users.Count()
	s.Releases.mu.RLock()
	st.Releases = len(s.Releases.byID)
	s.Releases.mu.RUnlock()
	s.Deployments.mu.RLock()
	st.Deployments = len(s.Deployments.byID)
	for _, ds := range s.Deployments.order {
		st.Steps += len(ds.steps)
		for _, out := range ds.outs {
			st.OutputBytes += len(out)
		}
	}
	s.Deployments.mu.RUnlock()
	return st
}
