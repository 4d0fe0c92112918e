package notify

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// check runs a rule over cases: want "" is accepted, else a part of the
// refusal.
func check(t *testing.T, rule string, f func(string) error, cases map[string]string) {
	t.Helper()
	for in, want := range cases {
		err := f(in)
		switch {
		case want == "" && err != nil:
			t.Errorf("%s(%q): %v, want accepted", rule, in, err)
		case want != "" && err == nil:
			t.Errorf("%s(%q): accepted, want %q", rule, in, want)
		case want != "" && !strings.Contains(err.Error(), want):
			t.Errorf("%s(%q): %v, want %q", rule, in, err, want)
		}
	}
}

func TestCheckKind(t *testing.T) {
	cases := map[string]string{"": "required", "teams": `unknown kind "teams"`, "DingTalk": "unknown kind"}
	for _, k := range Kinds {
		cases[k] = ""
	}
	check(t, "CheckKind", CheckKind, cases)
}

func TestCheckTrigger(t *testing.T) {
	cases := map[string]string{"": "unknown trigger", "deployed": `unknown trigger "deployed"`, "Approved": "unknown trigger"}
	for _, tr := range Triggers {
		cases[tr] = ""
	}
	check(t, "CheckTrigger", CheckTrigger, cases)
	if len(Triggers) != 14 {
		t.Errorf("%d triggers, the issue lists 14", len(Triggers))
	}
}

func TestCheckLanguage(t *testing.T) {
	check(t, "CheckLanguage", CheckLanguage, map[string]string{
		"": "", "en": "", "zh-CN": "", "zh": "unknown language", "zh-cn": "unknown language", "fr": "want zh-CN or en",
	})
}

func TestCheckName(t *testing.T) {
	check(t, "CheckName", CheckName, map[string]string{
		"ops-group": "", "a": "", "9.mail_x": "", "": "required", "Ops": "lower-case", "-x": "lower-case",
		strings.Repeat("a", 64): "", strings.Repeat("a", 65): "at most 64", "a b": "lower-case",
	})
}

func TestCheckSecretRequired(t *testing.T) {
	for _, c := range []struct {
		kind string
		has  bool
		want string
	}{
		{KindDingTalk, true, ""}, {KindDingTalk, false, "required for dingtalk"},
		{KindFeishu, true, ""}, {KindFeishu, false, "required for feishu"},
		{KindWebhook, true, ""}, {KindWebhook, false, "required for webhook"},
		{KindWeCom, false, ""}, {KindWeCom, true, "wecom takes no secret"},
		{KindSlack, false, ""}, {KindSlack, true, "slack takes no secret"},
		{KindEmail, false, ""}, {KindEmail, true, "email.password"},
	} {
		err := CheckSecretRequired(c.kind, c.has)
		if (c.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("CheckSecretRequired(%s, %v): %v, want %q", c.kind, c.has, err, c.want)
		}
	}
}

func TestCheckURL(t *testing.T) {
	for _, c := range []struct{ kind, url, want string }{
		{KindSlack, "https://hooks.slack.com/services/T/B/X", ""},
		{KindWebhook, "http://127.0.0.1:8080/x", ""},
		{KindWebhook, "http://127.1.2.3/x", ""},
		{KindWebhook, "http://localhost/x", ""},
		{KindWebhook, "http://[::1]:80/x", ""},
		{KindWebhook, "http://10.0.0.1/x", "plain http only to this machine"},
		{KindWebhook, "http://localhost.evil.example/x", "plain http only to this machine"},
		{KindWebhook, "ftp://h.example/x", `scheme "ftp"`},
		{KindWebhook, "file:///etc/passwd", "not a URL"},
		{KindWebhook, "https://user:pw@h.example/x", "user name or password"},
		{KindWebhook, "https://h.example/a b", "space"},
		{KindWebhook, "h.example/x", "not a URL"},
		{KindWebhook, "", "required: the webhook URL"},
		{KindWebhook, "https://h.example/" + strings.Repeat("x", 2100), "at most 2048"},
		{KindWeCom, "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc", ""},
		{KindWeCom, "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=", "key=KEY"},
		{KindWeCom, "https://qyapi.weixin.qq.com/cgi-bin/webhook/send", "key=KEY"},
		{KindDingTalk, "https://oapi.dingtalk.com/robot/send?access_token=abc", ""},
		{KindDingTalk, "https://oapi.dingtalk.com/robot/send?key=abc", "access_token=TOKEN"},
		{KindEmail, "", ""},
		{KindEmail, "https://smtp.example.com", "email has no URL"},
	} {
		err := CheckURL(c.kind, c.url)
		if (c.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("CheckURL(%s, %q): %v, want %q", c.kind, c.url, err, c.want)
		}
	}
}

// TestCheckURLKeepsTheToken: a refusal never repeats a URL, which may
// carry a robot's token.
func TestCheckURLKeepsTheToken(t *testing.T) {
	for _, u := range []string{"oapi.dingtalk.com/robot/send?access_token=SECRET1", "https://h:bad/x?key=SECRET1", "http://10.0.0.1/?access_token=SECRET1"} {
		if err := CheckURL(KindDingTalk, u); err == nil || strings.Contains(err.Error(), "SECRET1") {
			t.Errorf("CheckURL(%q): %v", u, err)
		}
	}
}

func TestCheckEmailSettings(t *testing.T) {
	check(t, "CheckEmailHost", CheckEmailHost, map[string]string{
		"smtp.example.com": "", "localhost": "", "127.0.0.1": "", "::1": "", "2001:db8::25": "",
		"": "required", "smtp.example.com:25": "without a port", "-smtp": "host name", "a b": "host name",
	})
	for port, want := range map[int]string{0: "", 25: "", 587: "", 65535: "", -1: "want 1 to 65535", 65536: "want 1 to 65535"} {
		if err := CheckEmailPort(port); (want == "") != (err == nil) {
			t.Errorf("CheckEmailPort(%d): %v", port, err)
		}
	}
	for _, c := range []struct{ sec, host, want string }{
		{"", "smtp.example.com", ""}, {"starttls", "smtp.example.com", ""}, {"tls", "smtp.example.com", ""},
		{"none", "localhost", ""}, {"none", "127.0.0.1", ""}, {"none", "smtp.example.com", "only to a server on this machine"},
		{"ssl", "smtp.example.com", `unknown security "ssl"`}, {"TLS", "smtp.example.com", "unknown security"},
	} {
		err := CheckEmailSecurity(c.sec, c.host)
		if (c.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("CheckEmailSecurity(%q, %q): %v, want %q", c.sec, c.host, err, c.want)
		}
	}
	check(t, "CheckEmailFrom", CheckEmailFrom, map[string]string{
		"releasedesk@example.com": "", "Release Desk <releasedesk@example.com>": "", "": "required",
		"Release Desk": "not an email address", "a@b, c@d": "not an email address",
	})
	check(t, "CheckRecipient", CheckRecipient, map[string]string{
		"role:developer": "", "role:tester": "", "role:approver": "", "role:manager": "",
		"role:admin": `unknown role "admin"`, "role:": "unknown role",
		"user:alice": "", "user:bob.smith": "", "user:": "not a user name", "user:Alice": "not a user name",
		"ops@example.com": "", "Ops <ops@example.com>": "", "ops": "want role:ROLE, user:NAME or an email address",
		"": "want role:ROLE",
	})
}

func TestCheckTemplate(t *testing.T) {
	check(t, "CheckTemplate", CheckTemplate, map[string]string{
		"": "",
		"{{.Project}} 的发布单 {{.Release}} 等待审批":                             "",
		"{{range .Mentions}}@{{.}} {{end}}":                               "",
		"{{range $i, $m := .Mentions}}{{$i}}{{$m}}{{else}}nobody{{end}}":  "",
		`{{if eq .Trigger "approved"}}ok{{else}}{{.Reason}}{{end}}`:       "",
		`{{printf "%-20s|" .Actor}}`:                                      "",
		"{{.Project":                                                      "does not parse",
		"{{.Nope}}":                                                       "does not run",
		"{{.Project.Nope}}":                                               "does not run",
		"{{nope .Project}}":                                               "does not parse",
		`{{define "x"}}a{{end}}`:                                          "defines a template",
		`{{block "x" .}}a{{end}}`:                                         "defines a template",
		`{{if true}}{{template "message" .}}{{end}}`:                      `calls template "message"`,
		"{{range 1000000000}}x{{end}}":                                    "only over a field",
		"{{range $.Mentions}}x{{end}}":                                    "only over a field",
		"{{range .Mentions}}{{range $.Mentions}}x{{end}}{{end}}":          "a range inside a range",
		"{{range .Mentions}}{{if true}}{{range .}}x{{end}}{{end}}{{end}}": "a range inside a range",
		`{{printf "%0999999999d" 1}}`:                                     "a width or precision of at most 99",
		`{{printf "%.999s" .Title}}`:                                      "a width or precision of at most 99",
		`{{printf "%*d" 999999999 1}}`:                                    "a width or precision of at most 99",
		strings.Repeat("x", 4097):                                         "at most 4096",
	})
}

// TestTemplateDataDocumented: every field a template may use is named in
// the list and carries a comment; the sample sets each one, so a
// template using any field runs when it is saved.
func TestTemplateDataDocumented(t *testing.T) {
	want := []string{"Trigger", "Project", "Environment", "Release", "Title", "Branch", "Version", "Commit", "Actor", "Time", "Link", "Deployment", "Reason", "Mentions"}
	rt := reflect.TypeOf(TemplateData{})
	var got []string
	for i := 0; i < rt.NumField(); i++ {
		got = append(got, rt.Field(i).Name)
		if reflect.ValueOf(SampleData).Field(i).IsZero() {
			t.Errorf("SampleData leaves %s empty", rt.Field(i).Name)
		}
		if err := CheckTemplate("{{." + rt.Field(i).Name + "}}"); err != nil {
			t.Errorf("%s: %v", rt.Field(i).Name, err)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("TemplateData fields %v, want %v", got, want)
	}
}

// TestCheckTemplateIsQuick: a hostile template is refused or runs in no
// time at save.
func TestCheckTemplateIsQuick(t *testing.T) {
	start := time.Now()
	for _, src := range []string{
		strings.Repeat("{{range .Mentions}}", 100) + strings.Repeat("{{end}}", 100),
		strings.Repeat("{{.Title}}", 400),
		strings.Repeat(`{{printf "%99s" .Title}}`, 150),
	} {
		_ = CheckTemplate(src)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %s", d)
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST": true, "127.0.0.1": true, "127.9.9.9": true, "::1": true, "[::1]": true,
		"10.0.0.1": false, "localhost.example.com": false, "": false, "0.0.0.0": false,
	} {
		if got := IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v", host, got)
		}
	}
}
