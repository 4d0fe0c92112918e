package events

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sirupsen/logrus"
)

// PgStore is the event log on PostgreSQL, for a team's server that runs as
// one or more instances on one database. It keeps every promise of Store
// (the conformance suite runs on both): all-or-nothing appends with
// expected versions, gap-free positions in commit order from every
// process (each append locks rd_head's row), the hash chain, group commit
// (one transaction for the appends waiting), subscriptions that catch up
// then follow live. Another instance's appends reach this one's
// subscriptions through LISTEN/NOTIFY, with a poll of the head behind it
// so a lost notification only delays (pgstore_listen.go).
type PgStore struct {
	opts Options
	log  logrus.FieldLogger
	pool *pgxpool.Pool
	dsn  string
	feed *feed
	gate gate

	reqs       chan *appendReq
	stop       chan struct{}
	writerDone chan struct{}
	listenDone chan struct{}

	mu  sync.RWMutex
	tip chainTip // the last commit seen, by this process or another

	closeOnce sync.Once
	closeErr  error
}

var _ Log = (*PgStore)(nil)

// IsPostgresURL reports whether a store's address names PostgreSQL
// (postgres:// or postgresql://) rather than a data directory.
func IsPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// RedactURL is a PostgreSQL URL without its password, for logs and errors.
func RedactURL(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://[unparsable address]"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// OpenPostgres opens the log in the database dsn names (a postgres:// URL),
// creating or migrating its tables. A database it cannot use is refused
// with the reason: unreachable, a refused login, no rights, a schema
// newer than this program's.
func OpenPostgres(ctx context.Context, dsn string, opts Options) (*PgStore, error) {
	opts = opts.withDefaults()
	if opts.ReadOnly {
		return nil, errors.New("events: a PostgreSQL log is not opened read-only: review an export instead")
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("events: %s is not a PostgreSQL address: %w", RedactURL(dsn), err)
	}
	cfg.MaxConns = max(cfg.MaxConns, 8)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("events: connect to %s: %w", RedactURL(dsn), err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = pool.Ping(pingCtx)
	cancel()
	if err != nil {
		pool.Close()
		return nil, pgError("reach PostgreSQL at "+RedactURL(dsn), err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	s := &PgStore{opts: opts, log: opts.Logger.WithField("store", RedactURL(dsn)), pool: pool, dsn: dsn,
		reqs: make(chan *appendReq), stop: make(chan struct{}), writerDone: make(chan struct{}), listenDone: make(chan struct{})}
	head, err := s.readHead(ctx)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.tip = head.tip
	s.feed = newFeed(head.tip.head.Position)
	go s.runWriter()
	go s.listen()
	return s, nil
}

// pgHead is rd_head's row.
type pgHead struct {
	tip   chainTip
	stats Stats
}

func (s *PgStore) readHead(ctx context.Context) (pgHead, error) {
	return scanHead(s.pool.QueryRow(ctx, headColumns+` FROM rd_head WHERE id = 1`))
}

const headColumns = `SELECT position, hash, last_time_ns, first_time_ns, event_count, bytes, streams`

func scanHead(row pgx.Row) (pgHead, error) {
	var pos, last, first, count, bytes, streams int64
	var hash string
	if err := row.Scan(&pos, &hash, &last, &first, &count, &bytes, &streams); err != nil {
		return pgHead{}, pgError("read the log's head", err)
	}
	h := Head{Position: uint64(pos), Hash: hash}
	st := Stats{Count: uint64(count), Bytes: uint64(bytes), Streams: uint64(streams), Head: h}
	var lastTime time.Time
	if count > 0 {
		lastTime, st.FirstTime = fromNanos(last), fromNanos(first)
		st.LastTime = lastTime
	}
	return pgHead{tip: chainTip{head: h, lastTime: lastTime}, stats: st}, nil
}

func fromNanos(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// eventColumns are an envelope's columns, in scanEnvelope's order.
const eventColumns = `position, stream, version, type, schema, time_ns, actor, correlation_id, causation_id, data, prev_hash, hash`

func scanEnvelope(rows pgx.Rows) (Envelope, error) {
	var e Envelope
	var pos, version, ns int64
	var data []byte
	if err := rows.Scan(&pos, &e.Stream, &version, &e.Type, &e.Schema, &ns, &e.Actor, &e.CorrelationID,
		&e.CausationID, &data, &e.PrevHash, &e.Hash); err != nil {
		return Envelope{}, err
	}
	e.Position, e.Version, e.Time, e.Data = uint64(pos), uint64(version), fromNanos(ns), data
	return e, nil
}

// query reads envelopes, upcast or as stored, calling fn for each.
func (s *PgStore) query(ctx context.Context, upcast bool, fn func(Envelope) error, sql string, args ...any) error {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return s.readError(err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanEnvelope(rows)
		if err != nil {
			return s.readError(err)
		}
		if upcast {
			if e, err = s.opts.Upcasters.Upcast(e); err != nil {
				return err
			}
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return s.readError(rows.Err())
}

func (s *PgStore) readError(err error) error {
	if err == nil {
		return nil
	}
	if s.isClosed() {
		return ErrClosed
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return pgError("read the log", err)
}

func (s *PgStore) isClosed() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

// ReadStream implements Reader.
func (s *PgStore) ReadStream(ctx context.Context, stream string, fromVersion uint64) ([]Envelope, error) {
	if err := ValidateStream(stream); err != nil {
		return nil, err
	}
	if s.isClosed() {
		return nil, ErrClosed
	}
	var out []Envelope
	err := s.query(ctx, true, func(e Envelope) error { out = append(out, e); return nil },
		`SELECT `+eventColumns+` FROM rd_events WHERE stream = $1 AND version >= $2 ORDER BY version`, stream, int64(fromVersion))
	return out, err
}

// StreamHead implements Reader.
func (s *PgStore) StreamHead(ctx context.Context, stream string) (StreamHead, error) {
	if err := ValidateStream(stream); err != nil {
		return StreamHead{}, err
	}
	if s.isClosed() {
		return StreamHead{}, ErrClosed
	}
	var version int64
	var hash string
	err := s.pool.QueryRow(ctx, `SELECT version, hash FROM rd_events WHERE stream = $1 ORDER BY version DESC LIMIT 1`, stream).Scan(&version, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return StreamHead{}, nil
	}
	if err != nil {
		return StreamHead{}, s.readError(err)
	}
	return StreamHead{Version: uint64(version), Hash: hash}, nil
}

// pgReadChunk is how many events one query of ReadAll reads: the reading
// never holds a query open while fn runs for long.
const pgReadChunk = 1000

// ReadAll implements Reader.
func (s *PgStore) ReadAll(ctx context.Context, fromPosition uint64, fn func(Envelope) error) error {
	return s.readFrom(ctx, fromPosition, true, fn)
}

// ReadRaw implements RawReader.
func (s *PgStore) ReadRaw(ctx context.Context, fromPosition uint64, fn func(Envelope) error) error {
	return s.readFrom(ctx, fromPosition, false, fn)
}

// readFrom reads the log up to its end as it is when it starts, a chunk
// at a time.
func (s *PgStore) readFrom(ctx context.Context, from uint64, upcast bool, fn func(Envelope) error) error {
	if s.isClosed() {
		return ErrClosed
	}
	end := s.Head().Position
	if h, err := s.DurableHead(); err == nil {
		end = max(end, h.Position)
	}
	next := max(from, 1)
	for next <= end {
		var chunk []Envelope
		err := s.query(ctx, upcast, func(e Envelope) error { chunk = append(chunk, e); return nil },
			`SELECT `+eventColumns+` FROM rd_events WHERE position >= $1 AND position <= $2 ORDER BY position LIMIT $3`,
			int64(next), int64(end), pgReadChunk)
		if err != nil {
			return err
		}
		if len(chunk) == 0 {
			return nil
		}
		for _, e := range chunk {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		next = chunk[len(chunk)-1].Position + 1
	}
	return nil
}

// readRange is the subscriptions' rangeReader.
func (s *PgStore) readRange(ctx context.Context, from, to uint64, limit int) ([]Envelope, error) {
	var out []Envelope
	err := s.query(ctx, true, func(e Envelope) error { out = append(out, e); return nil },
		`SELECT `+eventColumns+` FROM rd_events WHERE position >= $1 AND position <= $2 ORDER BY position LIMIT $3`,
		int64(from), int64(to), limit)
	return out, err
}

// Head implements Reader: the last commit this process knows of, its own
// or (by notification or poll) another instance's.
func (s *PgStore) Head() Head {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.tip.head
}

// DurableHead implements RawReader: rd_head's row, committed with the
// events it names.
func (s *PgStore) DurableHead() (Head, error) {
	h, err := s.readHead(context.Background())
	if err != nil {
		return Head{}, err
	}
	// Another instance's commit read here moves this process on now, not
	// at the next notification or poll: whoever waits for it is served.
	s.seen(h)
	return h.tip.head, nil
}

// Stats implements Reader.
func (s *PgStore) Stats(ctx context.Context) (Stats, error) {
	if s.isClosed() {
		return Stats{}, ErrClosed
	}
	h, err := s.readHead(ctx)
	if err != nil {
		return Stats{}, err
	}
	return h.stats, nil
}

// Subscribe implements Log.
func (s *PgStore) Subscribe(ctx context.Context, fromPosition uint64) *Subscription {
	return s.feed.subscribe(ctx, fromPosition, s.readRange)
}

// seen records a commit this process learned of (its own, or another's),
// so Head and the subscriptions move on.
func (s *PgStore) seen(h pgHead) {
	s.mu.Lock()
	if h.tip.head.Position > s.tip.head.Position {
		s.tip = h.tip
	}
	s.mu.Unlock()
	s.feed.publish(h.tip.head.Position)
}

// Close stops the writer (waiting for the group it commits), the listener
// and the subscriptions, then the connections. It is idempotent.
func (s *PgStore) Close() error {
	s.closeOnce.Do(func() {
		s.gate.shut()
		close(s.stop)
		<-s.writerDone
		<-s.listenDone
		s.feed.close()
		s.gate.wait()
		s.pool.Close()
		s.log.Info("event store closed")
	})
	return s.closeErr
}
