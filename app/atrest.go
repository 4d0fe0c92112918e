package app

import (
	"fmt"
	"io/fs"
	"os"
	"releasedesk/events/text"
	"runtime"
)

// OpenToOthers lists what of the data directory other accounts of this
// machine could read: the directory itself (the event log holds every
// command and its output) and the secrets in it (the publishing key, the
// credentials, the checkpoint with its copy of the read models). Each line
// says how to close it. The desk does not narrow the modes itself: a
// directory shared on purpose (a backup group) is the operator's call, so
// it is reported, at start and in health, not changed behind their back.
// Windows keeps access in ACLs, not mode bits: nothing is reported there.
func (d DataDir) OpenToOthers() []OpenFile {
	if runtime.GOOS == "windows" {
		return nil
	}
	var out []OpenFile
	check := func(path string, what text.Text, want fs.FileMode) {
		fi, err := os.Stat(path)
		if err != nil {
			return // not made yet
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			out = append(out, OpenFile{What: what, Path: path, Mode: perm, Want: want})
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
	Mode fs.FileMode // what it is
	Want fs.FileMode // what it should be
}

// String is the log's line: with the path, and the command that fixes it.
func (f OpenFile) String() string {
	return fmt.Sprintf("%s %s is open to other accounts (mode %04o): chmod %04o %s", f.What, f.Path, f.Mode, f.Want, f.Path)
}

// Brief says the same without the path, for health, which anyone who
// reaches the desk may read.
func (f OpenFile) Brief() string { return f.BriefText().String() }

// BriefText is Brief as a text, for health to write in its reader's
// language.
func (f OpenFile) BriefText() text.Text {
	return text.New("%s is open to other accounts of its machine (mode %04o, want %04o); the server's log names it",
		f.What, f.Mode, f.Want)
}
