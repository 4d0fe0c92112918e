package runner

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"releasedesk/events/catalog"
	"releasedesk/events/text"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/utils/merkletrie"
)

// Errors of the git side. Each is wrapped with the ref, repository or path
// it is about; test with errors.Is.
var (
	ErrBadRepo        = text.Errorf("refused repository address")
	ErrRepoNotFound   = text.Errorf("not a git repository")
	ErrBadRef         = text.Errorf("refused ref name")
	ErrUnknownRef     = text.Errorf("no such branch or tag")
	ErrAmbiguousRef   = text.Errorf("ambiguous ref")
	ErrRefExists      = text.Errorf("already exists")
	ErrNotFastForward = text.Errorf("not a fast-forward")
	ErrUnsafePath     = errors.New("unsafe path")
)

const originRemote = "origin"

// mirrorFetchSpecs mirror every branch and tag of origin under the same
// names, forced (a force-pushed branch is mirrored as it is) and pruned.
var mirrorFetchSpecs = []config.RefSpec{
	"+refs/heads/*:refs/heads/*",
	"+refs/tags/*:refs/tags/*",
}

// Mirror is a bare git mirror of one project's repository, kept in the
// workspace and read and written with go-git only: nothing of it ever
// reaches a shell.
//
// A Mirror is safe for concurrent use, and so are several Mirrors of the
// same project in one process: every operation holds a lock per mirror
// directory. (One process owns the data directory; DESIGN.md section 6.)
//
// Local paths as Repo go through go-git's file transport, which runs the
// system's git-upload-pack and git-receive-pack with the path as one argument
// (no shell), or, where git is not installed, go-git's in-process server
// (git_file_transport.go); other addresses (http, https, ssh, git) are
// spoken by go-git itself.
type Mirror struct {
	// Now gives the time of tags; nil means time.Now.
	Now func() time.Time
	// Note, when set, receives one line for each thing an export left out
	// on purpose (a submodule): a deployment shows it as step output.
	Note func(msg string)

	dir  string // the bare repository
	repo string // Project.Repo, as configured

	state *mirrorState
	r     *git.Repository
	gen   uint64 // state.gen when r was opened
}

// mirrorState serializes the operations on one mirror directory and tells
// open Mirrors when it changed under them (go-git caches the pack index).
type mirrorState struct {
	mu  sync.Mutex
	gen uint64
}

var mirrorStates sync.Map // mirror dir -> *mirrorState

func stateOf(dir string) *mirrorState {
	s, _ := mirrorStates.LoadOrStore(dir, &mirrorState{})
	return s.(*mirrorState)
}

// OpenMirror opens the project's mirror in the workspace, creating it (bare)
// if it is missing, and points its remote "origin" at p.Repo. It does not
// fetch: call Fetch.
func OpenMirror(ctx context.Context, w Workspace, p catalog.Project) (*Mirror, error) {
	useInProcessFileTransport()
	if err := w.validate(); err != nil {
		return nil, err
	}
	if err := ValidateProjectID(p.ID); err != nil {
		return nil, err
	}
	if err := validateRepo(p.Repo); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m := &Mirror{dir: w.MirrorDir(p.ID), repo: p.Repo}
	m.state = stateOf(m.dir)
	m.state.mu.Lock()
	defer m.state.mu.Unlock()

	r, err := git.PlainOpen(m.dir)
	switch {
	case errors.Is(err, git.ErrRepositoryNotExists):
		// Missing or half made (a mirror is a cache): make it afresh.
		if r, err = initMirror(m.dir); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("mirror %s: %w", m.dir, err)
	}
	rc, err := r.Remote(originRemote)
	switch {
	case errors.Is(err, git.ErrRemoteNotFound):
	case err != nil:
		return nil, fmt.Errorf("mirror %s: %w", m.dir, err)
	case len(rc.Config().URLs) == 1 && rc.Config().URLs[0] == p.Repo:
		m.r, m.gen = r, m.state.gen
		return m, nil
	default:
		if err := r.DeleteRemote(originRemote); err != nil {
			return nil, fmt.Errorf("mirror %s: %w", m.dir, err)
		}
	}
	if _, err := r.CreateRemote(&config.RemoteConfig{
		Name:  originRemote,
		URLs:  []string{p.Repo},
		Fetch: mirrorFetchSpecs,
	}); err != nil {
		return nil, fmt.Errorf("mirror %s: set origin: %w", m.dir, err)
	}
	m.state.gen++
	m.r, m.gen = r, m.state.gen
	return m, nil
}

// initMirror makes an empty bare repository at dir: in a temporary
// directory first, renamed into place, so a crash never leaves half of one.
func initMirror(dir string) (*git.Repository, error) {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, fmt.Errorf("mirror %s: %w", dir, err)
	}
	if err := removeTree(dir); err != nil {
		return nil, fmt.Errorf("mirror %s: %w", dir, err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".init-")
	if err != nil {
		return nil, fmt.Errorf("mirror %s: %w", dir, err)
	}
	defer os.RemoveAll(tmp)
	if _, err := git.PlainInit(tmp, true); err != nil {
		return nil, fmt.Errorf("mirror %s: init: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return nil, fmt.Errorf("mirror %s: %w", dir, err)
	}
	r, err := git.PlainOpen(dir)
	if err != nil {
		return nil, fmt.Errorf("mirror %s: %w", dir, err)
	}
	return r, nil
}

// Dir is the mirror's directory (a bare repository).
func (m *Mirror) Dir() string { return m.dir }

// Repo is the repository the mirror fetches from (Project.Repo).
func (m *Mirror) Repo() string { return m.repo }

// lock takes the mirror's lock and returns its repository, reopened if
// another Mirror of the same directory changed it since.
func (m *Mirror) lock() (*git.Repository, func(), error) {
	m.state.mu.Lock()
	if m.r == nil || m.gen != m.state.gen {
		r, err := git.PlainOpen(m.dir)
		if err != nil {
			m.state.mu.Unlock()
			return nil, nil, fmt.Errorf("mirror %s: %w", m.dir, err)
		}
		m.r, m.gen = r, m.state.gen
	}
	return m.r, m.state.mu.Unlock, nil
}

// changed records a write to the mirror: other Mirrors of it reopen it.
// Call with the lock held.
func (m *Mirror) changed() {
	m.state.gen++
	m.r = nil
}

// Fetch brings every branch and tag of the repository into the mirror,
// forced and pruned: afterwards the mirror's refs/heads and refs/tags are
// the repository's.
func (m *Mirror) Fetch(ctx context.Context) error {
	r, unlock, err := m.lock()
	if err != nil {
		return err
	}
	defer unlock()
	return m.fetchLocked(ctx, r)
}

func (m *Mirror) fetchLocked(ctx context.Context, r *git.Repository) error {
	if err := m.checkLocalRepo(); err != nil {
		return err
	}
	err := r.FetchContext(ctx, &git.FetchOptions{
		RemoteName: originRemote,
		RefSpecs:   mirrorFetchSpecs,
		Tags:       git.NoTags, // the refspecs above take every tag
		Prune:      true,
		Force:      true,
	})
	m.changed()
	switch {
	case err == nil, errors.Is(err, git.NoErrAlreadyUpToDate):
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("repo %s: fetch: %w", m.repo, ctx.Err())
	}
	return m.remoteError("fetch", err)
}

// checkLocalRepo names the common mistakes with a local path before go-git
// runs git-upload-pack on it.
func (m *Mirror) checkLocalRepo() error {
	p, ok := localRepoPath(m.repo)
	if !ok {
		return nil
	}
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return text.Errorf("repo %s: %w (no such directory)", m.repo, ErrRepoNotFound)
	case err != nil:
		return fmt.Errorf("repo %s: %w", m.repo, err)
	case !fi.IsDir():
		return text.Errorf("repo %s: %w (not a directory)", m.repo, ErrRepoNotFound)
	}
	return nil
}

// remoteError turns go-git's transport errors into ones that name the
// repository.
func (m *Mirror) remoteError(op string, err error) error {
	switch {
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return text.Errorf("repo %s: %w", m.repo, ErrRepoNotFound)
	case errors.Is(err, transport.ErrEmptyRemoteRepository):
		return fmt.Errorf("repo %s: empty repository (no commits yet)", m.repo)
	case errors.Is(err, transport.ErrAuthenticationRequired),
		errors.Is(err, transport.ErrAuthorizationFailed):
		return fmt.Errorf("repo %s: %s: %w", m.repo, op, err)
	}
	msg := err.Error()
	if strings.Contains(msg, "does not appear to be a git repository") ||
		strings.Contains(msg, "not a git repository") {
		return text.Errorf("repo %s: %w", m.repo, ErrRepoNotFound)
	}
	if strings.Contains(msg, "executable file not found") {
		return fmt.Errorf("repo %s: %s: a local repository needs git-upload-pack and git-receive-pack (install git): %w", m.repo, op, err)
	}
	return fmt.Errorf("repo %s: %s: %w", m.repo, op, err)
}

// Resolve turns a branch name, a tag (lightweight or annotated), a full SHA
// or an unambiguous SHA prefix of at least 7 hex digits into the 40-hex SHA
// of a commit in the mirror. A name is checked (see ValidateRef) before any
// lookup. A name that is both a branch and a tag at different commits is
// refused as ambiguous: say refs/heads/NAME or refs/tags/NAME.
func (m *Mirror) Resolve(ref string) (string, error) {
	if err := ValidateRef(ref); err != nil {
		return "", err
	}
	r, unlock, err := m.lock()
	if err != nil {
		return "", err
	}
	defer unlock()
	return m.resolveLocked(r, ref)
}

var hexRe = regexp.MustCompile(`^[0-9a-fA-F]{7,40}$`)

func (m *Mirror) resolveLocked(r *git.Repository, ref string) (string, error) {
	if len(ref) == 40 && hexRe.MatchString(ref) {
		if h, err := peel(r, plumbing.NewHash(strings.ToLower(ref))); err == nil {
			return h.String(), nil // a commit, or an annotated tag of one
		}
	}
	if strings.HasPrefix(ref, "refs/") {
		h, found, err := peelRef(r, plumbing.ReferenceName(ref))
		if err != nil {
			return "", fmt.Errorf("ref %q: %w", ref, err)
		}
		if found {
			return h.String(), nil
		}
		return "", text.Errorf("ref %q: %w in %s", ref, ErrUnknownRef, m.repo)
	}
	branch, isBranch, err := peelRef(r, plumbing.NewBranchReferenceName(ref))
	if err != nil {
		return "", fmt.Errorf("branch %q: %w", ref, err)
	}
	tag, isTag, err := peelRef(r, plumbing.NewTagReferenceName(ref))
	if err != nil {
		return "", fmt.Errorf("tag %q: %w", ref, err)
	}
	switch {
	case isBranch && isTag && branch != tag:
		return "", text.Errorf("ref %q: %w: both a branch (%s) and a tag (%s); say refs/heads/%s or refs/tags/%s",
			ref, ErrAmbiguousRef, short(branch), short(tag), ref, ref)
	case isBranch:
		return branch.String(), nil
	case isTag:
		return tag.String(), nil
	}
	if hexRe.MatchString(ref) {
		prefix := strings.ToLower(ref)
		var found []string // commits, or commits of annotated tags
		for _, h := range hashesWithPrefix(r, prefix) {
			if c, err := peel(r, h); err == nil && !slices.Contains(found, c.String()) {
				found = append(found, c.String())
			}
		}
		switch len(found) {
		case 1:
			return found[0], nil
		case 0:
		default:
			sort.Strings(found)
			return "", text.Errorf("ref %q: %w: %d commits start with it (%s)", ref, ErrAmbiguousRef, len(found), strings.Join(found, ", "))
		}
		return "", text.Errorf("ref %q: %w (nor a commit) in %s", ref, ErrUnknownRef, m.repo)
	}
	return "", text.Errorf("ref %q: %w in %s", ref, ErrUnknownRef, m.repo)
}

// peelRef resolves a reference to the commit it names, through annotated
// tags. found is false when the reference does not exist.
func peelRef(r *git.Repository, name plumbing.ReferenceName) (h plumbing.Hash, found bool, err error) {
	ref, err := r.Reference(name, true)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return plumbing.ZeroHash, false, nil
	}
	if err != nil {
		return plumbing.ZeroHash, false, err
	}
	h, err = peel(r, ref.Hash())
	return h, true, err
}

// peel follows annotated tags down to a commit.
func peel(r *git.Repository, h plumbing.Hash) (plumbing.Hash, error) {
	for range 16 {
		t, err := r.TagObject(h)
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			if _, err := r.CommitObject(h); err != nil {
				return plumbing.ZeroHash, fmt.Errorf("%s is not a commit: %w", short(h), err)
			}
			return h, nil
		}
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if t.TargetType != plumbing.CommitObject && t.TargetType != plumbing.TagObject {
			return plumbing.ZeroHash, fmt.Errorf("tag %s points to a %s, not a commit", t.Name, t.TargetType)
		}
		h = t.Target
	}
	return plumbing.ZeroHash, errors.New("tags nested too deep")
}

// hashesWithPrefix lists the objects whose hex name starts with prefix.
func hashesWithPrefix(r *git.Repository, prefix string) []plumbing.Hash {
	type prefixer interface {
		HashesWithPrefix(prefix []byte) ([]plumbing.Hash, error)
	}
	even := prefix[:len(prefix)&^1]
	b, err := hex.DecodeString(even)
	if err != nil {
		return nil
	}
	var out []plumbing.Hash
	if p, ok := r.Storer.(prefixer); ok {
		hs, err := p.HashesWithPrefix(b)
		if err != nil {
			return nil
		}
		for _, h := range hs {
			if strings.HasPrefix(h.String(), prefix) {
				out = append(out, h)
			}
		}
		return out
	}
	iter, err := r.CommitObjects()
	if err != nil {
		return nil
	}
	_ = iter.ForEach(func(c *object.Commit) error {
		if strings.HasPrefix(c.Hash.String(), prefix) {
			out = append(out, c.Hash)
		}
		return nil
	})
	return out
}

func short(h plumbing.Hash) string { return h.String()[:7] }

// HasCommit tells whether the mirror holds the commit with this full SHA.
func (m *Mirror) HasCommit(sha string) bool {
	if ValidateCommit(sha) != nil {
		return false
	}
	r, unlock, err := m.lock()
	if err != nil {
		return false
	}
	defer unlock()
	_, err = r.CommitObject(plumbing.NewHash(sha))
	return err == nil
}

// Branches lists the mirror's branch names, sorted.
func (m *Mirror) Branches() ([]string, error) {
	r, unlock, err := m.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	iter, err := r.Branches()
	if err != nil {
		return nil, fmt.Errorf("mirror %s: %w", m.dir, err)
	}
	var out []string
	err = iter.ForEach(func(ref *plumbing.Reference) error {
		out = append(out, ref.Name().Short())
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mirror %s: %w", m.dir, err)
	}
	sort.Strings(out)
	return out, nil
}

// ValidateRef checks a branch, tag or commit name before it is looked up
// or written. It follows git check-ref-format (one-level names allowed) and
// is stricter: shell metacharacters, quotes and a leading '-' are refused
// too, though git would take some of them, since a name is shown, stored
// in events and passed around, and no release branch needs them.
func ValidateRef(ref string) error {
	bad := func(why text.Text) error { return text.Errorf("ref %q: %w: %s", ref, ErrBadRef, why) }
	switch {
	case ref == "":
		return bad(text.New("empty"))
	case len(ref) > 255:
		return bad(text.New("longer than 255 bytes"))
	case !utf8.ValidString(ref):
		return bad(text.New("not valid UTF-8"))
	case ref == "@":
		return bad(text.New(`"@" alone is not a name`))
	case strings.HasPrefix(ref, "-"):
		return bad(text.New("starts with '-'"))
	case strings.HasPrefix(ref, "/"), strings.HasSuffix(ref, "/"):
		return bad(text.New("starts or ends with '/'"))
	case strings.Contains(ref, "//"):
		return bad(text.New("contains \"//\""))
	case strings.Contains(ref, ".."):
		return bad(text.New("contains \"..\""))
	case strings.Contains(ref, "@{"):
		return bad(text.New("contains \"@{\""))
	case strings.HasSuffix(ref, "."):
		return bad(text.New("ends with '.'"))
	}
	for _, c := range ref {
		switch {
		case c < 0x20 || c == 0x7f:
			return bad(text.New("contains a control character"))
		case c == ' ' || unicode.IsSpace(c):
			return bad(text.New("contains a space"))
		case strings.ContainsRune("~^:?*[\\", c):
			return bad(text.New("contains %q", c))
		case strings.ContainsRune("$`;|&<>()'\"{}", c):
			return bad(text.New("contains the shell character %q", c))
		case c > 0x7f && !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return bad(text.New("contains %q (only letters and digits beyond ASCII)", c))
		}
	}
	for _, comp := range strings.Split(ref, "/") {
		if strings.HasPrefix(comp, ".") {
			return bad(text.New("a component starts with '.'"))
		}
		if strings.HasSuffix(comp, ".lock") {
			return bad(text.New("a component ends with \".lock\""))
		}
	}
	return nil
}

// validateRepo is CheckRepo's refusal as the mirror reports it: naming
// the address, wrapping ErrBadRepo.
func validateRepo(repo string) error {
	if err := CheckRepo(repo); err != nil {
		return text.Errorf("repo %q: %w: %w", repo, ErrBadRepo, err)
	}
	return nil
}

// localRepoPath returns the directory of a local repository address.
func localRepoPath(repo string) (string, bool) {
	if filepath.IsAbs(repo) {
		return repo, true
	}
	if strings.HasPrefix(repo, "file://") {
		if u, err := url.Parse(repo); err == nil {
			return u.Path, true
		}
	}
	return "", false
}

// Commit is one line of a release's history.
type Commit struct {
	SHA     string    `json:"sha"`
	Author  string    `json:"author"`
	Email   string    `json:"email"`
	Time    time.Time `json:"time"` // author time
	Subject string    `json:"subject"`
}

// Log lists the commits reachable from to and not from from ("" for none),
// newest first as `git log from..to` shows them (by commit time), at most
// max (0: all). from and to are anything Resolve takes.
func (m *Mirror) Log(from, to string, max int) ([]Commit, error) {
	if to == "" {
		return nil, fmt.Errorf("log: %w: empty", ErrBadRef)
	}
	if err := validateRange(from, to); err != nil {
		return nil, err
	}
	r, unlock, err := m.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	toSHA, err := m.resolveLocked(r, to)
	if err != nil {
		return nil, err
	}
	var fromSHA string
	if from != "" {
		if fromSHA, err = m.resolveLocked(r, from); err != nil {
			return nil, err
		}
	}
	commits, err := revWalk(r, toSHA, fromSHA, max)
	if err != nil {
		return nil, fmt.Errorf("log %s..%s: %w", from, to, err)
	}
	out := make([]Commit, len(commits))
	for i, c := range commits {
		out[i] = Commit{
			SHA:     c.Hash.String(),
			Author:  c.Author.Name,
			Email:   c.Author.Email,
			Time:    c.Author.When,
			Subject: subject(c.Message),
		}
	}
	return out, nil
}

// subject is git's %s: the first paragraph of the message on one line.
func subject(msg string) string {
	msg = strings.TrimLeft(msg, "\n")
	if i := strings.Index(msg, "\n\n"); i >= 0 {
		msg = msg[:i]
	}
	return strings.Join(strings.Fields(strings.ReplaceAll(msg, "\n", " ")), " ")
}

// revWalk is git's rev-list for "^from to": a walk by commit time from
// both ends, where commits reached from `from` are uninteresting and
// spread that to their parents; it stops when only uninteresting commits
// are left to visit (with a few more steps of slack, as git does, for
// clocks that disagree).
func revWalk(r *git.Repository, to, from string, max int) ([]*object.Commit, error) {
	const (
		seen          = 1
		uninteresting = 2
		done          = 4
	)
	flags := map[plumbing.Hash]uint8{}
	parents := map[plumbing.Hash][]plumbing.Hash{} // of visited commits
	q := &commitQueue{}
	push := func(h plumbing.Hash, flag uint8) error {
		if flags[h]&seen != 0 {
			return nil
		}
		c, err := r.CommitObject(h)
		if err != nil {
			return fmt.Errorf("commit %s: %w", h, err)
		}
		flags[h] |= seen | flag
		q.push(c)
		return nil
	}
	// markUninteresting spreads the flag through commits already visited.
	var markUninteresting func(h plumbing.Hash)
	markUninteresting = func(h plumbing.Hash) {
		stack := []plumbing.Hash{h}
		for len(stack) > 0 {
			h := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if flags[h]&uninteresting != 0 {
				continue
			}
			flags[h] |= uninteresting
			if flags[h]&done != 0 {
				stack = append(stack, parents[h]...)
			}
		}
	}
	if err := push(plumbing.NewHash(to), 0); err != nil {
		return nil, err
	}
	if from != "" {
		h := plumbing.NewHash(from)
		if flags[h]&seen != 0 {
			markUninteresting(h)
		} else if err := push(h, uninteresting); err != nil {
			return nil, err
		}
	}
	var out []*object.Commit
	slop := 5
	for q.len() > 0 {
		if from != "" && q.allFlagged(flags, uninteresting) {
			if slop--; slop < 0 {
				break
			}
		}
		c := q.pop()
		f := flags[c.Hash] | done
		flags[c.Hash] = f
		parents[c.Hash] = c.ParentHashes
		for _, p := range c.ParentHashes {
			if f&uninteresting != 0 {
				if flags[p]&seen != 0 {
					markUninteresting(p)
					continue
				}
				if err := push(p, uninteresting); err != nil {
					return nil, err
				}
			} else if err := push(p, 0); err != nil {
				return nil, err
			}
		}
		if f&uninteresting == 0 {
			out = append(out, c)
			if from == "" && max > 0 && len(out) >= max {
				break
			}
		}
	}
	// Drop what was found uninteresting after it was listed.
	kept := out[:0]
	for _, c := range out {
		if flags[c.Hash]&uninteresting == 0 {
			kept = append(kept, c)
		}
	}
	if max > 0 && len(kept) > max {
		kept = kept[:max]
	}
	return kept, nil
}

// commitQueue orders commits newest first by committer time, first in
// first out among equal times (as git's prio_queue).
type commitQueue struct {
	items []queued
	seq   int
}

type queued struct {
	c   *object.Commit
	seq int
}

func (q *commitQueue) len() int { return len(q.items) }

func (q *commitQueue) less(i, j int) bool {
	a, b := q.items[i], q.items[j]
	ta, tb := a.c.Committer.When, b.c.Committer.When
	if !ta.Equal(tb) {
		return ta.After(tb)
	}
	return a.seq < b.seq
}

func (q *commitQueue) push(c *object.Commit) {
	q.seq++
	q.items = append(q.items, queued{c, q.seq})
	for i := len(q.items) - 1; i > 0; {
		p := (i - 1) / 2
		if !q.less(i, p) {
			break
		}
		q.items[i], q.items[p] = q.items[p], q.items[i]
		i = p
	}
}

func (q *commitQueue) pop() *object.Commit {
	top := q.items[0].c
	n := len(q.items) - 1
	q.items[0] = q.items[n]
	q.items = q.items[:n]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && q.less(l, m) {
			m = l
		}
		if r < n && q.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		q.items[i], q.items[m] = q.items[m], q.items[i]
		i = m
	}
	return top
}

func (q *commitQueue) allFlagged(flags map[plumbing.Hash]uint8, flag uint8) bool {
	for _, it := range q.items {
		if flags[it.c.Hash]&flag == 0 {
			return false
		}
	}
	return true
}

// File change actions.
const (
	FileAdded    = "added"
	FileModified = "modified"
	FileDeleted  = "deleted"
)

// FileChange is one path that differs between two commits.
type FileChange struct {
	Path   string `json:"path"`
	Action string `json:"action"` // added | modified | deleted
}

// validateRange checks the refs of a range from..to: to, and from unless
// it is "" (none).
func validateRange(from, to string) error {
	if err := ValidateRef(to); err != nil {
		return err
	}
	if from != "" {
		return ValidateRef(from)
	}
	return nil
}

// ChangedFiles compares the trees of two commits (from "" is the empty
// tree): every path added, modified (content, mode or type) or deleted,
// sorted by path, as `git diff --no-renames --name-status from to`.
// from and to are anything Resolve takes.
func (m *Mirror) ChangedFiles(from, to string) ([]FileChange, error) {
	if err := validateRange(from, to); err != nil {
		return nil, err
	}
	r, unlock, err := m.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	treeOf := func(ref string) (*object.Tree, error) {
		if ref == "" {
			return nil, nil
		}
		sha, err := m.resolveLocked(r, ref)
		if err != nil {
			return nil, err
		}
		c, err := r.CommitObject(plumbing.NewHash(sha))
		if err != nil {
			return nil, fmt.Errorf("commit %s: %w", sha, err)
		}
		return c.Tree()
	}
	a, err := treeOf(from)
	if err != nil {
		return nil, err
	}
	b, err := treeOf(to)
	if err != nil {
		return nil, err
	}
	changes, err := object.DiffTree(a, b)
	if err != nil {
		return nil, fmt.Errorf("diff %s %s: %w", from, to, err)
	}
	out := make([]FileChange, 0, len(changes))
	for _, ch := range changes {
		action, err := ch.Action()
		if err != nil {
			return nil, err
		}
		fc := FileChange{Path: ch.To.Name, Action: FileModified}
		switch action {
		case merkletrie.Insert:
			fc.Action = FileAdded
		case merkletrie.Delete:
			fc.Path, fc.Action = ch.From.Name, FileDeleted
		}
		out = append(out, fc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}
