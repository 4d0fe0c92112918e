package projectconfig

import (
	"net/url"
	"slices"
	"strconv"
	"strings"

	"releasedesk/app/notify"

	"releasedesk/events/catalog"
)

// The diff of notify: channels by name, then each one's fields.

func channelName(c catalog.Channel) string { return c.Name }

func (d *projectDiffer) channels(a, b []catalog.Channel) {
	diffKeyed(d, "notify", a, b, channelName,
		func(c catalog.Channel) string { return showValue(c.Name) + " (" + showValue(c.Kind) + ")" },
		func(x, y catalog.Channel) {
			p := "notify[" + y.Name + "]"
			d.str(p+".kind", x.Kind, y.Kind)
			d.url(p+".url", x.URL, y.URL, y.Kind)
			d.secretRef(p+".url_from", x.URLFrom, y.URLFrom)
			d.secretRef(p+".secret", x.Secret, y.Secret)
			d.set(p+".events", x.Events, y.Events)
			d.set(p+".environments", x.Environments, y.Environments)
			d.str(p+".language", x.Language, y.Language)
			d.templates(p+".templates", x.Templates, y.Templates)
			d.email(p+".email", x.Email, y.Email)
		})
}

// url diffs a robot's URL without showing its query: a DingTalk robot's
// access_token or a WeCom robot's key is as good as a password to anyone
// who reads the diff. A Slack or Feishu hook's token is its path: that is
// left out too.
func (d *projectDiffer) url(path, a, b, kind string) {
	if a == b {
		return
	}
	sa, sb := showURL(a), showURL(b)
	if kind == notify.KindSlack || kind == notify.KindFeishu {
		sa, sb = withoutPath(sa), withoutPath(sb)
	}
	if sa == sb {
		d.line("~ " + path + ": " + sa + " (its token changed; not shown)")
		return
	}
	d.changed(path, sa, sb)
}

// withoutPath is a shown URL cut after its host: a hook whose path is its
// token.
func withoutPath(shown string) string {
	scheme, rest, ok := strings.Cut(shown, "://")
	if !ok {
		return shown
	}
	host, _, cut := strings.Cut(rest, "/")
	if !cut {
		return shown
	}
	return scheme + "://" + host + "/..."
}

// showURL is a URL with the values of its query left out.
func showURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.RawQuery == "" {
		if err != nil && raw != "" {
			return "[not a URL]"
		}
		return showValue(raw)
	}
	q := u.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	u.RawQuery = ""
	for i, k := range keys {
		if i > 0 {
			u.RawQuery += "&"
		}
		u.RawQuery += url.QueryEscape(k) + "=..."
	}
	u.User = nil
	return showValue(u.String())
}

// showSecretRef shows where a secret is read from (a path or a variable's
// name, not secret themselves); never a secret.
func showSecretRef(s catalog.SecretRef) string {
	switch {
	case s.FromFile != "" && s.FromEnv != "":
		return "from_file " + showValue(s.FromFile) + ", from_env " + showValue(s.FromEnv)
	case s.FromFile != "":
		return "from_file " + showValue(s.FromFile)
	case s.FromEnv != "":
		return "from_env " + showValue(s.FromEnv)
	}
	return "none"
}

func (d *projectDiffer) secretRef(path string, a, b catalog.SecretRef) {
	if a != b {
		d.changed(path, showSecretRef(a), showSecretRef(b))
	}
}

func (d *projectDiffer) templates(path string, a, b map[string]string) {
	ka, kb := sortedTriggers(a), sortedTriggers(b)
	diffKeyed(d, path, ka, kb, func(k string) string { return k },
		func(k string) string {
			if v, ok := b[k]; ok {
				return k + " " + showValue(v)
			}
			return k
		},
		func(k, _ string) { d.str(path+"["+k+"]", a[k], b[k]) })
}

func sortedTriggers(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareTriggers)
	return keys
}

func (d *projectDiffer) email(p string, a, b catalog.EmailSettings) {
	d.str(p+".host", a.Host, b.Host)
	if a.Port != b.Port {
		d.changed(p+".port", showPort(a.Port), showPort(b.Port))
	}
	d.str(p+".security", a.Security, b.Security)
	d.str(p+".user", a.User, b.User)
	d.secretRef(p+".password", a.Password, b.Password)
	d.str(p+".from", a.From, b.From)
	d.set(p+".to", a.To, b.To)
}

func showPort(port int) string {
	if port == 0 {
		return "default"
	}
	return strconv.Itoa(port)
}
