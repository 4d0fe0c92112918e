package events

import (
	"encoding/json"
	"fmt"
	"sync"
)

// Upcaster lifts one event type's data from schema N to N+1.
type Upcaster func(data json.RawMessage) (json.RawMessage, error)

// Upcasters is a registry of schema steps per event type. Stored events are
// never rewritten: old shapes are lifted on read, one step at a time, until
// no further step is registered.
type Upcasters struct {
	mu    sync.RWMutex
	steps map[upcastKey]Upcaster
}

type upcastKey struct {
	typ  string
	from int
}

// NewUpcasters returns an empty registry.
func NewUpcasters() *Upcasters { return &Upcasters{steps: map[upcastKey]Upcaster{}} }

// Register adds the step that lifts typ from schema from to from+1.
// Registering the same step twice is a programming error and is refused.
func (u *Upcasters) Register(typ string, from int, step Upcaster) error {
	if typ == "" || from < 1 || step == nil {
		return fmt.Errorf("events: upcaster for %q from schema %d: type, schema >= 1 and a function are required", typ, from)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	k := upcastKey{typ, from}
	if _, dup := u.steps[k]; dup {
		return fmt.Errorf("events: upcaster for %q from schema %d registered twice", typ, from)
	}
	u.steps[k] = step
	return nil
}

// Upcast returns e lifted to the newest schema its type has steps for. A nil
// registry returns e unchanged. Hash and PrevHash keep the stored values:
// they cover the stored bytes, which Verify reads raw.
func (u *Upcasters) Upcast(e Envelope) (Envelope, error) {
	if u == nil {
		return e, nil
	}
	u.mu.RLock()
	defer u.mu.RUnlock()
	for {
		step, ok := u.steps[upcastKey{e.Type, e.Schema}]
		if !ok {
			return e, nil
		}
		data, err := step(e.Data)
		if err != nil {
			return e, fmt.Errorf("events: upcast %s at position %d from schema %d: %w", e.Type, e.Position, e.Schema, err)
		}
		e.Data = data
		e.Schema++
	}
}
