package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ErrNotSent: a request that could not even be made (a path no URL can
// carry, say); nothing reached the server.
var ErrNotSent = errors.New("request not sent")

// Client talks to a Release Desk over its JSON API. The command line's
// verbs and every test that drives a server use it, so a route, a header
// or the error shape changes in one place.
type Client struct {
	Base  string       // the server, e.g. "http://127.0.0.1:7788" (a trailing slash is dropped)
	Token string       // the bearer token; "" for the public routes
	HTTP  *http.Client // nil: DefaultHTTP
	// Language is sent as Accept-Language ("zh-CN", "en"): the language
	// of the server's refusals. "" sends none: English.
	Language string
}

// DefaultHTTP bounds connecting and waiting for an answer's head, not the
// whole call: an export or a long deployment's follow may take long, and
// the caller's context ends it.
var DefaultHTTP = &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	TLSHandshakeTimeout:   10 * time.Second,
	ResponseHeaderTimeout: 5 * time.Minute,
}}

// Raw is a request body sent as it is, with its content type (a project
// configuration in YAML, say). Any other body is sent as JSON.
type Raw struct {
	Data        []byte
	ContentType string
}

// Answer is a whole answer, whatever its status.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// Error is the message, with the field or the rule when the server named
// one, and every problem of a configuration on its own line.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Message)
	if e.Message == "" {
		fmt.Fprintf(&b, "the server answered %d %s", e.Status, http.StatusText(e.Status))
	}
	switch {
	case e.Rule != "" && e.Rule == e.Message:
		b.Reset()
		fmt.Fprintf(&b, "refused by the rule: %s", e.Rule)
	case e.Rule != "":
		fmt.Fprintf(&b, " (rule: %s)", e.Rule)
	}
	if e.Field != "" && !strings.HasPrefix(e.Message, e.Field+":") {
		fmt.Fprintf(&b, " (field: %s)", e.Field)
	}
	if len(e.Fields) > 0 {
		b.Reset()
		problems := "problems"
		if len(e.Fields) == 1 {
			problems = "problem"
		}
		fmt.Fprintf(&b, "the configuration has %d %s; nothing was changed:", len(e.Fields), problems)
		for _, f := range e.Fields {
			b.WriteString("\n  ")
			b.WriteString(f.String())
		}
	}
	return b.String()
}

// ErrorOf reads a refusal; an answer not in the API's shape (a proxy's
// page) is still an *Error, with its status and the start of its text.
func ErrorOf(status int, raw []byte) *Error {
	var env struct {
		Error *Error `json:"error"`
	}
	if json.Unmarshal(raw, &env) != nil || env.Error == nil {
		text := strings.TrimSpace(string(raw))
		if len(text) > 200 {
			text = text[:200] + "..."
		}
		env.Error = &Error{Message: fmt.Sprintf("the server answered %d %s: %s", status, http.StatusText(status), text)}
	}
	env.Error.Status = status
	return env.Error
}

// Path joins path segments under /api/v1, escaping each one: what a
// person typed never changes the route it goes to.
func Path(segments ...string) string {
	var b strings.Builder
	b.WriteString("/api/v1")
	for _, s := range segments {
		b.WriteByte('/')
		if s == "." || s == ".." {
			// PathEscape leaves dots, and a path cleaner would climb.
			b.WriteString(strings.Repeat("%2E", len(s)))
			continue
		}
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// Call sends a request and decodes a 2xx answer's JSON into out (when not
// nil). It returns the raw answer too (for printing it as it came); a
// refusal is an *Error.
func (c *Client) Call(ctx context.Context, method, path string, query url.Values, body, out any) ([]byte, error) {
	a, err := c.Do(ctx, method, path, query, body)
	if err != nil {
		return nil, err
	}
	if a.Status >= 300 {
		return a.Body, ErrorOf(a.Status, a.Body)
	}
	if out != nil && len(bytes.TrimSpace(a.Body)) > 0 {
		if err := json.Unmarshal(a.Body, out); err != nil {
			return a.Body, fmt.Errorf("the answer of %s %s is not the JSON expected: %w", method, path, err)
		}
	}
	return a.Body, nil
}

// Do sends a request and reads the whole answer (at most 64 MiB),
// whatever its status: for callers that look at refusals themselves.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body any) (Answer, error) {
	res, err := c.Send(ctx, method, path, query, body)
	if err != nil {
		return Answer{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return Answer{}, fmt.Errorf("reading the answer of %s %s: %w", method, path, err)
	}
	return Answer{Status: res.StatusCode, Header: res.Header, Body: raw}, nil
}

// Send makes the call and returns the open response, whatever its status
// (a query already in path is sent as written, query is added to it); the
// caller closes its body (an export is read as it streams). body is
// nil, a Raw, or a value sent as JSON.
func (c *Client) Send(ctx context.Context, method, path string, query url.Values, body any) (*http.Response, error) {
	var rd io.Reader
	contentType := ""
	switch b := body.(type) {
	case nil:
	case Raw:
		rd, contentType = bytes.NewReader(b.Data), b.ContentType
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd, contentType = bytes.NewReader(data), "application/json"
	}
	base := strings.TrimRight(c.Base, "/")
	target := base + path
	if len(query) > 0 {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		target += sep + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotSent, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	req.Header.Set("Accept", "application/json")
	if c.Language != "" {
		req.Header.Set("Accept-Language", c.Language)
	}
	hc := c.HTTP
	if hc == nil {
		hc = DefaultHTTP
	}
	res, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ue *url.Error
		if errors.As(err, &ue) { // its "Get \"...\":" prefix: the message names the server
			err = ue.Err
		}
		return nil, fmt.Errorf("cannot reach Release Desk at %s: %w", base, err)
	}
	return res, nil
}
