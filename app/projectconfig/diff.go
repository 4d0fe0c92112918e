package projectconfig

import (
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"releasedesk/events/catalog"
)

// Diff describes what changed from old to new, one readable line a
// change, in a stable order (the fields' canonical order; environments, env
// variables and hosts by name or address):
//
//	~ environments[production].parallel: 10 -> 20
//	+ environments[test].hosts: www@10.0.0.6:22
//	- exclude: node_modules
//
// "~" is a changed value, "+" something added, "-" something removed. It
// is empty when the two configurations are the same (a nil list and an
// empty one are the same). When old is the zero Project (the first
// configuration of a project) it returns "+ project created" and the main
// fields. A long or multi-line value (a hook) is shown quoted and cut.
func Diff(old, new catalog.Project) []string {
	d := &projectDiffer{}
	if reflect.ValueOf(old).IsZero() {
		d.line("+ project created")
		d.added("id", new.ID)
		d.added("title", new.Title)
		d.added("repo", new.Repo)
		d.added("branch", new.Branch)
		d.added("strategy", new.Strategy)
		names := make([]string, len(new.Environments))
		for i, e := range new.Environments {
			names[i] = e.Name
		}
		if len(names) > 0 {
			d.line("+ environments: " + strings.Join(names, ", "))
		}
		if len(new.Notify) > 0 {
			d.line("+ notify: " + strings.Join(keysOf(new.Notify, channelName), ", "))
		}
		return d.out
	}

	d.str("id", old.ID, new.ID)
	d.str("title", old.Title, new.Title)
	d.str("language", old.Language, new.Language)
	d.str("repo", old.Repo, new.Repo)
	d.str("branch", old.Branch, new.Branch)
	d.str("strategy", old.Strategy, new.Strategy)
	d.str("build", old.Build, new.Build)
	d.set("exclude", old.Exclude, new.Exclude)
	d.set("shared", old.Shared, new.Shared)
	d.set("version_files", old.VersionFiles, new.VersionFiles)
	d.int("keep_releases", old.KeepReleases, new.KeepReleases)
	d.str("hooks.pre_deploy", old.Hooks.PreDeploy, new.Hooks.PreDeploy)
	d.str("hooks.post_deploy", old.Hooks.PostDeploy, new.Hooks.PostDeploy)
	d.str("hooks.pre_release", old.Hooks.PreRelease, new.Hooks.PreRelease)
	d.str("hooks.post_release", old.Hooks.PostRelease, new.Hooks.PostRelease)
	d.str("health_check.command", old.HealthCheck.Command, new.HealthCheck.Command)
	if old.HealthCheck.Timeout != new.HealthCheck.Timeout {
		d.changed("health_check.timeout", time.Duration(old.HealthCheck.Timeout).String(), time.Duration(new.HealthCheck.Timeout).String())
	}
	d.envVars(old.Env, new.Env)
	d.environments(old, new)
	d.bool("workflow.fast_forward", old.Workflow.FastForward, new.Workflow.FastForward)
	d.bool("workflow.allow_self_test", old.Workflow.AllowSelfTest, new.Workflow.AllowSelfTest)
	d.channels(old.Notify, new.Notify)
	return d.out
}

type projectDiffer struct{ out []string }

func (d *projectDiffer) line(s string) { d.out = append(d.out, s) }

func (d *projectDiffer) changed(path, a, b string) { d.line("~ " + path + ": " + a + " -> " + b) }

func (d *projectDiffer) added(path, v string) {
	if v != "" {
		d.line("+ " + path + ": " + showValue(v))
	}
}

func (d *projectDiffer) str(path, a, b string) {
	if a != b {
		d.changed(path, showValue(a), showValue(b))
	}
}

func (d *projectDiffer) int(path string, a, b int) {
	if a != b {
		d.changed(path, strconv.Itoa(a), strconv.Itoa(b))
	}
}

func (d *projectDiffer) bool(path string, a, b bool) {
	if a != b {
		d.changed(path, strconv.FormatBool(a), strconv.FormatBool(b))
	}
}

// set diffs a list whose order does not matter to the runner: removed
// items, then added ones; a change of order alone is one "~" line.
func (d *projectDiffer) set(path string, a, b []string) {
	diffKeyed(d, path, a, b, func(s string) string { return s }, func(s string) string { return showValue(s) }, nil)
}

// diffKeyed diffs two lists of items with a key: "- path: item" for each
// removed, "+ path: item" for each added, change(a, b) for items in both,
// and, when nothing was added or removed but the order differs, one line
// with both orders.
func diffKeyed[T any](d *projectDiffer, path string, a, b []T, key func(T) string, show func(T) string, change func(x, y T)) {
	inA, inB := map[string]int{}, map[string]bool{}
	for i, x := range a {
		if _, dup := inA[key(x)]; !dup {
			inA[key(x)] = i
		}
	}
	for _, y := range b {
		inB[key(y)] = true
	}
	for _, x := range a {
		if !inB[key(x)] {
			d.line("- " + path + ": " + show(x))
		}
	}
	added := false
	for _, y := range b {
		if _, ok := inA[key(y)]; !ok {
			d.line("+ " + path + ": " + show(y))
			added = true
		}
	}
	if change != nil {
		for _, y := range b {
			if i, ok := inA[key(y)]; ok {
				change(a[i], y)
			}
		}
	}
	ka, kb := keysOf(a, key), keysOf(b, key)
	if added || len(inA) != len(inB) || slices.Equal(ka, kb) {
		return // nothing but adds and removes, or nothing at all
	}
	if len(ka) == len(kb) {
		d.line("~ " + path + ": order " + showList(ka) + " -> " + showList(kb))
	} else {
		// The same items, listed a different number of times.
		d.line("~ " + path + ": " + showList(ka) + " -> " + showList(kb))
	}
}

func keysOf[T any](xs []T, key func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = key(x)
	}
	return out
}

func sameSet(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func showList(xs []string) string {
	shown := make([]string, len(xs))
	for i, x := range xs {
		shown[i] = showValue(x)
	}
	return "[" + strings.Join(shown, ", ") + "]"
}

func (d *projectDiffer) envVars(a, b []catalog.EnvVar) {
	diffKeyed(d, "env", a, b,
		func(v catalog.EnvVar) string { return v.Name },
		showEnvVar,
		func(x, y catalog.EnvVar) {
			p := "env[" + y.Name + "]"
			d.str(p+".value", x.Value, y.Value)
			d.str(p+".from_file", x.FromFile, y.FromFile)
			d.str(p+".from_env", x.FromEnv, y.FromEnv)
			d.bool(p+".secret", x.Secret, y.Secret)
		})
}

func showEnvVar(v catalog.EnvVar) string {
	var parts []string
	switch {
	case v.FromFile != "":
		parts = append(parts, "from_file "+showValue(v.FromFile))
	case v.FromEnv != "":
		parts = append(parts, "from_env "+showValue(v.FromEnv))
	case v.Secret:
		// A secret's value is refused by validation; never show one.
		parts = append(parts, "value [redacted]")
	default:
		parts = append(parts, "value "+showValue(v.Value))
	}
	if v.Secret {
		parts = append(parts, "secret")
	}
	return showValue(v.Name) + " (" + strings.Join(parts, ", ") + ")"
}

func (d *projectDiffer) environments(old, new catalog.Project) {
	name := func(e catalog.Environment) string { return e.Name }
	inOld := map[string]bool{}
	for _, e := range old.Environments {
		inOld[e.Name] = true
	}
	inNew := map[string]bool{}
	for _, e := range new.Environments {
		inNew[e.Name] = true
	}
	for _, e := range old.Environments {
		if !inNew[e.Name] {
			d.line("- environments[" + e.Name + "]")
		}
	}
	for _, e := range new.Environments {
		p := "environments[" + e.Name + "]"
		i := slices.IndexFunc(old.Environments, func(o catalog.Environment) bool { return o.Name == e.Name })
		if i < 0 {
			d.line("+ " + p)
			d.addedEnvironment(p, e)
			continue
		}
		d.environment(p, old.Environments[i], e)
	}
	ka, kb := keysOf(old.Environments, name), keysOf(new.Environments, name)
	if !slices.Equal(ka, kb) && sameSet(inOld, inNew) {
		d.line("~ environments: order " + strings.Join(ka, ", ") + " -> " + strings.Join(kb, ", "))
	}
}

func (d *projectDiffer) addedEnvironment(p string, e catalog.Environment) {
	d.added(p+".path", e.Path)
	for _, h := range e.Hosts {
		d.line("+ " + p + ".hosts: " + showHost(h))
	}
	d.added(p+".ssh_key", e.SSHKey)
	for _, f := range []struct {
		name string
		v    int
	}{{"parallel", e.Parallel}, {"batch", e.Batch}} {
		if f.v != 0 {
			d.line("+ " + p + "." + f.name + ": " + strconv.Itoa(f.v))
		}
	}
	d.added(p+".on_failure", e.OnFailure)
	if e.Approval {
		d.line("+ " + p + ".approval: true")
	}
	if e.DriftCheck != 0 {
		d.line("+ " + p + ".drift_check: " + time.Duration(e.DriftCheck).String())
	}
}

func showHost(h catalog.Host) string {
	if h.Path != "" {
		return showValue(h.Addr) + " (path " + showValue(h.Path) + ")"
	}
	return showValue(h.Addr)
}

func (d *projectDiffer) environment(p string, a, b catalog.Environment) {
	d.str(p+".path", a.Path, b.Path)
	diffKeyed(d, p+".hosts", a.Hosts, b.Hosts,
		func(h catalog.Host) string { return h.Addr },
		showHost,
		func(x, y catalog.Host) { d.str(p+".hosts["+y.Addr+"].path", x.Path, y.Path) })
	d.str(p+".ssh_key", a.SSHKey, b.SSHKey)
	d.int(p+".parallel", a.Parallel, b.Parallel)
	d.int(p+".batch", a.Batch, b.Batch)
	d.str(p+".on_failure", a.OnFailure, b.OnFailure)
	d.bool(p+".approval", a.Approval, b.Approval)
	if a.DriftCheck != b.DriftCheck {
		d.changed(p+".drift_check", showInterval(a.DriftCheck), showInterval(b.DriftCheck))
	}
}

// showInterval is a periodic check's interval as a diff line shows it.
func showInterval(d catalog.Duration) string {
	if d == 0 {
		return "off"
	}
	return time.Duration(d).String()
}

// maxShownValue bounds a value in a diff line; the event carries the whole
// configuration anyway.
const maxShownValue = 120

// showValue is a value as a diff line shows it: as is when it is a plain
// word, path or address; quoted when empty, spaced, multi-line or long.
func showValue(s string) string {
	plain := s != ""
	for _, c := range s {
		if unicode.IsSpace(c) || unicode.IsControl(c) || c == '"' || c == ',' || c == '[' || c == ']' {
			plain = false
			break
		}
	}
	if plain && utf8.RuneCountInString(s) <= maxShownValue && !strings.Contains(s, "->") {
		return s
	}
	if r := []rune(s); len(r) > maxShownValue {
		return strconv.Quote(string(r[:maxShownValue])) + "... (" + strconv.Itoa(len(s)) + " bytes)"
	}
	return strconv.Quote(s)
}
