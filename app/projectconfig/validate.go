package projectconfig

import (
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"releasedesk/events/catalog"
	"releasedesk/events/text"
	"releasedesk/runner"
)

// Validation.

// environmentNameRe is what a configured environment may be called: a
// rule of the configuration alone. The runner checks the environment a
// request names with a wider rule of its own, which takes every name this
// one does.
var environmentNameRe = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// Validate checks a whole configuration and returns every problem it
// finds (nil if none), each named by its path. A rule the runner checks
// too is the runner's own function (runner/rules.go and the runner's
// validators), called here with the field's path, so what Validate accepts
// the runner accepts too (runner.Submit checks again), with one exception:
// an environment of the rsync or git strategy may leave ssh_key unset
// here, and the app must give the runner a key before it submits a
// deployment.
func Validate(p catalog.Project) Errors {
	var errs Errors
	add := errs.add

	switch {
	case p.ID == "":
		add("id", text.New("required"))
	default:
		if err := runner.ValidateProjectID(p.ID); err != nil {
			add("id", runnerReason(err))
		}
	}
	if msg := checkOneLine(p.Title); !msg.IsZero() {
		add("title", msg)
	} else if n := utf8.RuneCountInString(p.Title); n > maxTitleLen {
		add("title", text.New("%d characters: at most %d", n, maxTitleLen))
	}

	if p.Repo == "" {
		add("repo", text.New("required: a local absolute path or a git URL"))
	} else if err := runner.ValidateRepoURL(p.Repo); err != nil {
		add("repo", runnerReason(err))
	} else if err := runner.CheckRepo(p.Repo); err != nil {
		add("repo", text.Of(err))
	}

	if p.Branch == "" {
		add("branch", text.New("required: the mainline branch"))
	} else if err := runner.ValidateRef(p.Branch); err != nil {
		add("branch", runnerReason(err))
	}

	strategyOK := true
	if err := runner.CheckStrategy(p.Strategy); err != nil {
		add("strategy", text.Of(err))
		strategyOK = false
	}

	if msg := checkScript(p.Build); !msg.IsZero() {
		add("build", msg)
	} else if err := runner.CheckGitBuild(p.Strategy, p.Build); err != nil {
		add("build", text.Of(err))
	}

	seen := map[string]int{}
	for i, x := range p.Exclude {
		path := indexPath("exclude", i)
		if err := runner.CheckExclude(x); err != nil {
			add(path, text.Of(err))
		} else if j, dup := seen[x]; dup {
			add(path, text.New("%q is listed twice (also exclude[%d])", x, j))
		} else {
			seen[x] = i
		}
	}

	seen = map[string]int{}
	for i, s := range p.Shared {
		path := indexPath("shared", i)
		if sp, err := runner.CheckSharedPath(s); err != nil {
			add(path, text.Of(err))
		} else if j, dup := seen[sp]; dup {
			add(path, text.New("%q is listed twice (also shared[%d])", sp, j))
		} else {
			seen[sp] = i
		}
	}

	seen = map[string]int{}
	for i, f := range p.VersionFiles {
		path := indexPath("version_files", i)
		if err := runner.ValidateRelPath(f); err != nil {
			add(path, runnerReason(err))
		} else if j, dup := seen[f]; dup {
			add(path, text.New("%q is listed twice (also version_files[%d])", f, j))
		} else {
			seen[f] = i
		}
	}

	if err := runner.CheckKeepReleases(p.KeepReleases); err != nil {
		add("keep_releases", text.Of(err))
	}

	for _, h := range []struct{ name, text string }{
		{"pre_deploy", p.Hooks.PreDeploy}, {"post_deploy", p.Hooks.PostDeploy},
		{"pre_release", p.Hooks.PreRelease}, {"post_release", p.Hooks.PostRelease},
	} {
		if msg := checkScript(h.text); !msg.IsZero() {
			add("hooks."+h.name, msg)
		}
	}
	if msg := checkScript(p.HealthCheck.Command); !msg.IsZero() {
		add("health_check.command", msg)
	}
	if t := time.Duration(p.HealthCheck.Timeout); t < 0 || t > maxCheckTimeout {
		add("health_check.timeout", text.New("%s: want at most %s (0: the default, %s)", t, maxCheckTimeout, runner.DefaultCheckTimeout))
	}

	seen = map[string]int{}
	for i, v := range p.Env {
		validateEnvVar(&errs, v, indexPath("env", i), seen, i)
	}

	validateEnvironments(&errs, p, strategyOK)
	validateNotify(&errs, p)
	return errs
}

func validateEnvVar(errs *Errors, v catalog.EnvVar, path string, seen map[string]int, i int) {
	add := errs.add
	if v.Name == "" {
		add(path+".name", text.New("required"))
	} else if err := runner.CheckEnvVarName(v.Name); err != nil {
		add(path+".name", text.Of(err))
	} else if j, dup := seen[v.Name]; dup {
		add(path+".name", text.New("%q is defined twice (also env[%d])", v.Name, j))
	} else {
		seen[v.Name] = i
	}
	set := 0
	for _, s := range []string{v.Value, v.FromFile, v.FromEnv} {
		if s != "" {
			set++
		}
	}
	if set != 1 {
		add(path, text.New("set exactly one of value, from_file, from_env"))
	}
	if v.Value != "" {
		if err := runner.CheckSecretValue(v); err != nil {
			add(path+".value", text.Of(err))
		} else if err := runner.ValidateEnv([]string{"X=" + v.Value}); err != nil {
			add(path+".value", text.New("holds a NUL byte"))
		}
	}
	if v.FromFile != "" {
		if err := runner.ValidatePath(v.FromFile); err != nil {
			add(path+".from_file", runnerReason(err))
		}
	}
	if v.FromEnv != "" && runner.CheckEnvVarName(v.FromEnv) != nil {
		add(path+".from_env", text.New("%q: want the name of a variable of the app's environment", v.FromEnv))
	}
}

func validateEnvironments(errs *Errors, p catalog.Project, strategyOK bool) {
	add := errs.add
	if len(p.Environments) == 0 {
		add("environments", text.New("at least one environment is required"))
		return
	}
	names := map[string]int{}
	// targets: a normalized host address (or "" for this machine) and a
	// path, to the environment that publishes there.
	type target struct{ addr, path string }
	targets := map[target]string{}
	for i, e := range p.Environments {
		path := indexPath("environments", i)
		switch {
		case e.Name == "":
			add(path+".name", text.New("required"))
		case !environmentNameRe.MatchString(e.Name):
			add(path+".name", text.New("%q: want lower-case letters, digits and '-', starting with a letter, at most 32", e.Name))
		default:
			if j, dup := names[e.Name]; dup {
				add(path+".name", text.New("duplicate environment %q (also environments[%d])", e.Name, j))
			} else {
				names[e.Name] = i
			}
		}
		envPathOK := false
		if e.Path == "" {
			add(path+".path", text.New("required: the absolute deploy path"))
		} else if err := runner.ValidatePath(e.Path); err != nil {
			add(path+".path", runnerReason(err))
		} else {
			envPathOK = true
		}
		if e.SSHKey != "" {
			if err := runner.ValidatePath(e.SSHKey); err != nil {
				add(path+".ssh_key", runnerReason(err))
			}
		}
		if e.Parallel < 0 || e.Parallel > maxParallel {
			add(path+".parallel", text.New("%d: want 1 to %d (0: the default, %d)", e.Parallel, maxParallel, runner.DefaultParallel))
		}
		if e.Batch < 0 {
			add(path+".batch", text.New("%d: must not be negative (0: all hosts in one batch)", e.Batch))
		}
		if err := runner.CheckOnFailure(e.OnFailure); err != nil {
			add(path+".on_failure", text.Of(err))
		}
		if err := runner.CheckDriftCheck(time.Duration(e.DriftCheck)); err != nil {
			add(path+".drift_check", text.Of(err))
		}

		claim := func(t target, at string, what text.Text) {
			if other, dup := targets[t]; dup && other != e.Name {
				add(at, text.New("%s is also a target of environment %q: two environments must not publish to the same place", what, other))
				return
			}
			targets[t] = e.Name
		}
		if p.Strategy == catalog.StrategyLocal {
			if len(e.Hosts) > 0 {
				add(path+".hosts", text.New("the local strategy publishes to path on this machine: it has no hosts (remove them, or use rsync or git)"))
			} else if envPathOK {
				claim(target{"", e.Path}, path+".path", text.New("%s on this machine", e.Path))
			}
			continue
		}
		if strategyOK {
			if err := runner.CheckHostsRequired(p.Strategy, e.Hosts); err != nil {
				add(path+".hosts", text.Of(err))
			}
		}
		addrs := map[string]int{}
		for j, h := range e.Hosts {
			hpath := indexPath(path+".hosts", j)
			norm := ""
			if h.Addr == "" {
				add(hpath, text.New("required: \"user@host:port\""))
			} else if key, err := runner.HostKey(h.Addr); err != nil {
				add(hpath, text.Of(err))
			} else {
				norm = key
			}
			hostPathOK := h.Path == ""
			if h.Path != "" {
				if err := runner.ValidatePath(h.Path); err != nil {
					add(hpath+".path", runnerReason(err))
				} else {
					hostPathOK = true
				}
			}
			if norm == "" {
				continue
			}
			if k, err := runner.CheckHostOnce(addrs, norm, j); err != nil {
				add(hpath, text.New("%v (also %s.hosts[%d])", err, path, k))
				continue
			}
			eff := h.Path
			if eff == "" {
				eff = e.Path
			}
			if hostPathOK && (h.Path != "" || envPathOK) {
				claim(target{norm, eff}, hpath, text.New("%s at %s", norm, eff))
			}
		}
	}
}

// checkScript checks configured shell text: any text, but no NUL and at most
// 8 KiB. A zero Text is no problem.
func checkScript(s string) text.Text {
	switch {
	case strings.IndexByte(s, 0) >= 0:
		return text.New("holds a NUL byte")
	case len(s) > maxScriptLen:
		return text.New("%d bytes: at most %d (8 KiB); put a longer script in the repository and call it", len(s), maxScriptLen)
	}
	return text.Text{}
}

// checkOneLine checks a text shown on one line. A zero Text is no problem.
func checkOneLine(s string) text.Text {
	if !utf8.ValidString(s) {
		return text.New("not valid UTF-8")
	}
	for _, c := range s {
		if unicode.IsControl(c) {
			return text.New("holds a control character (a newline?): one line of text")
		}
	}
	return text.Text{}
}

// runnerReason is a runner validator's refusal as a rule's reason, without
// the package's prefix (runner.Reason).
func runnerReason(err error) text.Text { return runner.Reason(err) }
