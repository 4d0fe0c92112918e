package app

import (
	"context"
	"errors"
	"time"

	"github.com/sirupsen/logrus"

	"releasedesk/app/outbox"
	"releasedesk/events"
)

// NotifyRetry is how the desk's outbox retries; tests shorten it.
var NotifyRetry = outbox.DefaultRetry

// startOutbox starts delivering the project's messages in the background:
// it follows the log on its own, so no command waits for a channel.
// where says where it keeps its position (Checkpoint or CheckpointStore).
func (d *Desk) startOutbox(ctx context.Context, where outbox.Config, logger logrus.FieldLogger) {
	o := d.newOutbox(where, logger)
	d.setOutbox(o)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if err := o.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			logger.WithError(err).Error("the outbox stopped: messages wait until the next start")
		}
	}()
}

func (d *Desk) newOutbox(where outbox.Config, logger logrus.FieldLogger) *outbox.Outbox {
	return outbox.New(outbox.Config{Log: d.Log, Planner: notifyPlanner{d}, Checkpoint: where.Checkpoint,
		CheckpointStore: where.CheckpointStore, Actor: SystemActor, Now: d.Now, Logger: logger, Retry: NotifyRetry})
}

func (d *Desk) setOutbox(o *outbox.Outbox) {
	d.outboxMu.Lock()
	d.outbox = o
	d.outboxMu.Unlock()
}

// PendingMessages counts the messages not yet settled (sent or given up):
// none on an instance that does not send (another instance on the same
// PostgreSQL does).
func (d *Desk) PendingMessages() int {
	d.outboxMu.Lock()
	o := d.outbox
	d.outboxMu.Unlock()
	if o == nil {
		return 0
	}
	return o.Pending()
}

// outboxLockKey keys the advisory lock the instance that sends a
// PostgreSQL server's messages holds ("RDOB").
const outboxLockKey = 0x52444f42

// outboxLeadEvery is how often an instance that does not send looks
// whether the sender is gone, and the sender whether it still holds the
// lock.
var outboxLeadEvery = 10 * time.Second

// startLeadingOutbox is startOutbox for an instance of a server on
// PostgreSQL: only the instance holding the outbox's advisory lock sends,
// so two instances never send a message twice. Another instance takes
// over within outboxLeadEvery once the sender stops (its connection, and
// with it the lock, goes), and starts from the checkpoint the sender kept
// in the database. A message the sender was sending when it died may be
// sent again, as after a restart.
func (d *Desk) startLeadingOutbox(ctx context.Context, pg *events.PgStore, where outbox.Config, logger logrus.FieldLogger) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		waiting := false
		for {
			lock, ok, err := pg.TryLock(ctx, outboxLockKey)
			switch {
			case err != nil && ctx.Err() == nil:
				logger.WithError(err).Warn("the outbox's lock: messages wait")
			case ok:
				waiting = false
				d.lead(ctx, lock, where, logger)
			case !waiting:
				waiting = true
				logger.Info("another instance sends the messages: this one sends none while it runs")
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(outboxLeadEvery):
			}
		}
	}()
}

// lead runs the outbox while the lock is held.
func (d *Desk) lead(ctx context.Context, lock *events.PgLock, where outbox.Config, logger logrus.FieldLogger) {
	defer lock.Release()
	octx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		for {
			select {
			case <-octx.Done():
				return
			case <-time.After(outboxLeadEvery):
			}
			if err := lock.Alive(octx); err != nil && octx.Err() == nil {
				logger.WithError(err).Error("the outbox lost its lock (its connection to PostgreSQL): it stops until it takes it again")
				cancel()
				return
			}
		}
	}()
	o := d.newOutbox(where, logger)
	d.setOutbox(o)
	defer d.setOutbox(nil)
	logger.Info("this instance sends the messages")
	if err := o.Run(octx); err != nil && !errors.Is(err, context.Canceled) {
		logger.WithError(err).Error("the outbox stopped: messages wait until the next start")
	}
}
