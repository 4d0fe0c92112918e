package app

import "crypto/rand"

// passwordAlphabet leaves out look-alikes (0/O, 1/l/I) so a printed
// password can be typed.
const passwordAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// NewPassword is 20 random characters of passwordAlphabet (about 116 bits).
func NewPassword() string {
	const n = 20
	b := make([]byte, n)
	max := byte(256 - 256%len(passwordAlphabet)) // no modulo bias
	buf := make([]byte, 1)
	for i := 0; i < n; {
		if _, err := rand.Read(buf); err != nil {
			panic(err) // crypto/rand does not fail on Linux
		}
		if buf[0] < max {
			b[i] = passwordAlphabet[int(buf[0])%len(passwordAlphabet)]
			i++
		}
	}
	return string(b)
}
