package events

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// ArchiveFormat and ArchiveVersion name the JSON Lines export format. A reader
// refuses any other name or version rather than guess at its meaning.
const (
	ArchiveFormat  = "releasedesk-events"
	ArchiveVersion = 1
)

// ArchiveHeader is the first line of a JSON Lines export. LastPosition and
// LastHash are the log's head when the export was taken, so that verifying
// an unfiltered file detects a dropped tail; Count is the number of event
// lines that follow.
type ArchiveHeader struct {
	Format        string    `json:"format"`
	FormatVersion int       `json:"format_version"`
	ExportedAt    time.Time `json:"exported_at"`
	Count         uint64    `json:"count"`
	FirstPosition uint64    `json:"first_position"`
	LastPosition  uint64    `json:"last_position"`
	LastHash      string    `json:"last_hash"`
	Filtered      bool      `json:"filtered"`
}

// ExportOptions tune ExportJSONL.
type ExportOptions struct {
	// Filter keeps an event when it returns true; nil keeps every event. It
	// sees the raw (stored, not upcast) envelope and is called twice per
	// event (once to count, once to write), so it must be deterministic.
	Filter func(Envelope) bool
	// Now stamps exported_at; nil means time.Now.
	Now func() time.Time
}

// ExportSummary tells what ExportJSONL wrote.
type ExportSummary struct {
	Header ArchiveHeader
	Bytes  int64
}

// exportBufferSize batches the many small line writes into few large ones.
const exportBufferSize = 256 << 10

// ExportJSONL writes the log as JSON Lines: a header object, then every
// event (or every event Filter keeps) exactly as stored, one per line, with
// both hashes, so the file verifies offline with VerifyArchive. The export
// is a snapshot: it stops at the head read when it starts, even if events
// are appended meanwhile.
func ExportJSONL(ctx context.Context, r interface {
	RawReader
	Reader
}, w io.Writer, opts ExportOptions) (ExportSummary, error) {
	head := r.Head()
	if head.Hash == "" {
		head.Hash = GenesisHash
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	hdr := ArchiveHeader{
		Format:        ArchiveFormat,
		FormatVersion: ArchiveVersion,
		ExportedAt:    normalizeTime(now()),
		Count:         head.Position,
		FirstPosition: 1,
		LastPosition:  head.Position,
		LastHash:      head.Hash,
		Filtered:      opts.Filter != nil,
	}
	if head.Position == 0 {
		hdr.FirstPosition = 0
	}
	if opts.Filter != nil {
		// The header comes first but must hold the count: count in a first pass.
		hdr.Count = 0
		err := walkRaw(ctx, r, head.Position, func(e Envelope) error {
			if opts.Filter(e) {
				hdr.Count++
			}
			return nil
		})
		if err != nil {
			return ExportSummary{}, fmt.Errorf("events: export: %w", err)
		}
	}

	cw := &countWriter{w: w}
	bw := bufio.NewWriterSize(cw, exportBufferSize)
	enc := json.NewEncoder(bw)
	// Data is canonical (HTML characters already escaped as encoding/json
	// escapes them), so turning escaping off cannot change its bytes; it
	// only keeps "<" in names readable.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(hdr); err != nil {
		return ExportSummary{Header: hdr, Bytes: cw.n}, fmt.Errorf("events: export header: %w", err)
	}
	var written uint64
	err := walkRaw(ctx, r, head.Position, func(e Envelope) error {
		if opts.Filter != nil && !opts.Filter(e) {
			return nil
		}
		written++
		return enc.Encode(e)
	})
	if err == nil {
		err = bw.Flush()
	}
	sum := ExportSummary{Header: hdr, Bytes: cw.n}
	if err != nil {
		return sum, fmt.Errorf("events: export: %w", err)
	}
	if written != hdr.Count {
		return sum, fmt.Errorf("events: export: wrote %d events, counted %d: the filter is not deterministic", written, hdr.Count)
	}
	return sum, nil
}

// walkRaw reads raw events 1..last in order and fails if the log ends
// before last: an export must hold what its header promises.
func walkRaw(ctx context.Context, r RawReader, last uint64, fn func(Envelope) error) error {
	if last == 0 {
		return nil
	}
	var seen, n uint64
	err := r.ReadRaw(ctx, 1, func(e Envelope) error {
		if e.Position > last {
			return errStopWalk
		}
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		seen = e.Position
		return fn(e)
	})
	if err != nil && !errors.Is(err, errStopWalk) {
		return err
	}
	if seen < last {
		return fmt.Errorf("the log ends at position %d, before its head %d", seen, last)
	}
	return nil
}

// countWriter counts the bytes that reach the destination.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
