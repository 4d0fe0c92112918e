package app

import (
	"context"
	"errors"

	"releasedesk/events"
	"releasedesk/events/text"
	"releasedesk/projections"
)

// streamLog is what deciding and appending needs of the event log.
type streamLog interface {
	Append(ctx context.Context, stream string, expectedVersion int64, evs ...events.Event) ([]events.Envelope, error)
	StreamHead(ctx context.Context, stream string) (events.StreamHead, error)
}

// appender writes decisions: it appends at a stream's expected version and
// waits until the read models hold the events, so that the next decision,
// made on the read models, sees them. The Desk and Auth share this one way
// of writing.
type appender struct {
	log streamLog
	set *projections.Set
}

// at appends evs at the expected version (or events.NoStream /
// events.AnyVersion). A lost race is a *ConflictError.
func (w appender) at(ctx context.Context, stream string, expected int64, evs ...events.Event) ([]events.Envelope, error) {
	envs, err := w.log.Append(ctx, stream, expected, evs...)
	if err != nil {
		if errors.Is(err, events.ErrConcurrency) {
			return nil, &ConflictError{Message: text.New("%s changed meanwhile; reload and try again", stream), Err: err}
		}
		return nil, err
	}
	return envs, w.set.WaitFor(ctx, envs[len(envs)-1].Position)
}

// next appends evs after the stream's last event (its head, read without
// reading the stream): for a caller that decided under the command lock
// on read models caught up with the log.
func (w appender) next(ctx context.Context, stream string, evs ...events.Event) ([]events.Envelope, error) {
	head, err := w.log.StreamHead(ctx, stream)
	if err != nil {
		return nil, err
	}
	return w.at(ctx, stream, int64(head.Version), evs...)
}
