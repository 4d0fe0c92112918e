package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"golang.org/x/crypto/ssh"
)

// ensureStateSSHKey is ensureSSHKey for a server on PostgreSQL: the key
// lives in the database, sealed with the operator's key (stateSSHKey),
// its public half beside it in the clear (stateSSHKeyPub), made by the
// first instance that finds none (under the row's lock: two instances
// starting at once make one key). The runner reads a key file, so each
// instance writes the key to path in its own cache directory (0600), with
// the .pub beside it; the next start writes them again from the database.
func ensureStateSSHKey(ctx context.Context, st StateStore, key *SecretKey, path string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, stateTimeout)
	defer cancel()
	var private []byte
	err := st.UpdateState(ctx, stateSSHKey, func(old []byte, found bool) ([]byte, error) {
		if found {
			p, err := key.Open(stateSSHKey, old)
			if errors.Is(err, ErrSecretKeyMismatch) {
				return nil, fmt.Errorf("the secret key does not open the stored ssh key: another key file? "+
					"(%s must name the file the server was first started with)", SecretKeyFlag)
			}
			private = p
			return nil, err
		}
		p, _, err := newSSHKeyPair()
		if err != nil {
			return nil, err
		}
		private = p
		return key.Seal(stateSSHKey, p)
	})
	if err != nil {
		return "", err
	}
	signer, err := ssh.ParsePrivateKey(private)
	if err != nil {
		return "", fmt.Errorf("the stored ssh key: %w", err)
	}
	authorized := authorizedLine(signer.PublicKey())
	if pub, found, err := st.LoadState(ctx, stateSSHKeyPub); err != nil {
		return "", err
	} else if !found || !bytes.Equal(pub, []byte(authorized)) {
		if err := st.SaveState(ctx, stateSSHKeyPub, []byte(authorized)); err != nil {
			return "", err
		}
	}
	if err := writeFileAtomic(path+".pub", []byte(authorized)); err != nil {
		return "", fmt.Errorf("ssh key: %w", err)
	}
	if err := writeFileAtomic(path, private); err != nil {
		return "", fmt.Errorf("ssh key: %w", err)
	}
	return path, nil
}
