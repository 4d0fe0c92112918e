package events

import (
	"context"
	"time"
)

// Head is the end of a log: its last position and that event's hash.
// An empty log has Position 0 and GenesisHash.
type Head struct {
	Position uint64 `json:"position"`
	Hash     string `json:"hash"`
}

// StreamHead is the end of one stream: the version of its last event and
// that event's hash. A stream with no events has Version 0 and an empty
// Hash. Version is what an Append that continues the stream expects.
type StreamHead struct {
	Version uint64 `json:"version"`
	Hash    string `json:"hash"`
}

// Stats summarises a log.
type Stats struct {
	Count     uint64    `json:"count"`
	Bytes     uint64    `json:"bytes"` // canonical bytes of all events
	Streams   uint64    `json:"streams"`
	FirstTime time.Time `json:"first_time"`
	LastTime  time.Time `json:"last_time"`
	Head      Head      `json:"head"`
}

// Reader reads a log. Both Store and MemStore implement it, and so does an
// archive opened with OpenArchive, so every view reads logs the same way.
// Envelopes come out upcast to their newest schema.
type Reader interface {
	// ReadStream returns the events of one stream whose version is >= fromVersion, in order.
	ReadStream(ctx context.Context, stream string, fromVersion uint64) ([]Envelope, error)
	// StreamHead is the version of stream's last event and that event's
	// hash, without reading the stream: the same end ReadStream would
	// reach, so a caller that decides and then appends at the expected
	// version needs no more. After an Append returns, it reflects it.
	StreamHead(ctx context.Context, stream string) (StreamHead, error)
	// ReadAll calls fn for each event whose position is >= fromPosition, in
	// global order, until the end of the log or fn's first error (returned).
	ReadAll(ctx context.Context, fromPosition uint64, fn func(Envelope) error) error
	// Head is the last committed position and hash.
	Head() Head
	// Stats counts the log.
	Stats(ctx context.Context) (Stats, error)
}

// RawReader reads events exactly as stored, before upcasting, and the head
// record kept apart from the events. Verify and ExportJSONL need it: the
// hashes cover the stored bytes.
type RawReader interface {
	ReadRaw(ctx context.Context, fromPosition uint64, fn func(Envelope) error) error
	// DurableHead is the separately synced head record: the log must reach it.
	DurableHead() (Head, error)
}

// Log is a readable, appendable, subscribable event log.
type Log interface {
	Reader
	RawReader
	// Append writes events to stream, all or none, if the stream is at
	// expectedVersion (or AnyVersion / NoStream). It returns once the events
	// are durable, with their envelopes.
	Append(ctx context.Context, stream string, expectedVersion int64, evs ...Event) ([]Envelope, error)
	// Subscribe delivers every event from fromPosition on: first those already
	// stored, then new ones as they commit, in order, with no gap or duplicate.
	Subscribe(ctx context.Context, fromPosition uint64) *Subscription
	Close() error
}

// Subscription is a live feed of envelopes. C is closed when the context
// ends, the log closes, or reading fails; Err then tells which.
type Subscription struct {
	C    <-chan Envelope
	done chan struct{}
	err  error
}

// Err returns why C was closed (nil while it is open, context.Canceled after
// a normal cancel).
func (s *Subscription) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}
