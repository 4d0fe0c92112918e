package window

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"releasedesk/app/httpapi/apitest"
)

// A team's server for the window to join: a real desk (apitest) served
// over TLS with a certificate the test can swap, as a server whose
// administrator replaced it (or someone in the middle) would show.
type tlsDesk struct {
	env  *apitest.Env
	url  string
	cert atomic.Pointer[tls.Certificate]
}

func newTLSDesk(t *testing.T, cert tls.Certificate) *tlsDesk {
	t.Helper()
	env := apitest.New(t, apitest.Options{NoRunner: true, Heartbeat: 200 * time.Millisecond})
	d := &tlsDesk{env: env}
	d.cert.Store(&cert)
	srv := httptest.NewUnstartedServer(env.API)
	// Not StartTLS: its own certificate would win over GetCertificate
	// for a client that sends no server name (an address, as here).
	srv.Listener = tls.NewListener(srv.Listener, &tls.Config{
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return d.cert.Load(), nil }})
	srv.Start()
	t.Cleanup(func() {
		srv.CloseClientConnections() // the live stream would hold Close up
		srv.Close()
	})
	d.url = strings.Replace(srv.URL, "http://", "https://", 1)
	return d
}

// issue makes a certificate for 127.0.0.1, signed by parent (nil:
// self-signed), and returns it with its x509 form.
func issue(t *testing.T, name string, parent *tls.Certificate, isCA bool) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, BasicConstraintsValid: true, IsCA: isCA,
	}
	signer, signerKey := tmpl, any(key)
	if parent != nil {
		signer, signerKey = parent.Leaf, parent.PrivateKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, leaf
}

// window is a Desktop as the window makes it, with its page's requests.
type testWindow struct {
	t    *testing.T
	d    *Desktop
	mu   sync.Mutex
	got  []string // kinds of the live messages emitted to the page, with their type
	book *ServerBook
}

func openTestWindow(t *testing.T, book *ServerBook, roots *x509.CertPool, server string) (*testWindow, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	localOpened := 0
	d, err := NewDesktop(ctx, DesktopOptions{
		Joinable: true, Book: book, Roots: roots, Server: server, Logger: apitest.Logger(),
		OpenLocal: func(context.Context) (*LocalDesk, error) {
			localOpened++
			return &LocalDesk{
				Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"local":true}`)) }),
				Follow:  func(ctx context.Context, _ func(string, any)) error { <-ctx.Done(); return nil },
				Close:   func() {},
			}, nil
		},
	})
	if err != nil {
		return nil, err
	}
	t.Cleanup(d.Close)
	w := &testWindow{t: t, d: d, book: book}
	d.attach(func(kind string, msg any) {
		var m struct{ Type string }
		raw, _ := msg.(json.RawMessage)
		_ = json.Unmarshal(raw, &m)
		w.mu.Lock()
		w.got = append(w.got, kind+" "+m.Type)
		w.mu.Unlock()
	})
	return w, nil
}

// call is one request of the page, as Wails hands it over: in-process.
func (w *testWindow) call(method, path, token string, body any) (int, map[string]any) {
	w.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req := httptest.NewRequest(method, "wails://wails"+path, rd)
	req.Header.Set("Origin", "wails://wails") // as the page's writes carry
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	w.d.ServeHTTP(rec, req)
	var out map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return rec.Code, out
}

func (w *testWindow) connect(url, fingerprint string) (joined bool, probe map[string]any) {
	w.t.Helper()
	code, out := w.call("POST", "/window/connect", "", map[string]string{"url": url, "fingerprint": fingerprint})
	if code != http.StatusOK {
		w.t.Fatalf("POST /window/connect %s: %d %v", url, code, out)
	}
	p, _ := out["probe"].(map[string]any)
	return out["joined"] == true, p
}

func (w *testWindow) emitted() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.got, "\n")
}

// A self-signed certificate: unknown, so its user is asked; confirmed, the
// window works on the server (sign-in, reads, writes, the live stream);
// another certificate on the same URL is then refused with both
// fingerprints, now and after a restart of the window.
func TestJoinSelfSignedServerPinsItsCertificate(t *testing.T) {
	first, firstLeaf := issue(t, "desk", nil, false)
	srv := newTLSDesk(t, first)
	book := NewServerBook(filepath.Join(t.TempDir(), "releasedesk", "servers.json"))
	w, err := openTestWindow(t, book, x509.NewCertPool(), "")
	if err != nil {
		t.Fatal(err)
	}
	if code, out := w.call("GET", "/api/v1/anything", "", nil); code != 200 || out["local"] != true {
		t.Fatalf("the window starts on this computer's desk: %d %v", code, out)
	}

	joined, p := w.connect(srv.url, "")
	if joined || p["state"] != string(Confirm) || p["fingerprint"] != Fingerprint(firstLeaf) {
		t.Fatalf("an unknown self-signed certificate must be shown to confirm, not joined: joined=%v %v", joined, p)
	}
	if joined, p = w.connect(srv.url, strings.Repeat("0", 64)); joined || p["state"] != string(Confirm) {
		t.Fatalf("a fingerprint that is not the server's confirms nothing: joined=%v %v", joined, p)
	}
	if joined, p = w.connect(srv.url, Fingerprint(firstLeaf)); !joined || p["pinned"] != Fingerprint(firstLeaf) {
		t.Fatalf("the confirmed fingerprint joins and is pinned: joined=%v %v", joined, p)
	}
	if pin, _ := book.Pin(srv.url); pin != Fingerprint(firstLeaf) {
		t.Fatalf("pin in servers.json: %q", pin)
	}
	if fi, err := os.Stat(book.path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("servers.json must be the user's alone (0600): %v %v", fi.Mode(), err)
	}
	_, st := w.call("GET", "/window/state", "", nil)
	if st["mode"] != "server" || st["server"] != srv.url {
		t.Fatalf("state: %v", st)
	}

	// The page signs in through the proxy, as in a browser on the server;
	// its writes (with the window's own Origin) are the server's to judge.
	code, out := w.call("POST", "/api/v1/login", "", map[string]string{"user": "root", "password": apitest.RootPassword})
	token, _ := out["token"].(string)
	if code != http.StatusOK || token == "" {
		t.Fatalf("sign-in through the window: %d %v", code, out)
	}
	if code, out := w.call("GET", "/api/v1/me", token, nil); code != http.StatusOK {
		t.Fatalf("GET /api/v1/me: %d %v", code, out)
	}
	// The live stream follows with that session: a change made on the
	// server by someone else reaches the page as a Wails event.
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; !strings.Contains(w.emitted(), "user user.created"); i++ {
		if time.Now().After(deadline) {
			t.Fatalf("no live message of a user created on the server; emitted:\n%s", w.emitted())
		}
		if i%20 == 0 { // again, in case the stream was not open yet for the first
			srv.env.Must(http.StatusCreated, "POST", "/api/v1/users", srv.env.Login("root", apitest.RootPassword),
				map[string]any{"name": "dev" + string(rune('a'+i/20)), "password": "dev-password-1"})
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, out := w.call("POST", "/api/v1/users", token, map[string]any{"name": "ops", "password": "ops-password-1"}); code != http.StatusCreated {
		t.Fatalf("a write through the window: %d %v", code, out)
	}

	// The server now shows another certificate on the same URL.
	second, secondLeaf := issue(t, "desk", nil, false)
	srv.cert.Store(&second)
	joined, p = w.connect(srv.url, Fingerprint(secondLeaf))
	if joined || p["state"] != string(Changed) || p["pinned"] != Fingerprint(firstLeaf) || p["fingerprint"] != Fingerprint(secondLeaf) {
		t.Fatalf("a changed certificate must be refused with both fingerprints, even 'confirmed': joined=%v %v", joined, p)
	}
	// And so when the window opens on it again (releasedesk --server URL).
	again, err := openTestWindow(t, book, x509.NewCertPool(), srv.url)
	if err != nil {
		t.Fatal(err)
	}
	_, st = again.call("GET", "/window/state", "", nil)
	pending, _ := st["pending"].(map[string]any)
	if st["mode"] != "none" || pending["state"] != string(Changed) || pending["fingerprint"] != Fingerprint(secondLeaf) {
		t.Fatalf("--server on a changed certificate: state %v", st)
	}
	if code, out := again.call("GET", "/api/v1/me", token, nil); code != http.StatusUnauthorized {
		t.Fatalf("nothing reaches the server while its certificate is refused: %d %v", code, out)
	}
	// Forgotten, the server's certificate is a question again.
	if code, out := again.call("POST", "/window/forget", "", map[string]string{"url": srv.url}); code != 200 {
		t.Fatalf("forget: %d %v", code, out)
	}
	if joined, p = again.connect(srv.url, ""); joined || p["state"] != string(Confirm) {
		t.Fatalf("after forgetting: %v %v", joined, p)
	}
	// Back to this computer.
	if code, out := again.call("POST", "/window/local", "", nil); code != 200 || out["mode"] != "local" {
		t.Fatalf("POST /window/local: %d %v", code, out)
	}
}

// A certificate a trusted CA signed for the server's name joins without a
// question and pins nothing.
func TestJoinCATrustedServerAsksNothing(t *testing.T) {
	ca, caLeaf := issue(t, "team CA", nil, true)
	leafCert, _ := issue(t, "desk", &ca, false)
	srv := newTLSDesk(t, leafCert)
	roots := x509.NewCertPool()
	roots.AddCert(caLeaf)
	book := NewServerBook(filepath.Join(t.TempDir(), "servers.json"))
	w, err := openTestWindow(t, book, roots, srv.url)
	if err != nil {
		t.Fatal(err)
	}
	_, st := w.call("GET", "/window/state", "", nil)
	if st["mode"] != "server" || st["server"] != srv.url {
		t.Fatalf("--server on a CA-signed certificate joins at once: %v", st)
	}
	if pin, _ := book.Pin(srv.url); pin != "" {
		t.Fatalf("a CA vouches for it: nothing to pin, got %q", pin)
	}
	if code, out := w.call("GET", "/api/v1/health", "", nil); code != 200 || out["version"] == nil {
		t.Fatalf("health through the window: %d %v", code, out)
	}
	// The same certificate with no CA trusted is a question.
	if p := probeServer(context.Background(), srv.url, "", x509.NewCertPool()); p.State != Confirm {
		t.Fatalf("without its CA: %+v", p)
	}
}

func TestJoinUnreachableServerSaysWhy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	w, err := openTestWindow(t, NewServerBook(filepath.Join(t.TempDir(), "servers.json")), nil, "")
	if err != nil {
		t.Fatal(err)
	}
	joined, p := w.connect("https://"+addr, "")
	if joined || p["state"] != string(Unreachable) || p["reason"] == "" {
		t.Fatalf("nobody listening: %v %v", joined, p)
	}
	if _, err := openTestWindow(t, w.book, nil, "https://"+addr); err == nil {
		t.Fatal("--server on a server that does not answer must fail")
	}
	code, out := w.call("POST", "/window/connect", "", map[string]string{"url": "http://desk.example.com"})
	if e, _ := out["error"].(map[string]any); code != http.StatusBadRequest || e["field"] != "url" {
		t.Fatalf("plain http beyond loopback must be refused naming the field: %d %v", code, out)
	}
}

func TestServerURLSpellsOneAddressOneWay(t *testing.T) {
	for in, want := range map[string]string{
		"desk.example.com":              "https://desk.example.com",
		"HTTPS://Desk.Example.com:443/": "https://desk.example.com",
		"https://desk.example.com:8443": "https://desk.example.com:8443",
		"http://127.0.0.1:7788":         "http://127.0.0.1:7788",
		"http://localhost":              "http://localhost",
		"https://[::1]:9000":            "https://[::1]:9000",
	} {
		if got, err := ServerURL(in); err != nil || got != want {
			t.Errorf("ServerURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "http://desk.example.com", "ftp://desk", "https://desk/api", "https://u:p@desk",
		"https://desk?x=1", "https://", "https://desk#f"} {
		if got, err := ServerURL(bad); err == nil {
			t.Errorf("ServerURL(%q) = %q: want a refusal", bad, got)
		}
	}
}

func TestServerBookKeepsRecentAndPinned(t *testing.T) {
	b := NewServerBook(filepath.Join(t.TempDir(), "servers.json"))
	clock := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	b.now = func() time.Time { clock = clock.Add(time.Minute); return clock }
	if err := b.Joined("https://pinned.example", "ab12"); err != nil {
		t.Fatal(err)
	}
	for i := range maxRecentServers + 3 {
		if err := b.Joined("https://s"+string(rune('a'+i))+".example", ""); err != nil {
			t.Fatal(err)
		}
	}
	// Joined again without a pin (a probe found it pinned): it keeps it.
	_ = b.Joined("https://sb.example", "")
	recent, err := b.Recent()
	if err != nil {
		t.Fatal(err)
	}
	if len(recent) != maxRecentServers || recent[0].URL != "https://sb.example" {
		t.Fatalf("want %d servers, the last joined first: %+v", maxRecentServers, recent)
	}
	if pin, _ := b.Pin("https://pinned.example"); pin != "ab12" {
		t.Fatalf("the oldest pinned server must not fall off the list: %+v", recent)
	}
}
