package runner

import (
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"releasedesk/events/catalog"
	"releasedesk/events/text"
)

// The rules of a project configuration that both of its checks apply: the
// app's validation of a whole document (app/projectconfig: every problem,
// each named by its path) and validateRequest, the runner's check of the
// snapshot a deployment carries (the first problem). Each rule is one
// function here and both checks call it, so that they cannot drift apart.
// A rule returns nil or an error whose message is the reason alone; the
// caller names the field ("env[2].name" in the app, "project.env[2].name"
// here).
//
// The runner's validators serve both checks the same way: ValidateProjectID,
// ValidateRepoURL, ValidateRef, ValidatePath, ValidateRelPath.
//
// Where a configuration's rule refuses more than the runner ever did, the
// runner keeps taking what it took: it applies the rule only to the values
// it has always refused (CheckKeepReleases), or keeps a wider rule of its
// own for its own reason (the environment a request names, envNameIDRe).

// CheckStrategy accepts the strategies: rsync, git or local.
func CheckStrategy(strategy string) error {
	switch strategy {
	case catalog.StrategyRsync, catalog.StrategyGit, catalog.StrategyLocal:
		return nil
	case "":
		return text.Errorf("required: want rsync, git or local")
	}
	return text.Errorf("unknown strategy %q: want rsync, git or local", strategy)
}

var (
	helperURLRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*::`)
	scpLikeRe   = regexp.MustCompile(`^(?:([^@/:]+)@)?([^@/:]+):(.*)$`)
	repoSchemes = map[string]bool{"file": true, "http": true, "https": true, "ssh": true, "git": true, "git+ssh": true, "ssh+git": true}
)

// repoOptionWords are refused anywhere in a repository address: git or
// ssh would read them as options.
var repoOptionWords = []string{"--upload-pack", "--receive-pack", "--exec", "-oProxyCommand", "ProxyCommand="}

// CheckRepo checks a project's repository address, the one the mirror on
// this machine fetches from: an absolute local path, a URL of scheme file,
// http, https, ssh or git, or scp-like user@host:path. Remote helpers
// (ext::, fd::), anything starting with '-' and option-like text
// (--upload-pack=, -oProxyCommand=) are refused. The git strategy also
// hands the address to each host's git, which ValidateRepoURL checks.
func CheckRepo(repo string) error {
	if repo == "" {
		return text.Errorf("empty")
	}
	for _, c := range repo {
		if c < 0x20 || c == 0x7f {
			return text.Errorf("contains a control character")
		}
	}
	if strings.TrimSpace(repo) != repo {
		return text.Errorf("leading or trailing space")
	}
	if strings.HasPrefix(repo, "-") {
		return text.Errorf("starts with '-'")
	}
	if helperURLRe.MatchString(repo) {
		return text.Errorf("remote helper addresses (ext::, fd::, ...) are not allowed")
	}
	for _, w := range repoOptionWords {
		if strings.Contains(repo, w) {
			return text.Errorf("contains %q: git would read it as an option", w)
		}
	}
	if filepath.IsAbs(repo) {
		return nil
	}
	if i := strings.Index(repo, "://"); i > 0 {
		u, err := url.Parse(repo)
		if err != nil {
			return err
		}
		if !repoSchemes[strings.ToLower(u.Scheme)] {
			return text.Errorf("scheme %q (want file, http, https, ssh or git)", u.Scheme)
		}
		if strings.HasPrefix(u.Hostname(), "-") || (u.User != nil && strings.HasPrefix(u.User.Username(), "-")) {
			return text.Errorf("host or user starts with '-'")
		}
		if u.Scheme == "file" {
			if u.Host != "" || !filepath.IsAbs(u.Path) {
				return text.Errorf("a file URL needs an absolute path and no host (file:///srv/git/x.git)")
			}
		} else if u.Host == "" {
			return text.Errorf("no host")
		}
		return nil
	}
	if m := scpLikeRe.FindStringSubmatch(repo); m != nil {
		if strings.HasPrefix(m[1], "-") || strings.HasPrefix(m[2], "-") {
			return text.Errorf("host or user starts with '-'")
		}
		if m[3] == "" {
			return text.Errorf("no path after ':' (user@host:path)")
		}
		return nil
	}
	return text.Errorf("a local path must be absolute")
}

// CheckGitBuild refuses a build with the git strategy: each host extracts
// the commit from its own mirror, so what a build makes here never reaches
// it, and the hosts would run a tree other than the one built and listed.
func CheckGitBuild(strategy, build string) error {
	if strategy == catalog.StrategyGit && strings.TrimSpace(build) != "" {
		return text.Errorf("the git strategy cannot publish a build: each host extracts the commit from its own " +
			"git mirror, so nothing built here reaches it; use the rsync strategy, or build on the hosts in a pre_release hook")
	}
	return nil
}

// CheckExclude checks one exclude pattern: what rsync would read as a
// filter rule is refused (ValidateExclude), and so is what the hosts' tar
// and rsync would read differently (CompileExclude).
func CheckExclude(pattern string) error {
	if err := ValidateExclude(pattern); err != nil {
		return text.Errorf("%w: no leading '-' or '+', no control character", ruleError{err})
	}
	if _, err := CompileExclude([]string{pattern}); err != nil {
		return err
	}
	return nil
}

// CheckSharedPath checks a shared path ("storage/logs/", ".env"): once a
// trailing '/' (a directory, SharedKind) is cut, a clean path inside a
// release. It returns that path: two entries with the same one are the
// same shared path.
func CheckSharedPath(shared string) (string, error) {
	_, p := SharedKind(shared)
	if err := ValidateRelPath(p); err != nil {
		return p, ruleError{err}
	}
	return p, nil
}

// Bounds of keep_releases.
const (
	minKeepReleases = 2 // 1 would leave nothing to roll back to
	maxKeepReleases = 100
)

// CheckKeepReleases accepts how many releases a host keeps: 0 (the
// default, catalog.DefaultKeepReleases) or 2 to 100. The runner applies it
// only to a negative count: prune keeps the current release and the one it
// replaced whatever the count, so it still takes 1 and more than 100 in a
// snapshot (no configuration the app accepts holds them).
func CheckKeepReleases(keep int) error {
	if keep != 0 && (keep < minKeepReleases || keep > maxKeepReleases) {
		return text.Errorf("%d: want %d to %d (0: the default, %d); fewer than 2 leaves nothing to roll back to",
			keep, minKeepReleases, maxKeepReleases, catalog.DefaultKeepReleases)
	}
	return nil
}

// envVarNameRe is what a variable name may be: it becomes NAME=value in an
// environment, and a name with '=' or a newline would smuggle in another.
var envVarNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// CheckEnvVarName checks the name of a variable of the hooks' environment.
func CheckEnvVarName(name string) error {
	if !envVarNameRe.MatchString(name) {
		return text.Errorf("%q: want letters, digits and _, not starting with a digit", name)
	}
	return nil
}

// CheckSecretValue refuses a secret variable with its value written out:
// the configuration and every request are events, and a value in them would
// be in the log for good. A secret comes from a file or from the app's own
// environment, read at run time.
func CheckSecretValue(v catalog.EnvVar) error {
	if v.Secret && v.Value != "" {
		return text.Errorf("a secret must not be written in the configuration (it would stay in the event log): use from_file or from_env")
	}
	return nil
}

// CheckOnFailure accepts an environment's failure policy: halt, continue or
// "" (halt).
func CheckOnFailure(policy string) error {
	switch policy {
	case "", catalog.OnFailureHalt, catalog.OnFailureContinue:
		return nil
	}
	return text.Errorf("%q: want halt or continue", policy)
}

// The bounds of an environment's periodic drift check.
const (
	MinDriftCheck = time.Minute
	MaxDriftCheck = 7 * 24 * time.Hour
)

// CheckDriftCheck accepts how often an environment's hosts are checked for
// drift on their own (the app's schedule): 0 (never) or 1 minute to 7
// days. More often would keep every host busy answering; less often is no
// watch at all.
func CheckDriftCheck(every time.Duration) error {
	if every != 0 && (every < MinDriftCheck || every > MaxDriftCheck) {
		return text.Errorf("%s: want %s to %s (0 or absent: no periodic check)", every, MinDriftCheck, text.New("168h (7 days)"))
	}
	return nil
}

// CheckHostsRequired refuses an environment of the rsync or git strategy
// without hosts. (The local strategy publishes to a path on this machine:
// catalog.Project.Targets.)
func CheckHostsRequired(strategy string, hosts []catalog.Host) error {
	if strategy != catalog.StrategyLocal && len(hosts) == 0 {
		return text.Errorf("at least one host is required for the %s strategy (\"user@host:port\" or {addr, path})", strategy)
	}
	return nil
}

// HostKey checks a host address (ParseHostAddr) and returns it as one
// target: user@host:port with the port written out and an IPv6 host in
// brackets, so that two spellings of one host ("www@10.0.0.5" and
// "www@10.0.0.5:22") have one key.
func HostKey(addr string) (string, error) {
	user, host, port, err := ParseHostAddr(addr)
	if err != nil {
		return "", ruleError{err}
	}
	return user + "@" + net.JoinHostPort(host, strconv.Itoa(port)), nil
}

// CheckHostOnce refuses a host an environment lists again, whatever the
// paths: the runner deploys each host of an environment once (its steps,
// state and lock are per address). seen maps the HostKey of each host
// listed before to its index; CheckHostOnce adds key at index i, or
// returns the index of the earlier listing and the reason.
func CheckHostOnce(seen map[string]int, key string, i int) (first int, err error) {
	if j, dup := seen[key]; dup {
		return j, text.Errorf("host %s is listed twice", key)
	}
	seen[key] = i
	return -1, nil
}
