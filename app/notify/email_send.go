package notify

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"maps"
	"net"
	"net/mail"
	"net/textproto"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"

	"releasedesk/events/text"
)

// EmailServer is the SMTP server an email channel sends through: its
// email settings with the password read from where its reference says.
type EmailServer struct {
	Host     string
	Port     int    // 0: DefaultEmailPort, DefaultEmailTLSPort for tls
	Security string // starttls (""), tls or none (only to this machine)
	// User and Password log in; no user: no login.
	User, Password string
	// TLSConfig verifies the server; nil: the system's roots, for the
	// name Host. A test gives the roots of its own CA.
	TLSConfig *tls.Config
	// Timeout bounds each step: the connection, each command, the
	// message; 0: DefaultEmailTimeout.
	Timeout time.Duration
}

// DefaultEmailTimeout is how long one step of a send may take.
const DefaultEmailTimeout = 30 * time.Second

// An email's Outcome (answer.go) is the server's last answer to a send:
// the answer to the message when it was accepted, else the refusal; its
// Status the SMTP reply code (250, 550; 0 when no connection or TLS
// failed), its Excerpt the start of the server's words.

// maxExcerpt bounds an Outcome's excerpt: enough to read a refusal.
const maxExcerpt = MaxExcerpt

// SendMail sends a mail through srv, as plain text with the HTML as its
// alternative. starttls is mandatory STARTTLS: a server that does not
// offer it gets nothing, not even the login; tls speaks TLS from the
// first byte; none speaks in the clear and is refused unless the server
// is on this machine. It logs in only when srv.User is set, with PLAIN
// or else LOGIN, whichever the server offers. It is all or nothing: a
// recipient refused aborts the mail for all, so a retry sends no one a
// second copy (and a retry after a lost answer carries the same
// Message-ID, by which a mail system may drop the repeat). The password
// is in no error and no Outcome, even when a server repeats it.
func SendMail(ctx context.Context, srv EmailServer, m Mail) (Outcome, error) {
	if err := checkServer(srv); err != nil {
		return Outcome{}, err
	}
	msg, from, rcpts, err := composeMail(m)
	if err != nil {
		return Outcome{}, err
	}
	port := srv.Port
	switch {
	case port == 0 && srv.Security == SecurityTLS:
		port = DefaultEmailTLSPort
	case port == 0:
		port = DefaultEmailPort
	}
	s := &smtpSession{
		srv:     srv,
		host:    strings.Trim(srv.Host, "[]"),
		timeout: srv.Timeout,
	}
	s.addr = net.JoinHostPort(s.host, strconv.Itoa(port))
	if s.timeout <= 0 {
		s.timeout = DefaultEmailTimeout
	}
	out, err := s.send(ctx, msg, from, rcpts)
	if err != nil && ctx.Err() != nil {
		return out, text.Errorf("sending the email through %s was stopped: %w", s.addr, ctx.Err())
	}
	return out, err
}

// checkServer holds SendMail to the rules a channel's settings were
// saved under, whoever calls it: above all, none only to this machine.
func checkServer(srv EmailServer) error {
	if err := CheckEmailHost(srv.Host); err != nil {
		return text.Errorf("email.host: %w", err)
	}
	if err := CheckEmailPort(srv.Port); err != nil {
		return text.Errorf("email.port: %w", err)
	}
	if err := CheckEmailSecurity(srv.Security, srv.Host); err != nil {
		return text.Errorf("email.security: %w", err)
	}
	return nil
}

var (
	messageIDRe  = regexp.MustCompile(`^<[^<>@\s]+@[^<>@\s]+>$`)
	headerNameRe = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
)

// ownHeaders are written from the Mail's fields (or by go-mail): a
// Headers entry may not replace them.
var ownHeaders = []string{"from", "to", "cc", "bcc", "reply-to", "sender", "subject", "message-id", "date",
	"mime-version", "content-type", "content-transfer-encoding"}

// composeMail checks a mail and writes it as go-mail's message, with the
// envelope's sender and recipients (bare addresses).
func composeMail(m Mail) (*gomail.Msg, string, []string, error) {
	if err := CheckEmailFrom(m.From); err != nil {
		return nil, "", nil, err
	}
	if err := checkRecipients(m.To); err != nil {
		return nil, "", nil, err
	}
	if !messageIDRe.MatchString(m.MessageID) {
		return nil, "", nil, text.Errorf("Message-ID %q: want <id@domain>", m.MessageID)
	}
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := msg.From(m.From); err != nil {
		return nil, "", nil, text.Errorf("%q is not an email address: %v", m.From, err)
	}
	if err := msg.To(m.To...); err != nil {
		return nil, "", nil, text.Errorf("recipients %q: %v", m.To, err)
	}
	msg.Subject(mailSubject(m.Subject))
	msg.SetMessageIDWithValue(strings.TrimSuffix(strings.TrimPrefix(m.MessageID, "<"), ">"))
	for _, name := range slices.Sorted(maps.Keys(m.Headers)) {
		value := m.Headers[name]
		if !headerNameRe.MatchString(name) || slices.Contains(ownHeaders, strings.ToLower(name)) {
			return nil, "", nil, text.Errorf("header %q: not a name a mail may set", name)
		}
		if strings.ContainsAny(value, "\r\n") {
			return nil, "", nil, text.Errorf("header %s: a value is one line", name)
		}
		msg.SetGenHeader(gomail.Header(name), value)
	}
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	from, _ := mail.ParseAddress(m.From)
	rcpts := make([]string, len(m.To))
	for i, r := range m.To {
		a, _ := mail.ParseAddress(r)
		rcpts[i] = a.Address
	}
	return msg, from.Address, rcpts, nil
}

// smtpSession is one conversation with the server, step by step, so
// that each failure says which step failed: connect, TLS, login, sender,
// recipient, message.
type smtpSession struct {
	srv     EmailServer
	host    string // srv.Host without the brackets of an IPv6 address
	addr    string // host:port
	timeout time.Duration
	raw     net.Conn // the TCP connection, closed when the context ends
	client  *smtp.Client
}

func (s *smtpSession) send(ctx context.Context, msg *gomail.Msg, from string, rcpts []string) (Outcome, error) {
	d := net.Dialer{Timeout: s.timeout}
	raw, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return Outcome{}, text.Errorf("cannot connect to the mail server %s: %v", s.addr, err)
	}
	s.raw = raw
	defer raw.Close()
	defer context.AfterFunc(ctx, func() { raw.Close() })()
	for _, step := range []func(context.Context) (Outcome, error){s.greet, s.secure, s.login} {
		if out, err := step(ctx); err != nil {
			return out, err
		}
	}
	return s.deliver(msg, from, rcpts)
}

// greet speaks TLS from the first byte (for tls), reads the server's
// greeting and says EHLO.
func (s *smtpSession) greet(ctx context.Context) (Outcome, error) {
	s.step()
	conn := s.raw
	if s.srv.Security == SecurityTLS {
		tc := tls.Client(s.raw, s.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			return Outcome{}, text.Errorf("TLS with the mail server %s failed: %s", s.addr, s.say(err))
		}
		conn = tc
	}
	var err error
	if s.client, err = smtp.NewClient(conn, s.host); err != nil {
		return s.outcome(err), text.Errorf("the mail server %s did not greet: %s", s.addr, s.say(err))
	}
	s.step()
	if err := s.client.Hello(heloName()); err != nil {
		return s.outcome(err), text.Errorf("the mail server %s refused our EHLO: %s", s.addr, s.say(err))
	}
	return Outcome{}, nil
}

// secure starts TLS on a starttls connection, and refuses to go on
// without it: the login and the mail would cross the network in the
// clear, and a server that stops offering STARTTLS may be a man in the
// middle who removed it.
func (s *smtpSession) secure(context.Context) (Outcome, error) {
	if s.srv.Security != "" && s.srv.Security != SecurityStartTLS {
		return Outcome{}, nil
	}
	if ok, _ := s.client.Extension("STARTTLS"); !ok {
		return Outcome{}, text.Errorf("the mail server %s does not offer STARTTLS: nothing was sent (starttls never falls back to plain text; use tls if the server speaks TLS from the first byte)", s.addr)
	}
	s.step()
	if err := s.client.StartTLS(s.tlsConfig()); err != nil {
		return s.outcome(err), text.Errorf("TLS with the mail server %s failed: %s", s.addr, s.say(err))
	}
	return Outcome{}, nil
}

// login logs in with PLAIN, else LOGIN, when the channel has a user.
func (s *smtpSession) login(context.Context) (Outcome, error) {
	if s.srv.User == "" {
		return Outcome{}, nil
	}
	ok, offered := s.client.Extension("AUTH")
	if !ok {
		return Outcome{}, text.Errorf("the mail server %s offers no login (AUTH), but email.user is set", s.addr)
	}
	mechs := strings.Fields(strings.ToUpper(offered))
	// In the clear only to this machine (checkServer): go-mail's own
	// check knows localhost by three names only.
	inClear := s.srv.Security == SecurityNone
	var auth smtp.Auth
	switch {
	case slices.Contains(mechs, "PLAIN"):
		auth = smtp.PlainAuth("", s.srv.User, s.srv.Password, s.host, inClear)
	case slices.Contains(mechs, "LOGIN"):
		auth = smtp.LoginAuth(s.srv.User, s.srv.Password, s.host, inClear)
	default:
		return Outcome{}, text.Errorf("the mail server %s offers no PLAIN or LOGIN login (it offers %s)", s.addr, offered)
	}
	s.step()
	if err := s.client.Auth(auth); err != nil {
		return s.outcome(err), text.Errorf("the mail server %s refused the login of %s: %s", s.addr, s.srv.User, s.say(err))
	}
	return Outcome{}, nil
}

// deliver sends the envelope and the message; the answer to the message
// is the Outcome.
func (s *smtpSession) deliver(msg *gomail.Msg, from string, rcpts []string) (Outcome, error) {
	s.step()
	if err := s.client.Mail(from); err != nil {
		return s.outcome(err), text.Errorf("the mail server %s refused the sender %s: %s", s.addr, from, s.say(err))
	}
	var refused []string
	var first error
	for _, r := range rcpts {
		s.step()
		if err := s.client.Rcpt(r); err != nil {
			refused = append(refused, r)
			first = cmp.Or(first, err)
		}
	}
	if len(refused) > 0 {
		s.step()
		_ = s.client.Reset() // nobody gets it: a retry sends no one a second copy
		return s.outcome(first), text.Errorf("the mail server %s refused the recipient %s: %s", s.addr, strings.Join(refused, ", "), s.say(first))
	}
	s.step()
	w, err := s.client.Data()
	if err != nil {
		return s.outcome(err), text.Errorf("the mail server %s refused the message: %s", s.addr, s.say(err))
	}
	if _, err := msg.WriteTo(w); err != nil {
		return s.outcome(err), text.Errorf("sending the message to the mail server %s failed: %s", s.addr, s.say(err))
	}
	s.step()
	if err := w.Close(); err != nil {
		return s.outcome(err), text.Errorf("the mail server %s refused the message: %s", s.addr, s.say(err))
	}
	out := Outcome{Status: 250}
	if dc, ok := w.(*smtp.DataCloser); ok {
		out.Excerpt = s.excerpt(dc.ServerResponse())
	}
	s.step()
	_ = s.client.Quit() // the message is accepted: a failed goodbye changes nothing
	return out, nil
}

// step gives the next step its own time.
func (s *smtpSession) step() { _ = s.raw.SetDeadline(time.Now().Add(s.timeout)) }

// tlsConfig is the channel's (or the system's) verification, for the
// server's name, TLS 1.2 at least.
func (s *smtpSession) tlsConfig() *tls.Config {
	c := &tls.Config{}
	if s.srv.TLSConfig != nil {
		c = s.srv.TLSConfig.Clone()
	}
	if c.ServerName == "" {
		c.ServerName = s.host
	}
	if c.MinVersion == 0 {
		c.MinVersion = tls.VersionTLS12
	}
	return c
}

// outcome is the reply code and words of a server's refusal, when err is
// one.
func (s *smtpSession) outcome(err error) Outcome {
	var te *textproto.Error
	if errors.As(err, &te) {
		return Outcome{Status: te.Code, Excerpt: s.excerpt(te.Msg)}
	}
	return Outcome{}
}

// say is an error's words for a message, the password hidden.
func (s *smtpSession) say(err error) string {
	var te *textproto.Error
	if errors.As(err, &te) {
		return strconv.Itoa(te.Code) + " " + s.hide(oneLine(te.Msg))
	}
	return s.hide(err.Error())
}

// excerpt is the start of a server's words, on one line, the password
// hidden.
func (s *smtpSession) excerpt(words string) string {
	return truncateRunes(strings.TrimSpace(s.hide(oneLine(words))), maxExcerpt)
}

// hide replaces the password, and the forms a login sends it in, with
// "[password]": a server may repeat what it was sent in its refusal.
func (s *smtpSession) hide(words string) string {
	p := s.srv.Password
	if p == "" {
		return words
	}
	enc := base64.StdEncoding.EncodeToString
	for _, form := range []string{enc([]byte("\x00" + s.srv.User + "\x00" + p)), enc([]byte(p)), p} {
		words = strings.ReplaceAll(words, form, "[password]")
	}
	return words
}

// heloName is this machine's name, as EHLO introduces it.
func heloName() string {
	if h, err := os.Hostname(); err == nil && h != "" && !strings.ContainsAny(h, "\r\n ") {
		return h
	}
	return "localhost"
}
