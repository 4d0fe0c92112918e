package app

import (
	"context"
	"time"

	"releasedesk/projections"
)

// logWatchEvery is how often the desk looks whether its log refuses writes.
const logWatchEvery = 2 * time.Second

// watchLog settles the deployments the runner had to leave while the log
// refused their events (a full data disk): the runner never changes a host
// it cannot record, so it stops them where they stand. Once the log accepts
// writes again they are recovered as a restart would recover them (each
// host's `current` read and recorded, locks released, the deployment ended
// interrupted), so a retry or a rollback can follow without a restart.
func (d *Desk) watchLog(ctx context.Context) {
	counter, ok := d.Log.(interface{ DiskRefusals() uint64 })
	if !ok {
		return
	}
	t := time.NewTicker(logWatchEvery)
	defer t.Stop()
	var settled uint64 // the refusal count last settled
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// The count, not the state: the disk may have been full only
		// between two looks.
		n := counter.DiskRefusals()
		if n == settled || d.Problem() != nil {
			continue
		}
		d.Logger.Info("the log accepts writes again: settling the deployments it could not record")
		if err := d.Runner.Recover(ctx); err != nil && ctx.Err() == nil {
			d.Logger.WithError(err).Error("settling the deployments left while the log refused writes")
			continue
		}
		// Recover skips a deployment whose run has not yet returned here
		// (a host step still ending): look again until none runs.
		if _, running := d.Set.Deployments.List(projections.DeploymentQuery{States: []string{projections.DeployRunning}}); running == 0 {
			settled = n
		}
	}
}
