package runner

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"releasedesk/events/text"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// The writes of the release workflow (DESIGN.md section 3): a release
// branch, the release tag, the mainline moved forward. Each fetches first,
// so it decides on the repository's present state, then pushes to it
// without force: a branch is only ever created or fast-forwarded, a tag
// only ever created.

// CreateBranch creates branch name in the repository at the commit fromRef
// names (anything Resolve takes) and returns that commit. It refuses a
// branch that exists already, wherever it points.
func (m *Mirror) CreateBranch(ctx context.Context, name, fromRef string) (string, error) {
	if err := validateNewRef(name); err != nil {
		return "", err
	}
	if err := ValidateRef(fromRef); err != nil {
		return "", err
	}
	r, unlock, err := m.lockFetched(ctx)
	if err != nil {
		return "", err
	}
	defer unlock()
	refName := plumbing.NewBranchReferenceName(name)
	if ref, err := r.Reference(refName, false); err == nil {
		return "", text.Errorf("branch %q: %w in %s (at %s)", name, ErrRefExists, m.repo, short(ref.Hash()))
	}
	sha, err := m.resolveLocked(r, fromRef)
	if err != nil {
		return "", err
	}
	if err := m.push(ctx, r, sha+":"+refName.String()); err != nil {
		return "", fmt.Errorf("create branch %q: %w", name, err)
	}
	return sha, nil
}

// Tag makes the annotated tag name at commit sha, with message and tagger
// ("Name" or "Name <email>"), and pushes it to the repository. A tag that
// exists already at the same commit is left as it is (nil); at another
// commit it is refused.
func (m *Mirror) Tag(ctx context.Context, name, sha, message, tagger string) error {
	if err := validateNewRef(name); err != nil {
		return err
	}
	if err := ValidateCommit(sha); err != nil {
		return err
	}
	who, err := parseTagger(tagger)
	if err != nil {
		return err
	}
	r, unlock, err := m.lockFetched(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	target := plumbing.NewHash(sha)
	if _, err := r.CommitObject(target); err != nil {
		return fmt.Errorf("tag %q: commit %s is not in %s: %w", name, sha, m.repo, err)
	}
	refName := plumbing.NewTagReferenceName(name)
	have, found, err := peelRef(r, refName)
	switch {
	case err != nil:
		return fmt.Errorf("tag %q: %w", name, err)
	case found && have == target:
		return nil
	case found:
		return text.Errorf("tag %q: %w in %s at another commit (%s, not %s)", name, ErrRefExists, m.repo, short(have), short(target))
	}
	if strings.TrimSpace(message) == "" {
		message = name
	}
	who.When = m.now()
	if _, err := r.CreateTag(name, target, &git.CreateTagOptions{Tagger: &who, Message: message}); err != nil {
		return fmt.Errorf("tag %q: %w", name, err)
	}
	if err := m.push(ctx, r, refName.String()+":"+refName.String()); err != nil {
		_ = r.Storer.RemoveReference(refName) // the next fetch would prune it anyway
		return fmt.Errorf("tag %q: %w", name, err)
	}
	return nil
}

// FastForward moves branch to sha in the repository, only if sha descends
// from the branch's commit (already there: nil). Anything else is refused
// with ErrNotFastForward: history is never rewritten.
func (m *Mirror) FastForward(ctx context.Context, branch, sha string) error {
	if err := ValidateRef(branch); err != nil {
		return err
	}
	if err := ValidateCommit(sha); err != nil {
		return err
	}
	r, unlock, err := m.lockFetched(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	refName := plumbing.NewBranchReferenceName(branch)
	ref, err := r.Reference(refName, true)
	if err != nil {
		return text.Errorf("branch %q: %w in %s", branch, ErrUnknownRef, m.repo)
	}
	target := plumbing.NewHash(sha)
	if ref.Hash() == target {
		return nil
	}
	head, err := r.CommitObject(ref.Hash())
	if err != nil {
		return fmt.Errorf("branch %q: %w", branch, err)
	}
	next, err := r.CommitObject(target)
	if err != nil {
		return fmt.Errorf("fast-forward %q: commit %s is not in %s: %w", branch, sha, m.repo, err)
	}
	ok, err := head.IsAncestor(next)
	if err != nil {
		return fmt.Errorf("fast-forward %q: %w", branch, err)
	}
	if !ok {
		return text.Errorf("branch %q at %s: %w to %s (it does not descend from the branch)",
			branch, short(ref.Hash()), ErrNotFastForward, short(target))
	}
	if err := m.push(ctx, r, sha+":"+refName.String()); err != nil {
		return fmt.Errorf("fast-forward %q: %w", branch, err)
	}
	return nil
}

// push sends one refspec to origin, without force, and marks the mirror
// changed (go-git updates the mirror's own ref as it would on fetch).
func (m *Mirror) push(ctx context.Context, r *git.Repository, spec string) error {
	rs := config.RefSpec(spec)
	if err := rs.Validate(); err != nil {
		return err
	}
	err := r.PushContext(ctx, &git.PushOptions{RemoteName: originRemote, RefSpecs: []config.RefSpec{rs}})
	m.changed()
	switch {
	case err == nil, errors.Is(err, git.NoErrAlreadyUpToDate):
		return nil
	case strings.Contains(err.Error(), "non-fast-forward"):
		return text.Errorf("repo %s: push %s: %w (the repository moved; try again)", m.repo, rs.Dst(""), ErrNotFastForward)
	case ctx.Err() != nil:
		return fmt.Errorf("repo %s: push: %w", m.repo, ctx.Err())
	}
	return m.remoteError("push "+rs.Dst("").String(), err)
}

// lockFetched takes the mirror's lock, fetches the repository into it and
// returns the mirror opened again on what the fetch brought, with the
// function that releases the lock (the lock is released already when it
// fails): what a write to the repository starts from.
func (m *Mirror) lockFetched(ctx context.Context) (*git.Repository, func(), error) {
	r, unlock, err := m.lock()
	if err != nil {
		return nil, nil, err
	}
	if err := m.fetchLocked(ctx, r); err != nil {
		unlock()
		return nil, nil, err
	}
	if r, err = m.reopenLocked(); err != nil {
		unlock()
		return nil, nil, err
	}
	return r, unlock, nil
}

// reopenLocked opens the repository again after a write; call with the
// lock held.
func (m *Mirror) reopenLocked() (*git.Repository, error) {
	r, err := git.PlainOpen(m.dir)
	if err != nil {
		return nil, fmt.Errorf("mirror %s: %w", m.dir, err)
	}
	m.r, m.gen = r, m.state.gen
	return r, nil
}

func (m *Mirror) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// validateNewRef checks the name of a branch or tag to be written: a ref
// name, not a full "refs/..." one, and not something Resolve would take for
// a commit.
func validateNewRef(name string) error {
	if err := ValidateRef(name); err != nil {
		return err
	}
	if strings.HasPrefix(name, "refs/") || name == "HEAD" {
		return text.Errorf("ref %q: %w: give a short name, not refs/... or HEAD", name, ErrBadRef)
	}
	if hexRe.MatchString(name) {
		return text.Errorf("ref %q: %w: looks like a commit SHA", name, ErrBadRef)
	}
	return nil
}

var taggerRe = regexp.MustCompile(`^([^<>]*?)\s*(?:<([^<>]*)>)?$`)

// parseTagger reads "Name" or "Name <email>".
func parseTagger(s string) (object.Signature, error) {
	mm := taggerRe.FindStringSubmatch(strings.TrimSpace(s))
	if mm == nil || strings.TrimSpace(mm[1]) == "" || strings.ContainsAny(s, "\n\x00") {
		return object.Signature{}, fmt.Errorf("tagger %q: want \"Name\" or \"Name <email>\"", s)
	}
	return object.Signature{Name: strings.TrimSpace(mm[1]), Email: mm[2]}, nil
}
