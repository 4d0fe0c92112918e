package app

import (
	"errors"
	"time"

	"releasedesk/events"
	"releasedesk/events/text"
)

// The kinds of refusal the use cases return. Callers test them with
// errors.Is; the typed errors below carry the details and match these
// sentinels. Their words are text.Text (a format and its arguments): Error()
// is the English, for logs, the command line and tests; the HTTP API
// renders Text() in the reader's language (app/i18n). The use cases never speak HTTP or exit codes: the HTTP API
// maps kinds to statuses (ErrInvalid 400, ErrUnauthorized 401,
// ErrForbidden 403 with the rule, ErrNotFound 404, ErrConflict 409,
// ErrLocked 429 with a Retry-After of LockedError.RetrySeconds(),
// ErrUnavailable 503, ErrUpstream 502), the command line to exit codes.
var (
	ErrUnauthorized = errors.New("unauthorized")
	ErrForbidden    = errors.New("forbidden")
	ErrInvalid      = errors.New("invalid")
	ErrConflict     = errors.New("conflict")
	ErrNotFound     = errors.New("not found")
	ErrLocked       = errors.New("account locked")
	ErrUnavailable  = errors.New("unavailable")
	ErrUpstream     = errors.New("upstream failed")
)

// UnauthorizedError: no valid credentials (wrong name or password, unknown,
// expired or revoked token, disabled account).
type UnauthorizedError struct{ Reason text.Text }

func (e *UnauthorizedError) Error() string        { return e.Reason.String() }
func (e *UnauthorizedError) Text() text.Text      { return e.Reason }
func (e *UnauthorizedError) Is(target error) bool { return target == ErrUnauthorized }

// ForbiddenError: signed in, but a rule refuses; Rule says which, in words.
type ForbiddenError struct{ Rule text.Text }

func (e *ForbiddenError) Error() string        { return e.Rule.String() }
func (e *ForbiddenError) Text() text.Text      { return e.Rule }
func (e *ForbiddenError) Is(target error) bool { return target == ErrForbidden }

// InvalidError: a field of a request was refused.
type InvalidError struct {
	Field  string
	Reason text.Text
}

func (e *InvalidError) Error() string        { return e.Field + ": " + e.Reason.String() }
func (e *InvalidError) Text() text.Text      { return text.New("%s: %s", e.Field, e.Reason) }
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// ConflictError: the state changed under the request (it also matches
// events.ErrConcurrency when a stream version was the cause).
type ConflictError struct {
	Message text.Text
	Err     error
}

func (e *ConflictError) Error() string        { return e.Message.String() }
func (e *ConflictError) Text() text.Text      { return e.Message }
func (e *ConflictError) Unwrap() error        { return e.Err }
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// NotFoundError: what was named does not exist.
type NotFoundError struct{ Message text.Text }

func (e *NotFoundError) Error() string        { return e.Message.String() }
func (e *NotFoundError) Text() text.Text      { return e.Message }
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// LockedError: too many failed logins in a row; the account waits.
type LockedError struct {
	Failures   int
	RetryAfter time.Duration
}

func (e *LockedError) Error() string { return e.Text().String() }
func (e *LockedError) Text() text.Text {
	return text.New("too many failed logins (%d in a row): try again in %s", e.Failures, formatWait(e.RetryAfter))
}
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// RetrySeconds is RetryAfter rounded up, for a Retry-After header.
func (e *LockedError) RetrySeconds() int { return WholeSeconds(e.RetryAfter) }

// WholeSeconds is d rounded up to whole seconds: a wait told to a person
// or a client never ends before it says.
func WholeSeconds(d time.Duration) int { return int((d + time.Second - 1) / time.Second) }

func formatWait(d time.Duration) text.Text {
	s := WholeSeconds(d)
	if s < 60 {
		return text.New("%d s", s)
	}
	if s%60 == 0 {
		return text.New("%d min", s/60)
	}
	return text.New("%d min %d s", s/60, s%60)
}

// UnavailableError: the desk cannot do this now, whoever asks: its log is
// read-only (an archive, a damaged store) or its data disk is full. Code
// says which, for a client to act on ("read_only", "disk_full").
type UnavailableError struct {
	Code    string
	Message text.Text
}

func (e *UnavailableError) Error() string        { return e.Message.String() }
func (e *UnavailableError) Text() text.Text      { return e.Message }
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// UpstreamError: something the desk relies on outside itself failed: a
// repository that cannot be reached, a host that does not answer. Code
// names it ("repository", "host_unreachable").
type UpstreamError struct {
	Code    string
	Message text.Text
}

func (e *UpstreamError) Error() string        { return e.Message.String() }
func (e *UpstreamError) Text() text.Text      { return e.Message }
func (e *UpstreamError) Is(target error) bool { return target == ErrUpstream }

// BrokenChainError: a log or archive whose hash chain does not verify.
// It matches events.ErrChainBroken.
type BrokenChainError struct {
	What text.Text // "archive x.jsonl"
	Err  error     // the first bad position and why
}

func (e *BrokenChainError) Error() string { return e.Text().String() }
func (e *BrokenChainError) Text() text.Text {
	return text.New("%s does not verify: %v", e.What, problemError{e.Err})
}
func (e *BrokenChainError) Unwrap() error        { return e.Err }
func (e *BrokenChainError) Is(target error) bool { return target == events.ErrChainBroken }

// RollbackNotStartedError: a refusal with rollback whose refusal is
// recorded but whose rollback could not start after it (the log refused
// the write, the request was cut short). Everything that can be checked
// is checked before the refusal, so this is rare; the refusal stands, and
// the caller is told to roll back from the versions timeline.
type RollbackNotStartedError struct{ Err error }

func (e *RollbackNotStartedError) Error() string {
	return "the refusal is recorded, but its rollback did not start: " + e.Err.Error()
}
func (e *RollbackNotStartedError) Unwrap() error { return e.Err }
