package events

import (
	"errors"

	"golang.org/x/sys/windows"
)

// writeAccess asks Windows whether this process may write path, without
// writing. Windows has no access(2), and the read-only attribute alone
// says nothing about ACLs (and is ignored on directories), so path is
// opened asking for FILE_WRITE_DATA, which is also FILE_ADD_FILE on a
// directory: Windows then runs its own access check (ACLs, the read-only
// attribute of a file, a write-protected volume) and nothing is created,
// truncated or changed. Creating and removing a probe file would also
// work, but would write into a directory that may turn out not to be ours.
func writeAccess(path string) error {
	name, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return err
	}
	h, err := windows.CreateFile(name, windows.FILE_WRITE_DATA,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE,
		nil, windows.OPEN_EXISTING, windows.FILE_FLAG_BACKUP_SEMANTICS, 0)
	if errors.Is(err, windows.ERROR_SHARING_VIOLATION) {
		// Another process has it open without sharing: it is in use, not
		// forbidden; the directory lock that follows says by whom.
		return nil
	}
	if err != nil {
		return err
	}
	return windows.CloseHandle(h)
}
