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
	"releasedesk/events/text"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// Export writes the tree of commit sha into dest, which is created if
// missing and must otherwise be an empty directory (not a symlink):
//
//   - regular files with mode 0644, or 0755 when git says executable;
//   - symlinks as symlinks, their targets as committed (a target may point
//     anywhere: it is written, never followed);
//   - directories 0755 (git has no empty directories);
//   - submodules are skipped, each with a line to m.Note.
//
// Every entry name is checked: no "", ".", "..", ".git", '/', NUL or
// duplicate, so a hostile tree cannot write outside dest or into a .git
// directory. Files, directories and symlinks are created exclusively
// (O_EXCL) through an os.Root of their own directory, so nothing is ever
// written through a symlink.
//
// Files are written by GOMAXPROCS workers (at most 8), each reading blobs
// through its own go-git storage. exclude leaves paths out; see
// CompileExclude for the syntax. On error, cancellation included, dest is
// left as it was found (missing or empty).
func (m *Mirror) Export(ctx context.Context, sha, dest string, exclude []string) (err error) {
	if err := ValidateCommit(sha); err != nil {
		return err
	}
	ex, err := CompileExclude(exclude)
	if err != nil {
		return err
	}
	if !filepath.IsAbs(dest) {
		return fmt.Errorf("export to %q: %w: want an absolute path", dest, ErrUnsafePath)
	}
	dest = filepath.Clean(dest)

	r, unlock, err := m.lock()
	if err != nil {
		return err
	}
	defer unlock()
	commit, err := r.CommitObject(plumbing.NewHash(sha))
	if err != nil {
		return fmt.Errorf("commit %s: not in the mirror of %s (fetch first?): %w", sha, m.repo, err)
	}
	tree, err := commit.Tree()
	if err != nil {
		return fmt.Errorf("commit %s: tree: %w", sha, err)
	}

	created, err := prepareDest(dest)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			cleanDest(dest, created)
		}
	}()
	root, err := os.OpenRoot(dest)
	if err != nil {
		return fmt.Errorf("export to %s: %w", dest, err)
	}
	top := newDirHandle(root)

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	x := &exporter{ctx: ctx, r: r, ex: ex, note: m.Note, jobs: make(chan fileJob, 256)}
	var wg sync.WaitGroup
	for range min(max(runtime.GOMAXPROCS(0), 1), 8) {
		st := filesystem.NewStorageWithOptions(osfs.New(m.dir), cache.NewObjectLRU(8*cache.MiByte),
			filesystem.Options{KeepDescriptors: true})
		wg.Go(func() {
			defer st.Close()
			buf := make([]byte, 256<<10)
			for j := range x.jobs {
				if ctx.Err() == nil {
					if err := writeBlob(st, j, buf); err != nil {
						cancel(err)
					}
				}
				j.dir.release()
			}
		})
	}
	werr := x.tree(top, tree, "")
	if werr != nil {
		cancel(werr) // the workers drop what is queued
	}
	close(x.jobs)
	wg.Wait()
	if werr == nil {
		werr = context.Cause(ctx)
	}
	if werr != nil {
		return fmt.Errorf("export %s to %s: %w", short(commit.Hash), dest, werr)
	}
	return nil
}

// prepareDest makes dest, or checks that it is an empty real directory.
func prepareDest(dest string) (created bool, err error) {
	fi, err := os.Lstat(dest)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
			return false, fmt.Errorf("export to %s: %w", dest, err)
		}
		if err := os.Mkdir(dest, 0o755); err != nil {
			return false, fmt.Errorf("export to %s: %w", dest, err)
		}
		return true, nil
	case err != nil:
		return false, fmt.Errorf("export to %s: %w", dest, err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return false, fmt.Errorf("export to %s: %w: it is a symlink", dest, ErrUnsafePath)
	case !fi.IsDir():
		return false, fmt.Errorf("export to %s: not a directory", dest)
	}
	f, err := os.Open(dest)
	if err != nil {
		return false, fmt.Errorf("export to %s: %w", dest, err)
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if len(names) > 0 {
		return false, fmt.Errorf("export to %s: %w: the directory is not empty (%s)", dest, ErrUnsafePath, names[0])
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("export to %s: %w", dest, err)
	}
	return false, nil
}

// cleanDest undoes a failed export.
func cleanDest(dest string, created bool) {
	if created {
		_ = removeTree(dest)
		return
	}
	entries, _ := os.ReadDir(dest)
	for _, e := range entries {
		_ = removeTree(filepath.Join(dest, e.Name()))
	}
}

// dirHandle is an open directory of the export, closed when the walk of
// its tree and every file job in it are done.
type dirHandle struct {
	root *os.Root
	refs atomic.Int64
}

func newDirHandle(root *os.Root) *dirHandle {
	d := &dirHandle{root: root}
	d.refs.Store(1) // the walk of its tree
	return d
}

func (d *dirHandle) release() {
	if d.refs.Add(-1) == 0 {
		d.root.Close()
	}
}

// fileJob is one regular file for the workers to write.
type fileJob struct {
	dir  *dirHandle
	name string // in dir
	path string // in the tree, for errors
	hash plumbing.Hash
	perm fs.FileMode
}

// exporter walks the tree: it makes directories and symlinks itself and
// hands regular files to the workers.
type exporter struct {
	ctx  context.Context
	r    *git.Repository
	ex   *ExcludeMatcher
	note func(string)
	jobs chan fileJob
}

// tree writes the entries of t into dir, whose path in the tree is prefix,
// and releases dir.
func (x *exporter) tree(dir *dirHandle, t *object.Tree, prefix string) error {
	defer dir.release()
	seen := make(map[string]bool, len(t.Entries))
	for _, e := range t.Entries {
		p := prefix + e.Name
		if err := checkEntryName(e.Name); err != nil {
			return fmt.Errorf("%q: %w", p, err)
		}
		if seen[e.Name] {
			return fmt.Errorf("%q: %w: the tree names it twice", p, ErrUnsafePath)
		}
		seen[e.Name] = true
		if x.ex.matchOne(p) { // its parents were matched on the way down
			continue
		}
		if err := x.ctx.Err(); err != nil {
			return context.Cause(x.ctx)
		}
		switch e.Mode {
		case filemode.Dir:
			sub, err := x.r.TreeObject(e.Hash)
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			if err := dir.root.Mkdir(e.Name, 0o755); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			if err := dir.root.Chmod(e.Name, 0o755); err != nil { // whatever the umask
				return fmt.Errorf("%s: %w", p, err)
			}
			subroot, err := dir.root.OpenRoot(e.Name)
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			if err := x.tree(newDirHandle(subroot), sub, p+"/"); err != nil {
				return err
			}
		case filemode.Regular, filemode.Deprecated, filemode.Executable:
			perm := fs.FileMode(0o644)
			if e.Mode == filemode.Executable {
				perm = 0o755
			}
			dir.refs.Add(1)
			select {
			case x.jobs <- fileJob{dir: dir, name: e.Name, path: p, hash: e.Hash, perm: perm}:
			case <-x.ctx.Done():
				dir.release()
				return context.Cause(x.ctx)
			}
		case filemode.Symlink:
			if err := x.symlink(dir.root, e, p); err != nil {
				return err
			}
		case filemode.Submodule:
			if x.note != nil {
				x.note(fmt.Sprintf("submodule %s (commit %s) skipped: an export holds the repository's own files only", p, e.Hash))
			}
		default:
			return fmt.Errorf("%s: unsupported mode %s", p, e.Mode)
		}
	}
	return nil
}

// writeBlob writes one file from the blob, with a buffer of the worker's.
func writeBlob(st *filesystem.Storage, j fileJob, buf []byte) error {
	obj, err := st.EncodedObject(plumbing.BlobObject, j.hash)
	if err != nil {
		return fmt.Errorf("%s: %w", j.path, err)
	}
	rd, err := obj.Reader()
	if err != nil {
		return fmt.Errorf("%s: %w", j.path, err)
	}
	defer rd.Close()
	f, err := j.dir.root.OpenFile(j.name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, j.perm)
	if err != nil {
		return fmt.Errorf("%s: %w", j.path, err)
	}
	n, err := io.CopyBuffer(onlyWriter{f}, rd, buf)
	if err == nil && n != obj.Size() {
		err = fmt.Errorf("wrote %d bytes of %d", n, obj.Size())
	}
	if err == nil {
		err = f.Chmod(j.perm) // whatever the umask
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", j.path, err)
	}
	return nil
}

func (x *exporter) symlink(dir *os.Root, e object.TreeEntry, p string) error {
	obj, err := x.r.Storer.EncodedObject(plumbing.BlobObject, e.Hash)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	if obj.Size() > 4096 {
		return fmt.Errorf("%s: symlink target of %d bytes", p, obj.Size())
	}
	rd, err := obj.Reader()
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	target, err := io.ReadAll(rd)
	rd.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	if len(target) == 0 || strings.IndexByte(string(target), 0) >= 0 {
		return fmt.Errorf("%s: %w: bad symlink target", p, ErrUnsafePath)
	}
	if err := dir.Symlink(string(target), e.Name); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}

// onlyWriter hides *os.File's ReadFrom so io.CopyBuffer uses our buffer.
type onlyWriter struct{ io.Writer }

// checkEntryName refuses tree entry names that could escape the export or
// plant a repository in it.
func checkEntryName(name string) error {
	switch {
	case name == "", name == ".", name == "..":
		return fmt.Errorf("%w: entry name %q", ErrUnsafePath, name)
	case strings.ContainsAny(name, "/\x00"):
		return fmt.Errorf("%w: entry name contains '/' or NUL", ErrUnsafePath)
	case strings.EqualFold(name, ".git"):
		return fmt.Errorf("%w: a .git entry", ErrUnsafePath)
	}
	return nil
}

// ExcludeMatcher is a compiled list of exclude patterns. The syntax, kept
// simple on purpose:
//
//   - a pattern without '/' is matched (path.Match: *, ?, [...]) against
//     each name in a path: ".git", "node_modules", "*.log" leave out any
//     file or directory of that name, anywhere, and all that is under it;
//   - a pattern with '/' is matched against the path from the tree's root
//     (a leading '/' is optional): "storage/logs" leaves out that directory
//     and all under it, "config/*.local.php" those files;
//   - a trailing '/' is ignored; there is no "**" and no negation.
//
// A path is left out when it or any of its parent directories matches.
// The same list is applied on hosts by GNU tar (the git strategy, see
// TarArgs) and by rsync (see RsyncPatterns), whose glob dialects differ
// from path.Match in a few corners: "**", "[!...]" (write "[^...]"),
// "[:class:]" and backslash escapes are therefore refused.
type ExcludeMatcher struct {
	names []string // patterns without '/'
	paths []string // patterns with '/', rooted
}

// CompileExclude checks and compiles exclude patterns.
func CompileExclude(patterns []string) (*ExcludeMatcher, error) {
	ex := &ExcludeMatcher{}
	for _, p := range patterns {
		q := strings.TrimSuffix(strings.TrimPrefix(p, "/"), "/")
		if q == "" || strings.ContainsRune(q, 0) {
			return nil, text.Errorf("exclude pattern %q: empty", p)
		}
		if _, err := path.Match(q, ""); err != nil {
			return nil, text.Errorf("exclude pattern %q: %w", p, err)
		}
		for _, bad := range []string{"**", "[!", "[:", "\\"} {
			if strings.Contains(q, bad) {
				return nil, text.Errorf("exclude pattern %q: %q is not supported (tar and rsync on hosts read it differently)", p, bad)
			}
		}
		if strings.Contains(q, "/") {
			ex.paths = append(ex.paths, q)
		} else {
			ex.names = append(ex.names, q)
		}
	}
	return ex, nil
}

// Match tells whether the slash-separated path p (relative to the tree's
// root) is left out.
func (ex *ExcludeMatcher) Match(p string) bool {
	if ex == nil || (len(ex.names) == 0 && len(ex.paths) == 0) {
		return false
	}
	for q := p; ; {
		if ex.matchOne(q) {
			return true
		}
		i := strings.LastIndexByte(q, '/')
		if i < 0 {
			return false
		}
		q = q[:i]
	}
}

// matchOne matches p itself, not its parents.
func (ex *ExcludeMatcher) matchOne(p string) bool {
	if ex == nil {
		return false
	}
	name := p[strings.LastIndexByte(p, '/')+1:]
	for _, pat := range ex.names {
		if ok, _ := path.Match(pat, name); ok {
			return true
		}
	}
	for _, pat := range ex.paths {
		if ok, _ := path.Match(pat, p); ok {
			return true
		}
	}
	return false
}

// TarArgs are the GNU tar options that leave out, on extraction, what Match
// leaves out: names unanchored (any component, a matched directory with
// all under it), rooted paths anchored, and no wildcard matching '/'.
// Each pattern is part of one --exclude= argument. Nil when there is
// nothing to leave out.
func (ex *ExcludeMatcher) TarArgs() []string {
	if ex == nil || (len(ex.names) == 0 && len(ex.paths) == 0) {
		return nil
	}
	args := []string{"--wildcards", "--no-wildcards-match-slash"}
	if len(ex.names) > 0 {
		args = append(args, "--no-anchored")
		for _, n := range ex.names {
			args = append(args, "--exclude="+n)
		}
	}
	if len(ex.paths) > 0 {
		args = append(args, "--anchored")
		for _, p := range ex.paths {
			args = append(args, "--exclude="+p)
		}
	}
	return args
}

// RsyncPatterns are rsync --exclude patterns that leave out what Match
// leaves out: names as they are (rsync matches a pattern without '/'
// against the last component), rooted paths with a leading '/' (rsync
// would match "a/b" at any depth).
func (ex *ExcludeMatcher) RsyncPatterns() []string {
	if ex == nil {
		return nil
	}
	out := append([]string(nil), ex.names...)
	for _, p := range ex.paths {
		out = append(out, "/"+p)
	}
	return out
}
