package events

import (
	"errors"
	"fmt"
)

// Sentinel errors of the event log. Callers test them with errors.Is; the
// typed errors below carry the details and match these sentinels.
var (
	// ErrConcurrency: the stream's version was not the one the caller expected.
	ErrConcurrency = errors.New("events: stream version conflict")
	// ErrInvalidEvent: an event or stream name was refused before anything was written.
	ErrInvalidEvent = errors.New("events: invalid event")
	// ErrClosed: the store was used after Close.
	ErrClosed = errors.New("events: store closed")
	// ErrReadOnly: a write was attempted on a read-only log (an archive, a damaged store).
	ErrReadOnly = errors.New("events: log is read-only")
	// ErrDiskFull: the data directory's disk has less free space than the
	// store keeps in reserve; appends are refused until space is freed.
	ErrDiskFull = errors.New("events: data disk full")
	// ErrLocked: another process owns the data directory.
	ErrLocked = errors.New("events: data directory in use")
	// ErrNotStore: the directory holds something that is not a Release Desk event store.
	ErrNotStore = errors.New("events: not an event store")
	// ErrChainBroken: the hash chain does not verify.
	ErrChainBroken = errors.New("events: hash chain broken")
	// ErrBadArchive: an exported file could not be parsed.
	ErrBadArchive = errors.New("events: bad archive")
)

// ConcurrencyError tells which stream conflicted and how.
type ConcurrencyError struct {
	Stream   string
	Expected int64
	Actual   uint64
}

func (e *ConcurrencyError) Error() string {
	switch e.Expected {
	case NoStream:
		return fmt.Sprintf("events: stream %q already exists (version %d)", e.Stream, e.Actual)
	default:
		return fmt.Sprintf("events: stream %q is at version %d, expected %d", e.Stream, e.Actual, e.Expected)
	}
}

func (e *ConcurrencyError) Is(target error) bool { return target == ErrConcurrency }

// InvalidEventError names the field that was refused and why.
type InvalidEventError struct {
	Field  string
	Reason string
}

func (e *InvalidEventError) Error() string {
	return fmt.Sprintf("events: invalid %s: %s", e.Field, e.Reason)
}

func (e *InvalidEventError) Is(target error) bool { return target == ErrInvalidEvent }
