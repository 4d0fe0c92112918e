package events

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// lockRegion is the one byte that LockFileEx locks: at 4 GiB, far past
// the holder line. Windows locks are mandatory, so a locked range cannot
// be read by another process, and a contender must read the line to name
// the holder. Locking past the end of a file is allowed.
func lockRegion() *windows.Overlapped { return &windows.Overlapped{OffsetHigh: 1} }

// lockFile takes a LockFileEx lock on f without waiting: shared for
// readers, exclusive for the writer. Like flock it belongs to the handle,
// so a second open in the same process is refused too, and Windows drops
// it when the process dies. errLockHeld means another handle holds it.
func lockFile(f *os.File, shared bool) error {
	flags := uint32(windows.LOCKFILE_FAIL_IMMEDIATELY)
	if !shared {
		flags |= windows.LOCKFILE_EXCLUSIVE_LOCK
	}
	err := windows.LockFileEx(windows.Handle(f.Fd()), flags, 0, 1, 0, lockRegion())
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		return errLockHeld
	}
	return err
}

// unlockFile releases the lock before the handle is closed: Windows drops
// a closed handle's locks only "when resources allow", and the next Open
// must not find the directory still taken.
func unlockFile(f *os.File) error {
	return windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, lockRegion())
}
