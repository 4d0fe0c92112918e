package app

import (
	"context"
	"errors"

	"github.com/sirupsen/logrus"

	"releasedesk/app/outbox"
)

// NotifyRetry is how the desk's outbox retries; tests shorten it.
var NotifyRetry = outbox.DefaultRetry

// startOutbox starts delivering the project's messages in the background:
// it follows the log on its own, so no command waits for a channel.
// where says where it keeps its position (Checkpoint or CheckpointStore).
func (d *Desk) startOutbox(ctx context.Context, where outbox.Config, logger logrus.FieldLogger) {
	d.outbox = outbox.New(outbox.Config{Log: d.Log, Planner: notifyPlanner{d}, Checkpoint: where.Checkpoint,
		CheckpointStore: where.CheckpointStore, Actor: SystemActor, Now: d.Now, Logger: logger, Retry: NotifyRetry})
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if err := d.outbox.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			logger.WithError(err).Error("the outbox stopped: messages wait until the next start")
		}
	}()
}

// PendingMessages counts the messages not yet settled (sent or given up).
func (d *Desk) PendingMessages() int {
	if d.outbox == nil {
		return 0
	}
	return d.outbox.Pending()
}
