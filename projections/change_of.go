package projections

import "releasedesk/events"

// ChangeOf describes an envelope the set has already applied: the live
// feeds read the log by position and name what each envelope touched. The names come from
// the models as they are now; those it reads (a deployment's project,
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
