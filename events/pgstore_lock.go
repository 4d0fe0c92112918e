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

// Lock waits (until ctx ends) for the advisory lock key on a pooled
// connection and returns the function that frees it. Instances serialise
// short critical sections with it (the app's workflow decisions); a
// holder that dies frees it with its connection.
func (s *PgStore) Lock(ctx context.Context, key int64) (unlock func(), err error) {
	if s.isClosed() {
		return nil, ErrClosed
	}
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, pgError("connect for a lock", err)
	}
	if _, err := c.Exec(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		// The wait may have been cut short with the lock granted meanwhile:
		// this connection must not go back to the pool holding it.
		closeConn(c.Hijack())
		return nil, pgError("take a lock", err)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := c.Exec(ctx, `SELECT pg_advisory_unlock($1)`, key); err != nil {
			closeConn(c.Hijack()) // the lock goes with the connection
			return
		}
		c.Release()
	}, nil
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
