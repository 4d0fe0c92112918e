package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/sirupsen/logrus"

	"releasedesk/app"
	"releasedesk/app/projectconfig"
	"releasedesk/events"
)

// ErrorResponse is the one error shape of the API, the body of every
// refusal: {"error": {"code", "message", ...}}.
type ErrorResponse struct {
	Error Error `json:"error"`
}

// Error is a refusal: the answer's status and the API's error body. The
// server sends it (as ErrorResponse, and as the data of the live stream's
// "unauthorized" event); the client reads it back (ErrorOf).
type Error struct {
	Status  int                        `json:"-"`
	Code    string                     `json:"code"`
	Message string                     `json:"message"`
	Field   string                     `json:"field,omitempty"`  // the field a validation error is about
	Fields  []projectconfig.FieldError `json:"fields,omitempty"` // every problem of a configuration
	Rule    string                     `json:"rule,omitempty"`   // the rule a 403 applied
}

func errNotFound(msg string) *Error {
	return &Error{Status: http.StatusNotFound, Code: "not_found", Message: msg}
}

// toAPIError maps package errors to statuses; anything unknown is a 500 whose
// detail goes to the log, not to the client.
func toAPIError(err error) *Error {
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
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &ue):
		return &Error{Status: http.StatusServiceUnavailable, Code: ue.Code, Message: ue.Message}
	case errors.As(err, &up):
		return &Error{Status: http.StatusBadGateway, Code: up.Code, Message: up.Message}
	case errors.As(err, &ce):
		return &Error{Status: http.StatusBadRequest, Code: "invalid_config", Message: ce.Error(), Fields: ce}
	case errors.As(err, &ie):
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Message: ie.Error(), Field: ie.Field}
	case errors.As(err, &fe):
		return &Error{Status: http.StatusForbidden, Code: "forbidden", Message: fe.Rule, Rule: fe.Rule}
	case errors.As(err, &le):
		return &Error{Status: http.StatusTooManyRequests, Code: "locked", Message: le.Error()}
	case errors.As(err, &mbe):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Message: err.Error()}
	case errors.Is(err, app.ErrUnauthorized):
		return &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: err.Error()}
	case errors.Is(err, app.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Code: "not_found", Message: err.Error()}
	case errors.Is(err, app.ErrConflict):
		return &Error{Status: http.StatusConflict, Code: "conflict", Message: err.Error()}
	case errors.Is(err, app.ErrInvalid):
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Message: err.Error()}
	case errors.Is(err, events.ErrConcurrency):
		return &Error{Status: http.StatusConflict, Code: "conflict", Message: err.Error()}
	case errors.Is(err, events.ErrInvalidEvent):
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Message: err.Error()}
	case errors.Is(err, events.ErrDiskFull):
		return &Error{Status: http.StatusServiceUnavailable, Code: "disk_full", Message: err.Error()}
	case errors.Is(err, events.ErrReadOnly):
		return &Error{Status: http.StatusServiceUnavailable, Code: "read_only", Message: err.Error()}
	case errors.Is(err, events.ErrChainBroken):
		return &Error{Status: http.StatusServiceUnavailable, Code: "damaged", Message: err.Error()}
	}
	return &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error; see the server log"}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	setJSONHeaders(w, status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// writeEncodedJSON answers with a body already encoded as writeJSON would.
func writeEncodedJSON(w http.ResponseWriter, status int, body []byte) {
	setJSONHeaders(w, status)
	_, _ = w.Write(body)
}

func setJSONHeaders(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := toAPIError(err)
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
