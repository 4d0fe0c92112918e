package projectconfig

import (
	"strings"

	"releasedesk/app/notify"
	"releasedesk/events/catalog"
	"releasedesk/events/text"
)

// The reader of notify: its channels, their secrets and email settings.

func (r *reader) channel(n *docNode, path string) catalog.Channel {
	var c catalog.Channel
	if n.kind != nodeMap {
		r.fail(path, n.line, text.New("want a mapping of %s, got %s", strings.Join(channelFields, ", "), n.describe()))
		return c
	}
	r.fields(n, path, channelFields, func(k string, n *docNode, path string) {
		switch k {
		case "name":
			c.Name = r.str(n, path)
		case "kind":
			c.Kind = r.str(n, path)
		case "url":
			c.URL = r.str(n, path)
		case "url_from":
			c.URLFrom = r.secretRef(n, path)
		case "secret":
			c.Secret = r.secretRef(n, path)
		case "events":
			c.Events = r.strList(n, path)
		case "environments":
			c.Environments = r.strList(n, path)
		case "language":
			c.Language = r.str(n, path)
		case "templates":
			c.Templates = r.templates(n, path)
		case "email":
			c.Email = r.email(n, path)
		}
	})
	return c
}

// secretRef reads {from_file: PATH} or {from_env: NAME}. A secret written
// in the configuration itself is refused: the configuration is stored in
// the event log, shown, exported and diffed.
func (r *reader) secretRef(n *docNode, path string) catalog.SecretRef {
	var s catalog.SecretRef
	switch n.kind {
	case nodeNull:
		return s
	case nodeMap:
	case nodeSeq:
		r.fail(path, n.line, text.New("want {from_file: PATH} or {from_env: NAME}, got %s", n.describe()))
		return s
	default:
		r.fail(path, n.line, text.New("a literal secret is not kept in the configuration: write {from_file: PATH} or {from_env: NAME}"))
		return s
	}
	r.fields(n, path, secretRefFields, func(k string, n *docNode, path string) {
		switch k {
		case "from_file":
			s.FromFile = r.str(n, path)
		case "from_env":
			s.FromEnv = r.str(n, path)
		}
	})
	return s
}

// templates reads a mapping of trigger to template text; an unknown
// trigger is an unknown key, with a suggestion when it is close.
func (r *reader) templates(n *docNode, path string) map[string]string {
	var out map[string]string
	r.fields(n, path, notify.Triggers, func(k string, n *docNode, path string) {
		if out == nil {
			out = map[string]string{}
		}
		out[k] = r.str(n, path)
	})
	return out
}

func (r *reader) email(n *docNode, path string) catalog.EmailSettings {
	var e catalog.EmailSettings
	r.fields(n, path, emailFields, func(k string, n *docNode, path string) {
		switch k {
		case "host":
			e.Host = r.str(n, path)
		case "port":
			e.Port = r.integer(n, path)
		case "security":
			e.Security = r.str(n, path)
		case "user":
			e.User = r.str(n, path)
		case "password":
			e.Password = r.secretRef(n, path)
		case "from":
			e.From = r.str(n, path)
		case "to":
			e.To = r.strList(n, path)
		}
	})
	return e
}
