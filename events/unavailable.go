package events

import (
	"context"
	"fmt"
)

// Unavailable stands in for a log that cannot be opened at all (a damaged
// table, say), so the app can still serve what it saved of its views
// read-only and say what is wrong. Its head is the position those views
// reached; every read and append fails with the reason, which matches
// ErrReadOnly for appends and the reason's own sentinel for reads.
type Unavailable struct {
	head   Head
	reason error
}

// NewUnavailable returns a log that answers every call with reason.
func NewUnavailable(head Head, reason error) *Unavailable {
	return &Unavailable{head: head, reason: reason}
}

var _ Log = (*Unavailable)(nil)

func (u *Unavailable) err() error { return fmt.Errorf("events: the log cannot be read: %w", u.reason) }

func (u *Unavailable) ReadStream(context.Context, string, uint64) ([]Envelope, error) {
	return nil, u.err()
}

func (u *Unavailable) StreamHead(context.Context, string) (StreamHead, error) {
	return StreamHead{}, u.err()
}

func (u *Unavailable) ReadAll(context.Context, uint64, func(Envelope) error) error { return u.err() }

func (u *Unavailable) ReadRaw(context.Context, uint64, func(Envelope) error) error { return u.err() }

func (u *Unavailable) Head() Head { return u.head }

func (u *Unavailable) DurableHead() (Head, error) { return Head{}, u.err() }

func (u *Unavailable) Stats(context.Context) (Stats, error) { return Stats{}, u.err() }

func (u *Unavailable) Append(context.Context, string, int64, ...Event) ([]Envelope, error) {
	return nil, &readOnlyError{reason: u.reason.Error()}
}

// Subscribe returns a subscription already ended with the reason.
func (u *Unavailable) Subscribe(context.Context, uint64) *Subscription {
	ch := make(chan Envelope)
	close(ch)
	sub := &Subscription{C: ch, done: make(chan struct{}), err: u.err()}
	close(sub.done)
	return sub
}

// Problem is the reason: appends are always refused.
func (u *Unavailable) Problem() error { return &readOnlyError{reason: u.reason.Error()} }

func (u *Unavailable) Close() error { return nil }
