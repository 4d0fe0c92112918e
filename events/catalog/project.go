package catalog

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Project is a project's configuration (DESIGN.md section 5), as events
// carry it: the runner does what it says. The app parses and validates it (YAML or JSON) before any
// event is written; a deployment carries a snapshot of it, so a deployment
// does what was configured when it was requested, whatever changes later.
type Project struct {
	ID           string        `json:"id"`
	Title        string        `json:"title,omitempty"`
	Language     string        `json:"language,omitempty"` // of its messages: zh-CN | en; empty: en
	Repo         string        `json:"repo"`               // local path or git URL
	Branch       string        `json:"branch"`             // the mainline
	Strategy     string        `json:"strategy"`           // rsync | git | local
	Build        string        `json:"build,omitempty"`    // run in the exported tree
	Exclude      []string      `json:"exclude,omitempty"`  // not published (see CompileExclude)
	Shared       []string      `json:"shared,omitempty"`   // linked from <path>/shared
	VersionFiles []string      `json:"version_files,omitempty"`
	KeepReleases int           `json:"keep_releases,omitempty"`
	Hooks        Hooks         `json:"hooks,omitempty"`
	HealthCheck  HealthCheck   `json:"health_check,omitempty"`
	Env          []EnvVar      `json:"env,omitempty"` // environment of hooks and checks
	Environments []Environment `json:"environments"`
	Workflow     Workflow      `json:"workflow,omitzero"`
	Notify       []Channel     `json:"notify,omitempty"` // where its messages go
}

// Workflow holds the project's release rules. The runner ignores them; they
// live in the one configuration document so that a project is configured,
// diffed and audited in one place.
type Workflow struct {
	// FastForward: completing a release also fast-forwards the mainline
	// to the released commit (only ever a fast-forward).
	FastForward bool `json:"fast_forward,omitempty"`
	// AllowSelfTest lets a tester pass or fail a release they opened
	// themselves (small teams); strict by default. Nobody ever approves
	// their own release.
	AllowSelfTest bool `json:"allow_self_test,omitempty"`
}

// Strategies.
const (
	StrategyRsync = "rsync"
	StrategyGit   = "git"
	StrategyLocal = "local"
)

// Failure policies.
const (
	OnFailureHalt     = "halt"
	OnFailureContinue = "continue"
)

// DefaultKeepReleases is kept when a project says nothing.
const DefaultKeepReleases = 5

// Hooks are shell commands the project's admin configured. They are the
// only configured text that runs as a shell script, and each is passed to
// `sh -c` as one quoted argument: never pasted into another command.
type Hooks struct {
	PreDeploy   string `json:"pre_deploy,omitempty"`   // local, in the workspace, before publishing
	PostDeploy  string `json:"post_deploy,omitempty"`  // local, after every host is switched
	PreRelease  string `json:"pre_release,omitempty"`  // on each host, in the release dir, before the switch
	PostRelease string `json:"post_release,omitempty"` // on each host, after its switch
}

// HealthCheck runs on each host in the staged release before the switch; a
// non-zero exit or a timeout fails that host.
type HealthCheck struct {
	Command string   `json:"command,omitempty"`
	Timeout Duration `json:"timeout,omitempty"`
}

// EnvVar is one variable of the hooks' environment. A secret's value never
// travels in events: it is read at run time from a file or from the app's
// own environment, and redacted from every captured output.
type EnvVar struct {
	Name     string `json:"name"`
	Value    string `json:"value,omitempty"`
	FromFile string `json:"from_file,omitempty"`
	FromEnv  string `json:"from_env,omitempty"`
	Secret   bool   `json:"secret,omitempty"`
}

// Environment is one ordered stage of a project.
type Environment struct {
	Name      string `json:"name"`
	Path      string `json:"path"` // absolute deploy path on the hosts
	Hosts     []Host `json:"hosts,omitempty"`
	SSHKey    string `json:"ssh_key,omitempty"` // private key path on this machine
	Parallel  int    `json:"parallel,omitempty"`
	Batch     int    `json:"batch,omitempty"` // 0: all hosts in one batch
	OnFailure string `json:"on_failure,omitempty"`
	Approval  bool   `json:"approval,omitempty"`
	// DriftCheck is how often the app checks the hosts for drift on its
	// own (drift.checked by the runner); 0: never (a person still can).
	DriftCheck Duration `json:"drift_check,omitempty"`
}

// Host is one target: "user@host:port", optionally with its own path (hosts
// sharing a machine, or one odd server). In configuration it is either that
// string or {addr, path}.
type Host struct {
	Addr string `json:"addr"`
	Path string `json:"path,omitempty"`
}

// UnmarshalJSON accepts "user@host:port" or {"addr": ..., "path": ...}.
func (h *Host) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*h = Host{Addr: s}
		return nil
	}
	type plain Host
	var p plain
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf("host: want \"user@host:port\" or {addr, path}: %w", err)
	}
	*h = Host(p)
	return nil
}

// LocalHost is the one target of the local strategy: a path on this machine.
const LocalHost = "local"

// Targets returns the environment's hosts, each with its effective path. The
// local strategy has one target, LocalHost, at the environment's path.
func (p Project) Targets(env Environment) []Host {
	if p.Strategy == StrategyLocal {
		return []Host{{Addr: LocalHost, Path: env.Path}}
	}
	out := make([]Host, len(env.Hosts))
	for i, h := range env.Hosts {
		if h.Path == "" {
			h.Path = env.Path
		}
		out[i] = h
	}
	return out
}

// Environment returns the named environment.
func (p Project) Environment(name string) (Environment, bool) {
	for _, e := range p.Environments {
		if e.Name == name {
			return e, true
		}
	}
	return Environment{}, false
}

// Duration is a time.Duration written as "10s" in configuration.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want a string like \"10s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	if v < 0 {
		return fmt.Errorf("duration: %s is negative", s)
	}
	*d = Duration(v)
	return nil
}
