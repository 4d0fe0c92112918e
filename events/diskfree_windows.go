package events

import "golang.org/x/sys/windows"

// freeBytes is the space on dir's volume that this process may still use
// (GetDiskFreeSpaceEx's first figure counts the user's disk quota).
func freeBytes(dir string) (uint64, error) {
	path, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return 0, err
	}
	var free uint64
	if err := windows.GetDiskFreeSpaceEx(path, &free, nil, nil); err != nil {
		return 0, err
	}
	return free, nil
}
