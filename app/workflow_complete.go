package app

import (
	"context"
	"fmt"

	"releasedesk/events/catalog"
	"releasedesk/events/text"
	"releasedesk/projections"
)

// CompleteRelease ends an accepted release: the commit that went live is
// tagged release/<version> in the repository (and the mainline is
// fast-forwarded to it when the project asks), then release.completed is
// recorded. The git work happens between two checks of the release's
// state, not under the command lock: a push can take seconds. A tag
// already made at the same commit is accepted, so a completion that failed
// after tagging can simply be tried again.
func (d *Desk) CompleteRelease(ctx context.Context, u UserView, id string) (projections.Release, error) {
	var p catalog.Project
	var version, commit string
	check := func() error {
		r, err := d.Release(id)
		if err != nil {
			return err
		}
		if p, _, err = d.project(r.Project); err != nil {
			return err
		}
		if err := Authorize(u, r.Project, ActionReleaseComplete); err != nil {
			return err
		}
		if r.State != projections.StateAccepted {
			return &ConflictError{Message: text.New("release %s is %s: completing needs it accepted", r.ID, r.State)}
		}
		if version, commit = liveOf(r, p); commit == "" {
			return &ConflictError{Message: text.New("release %s has no successful deployment to its last stage", r.ID)}
		}
		return nil
	}
	if err := d.decide(ctx, check); err != nil {
		return projections.Release{}, err
	}
	tag := "release/" + version
	m, err := d.mirror(ctx, p)
	if err != nil {
		return projections.Release{}, err
	}
	msg := fmt.Sprintf("Release %s of %s, completed by %s in Release Desk", id, p.ID, u.Name)
	if err := m.Tag(ctx, tag, commit, msg, u.Name); err != nil {
		return projections.Release{}, gitError("tag", err)
	}
	ff := false
	if p.Workflow.FastForward {
		if err := m.FastForward(ctx, p.Branch, commit); err != nil {
			return projections.Release{}, gitError("branch", text.Errorf("tagged %s, but the mainline: %w", tag, err))
		}
		ff = true
	}
	var out projections.Release
	err = d.decide(ctx, func() error {
		if err := check(); err != nil {
			return err
		}
		e, err := catalog.NewEvent(catalog.TypeReleaseCompleted, u.Name, catalog.ReleaseCompleted{
			ID: id, Project: p.ID, Commit: commit, Tag: tag, FastForwarded: ff})
		if err != nil {
			return err
		}
		if _, err := d.writer().next(ctx, catalog.ReleaseStream(id), e); err != nil {
			return err
		}
		out, _ = d.Set.Releases.Get(id)
		return nil
	})
	return out, err
}
