package runner

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The runner suite runs twice in `make test`: as a Linux desk with rsync
// and git runs it, and with RELEASEDESK_TRANSFER=tar as a Windows desk
// would, with neither on the PATH of this process. Then every deployment
// sends its files as tar streams and fetches local repositories through
// go-git's in-process server, against the same sshd hosts (their sessions
// get sshd's PATH, with rsync and git, as real servers have).

// envTransfer names the transfer the suite runs with ("" or "tar"); the
// same variable the app reads (app.EnvTransfer).
const envTransfer = "RELEASEDESK_TRANSFER"

// gitBinary is the git the tests themselves run to make repositories,
// found before hideLocalTools takes git off the PATH.
var gitBinary = "git"

// suiteTransfer is the Transfer every harness runner gets.
var suiteTransfer Transfer

// fullPath is PATH as the suite started, before hideLocalTools.
var fullPath = os.Getenv("PATH")

// sentFiles is the number of regular files whose data a transfer step
// sent, from its output: the tar stream's line, or rsync's --stats.
func sentFiles(out string) (int64, error) {
	if st, err := ParseTarStats(out); err == nil {
		return st.Files, nil
	}
	st, err := ParseRsyncStats(out)
	return st.FilesTransferred, err
}

// withLocalTools gives back the hidden tools, for the rest of the test, to
// a test of the rsync command itself or of what a host runs (not of a
// desk's deployment), so it runs in both passes.
func withLocalTools(t *testing.T) {
	t.Setenv("PATH", fullPath)
}

// hideLocalTools reads RELEASEDESK_TRANSFER and, for "tar", puts on PATH
// a directory holding links to every program of the PATH but rsync, git
// and git-*, so nothing the runner starts can find them. It returns the
// directory to remove at the end ("" when nothing was hidden).
func hideLocalTools() (string, error) {
	t, err := ParseTransfer(os.Getenv(envTransfer))
	if err != nil {
		return "", fmt.Errorf("%s: %w", envTransfer, err)
	}
	suiteTransfer = t
	if git, err := exec.LookPath("git"); err == nil {
		gitBinary = git
	}
	if t != TransferTar {
		return "", nil
	}
	dir, err := os.MkdirTemp("", "rd-path-")
	if err != nil {
		return "", err
	}
	for _, from := range filepath.SplitList(os.Getenv("PATH")) {
		entries, err := os.ReadDir(from)
		if err != nil {
			continue
		}
		for _, e := range entries {
			name := e.Name()
			if name == "rsync" || name == "git" || strings.HasPrefix(name, "git-") || e.IsDir() {
				continue
			}
			// The first directory of PATH wins, as in a lookup; a name
			// seen before is left as it is.
			_ = os.Symlink(filepath.Join(from, name), filepath.Join(dir, name))
		}
	}
	if err := os.Setenv("PATH", dir); err != nil {
		return "", err
	}
	for _, name := range []string{"rsync", "git", "git-upload-pack"} {
		if p, err := exec.LookPath(name); err == nil {
			return dir, fmt.Errorf("%s is still found at %s", name, p)
		}
	}
	// Decided once per process: now, while git is hidden, so a test that
	// gives the tools back for a while (withLocalTools) cannot decide it.
	useInProcessFileTransport()
	return dir, nil
}
