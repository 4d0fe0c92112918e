package app

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
)

// SecretKey seals the secrets a server on PostgreSQL keeps in the
// database (its ssh private key): whoever reads the database, a dump or a
// backup, still needs the key file, which stays with the operator.
//
// The file holds at least 32 random bytes; the sealing key is derived from
// them with HKDF-SHA256, so any file of enough entropy does (head -c 32
// /dev/urandom). Each value is sealed with AES-256-GCM and its name as
// additional data, so a sealed value moved under another name does not
// open.
type SecretKey struct {
	aead cipher.AEAD
}

// MinSecretKeyBytes is the least a key file holds.
const MinSecretKeyBytes = 32

// SecretKeyFlag names where the key file is given, for the errors.
const SecretKeyFlag = "--secret-key-file (or RELEASEDESK_SECRET_KEY_FILE)"

// hkdfInfo binds the derived key to this use and version of the sealing.
const hkdfInfo = "releasedesk state sealing v1"

// LoadSecretKey reads the key file at path. A missing, unreadable or short
// file is refused with the reason and the flag that names it.
func LoadSecretKey(path string) (*SecretKey, error) {
	if path == "" {
		return nil, fmt.Errorf("no secret key: a server on PostgreSQL keeps its ssh key in the database sealed with a key "+
			"only the operator holds: give a file of at least %d random bytes with %s "+
			"(head -c 32 /dev/urandom > releasedesk.key)", MinSecretKeyBytes, SecretKeyFlag)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", SecretKeyFlag, err)
	}
	if len(raw) < MinSecretKeyBytes {
		return nil, fmt.Errorf("%s: %s holds %d bytes, at least %d random bytes are needed (head -c 32 /dev/urandom)",
			SecretKeyFlag, path, len(raw), MinSecretKeyBytes)
	}
	return NewSecretKey(raw)
}

// NewSecretKey derives the sealing key from raw (at least 32 bytes).
func NewSecretKey(raw []byte) (*SecretKey, error) {
	if len(raw) < MinSecretKeyBytes {
		return nil, fmt.Errorf("secret key: %d bytes, at least %d needed", len(raw), MinSecretKeyBytes)
	}
	key, err := hkdf.Key(sha256.New, raw, nil, hkdfInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	return &SecretKey{aead: aead}, nil
}

// Seal encrypts plain for the value named label: a random nonce, then the
// ciphertext with its tag.
func (k *SecretKey) Seal(label string, plain []byte) ([]byte, error) {
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plain)+k.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return k.aead.Seal(nonce, nonce, plain, []byte(label)), nil
}

// ErrSecretKeyMismatch is a sealed value the key does not open: another
// key file, or a value moved from another name.
var ErrSecretKeyMismatch = errors.New("the secret key does not open it")

// Open decrypts a value Seal made for label.
func (k *SecretKey) Open(label string, sealed []byte) ([]byte, error) {
	n := k.aead.NonceSize()
	if len(sealed) < n+k.aead.Overhead() {
		return nil, ErrSecretKeyMismatch
	}
	plain, err := k.aead.Open(nil, sealed[:n], sealed[n:], []byte(label))
	if err != nil {
		return nil, ErrSecretKeyMismatch
	}
	return plain, nil
}
