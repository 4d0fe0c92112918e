package projections

import "releasedesk/events"

// Change tells a live feed what an applied envelope touched, so it can
// say "release 42 changed" or "web1 of deployment d7 progressed"
// without diffing models. Fields that do not apply are empty. As JSON it
// carries only those names: the raw event (Envelope, whose data can be a
// step's whole output) stays out, as the audit export is for managers.
type Change struct {
	Envelope    events.Envelope `json:"-"` // its Data must not be modified
	Project     string          `json:"project,omitempty"`
	Environment string          `json:"environment,omitempty"`
	Release     string          `json:"release,omitempty"`
	Deployment  string          `json:"deployment,omitempty"`
	Host        string          `json:"host,omitempty"`
	Step        string          `json:"step,omitempty"`
}

// ChangeOf describes an envelope the set has already applied: the live
// feeds read the log by position and name what each envelope touched. The
// names come from the models as they are now; those it reads (a deployment's project,
// environment and release, a release's project) never change once set.
// An envelope past Position may lack them: ask only for applied ones.
// Safe to call from any goroutine.
func (s *Set) ChangeOf(e events.Envelope) Change {
	d := formatDecoders.Get().(*decoder) // no intern table: keeps nothing
	defer formatDecoders.Put(d)
	p, _ := d.decode(&e) // a malformed payload still names what its stream does
	if p == nil {
		p = &payload{}
	}
	// In the order applyBatch locks the models, so no deadlock with it.
	s.Releases.mu.RLock()
	defer s.Releases.mu.RUnlock()
	s.Deployments.mu.RLock()
	defer s.Deployments.mu.RUnlock()
	return s.change(&e, p)
}
