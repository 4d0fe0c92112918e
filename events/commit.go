package events

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/sirupsen/logrus"
)

// Appending. The first half holds the rules both stores share: what an
// Append may contain, when its expectation holds, and how its events are
// sealed into the hash chain. The second half is the Store's group-commit
// writer.

// prepareAppend validates a whole Append before anything is written and
// returns its events in canonical form.
func prepareAppend(stream string, expected int64, evs []Event) ([]Event, error) {
	if err := ValidateStream(stream); err != nil {
		return nil, err
	}
	if expected < AnyVersion {
		return nil, &InvalidEventError{Field: "expected_version", Reason: fmt.Sprintf("%d is neither a version, NoStream nor AnyVersion", expected)}
	}
	switch {
	case len(evs) == 0:
		return nil, &InvalidEventError{Field: "events", Reason: "at least one event is required"}
	case len(evs) > MaxEventsPerAppend:
		return nil, &InvalidEventError{Field: "events", Reason: fmt.Sprintf("%d events, more than the %d allowed in one append", len(evs), MaxEventsPerAppend)}
	}
	out := make([]Event, len(evs))
	for i, ev := range evs {
		p, err := prepare(stream, ev)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

// checkExpected reports whether a stream at version current may take an
// append that expects expected.
func checkExpected(stream string, expected int64, current uint64) error {
	switch {
	case expected == AnyVersion:
		return nil
	case expected == NoStream && current == 0:
		return nil
	case expected > 0 && uint64(expected) == current:
		return nil
	}
	return &ConcurrencyError{Stream: stream, Expected: expected, Actual: current}
}

// chainTip is what sealing needs to know about the end of the log.
type chainTip struct {
	head     Head
	lastTime time.Time
}

// stampTime returns the time for the next append. A wall clock that steps
// back (NTP, a suspended laptop) is clamped to the last event's time, so the
// log's times never go backwards in position order.
func (t chainTip) stampTime(now time.Time) time.Time {
	ts := normalizeTime(now)
	if ts.Before(t.lastTime) {
		return t.lastTime
	}
	return ts
}

// seal turns prepared events into envelopes that continue the chain after
// tip, in a stream at version streamVersion, stamped with ts. It returns the
// envelopes, the new tip and the canonical bytes they add (for Stats).
func seal(tip chainTip, stream string, streamVersion uint64, ts time.Time, evs []Event) ([]Envelope, chainTip, uint64) {
	envs := make([]Envelope, len(evs))
	prev := tip.head.Hash
	var canonical uint64
	for i, ev := range evs {
		e := Envelope{
			Position:      tip.head.Position + uint64(i) + 1,
			Stream:        stream,
			Version:       streamVersion + uint64(i) + 1,
			Type:          ev.Type,
			Schema:        ev.Schema,
			Time:          ts,
			Actor:         ev.Actor,
			CorrelationID: ev.CorrelationID,
			CausationID:   ev.CausationID,
			Data:          ev.Data,
			PrevHash:      prev,
		}
		cb := e.CanonicalBytes()
		canonical += uint64(len(cb))
		e.Hash = chainHash(prev, cb)
		prev = e.Hash
		envs[i] = e
	}
	last := envs[len(envs)-1]
	return envs, chainTip{head: Head{Position: last.Position, Hash: last.Hash}, lastTime: ts}, canonical
}

// chainHash is Envelope.ComputeHash for a well-formed PrevHash, taking the
// canonical bytes already computed so that sealing builds them once.
func chainHash(prevHex string, canonical []byte) string {
	h := sha256.New()
	if prev, err := hex.DecodeString(prevHex); err == nil && len(prev) == sha256.Size {
		h.Write(prev)
	} else {
		h.Write([]byte(prevHex))
	}
	h.Write(canonical)
	return hex.EncodeToString(h.Sum(nil))
}

// emptyHead is the head of a log with no events.
// grow counts an append of n events (canonical bytes in all) ending at
// tip, to a stream that was at version current.
func (st *Stats) grow(current uint64, n int, canonical uint64, tip chainTip) {
	if current == 0 {
		st.Streams++
	}
	if st.Count == 0 {
		st.FirstTime = tip.lastTime
	}
	st.Count += uint64(n)
	st.Bytes += canonical
	st.LastTime = tip.lastTime
	st.Head = tip.head
}

func emptyHead() Head { return Head{Position: 0, Hash: GenesisHash} }

// appendReq is one Append waiting for the writer.
type appendReq struct {
	ctx      context.Context
	stream   string
	expected int64
	events   []Event // prepared
	size     int64   // estimated bytes in a Badger transaction
	done     chan appendResult
}

type appendResult struct {
	envs []Envelope
	err  error
}

// Append implements Log. The events are validated here, then handed to the
// writer goroutine, which commits them with whatever other Appends are
// waiting, in one transaction and one fsync. Once handed over, Append waits
// for the outcome even if ctx ends: the events may already be on disk, and
// the caller must not be told otherwise.
func (s *Store) Append(ctx context.Context, stream string, expectedVersion int64, evs ...Event) ([]Envelope, error) {
	if !s.gate.enter() {
		return nil, ErrClosed
	}
	defer s.gate.leave()
	if s.refused != nil {
		return nil, s.refused
	}
	if err := s.broken.Load(); err != nil {
		return nil, *err
	}
	if err := s.lateDamage.Load(); err != nil {
		return nil, *err
	}
	prepared, err := prepareAppend(stream, expectedVersion, evs)
	if err != nil {
		return nil, err
	}
	req := &appendReq{
		ctx:      ctx,
		stream:   stream,
		expected: expectedVersion,
		events:   prepared,
		size:     estimateAppendSize(stream, prepared),
		done:     make(chan appendResult, 1),
	}
	select {
	case s.reqs <- req:
	case <-s.stop:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	res := <-req.done
	return res.envs, res.err
}

// Transaction budget. Badger refuses a transaction over MaxBatchSize bytes or
// MaxBatchCount entries (ErrTxnTooBig); the writer stays well under both by
// estimate and still copes if the estimate is wrong.
const (
	// entryOverhead is Badger's per-entry cost beyond key and value: two
	// meta bytes and the 8-byte version in the key (see Txn.checkSize).
	entryOverhead = 12
	// valuePointerSize is what a value in the value log costs the LSM tree.
	valuePointerSize = 12
	// envelopeFixedSize bounds an encoded envelope beyond its names and data.
	envelopeFixedSize = 1 + 11*10 + 2*hashBytes
)

func entrySize(keyLen, valueLen int) int64 {
	if valueLen >= badgerValueThreshold {
		valueLen = valuePointerSize
	}
	return int64(keyLen + valueLen + entryOverhead)
}

// estimateAppendSize is what an Append's entries cost a transaction: per
// event, the event entry and the stream index entry.
func estimateAppendSize(stream string, evs []Event) int64 {
	var n int64
	for _, e := range evs {
		value := envelopeFixedSize + len(stream) + len(e.Type) + len(e.Actor) + len(e.CorrelationID) + len(e.CausationID) + len(e.Data)
		n += entrySize(9, value) + entrySize(len(stream)+10, 8)
	}
	return n
}

// txnBudget is the bytes and entries the writer puts in one transaction:
// half of Badger's limits, leaving room for the estimate's error.
func (s *Store) txnBudget() (bytes, entries int64) {
	return s.db.MaxBatchSize() / 2, s.db.MaxBatchCount() / 2
}

// runWriter is the single writer. It takes one request, gathers every other
// request already waiting (up to MaxBatch events and the byte budget), and
// commits them together. A request that does not fit waits for the next
// group; one Append is never split.
func (s *Store) runWriter() {
	defer close(s.writerDone)
	budget, _ := s.txnBudget()
	var carry *appendReq
	lastGroup := 0
	for {
		first := carry
		carry = nil
		if first == nil {
			select {
			case first = <-s.reqs:
			case release := <-s.pause:
				// An import writes now (store_import.go): commit nothing
				// until it ends.
				select {
				case <-release:
				case <-s.stop:
					return
				}
				continue
			case <-s.stop:
				return
			}
		}
		batch := []*appendReq{first}
		events, size := len(first.events), first.size
		linger := time.Now().Add(groupLinger)
	gather:
		for events < s.opts.MaxBatch {
			select {
			case r := <-s.reqs:
				if events+len(r.events) > s.opts.MaxBatch || size+r.size > budget {
					carry = r
					break gather
				}
				batch = append(batch, r)
				events += len(r.events)
				size += r.size
			default:
				// The callers just answered usually append again at once.
				// If the last group was bigger than this one, give them a
				// moment to come back rather than split the group in two
				// that then alternate (Postgres's commit_delay, bounded
				// by commit_siblings, is the same idea).
				if len(batch) < lastGroup && time.Now().Before(linger) {
					runtime.Gosched()
					continue
				}
				break gather
			}
		}
		lastGroup = len(batch)
		if err := s.refusal(); err != nil {
			for _, r := range batch {
				r.done <- appendResult{err: err}
			}
			continue
		}
		s.commitBatch(batch)
	}
}

// refusal is why the writer must not commit now: the background
// verification found damage (it waits for it to end), a commit failed
// earlier, or the disk is too full for Badger to write safely.
func (s *Store) refusal() error {
	if err := s.awaitVerification(); err != nil {
		return err
	}
	if err := s.broken.Load(); err != nil {
		return *err
	}
	if err := s.guard.check(); err != nil {
		s.guard.refused()
		return err
	}
	return nil
}

// groupLinger bounds how long the writer waits for callers of the previous
// group: a fraction of one fsync, which is what waiting saves.
const groupLinger = 100 * time.Microsecond

// planned is one request's fate in a group: envelopes to write, or the error
// it gets once the group's outcome is known.
type planned struct {
	req  *appendReq
	envs []Envelope
	err  error
}

// group is a set of requests planned against the committed state, to be
// written in one transaction.
type group struct {
	items    []planned
	accepted int // items with envelopes
	consumed int // requests of the queue this group decided
	entries  []*badger.Entry
	size     int64
	count    int64
	tip      chainTip
	stats    Stats
	versions map[string]uint64 // stream versions after the group
}

// commitBatch commits a gathered batch, as few transactions as the budget
// allows. Only a successful commit advances the state; each
// transaction is planned afresh from that state, so a request that fails
// never leaves a gap in the positions of the others.
func (s *Store) commitBatch(batch []*appendReq) {
	queue := batch
	limit := len(queue)
	for len(queue) > 0 {
		g, err := s.plan(queue[:min(limit, len(queue))])
		if err == nil {
			err = s.commitGroup(g)
		}
		switch {
		case err == nil:
			s.publish(g)
			queue = queue[g.consumed:]
			limit = len(queue)
		case errors.Is(err, badger.ErrTxnTooBig) && g.accepted > 1:
			// The estimate was wrong: plan fewer requests and try again.
			limit = max(1, g.consumed/2)
		case errors.Is(err, badger.ErrTxnTooBig):
			// One Append alone does not fit. Refuse it and go on.
			i := firstAccepted(g)
			r := queue[i]
			s.log.WithFields(logrus.Fields{"stream": r.stream, "events": len(r.events)}).Error("append too large for one transaction")
			r.done <- appendResult{err: fmt.Errorf("events: append of %d events to %q does not fit in one transaction: %w", len(r.events), r.stream, err)}
			queue = append(queue[:i:i], queue[i+1:]...)
			limit = len(queue)
		default:
			// The disk refused. Nothing of this group (or of those after it,
			// planned on top of it) is acknowledged, and the state stays put.
			s.log.WithError(err).WithField("appends", len(queue)).Error("group commit failed")
			err = fmt.Errorf("events: commit: %w", err)
			if s.reachedDatabase(g) {
				// Badger may fail a commit after the writes reached its
				// memtable (a failed log sync): they are readable and may
				// yet reach the disk. Planning on the old state would
				// overwrite them, so refuse appends until a reopen.
				broken := fmt.Errorf("events: a failed commit left the database in an unknown state; reopen the store: %w", err)
				s.broken.Store(&broken)
				s.log.WithError(err).Error("event store stopped accepting appends")
			}
			for _, r := range queue {
				r.done <- appendResult{err: err}
			}
			return
		}
	}
}

func firstAccepted(g *group) int {
	for i, it := range g.items {
		if it.err == nil {
			return i
		}
	}
	return 0
}

// plan decides the requests of queue in order against the committed state:
// each one's expectation, positions and hashes, until the transaction
// budget is used (the first accepted request is always taken).
func (s *Store) plan(queue []*appendReq) (*group, error) {
	// Only this goroutine changes tip and stats: it reads them without the lock.
	g := &group{tip: s.tip, stats: s.stats, versions: map[string]uint64{}}
	budget, maxEntries := s.txnBudget()
	for _, r := range queue {
		if err := r.ctx.Err(); err != nil {
			g.items = append(g.items, planned{req: r, err: err})
			g.consumed++
			continue
		}
		current, err := s.streamVersion(g, r.stream)
		if err != nil {
			return g, err
		}
		if err := checkExpected(r.stream, r.expected, current); err != nil {
			g.items = append(g.items, planned{req: r, err: err})
			g.consumed++
			continue
		}
		envs, tip, canonical := seal(g.tip, r.stream, current, g.tip.stampTime(s.opts.Now()), r.events)
		entries := make([]*badger.Entry, 0, 2*len(envs))
		var size int64
		for _, e := range envs {
			v, err := encodeEnvelope(e)
			if err != nil {
				return g, err
			}
			k, sk := eventKey(e.Position), streamKey(e.Stream, e.Version)
			entries = append(entries, badger.NewEntry(k, v), badger.NewEntry(sk, positionValue(e.Position)))
			size += entrySize(len(k), len(v)) + entrySize(len(sk), 8)
		}
		if g.accepted > 0 && (g.size+size > budget || g.count+int64(len(entries)) > maxEntries) {
			break
		}
		g.items = append(g.items, planned{req: r, envs: envs})
		g.accepted++
		g.consumed++
		g.entries = append(g.entries, entries...)
		g.size += size
		g.count += int64(len(entries))
		g.stats.grow(current, len(envs), canonical, tip)
		g.tip = tip
		g.versions[r.stream] = current + uint64(len(envs))
	}
	return g, nil
}

// streamVersion is a stream's version as of the group being planned: the
// group's own appends first, then the cache of committed versions, then
// Badger (once per stream, cached: only this goroutine writes).
func (s *Store) streamVersion(g *group, stream string) (uint64, error) {
	if v, ok := g.versions[stream]; ok {
		return v, nil
	}
	if v, ok := s.versions[stream]; ok {
		return v, nil
	}
	var v uint64
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		v, _, _, err = streamEnd(txn, stream, ^uint64(0)) // every committed event
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("events: read version of stream %q: %w", stream, err)
	}
	s.versions[stream] = v
	return v, nil
}

// commitGroup writes a group in one transaction with one fsync (SyncWrites).
func (s *Store) commitGroup(g *group) error {
	if g.accepted == 0 {
		return nil
	}
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	for _, e := range g.entries {
		if err := txn.SetEntry(e); err != nil {
			return err
		}
	}
	if err := txn.Set(metaStatsKey, encodeStats(g.stats)); err != nil {
		return err
	}
	if s.failCommit != nil {
		if err := s.failCommit(false); err != nil {
			return err
		}
	}
	if err := txn.Commit(); err != nil {
		return err
	}
	if s.failCommit != nil {
		if err := s.failCommit(true); err != nil {
			return err
		}
	}
	s.commits.Add(1)
	return nil
}

// reachedDatabase reports whether a group whose commit failed is readable
// in Badger anyway. Its first event's position is past the committed head,
// so finding it there means the write went through.
func (s *Store) reachedDatabase(g *group) bool {
	if g == nil || g.accepted == 0 {
		return false
	}
	first := g.items[firstAccepted(g)].envs[0].Position
	err := s.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(eventKey(first)) // not g.entries: Badger rewrites their keys
		return err
	})
	return !errors.Is(err, badger.ErrKeyNotFound)
}

// publish makes a committed group visible, then answers its callers: head
// record, published state, subscriptions, callers. Publishing before
// replying means a caller that reads right after its Append sees its own
// events; replying after the head record is synced means the record is
// never behind an acknowledged event.
func (s *Store) publish(g *group) {
	if g.accepted > 0 {
		if err := s.head.write(g.tip.head); err != nil {
			// The events are durable in Badger; the record only lags, and
			// the next Open rewrites a record that is behind.
			s.log.WithError(err).WithField("position", g.tip.head.Position).Error("head record not written")
		}
		s.mu.Lock()
		s.tip, s.stats = g.tip, g.stats
		s.mu.Unlock()
		for stream, v := range g.versions {
			s.versions[stream] = v
		}
		s.feed.publish(g.tip.head.Position)
	}
	for _, it := range g.items {
		it.req.done <- appendResult{envs: it.envs, err: it.err}
	}
}
