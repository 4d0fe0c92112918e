package projections

import (
	"reflect"
	"sync"
	"testing"

	"releasedesk/events"
)

// TestChangeOf: for every envelope of a rich log, ChangeOf on the built
// set names what OnApply named when the envelope was applied.
func TestChangeOf(t *testing.T) {
	f := newMemFlow(t)
	f.richLog()
	s := NewSet()
	var mu sync.Mutex
	live := map[uint64]Change{}
	remove := s.OnApply(func(c Change) {
		mu.Lock()
		defer mu.Unlock()
		live[c.Envelope.Position] = c
	})
	defer remove()
	if err := s.CatchUp(f.ctx, f.log); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	head := f.log.Head().Position
	if uint64(len(live)) != head {
		t.Fatalf("OnApply saw %d envelopes, want %d", len(live), head)
	}
	named := map[string]int{}
	err := f.log.ReadAll(f.ctx, 1, func(e events.Envelope) error {
		got, want := s.ChangeOf(e), live[e.Position]
		if got.Envelope.Position != e.Position || got.Envelope.Hash != e.Hash {
			t.Fatalf("%d: ChangeOf carries envelope %d", e.Position, got.Envelope.Position)
		}
		got.Envelope, want.Envelope = events.Envelope{}, events.Envelope{}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%d %s: ChangeOf %+v, OnApply %+v", e.Position, e.Type, got, want)
		}
		for k, v := range map[string]string{"project": got.Project, "release": got.Release,
			"deployment": got.Deployment, "host": got.Host, "step": got.Step} {
			if v != "" {
				named[k]++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"project", "release", "deployment", "host", "step"} {
		if named[k] == 0 {
			t.Fatalf("no change named a %s: the log does not exercise it (%v)", k, named)
		}
	}
}
