package outbox

import (
	"context"
	"sort"
	"sync"
	"time"
)

// worker sends one channel's messages, one at a time, in the order of
// their events as far as their retries allow: a message waiting for its
// next attempt does not hold back the ones after it.
type worker struct {
	o       *Outbox
	limiter *limiter

	mu    sync.Mutex
	queue []*pending // by due, then position
	wake  chan struct{}
}

// pending is a delivery with its attempts so far.
type pending struct {
	Delivery
	attempts int       // made so far
	due      time.Time // of the next
}

func newWorker(o *Outbox, kind string) *worker {
	return &worker{o: o, limiter: newLimiter(o.cfg.Limits(kind), o.cfg.Now), wake: make(chan struct{}, 1)}
}

func (w *worker) add(p *pending) {
	w.mu.Lock()
	i := sort.Search(len(w.queue), func(i int) bool { return before(p, w.queue[i]) })
	w.queue = append(w.queue, nil)
	copy(w.queue[i+1:], w.queue[i:])
	w.queue[i] = p
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func before(a, b *pending) bool {
	if !a.due.Equal(b.due) {
		return a.due.Before(b.due)
	}
	return a.Position < b.Position
}

// next takes the first message if it is due, else says how long until it is.
func (w *worker) next(now time.Time) (p *pending, wait time.Duration, empty bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.queue) == 0 {
		return nil, 0, true
	}
	if d := w.queue[0].due.Sub(now); d > 0 {
		return nil, d, false
	}
	p = w.queue[0]
	w.queue = w.queue[1:]
	return p, 0, false
}

func (w *worker) size() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.queue)
}

func (w *worker) run(ctx context.Context) {
	for ctx.Err() == nil { // an attempt outlives the stop (ShutdownGrace): no new one after it
		p, wait, empty := w.next(w.o.cfg.Now())
		if p == nil {
			if !w.sleep(ctx, wait, empty) {
				return
			}
			continue
		}
		if err := w.limiter.wait(ctx); err != nil {
			return
		}
		w.limiter.took()
		if again := w.o.attempt(ctx, p); again {
			w.add(p)
		}
	}
}

// sleep waits for a message to be added, or for wait unless the queue is
// empty; false when ctx ended.
func (w *worker) sleep(ctx context.Context, wait time.Duration, empty bool) bool {
	var timer <-chan time.Time
	if !empty {
		t := time.NewTimer(wait)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-ctx.Done():
		return false
	case <-w.wake:
	case <-timer:
	}
	return true
}
