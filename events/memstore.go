package events

import (
	"context"
	"fmt"
	"sort"
	"sync"
)

// MemStore is the event log in memory. It follows the same rules as Store
// (validation, expectations, hash chain, subscriptions) without durability:
// tests use it, and an exported archive is served through a read-only one.
type MemStore struct {
	opts     Options
	feed     *feed
	readOnly bool

	mu  sync.RWMutex
	log []Envelope // log[i] is position i+1 in a writable store
	// last is, per stream, the index in log of the stream's last event:
	// its version for Append's expectation, its hash for StreamHead.
	last   map[string]int
	tip    chainTip
	stats  Stats
	closed bool
}

var _ Log = (*MemStore)(nil)

// NewMemStore returns an empty, writable log in memory.
func NewMemStore(opts Options) *MemStore {
	return &MemStore{
		opts:  opts.withDefaults(),
		feed:  newFeed(0),
		last:  map[string]int{},
		tip:   chainTip{head: emptyHead()},
		stats: Stats{Head: emptyHead()},
	}
}

// newReadOnlyMemStore serves already-sealed envelopes (positions 1..n) as
// given, without re-hashing: Verify judges them. Append returns ErrReadOnly.
func newReadOnlyMemStore(envs []Envelope, opts Options) *MemStore {
	m := NewMemStore(opts)
	m.readOnly = true
	m.log = append([]Envelope(nil), envs...)
	for i, e := range m.log {
		m.last[e.Stream] = i
		m.stats.Bytes += uint64(len(e.CanonicalBytes()))
	}
	if n := len(m.log); n > 0 {
		last := m.log[n-1]
		m.tip = chainTip{head: Head{Position: last.Position, Hash: last.Hash}, lastTime: last.Time}
		m.stats.Count = uint64(n)
		m.stats.Streams = uint64(len(m.last))
		m.stats.FirstTime = m.log[0].Time
		m.stats.LastTime = last.Time
		m.stats.Head = m.tip.head
		m.feed = newFeed(0)
		m.feed.publish(last.Position)
	}
	return m
}

// Append implements Log.
func (m *MemStore) Append(ctx context.Context, stream string, expectedVersion int64, evs ...Event) ([]Envelope, error) {
	if err := m.writable(); err != nil {
		return nil, err
	}
	prepared, err := prepareAppend(stream, expectedVersion, evs)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, ErrClosed
	}
	current := m.streamHead(stream).Version
	if err := checkExpected(stream, expectedVersion, current); err != nil {
		m.mu.Unlock()
		return nil, err
	}
	envs, tip, canonical := seal(m.tip, stream, current, m.tip.stampTime(m.opts.Now()), prepared)
	m.log = append(m.log, envs...)
	m.last[stream] = len(m.log) - 1
	m.stats.grow(current, len(envs), canonical, tip)
	m.tip = tip
	m.mu.Unlock()

	// Publish after the "commit", outside the lock, as the Store does.
	m.feed.publish(tip.head.Position)
	return append([]Envelope(nil), envs...), nil
}

func (m *MemStore) writable() error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	switch {
	case m.closed:
		return ErrClosed
	case m.readOnly:
		return fmt.Errorf("events: archive opened for review: %w", ErrReadOnly)
	}
	return nil
}

// snapshot returns the events committed so far. The slice is never written
// again below its length (appends only grow it), so it is read without the lock.
func (m *MemStore) snapshot() ([]Envelope, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, ErrClosed
	}
	return m.log[:len(m.log):len(m.log)], nil
}

// indexOf is the index of the first event at or after position.
func indexOf(log []Envelope, position uint64) int {
	return sort.Search(len(log), func(i int) bool { return log[i].Position >= position })
}

// ReadStream implements Reader.
func (m *MemStore) ReadStream(ctx context.Context, stream string, fromVersion uint64) ([]Envelope, error) {
	if err := ValidateStream(stream); err != nil {
		return nil, err
	}
	log, err := m.snapshot()
	if err != nil {
		return nil, err
	}
	var out []Envelope
	for _, e := range log {
		if e.Stream != stream || e.Version < fromVersion {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		up, err := m.opts.Upcasters.Upcast(e)
		if err != nil {
			return nil, err
		}
		out = append(out, up)
	}
	return out, nil
}

// StreamHead implements Reader: a map lookup, not a scan.
func (m *MemStore) StreamHead(ctx context.Context, stream string) (StreamHead, error) {
	if err := ValidateStream(stream); err != nil {
		return StreamHead{}, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return StreamHead{}, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return StreamHead{}, err
	}
	return m.streamHead(stream), nil
}

// streamHead is the end of stream, as ReadStream would reach it: its last
// event in log order. The caller holds mu.
func (m *MemStore) streamHead(stream string) StreamHead {
	i, ok := m.last[stream]
	if !ok {
		return StreamHead{}
	}
	e := m.log[i]
	return StreamHead{Version: e.Version, Hash: e.Hash}
}

// ReadAll implements Reader.
func (m *MemStore) ReadAll(ctx context.Context, fromPosition uint64, fn func(Envelope) error) error {
	return m.read(ctx, fromPosition, true, fn)
}

// ReadRaw implements RawReader.
func (m *MemStore) ReadRaw(ctx context.Context, fromPosition uint64, fn func(Envelope) error) error {
	return m.read(ctx, fromPosition, false, fn)
}

func (m *MemStore) read(ctx context.Context, fromPosition uint64, upcast bool, fn func(Envelope) error) error {
	log, err := m.snapshot()
	if err != nil {
		return err
	}
	for _, e := range log[indexOf(log, fromPosition):] {
		if err := ctx.Err(); err != nil {
			return err
		}
		if upcast {
			if e, err = m.opts.Upcasters.Upcast(e); err != nil {
				return err
			}
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// readRange is the subscriptions' rangeReader.
func (m *MemStore) readRange(ctx context.Context, from, to uint64, limit int) ([]Envelope, error) {
	log, err := m.snapshot()
	if err != nil {
		return nil, err
	}
	var out []Envelope
	for _, e := range log[indexOf(log, from):] {
		if e.Position > to || len(out) == limit {
			break
		}
		up, err := m.opts.Upcasters.Upcast(e)
		if err != nil {
			return nil, err
		}
		out = append(out, up)
	}
	return out, ctx.Err()
}

// Head implements Reader.
func (m *MemStore) Head() Head {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.tip.head
}

// DurableHead implements RawReader. Memory has no separate head record: what
// is committed is all there is.
func (m *MemStore) DurableHead() (Head, error) { return m.Head(), nil }

// Stats implements Reader.
func (m *MemStore) Stats(ctx context.Context) (Stats, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return Stats{}, ErrClosed
	}
	return m.stats, ctx.Err()
}

// Subscribe implements Log.
func (m *MemStore) Subscribe(ctx context.Context, fromPosition uint64) *Subscription {
	return m.feed.subscribe(ctx, fromPosition, m.readRange)
}

// Close ends subscriptions; later calls fail with ErrClosed. It is idempotent.
func (m *MemStore) Close() error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.feed.close()
	return nil
}
