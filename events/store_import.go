package events

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/dgraph-io/badger/v4"
)

// An import into the Badger store (Copy's target) writes the entries its
// commit path would (the event, its stream index entry, then the stats)
// but in chunks of its own, while the writer is parked. It stays invisible
// until the end: reads stop at the published head, which stays at 0, and
// the head record is not moved. The IMPORTING file beside the head record
// marks an import under way: created (synced) before the first chunk,
// removed once the last chunk and the stats are committed. A store opened
// with the file there was interrupted (a crash, a kill) and is emptied
// again before anything reads it; a failed import empties it at once. So
// the store is either empty or holds the whole copy.

const importMarkerName = "IMPORTING"

const importMarkerText = "A copy into this event store is under way. If no process holds LOCK, the copy was\n" +
	"interrupted: the next open empties the store again, and the copy can be run again.\n"

// storeImport is one import into a Store.
type storeImport struct {
	s    *Store
	done func() // lets the writer go and leaves the gate
}

func (s *Store) beginImport(ctx context.Context) (importer, error) {
	if !s.gate.enter() {
		return nil, ErrClosed
	}
	if err := s.Problem(); err != nil { // read-only, damaged, broken, disk full
		s.gate.leave()
		return nil, err
	}
	release := make(chan struct{})
	select {
	case s.pause <- release:
	case <-s.stop:
		s.gate.leave()
		return nil, ErrClosed
	case <-ctx.Done():
		s.gate.leave()
		return nil, ctx.Err()
	}
	// The writer is parked: this goroutine owns the writer's state now.
	done := func() { close(release); s.gate.leave() }
	if head := s.Head(); head.Position != 0 {
		done()
		return nil, &NotEmptyError{Target: s.dir, Head: head}
	}
	if err := writeSynced(s.importMarker(), []byte(importMarkerText)); err != nil {
		done()
		return nil, fmt.Errorf("events: mark the import in %s: %w", s.dir, err)
	}
	if err := syncDir(s.dir); err != nil {
		done()
		return nil, err
	}
	return &storeImport{s: s, done: done}, nil
}

func (s *Store) importMarker() string { return filepath.Join(s.dir, importMarkerName) }

// write commits one chunk, synced, in as many Badger transactions as it
// needs (a WriteBatch splits them).
func (im *storeImport) write(ctx context.Context, envs []Envelope) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := im.s.guard.check(); err != nil {
		return err
	}
	wb := im.s.db.NewWriteBatch()
	for _, e := range envs {
		v, err := encodeEnvelope(e)
		if err == nil {
			err = wb.Set(eventKey(e.Position), v)
		}
		if err == nil {
			err = wb.Set(streamKey(e.Stream, e.Version), positionValue(e.Position))
		}
		if err != nil {
			wb.Cancel()
			return fmt.Errorf("write position %d into %s: %w", e.Position, im.s.dir, err)
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("write positions %d to %d into %s: %w", envs[0].Position, envs[len(envs)-1].Position, im.s.dir, err)
	}
	return nil
}

// commit writes the stats, removes the marker (from then on the copy is
// the log: a crash before the head record is written leaves a record
// behind the log, which the next open moves up) and publishes the head.
func (im *storeImport) commit(ctx context.Context, tip chainTip, st Stats) error {
	s := im.s
	if st.Count > 0 {
		txn := s.db.NewTransaction(true)
		defer txn.Discard()
		if err := txn.Set(metaStatsKey, encodeStats(st)); err != nil {
			return err
		}
		if err := txn.Commit(); err != nil {
			return fmt.Errorf("write the stats into %s: %w", s.dir, err)
		}
	}
	if err := os.Remove(s.importMarker()); err != nil {
		return fmt.Errorf("end the import in %s: %w", s.dir, err)
	}
	if err := syncDir(s.dir); err != nil {
		return err
	}
	if st.Count > 0 {
		if err := s.head.write(tip.head); err != nil {
			s.log.WithError(err).WithField("position", tip.head.Position).Error("head record not written after the import")
		}
	}
	s.mu.Lock()
	s.tip, s.stats = tip, st
	s.mu.Unlock()
	clear(s.versions) // read again from Badger when appended to
	s.feed.publish(tip.head.Position)
	s.log.WithField("position", tip.head.Position).Info("log imported")
	im.done()
	return nil
}

// abort empties the store again. If that fails the store refuses appends
// (they would land on the partial copy) until it is reopened, and the
// marker left behind makes that open empty it.
func (im *storeImport) abort() error {
	s := im.s
	defer im.done()
	if err := s.clearAll(); err != nil {
		broken := fmt.Errorf("events: a copy into %s failed and could not be undone (%w): reopen the store, which undoes it", s.dir, err)
		s.broken.Store(&broken)
		return err
	}
	if err := os.Remove(s.importMarker()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return syncDir(s.dir)
}

// undoImport empties a store whose import was interrupted, at open and
// before the log is read. A read-only open cannot, and refuses the store.
func (s *Store) undoImport() error {
	_, err := os.Stat(s.importMarker())
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("events: read %s in %s: %w", importMarkerName, s.dir, err)
	case s.opts.ReadOnly:
		return fmt.Errorf("events: %s holds a copy that was interrupted: open it for writing once (which empties it), then copy again", s.dir)
	}
	s.log.Warn("an interrupted copy into this store is being undone")
	if err := s.clearAll(); err != nil {
		return fmt.Errorf("events: undo the interrupted copy in %s: %w", s.dir, err)
	}
	if err := os.Remove(s.importMarker()); err != nil {
		return fmt.Errorf("events: undo the interrupted copy in %s: %w", s.dir, err)
	}
	return syncDir(s.dir)
}

// clearAll deletes every key (events, stream index, stats), a batch at a
// time. Deleting, rather than Badger's DropAll, keeps concurrent reads
// safe.
func (s *Store) clearAll() (err error) {
	defer recoverDamage(&err)
	const batch = 10000
	for {
		var keys [][]byte
		err := s.db.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: false})
			defer it.Close()
			for it.Rewind(); it.Valid() && len(keys) < batch; it.Next() {
				keys = append(keys, it.Item().KeyCopy(nil))
			}
			return nil
		})
		if err != nil || len(keys) == 0 {
			return err
		}
		wb := s.db.NewWriteBatch()
		for _, k := range keys {
			if err := wb.Delete(k); err != nil {
				wb.Cancel()
				return err
			}
		}
		if err := wb.Flush(); err != nil {
			return err
		}
	}
}
