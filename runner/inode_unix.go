//go:build unix

package runner

import (
	"io/fs"
	"syscall"
)

// inode is fi's inode number: a file replaced by another of the same size
// and time still differs in it.
func inode(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino) // uint64 on Linux and macOS, narrower elsewhere
	}
	return 0
}
