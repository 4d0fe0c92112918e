package events

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/dgraph-io/badger/v4"
	"github.com/sirupsen/logrus"
)

// Store is the durable event log: Badger in a data directory of its own,
// beside a LOCK file naming its owner, a FORMAT marker and the HEAD record.
// Appends go through one writer goroutine that group-commits them
// (commit.go); reads go straight to Badger.
type Store struct {
	dir  string
	opts Options
	log  logrus.FieldLogger
	db   *badger.DB
	lock *dirLock
	feed *feed
	gate gate

	// refused is why Append is refused (read-only or damaged), nil if not.
	refused error
	// damage is what Open found wrong with the log, nil when healthy.
	damage *damageError
	// lateDamage is what the background verification found (verify_open.go).
	lateDamage atomic.Pointer[error]
	verified   chan struct{}      // closed when it ends; nil without one
	stopVerify context.CancelFunc // ends it early, on Close
	// guard refuses appends when the data disk is nearly full (diskguard.go);
	// nil when read-only.
	guard *diskGuard

	// The writer goroutine (commit.go), absent when the store is read-only.
	reqs       chan *appendReq
	pause      chan chan struct{} // an import parks the writer until it closes the channel sent
	stop       chan struct{}
	writerDone chan struct{}
	versions   map[string]uint64 // writer only: committed stream versions seen so far
	head       *headFile         // writer only
	commits    atomic.Uint64     // Badger commits made, for tests of grouping
	// broken is set when a commit failed after reaching the database: the
	// writer can no longer tell what is stored, so it refuses appends until
	// the store is reopened and reads the truth back.
	broken atomic.Pointer[error]
	// failCommit, set by tests before any Append, makes a commit fail just
	// before Badger's commit (afterCommit false) or just after it (true).
	failCommit func(afterCommit bool) error

	mu    sync.RWMutex
	tip   chainTip // the last published commit
	stats Stats

	closeOnce sync.Once
	closeErr  error
}

var _ Log = (*Store)(nil)

// Open opens the store in dir, creating it if dir is missing or empty. It
// refuses a directory that holds something else (ErrNotStore), one another
// process uses (*LockedError), and one it cannot write unless
// opts.ReadOnly. A store whose events do not reach its head record opens
// read-only; Damage says why.
func Open(dir string, opts Options) (*Store, error) {
	if dir == "" {
		return nil, errors.New("events: open: no data directory given")
	}
	opts = opts.withDefaults()
	dir = filepath.Clean(dir)
	state, err := inspectDir(dir)
	if err != nil {
		return nil, err
	}
	if opts.ReadOnly && state == dirNew {
		return nil, fmt.Errorf("events: %s holds no event store to open read-only: %w", dir, ErrNotStore)
	}
	if !opts.ReadOnly {
		if err := checkWritable(dir); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("events: create data directory %s: %w", dir, err)
		}
	}
	lock, err := lockDir(dir, opts.ReadOnly)
	if err != nil {
		return nil, err
	}
	s, err := open(dir, opts, lock, state)
	if err != nil {
		lock.release()
		return nil, err
	}
	return s, nil
}

func open(dir string, opts Options, lock *dirLock, state dirState) (*Store, error) {
	if state == dirNew {
		if err := initDir(dir); err != nil {
			return nil, err
		}
	}
	s := &Store{
		dir:      dir,
		opts:     opts,
		log:      opts.Logger.WithField("dir", dir),
		lock:     lock,
		versions: map[string]uint64{},
	}
	db, err := openBadger(filepath.Join(dir, badgerDirName), opts)
	if err != nil {
		return nil, err
	}
	s.db = db
	if err := s.undoImport(); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.load(); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.checkHead(); err != nil {
		db.Close()
		return nil, err
	}
	s.feed = newFeed(s.tip.head.Position)
	switch {
	case s.damage != nil:
		s.refused = &readOnlyError{reason: s.damage.msg}
		s.log.WithError(s.damage).Error("event log damaged, opened read-only")
	case opts.ReadOnly:
		s.refused = &readOnlyError{reason: "the store was opened read-only"}
	default:
		s.guard = newDiskGuard(filepath.Join(dir, badgerDirName), opts.MinFreeBytes, s.log)
		if opts.VerifyOnOpen {
			s.startVerification()
		}
		s.reqs = make(chan *appendReq)
		s.pause = make(chan chan struct{})
		s.stop = make(chan struct{})
		s.writerDone = make(chan struct{})
		go s.runWriter()
	}
	s.log.WithFields(logrus.Fields{"position": s.tip.head.Position, "read_only": s.refused != nil}).Info("event store opened")
	return s, nil
}

// openBadger opens the database, first probing its tables (probe.go) and
// turning a panic of Badger's own into an error: a damaged store is
// reported, never a crash.
func openBadger(dir string, opts Options) (db *badger.DB, err error) {
	bo := badgerOptions(dir, opts)
	if err := probeTables(dir, bo); err != nil {
		return nil, err
	}
	if !opts.ReadOnly {
		removeEmptyWAL(dir)
	}
	defer func() {
		if p := recover(); p != nil {
			db, err = nil, &DamagedStoreError{Reason: fmt.Sprintf("opening the database failed (%v)", p)}
		}
	}()
	db, err = badger.Open(bo)
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE),
		errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.ENOMEM):
		// The machine, not the store: a start may well succeed later.
		return nil, fmt.Errorf("events: open database in %s: %w", filepath.Dir(dir), err)
	}
	// Anything else is the files themselves: a MANIFEST that names a
	// table no longer there, a value log cut short, ...
	return nil, &DamagedStoreError{Reason: "the database cannot be opened: " + err.Error()}
}

// recoverDamage turns a panic of Badger's while reading into a
// DamagedStoreError: Badger does not verify a block's checksum on a read,
// and a block damaged on disk can make its iterator index past the block.
func recoverDamage(err *error) {
	if p := recover(); p != nil {
		msg := fmt.Sprint(p)
		if i := strings.IndexByte(msg, '\n'); i > 0 {
			msg = msg[:i]
		}
		*err = &DamagedStoreError{Reason: "reading the database failed (" + msg + ")"}
	}
}

// removeEmptyWAL deletes write-ahead log files of length zero. Badger
// creates one and then sizes it; a crash between the two leaves an empty
// file, which Badger then refuses to open ("Create a new file"). It never
// held an event (nothing is written before the file is sized), so it goes.
func removeEmptyWAL(dir string) {
	mems, _ := filepath.Glob(filepath.Join(dir, "*.mem"))
	for _, p := range mems {
		if fi, err := os.Stat(p); err == nil && fi.Size() == 0 {
			_ = os.Remove(p)
		}
	}
}

// readOnlyError is what Append returns when the store refuses writes.
type readOnlyError struct{ reason string }

func (e *readOnlyError) Error() string   { return "events: log is read-only: " + e.reason }
func (e *readOnlyError) Is(t error) bool { return t == ErrReadOnly }

// damageError describes a log that does not reach its head record; it
// matches ErrChainBroken.
type damageError struct{ msg string }

func (e *damageError) Error() string   { return "events: " + e.msg }
func (e *damageError) Is(t error) bool { return t == ErrChainBroken }

// load reads the end of the log and the running stats from Badger.
func (s *Store) load() error {
	s.tip = chainTip{head: emptyHead()}
	last, found, err := s.lastEvent()
	if err != nil {
		return err
	}
	if found {
		s.tip = chainTip{head: Head{Position: last.Position, Hash: last.Hash}, lastTime: last.Time}
	}
	err = s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(metaStatsKey)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			s.stats, err = decodeStats(v)
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("events: read stats in %s: %w", s.dir, err)
	}
	if s.stats.Count != s.tip.head.Position {
		// Stats are written with the events, so this means a foreign edit.
		// They are only a summary: count again rather than refuse the store.
		s.log.WithFields(logrus.Fields{"stats_count": s.stats.Count, "position": s.tip.head.Position}).Warn("stored stats disagree with the log, recounting")
		if s.stats, err = s.recount(); err != nil {
			return err
		}
	}
	s.stats.Head = s.tip.head
	return nil
}

// lastEvent returns the event with the highest position.
func (s *Store) lastEvent() (_ Envelope, _ bool, err error) {
	defer recoverDamage(&err)
	var e Envelope
	found := false
	err = s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: eventPrefix, Reverse: true})
		defer it.Close()
		it.Seek(eventKey(^uint64(0)))
		if !it.Valid() {
			return nil
		}
		found = true
		return it.Item().Value(func(v []byte) error {
			var err error
			e, err = decodeEnvelope(v)
			return err
		})
	})
	if err != nil {
		return Envelope{}, false, fmt.Errorf("events: read the end of the log in %s: %w", s.dir, err)
	}
	return e, found, nil
}

// recount rebuilds Stats by reading every event.
func (s *Store) recount() (_ Stats, err error) {
	defer recoverDamage(&err)
	var st Stats
	streams := map[string]struct{}{}
	err = s.scan(context.Background(), 1, s.tip.head.Position, false, func(e Envelope) error {
		if st.Count == 0 {
			st.FirstTime = e.Time
		}
		st.Count++
		st.Bytes += uint64(len(e.CanonicalBytes()))
		st.LastTime = e.Time
		streams[e.Stream] = struct{}{}
		return nil
	})
	st.Streams = uint64(len(streams))
	return st, err
}

// checkHead compares the head record with the log. A record ahead of the log,
// or naming another hash, is damage: acknowledged events are gone or changed.
// A record behind the log (a crash between commit and record) is rewritten.
func (s *Store) checkHead() error {
	path := filepath.Join(s.dir, headFileName)
	rec, seq, err := readHeadRecord(path)
	last := s.tip.head
	current := err == nil && rec == last
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if last.Position > 0 {
			s.log.WithField("position", last.Position).Warn("head record missing, writing it from the log")
		}
	case err != nil:
		s.log.WithError(err).Warn("head record unreadable, writing it from the log")
	case rec.Position > last.Position:
		s.damage = &damageError{fmt.Sprintf("the log ends at position %d but its head record says %d: acknowledged events were lost", last.Position, rec.Position)}
		return nil
	case rec.Position == last.Position && rec.Hash != last.Hash:
		s.damage = &damageError{fmt.Sprintf("the event at position %d does not have the hash its head record names", last.Position)}
		return nil
	case rec.Position < last.Position && rec.Position > 0:
		e, err := s.eventAt(rec.Position)
		if err != nil {
			return err
		}
		if e.Hash != rec.Hash {
			s.damage = &damageError{fmt.Sprintf("the event at position %d does not have the hash its head record names", rec.Position)}
			return nil
		}
		s.log.WithFields(logrus.Fields{"record": rec.Position, "position": last.Position}).Info("head record behind the log, advancing it")
	}
	if s.opts.ReadOnly {
		return nil
	}
	h, err := openHeadFile(path, seq)
	if err != nil {
		return err
	}
	s.head = h
	if current {
		return nil
	}
	if err := h.write(last); err != nil {
		h.close()
		return err
	}
	return nil
}

// eventAt reads one event as stored.
func (s *Store) eventAt(position uint64) (Envelope, error) {
	var e Envelope
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(eventKey(position))
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			e, err = decodeEnvelope(v)
			return err
		})
	})
	if err != nil {
		return Envelope{}, fmt.Errorf("events: read position %d: %w", position, err)
	}
	return e, nil
}

// Damage reports what Open found wrong with the log (nil when healthy). A
// damaged store is read-only; Verify names the details.
func (s *Store) Damage() error {
	if s.damage == nil {
		return nil // not a typed nil in an interface
	}
	return s.damage
}

// Head implements Reader: the last published commit.
func (s *Store) Head() Head {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.tip.head
}

// DurableHead implements RawReader: it reads the head record from disk. A
// store without one (opened read-only before its first record) reports the
// empty head, which every log reaches.
func (s *Store) DurableHead() (Head, error) {
	if !s.gate.enter() {
		return Head{}, ErrClosed
	}
	defer s.gate.leave()
	h, _, err := readHeadRecord(filepath.Join(s.dir, headFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return emptyHead(), nil
	}
	return h, err
}

// Stats implements Reader. The store keeps them as it commits: no scan.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	if !s.gate.enter() {
		return Stats{}, ErrClosed
	}
	defer s.gate.leave()
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.stats, ctx.Err()
}

// Subscribe implements Log.
func (s *Store) Subscribe(ctx context.Context, fromPosition uint64) *Subscription {
	return s.feed.subscribe(ctx, fromPosition, s.readRange)
}

// Close stops the writer (queued appends get ErrClosed), ends subscriptions,
// waits for reads in progress, closes Badger and releases the directory.
// It is idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.gate.shut()
		if s.stopVerify != nil {
			s.stopVerify()
			<-s.verified
		}
		if s.stop != nil {
			close(s.stop)
			<-s.writerDone
		}
		s.feed.close()
		s.gate.wait()
		var errs []error
		if s.head != nil {
			errs = append(errs, s.head.close())
		}
		var low error
		if s.guard != nil {
			low = s.guard.check()
		}
		if low != nil {
			// Badger's Close flushes the memtable into a new table through
			// a memory map the full disk may not back (SIGBUS). Every
			// acknowledged event is already synced in the write-ahead log,
			// which the next open replays: leaving the database as a crash
			// would is safe, and dying is not.
			s.log.WithError(low).Warn("data disk nearly full: the database is left to be replayed at the next open")
		} else if err := s.db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("events: close database in %s: %w", s.dir, err))
		}
		errs = append(errs, s.lock.release())
		s.closeErr = errors.Join(errs...)
		s.log.Info("event store closed")
	})
	return s.closeErr
}

// gate lets Close wait for the reads and appends in progress while refusing
// new ones. Unlike an RWMutex it never blocks a nested read while Close
// waits: once shut, enter fails at once.
type gate struct {
	mu     sync.Mutex
	closed bool
	active sync.WaitGroup
}

func (g *gate) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.active.Add(1)
	return true
}

func (g *gate) leave() { g.active.Done() }

func (g *gate) shut() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

func (g *gate) wait() { g.active.Wait() }

// readChunkSize is how many events one Badger read transaction returns. Reads
// go chunk by chunk so that no iterator stays open while a caller's function
// or a subscriber runs, which would pin memtables for as long.
const readChunkSize = 1024

// ReadAll implements Reader. It reads the log as published when it starts.
func (s *Store) ReadAll(ctx context.Context, fromPosition uint64, fn func(Envelope) error) error {
	return s.scan(ctx, fromPosition, s.Head().Position, true, fn)
}

// ReadRaw implements RawReader: events as stored, not upcast.
func (s *Store) ReadRaw(ctx context.Context, fromPosition uint64, fn func(Envelope) error) error {
	return s.scan(ctx, fromPosition, s.Head().Position, false, fn)
}

// scan calls fn for the events at positions from..to, chunk by chunk.
func (s *Store) scan(ctx context.Context, from, to uint64, upcast bool, fn func(Envelope) error) (err error) {
	defer recoverDamage(&err)
	from = max(from, 1)
	for from <= to {
		batch, err := s.readChunk(ctx, from, to, readChunkSize, upcast)
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		for _, e := range batch {
			if err := fn(e); err != nil {
				return err
			}
		}
		from = batch[len(batch)-1].Position + 1
	}
	return nil
}

// readRange is the subscriptions' rangeReader.
func (s *Store) readRange(ctx context.Context, from, to uint64, limit int) ([]Envelope, error) {
	return s.readChunk(ctx, from, to, limit, true)
}

// readChunk returns up to limit events at positions from..to in one read
// transaction, upcast after the transaction if asked.
func (s *Store) readChunk(ctx context.Context, from, to uint64, limit int, upcast bool) ([]Envelope, error) {
	if !s.gate.enter() {
		return nil, ErrClosed
	}
	defer s.gate.leave()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]Envelope, 0, min(uint64(limit), to-from+1))
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: eventPrefix})
		defer it.Close()
		for it.Seek(eventKey(from)); it.Valid() && len(out) < limit; it.Next() {
			item := it.Item()
			pos, err := eventKeyPosition(item.Key())
			if err != nil {
				return err
			}
			if pos > to {
				break
			}
			err = item.Value(func(v []byte) error {
				e, err := decodeEnvelope(v)
				if err == nil && e.Position != pos {
					err = fmt.Errorf("%w: position %d stored under key %d", errCodec, e.Position, pos)
				}
				out = append(out, e)
				return err
			})
			if err != nil {
				return fmt.Errorf("position %d: %w", pos, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("events: read the log in %s: %w", s.dir, err)
	}
	return s.upcastAll(out, upcast)
}

func (s *Store) upcastAll(envs []Envelope, upcast bool) ([]Envelope, error) {
	if !upcast || s.opts.Upcasters == nil {
		return envs, nil
	}
	for i, e := range envs {
		up, err := s.opts.Upcasters.Upcast(e)
		if err != nil {
			return nil, err
		}
		envs[i] = up
	}
	return envs, nil
}

// ReadStream implements Reader.
func (s *Store) ReadStream(ctx context.Context, stream string, fromVersion uint64) (_ []Envelope, err error) {
	defer recoverDamage(&err)
	if err := ValidateStream(stream); err != nil {
		return nil, err
	}
	if !s.gate.enter() {
		return nil, ErrClosed
	}
	defer s.gate.leave()
	head := s.Head().Position
	var out []Envelope
	err = s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: streamPrefix(stream)})
		defer it.Close()
		for it.Seek(streamKey(stream, max(fromVersion, 1))); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			var pos uint64
			err := it.Item().Value(func(v []byte) error {
				var err error
				pos, err = decodePositionValue(v)
				return err
			})
			if err != nil {
				return err
			}
			if pos > head {
				break // committed, not yet published
			}
			item, err := txn.Get(eventKey(pos))
			if err != nil {
				return fmt.Errorf("position %d: %w", pos, err)
			}
			err = item.Value(func(v []byte) error {
				e, err := decodeEnvelope(v)
				out = append(out, e)
				return err
			})
			if err != nil {
				return fmt.Errorf("position %d: %w", pos, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("events: read stream %q in %s: %w", stream, s.dir, err)
	}
	return s.upcastAll(out, true)
}

// StreamHead implements Reader: one reverse seek in the stream's index
// (keys.go) and one read of the event it points to, however long the
// stream. Like ReadStream it sees published events only, so it never runs
// ahead of what ReadStream returns, and an Append has published its events
// before it returns. It reads a read-only or damaged store as ReadStream does.
func (s *Store) StreamHead(ctx context.Context, stream string) (_ StreamHead, err error) {
	defer recoverDamage(&err)
	if err := ValidateStream(stream); err != nil {
		return StreamHead{}, err
	}
	if !s.gate.enter() {
		return StreamHead{}, ErrClosed
	}
	defer s.gate.leave()
	if err := ctx.Err(); err != nil {
		return StreamHead{}, err
	}
	published := s.Head().Position
	var h StreamHead
	err = s.db.View(func(txn *badger.Txn) error {
		version, pos, found, err := streamEnd(txn, stream, published)
		if err != nil || !found {
			return err
		}
		item, err := txn.Get(eventKey(pos))
		if err != nil {
			return fmt.Errorf("position %d: %w", pos, err)
		}
		return item.Value(func(v []byte) error {
			e, err := decodeEnvelope(v)
			if err == nil && (e.Position != pos || e.Stream != stream || e.Version != version) {
				err = fmt.Errorf("%w: version %d indexed at position %d, which holds %q version %d at position %d",
					errCodec, version, pos, e.Stream, e.Version, e.Position)
			}
			h = StreamHead{Version: version, Hash: e.Hash}
			return err
		})
	})
	if err != nil {
		return StreamHead{}, fmt.Errorf("events: read the head of stream %q in %s: %w", stream, s.dir, err)
	}
	return h, nil
}

// streamEnd finds the last entry of stream's index whose event is at a
// position <= atMost: its version and position, found false if none. It is
// one reverse seek, and a step back for each entry past atMost (events
// committed but not yet published: one group's at most). Append's
// expected-version check and StreamHead both use it; the index is the only
// record of a stream's version, so there is no separate head key to keep.
func streamEnd(txn *badger.Txn, stream string, atMost uint64) (version, position uint64, found bool, err error) {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: streamPrefix(stream), Reverse: true})
	defer it.Close()
	for it.Seek(streamKey(stream, ^uint64(0))); it.Valid(); it.Next() {
		item := it.Item()
		if version, err = streamKeyVersion(item.Key()); err != nil {
			return 0, 0, false, err
		}
		err = item.Value(func(v []byte) error {
			var err error
			position, err = decodePositionValue(v)
			return err
		})
		if err != nil {
			return 0, 0, false, fmt.Errorf("stream index version %d: %w", version, err)
		}
		if position <= atMost {
			return version, position, true, nil
		}
	}
	return 0, 0, false, nil
}
