package app_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"releasedesk/app"
	"releasedesk/app/httpapi/apitest"
	"releasedesk/events/pgtest"
)

// keyFile writes a fresh secret key file and returns the key it holds.
func keyFile(t *testing.T) *app.SecretKey {
	t.Helper()
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "releasedesk.key")
	if err := os.WriteFile(p, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := app.LoadSecretKey(p)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// openPgDesk opens a desk on the database db with its cache in a fresh
// data directory, and serves it.
func openPgDesk(t *testing.T, db string, key *app.SecretKey) (*apitest.Env, error) {
	t.Helper()
	data := t.TempDir()
	if err := os.Chmod(data, 0o700); err != nil {
		t.Fatal(err)
	}
	desk, err := app.OpenDesk(context.Background(), app.DeskConfig{Data: app.DataDir{Path: data}, Store: db, SecretKey: key,
		Logger: apitest.Logger()})
	if err != nil {
		return nil, err
	}
	desk.Auth.Argon = apitest.CheapArgon
	e := apitest.Serve(t, desk, apitest.Options{})
	e.Dir = data
	return e, nil
}

// stateOf reads a value of rd_state as the database holds it.
func stateOf(t *testing.T, db, name string) []byte {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var v []byte
	if err := conn.QueryRow(context.Background(), `SELECT value FROM rd_state WHERE name = $1`, name).Scan(&v); err != nil {
		t.Fatalf("rd_state %q: %v", name, err)
	}
	return v
}

// TestDeskOnPostgres: a desk on PostgreSQL serves the whole flow through
// the API (a local deployment included); a second instance on the same
// database accepts the first one's tokens and the other way round; a
// restart with a fresh data directory and the same key file keeps the
// users, tokens, ssh key and log; without the key file, or with another,
// the desk refuses to start and says why; and the ssh private key is in
// the database only sealed.
func TestDeskOnPostgres(t *testing.T) {
	ctx := context.Background()
	db := pgtest.Database(t)
	key := keyFile(t)
	old := app.SetOutboxLeadEvery(200 * time.Millisecond)
	t.Cleanup(func() { app.SetOutboxLeadEvery(old) })

	a, err := openPgDesk(t, db, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Desk.Auth.CreateUser(ctx, app.SystemActor, "root", apitest.RootPassword, true, nil); err != nil {
		t.Fatal(err)
	}
	root := a.Login("root", apitest.RootPassword)
	repo := apitest.GitRepo(t, nil)
	a.Must(http.StatusCreated, "PUT", "/api/v1/projects/shop", root, apitest.LocalProject("shop", repo, t.TempDir()))
	dev := a.AddUser(root, "dev", false, map[string][]string{"shop": {"developer"}})
	r := a.Must(http.StatusCreated, "POST", "/api/v1/releases", dev,
		map[string]any{"project": "shop", "branch": "feature-1", "create_branch": true, "title": "First"})
	release := apitest.Str(r.Body, "release", "id")
	r = a.Must(http.StatusAccepted, "POST", "/api/v1/releases/"+release+"/deploy", dev, map[string]any{"env": "test"})
	if dep := a.WaitDeployment(dev, apitest.Str(r.Body, "deployment"), time.Minute); dep["state"] != "succeeded" {
		t.Fatalf("deploy to test on PostgreSQL: %v", dep)
	}
	pub := apitest.Str(a.Must(http.StatusOK, "GET", "/api/v1/me", root, nil).Body, "public_key")
	if !strings.HasPrefix(pub, "ssh-ed25519 ") {
		t.Fatalf("GET /me public_key %q, want the desk's ed25519 key", pub)
	}

	// The private key the runner reads is in the cache; in the database it
	// is sealed: neither its PEM nor its body appears there.
	private, err := os.ReadFile(filepath.Join(a.Dir, app.PgCacheDir, "ssh", "id_ed25519"))
	if err != nil {
		t.Fatal(err)
	}
	sealed := stateOf(t, db, "ssh-key")
	body := strings.Join(strings.Split(string(private), "\n")[1:3], "")
	if bytes.Contains(sealed, []byte("PRIVATE KEY")) || bytes.Contains(sealed, []byte(body)) || bytes.Contains(sealed, private) {
		t.Fatal("the ssh private key is in rd_state unsealed")
	}
	if got := strings.TrimSpace(string(stateOf(t, db, "ssh-key.pub"))); got != pub {
		t.Fatalf("rd_state ssh-key.pub %q, want %q", got, pub)
	}
	if creds := stateOf(t, db, "credentials"); !bytes.Contains(creds, []byte(`"root"`)) {
		t.Fatalf("rd_state credentials hold no root: %s", creds)
	}

	// A second instance on the same database, its own cache.
	b, err := openPgDesk(t, db, key)
	if err != nil {
		t.Fatal(err)
	}
	if got := apitest.Str(b.Must(http.StatusOK, "GET", "/api/v1/me", dev, nil).Body, "user", "name"); got != "dev" {
		t.Fatalf("a's token on b: user %q", got)
	}
	tok := b.Must(http.StatusCreated, "POST", "/api/v1/tokens", root, map[string]any{"name": "ci"})
	ci := apitest.Str(tok.Body, "token")
	if r := a.Call("GET", "/api/v1/me", ci, nil); r.Status != http.StatusOK {
		t.Fatalf("b's token on a: %d %s", r.Status, r.Raw)
	}
	b.Login("root", apitest.RootPassword)
	if got := apitest.Str(b.Must(http.StatusOK, "GET", "/api/v1/me", root, nil).Body, "public_key"); got != pub {
		t.Fatalf("b's public key %q, want a's %q", got, pub)
	}
	// Tokens made on both instances at once, for one user and for two:
	// none is refused, none is lost from the credentials.
	made := make(chan string, 8)
	var wg sync.WaitGroup
	for i := range 8 {
		e, who := a, root
		switch i % 4 {
		case 1:
			e = b
		case 3:
			e, who = b, dev
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.Call("POST", "/api/v1/tokens", who, map[string]any{"name": fmt.Sprintf("t%d", i)})
			if r.Status != http.StatusCreated {
				t.Errorf("token %d: %d %s", i, r.Status, r.Raw)
			}
			made <- apitest.Str(r.Body, "token")
		}()
	}
	wg.Wait()
	close(made)
	if t.Failed() {
		t.FailNow()
	}
	for tok := range made {
		for i, e := range []*apitest.Env{a, b} {
			if r := e.Call("GET", "/api/v1/me", tok, nil); r.Status != http.StatusOK {
				t.Fatalf("a token made while the other instance made some, on %s: %d %s", "ab"[i:i+1], r.Status, r.Raw)
			}
		}
	}

	// A host key trusted on b reaches the database and a's copy, which
	// a's runner reads.
	hostKey := strings.TrimSuffix(pub, " releasedesk") // any ed25519 key will do
	b.Must(http.StatusOK, "POST", "/api/v1/hosts/trust", root, map[string]any{"addr": "web-1.example.com:22", "key": hostKey})
	if kh := stateOf(t, db, "known_hosts"); !bytes.Contains(kh, []byte("web-1.example.com "+hostKey)) {
		t.Fatalf("rd_state known_hosts after a trust on b: %q", kh)
	}
	waitFor(t, "a's known_hosts to hold b's trust", func() bool {
		kh, _ := os.ReadFile(filepath.Join(a.Dir, app.PgCacheDir, "known_hosts"))
		return bytes.Contains(kh, []byte(hostKey))
	})

	// One instance sends the messages; the other takes over when it stops.
	waitFor(t, "a to send the messages", func() bool { return a.Desk.SendsMessages() })
	if b.Desk.SendsMessages() {
		t.Fatal("both instances send the messages")
	}
	a.Close()
	waitFor(t, "b to take the messages over", func() bool { return b.Desk.SendsMessages() })
	b.Close()

	// Without the key file, or with another: refused, saying why.
	if _, err := openPgDesk(t, db, nil); !errors.Is(err, app.ErrNoSecretKey) || !strings.Contains(err.Error(), "--secret-key-file") {
		t.Fatalf("open without the key: %v, want ErrNoSecretKey naming --secret-key-file", err)
	}
	if _, err := openPgDesk(t, db, keyFile(t)); err == nil || !strings.Contains(err.Error(), "the secret key does not open the stored ssh key: another key file?") {
		t.Fatalf("open with another key: %v", err)
	}

	// A restart on a fresh data directory with the same key keeps it all.
	c, err := openPgDesk(t, db, key)
	if err != nil {
		t.Fatal(err)
	}
	me := c.Must(http.StatusOK, "GET", "/api/v1/me", ci, nil)
	if apitest.Str(me.Body, "user", "name") != "root" || apitest.Str(me.Body, "public_key") != pub {
		t.Fatalf("after a restart, GET /me with the old token: %s", me.Raw)
	}
	c.Login("root", apitest.RootPassword)
	if kh, _ := os.ReadFile(filepath.Join(c.Dir, app.PgCacheDir, "known_hosts")); !bytes.Contains(kh, []byte(hostKey)) {
		t.Fatalf("after a restart, the cache's known_hosts %q lacks the trusted key", kh)
	}
	if got := apitest.Str(c.Must(http.StatusOK, "GET", "/api/v1/releases/"+release, dev, nil).Body, "release", "title"); got != "First" {
		t.Fatalf("after a restart, the release's title %q", got)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
