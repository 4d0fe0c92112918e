package app

import (
	"errors"
	"syscall"

	"releasedesk/events"
	"releasedesk/events/text"
)

// ProblemText is a refusal of the event log as words for a reader: the
// log's sentinels (a full disk, a read-only or damaged log, a stream that
// moved) are the events package's own English, which knows nothing of
// languages. So their English stays the log's sentence, byte for byte, and
// other languages read what it means by its kind, keeping only the names
// and positions worth keeping (a file, a position in the log). An error
// with words of its own (a text.Texter: the desk's read-only reason in
// offline review) keeps them.
func ProblemText(err error) text.Text {
	if err == nil {
		return text.Text{}
	}
	if _, ok := err.(text.Texter); ok {
		return text.Of(err)
	}
	return text.Gloss(err.Error(), problemGist(err))
}

func problemGist(err error) text.Text {
	var (
		full    *events.DiskFullError
		broken  *events.Problem
		damaged *events.DamagedStoreError
		moved   *events.ConcurrencyError
		invalid *events.InvalidEventError
	)
	switch {
	case errors.As(err, &full):
		return text.New("the data disk is full: %s free, less than the %s the event log keeps in reserve; "+
			"writes are refused until space is freed", mebibytes(full.Free), mebibytes(full.Reserve))
	case errors.Is(err, events.ErrDiskFull), errors.Is(err, syscall.ENOSPC):
		// ENOSPC: a file of the data directory beside the event log (the
		// credentials, a checkpoint) could not be written.
		return text.New("the data disk is full: writes are refused until space is freed")
	case errors.As(err, &broken):
		return text.New("the event log's hash chain is broken at position %d (%s)", broken.Position, broken.Kind)
	case errors.As(err, &damaged) && damaged.File != "":
		return text.New("the event store is damaged: its file %s cannot be read", damaged.File)
	case errors.Is(err, events.ErrChainBroken):
		return text.New("the event store is damaged: what it holds can no longer be shown whole")
	case errors.Is(err, events.ErrReadOnly):
		return text.New("the event log is read-only: it takes no writes")
	case errors.As(err, &moved):
		return text.New("%s changed meanwhile; reload and try again", moved.Stream)
	case errors.Is(err, events.ErrConcurrency):
		return text.New("the record changed meanwhile; reload and try again")
	case errors.As(err, &invalid):
		return text.New("the event log refused the record: its %s is not valid", invalid.Field)
	}
	return text.Plain(err.Error())
}

// problemError is an error of the log with words for a reader
// (ProblemText), for a sentence of ours that wraps it.
type problemError struct{ err error }

func (e problemError) Error() string   { return e.err.Error() }
func (e problemError) Unwrap() error   { return e.err }
func (e problemError) Text() text.Text { return ProblemText(e.err) }

func mebibytes(n uint64) text.Text { return text.New("%.1f MiB", float64(n)/(1<<20)) }
