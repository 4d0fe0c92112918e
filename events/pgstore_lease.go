package events

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// rd_leases says which instance holds a piece of work that must run in
// one place at a time (a deployment: "deploy/d7"), until when. The holder
// renews its lease while it works; once a lease has expired, any instance
// may take it, and with it the work (the runner's takeover of a dead
// instance's deployment). Times are the database's clock (now()), so
// instances whose clocks disagree still agree on who holds what.

// TakeLease takes the lease name for holder for ttl, when nobody holds it,
// holder already does (it is renewed), or its holder let it expire. ok is
// false when another holder's lease is still running.
func (s *PgStore) TakeLease(ctx context.Context, name, holder string, ttl time.Duration) (ok bool, err error) {
	if s.isClosed() {
		return false, ErrClosed
	}
	var got string
	err = s.pool.QueryRow(ctx, `INSERT INTO rd_leases (name, holder, expires)
		VALUES ($1, $2, now() + make_interval(secs => $3))
		ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires = EXCLUDED.expires
		WHERE rd_leases.holder = EXCLUDED.holder OR rd_leases.expires < now()
		RETURNING holder`, name, holder, ttl.Seconds()).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, pgError(fmt.Sprintf("take the lease %q", name), err)
	}
	return true, nil
}

// RenewLease extends holder's lease name by ttl from now; ok is false when
// holder no longer holds it (another instance took it after it expired,
// or it was released).
func (s *PgStore) RenewLease(ctx context.Context, name, holder string, ttl time.Duration) (ok bool, err error) {
	if s.isClosed() {
		return false, ErrClosed
	}
	tag, err := s.pool.Exec(ctx, `UPDATE rd_leases SET expires = now() + make_interval(secs => $3)
		WHERE name = $1 AND holder = $2`, name, holder, ttl.Seconds())
	if err != nil {
		return false, pgError(fmt.Sprintf("renew the lease %q", name), err)
	}
	return tag.RowsAffected() == 1, nil
}

// ReleaseLease gives up holder's lease name (nothing when another holds it).
func (s *PgStore) ReleaseLease(ctx context.Context, name, holder string) error {
	if s.isClosed() {
		return ErrClosed
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM rd_leases WHERE name = $1 AND holder = $2`, name, holder); err != nil {
		return pgError(fmt.Sprintf("release the lease %q", name), err)
	}
	return nil
}

// Lease is a lease as stored.
type Lease struct {
	Holder  string
	Expires time.Time
	Expired bool // by the database's clock
}

// LeaseOf reads the lease name; found is false when nobody holds it.
func (s *PgStore) LeaseOf(ctx context.Context, name string) (l Lease, found bool, err error) {
	if s.isClosed() {
		return Lease{}, false, ErrClosed
	}
	err = s.pool.QueryRow(ctx, `SELECT holder, expires, expires < now() FROM rd_leases WHERE name = $1`, name).
		Scan(&l.Holder, &l.Expires, &l.Expired)
	if errors.Is(err, pgx.ErrNoRows) {
		return Lease{}, false, nil
	}
	if err != nil {
		return Lease{}, false, pgError(fmt.Sprintf("read the lease %q", name), err)
	}
	return l, true, nil
}
