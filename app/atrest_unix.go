//go:build !windows

package app

import (
	"io/fs"
	"os"
)

// openToOthers reads path's mode bits; a path not made yet is not open.
func openToOthers(path string, want fs.FileMode) (OpenFile, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return OpenFile{}, false
	}
	return openByMode(path, fi.Mode().Perm(), want)
}
