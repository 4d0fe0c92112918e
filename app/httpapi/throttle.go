package httpapi

import (
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"releasedesk/app"
	"releasedesk/events/text"
)

// Accounts lock after failed logins (app.Auth), but password spraying tries
// one password on many names, never tripping an account. So failed logins
// are also counted per source address: a burst of loginBurst failures,
// then one more per loginEvery. Only failures spend the budget: a team
// behind one address that signs in correctly is never held up.
const (
	loginBurst = 20
	loginEvery = 6 * time.Second // 10 a minute once the burst is spent
	// loginAddressesKept bounds the memory an address flood can take; past
	// it, addresses whose budget is whole again are forgotten.
	loginAddressesKept = 10000
)

// addressThrottle is the failed-login budget of each source address.
type addressThrottle struct {
	mu  sync.Mutex
	now func() time.Time
	m   map[string]*rate.Limiter
}

func newAddressThrottle(now func() time.Time) *addressThrottle {
	return &addressThrottle{now: now, m: map[string]*rate.Limiter{}}
}

// wait is how long addr must wait before its next login attempt (0: none).
func (t *addressThrottle) wait(addr string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	l, ok := t.m[addr]
	if !ok {
		return 0
	}
	tokens := l.TokensAt(t.now())
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) * float64(loginEvery))
}

// failed spends one of addr's budget.
func (t *addressThrottle) failed(addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	l, ok := t.m[addr]
	if !ok {
		if len(t.m) >= loginAddressesKept {
			for a, other := range t.m {
				if other.TokensAt(now) >= loginBurst {
					delete(t.m, a)
				}
			}
		}
		l = rate.NewLimiter(rate.Every(loginEvery), loginBurst)
		t.m[addr] = l
	}
	l.AllowN(now, 1)
}

// sourceAddress is the address a request came from, without its port.
// Behind a reverse proxy that is the proxy's: the desk trusts no
// forwarded-for header, which any client could forge.
func sourceAddress(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

// errThrottled is the 429 of an address out of budget, with Retry-After.
func errThrottled(w http.ResponseWriter, addr string, wait time.Duration) error {
	secs := app.WholeSeconds(wait)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	return refusal(http.StatusTooManyRequests, "throttled",
		text.New("too many failed sign-ins from %s: try again in %d s", addr, secs))
}
