package events

import (
	"context"
	"fmt"
	"sync"
)

// subscriptionBuffer is the capacity of a subscription's channel: enough to
// keep a fast consumer from waking its producer for every event, small
// enough that a stalled consumer holds little memory.
const subscriptionBuffer = 64

// subscriptionChunk is how many events a subscription reads at a time. The
// read finishes before any event is sent, so a slow consumer never keeps a
// Badger iterator (and the memtables it pins) open.
const subscriptionChunk = 256

// rangeReader returns the events at positions from..to (inclusive), at most
// limit of them, in order and upcast. Both stores provide one.
type rangeReader func(ctx context.Context, from, to uint64, limit int) ([]Envelope, error)

// feed tells subscriptions that the log grew. A commit publishes the new head
// and closes-and-replaces changed; each subscription reads the log itself up
// to the published head, so a commit never waits for a subscriber and a slow
// subscriber only delays itself.
type feed struct {
	mu       sync.Mutex
	head     uint64
	changed  chan struct{}
	closed   chan struct{}
	isClosed bool
	subs     sync.WaitGroup
}

func newFeed(head uint64) *feed {
	return &feed{head: head, changed: make(chan struct{}), closed: make(chan struct{})}
}

// publish announces that everything up to head is committed and readable.
// Call it after the commit, never inside the transaction.
func (f *feed) publish(head uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if head <= f.head {
		return
	}
	f.head = head
	close(f.changed)
	f.changed = make(chan struct{})
}

// current returns the published head and the channel closed at the next publish.
func (f *feed) current() (uint64, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.head, f.changed
}

// close ends every subscription with ErrClosed and waits until their
// goroutines have stopped reading, so the caller can then close the storage.
func (f *feed) close() {
	f.mu.Lock()
	if !f.isClosed {
		f.isClosed = true
		close(f.closed)
	}
	f.mu.Unlock()
	f.subs.Wait()
}

// subscribe starts a subscription delivering positions from fromPosition on
// (0 means 1): catch-up by reading in chunks, then live by waiting for the
// next publish.
func (f *feed) subscribe(ctx context.Context, fromPosition uint64, read rangeReader) *Subscription {
	ch := make(chan Envelope, subscriptionBuffer)
	sub := &Subscription{C: ch, done: make(chan struct{})}
	finish := func(err error) {
		sub.err = err
		close(sub.done)
		close(ch)
	}
	f.mu.Lock()
	if f.isClosed {
		f.mu.Unlock()
		finish(ErrClosed)
		return sub
	}
	f.subs.Add(1)
	f.mu.Unlock()

	next := max(fromPosition, 1)
	go func() {
		defer f.subs.Done()
		finish(f.run(ctx, next, read, ch))
	}()
	return sub
}

// run is the subscription loop; it returns why the subscription ended.
func (f *feed) run(ctx context.Context, next uint64, read rangeReader, ch chan<- Envelope) error {
	for {
		head, changed := f.current()
		for next <= head {
			if err := f.stopped(ctx); err != nil {
				return err
			}
			batch, err := read(ctx, next, head, subscriptionChunk)
			if err != nil {
				return err
			}
			if len(batch) == 0 {
				return fmt.Errorf("events: subscription found no event at position %d below the head %d", next, head)
			}
			for _, e := range batch {
				if e.Position != next {
					return fmt.Errorf("events: subscription expected position %d, read %d", next, e.Position)
				}
				select {
				case ch <- e:
					next++
				case <-ctx.Done():
					return ctx.Err()
				case <-f.closed:
					return ErrClosed
				}
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-f.closed:
			return ErrClosed
		}
	}
}

// stopped reports a cancelled context or a closed log, closed first.
func (f *feed) stopped(ctx context.Context) error {
	select {
	case <-f.closed:
		return ErrClosed
	default:
	}
	return ctx.Err()
}
