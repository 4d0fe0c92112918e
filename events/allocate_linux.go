package events

import (
	"os"

	"golang.org/x/sys/unix"
)

// allocateFile gives a file real blocks for its whole length (fallocate
// mode 0 keeps the size and the data).
func allocateFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	return unix.Fallocate(int(f.Fd()), 0, 0, st.Size())
}
