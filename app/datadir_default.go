package app

import (
	"os"
	"path"
	"runtime"
	"strings"
)

// DefaultDataDir is where the data lives when --data is not given: the
// usual place for an application's own data on each system (dataDirFor).
func DefaultDataDir() string {
	home, _ := os.UserHomeDir()
	return dataDirFor(runtime.GOOS, os.Getenv, home)
}

// dataDirFor decides the default data directory for goos, from the
// environment (getenv) and the home directory (empty: unknown). It takes
// them as parameters so that every system's answer is tested anywhere.
//
//   - Linux and other Unix: $XDG_DATA_HOME/releasedesk, else
//     ~/.local/share/releasedesk (the XDG base directories);
//   - macOS: ~/Library/Application Support/Release Desk;
//   - Windows: %LocalAppData%\Release Desk (local, not roaming: the event
//     log is large and belongs to this machine).
//
// With neither the variable nor a home, a relative releasedesk-data.
func dataDirFor(goos string, getenv func(string) string, home string) string {
	switch goos {
	case "windows":
		if local := getenv("LocalAppData"); local != "" {
			return strings.TrimRight(local, `\/`) + `\Release Desk`
		}
		if home != "" {
			return strings.TrimRight(home, `\/`) + `\AppData\Local\Release Desk`
		}
	case "darwin", "ios":
		if home != "" {
			return path.Join(home, "Library", "Application Support", "Release Desk")
		}
	default:
		if x := getenv("XDG_DATA_HOME"); x != "" {
			return path.Join(x, "releasedesk")
		}
		if home != "" {
			return path.Join(home, ".local", "share", "releasedesk")
		}
	}
	return "releasedesk-data"
}
