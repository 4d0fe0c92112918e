package app

import (
	"fmt"
	"io/fs"
	"strings"

	"releasedesk/events/text"
)

// OpenToOthers lists what of the data directory other accounts of this
// machine could read: the directory itself (the event log holds every
// command and its output) and the secrets in it (the publishing key, the
// credentials, the checkpoint with its copy of the read models). Each line
// says how to close it. The desk does not narrow the access itself: a
// directory shared on purpose (a backup group) is the operator's call, so
// it is reported, at start and in health, not changed behind their back.
// On Unix the mode bits decide (atrest_unix.go); on Windows the access
// list (atrest_windows.go, aclReaders: an entry letting an account other
// than the owner, SYSTEM or Administrators read).
func (d DataDir) OpenToOthers() []OpenFile {
	var out []OpenFile
	check := func(path string, what text.Text, want fs.FileMode) {
		if f, open := openToOthers(path, want); open {
			f.What = what
			out = append(out, f)
		}
	}
	check(d.Path, text.New("the data directory"), 0o700)
	check(d.SSHKeyPath(), text.New("the publishing key"), 0o600)
	check(d.CredentialsPath(), text.New("the credentials"), 0o600)
	check(d.CheckpointPath(), text.New("the checkpoint"), 0o600)
	return out
}

// OpenFile is a part of the data directory open to other accounts.
type OpenFile struct {
	What text.Text // "the data directory", "the publishing key", ...
	Path string
	Mode fs.FileMode // what it is (Unix)
	Want fs.FileMode // what it should be (Unix)
	// Readers are the accounts its access list lets read beyond the owner
	// (Windows), by name where the machine knows it.
	Readers []string
}

// String is the log's line: with the path, and the command that fixes it.
func (f OpenFile) String() string {
	if len(f.Readers) > 0 {
		fix := fmt.Sprintf("icacls %q /inheritance:d", f.Path)
		for _, r := range f.Readers {
			fix += fmt.Sprintf(" && icacls %q /remove:g %q", f.Path, r)
		}
		return fmt.Sprintf("%s %s is open to other accounts (readable by %s): %s", f.What, f.Path, strings.Join(f.Readers, ", "), fix)
	}
	return fmt.Sprintf("%s %s is open to other accounts (mode %04o): chmod %04o %s", f.What, f.Path, f.Mode, f.Want, f.Path)
}

// Brief says the same without the path, for health, which anyone who
// reaches the desk may read.
func (f OpenFile) Brief() string { return f.BriefText().String() }

// BriefText is Brief as a text, for health to write in its reader's
// language.
func (f OpenFile) BriefText() text.Text {
	if len(f.Readers) > 0 {
		return text.New("%s is open to other accounts of its machine (readable by %s); the server's log names it",
			f.What, strings.Join(f.Readers, ", "))
	}
	return text.New("%s is open to other accounts of its machine (mode %04o, want %04o); the server's log names it",
		f.What, f.Mode, f.Want)
}
