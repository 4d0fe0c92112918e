package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Update turns dest, an export of commit from (made by Export with the same
// exclude, unchanged since), into an export of commit to: it applies the
// difference of the two trees (go-git's tree diff, no rename detection),
// so only what changed is written. What is removed goes first (a
// directory that is no longer one in to goes whole), then what is new or
// changed is written anew (a new inode), with the checks of Export: every
// name is checked, nothing is written through a symlink, files and
// symlinks are created exclusively. touched lists every path written or
// removed (slash-separated), for an incremental manifest. On error dest
// is in an unknown state: remove it.
func (m *Mirror) Update(ctx context.Context, from, to, dest string, exclude []string) (touched []string, err error) {
	if err := ValidateCommit(from); err != nil {
		return nil, err
	}
	if err := ValidateCommit(to); err != nil {
		return nil, err
	}
	ex, err := CompileExclude(exclude)
	if err != nil {
		return nil, err
	}
	if !filepath.IsAbs(dest) {
		return nil, fmt.Errorf("update %q: %w: want an absolute path", dest, ErrUnsafePath)
	}
	r, unlock, err := m.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	trees := make([]*object.Tree, 2)
	for i, sha := range []string{from, to} {
		c, err := r.CommitObject(plumbing.NewHash(sha))
		if err != nil {
			return nil, fmt.Errorf("commit %s: not in the mirror of %s: %w", sha, m.repo, err)
		}
		if trees[i], err = c.Tree(); err != nil {
			return nil, fmt.Errorf("commit %s: tree: %w", sha, err)
		}
	}
	changes, err := object.DiffTreeWithOptions(ctx, trees[0], trees[1], &object.DiffTreeOptions{})
	if err != nil {
		return nil, fmt.Errorf("diff %s..%s: %w", short(plumbing.NewHash(from)), short(plumbing.NewHash(to)), err)
	}
	root, err := os.OpenRoot(dest)
	if err != nil {
		return nil, fmt.Errorf("update %s: %w", dest, err)
	}
	defer root.Close()
	u := &updater{ctx: ctx, root: root, ex: ex, to: trees[1], note: m.Note, r: r}

	// Removals: every old path that changed, then every directory of an
	// old path that is no directory in the new tree, deepest first.
	gone := map[string]bool{}
	for _, c := range changes {
		if c.From.Name == "" {
			continue
		}
		p := c.From.Name
		if err := checkTreePath(p); err != nil {
			return nil, err
		}
		if !ex.Match(p) {
			if err := u.remove(p); err != nil {
				return nil, err
			}
			touched = append(touched, p)
		}
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if !gone[d] && !u.isDirIn(d) {
				gone[d] = true
			}
		}
	}
	dirs := make([]string, 0, len(gone))
	for d := range gone {
		dirs = append(dirs, d)
	}
	sort.Slice(dirs, func(i, j int) bool { return strings.Count(dirs[i], "/") > strings.Count(dirs[j], "/") })
	for _, d := range dirs {
		if ex.Match(d) {
			continue
		}
		if err := u.remove(d); err != nil {
			return nil, err
		}
		touched = append(touched, d)
	}

	// Writes: every new path that changed, its directories made first.
	buf := make([]byte, 256<<10)
	for _, c := range changes {
		if c.To.Name == "" {
			continue
		}
		p := c.To.Name
		if err := checkTreePath(p); err != nil {
			return nil, err
		}
		made, err := u.mkdirs(path.Dir(p))
		if err != nil {
			return nil, err
		}
		touched = append(touched, made...)
		if ex.Match(p) {
			continue
		}
		if err := u.write(p, c.To.TreeEntry, buf); err != nil {
			return nil, err
		}
		touched = append(touched, p)
	}
	return touched, nil
}

// checkTreePath applies checkEntryName to each component of a tree path.
func checkTreePath(p string) error {
	for c := range strings.SplitSeq(p, "/") {
		if err := checkEntryName(c); err != nil {
			return fmt.Errorf("%q: %w", p, err)
		}
	}
	return nil
}

// updater applies a tree diff to an export.
type updater struct {
	ctx  context.Context
	root *os.Root
	ex   *ExcludeMatcher
	to   *object.Tree
	note func(string)
	r    interface {
		BlobObject(plumbing.Hash) (*object.Blob, error)
	}
}

// isDirIn tells whether p is a directory in the new tree.
func (u *updater) isDirIn(p string) bool {
	e, err := u.to.FindEntry(p)
	return err == nil && e.Mode == filemode.Dir
}

// noSymlinkParent fails if a directory on the way to p is not a real
// directory: nothing is removed or written through a symlink.
func (u *updater) noSymlinkParent(p string) error {
	for d := range parentDirs(p) {
		fi, err := u.root.Lstat(d)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s: %w: %s is not a directory", p, ErrUnsafePath, d)
		}
	}
	return nil
}

// parentDirs yields the directories leading to p, shallowest first.
func parentDirs(p string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for i := 0; i < len(p); i++ {
			if p[i] == '/' && !yield(p[:i]) {
				return
			}
		}
	}
}

// remove deletes p (a whole directory too), if it exists.
func (u *updater) remove(p string) error {
	if err := u.ctx.Err(); err != nil {
		return err
	}
	if _, err := u.root.Lstat(p); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := u.noSymlinkParent(p); err != nil {
		return err
	}
	if err := u.root.RemoveAll(p); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}

// mkdirs makes the directories of d that are missing (0755, as Export
// makes them) and returns them; excluded ones are not made, and nor is
// what is under them.
func (u *updater) mkdirs(d string) ([]string, error) {
	if d == "." {
		return nil, nil
	}
	var made []string
	for q := range parentDirs(d + "/") {
		if u.ex.Match(q) {
			return made, nil
		}
		fi, err := u.root.Lstat(q)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := u.root.Mkdir(q, 0o755); err != nil {
				return nil, fmt.Errorf("%s: %w", q, err)
			}
			if err := u.root.Chmod(q, 0o755); err != nil { // whatever the umask
				return nil, fmt.Errorf("%s: %w", q, err)
			}
			made = append(made, q)
		case err != nil:
			return nil, fmt.Errorf("%s: %w", q, err)
		case !fi.IsDir():
			return nil, fmt.Errorf("%s: %w: not a directory", q, ErrUnsafePath)
		}
	}
	return made, nil
}

// write creates p from its tree entry, exclusively.
func (u *updater) write(p string, e object.TreeEntry, buf []byte) error {
	if err := u.ctx.Err(); err != nil {
		return err
	}
	if err := u.noSymlinkParent(p); err != nil {
		return err
	}
	switch e.Mode {
	case filemode.Regular, filemode.Deprecated, filemode.Executable:
		perm := fs.FileMode(0o644)
		if e.Mode == filemode.Executable {
			perm = 0o755
		}
		blob, err := u.r.BlobObject(e.Hash)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		rd, err := blob.Reader()
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		defer rd.Close()
		f, err := u.root.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		n, err := io.CopyBuffer(onlyWriter{f}, rd, buf)
		if err == nil && n != blob.Size {
			err = fmt.Errorf("wrote %d bytes of %d", n, blob.Size)
		}
		if err == nil {
			err = f.Chmod(perm)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	case filemode.Symlink:
		blob, err := u.r.BlobObject(e.Hash)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if blob.Size > 4096 {
			return fmt.Errorf("%s: symlink target of %d bytes", p, blob.Size)
		}
		rd, err := blob.Reader()
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		target, err := io.ReadAll(rd)
		rd.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if len(target) == 0 || slices.Contains(target, 0) {
			return fmt.Errorf("%s: %w: bad symlink target", p, ErrUnsafePath)
		}
		if err := u.root.Symlink(string(target), p); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	case filemode.Submodule:
		if u.note != nil {
			u.note(fmt.Sprintf("submodule %s (commit %s) skipped: an export holds the repository's own files only", p, e.Hash))
		}
	case filemode.Dir:
		// A tree diff lists files; a directory is made with its first.
	default:
		return fmt.Errorf("%s: unsupported mode %s", p, e.Mode)
	}
	return nil
}
