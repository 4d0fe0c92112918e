package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"releasedesk/app"
	"releasedesk/app/projectconfig"
	"releasedesk/events/text"
)

// The JSON API's plumbing: who is asking, reading a body strictly, and the
// one error shape. The routes are in api_routes.go.

// Body limits: a project configuration is the largest document taken.
const (
	maxBodyBytes    = 64 << 10
	maxProjectBytes = projectconfig.MaxSize + 4<<10
)

// apiFunc is a route's handler: it writes its answer, or returns an error
// written as {error: {code, message}} with its status.
type apiFunc func(w http.ResponseWriter, r *http.Request, u app.UserView) error

// access says who may call a route.
type access int

const (
	public   access = iota // anyone (login, health)
	signedIn               // a valid bearer token (in offline review, the review session: reads only)
	// reader: signed in, and a read even though POSTed, so offline review
	// may call it (the live stream's ticket).
	reader
)

// reviewer is who reads an archive in offline review: nobody signed in,
// shown as such, allowed to read everything and to write nothing.
var reviewer = app.UserView{Name: "offline-reviewer", Roles: map[string][]string{}}

// handle wraps an apiFunc with authentication and error writing.
func (s *Server) handle(acc access, h apiFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var u app.UserView
		if acc != public {
			bearer, err := s.bearer(r)
			if err == nil {
				u, err = s.authenticate(r, bearer, acc == reader || r.Method == http.MethodGet)
			}
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			r = r.WithContext(withBearer(r.Context(), bearer))
		}
		if r.URL.Path != "/api/v1/stream" {
			// Behind a load balancer the last request may have been
			// another instance's: what it wrote is read here.
			s.cfg.Desk.Current(r.Context())
		}
		if err := h(w, r, u); err != nil {
			s.writeError(w, r, err)
		}
	}
}

// bearer is the Authorization header a request authenticates with; on the
// live stream, a ticket stands for the header of the session it was issued
// to (tickets.go). Tokens are never taken from a URL.
func (s *Server) bearer(r *http.Request) (string, error) {
	header := r.Header.Get("Authorization")
	if r.URL.Path != "/api/v1/stream" || !r.URL.Query().Has("ticket") {
		return header, nil
	}
	t, err := s.tickets.take(r.URL.Query().Get("ticket"))
	if err != nil {
		return "", err
	}
	if header != "" && header != t.bearer {
		// A second credential must be the same person's.
		u, err := s.authenticate(r, header, true)
		if err != nil {
			return "", err
		}
		if u.Name != t.user {
			return "", &app.UnauthorizedError{Reason: text.New("ticket: issued to another user")}
		}
	}
	return t.bearer, nil
}

// authenticate is who a bearer header signs in. In offline review the
// only credential is the review session, or being the desktop window
// (`open --window`), which no other page can reach; either reads (read)
// but never writes: an archive has no accounts.
func (s *Server) authenticate(r *http.Request, bearer string, read bool) (app.UserView, error) {
	d := s.cfg.Desk
	if s.reviewLocked(r, bearer) {
		return app.UserView{}, errReviewLocked
	}
	if s.review != nil {
		if read {
			return reviewer, nil
		}
		return app.UserView{}, d.Writable()
	}
	u, _, err := d.Auth.Authenticate(r.Context(), bearer)
	return u, err
}

// decodeBody reads a JSON body into v strictly: at most limit bytes, one
// JSON object, no unknown field. Every refusal names the field and why.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		return refusal(http.StatusUnsupportedMediaType, "unsupported_media_type",
			text.New("Content-Type %q: send application/json", ct))
	}
	data, err := readRaw(w, r, limit)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return &app.InvalidError{Field: "body", Reason: text.New("holds more than one JSON value")}
	}
	return nil
}

// readRaw reads a body of at most limit bytes.
func readRaw(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return nil, bodyError(err, limit)
	}
	return data, nil
}

func bodyError(err error, limit int64) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return refusal(http.StatusRequestEntityTooLarge, "too_large",
			text.New("the request body is larger than %d bytes", limit))
	}
	return &app.InvalidError{Field: "body", Reason: text.Of(err)}
}

// jsonError names the field a JSON decoding error is about.
func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return &app.InvalidError{Field: "body", Reason: text.New("is not valid JSON (at byte %d): %v", se.Offset, se)}
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "body"
		}
		return &app.InvalidError{Field: field, Reason: text.New("want %s, got a JSON %s", jsonTypeName(te.Type.Kind().String()), te.Value)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return &app.InvalidError{Field: name, Reason: text.New("unknown field")}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return &app.InvalidError{Field: "body", Reason: text.New("is cut short: not a whole JSON value")}
	}
	return &app.InvalidError{Field: "body", Reason: text.Of(err)}
}

func jsonTypeName(kind string) text.Text {
	switch kind {
	case "string":
		return text.New("a string")
	case "bool":
		return text.New("true or false")
	case "map", "struct":
		return text.New("an object")
	case "slice", "array":
		return text.New("a list")
	}
	if strings.HasPrefix(kind, "int") || strings.HasPrefix(kind, "uint") || strings.HasPrefix(kind, "float") {
		return text.New("a number")
	}
	return text.Plain(kind)
}

// queryInt reads a non-negative integer query parameter.
func queryInt(r *http.Request, name string) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, &app.InvalidError{Field: name, Reason: text.New("want a non-negative integer")}
	}
	return n, nil
}
