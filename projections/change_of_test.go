package projections

import (
	"reflect"
	"testing"

	"releasedesk/events"
)

// TestChangeOf: for every envelope of a rich log, ChangeOf on the built
// set names what it named right after the envelope was applied: the names
// a live feed reads later never change once set.
func TestChangeOf(t *testing.T) {
	f := newMemFlow(t)
	f.richLog()
	s := NewSet()
	atApply := map[uint64]Change{}
	err := f.log.ReadAll(f.ctx, 1, func(e events.Envelope) error {
		if err := s.Apply(e); err != nil {
			return err
		}
		atApply[e.Position] = s.ChangeOf(e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]int{}
	err = f.log.ReadAll(f.ctx, 1, func(e events.Envelope) error {
		got, want := s.ChangeOf(e), atApply[e.Position]
		if got.Envelope.Position != e.Position || got.Envelope.Hash != e.Hash {
			t.Fatalf("%d: ChangeOf carries envelope %d", e.Position, got.Envelope.Position)
		}
		got.Envelope, want.Envelope = events.Envelope{}, events.Envelope{}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%d %s: ChangeOf now %+v, when applied %+v", e.Position, e.Type, got, want)
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
