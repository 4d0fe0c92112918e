package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"releasedesk/events/catalog"
)

// RsyncOptions describe one transfer of an exported tree to a host's
// staging dir.
type RsyncOptions struct {
	Source         string       // local directory; its content is sent (a trailing slash is added)
	Dest           string       // directory on the host (absolute, ValidatePath)
	Host           catalog.Host // Addr LocalHost: Dest is on this machine, no SSH
	KeyPath        string       // private key (SSH only)
	KnownHostsPath string       // the app's known_hosts (SSH only)
	ControlPath    string       // ssh multiplexing socket, one per host and deployment (SSH only; see ControlPath)
	// Relay: the remote half runs on the host's open connection
	// (relayShell as -e, see relayRsync), not over ssh: KeyPath,
	// KnownHostsPath and ControlPath are not used.
	Relay    bool
	LinkDest string // absolute path on the host of the previous release, optional
	// FilesFrom (a local absolute path, optional) lists NUL-separated
	// paths relative to Source: only those are sent (a delta transfer
	// into a staging dir already filled from the previous release; see
	// Layout.BeginDeltaStaging), without --delete, --checksum or
	// --link-dest. It excludes LinkDest.
	FilesFrom string
	Exclude   []string
	// Port and user come from Host.Addr.
}

// ErrBadRsync: an RsyncOptions field cannot be used safely.
var ErrBadRsync = errors.New("runner: bad rsync options")

// checkSSHPath accepts what a local path may be to travel in ssh's -o/-i
// options through rsync's -e parsing: no quotes, backslashes or '%' (ssh
// token expansion), no control characters; spaces are quoted.
func checkSSHPath(what, p string) error {
	switch {
	case p == "":
		return fmt.Errorf("%w: %s is empty", ErrBadRsync, what)
	case !filepath.IsAbs(p):
		return fmt.Errorf("%w: %s %q is not absolute", ErrBadRsync, what, p)
	case hasControl(p) || strings.ContainsAny(p, "'\"\\%"):
		return fmt.Errorf("%w: %s %q: quotes, backslashes, '%%' and control characters are not allowed", ErrBadRsync, what, p)
	}
	return nil
}

// maxControlPath leaves room under the 108-byte limit of a unix socket
// path for the suffix ssh adds while it creates the socket.
const maxControlPath = 86

// ControlPath returns a short socket path in dir for the ssh master of one
// host in one deployment (dir should be private, 0700, and short: e.g. a
// directory under os.TempDir()).
func ControlPath(dir, deployment, addr string) string {
	sum := sha256.Sum256([]byte(deployment + "\x00" + addr))
	return filepath.Join(dir, "cm-"+hex.EncodeToString(sum[:8]))
}

// ValidateExclude accepts an rsync exclude pattern: not empty, no leading
// '-' or '+' (rsync filter-rule prefixes), no newline or control character.
func ValidateExclude(p string) error {
	if p == "" || strings.HasPrefix(p, "-") || strings.HasPrefix(p, "+") || hasControl(p) {
		return fmt.Errorf("%w: exclude pattern %q", ErrBadRsync, p)
	}
	return nil
}

// rsyncWord quotes one word of rsync's -e value the way rsync splits it:
// on spaces, with single quotes grouping (a doubled quote inside is one).
func rsyncWord(s string) string {
	if s != "" && !strings.ContainsAny(s, " '\"") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// sshOptionValue quotes a path inside an ssh -o value (ssh splits config
// values on spaces and honours double quotes).
func sshOptionValue(p string) string {
	if strings.ContainsAny(p, " \t") {
		return `"` + p + `"`
	}
	return p
}

// sshArgs are the ssh options of every transfer of one host: strict host
// key checking against the app's known_hosts only, no ssh_config, no agent
// keys, a multiplexed master kept 60 s, keepalives.
func sshArgs(o RsyncOptions, port int) []string {
	return []string{
		"-F", "none",
		"-o", "BatchMode=yes",
		"-o", "StrictHostKeyChecking=yes",
		"-o", "UserKnownHostsFile=" + sshOptionValue(o.KnownHostsPath),
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "UpdateHostKeys=no",
		"-o", "IdentitiesOnly=yes",
		// What the Go connection negotiates: OpenSSH's default
		// post-quantum kex costs a large part of the handshake.
		"-o", "KexAlgorithms=curve25519-sha256",
		"-o", "ConnectTimeout=10",
		"-o", "ServerAliveInterval=15",
		"-o", "ServerAliveCountMax=3",
		"-o", "ControlMaster=auto",
		"-o", "ControlPath=" + sshOptionValue(o.ControlPath),
		"-o", "ControlPersist=60",
		"-i", o.KeyPath,
		"-p", strconv.Itoa(port),
	}
}

func (o RsyncOptions) checkSSH() (user, host string, port int, err error) {
	user, host, port, err = ParseHostAddr(o.Host.Addr)
	if err != nil {
		return
	}
	for _, c := range []struct{ what, p string }{
		{"KeyPath", o.KeyPath}, {"KnownHostsPath", o.KnownHostsPath}, {"ControlPath", o.ControlPath},
	} {
		if err = checkSSHPath(c.what, c.p); err != nil {
			return
		}
	}
	if len(o.ControlPath) > maxControlPath {
		err = fmt.Errorf("%w: ControlPath %q is longer than %d bytes (a unix socket path)", ErrBadRsync, o.ControlPath, maxControlPath)
	}
	return
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
//   - for a remote host with Relay (what a deployment uses), relayShell as
//     -e: the remote half runs on the host's open connection (relayRsync).
//   - for a remote host without Relay, an ssh -e command with strict host
//     key checking against the app's known_hosts only, no ssh_config, and
//     one multiplexed connection (ControlMaster) per host and deployment.
//     Close it with CloseControlMaster when done with the host.
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
	if o.Relay {
		user, host, _, err := ParseHostAddr(o.Host.Addr)
		if err != nil {
			return nil, err
		}
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		return append(argv, "-e", relayShell, "--", src, user+"@"+host+":"+o.Dest+"/"), nil
	}
	user, host, port, err := o.checkSSH()
	if err != nil {
		return nil, err
	}
	e := []string{"ssh"}
	for _, a := range sshArgs(o, port) {
		e = append(e, rsyncWord(a))
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return append(argv, "-e", strings.Join(e, " "), "--", src, user+"@"+host+":"+o.Dest+"/"), nil
}

// ControlMasterCommand is the ssh argv that ends o's multiplexed master
// (`ssh -O exit`).
func ControlMasterCommand(o RsyncOptions) ([]string, error) {
	user, host, port, err := o.checkSSH()
	if err != nil {
		return nil, err
	}
	argv := append([]string{"ssh"}, sshArgs(o, port)...)
	return append(argv, "-O", "exit", "-l", user, "--", host), nil
}

// CloseControlMaster ends o's ssh master, if one runs (a local destination
// has none). A master that is already gone is not an error.
func CloseControlMaster(ctx context.Context, o RsyncOptions) error {
	if o.Host.Addr == catalog.LocalHost {
		return nil
	}
	argv, err := ControlMasterCommand(o)
	if err != nil {
		return err
	}
	var out strings.Builder
	code, err := (&LocalExecutor{}).Run(ctx, argv, &out)
	if err != nil {
		return err
	}
	if code != 0 && !strings.Contains(out.String(), "No such file") && !strings.Contains(out.String(), "Connection refused") {
		return fmt.Errorf("ssh -O exit: exit %d: %s", code, strings.TrimSpace(out.String()))
	}
	return nil
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
