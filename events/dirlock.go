package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Owning the data directory: one process at a time (the LOCK file), only a
// directory that is a store or empty (the FORMAT marker), and a clear word
// when it cannot be written.
const (
	lockFileName   = "LOCK"
	formatFileName = "FORMAT"
	formatMarker   = "releasedesk-events 1\n"
	badgerDirName  = "db"
)

// LockedError says which process holds a data directory.
type LockedError struct {
	PID     int       // 0 when the holder could not be told (a read-only reader)
	Command string    // the holder's command line
	Since   time.Time // when it took the directory
	Dir     string
}

func (e *LockedError) Error() string {
	if e.PID == 0 {
		return fmt.Sprintf("events: data directory %s is in use by another process", e.Dir)
	}
	return fmt.Sprintf("events: data directory %s is in use by pid %d (%s) since %s",
		e.Dir, e.PID, e.Command, e.Since.Format(time.RFC3339))
}

func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// errLockHeld is lockFile's word for "another open file holds the lock".
var errLockHeld = errors.New("events: lock held by another open file")

// lockHolder is what the LOCK file says about its holder.
type lockHolder struct {
	PID     int       `json:"pid"`
	Command string    `json:"command"`
	Since   time.Time `json:"since"`
}

// dirLock is a lock on dir/LOCK (lockFile: flock on Unix, LockFileEx on
// Windows), held until release. It belongs to the open file, so a second
// Open in the same process is refused like another process would be, and
// the system drops the lock if the process dies.
type dirLock struct {
	f        *os.File
	readOnly bool
}

// lockDir takes the directory: exclusively to write, shared to read only (so
// readers exclude a writer but not each other). A read-only directory
// without a LOCK file cannot have a writer, so it is read without a lock.
func lockDir(dir string, readOnly bool) (*dirLock, error) {
	path := filepath.Join(dir, lockFileName)
	flags := os.O_RDWR | os.O_CREATE
	if readOnly {
		flags = os.O_RDONLY
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if readOnly && err != nil {
		return &dirLock{readOnly: true}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("events: open lock file in %s: %w", dir, err)
	}
	if err := lockFile(f, readOnly); err != nil {
		f.Close()
		if errors.Is(err, errLockHeld) {
			return nil, lockedBy(dir, path)
		}
		return nil, fmt.Errorf("events: lock data directory %s: %w", dir, err)
	}
	l := &dirLock{f: f, readOnly: readOnly}
	if readOnly {
		return l, nil
	}
	cmd := strings.Join(os.Args, " ")
	if exe, err := os.Executable(); err == nil && len(os.Args) > 0 {
		cmd = strings.Join(append([]string{filepath.Base(exe)}, os.Args[1:]...), " ")
	}
	holder, _ := json.Marshal(lockHolder{PID: os.Getpid(), Command: cmd, Since: time.Now().UTC().Truncate(time.Second)})
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt(append(holder, '\n'), 0)
	}
	if err != nil {
		l.release()
		return nil, fmt.Errorf("events: write lock file in %s: %w", dir, err)
	}
	return l, nil
}

// lockedBy reads who holds the lock. The holder writes its line right after
// taking the lock, so an empty file is retried briefly before giving up.
func lockedBy(dir, path string) error {
	le := &LockedError{Dir: dir}
	for try := 0; try < 20; try++ {
		b, err := os.ReadFile(path)
		var h lockHolder
		if err == nil && json.Unmarshal(b, &h) == nil && h.PID > 0 {
			le.PID, le.Command, le.Since = h.PID, h.Command, h.Since
			return le
		}
		time.Sleep(5 * time.Millisecond)
	}
	return le
}

// release drops the lock. The holder line is cleared first so that it never
// names a process that no longer holds the directory.
func (l *dirLock) release() error {
	if l == nil || l.f == nil {
		return nil
	}
	if !l.readOnly {
		_ = l.f.Truncate(0)
	}
	_ = unlockFile(l.f)
	err := l.f.Close() // closing the last descriptor releases the lock anyway
	l.f = nil
	return err
}

// dirState is what Open found in the data directory before touching it.
type dirState int

const (
	dirNew   dirState = iota // missing or empty: initialise it
	dirStore                 // holds a store of ours
)

// StoreExists reports whether dir already holds an event store, so that
// commands that only read can refuse a wrong directory instead of creating
// an empty store in it. It writes nothing.
func StoreExists(dir string) bool {
	state, err := inspectDir(dir)
	return err == nil && state == dirStore
}

// inspectDir decides whether dir is a store, is new, or must be refused. It
// writes nothing.
func inspectDir(dir string) (dirState, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return dirNew, nil
	}
	if err != nil {
		return 0, fmt.Errorf("events: read data directory %s: %w", dir, err)
	}
	marker, err := os.ReadFile(filepath.Join(dir, formatFileName))
	switch {
	case err == nil && string(marker) == formatMarker:
		return dirStore, nil
	case err == nil:
		return 0, fmt.Errorf("events: %s has a %s file that does not say %q: %w",
			dir, formatFileName, strings.TrimSpace(formatMarker), ErrNotStore)
	case !errors.Is(err, fs.ErrNotExist):
		return 0, fmt.Errorf("events: read %s in %s: %w", formatFileName, dir, err)
	}
	var foreign []string
	for _, e := range entries {
		// A LOCK alone is a store whose first Open stopped before the marker.
		if e.Name() != lockFileName {
			foreign = append(foreign, e.Name())
		}
	}
	if len(foreign) == 0 {
		return dirNew, nil
	}
	if len(foreign) > 3 {
		foreign = append(foreign[:3], "...")
	}
	return 0, fmt.Errorf("events: %s holds other files (%s) and no %s marker, refusing to use it: %w",
		dir, strings.Join(foreign, ", "), formatFileName, ErrNotStore)
}

// checkWritable fails, before anything is written, if the directory or the
// store's files cannot be written by this process. It names the first
// culprit; the error matches fs.ErrPermission.
func checkWritable(dir string) error {
	paths := []string{dir, filepath.Join(dir, lockFileName), filepath.Join(dir, headFileName), filepath.Join(dir, badgerDirName)}
	if entries, err := os.ReadDir(filepath.Join(dir, badgerDirName)); err == nil {
		for _, e := range entries {
			// Badger rewrites its manifest, logs and memtables; tables are
			// only read and replaced, which needs the directory alone.
			if !strings.HasSuffix(e.Name(), ".sst") {
				paths = append(paths, filepath.Join(dir, badgerDirName, e.Name()))
			}
		}
	}
	for _, p := range paths {
		err := writeAccess(p)
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			continue
		}
		return &notWritableError{dir: dir, path: p, cause: err}
	}
	return nil
}

// notWritableError says the data directory cannot be written and how to
// read it anyway. It matches fs.ErrPermission, whatever the cause (EACCES,
// EROFS), so callers test one thing.
type notWritableError struct {
	dir, path string
	cause     error
}

func (e *notWritableError) Error() string {
	return fmt.Sprintf("events: data directory %s is not writable (%s: %v); open it read-only to review it", e.dir, e.path, e.cause)
}

func (e *notWritableError) Unwrap() error   { return e.cause }
func (e *notWritableError) Is(t error) bool { return t == fs.ErrPermission }

// initDir makes dir a store: creates it and writes the marker, synced, so a
// later Open recognises it.
func initDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("events: create data directory %s: %w", dir, err)
	}
	tmp := filepath.Join(dir, formatFileName+".tmp")
	if err := writeSynced(tmp, []byte(formatMarker)); err != nil {
		return fmt.Errorf("events: write %s in %s: %w", formatFileName, dir, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, formatFileName)); err != nil {
		return fmt.Errorf("events: write %s in %s: %w", formatFileName, dir, err)
	}
	return syncDir(dir)
}

func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
