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

// apiError is a refusal on its way out: what its body says (body), its
// status, and a 429's Retry-After.
type apiError struct {
	Status  int
	Code    string
	Message string
	Field   string
	Fields  []projectconfig.FieldError
	Rule    string
	retry   int // Retry-After seconds of a 429
}

func (e *apiError) Error() string { return e.Message }

// body is the Error the answer carries.
func (e *apiError) body() Error {
	return Error{Status: e.Status, Code: e.Code, Message: e.Message, Field: e.Field, Fields: e.Fields, Rule: e.Rule}
}

func errNotFound(msg string) *apiError {
	return &apiError{Status: http.StatusNotFound, Code: "not_found", Message: msg}
}

// toAPIError maps package errors to statuses; anything unknown is a 500 whose
// detail goes to the log, not to the client.
func toAPIError(err error) *apiError {
	var (
		ae  *apiError
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
		return &apiError{Status: http.StatusServiceUnavailable, Code: ue.Code, Message: ue.Message}
	case errors.As(err, &up):
		return &apiError{Status: http.StatusBadGateway, Code: up.Code, Message: up.Message}
	case errors.As(err, &ce):
		return &apiError{Status: http.StatusBadRequest, Code: "invalid_config", Message: ce.Error(), Fields: ce}
	case errors.As(err, &ie):
		return &apiError{Status: http.StatusBadRequest, Code: "invalid", Message: ie.Error(), Field: ie.Field}
	case errors.As(err, &fe):
		return &apiError{Status: http.StatusForbidden, Code: "forbidden", Message: fe.Rule, Rule: fe.Rule}
	case errors.As(err, &le):
		return &apiError{Status: http.StatusTooManyRequests, Code: "locked", Message: le.Error(), retry: le.RetrySeconds()}
	case errors.As(err, &mbe):
		return &apiError{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Message: err.Error()}
	case errors.Is(err, app.ErrUnauthorized):
		return &apiError{Status: http.StatusUnauthorized, Code: "unauthorized", Message: err.Error()}
	case errors.Is(err, app.ErrNotFound):
		return &apiError{Status: http.StatusNotFound, Code: "not_found", Message: err.Error()}
	case errors.Is(err, app.ErrConflict):
		return &apiError{Status: http.StatusConflict, Code: "conflict", Message: err.Error()}
	case errors.Is(err, app.ErrInvalid):
		return &apiError{Status: http.StatusBadRequest, Code: "invalid", Message: err.Error()}
	case errors.Is(err, events.ErrConcurrency):
		return &apiError{Status: http.StatusConflict, Code: "conflict", Message: err.Error()}
	case errors.Is(err, events.ErrInvalidEvent):
		return &apiError{Status: http.StatusBadRequest, Code: "invalid", Message: err.Error()}
	case errors.Is(err, events.ErrDiskFull):
		return &apiError{Status: http.StatusServiceUnavailable, Code: "disk_full", Message: err.Error()}
	case errors.Is(err, events.ErrReadOnly):
		return &apiError{Status: http.StatusServiceUnavailable, Code: "read_only", Message: err.Error()}
	case errors.Is(err, events.ErrChainBroken):
		return &apiError{Status: http.StatusServiceUnavailable, Code: "damaged", Message: err.Error()}
	}
	return &apiError{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error; see the server log"}
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
	if ae.retry > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ae.retry))
	}
	writeJSON(w, ae.Status, ErrorResponse{Error: ae.body()})
}
