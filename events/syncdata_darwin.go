package events

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncData makes a file's written bytes durable. On macOS fsync only hands
// them to the drive, whose cache may still lose them on power loss;
// F_FULLFSYNC asks the drive to flush that cache too.
func syncData(f *os.File) error {
	_, err := unix.FcntlInt(f.Fd(), unix.F_FULLFSYNC, 0)
	return err
}
