package events

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Append implements Log. As with Store, the events are validated here and
// handed to the writer goroutine, which commits them with the other
// Appends waiting, in one transaction; once handed over, Append waits for
// the outcome even if ctx ends.
func (s *PgStore) Append(ctx context.Context, stream string, expectedVersion int64, evs ...Event) ([]Envelope, error) {
	if !s.gate.enter() {
		return nil, ErrClosed
	}
	defer s.gate.leave()
	prepared, err := prepareAppend(stream, expectedVersion, evs)
	if err != nil {
		return nil, err
	}
	req := &appendReq{ctx: ctx, stream: stream, expected: expectedVersion, events: prepared, done: make(chan appendResult, 1)}
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

// runWriter takes one request and every other already waiting (up to
// MaxBatch events), and commits them in one transaction.
func (s *PgStore) runWriter() {
	defer close(s.writerDone)
	for {
		var first *appendReq
		select {
		case first = <-s.reqs:
		case <-s.stop:
			return
		}
		batch := []*appendReq{first}
		events := len(first.events)
	gather:
		for events < s.opts.MaxBatch {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
				events += len(r.events)
			default:
				break gather
			}
		}
		s.commitBatch(batch)
	}
}

// pgCommitTimeout bounds one group's transaction: a database that stops
// answering fails the appends instead of holding them forever.
const pgCommitTimeout = 30 * time.Second

// commitBatch plans and commits a batch; each request gets its envelopes
// or its error. A commit whose outcome is unknown (the connection dropped
// during COMMIT) is settled by reading the log back.
func (s *PgStore) commitBatch(batch []*appendReq) {
	ctx, cancel := context.WithTimeout(context.Background(), pgCommitTimeout)
	defer cancel()
	g, err := s.commitGroup(ctx, batch)
	if err != nil && g != nil && g.accepted > 0 && !errors.Is(err, errNotCommitted) {
		if ok, rerr := s.committed(g); rerr == nil && ok {
			s.log.WithError(err).Warn("the commit's answer was lost, but the events are in the log")
			err = nil
		}
	}
	if err != nil {
		err = fmt.Errorf("events: commit: %w", err)
		s.log.WithError(err).WithField("appends", len(batch)).Error("group commit failed")
		for _, r := range batch {
			r.done <- appendResult{err: err}
		}
		return
	}
	if g.accepted > 0 {
		s.seen(pgHead{tip: g.tip, stats: g.stats})
	}
	for _, it := range g.items {
		it.req.done <- appendResult{envs: it.envs, err: it.err}
	}
}

// errNotCommitted wraps a failure before COMMIT was sent: nothing of the
// group can be in the log.
var errNotCommitted = errors.New("not committed")

func notCommitted(err error) error { return fmt.Errorf("%w: %w", errNotCommitted, err) }

// commitGroup is one transaction: lock rd_head (every writer of every
// process waits here, so positions follow commit order without a gap),
// decide each request against the committed versions, write the accepted
// ones, move the head, notify the other instances, commit.
func (s *PgStore) commitGroup(ctx context.Context, batch []*appendReq) (*group, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, notCommitted(err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	head, err := scanHead(tx.QueryRow(ctx, headColumns+` FROM rd_head WHERE id = 1 FOR UPDATE`))
	if err != nil {
		return nil, notCommitted(err)
	}
	versions, err := streamVersions(ctx, tx, batch)
	if err != nil {
		return nil, notCommitted(err)
	}
	g := &group{tip: head.tip, stats: head.stats, versions: map[string]uint64{}}
	var rows [][]any
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			g.items = append(g.items, planned{req: r, err: err})
			continue
		}
		current, ok := g.versions[r.stream]
		if !ok {
			current = versions[r.stream]
		}
		if err := checkExpected(r.stream, r.expected, current); err != nil {
			g.items = append(g.items, planned{req: r, err: err})
			continue
		}
		envs, tip, canonical := seal(g.tip, r.stream, current, g.tip.stampTime(s.opts.Now()), r.events)
		for _, e := range envs {
			rows = append(rows, []any{int64(e.Position), e.Stream, int64(e.Version), e.Type, e.Schema, e.Time.UnixNano(),
				e.Actor, e.CorrelationID, e.CausationID, []byte(e.Data), e.PrevHash, e.Hash})
		}
		g.items = append(g.items, planned{req: r, envs: envs})
		g.accepted++
		g.stats.grow(current, len(envs), canonical, tip)
		g.tip = tip
		g.versions[r.stream] = current + uint64(len(envs))
	}
	if g.accepted == 0 {
		return g, nil
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"rd_events"}, pgEventColumns, pgx.CopyFromRows(rows)); err != nil {
		return nil, notCommitted(err)
	}
	st := g.stats
	if _, err := tx.Exec(ctx, `UPDATE rd_head SET position = $1, hash = $2, last_time_ns = $3, first_time_ns = $4,
		event_count = $5, bytes = $6, streams = $7 WHERE id = 1`,
		int64(g.tip.head.Position), g.tip.head.Hash, g.tip.lastTime.UnixNano(), st.FirstTime.UnixNano(),
		int64(st.Count), int64(st.Bytes), int64(st.Streams)); err != nil {
		return nil, notCommitted(err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, pgChannel, notifyPayload(g.tip.head)); err != nil {
		return nil, notCommitted(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return g, err // unknown: the server may have committed
	}
	return g, nil
}

var pgEventColumns = []string{"position", "stream", "version", "type", "schema", "time_ns", "actor",
	"correlation_id", "causation_id", "data", "prev_hash", "hash"}

// streamVersions reads the committed version of every stream of a batch
// in one query (under the head's lock, so no other writer moves them).
func streamVersions(ctx context.Context, tx pgx.Tx, batch []*appendReq) (map[string]uint64, error) {
	names := make([]string, 0, len(batch))
	seen := map[string]bool{}
	for _, r := range batch {
		if !seen[r.stream] {
			seen[r.stream] = true
			names = append(names, r.stream)
		}
	}
	rows, err := tx.Query(ctx, `SELECT stream, max(version) FROM rd_events WHERE stream = ANY($1) GROUP BY stream`, names)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]uint64{}
	for rows.Next() {
		var name string
		var v int64
		if err := rows.Scan(&name, &v); err != nil {
			return nil, err
		}
		out[name] = uint64(v)
	}
	return out, rows.Err()
}

// committed reports whether a group whose COMMIT got no answer is in the
// log: its last event is there with the hash it was sealed with.
func (s *PgStore) committed(g *group) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), pgCommitTimeout)
	defer cancel()
	var hash string
	err := s.pool.QueryRow(ctx, `SELECT hash FROM rd_events WHERE position = $1`, int64(g.tip.head.Position)).Scan(&hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		s.log.WithError(err).Error("cannot tell whether a commit went through")
		return false, err
	}
	return hash == g.tip.head.Hash, nil
}

// notifyPayload is what a commit tells the other instances: its head.
func notifyPayload(h Head) string { return strconv.FormatUint(h.Position, 10) + " " + h.Hash }

func parseNotifyPayload(p string) (Head, bool) {
	pos, hash, ok := strings.Cut(p, " ")
	if !ok {
		return Head{}, false
	}
	n, err := strconv.ParseUint(pos, 10, 64)
	if err != nil {
		return Head{}, false
	}
	return Head{Position: n, Hash: hash}, true
}
