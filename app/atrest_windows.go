package app

import (
	"io/fs"
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// openToOthers reads path's owner and access list; a path not made yet,
// or one whose list cannot be read, is not reported.
func openToOthers(path string, _ fs.FileMode) (OpenFile, bool) {
	if _, err := os.Stat(path); err != nil {
		return OpenFile{}, false
	}
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return OpenFile{}, false
	}
	owner, _, err := sd.Owner()
	if err != nil {
		return OpenFile{}, false
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return OpenFile{}, false
	}
	if dacl == nil { // no list at all: everyone may do anything
		return OpenFile{Path: path, Readers: []string{"Everyone"}}, true
	}
	var entries []aclEntry
	for i := range uint32(dacl.AceCount) {
		var ace *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &ace); err != nil {
			return OpenFile{}, false
		}
		e := aclEntry{
			Allow:       ace.Header.AceType == windows.ACCESS_ALLOWED_ACE_TYPE,
			InheritOnly: ace.Header.AceFlags&windows.INHERIT_ONLY_ACE != 0,
			Mask:        uint32(ace.Mask),
		}
		if e.Allow {
			sid := (*windows.SID)(unsafe.Pointer(&ace.SidStart))
			e.SID = sid.String()
			if account, domain, _, err := sid.LookupAccount(""); err == nil {
				e.Account = domain + `\` + account
			}
		}
		entries = append(entries, e)
	}
	readers := aclReaders(owner.String(), entries)
	return OpenFile{Path: path, Readers: readers}, len(readers) > 0
}
