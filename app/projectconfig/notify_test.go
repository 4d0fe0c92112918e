package projectconfig

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"releasedesk/events/catalog"
)

// notifyProject is fullProject with a language and channels of every kind,
// setting every field of a channel and of its email settings, with values
// that are awkward in YAML.
func notifyProject() catalog.Project {
	p := fullProject()
	p.Language = "zh-CN"
	p.Notify = []catalog.Channel{
		{
			Name:         "ops-group",
			Kind:         "dingtalk",
			URL:          "https://oapi.dingtalk.com/robot/send?access_token=abc123",
			Secret:       catalog.SecretRef{FromFile: "/etc/releasedesk/dingtalk.secret"},
			Events:       []string{"approval.needed", "deployment.failed", "deployment.succeeded"},
			Environments: []string{"prod-eu"},
			Language:     "zh-CN",
			Templates: map[string]string{
				"approval.needed":   "{{.Project}} 的发布单 {{.Release}} 等待审批 {{range .Mentions}}{{.}} {{end}}",
				"deployment.failed": "# {{.Title}}\n{{.Reason}}\n\n{{.Link}}\n",
				"release.opened":    `"{{.Title}}": {{printf "%-10s" .Actor}}`,
			},
		},
		{Name: "wecom.dev", Kind: "wecom", URLFrom: catalog.SecretRef{FromEnv: "WECOM_URL"}, Events: []string{"test.needed"}},
		{Name: "fs", Kind: "feishu", URL: "https://open.feishu.cn/open-apis/bot/v2/hook/x", Secret: catalog.SecretRef{FromEnv: "FEISHU_SECRET"}, Events: []string{"drift.found"}, Language: "en"},
		{Name: "slack", Kind: "slack", URL: "https://hooks.slack.com/services/T/B/X", Events: []string{"release.completed", "rollback.done"}},
		{Name: "relay", Kind: "webhook", URL: "http://127.0.0.1:8080/hook", Secret: catalog.SecretRef{FromEnv: "HOOK_SECRET"}, Events: []string{"deployment.started"}, Environments: []string{"test", "prod-eu"}},
		{
			Name:   "release-mail",
			Kind:   "email",
			Events: []string{"deployment.failed", "deployment.interrupted"},
			Email: catalog.EmailSettings{
				Host: "smtp.example.com", Port: 465, Security: "tls", User: "releasedesk",
				Password: catalog.SecretRef{FromEnv: "SMTP_PASSWORD"},
				From:     `Release Desk "bot" <releasedesk@example.com>`,
				To:       []string{"role:approver", "user:alice", "ops@example.com", "Ops Team <ops-team@example.com>"},
			},
		},
	}
	return p
}

// TestProjectConfigNotifyRules: each rule of language and notify, with its
// path and reason.
func TestProjectConfigNotifyRules(t *testing.T) {
	ch := func(p *catalog.Project, name string) *catalog.Channel {
		for i := range p.Notify {
			if p.Notify[i].Name == name {
				return &p.Notify[i]
			}
		}
		panic(name)
	}
	mail := func(p *catalog.Project) *catalog.EmailSettings { return &ch(p, "release-mail").Email }
	cases := []struct {
		name string
		mut  func(p *catalog.Project)
		want []fieldWant
	}{
		{"bad language", func(p *catalog.Project) { p.Language = "zh" }, []fieldWant{{"language", `unknown language "zh": want zh-CN or en`}}},
		{"bad channel language", func(p *catalog.Project) { ch(p, "fs").Language = "fr" }, []fieldWant{{"notify[2].language", `unknown language "fr"`}}},
		{"english is fine", func(p *catalog.Project) { p.Language = "en" }, nil},
		{"name required", func(p *catalog.Project) { ch(p, "fs").Name = "" }, []fieldWant{{"notify[2].name", "required"}}},
		{"bad name", func(p *catalog.Project) { ch(p, "fs").Name = "Ops Group" }, []fieldWant{{"notify[2].name", `"Ops Group": want lower-case letters`}}},
		{"duplicate name", func(p *catalog.Project) { ch(p, "slack").Name = "fs" }, []fieldWant{{"notify[3].name", `duplicate channel "fs" (also notify[2])`}}},
		{"unknown kind", func(p *catalog.Project) { ch(p, "slack").Kind = "teams" }, []fieldWant{{"notify[3].kind", `unknown kind "teams": want dingtalk, wecom, feishu, slack, webhook, email`}}},
		{"kind required", func(p *catalog.Project) { ch(p, "slack").Kind = "" }, []fieldWant{{"notify[3].kind", "required"}}},
		{"missing secret for dingtalk", func(p *catalog.Project) { ch(p, "ops-group").Secret = catalog.SecretRef{} }, []fieldWant{{"notify[0].secret", "required for dingtalk"}}},
		{"missing secret for webhook", func(p *catalog.Project) { ch(p, "relay").Secret = catalog.SecretRef{} }, []fieldWant{{"notify[4].secret", "required for webhook"}}},
		{"secret given for slack", func(p *catalog.Project) { ch(p, "slack").Secret = catalog.SecretRef{FromEnv: "X"} }, []fieldWant{{"notify[3].secret", "slack takes no secret"}}},
		{"secret given for email", func(p *catalog.Project) { ch(p, "release-mail").Secret = catalog.SecretRef{FromEnv: "X"} }, []fieldWant{{"notify[5].secret", "email.password"}}},
		{"secret both ways", func(p *catalog.Project) { ch(p, "fs").Secret.FromFile = "/etc/x" }, []fieldWant{{"notify[2].secret", "set exactly one of from_file, from_env"}}},
		{"secret relative file", func(p *catalog.Project) { ch(p, "ops-group").Secret.FromFile = "dingtalk.secret" }, []fieldWant{{"notify[0].secret.from_file", "not absolute"}}},
		{"secret bad variable", func(p *catalog.Project) { ch(p, "fs").Secret.FromEnv = "A-B" }, []fieldWant{{"notify[2].secret.from_env", `"A-B": want the name of a variable`}}},
		{"url ftp", func(p *catalog.Project) { ch(p, "slack").URL = "ftp://hooks.slack.com/x" }, []fieldWant{{"notify[3].url", `scheme "ftp": want https`}}},
		{"url http to another host", func(p *catalog.Project) { ch(p, "relay").URL = "http://10.0.0.9:8080/hook" }, []fieldWant{{"notify[4].url", "plain http only to this machine"}}},
		{"url http to localhost is fine", func(p *catalog.Project) { ch(p, "relay").URL = "http://localhost/hook" }, nil},
		{"url http to ::1 is fine", func(p *catalog.Project) { ch(p, "relay").URL = "http://[::1]:9000/hook" }, nil},
		{"url wecom without key", func(p *catalog.Project) {
			ch(p, "wecom.dev").URLFrom = catalog.SecretRef{}
			ch(p, "wecom.dev").URL = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
		}, []fieldWant{{"notify[1].url", "key=KEY"}}},
		{"url and url_from", func(p *catalog.Project) {
			ch(p, "wecom.dev").URL = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"
		},
			[]fieldWant{{"notify[1].url_from", "set url or url_from, not both"}}},
		{"url_from a bad variable", func(p *catalog.Project) { ch(p, "wecom.dev").URLFrom = catalog.SecretRef{FromEnv: "1-bad"} },
			[]fieldWant{{"notify[1].url_from.from_env", "want the name of a variable"}}},
		{"url_from for email", func(p *catalog.Project) { ch(p, "release-mail").URLFrom = catalog.SecretRef{FromEnv: "X"} },
			[]fieldWant{{"notify[5].url_from", "email has no URL"}}},
		{"url dingtalk without token", func(p *catalog.Project) { ch(p, "ops-group").URL = "https://oapi.dingtalk.com/robot/send?token=x" }, []fieldWant{{"notify[0].url", "access_token=TOKEN"}}},
		{"url required", func(p *catalog.Project) { ch(p, "slack").URL = "" }, []fieldWant{{"notify[3].url", "required: the slack URL"}}},
		{"url not a URL", func(p *catalog.Project) { ch(p, "slack").URL = "hooks.slack.com/x" }, []fieldWant{{"notify[3].url", "not a URL: want https://host/path"}}},
		{"url for email", func(p *catalog.Project) { ch(p, "release-mail").URL = "https://smtp.example.com" }, []fieldWant{{"notify[5].url", "email has no URL"}}},
		{"no events", func(p *catalog.Project) { ch(p, "slack").Events = nil }, []fieldWant{{"notify[3].events", "at least one trigger"}}},
		{"unknown trigger", func(p *catalog.Project) { ch(p, "slack").Events[1] = "deployed" }, []fieldWant{{"notify[3].events[1]", `unknown trigger "deployed": want one of release.opened, test.needed`}}},
		{"trigger twice", func(p *catalog.Project) { ch(p, "slack").Events[1] = "release.completed" }, []fieldWant{{"notify[3].events[1]", `"release.completed" is listed twice (also notify[3].events[0])`}}},
		{"unknown template key", func(p *catalog.Project) { ch(p, "ops-group").Templates["deploy.failed"] = "x" }, []fieldWant{{`notify[0].templates["deploy.failed"]`, `unknown trigger "deploy.failed"`}}},
		{"template does not parse", func(p *catalog.Project) { ch(p, "ops-group").Templates["approved"] = "{{.Project" }, []fieldWant{{"notify[0].templates.approved", "does not parse"}}},
		{"template unknown field", func(p *catalog.Project) { ch(p, "ops-group").Templates["approved"] = "{{.Nope}}" }, []fieldWant{{"notify[0].templates.approved", "does not run"}}},
		{"template calls a template", func(p *catalog.Project) {
			ch(p, "ops-group").Templates["approved"] = `{{define "a"}}x{{end}}{{template "a"}}`
		}, []fieldWant{{"notify[0].templates.approved", "defines a template"}}},
		{"unknown environment", func(p *catalog.Project) { ch(p, "relay").Environments[1] = "production" }, []fieldWant{{"notify[4].environments[1]", `project shop_2 has no environment "production"`}}},
		{"environment twice", func(p *catalog.Project) { ch(p, "relay").Environments[1] = "test" }, []fieldWant{{"notify[4].environments[1]", `"test" is listed twice`}}},
		{"email without host", func(p *catalog.Project) { mail(p).Host = "" }, []fieldWant{{"notify[5].email.host", "required: the SMTP server"}}},
		{"email host with port", func(p *catalog.Project) { mail(p).Host = "smtp.example.com:25" }, []fieldWant{{"notify[5].email.host", "without a port"}}},
		{"bad port", func(p *catalog.Project) { mail(p).Port = 70000 }, []fieldWant{{"notify[5].email.port", "70000: want 1 to 65535 (0: the default, 587, or 465 for tls)"}}},
		{"negative port", func(p *catalog.Project) { mail(p).Port = -1 }, []fieldWant{{"notify[5].email.port", "-1: want 1 to 65535"}}},
		{"bad security", func(p *catalog.Project) { mail(p).Security = "ssl" }, []fieldWant{{"notify[5].email.security", `unknown security "ssl": want starttls, tls or none`}}},
		{"security none to another host", func(p *catalog.Project) { mail(p).Security = "none" }, []fieldWant{{"notify[5].email.security", "none only to a server on this machine"}}},
		{"security none to loopback is fine", func(p *catalog.Project) { mail(p).Security, mail(p).Host = "none", "127.0.0.1" }, nil},
		{"bad from", func(p *catalog.Project) { mail(p).From = "Release Desk" }, []fieldWant{{"notify[5].email.from", `"Release Desk" is not an email address`}}},
		{"from required", func(p *catalog.Project) { mail(p).From = "" }, []fieldWant{{"notify[5].email.from", "required"}}},
		{"bad recipient role", func(p *catalog.Project) { mail(p).To[0] = "role:admin" }, []fieldWant{{"notify[5].email.to[0]", `unknown role "admin"`}}},
		{"bad recipient user", func(p *catalog.Project) { mail(p).To[1] = "user:Alice Smith" }, []fieldWant{{"notify[5].email.to[1]", `"Alice Smith" is not a user name`}}},
		{"bad recipient address", func(p *catalog.Project) { mail(p).To[2] = "ops at example.com" }, []fieldWant{{"notify[5].email.to[2]", "want role:ROLE, user:NAME or an email address"}}},
		{"no recipient", func(p *catalog.Project) { mail(p).To = nil }, []fieldWant{{"notify[5].email.to", "at least one recipient"}}},
		{"password relative file", func(p *catalog.Project) { mail(p).Password = catalog.SecretRef{FromFile: "smtp.pw"} }, []fieldWant{{"notify[5].email.password.from_file", "not absolute"}}},
		{"email settings on a chat", func(p *catalog.Project) { ch(p, "slack").Email.Host = "smtp.example.com" }, []fieldWant{{"notify[3].email", "only for kind email"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := notifyProject()
			c.mut(&p)
			errs := Validate(p)
			if c.want == nil {
				if errs != nil {
					t.Fatalf("want no error, got %v", errs)
				}
				return
			}
			checkErrors(t, errs, c.want)
		})
	}
}

// TestProjectConfigNotifyDocuments: what only a document can get wrong in
// notify, with exact paths.
func TestProjectConfigNotifyDocuments(t *testing.T) {
	const doc = baseYAML + `language: zh-CN
notify:
  - name: ops-group
    kind: dingtalk
    url: https://oapi.dingtalk.com/robot/send?access_token=abc
    secret: {from_file: /etc/releasedesk/dingtalk.secret}
    events: [approval.needed, deployment.failed]
    environments: [test]
    templates:
      approval.needed: "{{.Project}} 的发布单 {{.Release}} 等待审批"
  - name: release-mail
    kind: email
    events: [deployment.failed]
    email:
      host: smtp.example.com
      port: 587
      security: starttls
      user: releasedesk
      password: {from_env: SMTP_PASSWORD}
      from: Release Desk <releasedesk@example.com>
      to: [role:approver, user:alice, ops@example.com]
`
	p := mustParse(t, []byte(doc), "")
	if p.Language != "zh-CN" || len(p.Notify) != 2 || p.Notify[0].Secret.FromFile != "/etc/releasedesk/dingtalk.secret" ||
		p.Notify[1].Email.Password.FromEnv != "SMTP_PASSWORD" || p.Notify[1].Email.Port != 587 ||
		p.Notify[0].Templates["approval.needed"] != "{{.Project}} 的发布单 {{.Release}} 等待审批" {
		t.Fatalf("read: %#v", p)
	}
	y := func(old, new string) []byte { return editDoc(t, doc, old, new) }
	cases := []struct {
		name string
		doc  []byte
		want []fieldWant
	}{
		{"literal secret", y("secret: {from_file: /etc/releasedesk/dingtalk.secret}", `secret: "abc"`),
			[]fieldWant{{"notify[0].secret", "a literal secret is not kept in the configuration: write {from_file: PATH} or {from_env: NAME} (line"}}},
		{"literal password", y("password: {from_env: SMTP_PASSWORD}", "password: hunter2"),
			[]fieldWant{{"notify[1].email.password", "a literal secret is not kept in the configuration"}}},
		{"literal number password", y("password: {from_env: SMTP_PASSWORD}", "password: 123456"),
			[]fieldWant{{"notify[1].email.password", "a literal secret"}}},
		{"secret as a list", y("secret: {from_file: /etc/releasedesk/dingtalk.secret}", "secret: [a]"),
			[]fieldWant{{"notify[0].secret", "want {from_file: PATH} or {from_env: NAME}, got a list"}}},
		{"unknown field of a secret", y("{from_file: /etc/releasedesk/dingtalk.secret}", "{from_fle: /etc/releasedesk/dingtalk.secret}"),
			[]fieldWant{{"notify[0].secret.from_fle", `unknown field (did you mean "from_file"?)`}}},
		{"unknown field of a channel", y("    kind: dingtalk", "    kind: dingtalk\n    evnets: [approved]"),
			[]fieldWant{{"notify[0].evnets", `unknown field (did you mean "events"?)`}}},
		{"unknown field of email", y("      port: 587", "      port: 587\n      ssl_mode: strict"),
			[]fieldWant{{"notify[1].email.ssl_mode", "unknown field; known fields: host, port, security"}}},
		{"unknown template key", y("      approval.needed:", "      approval.neded:"),
			[]fieldWant{{`notify[0].templates["approval.neded"]`, `unknown field (did you mean "approval.needed"?)`}}},
		{"template does not parse", y(`"{{.Project}} 的发布单`, `"{{.Project 的发布单`),
			[]fieldWant{{`notify[0].templates["approval.needed"]`, "does not parse"}}},
		{"port not a number", y("port: 587", "port: submission"),
			[]fieldWant{{"notify[1].email.port", "want an integer"}}},
		{"notify not a list", y("notify:\n", "notify: {}\nx_notify:\n"),
			[]fieldWant{{"notify", "want a list, got a mapping"}, {"x_notify", "unknown field"}}},
		{"channel not a mapping", y("  - name: ops-group", "  - ops-group\n  - name: ops-group"),
			[]fieldWant{{"notify[0]", "want a mapping of name, kind, url"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Parse(c.doc, "")
			checkErrors(t, err, c.want)
			if !reflect.ValueOf(p).IsZero() {
				t.Errorf("a refused configuration returned %#v", p)
			}
		})
	}
	// JSON says the same.
	_, err := Parse([]byte(strings.Replace(baseJSON, `"keep_releases": 5,`,
		`"keep_releases": 5, "notify": [{"name": "x", "kind": "webhook", "url": "https://h.example/x", "secret": "s3cret", "events": ["approved"]}],`, 1)), "")
	checkErrors(t, err, []fieldWant{{"notify[0].secret", "a literal secret is not kept"}})
	if err != nil && strings.Contains(err.Error(), "s3cret") {
		t.Errorf("the refusal repeats the secret: %v", err)
	}
}

func TestProjectConfigNotifyDiff(t *testing.T) {
	old := notifyProject()
	if d := Diff(old, notifyProject()); d != nil {
		t.Errorf("equal configurations: %q", d)
	}
	p := notifyProject()
	p.Language = "en"
	ops := &p.Notify[0]
	ops.URL = "https://oapi.dingtalk.com/robot/send?access_token=NEWTOKEN"
	ops.Secret = catalog.SecretRef{FromEnv: "DINGTALK_SECRET"}
	ops.Events = []string{"approval.needed", "deployment.failed", "rollback.done"}
	ops.Templates = map[string]string{"approval.needed": "{{.Release}} waits", "approved": "ok"}
	p.Notify[5].Email.Port = 0
	p.Notify[5].Email.Password = catalog.SecretRef{FromFile: "/etc/releasedesk/smtp"}
	p.Notify[5].Email.To = []string{"role:approver"}
	p.Notify = append(p.Notify[:3], p.Notify[4:]...) // slack removed
	p.Notify = append(p.Notify, catalog.Channel{Name: "new-hook", Kind: "webhook", URL: "https://h.example/x?token=abc", Secret: catalog.SecretRef{FromEnv: "H"}, Events: []string{"approved"}})
	if errs := Validate(p); errs != nil {
		t.Fatalf("changed project is invalid: %v", errs)
	}
	got := Diff(old, p)
	want := []string{
		"~ language: zh-CN -> en",
		"- notify: slack (slack)",
		"+ notify: new-hook (webhook)",
		"~ notify[ops-group].url: https://oapi.dingtalk.com/robot/send?access_token=... (its token changed; not shown)",
		"~ notify[ops-group].secret: from_file /etc/releasedesk/dingtalk.secret -> from_env DINGTALK_SECRET",
		"- notify[ops-group].events: deployment.succeeded",
		"+ notify[ops-group].events: rollback.done",
		"- notify[ops-group].templates: release.opened",
		"- notify[ops-group].templates: deployment.failed",
		`+ notify[ops-group].templates: approved ok`,
		`~ notify[ops-group].templates[approval.needed]: "{{.Project}} 的发布单 {{.Release}} 等待审批 {{range .Mentions}}{{.}} {{end}}" -> "{{.Release}} waits"`,
		"~ notify[release-mail].email.port: 465 -> default",
		"~ notify[release-mail].email.password: from_env SMTP_PASSWORD -> from_file /etc/releasedesk/smtp",
		"- notify[release-mail].email.to: user:alice",
		"- notify[release-mail].email.to: ops@example.com",
		`- notify[release-mail].email.to: "Ops Team <ops-team@example.com>"`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, line := range got {
		if strings.Contains(line, "NEWTOKEN") || strings.Contains(line, "abc123") {
			t.Errorf("a robot's token in the diff: %s", line)
		}
	}
	created := Diff(catalog.Project{}, notifyProject())
	if last := created[len(created)-1]; last != "+ notify: ops-group, wecom.dev, fs, slack, relay, release-mail" {
		t.Errorf("created: last line %q", last)
	}
}

// TestProjectConfigAPIExampleParses: the example of docs/api.md, with its
// language and channels, is a valid configuration.
func TestProjectConfigAPIExampleParses(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "api.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "## The project configuration document")
	if !ok {
		t.Fatal("api.md: no project configuration document")
	}
	_, rest, ok = strings.Cut(rest, "```yaml\n")
	if !ok {
		t.Fatal("api.md: no yaml block")
	}
	block, _, _ := strings.Cut(rest, "```")
	p := mustParse(t, []byte(block), "")
	if p.Language != "en" || len(p.Notify) != 2 || p.Notify[1].Email.Password.FromEnv != "SMTP_PASSWORD" {
		t.Errorf("api.md example: language %q, notify %#v", p.Language, p.Notify)
	}
}

// TestProjectConfigDiffHidesHookPaths: a Slack or Feishu hook's token is
// its path, which the diff leaves out as it leaves out a query's values.
func TestProjectConfigDiffHidesHookPaths(t *testing.T) {
	old := notifyProject()
	p := notifyProject()
	for i := range p.Notify {
		switch p.Notify[i].Kind {
		case "feishu":
			p.Notify[i].URL = "https://open.feishu.cn/open-apis/bot/v2/hook/new-token"
		case "slack":
			p.Notify[i].URL = "https://hooks.slack.com/services/T/B/NEW"
		}
	}
	got := strings.Join(Diff(old, p), "\n")
	for _, want := range []string{
		"~ notify[fs].url: https://open.feishu.cn/... (its token changed; not shown)",
		"~ notify[slack].url: https://hooks.slack.com/... (its token changed; not shown)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the diff lacks %q:\n%s", want, got)
		}
	}
	for _, token := range []string{"new-token", "NEW", "/hook/x", "T/B/X"} {
		if strings.Contains(got, token) {
			t.Errorf("the diff shows %q:\n%s", token, got)
		}
	}
}
