package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"strings"

	"releasedesk/events/catalog"
	"releasedesk/events/text"
)

// maxSecretFile bounds what is read as a secret: a key, not a file of them.
const maxSecretFile = 4 << 10

// ResolveSecret reads a secret where its reference says, at the moment
// it is needed, so a rotated secret takes effect at the next message and
// no secret is ever kept in the log. The refusal names the file or the
// variable, never what it holds. An empty reference is no secret ("").
func ResolveSecret(ref catalog.SecretRef) (string, error) {
	switch {
	case ref.FromFile != "":
		info, err := os.Stat(ref.FromFile)
		if errors.Is(err, fs.ErrNotExist) {
			return "", text.Errorf("the secret file %s does not exist", ref.FromFile)
		}
		if err != nil {
			return "", text.Errorf("the secret file %s cannot be read: %v", ref.FromFile, errors.Unwrap(err))
		}
		if info.Size() > maxSecretFile {
			return "", text.Errorf("the secret file %s holds %d bytes: a secret is at most %d", ref.FromFile, info.Size(), maxSecretFile)
		}
		raw, err := os.ReadFile(ref.FromFile)
		if err != nil {
			return "", text.Errorf("the secret file %s cannot be read: %v", ref.FromFile, errors.Unwrap(err))
		}
		s := strings.TrimSpace(string(raw))
		if s == "" {
			return "", text.Errorf("the secret file %s is empty", ref.FromFile)
		}
		return s, nil
	case ref.FromEnv != "":
		s, ok := os.LookupEnv(ref.FromEnv)
		if !ok {
			return "", text.Errorf("the environment variable %s is not set", ref.FromEnv)
		}
		if s = strings.TrimSpace(s); s == "" {
			return "", text.Errorf("the environment variable %s is empty", ref.FromEnv)
		}
		return s, nil
	}
	return "", nil
}

// Fingerprint identifies a secret without telling it: the start of its
// SHA-256, enough to see that the secret changed or which one signed.
func Fingerprint(secret string) string {
	if secret == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(secret))
	return "sha256:" + hex.EncodeToString(sum[:6])
}
