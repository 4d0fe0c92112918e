package events

import (
	"context"
	"errors"
	"fmt"
)

// Copying a whole log from one store to another (Badger to PostgreSQL, and
// back): the envelopes go over exactly as they are stored, positions,
// times and hashes included, so the copy verifies as the original did and
// the next append continues its chain. The copy verifies the chain as it
// reads and goes only into an empty log, which it leaves either complete
// or empty: nothing written is visible before the end, and a failure (a
// broken source, a refused write, a crash) undoes it (store_import.go,
// pgstore_import.go say how each store does).

// Importer is a log that can take a whole log sealed elsewhere: Store and
// PgStore.
type Importer interface {
	Log
	// beginImport takes the log for one import: it refuses a log that
	// holds an event (*NotEmptyError) and holds this process's appends
	// back until the import ends.
	beginImport(ctx context.Context) (importer, error)
}

// importer is one import under way. Nothing it writes is read by anyone
// before commit; abort, or a crash, leaves the log empty.
type importer interface {
	// write adds envelopes that follow the ones written before, in order.
	write(ctx context.Context, envs []Envelope) error
	// commit makes the import the log: tip is its end, st its counts.
	commit(ctx context.Context, tip chainTip, st Stats) error
	// abort undoes everything written.
	abort() error
}

// ErrNotEmpty: a copy was asked to go into a log that already holds events.
var ErrNotEmpty = errors.New("events: target log not empty")

// NotEmptyError names the log a copy refused to write into.
type NotEmptyError struct {
	Target string // a directory, or a PostgreSQL address without its password
	Head   Head
}

func (e *NotEmptyError) Error() string {
	return fmt.Sprintf("events: copy: %s already holds a log (head at position %d, hash %s): a copy goes into an empty log only",
		e.Target, e.Head.Position, short(e.Head.Hash))
}

func (e *NotEmptyError) Is(t error) bool { return t == ErrNotEmpty }

// CopyReport is what a copy wrote: the whole source, verified.
type CopyReport struct {
	Count   uint64 `json:"count"`
	Streams uint64 `json:"streams"`
	Bytes   uint64 `json:"bytes"`
	Head    Head   `json:"head"`
}

// copyChunk is how many envelopes the copy hands the target at a time: its
// memory is one chunk, whatever the log's length.
const copyChunk = 1000

// Copy writes every event of from into to, which must be empty, as
// stored. It verifies from's chain on the way (as Verify does, up to its
// head record); at the first bad position it stops and undoes what it
// wrote, and the error (matching ErrChainBroken, a *Problem inside) names
// the position. Stream versions must also run 1, 2, 3… in each stream,
// which the target's index relies on.
func Copy(ctx context.Context, from RawReader, to Importer) (CopyReport, error) {
	imp, err := to.beginImport(ctx)
	if err != nil {
		return CopyReport{}, err
	}
	rep, err := copyInto(ctx, from, imp)
	if err != nil {
		if aerr := imp.abort(); aerr != nil {
			err = errors.Join(err, fmt.Errorf("events: copy: undo the partial copy: %w", aerr))
		}
		return CopyReport{}, err
	}
	return rep, nil
}

// copyInto reads, verifies and writes, chunk by chunk, then commits.
func copyInto(ctx context.Context, from RawReader, imp importer) (CopyReport, error) {
	durable, err := from.DurableHead()
	if err != nil {
		return CopyReport{}, fmt.Errorf("events: copy: read the source's head record: %w", err)
	}
	w := &chainWalker{headName: "the source's head record", durable: durable, next: 1, prevHash: GenesisHash}
	w.rep.Head = emptyHead()
	versions := map[string]uint64{} // each stream's last version: its count too
	tip := chainTip{head: emptyHead()}
	var st Stats
	chunk := make([]Envelope, 0, copyChunk)
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		err := imp.write(ctx, chunk)
		chunk = chunk[:0]
		return err
	}
	err = from.ReadRaw(ctx, 1, func(e Envelope) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := w.step(e); err != nil {
			return err
		}
		if w.gap != nil {
			return nil // the walk reads on to tell a missing event from a moved one; nothing more is written
		}
		if want := versions[e.Stream] + 1; e.Version != want {
			return w.fail(e.Position, KindReordered, fmt.Sprintf("stream %q version %d expected, %d found", e.Stream, want, e.Version))
		}
		versions[e.Stream] = e.Version
		if st.Count == 0 {
			st.FirstTime = e.Time
		}
		st.Count++
		st.Bytes += uint64(len(e.CanonicalBytes()))
		st.LastTime = e.Time
		tip = chainTip{head: Head{Position: e.Position, Hash: e.Hash}, lastTime: e.Time}
		chunk = append(chunk, e)
		if len(chunk) == copyChunk {
			return flush()
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopWalk) {
		return CopyReport{}, fmt.Errorf("events: copy: %w", err)
	}
	if w.gap != nil {
		w.rep.Problem = w.gap
	}
	if w.rep.Problem == nil {
		w.checkTail()
	}
	if w.rep.Problem != nil {
		return CopyReport{}, fmt.Errorf("events: copy: the source does not verify, nothing was copied: %w", w.rep.Err())
	}
	if err := flush(); err != nil {
		return CopyReport{}, fmt.Errorf("events: copy: %w", err)
	}
	st.Streams = uint64(len(versions))
	st.Head = tip.head
	if err := imp.commit(ctx, tip, st); err != nil {
		return CopyReport{}, fmt.Errorf("events: copy: %w", err)
	}
	return CopyReport{Count: st.Count, Streams: st.Streams, Bytes: st.Bytes, Head: tip.head}, nil
}
