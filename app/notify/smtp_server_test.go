package notify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
)

// smtpServer is a real SMTP server (emersion/go-smtp) on a loopback
// port, standing in for a mail provider: it speaks in the clear, with
// STARTTLS or in TLS from the first byte, offers the logins it is given
// and keeps every message it accepts, with what came before.
type smtpServer struct {
	Host string
	Port int
	opts smtpOptions

	mu       sync.Mutex
	received []receivedMail
	mails    int      // MAIL commands seen, accepted or not
	logins   []string // user names that tried to log in
}

type smtpOptions struct {
	security string            // none, starttls (offers STARTTLS) or tls (TLS listener)
	tls      *tls.Config       // the server's certificate, for starttls and tls
	users    map[string]string // user name to password; nil: no login asked
	mechs    []string          // the logins offered: PLAIN, LOGIN
	refuse   string            // a recipient refused with 550
	echo     bool              // a refused login repeats the password (a careless server)
}

type receivedMail struct {
	From string
	To   []string
	Data []byte
	TLS  bool // it came over TLS
}

func startSMTP(t *testing.T, o smtpOptions) *smtpServer {
	t.Helper()
	s := &smtpServer{opts: o}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(c *gosmtp.Conn) (gosmtp.Session, error) {
		return &smtpTestSession{s: s, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	switch o.security {
	case SecurityStartTLS:
		srv.TLSConfig = o.tls
	case SecurityTLS:
		ln = tls.NewListener(ln, o.tls)
	default:
		// The clear text of a server on this machine, where a login may
		// cross (or of a server that dropped STARTTLS, to see that the
		// client does not).
		srv.AllowInsecureAuth = true
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().(*net.TCPAddr)
	s.Host, s.Port = "127.0.0.1", addr.Port
	return s
}

func (s *smtpServer) snapshot() (received []receivedMail, mails int, logins []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]receivedMail(nil), s.received...), s.mails, append([]string(nil), s.logins...)
}

type smtpTestSession struct {
	s      *smtpServer
	conn   *gosmtp.Conn
	authed bool
	from   string
	to     []string
}

func (x *smtpTestSession) AuthMechanisms() []string { return x.s.opts.mechs }

func (x *smtpTestSession) Auth(mech string) (sasl.Server, error) {
	check := func(user, password string) error {
		x.s.mu.Lock()
		x.s.logins = append(x.s.logins, user)
		x.s.mu.Unlock()
		if want, ok := x.s.opts.users[user]; !ok || want != password {
			if x.s.opts.echo {
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

func (x *smtpTestSession) Mail(from string, _ *gosmtp.MailOptions) error {
	x.s.mu.Lock()
	x.s.mails++
	x.s.mu.Unlock()
	if x.s.opts.users != nil && !x.authed {
		return gosmtp.ErrAuthRequired
	}
	x.from = from
	return nil
}

func (x *smtpTestSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	if to == x.s.opts.refuse {
		return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such user here"}
	}
	x.to = append(x.to, to)
	return nil
}

func (x *smtpTestSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := x.conn.TLSConnectionState()
	x.s.mu.Lock()
	x.s.received = append(x.s.received, receivedMail{From: x.from, To: x.to, Data: data, TLS: isTLS})
	x.s.mu.Unlock()
	return nil
}

func (x *smtpTestSession) Reset()        { x.from, x.to = "", nil }
func (x *smtpTestSession) Logout() error { return nil }

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

// testCertificate is a self-signed certificate for 127.0.0.1 and
// localhost, made for the test, and the roots a client trusts it with.
func testCertificate(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "releasedesk test mail server"},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:    []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}}, roots
}
