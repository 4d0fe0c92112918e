package httpapi

import (
	"context"
	"errors"

	"releasedesk/app"
	"releasedesk/projections"
)

// FollowChanges is the live stream for a consumer in this process (the
// desktop window, which a Wails response cannot stream to): it calls emit
// with the kind and message of every event
// applied after the read models' position at the call, in order, until ctx
// ends. It reads from the log by position like a stream subscriber, so a
// slow emit costs the applier nothing and nothing is skipped.
func FollowChanges(ctx context.Context, d *app.Desk, emit func(kind string, m StreamMessage)) error {
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
