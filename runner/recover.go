package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/sirupsen/logrus"

	"releasedesk/events/catalog"
	"releasedesk/events/text"
)

// Recover deals with what a previous process left: every deployment
// started (or resumed) with no terminal event, and not running here, is
// looked at host by host (the real `current` is read and recorded as
// deploy.host_observed, unfinished staging is removed, the remote lock is
// removed when it names that deployment), its environment lock is
// released, and it ends in deploy.interrupted. The user may then Resume it
// or roll back. Environment locks held by a deployment that already ended
// (a crash between its last two events) are released too.
//
// Alone on its log (one process owns the data directory), a runner takes
// every unfinished deployment not running here for a dead one. With
// shared leases (several instances), only those whose lease it can take:
// nobody holds it, or its holder stopped renewing it; another instance's
// live deployment is left alone. Recover runs at Start and then, with
// leases, every third of a lease's life (watchLeases).
func (r *Runner) Recover(ctx context.Context) error {
	r.recoverMu.Lock()
	defer r.recoverMu.Unlock()
	if err := r.catchUp(ctx); err != nil {
		return fmt.Errorf("runner: recover: %w", err)
	}
	var errs []error
	for _, id := range r.st.unfinished() {
		if r.isRunningHere(id) {
			continue
		}
		leased, err := r.takeLease(ctx, id)
		if err != nil {
			errs = append(errs, fmt.Errorf("recover %s: %w", id, err))
			continue
		}
		if !leased {
			continue // another instance runs it
		}
		// It may have ended since the look above, and its runner let its
		// lease go: the stream, read now under the lease, decides.
		if running, err := r.stillRunning(ctx, id); err != nil || !running {
			r.releaseLease(id)
			if err != nil {
				errs = append(errs, fmt.Errorf("recover %s: %w", id, err))
			}
			continue
		}
		if r.cfg.Leases != nil {
			r.logger.WithField("deploy", id).Warn("taking over a deployment its instance stopped holding")
		}
		err = r.recoverOne(ctx, id)
		r.releaseLease(id)
		if err != nil {
			errs = append(errs, fmt.Errorf("recover %s: %w", id, err))
		}
	}
	if err := r.releaseStaleLocks(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// stillRunning tells whether deployment id's stream has a run with no end.
func (r *Runner) stillRunning(ctx context.Context, id string) (bool, error) {
	envs, err := r.log.ReadStream(ctx, catalog.DeployStream(id), 1)
	if err != nil {
		return false, err
	}
	ds, ok := foldDeploy(envs)
	return ok && ds.Running, nil
}

// recoverOne closes one interrupted deployment.
func (r *Runner) recoverOne(ctx context.Context, id string) error {
	ds, ok := r.st.deploy(id)
	if !ok {
		return ErrNotFound
	}
	prior, err := r.log.ReadStream(ctx, catalog.DeployStream(id), 1)
	if err != nil {
		return err
	}
	d, err := r.newDeployment(ctx, ds.Request, ds.Actor, nil, prior)
	if d == nil {
		return err
	}
	d.logger.Warn("recovering an interrupted deployment")
	var wg sync.WaitGroup
	sem := make(chan struct{}, effectiveParallel(d.env.Parallel))
	for _, h := range d.hosts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			hr := d.result(h)
			d.observe(hr)
			d.closeHost(hr) // done with it: connections follow `parallel`
		}()
	}
	wg.Wait()
	d.closeHosts()
	if err := r.releaseLockOf(ctx, d.p, d.env.Name, id, catalog.TypeDeployInterrupted); err != nil {
		return err
	}
	fin := catalog.Finished{Deployment: id, Project: d.p.ID, Environment: d.env.Name, Version: d.req.Version,
		Commit: d.req.Commit, Kind: d.req.Kind, Error: "the runner stopped during the deployment"}
	d.fillHosts(&fin)
	return d.emit(catalog.TypeDeployInterrupted, fin)
}

// observe reads what a host really runs after a crash and tidies what the
// dead run left there: its staging dir and its remote lock.
func (d *deployment) observe(hr *hostRun) {
	ev := d.hostEvent(hr, "", "", "")
	ctx := d.ctx
	s := d.beginStep(hr.host.Addr, "connect", nil)
	ex, err := d.r.dial(ctx, d.p, d.env, hr.host)
	if err != nil {
		d.rejectKey(err)
		_ = s.finish(-1, err)
		ev.Error = d.red.String(err.Error())
		_ = d.emit(catalog.TypeHostObserved, ev)
		return
	}
	_ = s.finish(0, nil)
	hr.ex = ex
	argv, err := hr.layout.ReadCurrent()
	st, _, err := d.command(ctx, hr, "current", argv, err)
	if err != nil {
		ev.Error = d.red.String(err.Error())
	} else {
		var rev string
		ev.Version, rev = ParseCurrent(st.Output())
		ev.Commit = ParseRevision(rev).Commit
		if ev.Version == d.req.Version {
			hr.already = true
		}
	}
	argv, err = hr.layout.RemoveStaging(d.req.Version)
	_, _, _ = d.command(ctx, hr, "clean", argv, err)
	argv, err = hr.layout.Unlock(d.id)
	if st, _, err := d.command(ctx, hr, "unlock", argv, err, ExitLockHeld); err == nil {
		d.noteStaleLock(hr, st.Output())
	}
	_ = d.emit(catalog.TypeHostObserved, ev)
}

// dial connects to a host (a deployment's, recovery's, a drift check's,
// a lock break's); the local strategy needs no connection. A connection
// kept idle after an earlier deployment is taken when it is still good
// (connpool.go).
func (r *Runner) dial(ctx context.Context, p catalog.Project, env catalog.Environment, h catalog.Host) (Executor, error) {
	ex, _, err := r.dialFor(ctx, p, env, h, nil)
	return ex, err
}

// dialFor is dial, telling whether the connection was an idle one. When a
// new one must be made, beforeNew (if set) runs first: a deployment makes
// room within its `parallel` there.
func (r *Runner) dialFor(ctx context.Context, p catalog.Project, env catalog.Environment, h catalog.Host, beforeNew func()) (Executor, bool, error) {
	if p.Strategy == catalog.StrategyLocal {
		return &LocalExecutor{}, false, nil
	}
	if r.cfg.BeforeDial != nil {
		if err := r.cfg.BeforeDial(ctx); err != nil {
			return nil, false, fmt.Errorf("connect to %s: known_hosts: %w", h.Addr, err)
		}
	}
	key, stamp := poolKey(h.Addr, env.SSHKey), dialStamp(r.cfg.KnownHostsPath, env.SSHKey)
	if ex := r.pool.take(ctx, key, stamp); ex != nil {
		return ex, true, nil
	}
	if beforeNew != nil {
		beforeNew()
	}
	dialer := &Dialer{KnownHostsPath: r.cfg.KnownHostsPath, Timeout: r.cfg.SSHTimeout}
	ex, err := dialer.Dial(ctx, h, env.SSHKey)
	if err != nil {
		return nil, false, fmt.Errorf("connect to %s: %w", h.Addr, err)
	}
	ex.poolKey, ex.poolStamp = key, stamp
	return ex, false, nil
}

// releaseStaleLocks frees environment locks whose holder is not running:
// it ended (a crash between lock release and its terminal event cannot
// happen, as the lock goes first; but between a terminal event written by
// an older version and its release it could) or it is unknown.
func (r *Runner) releaseStaleLocks(ctx context.Context) error {
	var errs []error
	for stream, l := range r.st.heldLocks() {
		id := l.Event.Deployment
		if r.isRunningHere(id) {
			continue
		}
		if ds, ok := r.st.deploy(id); ok && ds.Running {
			continue
		}
		r.logger.WithFields(logrus.Fields{"lock": stream, "deploy": id}).Warn("releasing a stale environment lock")
		lk := &logLock{log: r.log, stream: stream, ev: l.Event, version: l.Version}
		if err := lk.release(ctx, "stale: its deployment is not running"); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Resume runs again, for a failed or interrupted deployment, the hosts the
// log does not show on its version: it appends deploy.resumed (at the
// stream's version, so two resumes cannot both run) and executes those
// hosts synchronously, in the same batches and policy. It is idempotent:
// each host's real `current` is read first, and a host already on the
// version is recorded (deploy.host_observed) and not redone; a complete
// release already staged there is reused.
func (r *Runner) Resume(ctx context.Context, id, actor string) error {
	stream := catalog.DeployStream(id)
	envs, err := r.log.ReadStream(ctx, stream, 1)
	if err != nil {
		return err
	}
	req, requester, err := requestOf(id, envs)
	if err != nil {
		return err
	}
	ds, _ := foldDeploy(envs)
	switch {
	case ds.Running:
		return text.Errorf("%w: %s is running (or awaits recovery)", ErrNotResumable, id)
	case ds.Terminal != catalog.TypeDeployFailed && ds.Terminal != catalog.TypeDeployInterrupted:
		return text.Errorf("%w: %s is %s", ErrNotResumable, id, ds.State())
	}
	env, ok := req.Project.Environment(req.Environment)
	if !ok {
		return text.Errorf("%w: environment %s is gone from the request", ErrNotResumable, req.Environment)
	}
	hosts, skipped := []string{}, []string{}
	for _, h := range req.Project.Targets(env) {
		if len(req.Hosts) > 0 && !slices.Contains(req.Hosts, h.Addr) {
			continue
		}
		if ds.OnVersion[h.Addr] {
			skipped = append(skipped, h.Addr)
		} else {
			hosts = append(hosts, h.Addr)
		}
	}
	return r.execute(ctx, req, requester, hosts, skipped, envs, func(ctx context.Context) (uint64, error) {
		e, err := catalog.NewEvent(catalog.TypeDeployResumed, actor, catalog.Resumed{Deployment: id, Hosts: hosts})
		if err != nil {
			return 0, err
		}
		e.CorrelationID = id
		out, err := r.log.Append(ctx, stream, int64(len(envs)), e)
		if err != nil {
			return 0, err
		}
		return out[0].Version, nil
	})
}
