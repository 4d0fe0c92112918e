package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync"
)

// ErrManifestMismatch is wrapped by every error of Manifest.Verify.
var ErrManifestMismatch = errors.New("release differs from its manifest")

// ManifestEntry is one file, directory or symlink of a tree. Path is
// slash-separated and relative to the tree's root.
//
// Mode is normalized: 0644 or 0755 for a regular file (only the executable
// bit counts), fs.ModeDir|0755 for a directory, fs.ModeSymlink|0777 for a
// symlink. Write bits and the umask do not count: a release is made
// read-only after staging by design.
type ManifestEntry struct {
	Path   string      `json:"path"`
	Size   int64       `json:"size"`             // regular files; 0 otherwise
	Mode   fs.FileMode `json:"mode"`             // normalized, see above
	SHA256 string      `json:"sha256,omitempty"` // regular files
	Link   string      `json:"link,omitempty"`   // symlink target
}

// Manifest lists a tree: what was published, to check what a host holds.
type Manifest struct {
	Entries []ManifestEntry `json:"entries"` // sorted by Path
	Files   int             `json:"files"`   // regular files
	Bytes   int64           `json:"bytes"`   // their total size
	Hash    string          `json:"hash"`    // sha256 over the canonical listing, hex
}

// manifestVersion starts the canonical listing: change it if the listing
// ever changes, so old and new hashes never compare equal by accident.
const manifestVersion = "releasedesk-manifest-1\n"

// buildManifest lists dir: every file, directory and symlink under it
// (symlinks are not followed), files hashed in parallel (at most
// GOMAXPROCS at once). Other file types (sockets, devices, fifos) are
// refused. ignore (may be nil) is given slash-separated paths relative to
// dir; what it returns true for is left out (a directory whole).
func buildManifest(dir string, ignore func(string) bool) (Manifest, error) {
	return buildManifestReusing(dir, ignore, nil)
}

// buildManifestReusing is buildManifest taking a regular file's SHA256 from
// known (by path) instead of reading the file, when known has it with the
// same size and mode: for a tree updated in place (Mirror.Update), whose
// untouched files are known unchanged since known was listed.
func buildManifestReusing(dir string, ignore func(string) bool, known map[string]ManifestEntry) (Manifest, error) {
	fi, err := os.Lstat(dir)
	if err != nil {
		return Manifest{}, fmt.Errorf("manifest: %w", err)
	}
	if !fi.IsDir() {
		return Manifest{}, fmt.Errorf("manifest: %s is not a directory", dir)
	}
	var entries []ManifestEntry
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if ignore != nil && ignore(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		e := ManifestEntry{Path: rel}
		switch t := d.Type(); {
		case t.IsDir():
			e.Mode = fs.ModeDir | 0o755
		case t&fs.ModeSymlink != 0:
			e.Mode = fs.ModeSymlink | 0o777
			if e.Link, err = os.Readlink(p); err != nil {
				return err
			}
		case t.IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			e.Size, e.Mode = info.Size(), 0o644
			if info.Mode()&0o111 != 0 {
				e.Mode = 0o755
			}
			if k, ok := known[rel]; ok && k.Size == e.Size && k.Mode == e.Mode && k.SHA256 != "" {
				e.SHA256 = k.SHA256
			}
		default:
			return fmt.Errorf("%s: unsupported file type %s", rel, t)
		}
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		return Manifest{}, fmt.Errorf("manifest of %s: %w", dir, err)
	}
	if err := hashFiles(dir, entries); err != nil {
		return Manifest{}, fmt.Errorf("manifest of %s: %w", dir, err)
	}
	// WalkDir sorts by name within each directory, which is not the order
	// of whole paths ("a-b" < "a/b" as names, not as paths).
	sort.Slice(entries, func(i, j int) bool { return entries[i].Path < entries[j].Path })
	m := Manifest{Entries: entries}
	for _, e := range entries {
		if e.Mode.IsRegular() {
			m.Files++
			m.Bytes += e.Size
		}
	}
	m.Hash = m.computeHash()
	return m, nil
}

// hashFiles fills SHA256 of the regular files, GOMAXPROCS at a time.
func hashFiles(dir string, entries []ManifestEntry) error {
	work := make(chan int)
	workers := runtime.GOMAXPROCS(0)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for range workers {
		wg.Go(func() {
			h := sha256.New()
			buf := make([]byte, 128<<10)
			for i := range work {
				e := &entries[i]
				sum, size, err := hashFile(filepath.Join(dir, filepath.FromSlash(e.Path)), h, buf)
				if err == nil && size != e.Size {
					err = fmt.Errorf("changed while hashed (%d bytes, then %d)", e.Size, size)
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("%s: %w", e.Path, err)
					}
					mu.Unlock()
					continue
				}
				e.SHA256 = sum
			}
		})
	}
	for i := range entries {
		if entries[i].Mode.IsRegular() && entries[i].SHA256 == "" {
			work <- i
		}
	}
	close(work)
	wg.Wait()
	return firstErr
}

func hashFile(p string, h interface {
	io.Writer
	Sum([]byte) []byte
	Reset()
}, buf []byte) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return "", 0, fmt.Errorf("not a regular file any more (%v)", err)
	}
	h.Reset()
	n, err := io.CopyBuffer(h, onlyReader{f}, buf)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// onlyReader hides *os.File's WriteTo so io.CopyBuffer uses our buffer.
type onlyReader struct{ io.Reader }

// computeHash hashes the canonical listing: the version line, then per
// entry (sorted by path) path, mode, size, sha256 and link target, each
// ended by a NUL (no path or target holds one), and a newline per entry.
func (m Manifest) computeHash() string {
	h := sha256.New()
	io.WriteString(h, manifestVersion)
	var b []byte
	for _, e := range m.Entries {
		b = b[:0]
		b = append(b, e.Path...)
		b = append(b, 0)
		b = strconv.AppendUint(b, uint64(e.Mode), 8)
		b = append(b, 0)
		b = strconv.AppendInt(b, e.Size, 10)
		b = append(b, 0)
		b = append(b, e.SHA256...)
		b = append(b, 0)
		b = append(b, e.Link...)
		b = append(b, 0, '\n')
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ManifestError names the first path where a tree differs from its
// manifest (in path order), and how many differ in all.
type ManifestError struct {
	Path    string
	Problem string // missing, unexpected, differs: ...
	Count   int    // paths that differ, this one included
}

func (e *ManifestError) Error() string {
	s := fmt.Sprintf("%s: %q: %s", ErrManifestMismatch, e.Path, e.Problem)
	if e.Count > 1 {
		s += fmt.Sprintf(" (and %d more)", e.Count-1)
	}
	return s
}

func (e *ManifestError) Unwrap() error { return ErrManifestMismatch }

// Verify checks a tree on this machine (a deployed release) against the
// manifest: every entry present with the same kind, executable bit, size,
// content and link target, and nothing else. ignore (may be nil) is given
// slash-separated paths relative to dir and lets callers skip what is
// written at deploy time (REVISION, version files, shared links); an
// ignored directory is skipped whole, on both sides. The error is a
// *ManifestError naming the first differing path.
func (m Manifest) Verify(dir string, ignore func(path string) bool) error {
	have, err := buildManifest(dir, ignore)
	if err != nil {
		return err
	}
	want := m.Entries
	if ignore != nil {
		want = make([]ManifestEntry, 0, len(m.Entries))
		var skipped []string // ignored directories
		for _, e := range m.Entries {
			if ignore(e.Path) || underAny(e.Path, skipped) {
				if e.Mode.IsDir() {
					skipped = append(skipped, e.Path+"/")
				}
				continue
			}
			want = append(want, e)
		}
	}
	var first *ManifestError
	report := func(p, problem string) {
		if first == nil {
			first = &ManifestError{Path: p, Problem: problem}
		}
		first.Count++
	}
	i, j := 0, 0
	for i < len(want) || j < len(have.Entries) {
		switch {
		case j == len(have.Entries) || (i < len(want) && want[i].Path < have.Entries[j].Path):
			report(want[i].Path, "missing")
			i++
		case i == len(want) || have.Entries[j].Path < want[i].Path:
			report(have.Entries[j].Path, "unexpected "+kindOf(have.Entries[j].Mode))
			j++
		default:
			if p := compareEntry(want[i], have.Entries[j]); p != "" {
				report(want[i].Path, p)
			}
			i++
			j++
		}
	}
	if first != nil {
		return first
	}
	return nil
}

func underAny(p string, dirs []string) bool {
	for _, d := range dirs {
		if len(p) > len(d) && p[:len(d)] == d {
			return true
		}
	}
	return false
}

func compareEntry(want, have ManifestEntry) string {
	switch {
	case want.Mode.Type() != have.Mode.Type():
		return fmt.Sprintf("is a %s, want a %s", kindOf(have.Mode), kindOf(want.Mode))
	case want.Mode != have.Mode:
		return fmt.Sprintf("mode %v, want %v", have.Mode, want.Mode)
	case want.Link != have.Link:
		return fmt.Sprintf("links to %q, want %q", have.Link, want.Link)
	case want.Size != have.Size:
		return fmt.Sprintf("size %d, want %d", have.Size, want.Size)
	case want.SHA256 != have.SHA256:
		return fmt.Sprintf("content differs (sha256 %.12s, want %.12s)", have.SHA256, want.SHA256)
	}
	return ""
}

func kindOf(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	}
	return "file"
}
