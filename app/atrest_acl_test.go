package app

import (
	"slices"
	"strings"
	"testing"
)

// TestACLReaders: the Windows decision on an access list, run everywhere:
// who besides the owner, SYSTEM and Administrators may read the file.
func TestACLReaders(t *testing.T) {
	const owner = "S-1-5-21-1-2-3-1001"
	mine := aclEntry{SID: owner, Account: `DESK\li`, Allow: true, Mask: 0x1f01ff}
	system := aclEntry{SID: "S-1-5-18", Account: `NT AUTHORITY\SYSTEM`, Allow: true, Mask: 0x1f01ff}
	admins := aclEntry{SID: "S-1-5-32-544", Account: `BUILTIN\Administrators`, Allow: true, Mask: 0x1f01ff}
	users := aclEntry{SID: "S-1-5-32-545", Account: `BUILTIN\Users`, Allow: true, Mask: 0x1200a9} // read and execute
	for _, c := range []struct {
		name    string
		entries []aclEntry
		want    []string
	}{
		{"%LocalAppData%'s default list", []aclEntry{mine, system, admins}, nil},
		{"shared with Users", []aclEntry{mine, system, admins, users}, []string{`BUILTIN\Users`}},
		{"Everyone by GENERIC_READ, no name known", []aclEntry{mine, {SID: "S-1-1-0", Allow: true, Mask: aclGenericRead}}, []string{"S-1-1-0"}},
		{"another user with GENERIC_ALL", []aclEntry{{SID: "S-1-5-21-1-2-3-1002", Account: `DESK\wang`, Allow: true, Mask: aclGenericAll}}, []string{`DESK\wang`}},
		{"write only is not reading", []aclEntry{mine, {SID: "S-1-5-32-545", Allow: true, Mask: 0x2 | 0x4}}, nil},
		{"a deny entry grants nothing", []aclEntry{mine, {SID: "S-1-5-32-545", Allow: false, Mask: 0x1f01ff}}, nil},
		{"inherit-only applies to children", []aclEntry{mine, {SID: "S-1-3-0", Allow: true, InheritOnly: true, Mask: aclGenericAll}}, nil},
		{"one account named once", []aclEntry{users, users}, []string{`BUILTIN\Users`}},
	} {
		if got := aclReaders(owner, c.entries); !slices.Equal(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// TestOpenFileLinesOnWindows: a report from an access list says who may
// read and the icacls commands that close it, each name quoted.
func TestOpenFileLinesOnWindows(t *testing.T) {
	f := OpenFile{Path: `C:\Release Desk`, Readers: []string{`BUILTIN\Users`, "S-1-1-0"}}
	line := f.String()
	for _, want := range []string{`readable by BUILTIN\Users, S-1-1-0`, `icacls "C:\\Release Desk" /inheritance:d`,
		`icacls "C:\\Release Desk" /remove:g "BUILTIN\\Users"`, `/remove:g "S-1-1-0"`} {
		if !strings.Contains(line, want) {
			t.Errorf("the log's line lacks %q: %s", want, line)
		}
	}
	if brief := f.Brief(); strings.Contains(brief, "Release Desk") || !strings.Contains(brief, `BUILTIN\Users`) || strings.Contains(brief, "mode") {
		t.Errorf("health's line: %s", brief)
	}
}
