package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"releasedesk/app"
	"releasedesk/events"
	"releasedesk/events/catalog"
	"releasedesk/events/text"
	"releasedesk/projections"
)

// GET /api/v1/stream: the live feed, as Server-Sent Events. Each message
// is one applied log event:
//
//	id: <log position>
//	event: <kind>
//	data: {"position", "type", "time", "actor", "stream", and the names the
//	       event touched: project, environment, release, deployment, host,
//	       step; a step.output also carries its text}
//
// The kinds, a small fixed set a page subscribes to:
//
//	release     release.*
//	deployment  deploy.* but a host's progress
//	host        deploy.host_*, host.* (keys), lock.*, drift.*
//	step        step.started, step.finished
//	output      step.output (with "text": append it, no refetch)
//	project     project.*, version.*, rollback.*
//	user        user.*, token.* (names only, never the event's data)
//	other       anything else
//
// Messages stay small: besides an output's text, a page refetches the view
// it shows. The runner redacts secrets before an event is written, and no
// event's raw data is sent but an output's text.
//
// Each subscriber pulls from the log by position: it sends what the read
// models have applied after its last sent position, then waits for the
// next applied batch. The log is the buffer, so a slow subscriber costs
// the applier and the other subscribers nothing, and positions being
// gap-free, nothing is lost, reordered or sent twice. Only applied
// envelopes are sent, so their names (a deployment's project...) are
// known. A client resumes with Last-Event-ID (what EventSource sends on
// reconnecting) or ?since=<position>; with neither it gets only new events.

// defaultHeartbeat is how often an idle stream sends a comment, so proxies
// and browsers keep it open (ServerConfig.Heartbeat changes it).
const defaultHeartbeat = 15 * time.Second

// Bounds of one read from the log: it ends before the writes to the
// client, so a slow client never holds a log iterator open.
const (
	streamChunkEvents = 256
	streamChunkBytes  = 512 << 10
)

// StreamMessage is an SSE message's data.
type StreamMessage struct {
	Position uint64    `json:"position"`
	Type     string    `json:"type"`
	Time     time.Time `json:"time"`
	Actor    string    `json:"actor"`
	Stream   string    `json:"stream"`
	// The names the event touched.
	projections.Change `tstype:",extends"`
	Text               string `json:"text,omitempty"`      // step.output only
	Truncated          bool   `json:"truncated,omitempty"` // step.output only
}

func (s *Server) stream(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	if err := s.mayRead(u, app.ActionAuditRead); err != nil {
		return err
	}
	d := s.cfg.Desk
	last, err := streamStart(r, d.Set.Position())
	if err != nil {
		return err
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		return errors.New("stream: the response writer cannot flush")
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(d.Context(), cancel)() // the desk closing ends every stream

	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(w, "retry: 2000\n\n"); err != nil {
		return nil
	}
	flusher.Flush()

	var buf bytes.Buffer
	for {
		// The caller is checked again before each send: a token revoked,
		// a user disabled or a role taken away while the stream is open
		// ends it, with an event saying why (a client that reconnects
		// then gets the 401 or 403 itself).
		if err := s.streamAllowed(r); err != nil {
			if msg, jerr := json.Marshal(*toAPIError(err, languageOf(r))); jerr == nil {
				fmt.Fprintf(w, "event: unauthorized\ndata: %s\n\n", msg)
				flusher.Flush()
			}
			return nil
		}
		// Send all that is applied, a chunk at a time.
		for head := d.Set.Position(); last < head; {
			buf.Reset()
			next, err := streamChunk(ctx, d, last, head, &buf)
			if err != nil {
				if ctx.Err() == nil {
					s.log.WithError(err).Warn("stream: reading the log")
				}
				return nil // headers are sent: the client reconnects with its last id
			}
			if _, err := w.Write(buf.Bytes()); err != nil {
				return nil // the client went away
			}
			flusher.Flush()
			last = next
		}
		// Wait for the next applied batch, or ping when idle. WaitFor
		// cannot miss a batch that lands meanwhile: it compares positions.
		wait, done := context.WithTimeout(ctx, s.cfg.Heartbeat)
		err := d.Set.WaitFor(wait, last+1)
		done()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil { // idle for a heartbeat
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
				return nil
			}
			flusher.Flush()
		}
	}
}

// streamAllowed authenticates and authorizes the stream's caller again.
func (s *Server) streamAllowed(r *http.Request) error {
	u, err := s.authenticate(r, bearerOf(r.Context()), true)
	if err != nil {
		return err
	}
	return s.mayRead(u, app.ActionAuditRead)
}

// errChunkFull stops a chunk's read from the log.
var errChunkFull = errors.New("stream chunk full")

// streamChunk writes into buf the messages of the events after last up to
// head (at most one chunk) and returns the last position written.
func streamChunk(ctx context.Context, d *app.Desk, last, head uint64, buf *bytes.Buffer) (uint64, error) {
	n := 0
	return readChanges(ctx, d, last, head, func(c projections.Change) error {
		if n == streamChunkEvents || buf.Len() >= streamChunkBytes {
			return errChunkFull
		}
		n++
		return writeStreamMessage(buf, c)
	})
}

// readChanges calls fn with the change of each applied event after last up
// to head, in order, until fn returns errChunkFull (a normal end) or an
// error, and returns the last position fn took. It reads at least one.
func readChanges(ctx context.Context, d *app.Desk, last, head uint64, fn func(projections.Change) error) (uint64, error) {
	start := last
	err := d.Log.ReadAll(ctx, last+1, func(e events.Envelope) error {
		if e.Position > head {
			return errChunkFull
		}
		if e.Position != last+1 {
			return fmt.Errorf("the log skips from %d to %d", last, e.Position)
		}
		if err := fn(d.Set.ChangeOf(e)); err != nil {
			return err
		}
		last = e.Position
		return nil
	})
	if err != nil && !errors.Is(err, errChunkFull) {
		return last, err
	}
	if last == start {
		return last, fmt.Errorf("the log ends before position %d", last+1)
	}
	return last, nil
}

// writeStreamMessage appends c's envelope as one SSE message.
func writeStreamMessage(buf *bytes.Buffer, c projections.Change) error {
	kind, m := streamMessageOf(c)
	data, err := json.Marshal(m) // one line: JSON escapes newlines
	if err != nil {
		return err
	}
	fmt.Fprintf(buf, "id: %d\nevent: %s\ndata: %s\n\n", m.Position, kind, data)
	return nil
}

// streamMessageOf is c's kind and message: the same for the SSE stream and
// the desktop window's events.
func streamMessageOf(c projections.Change) (string, StreamMessage) {
	e := c.Envelope
	m := StreamMessage{Position: e.Position, Type: e.Type, Time: e.Time, Actor: e.Actor, Stream: e.Stream, Change: c}
	if e.Type == catalog.TypeStepOutput {
		var out catalog.StepOutput
		_ = json.Unmarshal(e.Data, &out) // a malformed one is sent without text
		m.Text, m.Truncated = out.Text, out.Truncated
	}
	return streamKind(e.Type), m
}

// streamKind is an event type's coarse kind (see the list above).
func streamKind(typ string) string {
	noun, _, _ := strings.Cut(typ, ".")
	switch {
	case typ == catalog.TypeStepOutput:
		return "output"
	case noun == "step":
		return "step"
	case strings.HasPrefix(typ, "deploy.host_"), noun == "host", noun == "lock", noun == "drift":
		return "host"
	case noun == "deploy":
		return "deployment"
	case noun == "release":
		return "release"
	case noun == "project", noun == "version", noun == "rollback":
		return "project"
	case noun == "user", noun == "token":
		return "user"
	}
	return "other"
}

// streamStart is the last position the client has: from Last-Event-ID
// (EventSource's reconnect, so it wins), ?since=, or else head.
func streamStart(r *http.Request, head uint64) (uint64, error) {
	field, v := "Last-Event-ID", r.Header.Get("Last-Event-ID")
	if v == "" {
		field, v = "since", r.URL.Query().Get("since")
	}
	if v == "" {
		return head, nil
	}
	n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, &app.InvalidError{Field: field, Reason: text.New("want a log position (a non-negative integer)")}
	}
	if n > head {
		return 0, &app.InvalidError{Field: field, Reason: text.New("position %d is past the log's end (%d)", n, head)}
	}
	return n, nil
}
