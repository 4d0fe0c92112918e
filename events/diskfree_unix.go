//go:build unix

package events

import "golang.org/x/sys/unix"

// freeBytes is the space on dir's file system that this process may still
// use (the root reserve not counted).
func freeBytes(dir string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	// Both fields differ in type between systems (Bsize is int64 on Linux,
	// uint32 on macOS; Bavail is signed on the BSDs).
	return uint64(st.Bavail) * uint64(st.Bsize), nil
}
