package app

import (
	"bytes"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"releasedesk/events/catalog"

	"go.yaml.in/yaml/v3"
)

// DiffProjects describes what changed from old to new, one readable line a
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
func DiffProjects(old, new catalog.Project) []string {
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
		return d.out
	}

	d.str("id", old.ID, new.ID)
	d.str("title", old.Title, new.Title)
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
	return d.out
}

type projectDiffer struct{ out []string }

func (d *projectDiffer) line(s string) { d.out = append(d.out, s) }

func (d *projectDiffer) changed(path, a, b string) { d.line("~ " + path + ": " + a + " -> " + b) }

func (d *projectDiffer) added(path, v string) {
	if v != "" {
		d.line("+ " + path + ": " + pcShowValue(v))
	}
}

func (d *projectDiffer) str(path, a, b string) {
	if a != b {
		d.changed(path, pcShowValue(a), pcShowValue(b))
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
	pcDiffKeyed(d, path, a, b, func(s string) string { return s }, func(s string) string { return pcShowValue(s) }, nil)
}

// pcDiffKeyed diffs two lists of items with a key: "- path: item" for each
// removed, "+ path: item" for each added, change(a, b) for items in both,
// and, when nothing was added or removed but the order differs, one line
// with both orders.
func pcDiffKeyed[T any](d *projectDiffer, path string, a, b []T, key func(T) string, show func(T) string, change func(x, y T)) {
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
	ka, kb := pcKeys(a, key), pcKeys(b, key)
	if added || len(inA) != len(inB) || slices.Equal(ka, kb) {
		return // nothing but adds and removes, or nothing at all
	}
	if len(ka) == len(kb) {
		d.line("~ " + path + ": order " + pcShowList(ka) + " -> " + pcShowList(kb))
	} else {
		// The same items, listed a different number of times.
		d.line("~ " + path + ": " + pcShowList(ka) + " -> " + pcShowList(kb))
	}
}

func pcKeys[T any](xs []T, key func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = key(x)
	}
	return out
}

func pcSameSet(a, b map[string]bool) bool {
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

func pcShowList(xs []string) string {
	shown := make([]string, len(xs))
	for i, x := range xs {
		shown[i] = pcShowValue(x)
	}
	return "[" + strings.Join(shown, ", ") + "]"
}

func (d *projectDiffer) envVars(a, b []catalog.EnvVar) {
	pcDiffKeyed(d, "env", a, b,
		func(v catalog.EnvVar) string { return v.Name },
		pcShowEnvVar,
		func(x, y catalog.EnvVar) {
			p := "env[" + y.Name + "]"
			d.str(p+".value", x.Value, y.Value)
			d.str(p+".from_file", x.FromFile, y.FromFile)
			d.str(p+".from_env", x.FromEnv, y.FromEnv)
			d.bool(p+".secret", x.Secret, y.Secret)
		})
}

func pcShowEnvVar(v catalog.EnvVar) string {
	var parts []string
	switch {
	case v.FromFile != "":
		parts = append(parts, "from_file "+pcShowValue(v.FromFile))
	case v.FromEnv != "":
		parts = append(parts, "from_env "+pcShowValue(v.FromEnv))
	case v.Secret:
		// A secret's value is refused by validation; never show one.
		parts = append(parts, "value [redacted]")
	default:
		parts = append(parts, "value "+pcShowValue(v.Value))
	}
	if v.Secret {
		parts = append(parts, "secret")
	}
	return pcShowValue(v.Name) + " (" + strings.Join(parts, ", ") + ")"
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
	ka, kb := pcKeys(old.Environments, name), pcKeys(new.Environments, name)
	if !slices.Equal(ka, kb) && pcSameSet(inOld, inNew) {
		d.line("~ environments: order " + strings.Join(ka, ", ") + " -> " + strings.Join(kb, ", "))
	}
}

func (d *projectDiffer) addedEnvironment(p string, e catalog.Environment) {
	d.added(p+".path", e.Path)
	for _, h := range e.Hosts {
		d.line("+ " + p + ".hosts: " + pcShowHost(h))
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
}

func pcShowHost(h catalog.Host) string {
	if h.Path != "" {
		return pcShowValue(h.Addr) + " (path " + pcShowValue(h.Path) + ")"
	}
	return pcShowValue(h.Addr)
}

func (d *projectDiffer) environment(p string, a, b catalog.Environment) {
	d.str(p+".path", a.Path, b.Path)
	pcDiffKeyed(d, p+".hosts", a.Hosts, b.Hosts,
		func(h catalog.Host) string { return h.Addr },
		pcShowHost,
		func(x, y catalog.Host) { d.str(p+".hosts["+y.Addr+"].path", x.Path, y.Path) })
	d.str(p+".ssh_key", a.SSHKey, b.SSHKey)
	d.int(p+".parallel", a.Parallel, b.Parallel)
	d.int(p+".batch", a.Batch, b.Batch)
	d.str(p+".on_failure", a.OnFailure, b.OnFailure)
	d.bool(p+".approval", a.Approval, b.Approval)
}

// maxShownValue bounds a value in a diff line; the event carries the whole
// configuration anyway.
const maxShownValue = 120

// pcShowValue is a value as a diff line shows it: as is when it is a plain
// word, path or address; quoted when empty, spaced, multi-line or long.
func pcShowValue(s string) string {
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

// MarshalProjectYAML writes the canonical YAML of a configuration: the
// fields in the order of DESIGN.md section 5, empty ones left out, lists
// of words and hosts in flow style with double quotes, scripts of several
// lines as literal blocks. ParseProjectConfig reads it back to the same Project. It does
// not validate p.
func MarshalProjectYAML(p catalog.Project) ([]byte, error) {
	root := yamlMapping()
	yamlPutStr(root, "id", p.ID)
	yamlPutStr(root, "title", p.Title)
	yamlPutStr(root, "repo", p.Repo)
	yamlPutStr(root, "branch", p.Branch)
	yamlPutStr(root, "strategy", p.Strategy)
	yamlPutStr(root, "build", p.Build)
	yamlPutList(root, "exclude", p.Exclude)
	yamlPutList(root, "shared", p.Shared)
	yamlPutList(root, "version_files", p.VersionFiles)
	yamlPutInt(root, "keep_releases", p.KeepReleases)
	hooks := yamlMapping()
	yamlPutStr(hooks, "pre_deploy", p.Hooks.PreDeploy)
	yamlPutStr(hooks, "post_deploy", p.Hooks.PostDeploy)
	yamlPutStr(hooks, "pre_release", p.Hooks.PreRelease)
	yamlPutStr(hooks, "post_release", p.Hooks.PostRelease)
	yamlPut(root, "hooks", hooks)
	hc := yamlMapping()
	yamlPutStr(hc, "command", p.HealthCheck.Command)
	if p.HealthCheck.Timeout != 0 {
		yamlPutStr(hc, "timeout", time.Duration(p.HealthCheck.Timeout).String())
	}
	yamlPut(root, "health_check", hc)
	if len(p.Env) > 0 {
		env := &yaml.Node{Kind: yaml.SequenceNode}
		for _, v := range p.Env {
			m := yamlMapping()
			yamlPutStr(m, "name", v.Name)
			yamlPutStr(m, "value", v.Value)
			yamlPutStr(m, "from_file", v.FromFile)
			yamlPutStr(m, "from_env", v.FromEnv)
			yamlPutBool(m, "secret", v.Secret)
			env.Content = append(env.Content, m)
		}
		yamlPut(root, "env", env)
	}
	envs := &yaml.Node{Kind: yaml.SequenceNode}
	for _, e := range p.Environments {
		m := yamlMapping()
		yamlPutStr(m, "name", e.Name)
		yamlPutStr(m, "path", e.Path)
		if len(e.Hosts) > 0 {
			hosts := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
			for _, h := range e.Hosts {
				if h.Path == "" {
					hosts.Content = append(hosts.Content, yamlQuoted(h.Addr))
					continue
				}
				hosts.Style = 0
				hm := yamlMapping()
				hm.Style = yaml.FlowStyle
				hm.Content = append(hm.Content, yamlStr("addr"), yamlQuoted(h.Addr), yamlStr("path"), yamlQuoted(h.Path))
				hosts.Content = append(hosts.Content, hm)
			}
			yamlPut(m, "hosts", hosts)
		}
		yamlPutStr(m, "ssh_key", e.SSHKey)
		yamlPutInt(m, "parallel", e.Parallel)
		yamlPutInt(m, "batch", e.Batch)
		yamlPutStr(m, "on_failure", e.OnFailure)
		yamlPutBool(m, "approval", e.Approval)
		envs.Content = append(envs.Content, m)
	}
	yamlPut(root, "environments", envs)
	wf := yamlMapping()
	yamlPutBool(wf, "fast_forward", p.Workflow.FastForward)
	yamlPutBool(wf, "allow_self_test", p.Workflow.AllowSelfTest)
	yamlPut(root, "workflow", wf)

	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func yamlMapping() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode} }

func yamlStr(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if strings.Contains(strings.TrimRight(s, "\n"), "\n") {
		n.Style = yaml.LiteralStyle
	}
	return n
}

func yamlPut(m *yaml.Node, key string, v *yaml.Node) {
	if len(v.Content) == 0 && v.Kind != yaml.ScalarNode {
		return
	}
	m.Content = append(m.Content, yamlStr(key), v)
}

func yamlPutStr(m *yaml.Node, key, v string) {
	if v != "" {
		yamlPut(m, key, yamlStr(v))
	}
}

func yamlPutInt(m *yaml.Node, key string, v int) {
	if v != 0 {
		yamlPut(m, key, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(v)})
	}
}

func yamlPutBool(m *yaml.Node, key string, v bool) {
	if v {
		yamlPut(m, key, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"})
	}
}

func yamlPutList(m *yaml.Node, key string, xs []string) {
	if len(xs) == 0 {
		return
	}
	seq := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, x := range xs {
		seq.Content = append(seq.Content, yamlQuoted(x))
	}
	yamlPut(m, key, seq)
}

// yamlQuoted is a string in double quotes, as DESIGN.md writes list items.
func yamlQuoted(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s, Style: yaml.DoubleQuotedStyle}
}
