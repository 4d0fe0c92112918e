package app

import (
	"context"
	"maps"
	"time"

	"releasedesk/events"
	"releasedesk/projections"
)

// StateStore keeps, by name, what a server on PostgreSQL keeps beside its
// log for every instance (events.PgStore, table rd_state).
type StateStore interface {
	LoadState(ctx context.Context, name string) ([]byte, bool, error)
	SaveState(ctx context.Context, name string, value []byte) error
	UpdateState(ctx context.Context, name string, fn func(old []byte, found bool) ([]byte, error)) error
}

// The names of what a desk keeps in a StateStore.
const (
	stateCredentials = "credentials"            // the credential store's JSON, as credentials.json
	stateSSHKey      = "ssh-key"                // the publishing key, sealed with the SecretKey
	stateSSHKeyPub   = "ssh-key.pub"            // its public half, an authorized_keys line
	stateKnownHosts  = "known_hosts"            // the trusted host keys, as the file
	stateCheckpoint  = "projections.checkpoint" // the read models' state (a speed-up)
	stateOutbox      = "outbox.checkpoint"      // where the outbox reads the log from
)

// stateTimeout bounds one read or write of the state, so a database that
// stopped answering fails a request instead of hanging it.
const stateTimeout = 30 * time.Second

// OpenStateCredentials is the credential store of a server on PostgreSQL:
// the same JSON as credentials.json, in the database, so every instance
// signs in the same people with the same tokens.
//
// Every change is a read-modify-write of the database's row under its
// lock (UpdateState): two instances changing credentials at once both
// keep their change. Each instance keeps a copy in memory for the lookups
// every request makes, and reads the database again when a token is not
// in it (a token made on another instance works here at once), before
// every password check (a password changed elsewhere counts at once), and
// every few seconds (Desk.keepFresh), which is how a token removed
// elsewhere leaves this copy: its token.revoked event, which every
// instance follows, refuses it before that.
func OpenStateCredentials(ctx context.Context, st StateStore) (*Credentials, error) {
	c := emptyCredentials()
	c.state = st
	if err := c.reload(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// reload reads the database's credentials into memory, after any change
// this instance is writing.
func (c *Credentials) reload(ctx context.Context) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, stateTimeout)
	defer cancel()
	data, found, err := c.state.LoadState(ctx, stateCredentials)
	if err != nil {
		return err
	}
	if !found {
		c.swap(&credChange{passwords: map[string]string{}, tokens: map[string]credToken{}})
		return nil
	}
	return c.load(data, "the credentials in the database")
}

// freshen reloads unless a reload began after since (a miss at since is
// answered by it): a burst of misses costs one read. A zero since always
// reads. A database that fails leaves the copy as it is.
func (c *Credentials) freshen(since time.Time) {
	if c.state == nil {
		return
	}
	c.reloadMu.Lock()
	defer c.reloadMu.Unlock()
	if !since.IsZero() && c.reloaded.After(since) {
		return
	}
	started := time.Now()
	if err := c.reload(context.Background()); err == nil {
		c.reloaded = started
	}
}

// updateState is update on the database: fn is applied to the row as it
// is there, under its lock. The caller holds wmu.
func (c *Credentials) updateState(now time.Time, fn func(ch *credChange)) error {
	ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
	defer cancel()
	var ch *credChange
	err := c.state.UpdateState(ctx, stateCredentials, func(old []byte, found bool) ([]byte, error) {
		base := emptyCredentials()
		if found {
			if err := base.load(old, "the credentials in the database"); err != nil {
				return nil, err
			}
		}
		ch = &credChange{passwords: maps.Clone(base.passwords), tokens: maps.Clone(base.tokens)}
		return applyCredChange(now, ch, fn)
	})
	if err != nil {
		return err
	}
	c.swap(ch)
	return nil
}

// catchUpWait bounds how long a request waits for another instance's
// events to reach this one's read models.
const catchUpWait = 10 * time.Second

// catchUp brings the read models, on a server on PostgreSQL, up to the end
// of the log as the database has it, and tells whether they are there now
// (so the caller looks again, even when they already were): a token or
// a user made on another instance a moment ago is in the credentials
// before its event has reached this instance (LISTEN/NOTIFY), and would
// be refused meanwhile.
func (a *Auth) catchUp(ctx context.Context) bool {
	if a.Creds.state == nil {
		return false
	}
	// Already there counts: the models may have moved on since the
	// caller missed (the event applied between its look and this one),
	// so it looks again.
	return reachDatabaseHead(ctx, a.Log, a.Set, catchUpWait)
}

// reachDatabaseHead waits, at most wait, until set holds every event of
// log's durable head (on PostgreSQL: what the database holds, whichever
// instance wrote it), and tells whether it does now. A log with no head
// of its own apart (memory) is never waited for.
func reachDatabaseHead(ctx context.Context, log streamLog, set *projections.Set, wait time.Duration) bool {
	durable, ok := log.(interface{ DurableHead() (events.Head, error) })
	if !ok {
		return false
	}
	head, err := durable.DurableHead()
	if err != nil {
		return false
	}
	if head.Position <= set.Position() {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	return set.WaitFor(ctx, head.Position) == nil
}
