package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"releasedesk/events/text"
)

// Workspace is the runner's working area on this machine, under the data
// directory (DESIGN.md section 6):
//
//	<Dir>/mirrors/<project>.git          a bare git mirror per project
//	<Dir>/exports/<project>/<version>    an exported (and built) tree; the
//	                                     last pure one of a project is kept
//
// Everything in it can be rebuilt from the projects' repositories: it is a
// cache, never a record.
type Workspace struct {
	Dir string // absolute
}

var projectIDRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// ValidateProjectID accepts ids made of lower-case letters, digits, '-' and
// '_', starting with a letter or digit, at most 63 characters: an id becomes
// a path component here and a stream name in the log.
func ValidateProjectID(id string) error {
	if !projectIDRe.MatchString(id) {
		return text.Errorf("project id %q: want [a-z0-9][a-z0-9_-]{0,62}", id)
	}
	return nil
}

// validate refuses a workspace whose directory is not absolute.
func (w Workspace) validate() error {
	if w.Dir == "" || !filepath.IsAbs(w.Dir) {
		return fmt.Errorf("workspace %q: want an absolute directory", w.Dir)
	}
	return nil
}

// MirrorDir is <Dir>/mirrors/<project>.git. It returns "" for an invalid
// project id or workspace, which every function of this package refuses.
func (w Workspace) MirrorDir(project string) string {
	if w.validate() != nil || ValidateProjectID(project) != nil {
		return ""
	}
	return filepath.Join(w.Dir, "mirrors", project+".git")
}

// ExportDir is <Dir>/exports/<project>/<version>. It returns "" for an
// invalid project id, version id or workspace.
func (w Workspace) ExportDir(project, version string) string {
	if w.validate() != nil || ValidateProjectID(project) != nil || ValidateVersion(version) != nil {
		return ""
	}
	return filepath.Join(w.Dir, "exports", project, version)
}

// removeTree removes dir and everything in it, making directories writable
// first where a plain removal is refused. Symlinks are removed, never
// followed.
func removeTree(dir string) error {
	if dir == "" {
		return errors.New("remove: empty path")
	}
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	// Some directory is not writable: open them all up, then retry.
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o755)
		}
		return nil
	})
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	return nil
}

// treeStamp is a digest of what lstat says of every entry under dir: path,
// type and mode, size, modification time and inode. Writing, replacing,
// adding or removing anything changes it; reading does not. It tells that
// a kept export is still the tree its manifest lists, for the cost of a
// walk, not of hashing every file.
func treeStamp(dir string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%q %o %d %d %d\n", p, fi.Mode(), fi.Size(), fi.ModTime().UnixNano(), inode(fi))
		return nil
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
