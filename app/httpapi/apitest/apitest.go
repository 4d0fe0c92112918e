//go:build linux

// Package apitest drives a Release Desk through its HTTP API in tests: a
// desk on a fresh data directory served in this process (Env), and a
// test's side of the API (Caller) over the one client, httpapi.Client,
// that the command line uses too. The whole-app tests in e2e use Caller
// against a real serve process. Imported by tests only.
//
// Linux only (the build constraint), like runner/sshtest that it starts
// hosts with.
package apitest

import (
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/crypto/ssh"

	"releasedesk/app"
	"releasedesk/app/httpapi"
	"releasedesk/runner/sshtest"
)

// RootPassword is the password of "root", the admin every Env starts with.
const RootPassword = "root-password-1"

// CheapArgon keeps password hashing cheap in tests (the default parameters
// are tested with the credentials).
var CheapArgon = app.ArgonParams{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// Logger discards everything: what a test's desk logs is not its answer.
func Logger() *logrus.Logger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}

// Assets stand in for the built frontend.
func Assets() fstest.MapFS {
	return fstest.MapFS{
		"index.html":         {Data: []byte("<!doctype html><title>Release Desk</title>")},
		"assets/app-abc.js":  {Data: []byte("console.log(1)")},
		"assets/app-abc.css": {Data: []byte("body{}")},
	}
}

// Env is a desk on a fresh data directory, served over HTTP in this
// process. The admin "root" (RootPassword) exists from the start.
type Env struct {
	T    testing.TB
	Dir  string // the data directory
	Desk *app.Desk
	API  *httpapi.Server
	URL  string // base URL, no trailing slash

	srv *httptest.Server
}

// Options tune New.
type Options struct {
	NoRunner  bool               // deployments stay queued
	Heartbeat time.Duration      // of the live stream; 0: the server's default
	Assets    fs.FS              // the UI served; nil: Assets()
	Logger    logrus.FieldLogger // the desk's and the server's; nil: Logger()
	Hosts     httpapi.HostPolicy // names the server answers to beyond loopback
	Now       func() time.Time   // the server's clock (stream tickets' expiry); nil: time.Now
}

// New opens and serves the desk; both close when the test ends.
func New(t testing.TB, opt Options) *Env {
	t.Helper()
	opt = opt.withDefaults()
	dir := t.TempDir()
	// As the desk makes a data directory: t.TempDir's is open to others,
	// which health would warn of on every page.
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	desk, err := app.OpenDesk(context.Background(), app.DeskConfig{Data: app.DataDir{Path: dir}, Logger: opt.Logger, NoRunner: opt.NoRunner})
	if err != nil {
		t.Fatalf("OpenDesk: %v", err)
	}
	desk.Auth.Argon = CheapArgon
	if err := desk.Auth.CreateUser(context.Background(), app.SystemActor, "root", RootPassword, true, nil); err != nil {
		desk.Close()
		t.Fatalf("create root: %v", err)
	}
	e := Serve(t, desk, opt)
	e.Dir = dir
	return e
}

// Serve serves a desk already open (an archive under review, a damaged
// store) as New serves its own; both close when the test ends.
func Serve(t testing.TB, desk *app.Desk, opt Options) *Env {
	t.Helper()
	opt = opt.withDefaults()
	api := httpapi.NewServer(httpapi.ServerConfig{Desk: desk, Assets: opt.Assets, Logger: opt.Logger, Heartbeat: opt.Heartbeat,
		Hosts: opt.Hosts, Now: opt.Now})
	e := &Env{T: t, Desk: desk, API: api, srv: httptest.NewServer(api)}
	e.URL = e.srv.URL
	t.Cleanup(e.Close)
	return e
}

func (o Options) withDefaults() Options {
	if o.Assets == nil {
		o.Assets = Assets()
	}
	if o.Logger == nil {
		o.Logger = Logger()
	}
	return o
}

// Close stops serving and closes the desk (saving its checkpoint), as a
// stop of the app would; a test may then open the data directory again.
func (e *Env) Close() {
	if e.srv != nil {
		e.srv.CloseClientConnections() // a live stream would hold Close up
		e.srv.Close()
	}
	e.Desk.Close()
}

// Review spends the review secret of an archive's server (as the page
// does with the link `releasedesk open` prints) and returns the session.
func (e *Env) Review() string {
	e.T.Helper()
	_, secret, ok := strings.Cut(e.API.ReviewURL(""), "/#/review/")
	if !ok {
		e.T.Fatalf("this server serves no archive")
	}
	r := e.Must(http.StatusOK, "POST", "/api/v1/review", "", map[string]string{"secret": secret})
	return Str(r.Body, "token")
}

// As is the caller with token (may be "").
func (e *Env) As(token string) *Caller {
	return &Caller{T: e.T, Client: httpapi.Client{Base: e.URL, Token: token}}
}

// Call sends method path with body and the bearer token.
func (e *Env) Call(method, path, token string, body any) Resp {
	e.T.Helper()
	return e.As(token).Call(method, path, body)
}

// Must calls and fails the test unless the status is want.
func (e *Env) Must(want int, method, path, token string, body any) Resp {
	e.T.Helper()
	return e.As(token).Must(want, method, path, body)
}

// Login returns a session token for user.
func (e *Env) Login(user, password string) string {
	e.T.Helper()
	return Login(e.T, e.URL, user, password).Client.Token
}

// AddUser creates a user (through the API, as root) and returns a session
// token for them; their password is name + "-password-1".
func (e *Env) AddUser(rootToken, name string, admin bool, roles map[string][]string) string {
	e.T.Helper()
	pw := name + "-password-1"
	e.Must(http.StatusCreated, "POST", "/api/v1/users", rootToken,
		map[string]any{"name": name, "password": pw, "admin": admin, "roles": roles})
	return e.Login(name, pw)
}

// WaitDeployment waits for a deployment's end and returns its body.
func (e *Env) WaitDeployment(token, id string, timeout time.Duration) map[string]any {
	e.T.Helper()
	return e.As(token).WaitDeployment(id, timeout)
}

// Caller is a test's side of the API: one user's calls, the test failing
// on anything but an answer.
type Caller struct {
	T      testing.TB
	Client httpapi.Client
}

// Login signs user in on the server at base and returns their caller.
func Login(t testing.TB, base, user, password string) *Caller {
	t.Helper()
	c := &Caller{T: t, Client: httpapi.Client{Base: base}}
	r := c.Must(http.StatusOK, "POST", httpapi.Path("login"), map[string]string{"user": user, "password": password})
	c.Client.Token = Str(r.Body, "token")
	if c.Client.Token == "" {
		t.Fatalf("login %s: no token in %s", user, r.Raw)
	}
	return c
}

// Resp is an answer, its JSON decoded when it is an object.
type Resp struct {
	Status int
	Body   map[string]any
	Raw    []byte
	Header http.Header
}

// ErrCode is the answer's error code ("" if none).
func (r Resp) ErrCode() string { return Str(r.Body, "error", "code") }

// ErrMessage is the answer's error message ("" if none).
func (r Resp) ErrMessage() string { return Str(r.Body, "error", "message") }

// Call sends method path (a query in it is sent as written) and body:
// nil, bytes or a string sent as they are, or a value sent as JSON.
func (c *Caller) Call(method, path string, body any) Resp {
	c.T.Helper()
	r, err := c.Try(method, path, body)
	if err != nil {
		c.T.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// Try is Call without failing the test when no answer comes (for faults
// and races).
func (c *Caller) Try(method, path string, body any) (Resp, error) {
	switch b := body.(type) {
	case []byte:
		body = httpapi.Raw{Data: b}
	case string:
		body = httpapi.Raw{Data: []byte(b)}
	}
	a, err := c.Client.Do(context.Background(), method, path, nil, body) // a query in path is sent as written
	if err != nil {
		return Resp{}, err
	}
	out := Resp{Status: a.Status, Raw: a.Body, Header: a.Header}
	_ = json.Unmarshal(a.Body, &out.Body)
	return out, nil
}

// Must calls and fails the test unless the status is want.
func (c *Caller) Must(want int, method, path string, body any) Resp {
	c.T.Helper()
	r := c.Call(method, path, body)
	if r.Status != want {
		c.T.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Raw)
	}
	return r
}

// WaitDeployment polls a deployment until its state is terminal, and
// returns its body.
func (c *Caller) WaitDeployment(id string, timeout time.Duration) map[string]any {
	c.T.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r := c.Must(http.StatusOK, "GET", httpapi.Path("deployments", id), nil)
		switch r.Body["state"] {
		case "succeeded", "failed", "cancelled", "interrupted":
			return r.Body
		}
		if time.Now().After(deadline) {
			c.T.Fatalf("deployment %s still %v after %v: %s", id, r.Body["state"], timeout, r.Raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TrustHosts trusts the keys of hosts idx of cl (none: every host) as
// scanned through the API, and checks each is then trusted.
func (c *Caller) TrustHosts(cl *sshtest.Cluster, idx ...int) {
	c.T.Helper()
	if len(idx) == 0 {
		for i := range cl.Hosts {
			idx = append(idx, i)
		}
	}
	for _, i := range idx {
		addr := cl.Hosts[i].Addr
		k := c.Must(http.StatusOK, "GET", httpapi.Path("hosts", "key")+"?addr="+url.QueryEscape(addr), nil)
		if got, want := Str(k.Body, "fingerprint"), ssh.FingerprintSHA256(cl.HostKey(i)); got != want {
			c.T.Fatalf("host %d offers %s, its key is %s", i, got, want)
		}
		r := c.Must(http.StatusOK, "POST", httpapi.Path("hosts", "trust"), map[string]any{"addr": addr, "key": Str(k.Body, "key")})
		if Str(r.Body, "state") != "trusted" {
			c.T.Fatalf("trust host %d: %s", i, r.Raw)
		}
	}
}

// Str reads a string at a path of nested maps: Str(m, "release", "state").
func Str(m map[string]any, path ...string) string {
	var cur any = m
	for _, k := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = mm[k]
	}
	s, _ := cur.(string)
	return s
}

// Export saves the desk's log as the audit screen exports it (JSONL, with
// token) in a file of the test's, and returns its path and content.
func (e *Env) Export(token string) (string, []byte) {
	e.T.Helper()
	r := e.Must(http.StatusOK, "GET", "/api/v1/audit/export?format=jsonl", token, nil)
	file := filepath.Join(e.T.TempDir(), "audit.jsonl")
	if err := os.WriteFile(file, r.Raw, 0o600); err != nil {
		e.T.Fatal(err)
	}
	return file, r.Raw
}

// ServeArchive opens an exported log for offline review and serves it as
// Serve does (behind its review secret: see Env.Review).
func ServeArchive(t testing.TB, file string, opt Options) *Env {
	t.Helper()
	desk, err := app.OpenDesk(context.Background(), app.DeskConfig{Archive: file, Logger: opt.withDefaults().Logger})
	if err != nil {
		t.Fatalf("OpenDesk(archive %s): %v", filepath.Base(file), err)
	}
	return Serve(t, desk, opt)
}
