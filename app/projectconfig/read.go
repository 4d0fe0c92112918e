package projectconfig

import (
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"releasedesk/events/catalog"
	"releasedesk/events/text"
)

// The reader: the tree into a catalog.Project, keys and types checked.

type reader struct {
	errs Errors
	// guessed are the paths an unknown key was probably meant for: what
	// validation says of them ("hosts: required" after "hostz: unknown
	// field (did you mean "hosts"?)") would only repeat it.
	guessed []string
}

func (r *reader) fail(path string, line int, reason text.Text) {
	if line > 0 {
		reason = text.New("%s (line %d)", reason, line)
	}
	r.errs = append(r.errs, FieldError{Path: path, Reason: reason})
}

// coverage returns a test of whether reading already failed at a path, at
// a path above it or at one below it.
func (r *reader) coverage() func(path string) bool {
	exact := map[string]bool{}     // paths that failed (or were guessed at)
	ancestors := map[string]bool{} // paths above those
	for _, fe := range r.errs {
		exact[fe.Path] = true
		for _, a := range pathsAbove(fe.Path) {
			ancestors[a] = true
		}
	}
	for _, g := range r.guessed {
		exact[g] = true
	}
	return func(path string) bool {
		if exact[""] || exact[path] || ancestors[path] {
			return true
		}
		for _, a := range pathsAbove(path) {
			if exact[a] {
				return true
			}
		}
		return false
	}
}

// pathsAbove are the paths above path: "a", "a.b" for "a.b[2]".
func pathsAbove(path string) []string {
	var out []string
	for i := 1; i < len(path); i++ {
		if path[i] == '.' || path[i] == '[' {
			out = append(out, path[:i])
		}
	}
	return out
}

var plainKeyRe = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func fieldPath(path, key string) string {
	if !plainKeyRe.MatchString(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func indexPath(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// fields walks a mapping: each known key to fn, unknown and duplicate keys
// refused. A null is an absent mapping.
func (r *reader) fields(n *docNode, path string, known []string, fn func(key string, v *docNode, p string)) {
	if n.kind == nodeNull {
		return
	}
	if n.kind != nodeMap {
		r.fail(path, n.line, text.New("want a mapping of %s, got %s", strings.Join(known, ", "), n.describe()))
		return
	}
	seen := map[string]int{}
	for i, k := range n.keys {
		p := fieldPath(path, k)
		if first, dup := seen[k]; dup {
			r.fail(p, n.kline[i], text.New("duplicate key (first at line %d)", first))
			continue
		}
		seen[k] = n.kline[i]
		if !slices.Contains(known, k) {
			if s := suggest(k, known); s != "" {
				r.fail(p, n.kline[i], text.New("unknown field (did you mean %q?)", s))
				if !slices.Contains(n.keys, s) {
					r.guessed = append(r.guessed, fieldPath(path, s))
				}
			} else {
				r.fail(p, n.kline[i], text.New("unknown field; known fields: %s", strings.Join(known, ", ")))
			}
			continue
		}
		fn(k, n.vals[i], p)
	}
}

// suggest is the known name closest to an unknown key, if it is close.
func suggest(key string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(strings.ToLower(key), k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

func (r *reader) str(n *docNode, path string) string {
	switch {
	case n.kind == nodeNull:
		return ""
	case n.kind == nodeString, n.loose && n.kind != nodeMap && n.kind != nodeSeq:
		return n.text
	}
	r.fail(path, n.line, text.New("want a string, got %s", n.describe()))
	return ""
}

func (r *reader) integer(n *docNode, path string) int {
	switch n.kind {
	case nodeNull:
		return 0
	case nodeInt:
		if n.ival < math.MinInt32 || n.ival > math.MaxInt32 {
			r.fail(path, n.line, text.New("the number %s is out of range", n.text))
			return 0
		}
		return int(n.ival)
	}
	r.fail(path, n.line, text.New("want an integer, got %s", n.describe()))
	return 0
}

func (r *reader) boolean(n *docNode, path string) bool {
	switch n.kind {
	case nodeNull:
		return false
	case nodeBool:
		return n.bval
	}
	r.fail(path, n.line, text.New("want true or false, got %s", n.describe()))
	return false
}

func (r *reader) duration(n *docNode, path string) catalog.Duration {
	if n.kind == nodeNull {
		return 0
	}
	if n.kind != nodeString && !(n.loose && n.kind == nodeOther) {
		r.fail(path, n.line, text.New("want a duration such as \"10s\" or \"1m30s\", got %s", n.describe()))
		return 0
	}
	d, err := time.ParseDuration(n.text)
	if err != nil {
		r.fail(path, n.line, text.New("want a duration such as \"10s\" or \"1m30s\", got %s", n.describe()))
		return 0
	}
	return catalog.Duration(d)
}

// interval reads how often something recurs: a duration, or the number 0
// for never (as absent).
func (r *reader) interval(n *docNode, path string) catalog.Duration {
	if n.kind == nodeInt && n.ival == 0 {
		return 0
	}
	return r.duration(n, path)
}

func (r *reader) list(n *docNode, path string, fn func(it *docNode, p string)) {
	switch n.kind {
	case nodeNull:
		return
	case nodeSeq:
		for i, it := range n.items {
			fn(it, indexPath(path, i))
		}
		return
	}
	r.fail(path, n.line, text.New("want a list, got %s", n.describe()))
}

func (r *reader) strList(n *docNode, path string) []string {
	var out []string
	r.list(n, path, func(it *docNode, p string) {
		if it.kind == nodeNull {
			r.fail(p, it.line, text.New("want a string, got null"))
			return
		}
		out = append(out, r.str(it, p))
	})
	return out
}

// The fields of each part of a configuration, in their canonical order.
var (
	projectFields     = []string{"id", "title", "language", "repo", "branch", "strategy", "build", "exclude", "shared", "version_files", "keep_releases", "hooks", "health_check", "env", "environments", "workflow", "notify"}
	workflowFields    = []string{"fast_forward", "allow_self_test"}
	hooksFields       = []string{"pre_deploy", "post_deploy", "pre_release", "post_release"}
	healthCheckFields = []string{"command", "timeout"}
	envVarFields      = []string{"name", "value", "from_file", "from_env", "secret"}
	environmentFields = []string{"name", "path", "hosts", "ssh_key", "parallel", "batch", "on_failure", "approval", "drift_check"}
	hostFields        = []string{"addr", "path"}
	channelFields     = []string{"name", "kind", "url", "url_from", "secret", "events", "environments", "language", "templates", "email"}
	secretRefFields   = []string{"from_file", "from_env"}
	emailFields       = []string{"host", "port", "security", "user", "password", "from", "to"}
)

func (r *reader) project(n *docNode) catalog.Project {
	var p catalog.Project
	if n.kind == nodeNull {
		r.fail("", 0, text.New("the document is empty"))
		return p
	}
	r.fields(n, "", projectFields, func(k string, v *docNode, path string) {
		switch k {
		case "id":
			p.ID = r.str(v, path)
		case "title":
			p.Title = r.str(v, path)
		case "language":
			p.Language = r.str(v, path)
		case "repo":
			p.Repo = r.str(v, path)
		case "branch":
			p.Branch = r.str(v, path)
		case "strategy":
			p.Strategy = r.str(v, path)
		case "build":
			p.Build = r.str(v, path)
		case "exclude":
			p.Exclude = r.strList(v, path)
		case "shared":
			p.Shared = r.strList(v, path)
		case "version_files":
			p.VersionFiles = r.strList(v, path)
		case "keep_releases":
			p.KeepReleases = r.integer(v, path)
		case "hooks":
			r.fields(v, path, hooksFields, func(k string, v *docNode, path string) {
				s := r.str(v, path)
				switch k {
				case "pre_deploy":
					p.Hooks.PreDeploy = s
				case "post_deploy":
					p.Hooks.PostDeploy = s
				case "pre_release":
					p.Hooks.PreRelease = s
				case "post_release":
					p.Hooks.PostRelease = s
				}
			})
		case "health_check":
			r.fields(v, path, healthCheckFields, func(k string, v *docNode, path string) {
				switch k {
				case "command":
					p.HealthCheck.Command = r.str(v, path)
				case "timeout":
					p.HealthCheck.Timeout = r.duration(v, path)
				}
			})
		case "env":
			r.list(v, path, func(it *docNode, path string) {
				p.Env = append(p.Env, r.envVar(it, path))
			})
		case "environments":
			r.list(v, path, func(it *docNode, path string) {
				p.Environments = append(p.Environments, r.environment(it, path))
			})
		case "workflow":
			r.fields(v, path, workflowFields, func(k string, v *docNode, path string) {
				switch k {
				case "fast_forward":
					p.Workflow.FastForward = r.boolean(v, path)
				case "allow_self_test":
					p.Workflow.AllowSelfTest = r.boolean(v, path)
				}
			})
		case "notify":
			r.list(v, path, func(it *docNode, path string) {
				p.Notify = append(p.Notify, r.channel(it, path))
			})
		}
	})
	return p
}

func (r *reader) envVar(n *docNode, path string) catalog.EnvVar {
	var v catalog.EnvVar
	if n.kind != nodeMap {
		r.fail(path, n.line, text.New("want a mapping of %s, got %s", strings.Join(envVarFields, ", "), n.describe()))
		return v
	}
	r.fields(n, path, envVarFields, func(k string, n *docNode, path string) {
		switch k {
		case "name":
			v.Name = r.str(n, path)
		case "value":
			v.Value = r.str(n, path)
		case "from_file":
			v.FromFile = r.str(n, path)
		case "from_env":
			v.FromEnv = r.str(n, path)
		case "secret":
			v.Secret = r.boolean(n, path)
		}
	})
	return v
}

func (r *reader) environment(n *docNode, path string) catalog.Environment {
	var e catalog.Environment
	if n.kind != nodeMap {
		r.fail(path, n.line, text.New("want a mapping of %s, got %s", strings.Join(environmentFields, ", "), n.describe()))
		return e
	}
	r.fields(n, path, environmentFields, func(k string, n *docNode, path string) {
		switch k {
		case "name":
			e.Name = r.str(n, path)
		case "path":
			e.Path = r.str(n, path)
		case "hosts":
			r.list(n, path, func(it *docNode, path string) {
				e.Hosts = append(e.Hosts, r.host(it, path))
			})
		case "ssh_key":
			e.SSHKey = r.str(n, path)
		case "parallel":
			e.Parallel = r.integer(n, path)
		case "batch":
			e.Batch = r.integer(n, path)
		case "on_failure":
			e.OnFailure = r.str(n, path)
		case "approval":
			e.Approval = r.boolean(n, path)
		case "drift_check":
			e.DriftCheck = r.interval(n, path)
		}
	})
	return e
}

// host reads "user@host:port" or {addr, path}.
func (r *reader) host(n *docNode, path string) catalog.Host {
	var h catalog.Host
	switch {
	case n.kind == nodeMap:
		r.fields(n, path, hostFields, func(k string, n *docNode, path string) {
			switch k {
			case "addr":
				h.Addr = r.str(n, path)
			case "path":
				h.Path = r.str(n, path)
			}
		})
	case n.kind == nodeString, n.loose && n.kind != nodeSeq && n.kind != nodeNull:
		h.Addr = n.text
	default:
		r.fail(path, n.line, text.New("want \"user@host:port\" or {addr, path}, got %s", n.describe()))
	}
	return h
}
