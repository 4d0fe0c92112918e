package projectconfig

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"releasedesk/events/catalog"
)

// MarshalYAML writes the canonical YAML of a configuration: the
// fields in the order of DESIGN.md section 5, empty ones left out, lists
// of words and hosts in flow style with double quotes, scripts of several
// lines as literal blocks. Parse reads it back to the same Project. It does
// not validate p.
func MarshalYAML(p catalog.Project) ([]byte, error) {
	root := yamlMapping()
	yamlPutStr(root, "id", p.ID)
	yamlPutStr(root, "title", p.Title)
	yamlPutStr(root, "language", p.Language)
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
		if e.DriftCheck != 0 {
			yamlPutStr(m, "drift_check", time.Duration(e.DriftCheck).String())
		}
		envs.Content = append(envs.Content, m)
	}
	yamlPut(root, "environments", envs)
	wf := yamlMapping()
	yamlPutBool(wf, "fast_forward", p.Workflow.FastForward)
	yamlPutBool(wf, "allow_self_test", p.Workflow.AllowSelfTest)
	yamlPut(root, "workflow", wf)
	yamlPutChannels(root, p.Notify)

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
