package notifytest

import (
	"crypto/tls"
	"io"
	"log"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
)

// SMTP security, as a channel's email.security says it.
const (
	SecurityNone     = "none"
	SecurityStartTLS = "starttls"
	SecurityTLS      = "tls"
)

// SMTPOptions say how an SMTPServer behaves.
type SMTPOptions struct {
	Security string            // none, starttls (offers STARTTLS) or tls (a TLS listener)
	TLS      *tls.Config       // the server's certificate, for starttls and tls (Certificate)
	Users    map[string]string // user name to password; nil: no login asked
	Mechs    []string          // the logins offered: PLAIN, LOGIN
	Refuse   string            // a recipient refused with 550
	Echo     bool              // a refused login repeats the password (a careless server)
}

// SMTPServer is a real SMTP server (emersion/go-smtp) on a loopback
// port, standing in for a mail provider: it speaks in the clear, with
// STARTTLS or in TLS from the first byte, offers the logins it is given
// and keeps every message it accepts, parsed as a mail client reads it.
type SMTPServer struct {
	Host string
	Port int
	opts SMTPOptions

	mu       sync.Mutex
	received []Mail
	mails    int      // MAIL commands seen, accepted or not
	logins   []string // user names that tried to log in
}

// StartSMTP starts a server; it stops when the test ends.
func StartSMTP(t testing.TB, o SMTPOptions) *SMTPServer {
	t.Helper()
	s := &SMTPServer{opts: o}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(c *gosmtp.Conn) (gosmtp.Session, error) {
		return &smtpSession{s: s, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	switch o.Security {
	case SecurityStartTLS:
		srv.TLSConfig = o.TLS
	case SecurityTLS:
		ln = tls.NewListener(ln, o.TLS)
	default:
		// The clear text of a server on this machine, where a login may
		// cross (or of a server that dropped STARTTLS, to see that the
		// client does not).
		srv.AllowInsecureAuth = true
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	s.Host, s.Port = "127.0.0.1", ln.Addr().(*net.TCPAddr).Port
	return s
}

// Snapshot is what the server saw: the mails it accepted, the MAIL
// commands (accepted or not) and the user names that tried to log in.
func (s *SMTPServer) Snapshot() (received []Mail, mails int, logins []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.received...), s.mails, append([]string(nil), s.logins...)
}

// Mails are the mails accepted so far, in the order they came.
func (s *SMTPServer) Mails() []Mail {
	received, _, _ := s.Snapshot()
	return received
}

// Count is how many mails of a delivery were accepted (by their
// X-ReleaseDesk-Delivery header).
func (s *SMTPServer) Count(delivery string) int {
	n := 0
	for _, m := range s.Mails() {
		if m.Delivery == delivery {
			n++
		}
	}
	return n
}

type smtpSession struct {
	s      *SMTPServer
	conn   *gosmtp.Conn
	authed bool
	from   string
	to     []string
}

func (x *smtpSession) AuthMechanisms() []string { return x.s.opts.Mechs }

func (x *smtpSession) Auth(mech string) (sasl.Server, error) {
	check := func(user, password string) error {
		x.s.mu.Lock()
		x.s.logins = append(x.s.logins, user)
		x.s.mu.Unlock()
		if want, ok := x.s.opts.Users[user]; !ok || want != password {
			if x.s.opts.Echo {
				return &gosmtp.SMTPError{Code: 535, EnhancedCode: gosmtp.EnhancedCode{5, 7, 8}, Message: "password " + password + " is wrong for " + user}
			}
			return gosmtp.ErrAuthFailed
		}
		x.authed = true
		return nil
	}
	switch mech {
	case "PLAIN":
		return sasl.NewPlainServer(func(_, user, password string) error { return check(user, password) }), nil
	case "LOGIN":
		return &loginServer{check: check}, nil
	}
	return nil, gosmtp.ErrAuthUnknownMechanism
}

func (x *smtpSession) Mail(from string, _ *gosmtp.MailOptions) error {
	x.s.mu.Lock()
	x.s.mails++
	x.s.mu.Unlock()
	if x.s.opts.Users != nil && !x.authed {
		return gosmtp.ErrAuthRequired
	}
	x.from = from
	return nil
}

func (x *smtpSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	if to == x.s.opts.Refuse {
		return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such user here"}
	}
	x.to = append(x.to, to)
	return nil
}

func (x *smtpSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := x.conn.TLSConnectionState()
	m := Mail{From: x.from, To: x.to, Data: data, TLS: isTLS, At: time.Now()}
	m.Parsed, m.ParseErr = ParseMail(data)
	m.Delivery = m.Parsed.Header.Get(DeliveryHeader)
	x.s.mu.Lock()
	x.s.received = append(x.s.received, m)
	x.s.mu.Unlock()
	return nil
}

func (x *smtpSession) Reset()        { x.from, x.to = "", nil }
func (x *smtpSession) Logout() error { return nil }

// loginServer is the server side of the LOGIN mechanism (go-sasl has
// only the client's): it asks for the user name, then the password.
type loginServer struct {
	step  int
	user  string
	check func(user, password string) error
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step++
		if len(response) == 0 {
			return []byte("Username:"), false, nil
		}
		fallthrough
	case 1:
		l.step = 2
		l.user = string(response)
		return []byte("Password:"), false, nil
	}
	return nil, true, l.check(l.user, string(response))
}
