package runner

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"releasedesk/events/catalog"
	"releasedesk/events/text"
)

// RsyncOptions describe one transfer of an exported tree to a host's
// staging dir.
type RsyncOptions struct {
	Source string // local directory; its content is sent (a trailing slash is added)
	Dest   string // directory on the host (absolute, ValidatePath)
	// Host: with Addr LocalHost, Dest is on this machine; any other host
	// gets rsync's remote half on its open connection (relayShell as -e,
	// see relayRsync), not over an ssh of rsync's own.
	Host     catalog.Host
	LinkDest string // absolute path on the host of the previous release, optional
	// FilesFrom (a local absolute path, optional) lists NUL-separated
	// paths relative to Source: only those are sent (a delta transfer
	// into a staging dir already filled from the previous release; see
	// Layout.BeginDeltaStaging), without --delete, --checksum or
	// --link-dest. It excludes LinkDest.
	FilesFrom string
	Exclude   []string
	// The user and host of the remote path come from Host.Addr.
}

// ErrBadRsync: an RsyncOptions field cannot be used safely.
var ErrBadRsync = text.Errorf("runner: bad rsync options")

// ValidateExclude accepts an rsync exclude pattern: not empty, no leading
// '-' or '+' (rsync filter-rule prefixes), no newline or control character.
func ValidateExclude(p string) error {
	if p == "" || strings.HasPrefix(p, "-") || strings.HasPrefix(p, "+") || hasControl(p) {
		return text.Errorf("%w: exclude pattern %q", ErrBadRsync, p)
	}
	return nil
}

// RsyncCommand builds the rsync argv that sends o.Source's content into
// o.Dest: archive mode, --delete, --stats (ParseRsyncStats), and the
// excludes, with these choices:
//   - --checksum --no-times: an export writes every file anew, so mtimes
//     say nothing; files are told apart by content. With the export's
//     mtimes kept, --link-dest would hard-link nothing (attributes differ)
//     and the quick check (size + mtime to the second) could take a
//     changed file of the same size for unchanged.
//   - --chmod=Fa-w: files arrive read-only, like the previous release, so
//     --link-dest hard-links every unchanged file (attributes match) and
//     only changed files travel.
//   - -s (--secluded-args, formerly --protect-args; rsync >= 3.0 on the
//     host): paths travel inside the rsync protocol, never through the
//     remote shell.
//   - for a remote host, relayShell as -e: the remote half runs on the
//     host's open connection (relayRsync), so the argv must run there.
func RsyncCommand(o RsyncOptions) ([]string, error) {
	if o.Source == "" || !filepath.IsAbs(o.Source) || hasControl(o.Source) {
		return nil, fmt.Errorf("%w: source %q: want an absolute local directory", ErrBadRsync, o.Source)
	}
	if err := ValidatePath(o.Dest); err != nil {
		return nil, fmt.Errorf("rsync dest: %w", err)
	}
	if o.LinkDest != "" {
		if err := ValidatePath(o.LinkDest); err != nil {
			return nil, fmt.Errorf("rsync link-dest: %w", err)
		}
	}
	argv := []string{"rsync", "-a", "--checksum", "--no-times", "--delete", "--stats", "--chmod=Fa-w"}
	if o.FilesFrom != "" {
		if o.LinkDest != "" {
			return nil, fmt.Errorf("%w: FilesFrom and LinkDest together", ErrBadRsync)
		}
		if !filepath.IsAbs(o.FilesFrom) || hasControl(o.FilesFrom) {
			return nil, fmt.Errorf("%w: files-from %q: want an absolute local file", ErrBadRsync, o.FilesFrom)
		}
		// Only the listed paths (-a does not imply -r with --files-from):
		// every one is new in the staging dir, so no --checksum; nothing
		// else may go, so no --delete.
		argv = []string{"rsync", "-a", "--no-times", "--stats", "--chmod=Fa-w", "--from0", "--files-from=" + o.FilesFrom}
	}
	if o.Host.Addr != catalog.LocalHost {
		argv = append(argv, "-s")
	}
	if o.LinkDest != "" {
		argv = append(argv, "--link-dest="+o.LinkDest)
	}
	for _, x := range o.Exclude {
		if err := ValidateExclude(x); err != nil {
			return nil, err
		}
		argv = append(argv, "--exclude="+x)
	}
	src := strings.TrimRight(o.Source, "/") + "/"
	if o.Host.Addr == catalog.LocalHost {
		return append(argv, "--", src, o.Dest+"/"), nil
	}
	user, host, _, err := ParseHostAddr(o.Host.Addr)
	if err != nil {
		return nil, err
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return append(argv, "-e", relayShell, "--", src, user+"@"+host+":"+o.Dest+"/"), nil
}

// RsyncStats are the figures of rsync --stats that tell what travelled.
type RsyncStats struct {
	Files            int64 // number of files (all entries of the file list)
	FilesTransferred int64 // regular files whose data was sent
	TotalFileSize    int64 // bytes of the whole tree
	LiteralData      int64 // bytes of file data sent as is
	MatchedData      int64 // bytes found in basis files (not sent)
	BytesSent        int64 // total bytes sent, protocol and file list included
	BytesReceived    int64
}

var rsyncStatRe = regexp.MustCompile(`(?m)^(Number of files|Number of regular files transferred|Total file size|Literal data|Matched data|Total bytes sent|Total bytes received): ([0-9][0-9,.]*)`)

// ParseRsyncStats reads the --stats block of rsync's output.
func ParseRsyncStats(out string) (RsyncStats, error) {
	var s RsyncStats
	found := 0
	for _, m := range rsyncStatRe.FindAllStringSubmatch(out, -1) {
		n, err := strconv.ParseInt(strings.NewReplacer(",", "", ".", "").Replace(m[2]), 10, 64)
		if err != nil {
			return s, fmt.Errorf("rsync stats: %s: %w", m[1], err)
		}
		found++
		switch m[1] {
		case "Number of files":
			s.Files = n
		case "Number of regular files transferred":
			s.FilesTransferred = n
		case "Total file size":
			s.TotalFileSize = n
		case "Literal data":
			s.LiteralData = n
		case "Matched data":
			s.MatchedData = n
		case "Total bytes sent":
			s.BytesSent = n
		case "Total bytes received":
			s.BytesReceived = n
		}
	}
	if found == 0 {
		return s, errors.New("rsync stats: no --stats block in the output")
	}
	return s, nil
}
