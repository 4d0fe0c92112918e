package app

import (
	"context"

	"releasedesk/events/catalog"
	"releasedesk/events/text"
	"releasedesk/projections"
)

// RollbackOffer is what refusing a live release may undo in the same
// decision: production taken back to the version it ran before the
// release went live.
type RollbackOffer struct {
	Environment string `json:"environment"`
	Version     string `json:"version"`
	Commit      string `json:"commit"`
	Release     string `json:"release,omitempty"` // the release that version came from
	// Instant: every host still holds that version, so going back is a
	// switch of `current`, not a transfer.
	Instant bool `json:"instant,omitempty"`
}

// RefuseRollbackOffer is the rollback u may ask for with a refusal of r,
// if any: r is live, u may refuse it and roll back with the refusal, r's
// version is what production runs now, a good version ran before it, and
// production is not busy with a deployment (the rollback would be refused).
func (d *Desk) RefuseRollbackOffer(r projections.Release, u UserView) (RollbackOffer, bool) {
	if d.Problem() != nil || r.State != projections.StateLive {
		return RollbackOffer{}, false
	}
	p, _, err := d.project(r.Project)
	if err != nil {
		return RollbackOffer{}, false
	}
	for _, action := range []string{ActionReleaseRefuse, ActionReleaseRefuseRollback} {
		if ok, _ := Can(u, p.ID, action); !ok {
			return RollbackOffer{}, false
		}
	}
	env, entry, err := d.versionBefore(r, p)
	if err != nil || d.busy(p.ID, env.Name) != nil {
		return RollbackOffer{}, false
	}
	return RollbackOffer{Environment: entry.env, Version: entry.Version, Commit: entry.Commit,
		Release: entry.Release, Instant: entry.Instant}, true
}

// envEntry is a version entry with the environment it belongs to.
type envEntry struct {
	projections.VersionEntry
	env string
}

// versionBefore finds the version production ran before release r: on the
// project's last stage, the newest entry before r's live version that
// succeeded, is not marked bad and came from another release (an earlier
// deployment of r itself is r, not what ran before it). r's version must
// be the current one (a refusal after someone already rolled back has
// nothing to undo).
func (d *Desk) versionBefore(r projections.Release, p catalog.Project) (catalog.Environment, envEntry, error) {
	if len(p.Environments) == 0 {
		return catalog.Environment{}, envEntry{}, &ConflictError{Message: text.New("project %s has no environment", p.ID)}
	}
	env := p.Environments[len(p.Environments)-1]
	live, _ := liveOf(r, p)
	ev, ok := d.Set.Versions.Env(p.ID, env.Name)
	if live == "" || !ok || ev.Current != live {
		return env, envEntry{}, &ConflictError{Message: text.New("release %s is not what %s of %s runs now: "+
			"there is nothing of it to roll back", r.ID, env.Name, p.ID)}
	}
	i := len(ev.Timeline) - 1
	for i >= 0 && ev.Timeline[i].Version != live {
		i--
	}
	for i--; i >= 0; i-- {
		e := ev.Timeline[i]
		if e.Version != live && e.Release != r.ID && !e.Bad && e.Outcome == projections.OutcomeSucceeded {
			// The timeline's own entry may be stale on Instant and Kept:
			// Entry computes them for the newest entry of the version.
			newest, _ := d.Set.Versions.Entry(p.ID, env.Name, e.Version)
			return env, envEntry{VersionEntry: newest, env: env.Name}, nil
		}
	}
	return env, envEntry{}, &ConflictError{Message: text.New("%s of %s ran no good version before %s: "+
		"there is nothing to roll back to", env.Name, p.ID, live)}
}

// RefuseAndRollBack refuses live release id and, in the same decision,
// rolls production back to the version before it (RefuseRollbackOffer).
// Everything is checked before anything is recorded: the refusal, the
// right to roll back with it, a version to go back to, and a free
// environment. Then release.refused, rollback.requested naming the
// release, and the rollback deployment. The log takes no write across
// streams at once: should the rollback fail to start once the refusal is
// recorded, the error is a *RollbackNotStartedError and rel is the
// refused release.
func (d *Desk) RefuseAndRollBack(ctx context.Context, u UserView, id, reason string) (projections.Release, DeployResult, error) {
	if err := checkText("reason", reason, maxNoteRunes, true); err != nil {
		return projections.Release{}, DeployResult{}, err
	}
	var rel projections.Release
	var res DeployResult
	err := d.decide(ctx, func() error {
		r, p, err := d.releaseWithProject(id)
		if err != nil {
			return err
		}
		if err := d.checkDecision(u, r, p, decideRefuse); err != nil {
			return err
		}
		if err := Authorize(u, p.ID, ActionReleaseRefuseRollback); err != nil {
			return err
		}
		env, entry, err := d.versionBefore(r, p)
		if err != nil {
			return err
		}
		req, err := d.rollbackRequest(p, env, entry.VersionEntry, reason)
		if err != nil {
			return err
		}
		if rel, err = d.recordDecision(ctx, u, r, p, decideRefuse, reason); err != nil {
			return err
		}
		if res, err = d.startRollback(ctx, u.Name, req, r.ID); err != nil {
			return &RollbackNotStartedError{Err: err}
		}
		return nil
	})
	return rel, res, err
}
