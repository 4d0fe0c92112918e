package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"syscall"

	"github.com/sirupsen/logrus"

	"releasedesk/app"
	"releasedesk/app/i18n"
	"releasedesk/app/projectconfig"
	"releasedesk/events"
	"releasedesk/events/text"
)

// ErrorResponse is the one error shape of the API, the body of every
// refusal: {"error": {"code", "message", ...}}.
type ErrorResponse struct {
	Error Error `json:"error"`
}

// Error is a refusal: the answer's status and the API's error body. The
// server sends it (as ErrorResponse, and as the data of the live stream's
// "unauthorized" event); the client reads it back (ErrorOf). Its words
// (message, rule, each field's reason) are in the language the request
// asked for (Accept-Language: app/i18n), English by default; code and
// field are the same in every language, for clients to act on.
type Error struct {
	Status  int                        `json:"-"`
	Code    string                     `json:"code"`
	Message string                     `json:"message"`
	Field   string                     `json:"field,omitempty"`  // the field a validation error is about
	Fields  []projectconfig.FieldError `json:"fields,omitempty"` // every problem of a configuration
	Rule    string                     `json:"rule,omitempty"`   // the rule a 403 applied

	// words is Message as a format and its arguments, for the refusals
	// this package makes itself (refusal): rendered per request.
	words text.Text
}

// refusal is an answer this package makes itself, not a use case's kind:
// its words are rendered in the reader's language when it is sent.
func refusal(status int, code string, words text.Text) *Error {
	return &Error{Status: status, Code: code, Message: words.String(), words: words}
}

func errNotFound(words text.Text) *Error { return refusal(http.StatusNotFound, "not_found", words) }

// in is e in p's language (nil: English).
func (e *Error) in(p text.Printer) *Error {
	out := *e
	if !e.words.IsZero() {
		out.Message = e.words.In(p)
	}
	return &out
}

// languageOf is the printer of the language a request asks for.
func languageOf(r *http.Request) text.Printer { return i18n.For(r.Header.Get("Accept-Language")) }

// toAPIError maps package errors to statuses, their words in p's language
// (nil: English); anything unknown is a 500 whose detail goes to the log,
// not to the client.
func toAPIError(err error, p text.Printer) *Error {
	var (
		ae  *Error
		ie  *app.InvalidError
		fe  *app.ForbiddenError
		ce  projectconfig.Errors
		le  *app.LockedError
		mbe *http.MaxBytesError
		ue  *app.UnavailableError
		up  *app.UpstreamError
	)
	in := func(t text.Text) string { return t.In(p) }
	switch {
	case errors.As(err, &ae):
		return ae.in(p)
	case errors.As(err, &ue):
		return &Error{Status: http.StatusServiceUnavailable, Code: ue.Code, Message: in(ue.Message)}
	case errors.As(err, &up):
		return &Error{Status: http.StatusBadGateway, Code: up.Code, Message: in(up.Message)}
	case errors.As(err, &ce):
		msg, fields := configProblems(ce, p)
		return &Error{Status: http.StatusBadRequest, Code: "invalid_config", Message: msg, Fields: fields}
	case errors.As(err, &ie):
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Message: in(ie.Text()), Field: ie.Field}
	case errors.As(err, &fe):
		return &Error{Status: http.StatusForbidden, Code: "forbidden", Message: in(fe.Rule), Rule: in(fe.Rule)}
	case errors.As(err, &le):
		return &Error{Status: http.StatusTooManyRequests, Code: "locked", Message: in(le.Text())}
	case errors.As(err, &mbe):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large",
			Message: in(text.Gloss(err.Error(), text.New("the request body is larger than %d bytes", mbe.Limit)))}
	case errors.Is(err, app.ErrUnauthorized):
		return &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: in(text.Of(err))}
	case errors.Is(err, app.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Code: "not_found", Message: in(text.Of(err))}
	case errors.Is(err, app.ErrConflict):
		return &Error{Status: http.StatusConflict, Code: "conflict", Message: in(text.Of(err))}
	case errors.Is(err, app.ErrInvalid):
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Message: in(text.Of(err))}
	case errors.Is(err, events.ErrConcurrency):
		return &Error{Status: http.StatusConflict, Code: "conflict", Message: in(app.ProblemText(err))}
	case errors.Is(err, events.ErrInvalidEvent):
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Message: in(app.ProblemText(err))}
	case errors.Is(err, events.ErrDiskFull), errors.Is(err, syscall.ENOSPC):
		return &Error{Status: http.StatusServiceUnavailable, Code: "disk_full", Message: in(app.ProblemText(err))}
	case errors.Is(err, events.ErrReadOnly):
		return &Error{Status: http.StatusServiceUnavailable, Code: "read_only", Message: in(app.ProblemText(err))}
	case errors.Is(err, events.ErrChainBroken):
		return &Error{Status: http.StatusServiceUnavailable, Code: "damaged", Message: in(app.ProblemText(err))}
	}
	return &Error{Status: http.StatusInternalServerError, Code: "internal", Message: in(text.New("internal error; see the server log"))}
}

// configProblems is a refused configuration in p's language: the message
// (one problem a line, as Errors.Error writes them) and each problem with
// its reason rendered.
func configProblems(ce projectconfig.Errors, p text.Printer) (string, []projectconfig.FieldError) {
	lines := make([]string, len(ce))
	fields := make([]projectconfig.FieldError, len(ce))
	for i, fe := range ce {
		fields[i] = projectconfig.FieldError{Path: fe.Path, Reason: text.Plain(fe.Reason.In(p))}
		lines[i] = fe.Text().In(p)
	}
	return strings.Join(lines, "\n"), fields
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	setJSONHeaders(w, status)
	_ = jsonEncoder(w).Encode(v)
}

// jsonEncoder is how the API writes JSON: "<", ">" and "&" as they are.
func jsonEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}

// writeEncodedJSON answers with a body already encoded as writeJSON would.
// Its length is known: said, the body goes out as it is rather than in
// chunks that each side frames and unframes (a deployment's document is
// a megabyte, asked for many times a second).
func writeEncodedJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	setJSONHeaders(w, status)
	_, _ = w.Write(body)
}

func setJSONHeaders(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
}

// writeRefusal sends a refusal this package made, outside a Server's
// handlers (the perimeter), in the request's language.
func writeRefusal(w http.ResponseWriter, r *http.Request, e *Error) {
	writeJSON(w, e.Status, ErrorResponse{Error: *e.in(languageOf(r))})
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := toAPIError(err, languageOf(r))
	if ae.Status >= 500 {
		s.log.WithFields(logrus.Fields{"method": r.Method, "path": r.URL.Path}).WithError(err).Error("request failed")
	}
	if ae.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="releasedesk"`)
	}
	if le := (*app.LockedError)(nil); errors.As(err, &le) {
		w.Header().Set("Retry-After", strconv.Itoa(le.RetrySeconds()))
	}
	writeJSON(w, ae.Status, ErrorResponse{Error: *ae})
}

// WriteError answers err as the API answers a use case's refusal (its
// kind's status, the standard body, in the request's language): for the
// desktop window's own routes, which the page reads as it reads the API.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	ae := toAPIError(err, languageOf(r))
	writeJSON(w, ae.Status, ErrorResponse{Error: *ae})
}

// WriteJSON answers v as the API's JSON answers (for the window's routes).
func WriteJSON(w http.ResponseWriter, status int, v any) { writeJSON(w, status, v) }
