//go:build unix

package events

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// lockFile takes an flock on f without waiting: shared for readers,
// exclusive for the writer. flock belongs to the open file, so a second
// open in the same process is refused like another process would be, and
// the kernel drops the lock when the process dies. errLockHeld means
// another open file holds it.
func lockFile(f *os.File, shared bool) error {
	how := unix.LOCK_EX
	if shared {
		how = unix.LOCK_SH
	}
	err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return errLockHeld
	}
	return err
}

// unlockFile has nothing to do: closing the descriptor drops the flock.
func unlockFile(*os.File) error { return nil }
