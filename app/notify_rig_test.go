package app_test

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"releasedesk/app"
	"releasedesk/app/httpapi/apitest"
	"releasedesk/app/notify"
	"releasedesk/app/notify/notifytest"
	"releasedesk/app/outbox"
	"releasedesk/projections"
)

// Helpers for the notification tests: one real receiver per kind of
// channel (app/notify/notifytest), a project's six channels pointing at
// them with their secrets read from files and the environment, and the
// project's people with the handles their messages call them by.

// quickRetries makes the desks this test opens retry a failed message
// after 50 ms, then at most every 200 ms.
func quickRetries(t *testing.T) {
	saved := app.NotifyRetry
	app.NotifyRetry = outbox.Retry{First: 50 * time.Millisecond, Max: 200 * time.Millisecond}
	t.Cleanup(func() { app.NotifyRetry = saved })
}

// notifyRig is a receiver for each of the six kinds of channel.
type notifyRig struct {
	ding, wecom, feishu, slack, hook *notifytest.Receiver
	mail                             *notifytest.SMTPServer
	secrets                          string // the directory of the secret files
}

const (
	hookSecretEnv = "RELEASEDESK_TEST_HOOK_SECRET"
	smtpUser      = "releasedesk"
)

// rigChannel is one of the rig's channels: its name in the project, its
// kind and language, and its receiver (nil for email).
type rigChannel struct {
	name, kind, language string
	rc                   *notifytest.Receiver
}

func (r *notifyRig) channels() []rigChannel {
	return []rigChannel{
		{"ding", notify.KindDingTalk, "zh-CN", r.ding},
		{"wecom", notify.KindWeCom, "zh-CN", r.wecom},
		{"feishu", notify.KindFeishu, "en", r.feishu},
		{"slack", notify.KindSlack, "en", r.slack},
		{"hook", notify.KindWebhook, "en", r.hook},
		{"mail", notify.KindEmail, "zh-CN", nil},
	}
}

// startNotifyRig starts the receivers and puts their secrets where the
// channels read them: DingTalk's and Feishu's signing secrets and the
// SMTP password in files, the webhook's in the environment. The SMTP
// server takes STARTTLS with the test's own CA, which the desk trusts
// through app.EmailTLS.
func startNotifyRig(t *testing.T) *notifyRig {
	t.Helper()
	r := &notifyRig{secrets: t.TempDir()}
	secret := func(name, value string) {
		if err := os.WriteFile(filepath.Join(r.secrets, name), []byte(value+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	secret("dingtalk.secret", "SEC-ding-0123456789")
	secret("feishu.secret", "fs-secret-abcdef")
	secret("smtp.password", "pw-7Hq!x9-mail")
	t.Setenv(hookSecretEnv, "hook-secret-42")
	r.ding = notifytest.DingTalk(t, "tok-ding", "SEC-ding-0123456789", notifytest.Options{})
	r.wecom = notifytest.WeCom(t, "k-wecom-1", notifytest.Options{})
	r.feishu = notifytest.Feishu(t, "hook-fs", "fs-secret-abcdef", notifytest.Options{})
	r.slack = notifytest.Slack(t, "/services/T0/B0/xyz", notifytest.Options{})
	r.hook = notifytest.Webhook(t, "hook-secret-42", notify.DefaultWebhookTolerance, notifytest.Options{})
	certs, roots := notifytest.Certificate(t)
	r.mail = notifytest.StartSMTP(t, notifytest.SMTPOptions{Security: notifytest.SecurityStartTLS, TLS: certs,
		Users: map[string]string{smtpUser: "pw-7Hq!x9-mail"}, Mechs: []string{"PLAIN"}})
	saved := app.EmailTLS
	app.EmailTLS = &tls.Config{RootCAs: roots}
	t.Cleanup(func() { app.EmailTLS = saved })
	return r
}

// config is the project's language and notify keys (YAML, to append to a
// project's configuration): the six channels, each listening for every
// trigger.
func (r *notifyRig) config() string {
	events := "[" + strings.Join(notify.Triggers, ", ") + "]"
	file := func(name string) string { return fmt.Sprintf("{from_file: %q}", filepath.Join(r.secrets, name)) }
	return fmt.Sprintf(`language: en
notify:
  - name: ding
    kind: dingtalk
    url: %q
    secret: %s
    events: %s
    language: zh-CN
  - name: wecom
    kind: wecom
    url: %q
    events: %s
    language: zh-CN
  - name: feishu
    kind: feishu
    url: %q
    secret: %s
    events: %s
    language: en
  - name: slack
    kind: slack
    url: %q
    events: %s
  - name: hook
    kind: webhook
    url: %q
    secret: {from_env: %s}
    events: %s
  - name: mail
    kind: email
    events: %s
    language: zh-CN
    email:
      host: 127.0.0.1
      port: %d
      security: starttls
      user: %s
      password: %s
      from: Release Desk <releasedesk@example.com>
      to: [role:approver, user:max]
`, r.ding.Endpoint, file("dingtalk.secret"), events, r.wecom.Endpoint, events,
		r.feishu.Endpoint, file("feishu.secret"), events, r.slack.Endpoint, events,
		r.hook.Endpoint, hookSecretEnv, events, events, r.mail.Port, smtpUser, file("smtp.password"))
}

// waitMessages waits until every receiver of the rig has accepted n
// messages and the SMTP server n mails, and the desk has no message
// left to settle.
func (r *notifyRig) waitMessages(t *testing.T, e *apitest.Env, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		done := len(r.mail.Mails()) >= n && e.Desk.PendingMessages() == 0
		var counts []string
		for _, ch := range r.channels() {
			if ch.rc != nil {
				got := len(ch.rc.Accepted())
				done = done && got >= n
				counts = append(counts, fmt.Sprintf("%s %d", ch.name, got))
			}
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s, mail %d, %d pending; want %d each", timeout, strings.Join(counts, ", "),
				len(r.mail.Mails()), e.Desk.PendingMessages(), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// person is one of the project's people and the handles messages call
// them by.
type person struct {
	name, role, token              string
	email, mobile, feishu, slackID string
}

// handle is how a kind of channel calls on p ("" for none).
func (p person) handle(kind string) string {
	switch kind {
	case notify.KindDingTalk, notify.KindWeCom:
		return p.mobile
	case notify.KindFeishu:
		return p.feishu
	case notify.KindSlack:
		return p.slackID
	}
	return ""
}

// addPeople makes the project's developer, tester, approver and manager,
// each with every contact handle set through the API.
func addPeople(e *apitest.Env, root, project string) map[string]person {
	e.T.Helper()
	out := map[string]person{}
	for i, p := range []person{
		{name: "dev", role: "developer"}, {name: "tess", role: "tester"},
		{name: "alice", role: "approver"}, {name: "max", role: "manager"},
	} {
		p.email = p.name + "@example.com"
		p.mobile = fmt.Sprintf("1380000000%d", i+1)
		p.feishu = fmt.Sprintf("ou_%s%04d", p.name, i+1)
		p.slackID = fmt.Sprintf("U%sX%d", strings.ToUpper(p.name), i+1)
		p.token = e.AddUser(root, p.name, false, map[string][]string{project: {p.role}})
		e.Must(http.StatusOK, "PUT", "/api/v1/users/"+p.name+"/contacts", root,
			map[string]string{"email": p.email, "mobile": p.mobile, "feishu": p.feishu, "slack": p.slackID})
		out[p.role] = p
	}
	return out
}

// deliveriesByID are the desk's deliveries of a release, by id.
func deliveriesByID(e *apitest.Env, release string) map[string]projections.Delivery {
	out := map[string]projections.Delivery{}
	for _, d := range e.Desk.Set.Notifications.OfRelease(release) {
		out[d.ID] = d
	}
	return out
}

var han = regexp.MustCompile(`\p{Han}`)

// onlyLink checks the addresses a message lets a person click: the link
// back to the release, and nothing else.
func onlyLink(t *testing.T, what string, links []string, want string) {
	t.Helper()
	if len(links) != 1 || links[0] != want {
		t.Errorf("%s: links %q, want only %s", what, links, want)
	}
}

// sameSet says whether two lists hold the same values.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
