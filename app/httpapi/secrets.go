package httpapi

import (
	"crypto/rand"
	"crypto/subtle"
)

// newSecret is a fresh random credential with a prefix that says what it
// is (rdv_ a review secret, rdr_ a review session, rdt_ a stream ticket),
// so one found in a log or a paste is recognised.
func newSecret(prefix string) string {
	return prefix + rand.Text() // 26 base32 characters: 130 bits
}

// sameSecret compares in constant time.
func sameSecret(a, b string) bool {
	return len(a) == len(b) && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
