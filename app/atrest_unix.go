//go:build !windows

package app

import (
	"io/fs"
	"os"
)

// openToOthers reads path's mode bits: any group or other bit is open. A
// path not made yet is not open.
func openToOthers(path string, want fs.FileMode) (OpenFile, bool) {
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm()&0o077 == 0 {
		return OpenFile{}, false
	}
	return OpenFile{Path: path, Mode: fi.Mode().Perm(), Want: want}, true
}
