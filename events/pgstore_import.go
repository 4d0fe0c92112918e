package events

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// An import into PostgreSQL (Copy's target) is one transaction: it locks
// rd_head's row as an append does (the appends of every instance wait for
// it), checks that the log is empty, COPYs the rows chunk by chunk, moves
// the head and commits. A failure or a crash rolls it all back, so the
// database holds the whole copy or nothing of it. The transaction may be
// long for a long log; appends that wait for it past their 30 seconds
// fail, and nothing serves from an empty log meanwhile anyway.

type pgImport struct {
	s  *PgStore
	tx pgx.Tx
}

func (s *PgStore) beginImport(ctx context.Context) (importer, error) {
	if !s.gate.enter() {
		return nil, ErrClosed
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		s.gate.leave()
		return nil, pgError("begin the import", err)
	}
	fail := func(err error) (importer, error) {
		_ = tx.Rollback(context.Background())
		s.gate.leave()
		return nil, err
	}
	head, err := scanHead(tx.QueryRow(ctx, headColumns+` FROM rd_head WHERE id = 1 FOR UPDATE`))
	if err != nil {
		return fail(err)
	}
	var rows bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM rd_events)`).Scan(&rows); err != nil {
		return fail(pgError("read the log", err))
	}
	if head.tip.head.Position != 0 || rows {
		return fail(&NotEmptyError{Target: RedactURL(s.dsn), Head: head.tip.head})
	}
	return &pgImport{s: s, tx: tx}, nil
}

func (im *pgImport) write(ctx context.Context, envs []Envelope) error {
	_, err := im.tx.CopyFrom(ctx, pgx.Identifier{"rd_events"}, pgEventColumns, pgx.CopyFromSlice(len(envs), func(i int) ([]any, error) {
		e := envs[i]
		return []any{int64(e.Position), e.Stream, int64(e.Version), e.Type, e.Schema, e.Time.UnixNano(),
			e.Actor, e.CorrelationID, e.CausationID, []byte(e.Data), e.PrevHash, e.Hash}, nil
	}))
	if err != nil {
		return pgError(fmt.Sprintf("write positions %d to %d", envs[0].Position, envs[len(envs)-1].Position), err)
	}
	return nil
}

func (im *pgImport) commit(ctx context.Context, tip chainTip, st Stats) error {
	s := im.s
	if st.Count > 0 {
		if _, err := im.tx.Exec(ctx, `UPDATE rd_head SET position = $1, hash = $2, last_time_ns = $3, first_time_ns = $4,
			event_count = $5, bytes = $6, streams = $7 WHERE id = 1`,
			int64(tip.head.Position), tip.head.Hash, tip.lastTime.UnixNano(), st.FirstTime.UnixNano(),
			int64(st.Count), int64(st.Bytes), int64(st.Streams)); err != nil {
			return pgError("move the head", err)
		}
		if _, err := im.tx.Exec(ctx, `SELECT pg_notify($1, $2)`, pgChannel, notifyPayload(tip.head)); err != nil {
			return pgError("notify the other instances", err)
		}
	}
	if err := im.tx.Commit(ctx); err != nil && !im.committed(tip.head) {
		return pgError("commit the import", err)
	}
	if st.Count > 0 {
		s.seen(pgHead{tip: tip, stats: st})
	}
	s.log.WithField("position", tip.head.Position).Info("log imported")
	s.gate.leave()
	return nil
}

// committed settles a COMMIT whose answer was lost: the head row names
// the import's end if it went through.
func (im *pgImport) committed(want Head) bool {
	if want.Position == 0 {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), pgCommitTimeout)
	defer cancel()
	h, err := scanHead(im.s.pool.QueryRow(ctx, headColumns+` FROM rd_head WHERE id = 1`))
	return err == nil && h.tip.head == want
}

func (im *pgImport) abort() error {
	defer im.s.gate.leave()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := im.tx.Rollback(ctx); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		// The server rolls back a transaction whose connection is gone.
		im.s.log.WithError(err).Warn("rolling the import back failed; the server drops it with the connection")
	}
	return nil
}
