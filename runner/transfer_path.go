package runner

import (
	"fmt"
	"os/exec"
)

// How a release's files reach a host. A change from a release whose
// manifest is kept goes as a delta: the changed paths as a tar stream over
// the host's open SSH session into the host's tar (transferTar). Else,
// where this machine has rsync, rsync sends the export with --link-dest
// to the previous release, so unchanged files become hard links there; a
// host with no release yet gets the whole export as a tar stream, which
// is faster there. Where this machine has no rsync (a Windows desk), or
// when asked, every release goes as a tar stream. The host ends with the
// same tree either way, as its manifest shows. Hosts are Linux servers
// with tar.

// Transfer is Config.Transfer.
type Transfer string

const (
	TransferAuto  Transfer = ""      // rsync when this machine has it, else the tar stream
	TransferRsync Transfer = "rsync" // rsync, failing where it is missing
	TransferTar   Transfer = "tar"   // the Go-native tar stream, rsync or not
)

// ParseTransfer reads a transfer's name ("auto", "rsync", "tar").
func ParseTransfer(s string) (Transfer, error) {
	switch s {
	case "", "auto":
		return TransferAuto, nil
	case "rsync":
		return TransferRsync, nil
	case "tar":
		return TransferTar, nil
	}
	return "", fmt.Errorf("transfer %q: is none of auto, rsync, tar", s)
}

// tarReason says why this runner sends tar streams where rsync would run,
// or "" when it uses rsync.
func tarReason(t Transfer, lookPath func(string) (string, error)) string {
	switch t {
	case TransferTar:
		return "asked for (transfer: tar)"
	case TransferRsync:
		return ""
	}
	if _, err := lookPath("rsync"); err != nil {
		return "no rsync on this machine"
	}
	return ""
}

// defaultLookPath is exec.LookPath; tests give tarReason their own.
var defaultLookPath = exec.LookPath
