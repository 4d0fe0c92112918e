package app

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
)

// ensureSSHKey returns the path of the app's own publishing key, making an
// ed25519 key pair (private 0600, public beside it as .pub) on first use,
// so a newcomer can publish after adding one line to a host's
// authorized_keys instead of creating and configuring a key first.
func ensureSSHKey(path string) (string, error) {
	if _, err := os.Stat(path); err == nil {
		return path, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("ssh key %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("ssh key: %w", err)
	}
	private, authorized, err := newSSHKeyPair()
	if err != nil {
		return "", err
	}
	// The public half first: a private key without it would be found and
	// used, but never shown.
	if err := writeFileAtomic(path+".pub", []byte(authorized)); err != nil {
		return "", err
	}
	if err := writeFileAtomic(path, private); err != nil {
		return "", err
	}
	return path, nil
}

// newSSHKeyPair makes an ed25519 key: the private key in OpenSSH's PEM
// form, and the public one as an authorized_keys line.
func newSSHKeyPair() (private []byte, authorized string, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, "", fmt.Errorf("ssh key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "releasedesk")
	if err != nil {
		return nil, "", fmt.Errorf("ssh key: %w", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, "", fmt.Errorf("ssh key: %w", err)
	}
	return pem.EncodeToMemory(block), authorizedLine(sshPub), nil
}

// authorizedLine is a public key as the line a host's authorized_keys
// takes, named for the app.
func authorizedLine(k ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) + " releasedesk\n"
}

// PublicKey is the app's publishing key as an authorized_keys line ("" if
// there is none).
func (d *Desk) PublicKey() string {
	if d.DefaultSSHKey == "" {
		return ""
	}
	b, err := os.ReadFile(d.DefaultSSHKey + ".pub")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
