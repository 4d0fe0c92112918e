package projections

import (
	"sync"

	"releasedesk/events"
)

// Projection is one read model: a fold of the log in global order.
// Apply ignores an envelope at or below Position (so replays and
// overlapping feeds are harmless) and takes every time from the events,
// never from the clock. Its queries return copies: a caller never holds a
// model's own maps or slices.
type Projection interface {
	Apply(events.Envelope) error
	Position() uint64
}

// folder is a model's side of Set's fan-out: apply one already-decoded
// envelope with the model's lock held by the caller.
type folder interface {
	Projection
	lock()
	unlock()
	rlock()
	runlock()
	position() uint64
	apply(e *events.Envelope, p *payload, d *decoder) error
	setPosition(pos uint64)
}

// base is what every model embeds: its lock, its position and its own
// decoder for stand-alone Apply (Set shares one decoder for all).
type base struct {
	mu  sync.RWMutex
	pos uint64
	dec *decoder
}

func (b *base) lock()                  { b.mu.Lock() }
func (b *base) unlock()                { b.mu.Unlock() }
func (b *base) rlock()                 { b.mu.RLock() }
func (b *base) runlock()               { b.mu.RUnlock() }
func (b *base) position() uint64       { return b.pos }
func (b *base) setPosition(pos uint64) { b.pos = pos }

// Position is the last position the model applied.
func (b *base) Position() uint64 {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.pos
}

// applyOne is the stand-alone Apply of model m: decode with m's own
// decoder, fold, advance. A malformed event still advances the position.
func applyOne(m folder, b *base, e events.Envelope) error {
	m.lock()
	defer m.unlock()
	if e.Position <= b.pos {
		return nil
	}
	if b.dec == nil {
		b.dec = newDecoder()
	}
	b.pos = e.Position
	p, err := b.dec.decode(&e)
	if err != nil {
		return err
	}
	return m.apply(&e, p, b.dec)
}
