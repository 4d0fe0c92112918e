package httpapi

import (
	"context"
	"net/http"
	"sync"
	"time"

	"releasedesk/app"
	"releasedesk/events/text"
)

// A browser's EventSource cannot send an Authorization header, and a
// session token in the stream's URL would be kept by proxies, logs and
// history. So a page first asks for a ticket (POST /api/v1/stream/ticket,
// with its bearer header), then opens /api/v1/stream?ticket=...: the
// ticket is good once, for ticketTTL, and stands for the session that
// asked for it. A leaked ticket is worth nothing a moment later.
//
// Tickets live in this process's memory: the POST and the GET must reach
// the same server (with several instances, route /api/v1/stream* sticky).

// ticketTTL is how long a ticket waits for its stream to open.
const ticketTTL = 15 * time.Second

// ticket is what a ticket stands for.
type ticket struct {
	user    string
	bearer  string // the session's Authorization header, re-checked as the stream runs
	expires time.Time
}

// ticketBook holds the tickets not yet used.
type ticketBook struct {
	mu  sync.Mutex
	now func() time.Time
	m   map[string]ticket
}

func newTicketBook(now func() time.Time) *ticketBook {
	return &ticketBook{now: now, m: map[string]ticket{}}
}

// issue makes a ticket for user's session (bearer), and forgets the
// expired ones, so the book stays as small as the tickets in flight.
func (b *ticketBook) issue(user, bearer string) (string, time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	for k, t := range b.m {
		if !now.Before(t.expires) {
			delete(b.m, k)
		}
	}
	id := newSecret("rdt_")
	t := ticket{user: user, bearer: bearer, expires: now.Add(ticketTTL)}
	b.m[id] = t
	return id, t.expires
}

// take spends a ticket: it is gone whether or not it was still good.
func (b *ticketBook) take(id string) (ticket, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.m[id]
	delete(b.m, id)
	switch {
	case !ok:
		return ticket{}, &app.UnauthorizedError{Reason: text.New("ticket: unknown or used already; ask for a new one (POST /api/v1/stream/ticket)")}
	case !b.now().Before(t.expires):
		return ticket{}, &app.UnauthorizedError{Reason: text.New("ticket: expired; ask for a new one (POST /api/v1/stream/ticket)")}
	}
	return t, nil
}

// StreamTicket is POST /api/v1/stream/ticket's answer.
type StreamTicket struct {
	Ticket    string    `json:"ticket"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (s *Server) streamTicket(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	if err := s.mayRead(u, app.ActionAuditRead); err != nil {
		return err
	}
	id, expires := s.tickets.issue(u.Name, bearerOf(r.Context()))
	writeJSON(w, http.StatusOK, StreamTicket{Ticket: id, ExpiresAt: expires.UTC()})
	return nil
}

// bearerKey carries the Authorization header a request was authenticated
// with (a ticket's, on the stream), so the stream can check it again.
type bearerKey struct{}

func withBearer(ctx context.Context, bearer string) context.Context {
	return context.WithValue(ctx, bearerKey{}, bearer)
}

func bearerOf(ctx context.Context) string {
	b, _ := ctx.Value(bearerKey{}).(string)
	return b
}
