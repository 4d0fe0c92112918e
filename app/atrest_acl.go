package app

// Windows keeps who may read a file in its access list (DACL), not in
// mode bits. The decision on an access list is here, shared and tested on
// every system; atrest_windows.go only reads the list.

// aclEntry is one entry of a file's access list, as read from Windows.
type aclEntry struct {
	SID         string // "S-1-5-32-545"
	Account     string // "BUILTIN\Users", or "" when unknown
	Allow       bool   // an access-allowed entry (others deny, or audit)
	InheritOnly bool   // applies to the children only, not to the file itself
	Mask        uint32 // the access it grants
}

// Access bits that let an account read a file's data.
const (
	aclFileReadData = 0x00000001 // FILE_READ_DATA (FILE_LIST_DIRECTORY on a directory)
	aclGenericAll   = 0x10000000 // GENERIC_ALL
	aclGenericRead  = 0x80000000 // GENERIC_READ
	aclReadAny      = aclFileReadData | aclGenericAll | aclGenericRead
)

// aclTrusted are the accounts that may read a user's files on every
// Windows machine: LocalSystem, the Administrators group and OWNER RIGHTS.
// (The default access list of %LocalAppData% holds these and the owner.)
var aclTrusted = map[string]bool{"S-1-5-18": true, "S-1-5-32-544": true, "S-1-3-4": true}

// aclReaders lists, by account name (the SID where there is none), whom
// the entries let read the file beyond its owner and the trusted accounts,
// each once, in the list's order. A deny entry is not set against an
// allowing one: a list that denies what it allows is reported, which errs
// on the side of saying too much.
func aclReaders(owner string, entries []aclEntry) []string {
	var out []string
	seen := map[string]bool{}
	for _, e := range entries {
		if !e.Allow || e.InheritOnly || e.Mask&aclReadAny == 0 || e.SID == owner || aclTrusted[e.SID] || seen[e.SID] {
			continue
		}
		seen[e.SID] = true
		name := e.Account
		if name == "" {
			name = e.SID
		}
		out = append(out, name)
	}
	return out
}
