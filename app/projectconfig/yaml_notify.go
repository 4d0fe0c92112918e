package projectconfig

import (
	"slices"

	"go.yaml.in/yaml/v3"

	"releasedesk/events/catalog"
)

// The canonical YAML of notify: each channel's fields in the order of
// channelFields, secrets as flow mappings ({from_file: "..."}), templates
// in the triggers' order.

func yamlPutChannels(root *yaml.Node, channels []catalog.Channel) {
	if len(channels) == 0 {
		return
	}
	seq := &yaml.Node{Kind: yaml.SequenceNode}
	for _, c := range channels {
		m := yamlMapping()
		yamlPutStr(m, "name", c.Name)
		yamlPutStr(m, "kind", c.Kind)
		yamlPutStr(m, "url", c.URL)
		yamlPutSecretRef(m, "url_from", c.URLFrom)
		yamlPutSecretRef(m, "secret", c.Secret)
		yamlPutList(m, "events", c.Events)
		yamlPutList(m, "environments", c.Environments)
		yamlPutStr(m, "language", c.Language)
		if len(c.Templates) > 0 {
			keys := make([]string, 0, len(c.Templates))
			for k := range c.Templates {
				keys = append(keys, k)
			}
			slices.SortFunc(keys, compareTriggers)
			tm := yamlMapping()
			for _, k := range keys {
				v := yamlStr(c.Templates[k])
				if v.Style == 0 {
					v.Style = yaml.DoubleQuotedStyle // "{{" would read as a mapping
				}
				yamlPut(tm, k, v)
			}
			yamlPut(m, "templates", tm)
		}
		em := yamlMapping()
		yamlPutStr(em, "host", c.Email.Host)
		yamlPutInt(em, "port", c.Email.Port)
		yamlPutStr(em, "security", c.Email.Security)
		yamlPutStr(em, "user", c.Email.User)
		yamlPutSecretRef(em, "password", c.Email.Password)
		yamlPutStr(em, "from", c.Email.From)
		yamlPutList(em, "to", c.Email.To)
		yamlPut(m, "email", em)
		seq.Content = append(seq.Content, m)
	}
	yamlPut(root, "notify", seq)
}

func yamlPutSecretRef(m *yaml.Node, key string, s catalog.SecretRef) {
	ref := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
	if s.FromFile != "" {
		ref.Content = append(ref.Content, yamlStr("from_file"), yamlQuoted(s.FromFile))
	}
	if s.FromEnv != "" {
		ref.Content = append(ref.Content, yamlStr("from_env"), yamlQuoted(s.FromEnv))
	}
	yamlPut(m, key, ref)
}
