package events

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// PgLock is a session-level advisory lock held on a connection of its
// own: PostgreSQL frees it when Release closes that connection, or when
// the holder dies and its connection goes, so another instance may take
// over the work it guards.
type PgLock struct {
	conn *pgx.Conn
}

// TryLock takes the advisory lock key if no session holds it; ok is false
// when another does.
func (s *PgStore) TryLock(ctx context.Context, key int64) (lock *PgLock, ok bool, err error) {
	if s.isClosed() {
		return nil, false, ErrClosed
	}
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, false, pgError("connect for a lock", err)
	}
	// The connection leaves the pool: the lock lives as long as it does.
	conn := c.Hijack()
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&ok); err != nil || !ok {
		closeConn(conn)
		if err != nil {
			return nil, false, pgError("take a lock", err)
		}
		return nil, false, nil
	}
	return &PgLock{conn: conn}, true, nil
}

// Alive tells whether the lock is still held: an error means its
// connection is gone, and with it the lock.
func (l *PgLock) Alive(ctx context.Context) error {
	_, err := l.conn.Exec(ctx, `SELECT 1`)
	return err
}

// Release frees the lock by closing its connection.
func (l *PgLock) Release() { closeConn(l.conn) }

func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}
