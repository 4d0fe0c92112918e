package app

import (
	"context"
	"errors"
	"fmt"

	"releasedesk/events/catalog"
	"releasedesk/events/text"
	"releasedesk/runner"
)

// mirror returns the project's git mirror, fetched: the app resolves
// branches, creates them and tags releases in it. One Mirror per project is
// kept; a changed repo address opens a new one.
func (d *Desk) mirror(ctx context.Context, p catalog.Project) (*runner.Mirror, error) {
	d.mirrorMu.Lock()
	m := d.mirrors[p.ID]
	if m == nil || m.Repo() != p.Repo {
		var err error
		if m, err = runner.OpenMirror(ctx, d.Workspace, p); err != nil {
			d.mirrorMu.Unlock()
			return nil, gitError("repo", err)
		}
		d.mirrors[p.ID] = m
	}
	d.mirrorMu.Unlock()
	if err := m.Fetch(ctx); err != nil {
		return nil, gitError("repo", err)
	}
	return m, nil
}

// headOf resolves a branch of the project to its commit, after a fetch.
func (d *Desk) headOf(ctx context.Context, p catalog.Project, branch string) (string, error) {
	m, err := d.mirror(ctx, p)
	if err != nil {
		return "", err
	}
	sha, err := m.Resolve("refs/heads/" + branch)
	if err != nil {
		return "", gitError("branch", err)
	}
	return sha, nil
}

// gitError turns the mirror's refusals into answers a person can act on:
// a bad or unknown name is the field's fault (400), a name taken or a
// history that moved is a conflict (409); anything else (the repository
// cannot be reached) stays an error of the server.
func gitError(field string, err error) error {
	switch {
	case errors.Is(err, runner.ErrBadRef), errors.Is(err, runner.ErrUnknownRef), errors.Is(err, runner.ErrAmbiguousRef),
		errors.Is(err, runner.ErrBadRepo):
		return &InvalidError{Field: field, Reason: text.Of(err)}
	case errors.Is(err, runner.ErrRefExists), errors.Is(err, runner.ErrNotFastForward):
		return &ConflictError{Message: text.Of(err), Err: err}
	case errors.Is(err, runner.ErrRepoNotFound):
		return &UpstreamError{Code: "repository", Message: text.Of(err)}
	}
	var ue *UpstreamError
	if errors.As(err, &ue) {
		return err
	}
	return fmt.Errorf("git: %w", err)
}
