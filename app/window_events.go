package app

import (
	"context"
	"errors"

	"releasedesk/projections"
)

// WindowEventName is the Wails event the desktop window's page listens to:
// the same messages as the SSE stream (kind, message), since a Wails
// AssetServer response cannot stream.
const WindowEventName = "releasedesk:event"

// followChanges calls emit with the kind and message of every event
// applied after the read models' position at the call, in order, until ctx
// ends. It reads from the log by position like a stream subscriber, so a
// slow emit costs the applier nothing and nothing is skipped.
func followChanges(ctx context.Context, d *Desk, emit func(kind string, m streamMessage)) error {
	last := d.Set.Position()
	for {
		for head := d.Set.Position(); last < head; {
			next, err := readChanges(ctx, d, last, head, func(c projections.Change) error {
				emit(streamMessageOf(c))
				return nil
			})
			if err != nil {
				return err
			}
			last = next
		}
		if err := d.Set.WaitFor(ctx, last+1); err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return nil
			}
			return err
		}
	}
}
