//go:build linux

package apitest

import (
	"bytes"
	"regexp"
	"sync"
	"testing"
	"time"
)

// Buffer is a bytes.Buffer safe to read while another goroutine writes
// it: the output of a command or a process under test.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ServingLine is what serve and open print once they listen; its group is
// the URL with its trailing slash.
var ServingLine = regexp.MustCompile(`Release Desk is at (https?://\S+/)`)

// ReviewLine is what open (and serve --archive) print with the serving
// line: the review link, with its one-time secret.
var ReviewLine = regexp.MustCompile(`it works once\): (https?://\S+/#/review/\S+)`)

// CredentialShape matches anything shaped like one of the desk's
// credentials: a session or personal token (rd_), a stream ticket (rdt_),
// a review secret (rdv_) or a review session (rdr_). A log must hold none.
var CredentialShape = regexp.MustCompile(`\brd[tvr]?_[A-Za-z0-9_-]{20,}`)

// WaitForURL waits (at most 10 s) for out to show the serving line and
// returns its URL, with the trailing slash.
func WaitForURL(t testing.TB, out *Buffer) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := ServingLine.FindStringSubmatch(out.String()); m != nil {
			return m[1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("serve printed no URL: %q", out.String())
	return ""
}
