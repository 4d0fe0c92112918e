package app

import (
	"context"
	"time"
)

// DriftDue runs one turn of the periodic drift check as if the clock said
// now, and returns the environments it checked ("project/environment"):
// the schedule's own turns come every driftTick of the real clock.
func (d *Desk) DriftDue(ctx context.Context, now time.Time) []string { return d.driftDue(ctx, now) }

// ScheduleDrift is the schedule's loop, to see it end with its context.
func (d *Desk) ScheduleDrift(ctx context.Context) { d.scheduleDrift(ctx) }

// SendsMessages tells whether this desk's outbox runs (on PostgreSQL, only
// the instance holding the outbox's lock).
func (d *Desk) SendsMessages() bool {
	d.outboxMu.Lock()
	defer d.outboxMu.Unlock()
	return d.outbox != nil
}

// SetOutboxLeadEvery shortens how often instances look for the outbox's
// lock; it returns the old value.
func SetOutboxLeadEvery(every time.Duration) time.Duration {
	old := outboxLeadEvery
	outboxLeadEvery = every
	return old
}
