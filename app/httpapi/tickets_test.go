package httpapi_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"releasedesk/app/httpapi/apitest"
)

// ticketFor asks for a stream ticket with token's session.
func ticketFor(e *apitest.Env, token string) string {
	e.T.Helper()
	r := e.Must(http.StatusOK, "POST", "/api/v1/stream/ticket", token, nil)
	tk := apitest.Str(r.Body, "ticket")
	if !strings.HasPrefix(tk, "rdt_") || strings.Contains(tk, token) {
		e.T.Fatalf("a ticket: %s", r.Raw)
	}
	return tk
}

// settableClock is a server clock a test moves by hand.
type settableClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *settableClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *settableClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// TestStreamTickets: a ticket opens one stream, within its seconds, for
// the user it was issued to; a reused, expired, unknown or other user's
// ticket is refused with 401, and a ticket is no bearer token elsewhere.
func TestStreamTickets(t *testing.T) {
	clock := &settableClock{now: time.Now()}
	e := apitest.New(t, apitest.Options{NoRunner: true, Now: clock.Now})
	root := e.Login("root", apitest.RootPassword)
	ann := e.AddUser(root, "ann", true, nil)

	refused := func(what, path, token, want string) {
		t.Helper()
		r := e.Call("GET", path, token, nil)
		if r.Status != http.StatusUnauthorized || !strings.Contains(r.ErrMessage(), want) {
			t.Errorf("%s: %d %s, want 401 saying %q", what, r.Status, r.Raw, want)
		}
	}

	// Reused: the first use spends it, even though the stream is open.
	tk := ticketFor(e, root)
	openStream(e, "?ticket="+tk, "", "")
	refused("a reused ticket", "/api/v1/stream?ticket="+tk, "", "unknown or used already")

	// Expired: issued, then not used within its seconds.
	tk = ticketFor(e, root)
	clock.Add(16 * time.Second)
	refused("an expired ticket", "/api/v1/stream?ticket="+tk, "", "expired")
	refused("an expired ticket, asked again", "/api/v1/stream?ticket="+tk, "", "unknown or used already")

	// Another user's: ann holds root's ticket and presents it with her own session.
	tk = ticketFor(e, root)
	refused("another user's ticket", "/api/v1/stream?ticket="+tk, ann, "issued to another user")
	// The same person's second session may carry it.
	root2 := e.Login("root", apitest.RootPassword)
	openStream(e, "?ticket="+ticketFor(e, root), root2, "")

	// Made up, and a ticket where a bearer token goes.
	refused("a made-up ticket", "/api/v1/stream?ticket=rdt_AAAAAAAAAAAAAAAAAAAAAAAAAA", "", "unknown or used already")
	tk = ticketFor(e, root)
	refused("a ticket as a bearer token", "/api/v1/me", tk, "")
	refused("a ticket on another route", "/api/v1/me?ticket="+tk, "", "")

	// A revoked session's ticket is worth nothing either.
	gone := e.Login("root", apitest.RootPassword)
	tk = ticketFor(e, gone)
	e.Must(http.StatusNoContent, "POST", "/api/v1/logout", gone, nil)
	refused("the ticket of a session since ended", "/api/v1/stream?ticket="+tk, "", "revoked")
}
