package app

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

var phcRe = regexp.MustCompile(`^\$argon2id\$v=19\$m=65536,t=2,p=2\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestDefaultArgon2HashAndVerify(t *testing.T) {
	ctx := context.Background()
	start := time.Now()
	phc, err := hashPassword(ctx, nil, "correct horse battery", DefaultArgon)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("argon2id m=64MiB t=2 p=2: %v", took)
	if !phcRe.MatchString(phc) {
		t.Fatalf("PHC string %q", phc)
	}
	if ok, err := verifyPassword(ctx, nil, "correct horse battery", phc); !ok || err != nil {
		t.Fatalf("verify: %v %v", ok, err)
	}
	if ok, _ := verifyPassword(ctx, nil, "correct horse batterY", phc); ok {
		t.Fatal("a wrong password verified")
	}
	again, _ := hashPassword(ctx, nil, "correct horse battery", DefaultArgon)
	if again == phc {
		t.Fatal("two hashes of one password are equal: no salt?")
	}
}

// Parameters come from the stored string, so hashes made with other
// (older) parameters still verify.
func TestVerifyReadsParametersFromTheHash(t *testing.T) {
	ctx := context.Background()
	p := ArgonParams{Memory: 256, Time: 2, Threads: 3, SaltLen: 24, KeyLen: 20}
	phc, err := hashPassword(ctx, nil, "a password of mine", p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(phc, "$argon2id$v=19$m=256,t=2,p=3$") {
		t.Fatalf("PHC %q", phc)
	}
	if ok, _ := verifyPassword(ctx, nil, "a password of mine", phc); !ok {
		t.Fatal("did not verify")
	}
	if !outdated(phc, DefaultArgon) || outdated(phc, p) {
		t.Fatal("outdated")
	}
}

func TestParsePHCRefusesMalformed(t *testing.T) {
	good, _ := hashPassword(context.Background(), nil, "x", cheapArgon)
	parts := strings.Split(good, "$")
	with := func(i int, v string) string {
		p := append([]string(nil), parts...)
		p[i] = v
		return strings.Join(p, "$")
	}
	for _, bad := range []string{
		"", "plain", good + "$", with(1, "argon2i"), with(2, "v=16"),
		with(3, "m=64,t=1"), with(3, "m=64,t=1,p=1,x=2"), with(3, "m=64,t=0,p=1"), with(3, "m=4,t=1,p=1"),
		with(3, fmt.Sprintf("m=%d,t=1,p=1", maxArgonMemory+1)), with(3, "m=64,t=65,p=1"), with(3, "m=64,t=1,p=256"),
		with(3, "m=-1,t=1,p=1"), with(4, ""), with(4, "!!!!"), with(5, "c2hvcnQ"),
	} {
		if _, err := parsePHC(bad); err == nil {
			t.Errorf("parsePHC(%q) accepted", bad)
		}
		if ok, err := verifyPassword(context.Background(), nil, "x", bad); ok || err != nil {
			t.Errorf("verify against %q: %v %v", bad, ok, err)
		}
	}
	if _, err := parsePHC(good); err != nil {
		t.Fatal(err)
	}
}

func TestCredentialsFileIsPrivateAndSurvivesReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, CredentialsFile)
	c, err := OpenCredentials(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("opening created the file")
	}
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	phc, _ := hashPassword(context.Background(), nil, "secret password", cheapArgon)
	if err := c.setPassword(now, "alice", phc); err != nil {
		t.Fatal(err)
	}
	secret, h, _ := newSecretToken()
	tok := credToken{ID: "tk_1", User: "alice", Kind: TokenPersonal, Name: "ci", Hash: hex.EncodeToString(h[:]), Created: now}
	if err := c.addToken(now, tok); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
	raw, _ := os.ReadFile(path)
	if strings.Contains(string(raw), strings.TrimPrefix(secret, tokenPrefix)) {
		t.Fatal("the token's secret is stored")
	}

	c2, err := OpenCredentials(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := c2.passwordHash("alice"); got != phc {
		t.Fatalf("hash after reopen %q", got)
	}
	hh, _ := parseSecretToken(secret)
	if got, ok := c2.tokenByHash(hh); !ok || got.ID != "tk_1" || got.Name != "ci" || !got.Created.Equal(now) {
		t.Fatalf("token after reopen %+v %v", got, ok)
	}
	if err := c2.removeTokens(now, "tk_1"); err != nil {
		t.Fatal(err)
	}
	c3, _ := OpenCredentials(path)
	if _, ok := c3.tokenByHash(hh); ok {
		t.Fatal("removed token came back")
	}
}

func TestCredentialsFileRefusedOrNarrowed(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for name, text := range map[string]string{
		"garbage.json": "{not json",
		"newer.json":   `{"version": 2, "passwords": {}, "tokens": []}`,
		"badhash.json": `{"version": 1, "passwords": {"alice": "md5:abc"}, "tokens": []}`,
		"badtok.json":  `{"version": 1, "passwords": {}, "tokens": [{"id": "t", "user": "a", "sha256": "zz"}]}`,
	} {
		if _, err := OpenCredentials(write(name, text, 0o600)); err == nil {
			t.Errorf("%s opened", name)
		}
	}
	if runtime.GOOS != "windows" {
		p := write("open.json", `{"version": 1, "passwords": {}, "tokens": []}`, 0o644)
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenCredentials(p); err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
			t.Fatalf("mode %v was not narrowed", fi.Mode().Perm())
		}
	}
}

func TestCredentialsConcurrentWritersLoseNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), CredentialsFile)
	c, err := OpenCredentials(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	phc, _ := hashPassword(context.Background(), nil, "x", cheapArgon)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if err := c.setPassword(now, fmt.Sprintf("user%d", i), phc); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	c2, err := OpenCredentials(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(c2.passwords) != 20 {
		t.Fatalf("%d passwords after 20 writes", len(c2.passwords))
	}
}

func TestSecretTokenForm(t *testing.T) {
	a, ha, _ := newSecretToken()
	b, _, _ := newSecretToken()
	if a == b || len(a) != 46 || !strings.HasPrefix(a, "rd_") {
		t.Fatalf("tokens %q %q", a, b)
	}
	if h, ok := parseSecretToken(a); !ok || h != ha {
		t.Fatal("parse")
	}
	id1, _ := newTokenID()
	id2, _ := newTokenID()
	if id1 == id2 || !strings.HasPrefix(id1, "tk_") {
		t.Fatalf("ids %q %q", id1, id2)
	}
}

func BenchmarkArgon2Default(b *testing.B) {
	ctx := context.Background()
	phc, _ := hashPassword(ctx, nil, "correct horse battery", DefaultArgon)
	for b.Loop() {
		_, _ = verifyPassword(ctx, nil, "correct horse battery", phc)
	}
}
