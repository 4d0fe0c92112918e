package outbox

import "time"

// Retry is how a failed delivery is tried again: after First, then twice
// as long each time up to Max, until GiveUp after its event.
type Retry struct {
	First  time.Duration
	Max    time.Duration
	GiveUp time.Duration
}

// DefaultRetry tries again after 10 s, 20 s, 40 s ... at most every 30
// minutes, for a day: a chat robot down for a night still gets the
// morning's messages, and a lasting outage costs about 60 attempts.
var DefaultRetry = Retry{First: 10 * time.Second, Max: 30 * time.Minute, GiveUp: 24 * time.Hour}

// after is the wait before the attempt that follows attempt number n
// (1 for the first), at least what the receiver asked for.
func (r Retry) after(n int, asked time.Duration) time.Duration {
	d := r.First
	for i := 1; i < n && d < r.Max; i++ {
		d *= 2
	}
	return max(min(d, r.Max), asked)
}

func (r Retry) withDefaults() Retry {
	if r.First <= 0 {
		r.First = DefaultRetry.First
	}
	if r.Max <= 0 {
		r.Max = max(DefaultRetry.Max, r.First)
	}
	if r.GiveUp <= 0 {
		r.GiveUp = DefaultRetry.GiveUp
	}
	return r
}
