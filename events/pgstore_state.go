package events

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// rd_state holds, by name, what a server on PostgreSQL keeps beside the
// log and every instance needs: its credentials, its ssh key (sealed by
// the app), its known_hosts, checkpoints. The values are opaque here: the
// app decides their shape and what is secret. They are not events, so an
// export of the log never carries them.

// LoadState reads the value stored under name; found is false when there
// is none.
func (s *PgStore) LoadState(ctx context.Context, name string) (value []byte, found bool, err error) {
	if s.isClosed() {
		return nil, false, ErrClosed
	}
	err = s.pool.QueryRow(ctx, `SELECT value FROM rd_state WHERE name = $1 AND value IS NOT NULL`, name).Scan(&value)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, pgError(fmt.Sprintf("read the state %q", name), err)
	}
	return value, true, nil
}

// SaveState stores value under name, replacing what was there: for values
// one writer owns or that may be lost to a concurrent writer (checkpoints).
func (s *PgStore) SaveState(ctx context.Context, name string, value []byte) error {
	if s.isClosed() {
		return ErrClosed
	}
	if value == nil {
		value = []byte{}
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO rd_state (name, value, updated) VALUES ($1, $2, now())
		ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated = now()`, name, value)
	if err != nil {
		return pgError(fmt.Sprintf("write the state %q", name), err)
	}
	return nil
}

// UpdateState changes the value under name as a read-modify-write under
// the row's lock: fn gets the value as it is now (found false when there
// is none) and returns the one to store, or nil to leave it as it is. Two
// instances updating one name at once run one after the other, so neither
// loses the other's change. fn may run while the row is locked: it should
// be quick, and must not update the same name.
func (s *PgStore) UpdateState(ctx context.Context, name string, fn func(old []byte, found bool) ([]byte, error)) error {
	if s.isClosed() {
		return ErrClosed
	}
	what := fmt.Sprintf("update the state %q", name)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return pgError(what, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	// The row exists before it is locked, so a first value is serialised
	// like every later one (a NULL value is "none yet").
	if _, err := tx.Exec(ctx, `INSERT INTO rd_state (name, value) VALUES ($1, NULL) ON CONFLICT (name) DO NOTHING`, name); err != nil {
		return pgError(what, err)
	}
	var old []byte
	if err := tx.QueryRow(ctx, `SELECT value FROM rd_state WHERE name = $1 FOR UPDATE`, name).Scan(&old); err != nil {
		return pgError(what, err)
	}
	next, err := fn(old, old != nil)
	if err != nil {
		return err
	}
	if next != nil {
		if _, err := tx.Exec(ctx, `UPDATE rd_state SET value = $2, updated = now() WHERE name = $1`, name, next); err != nil {
			return pgError(what, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return pgError(what, err)
	}
	return nil
}
