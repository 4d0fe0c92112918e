package runner

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"releasedesk/events/catalog"
)

// runRecorded collects what an outputSink emits, with times.
type runRecorded struct {
	mu     sync.Mutex
	texts  []string
	trunc  []bool
	stamps []time.Time
}

func (r *runRecorded) emit(text string, truncated bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.texts = append(r.texts, text)
	r.trunc = append(r.trunc, truncated)
	r.stamps = append(r.stamps, time.Now())
	return nil
}

func (r *runRecorded) all() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.texts, "")
}

func TestRunOutputCoalescesByInterval(t *testing.T) {
	rec := &runRecorded{}
	const interval = 60 * time.Millisecond
	s := newOutputSink(newRedactor(nil), interval, 1<<20, 1<<20, rec.emit)
	// 100 small writes over ~500 ms must make a handful of events, not 100.
	var want strings.Builder
	start := time.Now()
	for i := range 100 {
		line := fmt.Sprintf("line %d\n", i)
		want.WriteString(line)
		if _, err := s.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := rec.all(); got != want.String() {
		t.Fatalf("output changed:\n%q\nwant\n%q", got, want.String())
	}
	n := len(rec.texts)
	elapsed := time.Since(start)
	if most := int(elapsed/interval) + 2; n < 3 || n > most {
		t.Fatalf("%d events for 100 writes over %s at a %s interval (at most %d)", n, elapsed, interval, most)
	}
	// Every event but the final flush respects the interval.
	for i := 1; i < n-1; i++ {
		if gap := rec.stamps[i].Sub(rec.stamps[i-1]); gap < interval-5*time.Millisecond {
			t.Fatalf("events %d and %d only %s apart (interval %s)", i-1, i, gap, interval)
		}
	}
	t.Logf("100 writes -> %d events", n)
}

func TestRunOutputChunkSize(t *testing.T) {
	rec := &runRecorded{}
	s := newOutputSink(newRedactor(nil), time.Millisecond, 1000, 1<<20, rec.emit)
	// Multi-byte characters: a chunk must never split one.
	text := strings.Repeat("é-ab-€\n", 1000) // 10,000 bytes
	if _, err := s.Write([]byte(text)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if rec.all() != text {
		t.Fatal("output changed by chunking")
	}
	if len(rec.texts) < 10 {
		t.Fatalf("%d chunks for 10,000 bytes at 1,000 per chunk", len(rec.texts))
	}
	for i, c := range rec.texts {
		if len(c) > 1000 {
			t.Fatalf("chunk %d is %d bytes", i, len(c))
		}
		if !utf8.ValidString(c) {
			t.Fatalf("chunk %d splits a character", i)
		}
	}
}

func TestRunOutputChunkBoundsEscapedSize(t *testing.T) {
	// 100 KiB of '<' escapes to 600 KiB of JSON: more than an event may
	// hold. Chunks must stay under the escaped bound.
	text := strings.Repeat("<", 100<<10)
	n := cutPoint([]byte(text), 64<<10, maxEscapedChunk, true)
	if n*6 > maxEscapedChunk || n == 0 {
		t.Fatalf("cut at %d bytes (%d escaped), bound %d", n, n*6, maxEscapedChunk)
	}
}

func TestRunOutputCapMarker(t *testing.T) {
	rec := &runRecorded{}
	s := newOutputSink(newRedactor(nil), time.Millisecond, 64<<10, 1000, rec.emit)
	for range 30 {
		if _, err := s.Write([]byte(strings.Repeat("x", 99) + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	n := len(rec.texts)
	last := rec.texts[n-1]
	if !rec.trunc[n-1] || last != "[output truncated: 2000 bytes dropped]" {
		t.Fatalf("last event %q truncated=%v", last, rec.trunc[n-1])
	}
	kept := strings.Join(rec.texts[:n-1], "")
	if len(kept) != 1000 {
		t.Fatalf("kept %d bytes, cap 1000", len(kept))
	}
	for i := range n - 1 {
		if rec.trunc[i] {
			t.Fatalf("event %d marked truncated", i)
		}
	}
}

func TestRunOutputRedaction(t *testing.T) {
	const secret = "s3cr3t-T0KEN-value"
	cases := []struct {
		name   string
		writes []string
		want   string
	}{
		{"whole", []string{"token=" + secret + "\n"}, "token=[redacted]\n"},
		{"split across two writes", []string{"token=s3cr3t-T0", "KEN-value done\n"}, "token=[redacted] done\n"},
		{"split byte by byte", strings.Split("a "+secret+" b", ""), "a [redacted] b"},
		{"prefix only", []string{"s3cr3t-", "T0 nope"}, "s3cr3t-T0 nope"},
		{"prefix at the end", []string{"ends with s3cr3t-T"}, "ends with s3cr3t-T"},
		{"twice", []string{secret + secret}, "[redacted][redacted]"},
		{"longer secret first", []string{"pw=hunter2hunter2"}, "pw=[redacted]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &runRecorded{}
			s := newOutputSink(newRedactor([]string{secret, "hunter2", "hunter2hunter2"}), time.Millisecond, 8, 1<<20, rec.emit)
			for _, w := range tc.writes {
				if _, err := s.Write([]byte(w)); err != nil {
					t.Fatal(err)
				}
				time.Sleep(2 * time.Millisecond) // let chunks go out between writes
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if got := rec.all(); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			for _, c := range rec.texts {
				if strings.Contains(c, "s3cr3t-T0KEN") || strings.Contains(c, "hunter2") {
					t.Fatalf("a chunk holds the secret: %q", c)
				}
			}
		})
	}
}

func TestRunRedactCommandLine(t *testing.T) {
	red := newRedactor([]string{"pa55word"})
	got := red.Strings([]string{"env", "DB_PASSWORD=pa55word", "sh", "-c", "echo ok"})
	if strings.Join(got, " ") != "env DB_PASSWORD=[redacted] sh -c echo ok" {
		t.Fatalf("argv redacted as %q", got)
	}
	if red.String("no secret here") != "no secret here" {
		t.Fatal("text without a secret changed")
	}
}

func TestRunResolveEnv(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/db-pass"
	if err := runWriteFile(file, "from-file-secret\n"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("RD_TEST_SECRET", "from-env-secret")
	got, err := resolveEnv([]catalog.EnvVar{
		{Name: "PLAIN", Value: "hello"},
		{Name: "DB_PASS", FromFile: file, Secret: true},
		{Name: "API_KEY", FromEnv: "RD_TEST_SECRET", Secret: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "PLAIN=hello DB_PASS=from-file-secret API_KEY=from-env-secret"
	if strings.Join(got.Pairs, " ") != want {
		t.Fatalf("pairs %q", got.Pairs)
	}
	if len(got.Secrets) != 2 || got.Secrets[0] != "from-file-secret" {
		t.Fatalf("secrets %q", got.Secrets)
	}
	for _, bad := range []catalog.EnvVar{
		{Name: "BAD NAME", Value: "x"},
		{Name: "X", FromFile: dir + "/missing"},
		{Name: "X", FromEnv: "RD_TEST_UNSET_VARIABLE"},
		{Name: "X", Value: "a", FromEnv: "RD_TEST_SECRET"},
	} {
		if _, err := resolveEnv([]catalog.EnvVar{bad}); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
