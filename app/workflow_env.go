package app

import (
	"context"
	"errors"
	"slices"
	"time"

	"releasedesk/events"
	"releasedesk/events/catalog"
	"releasedesk/events/text"
	"releasedesk/projections"
	"releasedesk/runner"
)

// Rollback switches an environment back to a version of its timeline:
// rollback.requested (who and why) on project/<id>, then a deployment of
// kind rollback, which switches hosts that still hold the release and
// stages it again on those that pruned it.
func (d *Desk) Rollback(ctx context.Context, u UserView, project, envName, version, reason string) (DeployResult, error) {
	if err := checkText("reason", reason, maxNoteRunes, true); err != nil {
		return DeployResult{}, err
	}
	if err := runner.ValidateVersion(version); err != nil {
		return DeployResult{}, &InvalidError{Field: "version", Reason: text.Of(err)}
	}
	var out DeployResult
	err := d.decide(ctx, func() error {
		p, _, err := d.project(project)
		if err != nil {
			return err
		}
		env, _, err := environment(p, envName)
		if err != nil {
			return err
		}
		if err := Authorize(u, p.ID, RollbackAction(env.Approval)); err != nil {
			return err
		}
		entry, ok := d.Set.Versions.Entry(p.ID, env.Name, version)
		switch {
		case !ok:
			return &NotFoundError{Message: text.New("version %s never went live on %s of %s", version, env.Name, p.ID)}
		case entry.Current && d.allHostsRun(p.ID, env.Name, version):
			return &ConflictError{Message: text.New("version %s is already current on %s of %s", version, env.Name, p.ID)}
		case entry.Bad:
			return &ConflictError{Message: text.New("version %s of %s was marked bad by %s (%s): roll back to another version",
				version, env.Name, entry.BadBy, entry.Reason)}
		}
		req, err := d.rollbackRequest(p, env, entry, reason)
		if err != nil {
			return err
		}
		out, err = d.startRollback(ctx, u.Name, req, "")
		return err
	})
	return out, err
}

// rollbackRequest is the deployment that takes environment env of p back
// to entry, checked before anything is recorded: the environment must be
// free and the request one the runner takes.
func (d *Desk) rollbackRequest(p catalog.Project, env catalog.Environment, entry projections.VersionEntry, reason string) (catalog.Request, error) {
	if err := d.busy(p.ID, env.Name); err != nil {
		return catalog.Request{}, err
	}
	req := catalog.Request{Deployment: d.nextDeploymentID(), Kind: catalog.KindRollback, Project: d.snapshot(p),
		Environment: env.Name, Commit: entry.Commit, Version: entry.Version, Reason: reason}
	if err := runner.CheckRequest(req); err != nil {
		return catalog.Request{}, &InvalidError{Field: "project", Reason: text.Of(err)}
	}
	return req, nil
}

// startRollback records rollback.requested (who, why, and the release
// whose refusal asked for it, if one did) and hands the deployment to the
// runner.
func (d *Desk) startRollback(ctx context.Context, actor string, req catalog.Request, refused string) (DeployResult, error) {
	p := req.Project
	if _, err := d.appendNext(ctx, catalog.ProjectStream(p.ID), catalog.TypeRollbackRequested, actor,
		catalog.RollbackRequested{Project: p.ID, Environment: req.Environment, Version: req.Version, Commit: req.Commit,
			Deployment: req.Deployment, Reason: req.Reason, Release: refused}); err != nil {
		return DeployResult{}, err
	}
	if err := d.submit(ctx, req, actor); err != nil {
		return DeployResult{}, err
	}
	return DeployResult{Deployment: req.Deployment, Project: p.ID, Environment: req.Environment, Commit: req.Commit,
		Version: req.Version, Kind: catalog.KindRollback}, nil
}

// allHostsRun tells whether every host of an environment runs version, as
// the log says. The current version (the last deployment that succeeded)
// is not enough: a deployment interrupted by a crash, or a partial one,
// leaves hosts on another, and going back to the current version is then
// exactly the rollback a release manager needs.
func (d *Desk) allHostsRun(project, envName, version string) bool {
	ev, ok := d.Set.Versions.Env(project, envName)
	if !ok || ev.Mixed || len(ev.Hosts) == 0 {
		return false
	}
	for _, h := range ev.Hosts {
		if h.Version != version {
			return false
		}
	}
	return true
}

// MarkBad marks a version of an environment bad: it stays in the timeline,
// flagged, and rollbacks to it are refused.
func (d *Desk) MarkBad(ctx context.Context, u UserView, project, envName, version, reason string) (projections.VersionEntry, error) {
	if err := checkText("reason", reason, maxNoteRunes, true); err != nil {
		return projections.VersionEntry{}, err
	}
	var out projections.VersionEntry
	err := d.decide(ctx, func() error {
		p, _, err := d.project(project)
		if err != nil {
			return err
		}
		env, _, err := environment(p, envName)
		if err != nil {
			return err
		}
		if err := Authorize(u, p.ID, ActionVersionMarkBad); err != nil {
			return err
		}
		entry, ok := d.Set.Versions.Entry(p.ID, env.Name, version)
		if !ok {
			return &NotFoundError{Message: text.New("version %s never went live on %s of %s", version, env.Name, p.ID)}
		}
		if entry.Bad {
			return &ConflictError{Message: text.New("version %s is already marked bad by %s", version, entry.BadBy)}
		}
		if _, err := d.appendNext(ctx, catalog.ProjectStream(p.ID), catalog.TypeVersionMarkedBad, u.Name,
			catalog.VersionMarkedBad{Project: p.ID, Environment: env.Name, Version: version, Reason: reason}); err != nil {
			return err
		}
		out, _ = d.Set.Versions.Entry(p.ID, env.Name, version)
		return nil
	})
	return out, err
}

// Deployment returns one deployment with its steps, or a *NotFoundError.
func (d *Desk) Deployment(id string) (projections.Deployment, error) {
	dep, ok := d.Set.Deployments.Get(id)
	if !ok {
		return dep, &NotFoundError{Message: text.New("no deployment %q", id)}
	}
	return dep, nil
}

// deploymentFor is deployment id if u may take action on it and it is in
// one of states (what the action is "done" to: cancelled, retried), and the
// runner can act.
func (d *Desk) deploymentFor(u UserView, id, action string, done text.Text, states ...string) (projections.Deployment, error) {
	dep, err := d.Deployment(id)
	if err != nil {
		return dep, err
	}
	if err := Authorize(u, dep.Project, action); err != nil {
		return dep, err
	}
	if !slices.Contains(states, dep.State) {
		return dep, &ConflictError{Message: text.New("deployment %s is %s: only a %s one can be %s", id, dep.State,
			orList(states), done)}
	}
	if d.Runner == nil {
		return dep, d.Writable()
	}
	return dep, nil
}

// CancelDeployment asks a queued or running deployment to stop.
func (d *Desk) CancelDeployment(ctx context.Context, u UserView, id, reason string) (projections.Deployment, error) {
	if err := checkText("reason", reason, maxNoteRunes, true); err != nil {
		return projections.Deployment{}, err
	}
	err := d.decide(ctx, func() error {
		if _, err := d.deploymentFor(u, id, ActionDeploymentCancel, text.New("cancelled"),
			projections.DeployQueued, projections.DeployRunning); err != nil {
			return err
		}
		if err := d.Runner.Cancel(ctx, id, u.Name, reason); err != nil {
			if errors.Is(err, runner.ErrFinished) {
				return &ConflictError{Message: text.Of(err), Err: err}
			}
			return err
		}
		return d.Set.WaitFor(ctx, d.Log.Head().Position)
	})
	if err != nil {
		return projections.Deployment{}, err
	}
	return d.Deployment(id)
}

// RetryDeployment runs again the hosts of a failed or interrupted
// deployment that are not on its version. It returns once the runner has
// recorded the retry (deploy.resumed); the hosts then run in the
// background, followed like any deployment.
func (d *Desk) RetryDeployment(ctx context.Context, u UserView, id string) (projections.Deployment, error) {
	var runs int
	err := d.decide(ctx, func() error {
		dep, err := d.deploymentFor(u, id, ActionDeploymentRetry, text.New("retried"),
			projections.DeployFailed, projections.DeployInterrupted)
		if err != nil {
			return err
		}
		if err := d.busy(dep.Project, dep.Environment); err != nil {
			return err
		}
		runs = dep.Runs
		return nil
	})
	if err != nil {
		return projections.Deployment{}, err
	}
	done := make(chan error, 1)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		done <- d.Runner.Resume(d.runCtx, id, u.Name)
	}()
	// Wait for the resume to be recorded, or for its refusal.
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for {
		if dep, ok := d.Set.Deployments.Get(id); ok && dep.Runs > runs {
			return dep, nil
		}
		select {
		case err := <-done:
			if err != nil {
				if errors.Is(err, runner.ErrNotResumable) || errors.Is(err, events.ErrConcurrency) {
					return projections.Deployment{}, &ConflictError{Message: text.Of(err), Err: err}
				}
				if dep, ok := d.Set.Deployments.Get(id); !ok || dep.Runs <= runs {
					return projections.Deployment{}, err
				}
			}
			_ = d.Set.WaitFor(ctx, d.Log.Head().Position)
			return d.Deployment(id)
		case <-deadline.C:
			return d.Deployment(id)
		case <-ctx.Done():
			return projections.Deployment{}, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
