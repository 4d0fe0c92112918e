package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"regexp"
	"releasedesk/events/text"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Layout builds the commands that act on one host's deploy path (DESIGN.md
// section 4):
//
//	<path>/releases/<version>/            complete, read-only
//	<path>/releases/.<version>.partial/   staging, renamed when complete
//	<path>/releases/.<version>.incoming/  a delta's files while staging is made
//	<path>/shared/                        linked into each release
//	<path>/current -> releases/<version>  switched by rename(2)
//	<path>/.releasedesk/lock -> lock.<tag>/   the host lock (info inside)
//	<path>/repo/                          git mirror (git strategy)
//
// Every builder returns argv, never a shell line: an executor quotes it
// with Quote. Where a pipe or a test is needed the argv is
// `sh -c '<constant script>' sh arg1 arg2 ...`, and variable data travels
// only as positional arguments. Every input is validated first.
type Layout struct {
	Path string // absolute, see ValidatePath
}

// Exit codes of the layout commands (other non-zero codes are failures).
const (
	ExitLockHeld  = 3   // Lock, Unlock: the lock is held by another deployment; its info is printed
	ExitMissing   = 4   // ReleaseInfo, Switch, Hook, Check: releases/<version> does not exist
	ExitIsCurrent = 5   // Remove: refused, the version is what `current` points to
	ExitTimeout   = 124 // Check: the command ran out of time (timeout(1))
)

// Paths of the layout. They do not validate: builders do.
func (l Layout) Releases() string { return l.Path + "/releases" }

// Release is releases/<version>.
func (l Layout) Release(version string) string { return l.Path + "/releases/" + version }

// Staging is releases/.<version>.partial, where a release is built before
// it is renamed to Release(version).
func (l Layout) Staging(version string) string {
	return l.Path + "/releases/." + version + ".partial"
}

// Shared is shared/.
func (l Layout) Shared() string { return l.Path + "/shared" }

// LockDir is .releasedesk/lock: a symlink to the dir holding the lock's
// info (see Lock), or an older-style lock dir.
func (l Layout) LockDir() string { return l.Path + "/.releasedesk/lock" }

// Repo is the git mirror of the git strategy.
func (l Layout) Repo() string { return l.Path + "/repo" }

// Errors of validation.
var (
	ErrBadPath    = text.Errorf("runner: bad path")
	ErrBadRepoURL = text.Errorf("runner: bad repository URL")
	ErrBadEnv     = text.Errorf("runner: bad environment variable")
	ErrBadArg     = errors.New("runner: bad argument")
)

// ValidatePath accepts an absolute, clean path other than "/" with no ".."
// component, no control character and no component starting with '-'.
// Spaces and other printable characters are allowed (they are quoted).
func ValidatePath(p string) error {
	switch {
	case p == "":
		return text.Errorf("%w: empty", ErrBadPath)
	case !strings.HasPrefix(p, "/"):
		return text.Errorf("%w %q: not absolute", ErrBadPath, p)
	case p == "/":
		return text.Errorf("%w: the root directory", ErrBadPath)
	case path.Clean(p) != p:
		return text.Errorf("%w %q: not clean (want %q)", ErrBadPath, p, path.Clean(p))
	}
	return checkComponents(p[1:], p)
}

// ValidateRelPath accepts a clean relative path inside a release (version
// files, shared paths): no "..", no ".", no control character, no component
// starting with '-'.
func ValidateRelPath(p string) error {
	switch {
	case p == "":
		return text.Errorf("%w: empty", ErrBadPath)
	case strings.HasPrefix(p, "/"):
		return text.Errorf("%w %q: must be relative", ErrBadPath, p)
	case path.Clean(p) != p || p == ".":
		return text.Errorf("%w %q: not clean", ErrBadPath, p)
	}
	return checkComponents(p, p)
}

func checkComponents(rel, whole string) error {
	if !utf8.ValidString(whole) {
		return text.Errorf("%w %q: not UTF-8", ErrBadPath, whole)
	}
	if hasControl(whole) {
		return text.Errorf("%w %q: control character", ErrBadPath, whole)
	}
	for _, c := range strings.Split(rel, "/") {
		if c == ".." || c == "." {
			return text.Errorf("%w %q: %q component", ErrBadPath, whole, c)
		}
		if strings.HasPrefix(c, "-") {
			return text.Errorf("%w %q: component starts with '-'", ErrBadPath, whole)
		}
	}
	return nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return true
		}
	}
	return false
}

func (l Layout) check() error { return ValidatePath(l.Path) }

func (l Layout) checkVersion(v string) error {
	if err := l.check(); err != nil {
		return err
	}
	return ValidateVersion(v)
}

// shell builds `sh -c script sh args...`.
func shell(script string, args ...string) []string {
	return append([]string{"sh", "-c", script, "sh"}, args...)
}

// Prepare creates releases/, shared/ and .releasedesk/.
func (l Layout) Prepare() ([]string, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	return []string{"mkdir", "-p", l.Releases(), l.Shared(), l.Path + "/.releasedesk"}, nil
}

// LockInfo is what a host lock holds: who, which deployment, since when.
type LockInfo struct {
	Deployment string
	Holder     string
	Since      time.Time
}

// String is the lock file's content: key=value lines.
func (i LockInfo) String() string {
	return "deployment=" + i.Deployment + "\nholder=" + i.Holder + "\nsince=" + i.Since.UTC().Format(time.RFC3339)
}

// ParseLockInfo reads what Lock, Unlock and BreakLock print of a lock.
func ParseLockInfo(s string) LockInfo {
	var i LockInfo
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(strings.TrimRight(line, "\r"), "=")
		if !ok {
			continue
		}
		switch k {
		case "deployment":
			i.Deployment = v
		case "holder":
			i.Holder = v
		case "since":
			i.Since, _ = time.Parse(time.RFC3339, v)
		}
	}
	return i
}

// ValidateToken accepts an identifier written on hosts (a deployment id):
// 1 to 200 printable characters, no space, not starting with '-'.
func ValidateToken(s string) error {
	if s == "" || len(s) > 200 || strings.HasPrefix(s, "-") || !utf8.ValidString(s) ||
		hasControl(s) || strings.ContainsAny(s, " \t") {
		return fmt.Errorf("%w: %q: want 1-200 printable characters, no spaces, not starting with '-'", ErrBadArg, s)
	}
	return nil
}

// The host lock is `.releasedesk/lock`, a symlink to a directory
// `.releasedesk/lock.<tag>` that holds the holder's info (the tag is
// derived from the deployment id, see lockTag; older versions used a
// random one). Lock fills that directory first and only then creates the
// symlink, with symlink(2), which fails if `lock` exists in any form: so
// taking the lock is one atomic step, and a lock that exists always says
// who holds it (a crash between the two steps leaves an unused lock.<tag>
// dir, not a lock; the deployment's Unlock removes it, info or not).
// rename(2) of a directory would not do: it silently replaces an empty
// directory, and older Release Desks made the lock as an empty directory
// before writing its info into it.
//
// Such an older lock is a real directory `lock` with `lock/info`. Lock and
// Unlock read it as before; one without info (its maker died between
// mkdir and writing it) names no holder, so nobody could ever remove it:
// once it is older than InfolessLockAge (its maker would have written the
// info within milliseconds) Lock and Unlock remove it with rmdir, which
// fails if info appeared meanwhile, and print a line starting with
// StaleLockNote; younger, it counts as held by an unknown holder.

// InfolessLockAge is the age after which an older-style lock dir with no
// info is taken for the leftover of a crash and removed.
const InfolessLockAge = time.Minute

// StaleLockNote starts the line Lock and Unlock print when they removed an
// info-less lock dir.
const StaleLockNote = "releasedesk: removed an info-less lock"

// lockCommonFunc defines infoless_stale DIR AGE: DIR is an older-style
// lock dir without info, older than AGE seconds; it removes it (rmdir:
// only while empty) and says so.
const lockCommonFunc = `infoless_stale() {
	[ -d "$1" ] && [ ! -L "$1" ] && [ ! -e "$1/info" ] || return 1
	_mtime=$(stat -c %Y "$1" 2>/dev/null) && _now=$(date +%s) || return 1
	_age=$((_now - _mtime))
	[ "$_age" -ge "$2" ] || return 1
	rmdir "$1" 2>/dev/null || return 1
	echo "` + StaleLockNote + ` ($1, ${_age}s old, no holder info)"
}`

const lockScript = lockCommonFunc + `
r="$1/.releasedesk"
d="$r/lock"
t="$r/lock.$4"
mkdir -p "$r" || exit 1
if [ -L "$d" ] && [ "$(readlink "$d")" = "lock.$4" ]; then
	# Taken by this same deployment (a run that died): held, by itself.
	cat "$t/info" 2>/dev/null
	exit 3
fi
if [ -e "$t" ] || [ -L "$t" ]; then
	# Left by a run of this deployment that died before linking it.
	rm -rf "$t" || exit 1
fi
mkdir -m 755 "$t" || exit 1
printf '%s\n' "$2" >"$t/info" || { rm -rf "$t"; exit 1; }
for _ in 1 2 3 4 5; do
	if ln -sT "${t##*/}" "$d" 2>/dev/null; then
		exit 0
	fi
	if i=$(cat "$d/info" 2>/dev/null); then
		rm -rf "$t"
		printf '%s\n' "$i"
		exit 3
	fi
	infoless_stale "$d" "$3" && continue
	if [ -L "$d" ] || [ -d "$d" ]; then
		# No info to read: released this very moment (look again), or a
		# lock with no holder.
		sleep 1
		[ -L "$d" ] || [ -d "$d" ] || continue
		i=$(cat "$d/info" 2>/dev/null)
		rm -rf "$t"
		[ -n "$i" ] && printf '%s\n' "$i"
		exit 3
	fi
	if [ -e "$d" ]; then
		rm -rf "$t"
		echo "$d is not a lock" >&2
		exit 1
	fi
done
rm -rf "$t"
exit 3`

// Lock takes the host lock: the holder's info is written into a new
// directory, then the `lock` symlink to it is created atomically (see
// above). Exit 0: taken. Exit ExitLockHeld: held by someone; the holder's
// info is printed (ParseLockInfo), or nothing for an older-style lock
// without info younger than InfolessLockAge. The lock is not re-entrant:
// a second Lock of the same deployment also gets ExitLockHeld (and the
// info names itself).
func (l Layout) Lock(info LockInfo) ([]string, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	if err := ValidateToken(info.Deployment); err != nil {
		return nil, err
	}
	if hasControl(info.Holder) || !utf8.ValidString(info.Holder) {
		return nil, fmt.Errorf("%w: holder %q: control character", ErrBadArg, info.Holder)
	}
	return shell(lockScript, l.Path, info.String(), strconv.Itoa(int(InfolessLockAge.Seconds())), lockTag(info.Deployment)), nil
}

// lockTag names the directory a deployment's lock info is written into,
// lock.<tag>: the same for every run of the deployment, so that its Unlock
// (recovery after a crash included) finds the dir even when the run died
// before the info was in it.
func lockTag(deployment string) string {
	sum := sha256.Sum256([]byte("releasedesk-lock\x00" + deployment))
	return hex.EncodeToString(sum[:8])
}

const unlockScript = lockCommonFunc + `
r="$1/.releasedesk"
d="$r/lock"
me="deployment=$2"
own="lock.$4"
sweep() {
	for s in "$r"/lock.?*; do
		if [ -d "$s" ] && [ ! -L "$s" ] && grep -qxF -e "$me" "$s/info" 2>/dev/null; then
			rm -rf "$s"
		fi
	done
	# This deployment's own dir, even without info (a run that died
	# before writing it), unless it is the lock.
	if [ -e "$r/$own" ] || [ -L "$r/$own" ]; then
		if ! [ -L "$d" ] || [ "$(readlink "$d")" != "$own" ]; then
			rm -rf "$r/$own"
		fi
	fi
}
held() {
	sweep
	cat "$d/info" 2>/dev/null
	exit 3
}
if [ -L "$d" ]; then
	t=$(readlink "$d")
	case "$t" in
	*/*) t= ;;
	lock.?*) ;;
	*) t= ;;
	esac
	[ -n "$t" ] && grep -qxF -e "$me" "$r/$t/info" 2>/dev/null || held
	rm -f "$d" || exit 1
elif [ -d "$d" ]; then
	if grep -qxF -e "$me" "$d/info" 2>/dev/null; then
		rm -rf "$d" || exit 1
	else
		infoless_stale "$d" "$3" || held
	fi
fi
sweep
exit 0`

// Unlock removes the host lock only if its info names deployment, and the
// lock.<tag> dirs of that deployment (the one the lock pointed to, and
// any a crash left before its symlink was made, with or without its info). Exit 0: removed, or there
// was no lock. Exit ExitLockHeld: another holder's lock, left in place;
// its info is printed. An older-style lock dir without info is removed
// once older than InfolessLockAge (a line starting with StaleLockNote
// says so), else it is held.
func (l Layout) Unlock(deployment string) ([]string, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	if err := ValidateToken(deployment); err != nil {
		return nil, err
	}
	return shell(unlockScript, l.Path, deployment, strconv.Itoa(int(InfolessLockAge.Seconds())), lockTag(deployment)), nil
}

const checkLockScript = `d="$1/.releasedesk/lock"
if [ -L "$d" ] && [ "$(readlink "$d")" = "lock.$3" ] && grep -qxF -e "deployment=$2" "$d/info" 2>/dev/null; then
	exit 0
fi
cat "$d/info" 2>/dev/null
exit 3`

// CheckLock tells whether the host lock is still the one deployment took
// (Lock), without taking it: exit 0 if so, else ExitLockHeld with the
// info of whatever lock is there now (nothing when there is none: it was
// broken). A host that waited for its switch without a connection is
// checked so before it is switched: a lock that changed hands meanwhile
// no longer protects its staged release.
func (l Layout) CheckLock(deployment string) ([]string, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	if err := ValidateToken(deployment); err != nil {
		return nil, err
	}
	return shell(checkLockScript, l.Path, deployment, lockTag(deployment)), nil
}

const breakLockScript = `r="$1/.releasedesk"
d="$r/lock"
cat "$d/info" 2>/dev/null
t=
if [ -L "$d" ]; then
	t=$(readlink "$d")
fi
rm -rf "$d" || exit 1
case "$t" in
*/*) ;;
lock.?*) rm -rf "$r/$t" ;;
esac`

// BreakLock removes the host lock whoever holds it, printing its info:
// the symlink and the dir it points to, or an older-style lock dir.
func (l Layout) BreakLock() ([]string, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	return shell(breakLockScript, l.Path), nil
}

const readCurrentScript = `c="$1/current"
[ -L "$c" ] || exit 0
t=$(readlink "$c") || exit 0
t="${t%/}"
printf '%s\n' "${t##*/}"
cat "$c/REVISION" 2>/dev/null
exit 0`

// ReadCurrent prints the version `current` points to (the base name of its
// target) on the first line and the content of that release's REVISION on
// the following lines; nothing when there is no `current`. Always exit 0.
// Read it with ParseCurrent.
func (l Layout) ReadCurrent() ([]string, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	return shell(readCurrentScript, l.Path), nil
}

// ParseCurrent splits ReadCurrent's output: version is "" when the host has
// no `current`; revision is REVISION's content.
func ParseCurrent(out string) (version, revision string) {
	version, revision, _ = strings.Cut(out, "\n")
	return strings.TrimSpace(version), revision
}

// goneFunc defines gone PATH: it removes PATH if anything is there, even
// a read-only tree (only directories are made writable: files may be hard
// links shared with kept releases, which must not change).
const goneFunc = `gone() {
	[ -e "$1" ] || [ -L "$1" ] || return 0
	find "$1" -type d ! -perm -u+w -exec chmod u+w {} + 2>/dev/null
	rm -rf "$1"
}`

const beginStagingScript = goneFunc + `
gone "$1" || exit 1
mkdir -p "$1"`

// BeginStaging removes a stale staging dir of version and creates it empty:
// rsync fills it (with --link-dest to the previous release, see
// RsyncCommand), or GitArchive does.
func (l Layout) BeginStaging(version string) ([]string, error) {
	if err := l.checkVersion(version); err != nil {
		return nil, err
	}
	return shell(beginStagingScript, l.Staging(version)), nil
}

// rmPathsFunc defines rmpaths PATH...: it removes each relative PATH
// from the current dir, unless a component on its way is a symlink: a
// path under a symlink is not in this release (a shared link, removed
// too), and one is never followed out of it. Removing never makes a
// symlink, so every path is looked at before any is removed, and one rm
// removes them all (a process per path costs more than a cp -Rl).
const rmPathsFunc = `rmpaths() {
	_rp_n=$#
	for _rp_p do
		_rp_q=
		_rp_rest="$_rp_p"
		_rp_linked=
		while :; do
			case "$_rp_rest" in
			*/*) ;;
			*) break ;;
			esac
			_rp_q="${_rp_q:+$_rp_q/}${_rp_rest%%/*}"
			_rp_rest="${_rp_rest#*/}"
			if [ -L "./$_rp_q" ]; then _rp_linked=1; break; fi
		done
		[ -n "$_rp_linked" ] || set -- "$@" "./$_rp_p"
	done
	shift "$_rp_n"
	[ $# -eq 0 ] || rm -rf "$@"
}`

const beginDeltaStagingScript = goneFunc + "\n" + rmPathsFunc + `
st="$1"
prev="$2"
shift 2
if [ ! -d "$prev" ] || [ -L "$prev" ] || [ ! -f "$prev/REVISION" ]; then
	echo "previous release $prev is missing or incomplete" >&2
	exit 4
fi
gone "$st" || exit 1
# Hard links of the files (never written: -l links, it does not copy or
# chmod them), symlinks as they are (-P), new directories made writable
# (0755: --no-preserve=mode with this umask), instead of cp -al and a
# find pass that makes every directory writable again.
umask 022
cp -Rl -P --no-preserve=mode "$prev" "$st" || exit 1
cd "$st" || exit 1
rmpaths "$@" || exit 1`

// BeginDeltaStaging builds the staging dir of version from the complete
// release previous on the same host: a copy of it made of hard links
// (cp -Rl, so unchanged files share their read-only inodes), with
// writable directories of its own (its files stay read-only and shared), then
// every path of remove (relative, ValidateRelPath; in order) removed from
// it, so a changed file is sent anew (a new inode: a file of an older
// release is never written to). remove names what changed between the two
// releases' manifests and what Finalize writes (REVISION, version files,
// shared links), deploy-time paths first: a path under a symlink is
// skipped, never followed. An rsync with RsyncOptions.FilesFrom then sends
// the rest. Exit ExitMissing if releases/<previous> is missing or has no
// REVISION: stage from scratch (BeginStaging) then.
func (l Layout) BeginDeltaStaging(version, previous string, remove []string) ([]string, error) {
	if err := l.checkVersion(version); err != nil {
		return nil, err
	}
	if err := ValidateVersion(previous); err != nil {
		return nil, err
	}
	if previous == version {
		return nil, fmt.Errorf("%w: delta staging of %s from itself", ErrBadArg, version)
	}
	for _, p := range remove {
		if err := ValidateRelPath(p); err != nil {
			return nil, fmt.Errorf("delta staging: %w", err)
		}
	}
	return shell(beginDeltaStagingScript, append([]string{l.Staging(version), l.Release(previous)}, remove...)...), nil
}

// noSymlinkDirFunc defines nosymlinkdir DIR WHAT: it fails if a
// component of the relative DIR is a symlink, which could lead a write out
// of the release (a tree may hold any symlink git allows).
const noSymlinkDirFunc = `nosymlinkdir() {
	_nsd_p=
	_nsd_rest="$1/"
	while [ -n "$_nsd_rest" ]; do
		_nsd_p="${_nsd_p:+$_nsd_p/}${_nsd_rest%%/*}"
		_nsd_rest="${_nsd_rest#*/}"
		if [ -L "./$_nsd_p" ]; then
			echo "$2 leads out of the release: $_nsd_p is a symlink" >&2
			exit 1
		fi
	done
}`

// DiskFullNote starts the line Receive prints when tar failed and
// the staging dir's filesystem has no space left.
const DiskFullNote = "releasedesk: No space left on device"

// receiveScript makes the staging dir ($1) and fills it from the tar
// stream on its stdin in one session. With a previous release ($3), the
// staging dir is made of it in the background (cp -Rl, then the first
// $4 paths after these removed, as beginDeltaStagingScript does) while
// the stream is extracted into the incoming dir ($2), so the first byte
// is taken at once and the copy costs no time of its own; then each
// directory the stream needs (the rest of the arguments) is checked in
// the staging dir to lead through no symlink, and the incoming files are
// hard-linked into it (cp -Rl, replacing whatever is at their path: a
// file of the previous release is never written through) and the
// incoming dir removed. Without one ($3 empty), the stream is extracted
// straight into a fresh staging dir. tar keeps modes (-p) but not owners,
// takes the extraction time as mtime (-m, like rsync --no-times) and
// unlinks whatever is at a member's path first (-U); the stream holds
// regular files and symlinks only (writeDeltaTar). Exit ExitMissing,
// before reading anything, if the previous release is missing or has no
// REVISION.
const receiveScript = noSymlinkDirFunc + "\n" + rmPathsFunc + "\n" + goneFunc + `
st="$1"
in="$2"
prev="$3"
nr="$4"
shift 4
if [ -n "$prev" ] && { [ ! -d "$prev" ] || [ -L "$prev" ] || [ ! -f "$prev/REVISION" ]; }; then
	echo "previous release $prev is missing or incomplete" >&2
	exit 4
fi
gone "$st" || exit 1
gone "$in" || exit 1
umask 022
into="$st"
cp_pid=
if [ -n "$prev" ]; then
	(
		cp -Rl -P --no-preserve=mode "$prev" "$st" || exit 1
		cd "$st" || exit 1
		# The first $nr arguments are the paths to remove.
		k=0
		for p do
			[ "$k" -eq 0 ] && set --
			k=$((k + 1))
			[ "$k" -le "$nr" ] || break
			set -- "$@" "$p"
		done
		rmpaths "$@"
	) </dev/null &
	cp_pid=$!
	into="$in"
fi
shift "$nr"
s=0
mkdir -p "$into" && cd "$into" || s=1
[ "$s" -ne 0 ] || [ $# -eq 0 ] || mkdir -p -- "$@" || s=1
if [ "$s" -eq 0 ]; then
	tar -x -U -p -m --no-same-owner -f -
	s=$?
	if [ "$s" -ne 0 ]; then
		# A full disk makes GNU tar say only "Wrote only N of M bytes".
		free=$(df -Pk . 2>/dev/null | { read -r _; read -r _ _ _ a _; echo "$a"; })
		[ "$free" = 0 ] && echo "` + DiskFullNote + ` (0 KiB free where the release is staged)" >&2
	fi
fi
[ -n "$cp_pid" ] || exit "$s"
wait "$cp_pid"
c=$?
[ "$s" -eq 0 ] || exit "$s"
if [ "$c" -ne 0 ]; then
	echo "staging from $prev failed (exit status $c)" >&2
	exit 1
fi
cd "$st" || exit 1
for d do
	nosymlinkdir "$d" "directory $d"
done
cp -Rl -P --remove-destination "$in/." "$st/" || exit 1
gone "$in"`

// Incoming is releases/.<version>.incoming, where Receive puts a delta's
// files while the staging dir is made from the previous release.
func (l Layout) Incoming(version string) string {
	return l.Path + "/releases/." + version + ".incoming"
}

// Receive builds the command that makes the staging dir of version and
// fills it from a tar stream on its stdin (Executor.RunStdin) in one
// session (receiveScript): from the previous release as BeginDeltaStaging
// does (remove as there), the stream received meanwhile, when previous is
// set; else into a fresh staging dir. dirs (DeltaPlan.Dirs) are the
// directories the stream needs, checked to lead through no symlink.
func (l Layout) Receive(version, previous string, remove, dirs []string) ([]string, error) {
	if err := l.checkVersion(version); err != nil {
		return nil, err
	}
	if previous != "" {
		if err := ValidateVersion(previous); err != nil {
			return nil, err
		}
		if previous == version {
			return nil, fmt.Errorf("%w: delta staging of %s from itself", ErrBadArg, version)
		}
	} else if len(remove) > 0 {
		return nil, fmt.Errorf("%w: paths to remove with no previous release", ErrBadArg)
	}
	for _, p := range remove {
		if err := ValidateRelPath(p); err != nil {
			return nil, fmt.Errorf("delta staging: %w", err)
		}
	}
	for _, d := range dirs {
		if err := ValidateRelPath(d); err != nil {
			return nil, fmt.Errorf("delta extract: %w", err)
		}
	}
	prev := ""
	if previous != "" {
		prev = l.Release(previous)
	}
	args := append([]string{l.Staging(version), l.Incoming(version), prev, strconv.Itoa(len(remove))}, remove...)
	return shell(receiveScript, append(args, dirs...)...), nil
}

// writeFilesScript writes REVISION ($2) and each version file ($4...) with
// the version ($3) in the staging dir ($1). A file is removed before it is
// written: it may be a hard link into an older release, which must never
// change. A version file's directory must not lead out of the release.
const writeFilesScript = `set -e
` + noSymlinkDirFunc + `
cd "$1"
rm -f ./REVISION
printf '%s' "$2" >./REVISION
v="$3"
shift 3
for f in "$@"; do
	case "$f" in
	*/*)
		nosymlinkdir "${f%/*}" "version file $f"
		mkdir -p "./${f%/*}"
		;;
	esac
	rm -f "./$f"
	printf '%s\n' "$v" >"./$f"
done`

// linkSharedScript links each shared path ($3... as kind, path pairs) of
// the staging dir ($2) to <path>/shared/<p> ($1/shared/<p>). A shared
// path missing from shared/ is created from the release's copy, or as an
// empty dir (kind d) or file (kind f).
const linkSharedScript = `set -e
` + noSymlinkDirFunc + `
root="$1"
cd "$2"
shift 2
while [ $# -gt 0 ]; do
	k="$1"
	p="$2"
	shift 2
	case "$p" in
	*/*)
		nosymlinkdir "${p%/*}" "shared path $p"
		mkdir -p "./${p%/*}"
		;;
	esac
	t="$root/shared/$p"
	if [ ! -e "$t" ] && [ ! -L "$t" ]; then
		mkdir -p "$(dirname "$t")"
		if [ -e "./$p" ] && [ ! -L "./$p" ]; then
			cp -a "./$p" "$t"
			chmod -R u+w "$t"
		elif [ "$k" = d ]; then
			mkdir -p "$t"
		else
			: >"$t"
		fi
	fi
	rm -rf "./$p"
	ln -s "$t" "./$p"
done`

// A staged release is completed by the commands of Finalize, then those of
// Seal, run in order, stopping at the first failure (a deployment runs its
// pre_release hook and health check between the two, in the staging dir).
// A dir named releases/<version> is therefore always complete.

// Finalize returns the commands that fill in a staged release:
//  1. write REVISION (revision, as given; see Revision) and each version
//     file (the version and a newline), each a new file;
//  2. link each shared path: release/<p> -> <path>/shared/<p>, creating
//     shared/<p> from the release's copy if shared has none, else as an
//     empty dir or file (SharedKind).
func (l Layout) Finalize(version, revision string, versionFiles, shared []string) ([][]string, error) {
	if err := l.checkVersion(version); err != nil {
		return nil, err
	}
	if strings.IndexByte(revision, 0) >= 0 {
		return nil, fmt.Errorf("%w: REVISION holds a NUL byte", ErrBadArg)
	}
	for _, f := range versionFiles {
		if err := ValidateRelPath(f); err != nil {
			return nil, fmt.Errorf("version file: %w", err)
		}
		if f == "REVISION" {
			return nil, fmt.Errorf("%w: version file REVISION is the release's own", ErrBadArg)
		}
	}
	links := make([]string, 0, 2*len(shared))
	for _, s := range shared {
		kind, p := SharedKind(s)
		if err := ValidateRelPath(p); err != nil {
			return nil, fmt.Errorf("shared: %w", err)
		}
		links = append(links, kind, p)
	}
	st := l.Staging(version)
	cmds := [][]string{
		shell(writeFilesScript, append([]string{st, revision, version}, versionFiles...)...),
	}
	if len(links) > 0 {
		cmds = append(cmds, shell(linkSharedScript, append([]string{l.Path, st}, links...)...))
	}
	return cmds, nil
}

// Seal returns the commands that give a finalized release its name:
//  1. make the staging dir of version read-only, like chmod -R a-w
//     (symlinks are not followed);
//  2. rename it to releases/<version> (mv -T; it fails if a non-empty
//     releases/<version> exists).
//
// `chmod -R a-w` would stat and chmod every entry; most of a delta staging
// are hard links that are read-only already, so find chmods only what
// still has a write bit (symlinks are skipped, as chmod -R skips them).
func (l Layout) Seal(version string) ([][]string, error) {
	if err := l.checkVersion(version); err != nil {
		return nil, err
	}
	st := l.Staging(version)
	return [][]string{
		{"find", st, "!", "-type", "l", "(", "-perm", "-0200", "-o", "-perm", "-0020", "-o", "-perm", "-0002", ")",
			"-exec", "chmod", "a-w", "{}", "+"},
		{"mv", "-T", st, l.Release(version)},
	}, nil
}

// SharedKind tells how a shared path missing everywhere is created: "d"
// (a directory) when it ends with '/' or its last component has no dot,
// else "f" (an empty file: ".env", "config.yml"). p is s without the
// trailing '/'.
func SharedKind(s string) (kind, p string) {
	if strings.HasSuffix(s, "/") {
		return "d", strings.TrimRight(s, "/")
	}
	if strings.Contains(path.Base(s), ".") {
		return "f", s
	}
	return "d", s
}

const switchScript = `cd "$1" || exit 1
[ -d "releases/$2" ] || { echo "release $2 is missing" >&2; exit 4; }
t=".current.$2.tmp"
ln -sfn "releases/$2" "$t" && mv -T "$t" current`

// Switch points `current` at releases/<version>: a temporary symlink
// renamed over `current` (rename(2)), so there is never a moment without
// `current`. Exit ExitMissing if the release does not exist.
func (l Layout) Switch(version string) ([]string, error) {
	if err := l.checkVersion(version); err != nil {
		return nil, err
	}
	return shell(switchScript, l.Path, version), nil
}

const releaseInfoScript = `[ -d "$1" ] || exit 4
cat "$1/REVISION"`

// ReleaseInfo prints releases/<version>/REVISION; exit ExitMissing if the
// release does not exist.
func (l Layout) ReleaseInfo(version string) ([]string, error) {
	if err := l.checkVersion(version); err != nil {
		return nil, err
	}
	return shell(releaseInfoScript, l.Release(version)), nil
}

const listReleasesScript = `cd "$1" 2>/dev/null || exit 0
for d in [0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]; do
	[ -d "$d" ] && [ ! -L "$d" ] && printf '%s\n' "$d"
done
exit 0`

// ListReleases prints the version ids under releases/, one a line, sorted;
// staging dirs and other names are left out. Read it with ParseReleases.
func (l Layout) ListReleases() ([]string, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	return shell(listReleasesScript, l.Releases()), nil
}

// ParseReleases returns the valid version ids of ListReleases' output,
// sorted (oldest first).
func ParseReleases(out string) []string {
	var vs []string
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if ValidateVersion(line) == nil {
			vs = append(vs, line)
		}
	}
	sort.Strings(vs)
	return vs
}

const removeScript = goneFunc + `
root="$1"
shift
cur=$(readlink "$root/current" 2>/dev/null)
cur="${cur%/}"
for d in "$@"; do
	case "$d" in
	"$root/releases/${cur##*/}")
		if [ -n "$cur" ]; then echo "${d##*/} is the current release" >&2; exit 5; fi ;;
	esac
done
for x in "$root"/releases/*.removing; do
	[ -e "$x" ] || [ -L "$x" ] || continue
	gone "$x" || exit 1
done
for d in "$@"; do
	[ -e "$d" ] || [ -L "$d" ] || continue
	mv -T "$d" "$d.removing" || exit 1
	gone "$d.removing" || exit 1
done`

// Remove deletes releases/<v>, its staging and incoming dirs for each version, even
// read-only trees (only directories are made writable: files may be hard
// links shared with kept releases). It refuses, with ExitIsCurrent and
// before removing anything, if one of them is what `current` points to.
// Each dir is renamed to <dir>.removing before it is deleted, so a crash
// midway never leaves a half-deleted tree under a release's name (a later
// rollback would take it for whole); leftover *.removing dirs go with the
// next Remove.
func (l Layout) Remove(versions ...string) ([]string, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	if len(versions) == 0 {
		return nil, fmt.Errorf("%w: no version to remove", ErrBadArg)
	}
	args := []string{l.Path}
	for _, v := range versions {
		if err := ValidateVersion(v); err != nil {
			return nil, err
		}
		args = append(args, l.Release(v), l.Staging(v), l.Incoming(v))
	}
	return shell(removeScript, args...), nil
}

// RemoveStaging deletes the staging dir of version and its incoming dir
// (a cancelled or failed deployment), never releases/<version>.
func (l Layout) RemoveStaging(version string) ([]string, error) {
	if err := l.checkVersion(version); err != nil {
		return nil, err
	}
	return shell(removeScript, l.Path, l.Staging(version), l.Incoming(version)), nil
}

// ValidateEnv accepts NAME=value pairs with NAME a variable name
// (CheckEnvVarName) and a value without NUL.
func ValidateEnv(env []string) error {
	for _, kv := range env {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || CheckEnvVarName(name) != nil {
			return text.Errorf("%w: %q: want NAME=value, NAME of letters, digits and _", ErrBadEnv, kv)
		}
		if strings.IndexByte(value, 0) >= 0 {
			return text.Errorf("%w: %s: value holds a NUL byte", ErrBadEnv, name)
		}
	}
	return nil
}

// hookScript enters the release ($1) or, before it is finalized, its
// staging dir ($2), then runs the rest of the arguments.
const hookScript = `cd "$1" 2>/dev/null || cd "$2" 2>/dev/null || { echo "release dir is missing" >&2; exit 4; }
shift 2
exec "$@"`

func (l Layout) hookArgs(version, script string, env []string) ([]string, error) {
	if err := l.checkVersion(version); err != nil {
		return nil, err
	}
	if strings.TrimSpace(script) == "" || strings.IndexByte(script, 0) >= 0 {
		return nil, fmt.Errorf("%w: empty script or NUL byte", ErrBadArg)
	}
	if err := ValidateEnv(env); err != nil {
		return nil, err
	}
	return shell(hookScript, l.Release(version), l.Staging(version)), nil
}

// Hook runs a configured script (`sh -c script`) in releases/<version>, or
// in its staging dir if it is not finalized yet, with env (NAME=value)
// added through env(1). env is in the argv, so in the host's process list:
// never put a secret there; secrets go out of band, with Executor.RunEnv.
// The script is the one configured text that runs as shell, and it travels
// as one argument. Exit ExitMissing if neither dir exists; otherwise the
// script's status.
func (l Layout) Hook(version, script string, env []string) ([]string, error) {
	argv, err := l.hookArgs(version, script, env)
	if err != nil {
		return nil, err
	}
	argv = append(argv, "env")
	argv = append(argv, env...)
	return append(argv, "sh", "-c", script), nil
}

// Check is Hook under timeout(1): after timeout the script's process group
// gets SIGTERM, 5 s later SIGKILL, and the exit status is ExitTimeout.
func (l Layout) Check(version, script string, timeout time.Duration, env []string) ([]string, error) {
	if timeout <= 0 {
		return nil, fmt.Errorf("%w: check timeout %s", ErrBadArg, timeout)
	}
	argv, err := l.hookArgs(version, script, env)
	if err != nil {
		return nil, err
	}
	argv = append(argv, "timeout", "-k", "5s", strconv.FormatFloat(timeout.Seconds(), 'f', -1, 64)+"s", "env")
	argv = append(argv, env...)
	return append(argv, "sh", "-c", script), nil
}

const gitFetchScript = `set -e
[ -d "$1" ] || git init -q --bare "$1"
if git -C "$1" cat-file -e "$3^{commit}" 2>/dev/null; then exit 0; fi
git -C "$1" -c protocol.ext.allow=never fetch -q --no-tags -- "$2" "+$3:refs/releasedesk/$3"
git -C "$1" cat-file -e "$3^{commit}"`

// GitFetch makes sure the host's mirror (<path>/repo, a bare repository
// created if missing) has commit sha, fetching it from repoURL (validated
// by ValidateRepoURL; given after `--`, with the ext transport disabled).
// The commit is kept under refs/releasedesk/<sha>.
func (l Layout) GitFetch(repoURL, sha string) ([]string, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	if err := ValidateRepoURL(repoURL); err != nil {
		return nil, err
	}
	if err := ValidateCommit(sha); err != nil {
		return nil, err
	}
	return shell(gitFetchScript, l.Repo(), repoURL, sha), nil
}

const gitArchiveScript = `t="$1/releasedesk-archive.$$.tar"
repo="$1"
sha="$2"
dest="$3"
shift 3
git -C "$repo" archive --format=tar -o "$t" "$sha" || { rm -f "$t"; exit 1; }
tar -x --no-same-owner -f "$t" -C "$dest" "$@" || { rm -f "$t"; exit 1; }
rm -f "$t"`

// GitArchive extracts commit sha of the host's mirror into the staging dir
// of version (which BeginStaging created), leaving out what exclude
// leaves out of an export (CompileExclude; given to tar as TarArgs), so a
// release holds the same tree whatever the strategy.
func (l Layout) GitArchive(sha, version string, exclude []string) ([]string, error) {
	if err := l.checkVersion(version); err != nil {
		return nil, err
	}
	if err := ValidateCommit(sha); err != nil {
		return nil, err
	}
	ex, err := CompileExclude(exclude)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadArg, err)
	}
	for _, x := range exclude {
		if err := ValidateExclude(x); err != nil {
			return nil, err
		}
	}
	return shell(gitArchiveScript, append([]string{l.Repo(), sha, l.Staging(version)}, ex.TarArgs()...)...), nil
}

var (
	repoURLSchemeRe = regexp.MustCompile(`^(file|ssh|git|https?)://[^\s]+$`)
	repoSCPLikeRe   = regexp.MustCompile(`^(?:[A-Za-z0-9._][A-Za-z0-9._-]*@)?[A-Za-z0-9_][A-Za-z0-9._-]*:[^\s]*$`)
)

// ValidateRepoURL accepts a repository a host may fetch from: a local
// absolute path, file://, ssh://, git://, http(s):// URLs, or scp-like
// user@host:path. It refuses remote-helper syntax (ext::..., any "x::"),
// a leading '-' (git options such as --upload-pack), spaces and control
// characters.
func ValidateRepoURL(u string) error {
	bad := func(why text.Text) error { return text.Errorf("%w %q: %s", ErrBadRepoURL, u, why) }
	switch {
	case u == "":
		return bad(text.New("empty"))
	case strings.HasPrefix(u, "-"):
		return bad(text.New("starts with '-'"))
	case !utf8.ValidString(u) || hasControl(u):
		return bad(text.New("control character"))
	case strings.ContainsAny(u, " \t"):
		return bad(text.New("space"))
	case strings.Contains(u, "::"):
		return bad(text.New("remote helper syntax (transport::address) is not allowed"))
	}
	if strings.HasPrefix(u, "/") {
		if err := ValidatePath(strings.TrimSuffix(u, "/")); err != nil {
			return bad(text.Of(err))
		}
		return nil
	}
	if repoURLSchemeRe.MatchString(u) {
		rest := u[strings.Index(u, "://")+3:]
		if strings.HasPrefix(rest, "-") {
			return bad(text.New("host starts with '-'"))
		}
		return nil
	}
	if strings.Contains(u, "://") {
		return bad(text.New("want file://, ssh://, git://, http:// or https://"))
	}
	if repoSCPLikeRe.MatchString(u) {
		host, p, _ := strings.Cut(u[strings.Index(u, "@")+1:], ":")
		if strings.HasPrefix(host, "-") || strings.HasPrefix(p, "-") {
			return bad(text.New("starts with '-'"))
		}
		return nil
	}
	return bad(text.New("want an absolute path, file://, ssh://, git://, https:// or user@host:path"))
}

// Revision is the content of a release's REVISION file.
type Revision struct {
	Version    string
	Commit     string
	Deployment string
	Who        string
}

// String formats REVISION as key=value lines; control characters in Who
// and Deployment are replaced so that each field stays one line.
func (r Revision) String() string {
	clean := func(s string) string {
		return strings.Map(func(c rune) rune {
			if c < 0x20 || c == 0x7f {
				return '?'
			}
			return c
		}, s)
	}
	return "version=" + clean(r.Version) + "\ncommit=" + clean(r.Commit) +
		"\ndeployment=" + clean(r.Deployment) + "\nwho=" + clean(r.Who) + "\n"
}

// ParseRevision reads REVISION content written by Revision.String.
func ParseRevision(s string) Revision {
	var r Revision
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(strings.TrimRight(line, "\r"), "=")
		if !ok {
			continue
		}
		switch k {
		case "version":
			r.Version = v
		case "commit":
			r.Commit = v
		case "deployment":
			r.Deployment = v
		case "who":
			r.Who = v
		}
	}
	return r
}
