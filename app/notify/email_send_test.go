package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"net"
	"net/mail"
	"regexp"
	"releasedesk/app/notify/notifytest"
	"strings"
	"testing"
	"time"
)

const (
	smtpUser     = "releasedesk"
	smtpPassword = "pw-7Hq!x9-secret"
)

// sendTo builds the mail of m for the delivery "42:ops-mail" and sends
// it through srv; every answer is checked for the password.
func sendTo(t *testing.T, srv EmailServer, m Message, to ...string) (Mail, Outcome, error) {
	t.Helper()
	ml, err := BuildMail(m, testFrom, to, "42:ops-mail", "releasedesk.example.com")
	if err != nil {
		t.Fatalf("BuildMail: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := SendMail(ctx, srv, ml)
	noPassword(t, out, err)
	return ml, out, err
}

// noPassword fails the test when the password shows in an answer, in any
// form a login sends it.
func noPassword(t *testing.T, out Outcome, err error) {
	t.Helper()
	words := out.Excerpt
	if err != nil {
		words += "\n" + err.Error()
	}
	enc := base64.StdEncoding.EncodeToString
	for _, form := range []string{smtpPassword, enc([]byte(smtpPassword)), enc([]byte("\x00" + smtpUser + "\x00" + smtpPassword))} {
		if strings.Contains(words, form) {
			t.Errorf("the password shows in %q", words)
		}
	}
}

// parseMail reads a received message back as a mail client reads it,
// failing the test when it is not the mail Release Desk writes.
func parseMail(t *testing.T, data []byte) notifytest.ParsedMail {
	t.Helper()
	p, err := notifytest.ParseMail(data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	return p
}

func server(s *notifytest.SMTPServer, security string, roots *tls.Config) EmailServer {
	return EmailServer{Host: s.Host, Port: s.Port, Security: security, User: smtpUser, Password: smtpPassword,
		TLSConfig: roots, Timeout: 5 * time.Second}
}

// TestSendMailSecurities: with each security, a mail sent with a login
// reaches a real SMTP server (over TLS for starttls and tls) and reads
// back with its text and HTML parts, subject, Message-ID and delivery
// header; the server's acceptance is the Outcome.
func TestSendMailSecurities(t *testing.T) {
	certs, roots := notifytest.Certificate(t)
	for _, security := range []string{SecurityNone, SecurityStartTLS, SecurityTLS} {
		t.Run(security, func(t *testing.T) {
			s := notifytest.StartSMTP(t, notifytest.SMTPOptions{Security: security, TLS: certs,
				Users: map[string]string{smtpUser: smtpPassword}, Mechs: []string{"PLAIN"}})
			ml, out, err := sendTo(t, server(s, security, &tls.Config{RootCAs: roots}), plainMessage(), "ops@example.com", "Alice <alice@example.com>")
			if err != nil {
				t.Fatal(err)
			}
			if out.Status != 250 || out.Excerpt == "" || len([]rune(out.Excerpt)) > maxExcerpt {
				t.Errorf("outcome %+v: want 250 and the server's words", out)
			}
			received, _, logins := s.Snapshot()
			if len(received) != 1 || len(logins) != 1 || logins[0] != smtpUser {
				t.Fatalf("received %d mails, logins %v: want 1 and [%s]", len(received), logins, smtpUser)
			}
			r := received[0]
			if r.TLS != (security != SecurityNone) {
				t.Errorf("over TLS: %v", r.TLS)
			}
			if r.From != "releasedesk@example.com" || strings.Join(r.To, ",") != "ops@example.com,alice@example.com" {
				t.Errorf("envelope from %q to %v", r.From, r.To)
			}
			p := parseMail(t, r.Data)
			if p.Subject != "Approval needed: blog r42 to production" {
				t.Errorf("subject %q", p.Subject)
			}
			if got := p.Header.Get("Message-ID"); got != "<42=3Aops-mail@releasedesk.example.com>" || got != ml.MessageID {
				t.Errorf("Message-ID %q", got)
			}
			if p.Header.Get("X-ReleaseDesk-Delivery") != "42:ops-mail" || p.Header.Get("Auto-Submitted") != "auto-generated" {
				t.Errorf("headers %v", p.Header)
			}
			if from, err := mail.ParseAddress(p.Header.Get("From")); err != nil || from.Name != "Release Desk" || from.Address != "releasedesk@example.com" {
				t.Errorf("From %q", p.Header.Get("From"))
			}
			for _, want := range []string{"Approval needed: blog r42 to production", "Fix the login page", "Open r42: https://releasedesk.example.com/releases/r42"} {
				if !strings.Contains(p.Text, want) {
					t.Errorf("the text lacks %q:\n%s", want, p.Text)
				}
			}
			if !strings.Contains(p.HTML, `<a href="https://releasedesk.example.com/releases/r42">Open r42</a>`) {
				t.Errorf("the HTML lacks the link:\n%s", p.HTML)
			}
		})
	}
}

// TestSendMailLogin: the right password logs in with PLAIN or, when the
// server offers only that, LOGIN; a wrong one is refused before any mail,
// and the refusal (even one that repeats the password) does not show it.
func TestSendMailLogin(t *testing.T) {
	certs, roots := notifytest.Certificate(t)
	trust := &tls.Config{RootCAs: roots}
	t.Run("LOGIN", func(t *testing.T) {
		s := notifytest.StartSMTP(t, notifytest.SMTPOptions{Security: SecurityStartTLS, TLS: certs,
			Users: map[string]string{smtpUser: smtpPassword}, Mechs: []string{"LOGIN"}})
		if _, _, err := sendTo(t, server(s, SecurityStartTLS, trust), plainMessage(), "ops@example.com"); err != nil {
			t.Fatal(err)
		}
		if received, _, _ := s.Snapshot(); len(received) != 1 {
			t.Errorf("received %d mails", len(received))
		}
	})
	for _, echo := range []bool{false, true} {
		for _, mech := range []string{"PLAIN", "LOGIN"} {
			name := "wrong password " + mech
			if echo {
				name += " repeated by the server"
			}
			t.Run(name, func(t *testing.T) {
				s := notifytest.StartSMTP(t, notifytest.SMTPOptions{Security: SecurityStartTLS, TLS: certs, Echo: echo,
					Users: map[string]string{smtpUser: "another-password"}, Mechs: []string{mech}})
				_, out, err := sendTo(t, server(s, SecurityStartTLS, trust), plainMessage(), "ops@example.com")
				if err == nil || !strings.Contains(err.Error(), "refused the login of "+smtpUser) {
					t.Fatalf("err %v: want the login refused", err)
				}
				if out.Status != 535 {
					t.Errorf("outcome %+v: want 535", out)
				}
				if echo && (!strings.Contains(err.Error(), "[password]") || !strings.Contains(out.Excerpt, "[password]")) {
					t.Errorf("want the repeated password hidden as [password]: %v / %q", err, out.Excerpt)
				}
				if received, mails, logins := s.Snapshot(); len(received) != 0 || mails != 0 || len(logins) != 1 {
					t.Errorf("received %d, MAIL %d, logins %v: want nothing sent after one refused login", len(received), mails, logins)
				}
			})
		}
	}
	t.Run("no login offered", func(t *testing.T) {
		s := notifytest.StartSMTP(t, notifytest.SMTPOptions{Security: SecurityStartTLS, TLS: certs})
		if _, _, err := sendTo(t, server(s, SecurityStartTLS, trust), plainMessage(), "ops@example.com"); err == nil || !strings.Contains(err.Error(), "offers no login") {
			t.Errorf("err %v", err)
		}
	})
	t.Run("no user, no login", func(t *testing.T) {
		s := notifytest.StartSMTP(t, notifytest.SMTPOptions{Security: SecurityStartTLS, TLS: certs, Mechs: []string{"PLAIN"}})
		srv := server(s, SecurityStartTLS, trust)
		srv.User, srv.Password = "", ""
		if _, _, err := sendTo(t, srv, plainMessage(), "ops@example.com"); err != nil {
			t.Fatal(err)
		}
		if received, _, logins := s.Snapshot(); len(received) != 1 || len(logins) != 0 {
			t.Errorf("received %d, logins %v", len(received), logins)
		}
	})
}

// TestSendMailStartTLSMandatory: a server that does not offer STARTTLS
// (a man in the middle may have removed it) gets nothing: no login, no
// MAIL, no message in the clear.
func TestSendMailStartTLSMandatory(t *testing.T) {
	s := notifytest.StartSMTP(t, notifytest.SMTPOptions{Security: SecurityNone,
		Users: map[string]string{smtpUser: smtpPassword}, Mechs: []string{"PLAIN", "LOGIN"}})
	_, out, err := sendTo(t, server(s, SecurityStartTLS, nil), plainMessage(), "ops@example.com")
	if err == nil || !strings.Contains(err.Error(), "does not offer STARTTLS") {
		t.Fatalf("err %v: want STARTTLS refused as missing", err)
	}
	if out.Status != 0 {
		t.Errorf("outcome %+v", out)
	}
	if received, mails, logins := s.Snapshot(); len(received) != 0 || mails != 0 || len(logins) != 0 {
		t.Errorf("received %d, MAIL %d, logins %v: want nothing sent in the clear", len(received), mails, logins)
	}
}

// TestSendMailUntrustedCertificate: the server's certificate is
// verified, starttls or tls: one no root vouches for is refused before
// the login.
func TestSendMailUntrustedCertificate(t *testing.T) {
	certs, _ := notifytest.Certificate(t)
	_, otherRoots := notifytest.Certificate(t)
	for _, security := range []string{SecurityStartTLS, SecurityTLS} {
		t.Run(security, func(t *testing.T) {
			s := notifytest.StartSMTP(t, notifytest.SMTPOptions{Security: security, TLS: certs,
				Users: map[string]string{smtpUser: smtpPassword}, Mechs: []string{"PLAIN"}})
			_, _, err := sendTo(t, server(s, security, &tls.Config{RootCAs: otherRoots}), plainMessage(), "ops@example.com")
			if err == nil || !strings.Contains(err.Error(), "TLS with the mail server") || !strings.Contains(err.Error(), "certificate") {
				t.Fatalf("err %v: want the certificate refused", err)
			}
			if _, mails, logins := s.Snapshot(); mails != 0 || len(logins) != 0 {
				t.Errorf("MAIL %d, logins %v", mails, logins)
			}
		})
	}
}

// TestSendMailChinese: a zh-CN message, Render'd from its default, arrives
// readable: the subject decodes to the title, the bodies to the words.
func TestSendMailChinese(t *testing.T) {
	s := notifytest.StartSMTP(t, notifytest.SMTPOptions{Security: SecurityNone})
	m, err := Render("approval.needed", "zh-CN", SampleData, "", Occurrence{Position: 7, Time: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`\p{Han}`).MatchString(m.Title) {
		t.Fatalf("the zh-CN title %q has no Chinese", m.Title)
	}
	srv := server(s, SecurityNone, nil)
	srv.User, srv.Password = "", ""
	if _, _, err := sendTo(t, srv, m, "运维 <ops@example.com>"); err != nil {
		t.Fatal(err)
	}
	received, _, _ := s.Snapshot()
	if len(received) != 1 {
		t.Fatalf("received %d", len(received))
	}
	raw := received[0].Data
	if bytes.ContainsFunc(raw, func(r rune) bool { return r > 127 }) {
		t.Errorf("8-bit bytes in the message: its words should be encoded")
	}
	p := parseMail(t, raw)
	if p.Subject != m.Title {
		t.Errorf("subject %q, want %q", p.Subject, m.Title)
	}
	for _, l := range append([]string{m.Title, m.LinkText}, m.Lines...) {
		if !strings.Contains(p.Text, l) || !strings.Contains(p.HTML, l) {
			t.Errorf("%q is missing from a body:\n%s\n%s", l, p.Text, p.HTML)
		}
	}
	if to, err := mail.ParseAddress(p.Header.Get("To")); err != nil || to.Name != "运维" {
		t.Errorf("To %q (%v)", p.Header.Get("To"), err)
	}
	if !strings.Contains(p.HTML, `lang="zh-CN"`) {
		t.Errorf("the HTML is not marked zh-CN")
	}
}

// TestSendMailHostileTitle: a title and lines full of markup reach the
// mail as text: no <script> element, no link but the message's, no
// header of their own.
func TestSendMailHostileTitle(t *testing.T) {
	s := notifytest.StartSMTP(t, notifytest.SMTPOptions{Security: SecurityNone})
	m := plainMessage()
	m.Title = hostile + "\r\nBcc: victim@example.com"
	m.Lines = []string{hostile, `<a href="http://evil">x</a> <img src=x onerror=alert(1)>`}
	m.LinkText = `"><script>alert(2)</script>`
	srv := server(s, SecurityNone, nil)
	srv.User, srv.Password = "", ""
	if _, _, err := sendTo(t, srv, m, "ops@example.com"); err != nil {
		t.Fatal(err)
	}
	received, _, _ := s.Snapshot()
	if len(received) != 1 || len(received[0].To) != 1 {
		t.Fatalf("received %+v", received)
	}
	p := parseMail(t, received[0].Data)
	if p.Header.Get("Bcc") != "" || strings.Contains(p.Subject, "\n") || !strings.Contains(p.Subject, "Bcc: victim@example.com") {
		t.Errorf("the title broke out of the subject: %q, headers %v", p.Subject, p.Header)
	}
	// Escaped text holds no '<': every '<' left opens a real element.
	var hrefs []string
	for _, tag := range regexp.MustCompile(`<[^>]*>`).FindAllString(strings.ToLower(p.HTML), -1) {
		if regexp.MustCompile(`^</?(script|img|iframe|object|embed|form)\b|\son[a-z]+=`).MatchString(tag) {
			t.Errorf("markup arrived as markup: %s", tag)
		}
		if strings.Contains(tag, "href=") || strings.Contains(tag, "src=") {
			hrefs = append(hrefs, tag)
		}
	}
	if len(hrefs) != 1 || hrefs[0] != `<a href="https://releasedesk.example.com/releases/r42">` {
		t.Errorf("links %q: want one, the message's", hrefs)
	}
	if !strings.Contains(p.HTML, "&lt;script&gt;alert(1)&lt;/script&gt;") || !strings.Contains(p.HTML, "@all [click](http：//evil)") ||
		strings.Contains(p.HTML, "http://evil") || strings.Contains(p.Text, "http://evil") {
		t.Errorf("the words themselves were lost, or an address was left for a client to link:\n%s", p.HTML)
	}
}

// TestSendMailRecipientRefused: a recipient the server refuses fails the
// whole mail with the server's code and words, and nobody gets it.
func TestSendMailRecipientRefused(t *testing.T) {
	s := notifytest.StartSMTP(t, notifytest.SMTPOptions{Security: SecurityNone, Refuse: "nobody@example.com"})
	srv := server(s, SecurityNone, nil)
	srv.User, srv.Password = "", ""
	_, out, err := sendTo(t, srv, plainMessage(), "ops@example.com", "nobody@example.com")
	if err == nil || !strings.Contains(err.Error(), "refused the recipient nobody@example.com") || !strings.Contains(err.Error(), "550") {
		t.Fatalf("err %v: want the recipient refused with 550", err)
	}
	if out.Status != 550 || !strings.Contains(out.Excerpt, "no such user here") {
		t.Errorf("outcome %+v: want 550 and the server's words", out)
	}
	if received, _, _ := s.Snapshot(); len(received) != 0 {
		t.Errorf("received %d: want none", len(received))
	}
}

// TestSendMailCannotConnect: no server at the address is said so, with
// no reply code.
func TestSendMailCannotConnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	_, out, err := sendTo(t, EmailServer{Host: "127.0.0.1", Port: port, Security: SecurityNone, Timeout: 2 * time.Second}, plainMessage(), "ops@example.com")
	if err == nil || !strings.Contains(err.Error(), "cannot connect to the mail server 127.0.0.1:") || out.Status != 0 {
		t.Errorf("%+v %v", out, err)
	}
}

// TestSendMailStops: a server that never answers does not hold a send
// past its context.
func TestSendMailStops(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- c // accepted, never greeted
		}
	}()
	t.Cleanup(func() {
		select {
		case c := <-accepted:
			c.Close()
		default:
		}
	})
	ml, err := BuildMail(plainMessage(), testFrom, []string{"ops@example.com"}, "d1", "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	_, err = SendMail(ctx, EmailServer{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, Security: SecurityNone, Timeout: time.Minute}, ml)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "was stopped") {
		t.Errorf("err %v: want the send stopped", err)
	}
	if waited := time.Since(start); waited > 10*time.Second {
		t.Errorf("stopped after %s", waited)
	}
}

// TestSendMailRefuses: what must not be sent is refused before any
// connection, with the reason.
func TestSendMailRefuses(t *testing.T) {
	good, err := BuildMail(plainMessage(), testFrom, []string{"ops@example.com"}, "d1", "")
	if err != nil {
		t.Fatal(err)
	}
	with := func(f func(*Mail)) Mail {
		m := good
		m.Headers = map[string]string{}
		for k, v := range good.Headers {
			m.Headers[k] = v
		}
		f(&m)
		return m
	}
	local := EmailServer{Host: "127.0.0.1", Port: 1, Security: SecurityNone}
	cases := []struct {
		name string
		srv  EmailServer
		mail Mail
		want string
	}{
		{"none to another machine", EmailServer{Host: "smtp.example.com", Security: SecurityNone}, good, "email.security: none only to a server on this machine"},
		{"unknown security", EmailServer{Host: "smtp.example.com", Security: "ssl"}, good, "email.security: unknown security"},
		{"a port", EmailServer{Host: "smtp.example.com", Port: 70000}, good, "email.port:"},
		{"no host", EmailServer{}, good, "email.host: required"},
		{"no recipient", local, with(func(m *Mail) { m.To = nil }), "no recipient"},
		{"a role as recipient", local, with(func(m *Mail) { m.To = []string{"role:approver"} }), `recipient "role:approver" is not an email address`},
		{"no sender", local, with(func(m *Mail) { m.From = "" }), "required: the sender"},
		{"no Message-ID", local, with(func(m *Mail) { m.MessageID = "" }), "Message-ID"},
		{"a Message-ID with a line break", local, with(func(m *Mail) { m.MessageID = "<a@b>\r\nBcc: x@example.com" }), "Message-ID"},
		{"a header that replaces Bcc", local, with(func(m *Mail) { m.Headers["Bcc"] = "x@example.com" }), `header "Bcc"`},
		{"a header name with a colon", local, with(func(m *Mail) { m.Headers["X-A: b\r\nBcc"] = "x" }), "not a name a mail may set"},
		{"a header value with a line break", local, with(func(m *Mail) { m.Headers["X-Note"] = "a\r\nBcc: x@example.com" }), "a value is one line"},
	}
	for _, c := range cases {
		out, err := SendMail(context.Background(), c.srv, c.mail)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "connect") {
			t.Errorf("%s: it tried to connect: %v", c.name, err)
		}
		if out != (Outcome{}) {
			t.Errorf("%s: outcome %+v", c.name, out)
		}
	}
}
