package runner

import (
	"regexp"
	"releasedesk/events/text"
	"time"
)

// A version id names one release directory on every host:
// YYYYMMDDHHMMSS-<sha7>, in UTC. Sorting ids as strings sorts them by time,
// which pruning relies on.
var (
	versionRe = regexp.MustCompile(`^[0-9]{14}-[0-9a-f]{7}$`)
	shaRe     = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

// NewVersion makes the version id of commit at t.
func NewVersion(t time.Time, commit string) (string, error) {
	if err := ValidateCommit(commit); err != nil {
		return "", err
	}
	return t.UTC().Format("20060102150405") + "-" + commit[:7], nil
}

// ValidateVersion accepts only well-formed version ids: they become path
// components on hosts.
func ValidateVersion(v string) error {
	if !versionRe.MatchString(v) {
		return text.Errorf("version %q: want YYYYMMDDHHMMSS-<7 hex digits>", v)
	}
	if _, err := time.Parse("20060102150405", v[:14]); err != nil {
		return text.Errorf("version %q: not a real date and time", v)
	}
	return nil
}

// ValidateCommit accepts only a full 40-hex SHA: only SHAs travel to hosts.
func ValidateCommit(sha string) error {
	if !shaRe.MatchString(sha) {
		return text.Errorf("commit %q: want a full 40-hex SHA", sha)
	}
	return nil
}
