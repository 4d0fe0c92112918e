package outbox

import (
	"context"
	"time"

	"releasedesk/app/notify"
)

// limiter keeps a channel within its vendor's limits: at most Messages
// sends in any window of Per (a sliding window, as the vendors count; a
// token bucket would allow a burst over the limit at a minute's turn).
// Only its channel's worker uses it.
type limiter struct {
	limits []notify.Limit
	sent   []time.Time // the last sends, oldest first, as many as the largest limit
	now    func() time.Time
}

func newLimiter(limits []notify.Limit, now func() time.Time) *limiter {
	return &limiter{limits: limits, now: now}
}

// wait returns when one more message may go, or when ctx ends.
func (l *limiter) wait(ctx context.Context) error {
	for {
		d := l.delay()
		if d <= 0 {
			return nil
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// delay is how long until one more send keeps within every limit.
func (l *limiter) delay() time.Duration {
	now := l.now()
	var d time.Duration
	for _, lim := range l.limits {
		if len(l.sent) < lim.Messages {
			continue
		}
		// The send lim.Messages back must have left the window.
		oldest := l.sent[len(l.sent)-lim.Messages]
		d = max(d, oldest.Add(lim.Per).Sub(now))
	}
	return d
}

// took records a send.
func (l *limiter) took() {
	keep := 0
	for _, lim := range l.limits {
		keep = max(keep, lim.Messages)
	}
	if keep == 0 {
		return
	}
	l.sent = append(l.sent, l.now())
	if len(l.sent) > keep {
		l.sent = append(l.sent[:0], l.sent[len(l.sent)-keep:]...)
	}
}
