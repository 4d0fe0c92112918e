package app

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSecretKeySealsPerName: a sealed value opens with the same key file
// and name only; a short or missing file is refused naming the flag.
func TestSecretKeySealsPerName(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	k1, err := LoadSecretKey(write("k1", bytes.Repeat([]byte{1}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	k1again, _ := LoadSecretKey(filepath.Join(dir, "k1"))
	k2, _ := LoadSecretKey(write("k2", bytes.Repeat([]byte{2}, 40)))

	secret := []byte("-----BEGIN OPENSSH PRIVATE KEY-----")
	sealed, err := k1.Seal("ssh-key", secret)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, secret[:10]) {
		t.Fatal("the sealed value holds the plain text")
	}
	if again, _ := k1.Seal("ssh-key", secret); bytes.Equal(again, sealed) {
		t.Fatal("two seals of one value are equal: the nonce is not fresh")
	}
	if got, err := k1again.Open("ssh-key", sealed); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("open with the same file: %q %v", got, err)
	}
	if _, err := k2.Open("ssh-key", sealed); !errors.Is(err, ErrSecretKeyMismatch) {
		t.Fatalf("open with another file: %v, want ErrSecretKeyMismatch", err)
	}
	if _, err := k1.Open("credentials", sealed); !errors.Is(err, ErrSecretKeyMismatch) {
		t.Fatalf("open under another name: %v, want ErrSecretKeyMismatch", err)
	}
	if _, err := k1.Open("ssh-key", sealed[:10]); !errors.Is(err, ErrSecretKeyMismatch) {
		t.Fatalf("open a truncated value: %v", err)
	}

	for _, c := range []struct{ name, path, want string }{
		{"short", write("short", bytes.Repeat([]byte{3}, 31)), "holds 31 bytes, at least 32"},
		{"missing", filepath.Join(dir, "nope"), "no such file"},
		{"none", "", "no secret key"},
	} {
		_, err := LoadSecretKey(c.path)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "--secret-key-file") {
			t.Errorf("%s: got %v, want %q naming --secret-key-file", c.name, err, c.want)
		}
	}
}
