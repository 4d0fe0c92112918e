package notify

import (
	"strings"
	"testing"
)

const testFrom = "Release Desk <releasedesk@example.com>"

// TestBuildMail: the mail of a message has its title as the subject, the
// text body in order, a Message-ID and delivery header stable per
// delivery, and another per delivery.
func TestBuildMail(t *testing.T) {
	m := plainMessage()
	a, err := BuildMail(m, testFrom, []string{"ops@example.com"}, "42:ops-mail", "releasedesk.example.com")
	if err != nil {
		t.Fatal(err)
	}
	again, _ := BuildMail(m, testFrom, []string{"ops@example.com"}, "42:ops-mail", "releasedesk.example.com")
	other, _ := BuildMail(m, testFrom, []string{"ops@example.com"}, "43:ops-mail", "releasedesk.example.com")
	if a.MessageID != "<42=3Aops-mail@releasedesk.example.com>" || again.MessageID != a.MessageID || other.MessageID == a.MessageID {
		t.Errorf("Message-IDs %q %q %q: want stable per delivery", a.MessageID, again.MessageID, other.MessageID)
	}
	if a.Headers[HeaderDelivery] != "42:ops-mail" {
		t.Errorf("headers %v", a.Headers)
	}
	wantText := "Approval needed: blog r42 to production\n\nFix the login page\nVersion 20250101120000-0123456\n\nOpen r42: https://releasedesk.example.com/releases/r42\n"
	if a.Subject != m.Title || a.Text != wantText {
		t.Errorf("subject %q text %q", a.Subject, a.Text)
	}
	for host, want := range map[string]string{"": "<d.1@releasedesk>", "Desk.Example.COM": "<d.1@desk.example.com>",
		"::1": "<d.1@releasedesk>", "a..b": "<d.1@releasedesk>", "10.0.0.1": "<d.1@10.0.0.1>"} {
		ml, err := BuildMail(m, testFrom, []string{"ops@example.com"}, "d.1", host)
		if want = strings.Replace(want, "d.1", "d=2E1", 1); err != nil || ml.MessageID != want {
			t.Errorf("host %q: %q %v, want %q", host, ml.MessageID, err, want)
		}
	}
	m.LinkText = ""
	if ml, _ := BuildMail(m, testFrom, []string{"ops@example.com"}, "d1", ""); !strings.HasSuffix(ml.Text, "\n\nhttps://releasedesk.example.com/releases/r42\n") ||
		!strings.Contains(ml.HTML, `">https://releasedesk.example.com/releases/r42</a>`) {
		t.Errorf("without link words the link is its own words: %q\n%s", ml.Text, ml.HTML)
	}
	m.Link = ""
	if ml, _ := BuildMail(m, testFrom, []string{"ops@example.com"}, "d1", ""); strings.Contains(ml.HTML, "<a ") || strings.Contains(ml.Text, "http") {
		t.Errorf("a message without a link has none: %q\n%s", ml.Text, ml.HTML)
	}
}

// TestBuildMailRefuses: a mail that cannot be sent is refused when it is
// built, with the reason.
func TestBuildMailRefuses(t *testing.T) {
	withLink := func(s string) Message { m := plainMessage(); m.Link = s; return m }
	cases := []struct {
		name     string
		m        Message
		from     string
		to       []string
		delivery string
		want     string
	}{
		{"no recipient", plainMessage(), testFrom, nil, "d1", "no recipient: an email needs at least one address"},
		{"an unresolved role", plainMessage(), testFrom, []string{"role:approver"}, "d1", "role: and user: are resolved before sending"},
		{"no sender", plainMessage(), "", []string{"ops@example.com"}, "d1", "required: the sender"},
		{"a javascript link", withLink("javascript:alert(1)"), testFrom, []string{"ops@example.com"}, "d1", "want an http or https address"},
		{"a delivery id with a line break", plainMessage(), testFrom, []string{"ops@example.com"}, "d1\r\nBcc: x@example.com", "delivery id"},
		{"no delivery id", plainMessage(), testFrom, []string{"ops@example.com"}, "", "delivery id"},
		{"a title of control characters", func() Message { m := plainMessage(); m.Title = "\r\n\t\u200b"; return m }(), testFrom, []string{"ops@example.com"}, "d1", "no title"},
	}
	for _, c := range cases {
		if _, err := BuildMail(c.m, c.from, c.to, c.delivery, ""); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}
