package runner

import (
	"context"
	"errors"
	"time"

	"github.com/sirupsen/logrus"
)

// Several runners on one log (the instances of a server on PostgreSQL)
// hold each deployment they run with a lease: taken before the claim,
// renewed while the run lasts, released when it ends. A runner that dies
// stops renewing; once the lease has expired another runner takes it and
// recovers the deployment as a restart would (Recover: hosts' `current`
// read and recorded, staging and locks removed, deploy.interrupted). The
// claim itself stays the append of deploy.started at an expected version:
// the lease says who may still be working on a deployment, not who won it.

// Leases are the shared leases (events.PgStore implements them).
type Leases interface {
	TakeLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	RenewLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
}

// DefaultLeaseTTL is how long a deployment's lease lasts unrenewed: a dead
// instance's deployment is taken over this long after its last renewal
// (plus at most a third of it, the look's interval).
const DefaultLeaseTTL = 15 * time.Second

// errLeaseLost ends a run whose lease another runner took (this one could
// not renew it in time: a pause, a lost database): the taker recovers it.
var errLeaseLost = errors.New("runner: the deployment's lease went to another instance")

func leaseName(id string) string { return "deploy/" + id }

// takeLease takes deployment id's lease for this runner; without shared
// leases (one process owns the log) it always succeeds.
func (r *Runner) takeLease(ctx context.Context, id string) (bool, error) {
	if r.cfg.Leases == nil {
		return true, nil
	}
	return r.cfg.Leases.TakeLease(ctx, leaseName(id), r.cfg.Name, r.cfg.LeaseTTL)
}

// releaseLease gives deployment id's lease up, so another runner may
// recover at once what this one leaves unfinished (a shutdown).
func (r *Runner) releaseLease(id string) {
	if r.cfg.Leases == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if err := r.cfg.Leases.ReleaseLease(ctx, leaseName(id), r.cfg.Name); err != nil {
		r.logger.WithField("deploy", id).WithError(err).Warn("releasing the deployment's lease: another instance takes it when it expires")
	}
}

// holdLease renews deployment id's lease every third of its life until
// ctx ends. When the lease is gone to another runner, or could not be
// renewed before it expired, it calls lost and returns: the run must stop
// touching hosts, since another runner may be recovering them.
func (r *Runner) holdLease(ctx context.Context, id string, lost func()) {
	if r.cfg.Leases == nil {
		return
	}
	ttl := r.cfg.LeaseTTL
	t := time.NewTicker(ttl / 3)
	defer t.Stop()
	renewed := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, ttl/3)
		ok, err := r.cfg.Leases.RenewLease(rctx, leaseName(id), r.cfg.Name, ttl)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err == nil && ok:
			renewed = time.Now()
			continue
		case err == nil:
			r.logger.WithField("deploy", id).Error("another instance took this deployment's lease: stopping it here")
		case time.Since(renewed) < ttl:
			r.logger.WithField("deploy", id).WithError(err).Warn("renewing the deployment's lease: trying again")
			continue
		default:
			r.logger.WithFields(logrus.Fields{"deploy": id, "unrenewed": time.Since(renewed).Round(time.Second)}).WithError(err).
				Error("the deployment's lease expired unrenewed: stopping it here, another instance recovers it")
		}
		lost()
		return
	}
}

// watchLeases recovers, every third of a lease's life, the deployments
// whose runner stopped renewing their lease, until ctx ends.
func (r *Runner) watchLeases(ctx context.Context) {
	defer r.wg.Done()
	t := time.NewTicker(r.cfg.LeaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := r.Recover(ctx); err != nil && ctx.Err() == nil {
			r.logger.WithError(err).Warn("taking over deployments another instance left")
		}
	}
}
