package runner

import (
	"bytes"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"releasedesk/events"
)

// Output defaults (DESIGN.md section 2): one step.output per step at most
// every 250 ms, at most 64 KiB each, 1 MiB per step.
const (
	DefaultOutputInterval = 250 * time.Millisecond
	DefaultOutputChunk    = 64 << 10
	DefaultOutputCap      = 1 << 20
)

// redactedMark replaces every secret value in recorded text.
const redactedMark = "[redacted]"

// truncatedFormat is the visible marker of a capped step's output.
const truncatedFormat = "[output truncated: %d bytes dropped]"

// maxEscapedChunk bounds one chunk's size once JSON-escaped: a chunk of
// control characters or '<' grows six-fold, and an event's data may not pass
// events.MaxDataBytes. The margin is for the other fields of StepOutput.
const maxEscapedChunk = events.MaxDataBytes - 4<<10

// redactor replaces secret values with redactedMark.
type redactor struct {
	secrets []string // longest first
	first   [256]bool
}

func newRedactor(secrets []string) *redactor {
	r := &redactor{secrets: dedupeLongestFirst(secrets)}
	for _, s := range r.secrets {
		r.first[s[0]] = true
	}
	return r
}

// scan returns b with every secret replaced, up to the first byte where a
// secret might begin but b ends before it can be told (unless final: then
// the end is the end), and how many bytes of b it consumed. Keeping that
// tail back is what redacts a secret split across two writes.
func (r *redactor) scan(b []byte, final bool) (out []byte, used int) {
	if len(r.secrets) == 0 {
		return b, len(b)
	}
	out = make([]byte, 0, len(b))
	i := 0
outer:
	for i < len(b) {
		if !r.first[b[i]] {
			j := i + 1
			for j < len(b) && !r.first[b[j]] {
				j++
			}
			out = append(out, b[i:j]...)
			i = j
			continue
		}
		rest := b[i:]
		if !final {
			for _, s := range r.secrets {
				if len(rest) < len(s) && s[:len(rest)] == string(rest) {
					break outer // might still become s: wait for more
				}
			}
		}
		for _, s := range r.secrets {
			if len(rest) >= len(s) && string(rest[:len(s)]) == s {
				out = append(out, redactedMark...)
				i += len(s)
				continue outer
			}
		}
		out = append(out, b[i])
		i++
	}
	return out, i
}

// String redacts a whole string (command lines, error messages).
func (r *redactor) String(s string) string {
	if r == nil || len(r.secrets) == 0 {
		return s
	}
	out, _ := r.scan([]byte(s), true)
	return string(out)
}

// Strings redacts each string of argv.
func (r *redactor) Strings(argv []string) []string {
	if argv == nil {
		return nil
	}
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = r.String(a)
	}
	return out
}

// outputSink is the io.Writer a step's command writes to. It redacts,
// caps and coalesces the output into step.output events: at most one per
// interval while the command runs, each at most chunk bytes. What arrives
// faster waits in memory (bounded by the cap); Close sends the rest at once,
// since the step is over and nobody should wait for its tail.
type outputSink struct {
	emit     func(text string, truncated bool) error
	red      *redactor
	interval time.Duration
	chunk    int
	cap      int

	mu      sync.Mutex
	raw     []byte // received, not yet redacted: may hold a secret's start
	ready   []byte // redacted, waiting for its turn
	kept    int    // bytes accepted into ready: the cap counts these
	dropped int64  // bytes beyond the cap
	last    time.Time
	err     error // the first emit error

	wake chan struct{}
	done chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

func newOutputSink(red *redactor, interval time.Duration, chunk, cap int, emit func(string, bool) error) *outputSink {
	s := &outputSink{
		emit: emit, red: red, interval: interval, chunk: chunk, cap: cap,
		wake: make(chan struct{}, 1), done: make(chan struct{}),
	}
	s.wg.Add(1)
	go s.loop()
	return s
}

// Write implements io.Writer; it never blocks on the log.
func (s *outputSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	if s.kept >= s.cap {
		s.dropped += int64(len(p)) + int64(len(s.raw))
		s.raw = nil
	} else {
		s.raw = append(s.raw, p...)
		s.redactLocked(false)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return len(p), nil
}

// redactLocked moves what can be told of raw into ready, within the cap.
func (s *outputSink) redactLocked(final bool) {
	out, used := s.red.scan(s.raw, final)
	s.raw = append(s.raw[:0], s.raw[used:]...)
	room := s.cap - s.kept
	if len(out) <= room {
		s.ready = append(s.ready, out...)
		s.kept += len(out)
		return
	}
	cut := runeStart(out, room)
	s.ready = append(s.ready, out[:cut]...)
	s.dropped += int64(len(out) - cut)
	s.kept = s.cap
}

// loop sends one chunk per interval while there is something to send.
func (s *outputSink) loop() {
	defer s.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-s.wake:
		}
		for {
			s.mu.Lock()
			if len(s.ready) == 0 {
				s.mu.Unlock()
				break
			}
			if wait := time.Until(s.last.Add(s.interval)); wait > 0 {
				s.mu.Unlock()
				timer.Reset(wait)
				select {
				case <-s.done:
					timer.Stop()
					return
				case <-timer.C:
				}
				continue
			}
			text := s.takeLocked(false)
			if text == "" {
				s.mu.Unlock()
				break // only an incomplete character waits
			}
			s.last = time.Now()
			s.mu.Unlock()
			s.send(text, false)
		}
	}
}

// takeLocked removes and returns the next chunk of ready.
func (s *outputSink) takeLocked(final bool) string {
	n := cutPoint(s.ready, s.chunk, maxEscapedChunk, final)
	text := string(s.ready[:n])
	s.ready = append(s.ready[:0], s.ready[n:]...)
	return text
}

func (s *outputSink) send(text string, truncated bool) {
	if err := s.emit(text, truncated); err != nil {
		s.mu.Lock()
		if s.err == nil {
			s.err = err
		}
		s.mu.Unlock()
	}
}

// Close stops the interval loop and sends everything left, then the
// truncation marker if the cap was reached. It returns the first error of
// an append, if any.
func (s *outputSink) Close() error {
	s.once.Do(func() {
		close(s.done)
		s.wg.Wait()
		s.mu.Lock()
		if s.kept < s.cap {
			s.redactLocked(true)
		} else {
			s.dropped += int64(len(s.raw))
			s.raw = nil
		}
		var chunks []string
		for len(s.ready) > 0 {
			chunks = append(chunks, s.takeLocked(true))
		}
		dropped := s.dropped
		s.mu.Unlock()
		for _, c := range chunks {
			s.send(c, false)
		}
		if dropped > 0 {
			s.send(fmt.Sprintf(truncatedFormat, dropped), true)
		}
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// cutPoint is how many bytes of b make the next chunk: at most maxRaw
// bytes, at most maxEscaped once JSON-escaped, on a character boundary. A
// character cut short at the end of b waits for its other bytes unless
// final. A chunk always makes progress when b starts with a whole character.
func cutPoint(b []byte, maxRaw, maxEscaped int, final bool) int {
	i, esc := 0, 0
	for i < len(b) {
		if !final && !utf8.FullRune(b[i:]) {
			break
		}
		r, size := utf8.DecodeRune(b[i:])
		c := jsonCost(r, size)
		if i+size > maxRaw || esc+c > maxEscaped {
			break
		}
		i += size
		esc += c
	}
	if i == 0 && len(b) > 0 && (final || utf8.FullRune(b)) {
		_, size := utf8.DecodeRune(b)
		return size // a limit below one character: send it anyway
	}
	return i
}

// jsonCost is how many bytes encoding/json writes for one decoded rune
// (HTML-escaping as events.CanonicalData does).
func jsonCost(r rune, size int) int {
	switch {
	case r == utf8.RuneError && size == 1:
		return 6 // becomes \ufffd
	case r == '"' || r == '\\' || r == '\n' || r == '\r' || r == '\t':
		return 2
	case r < 0x20 || r == '<' || r == '>' || r == '&' || r == '\u2028' || r == '\u2029':
		return 6
	}
	return size
}

// runeStart backs n off to the start of a character of b, so a cut never
// splits one.
func runeStart(b []byte, n int) int {
	if n >= len(b) {
		return len(b)
	}
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return n
}

// lastLine returns the last non-empty line of text, for error messages
// that quote a failing command's output.
func lastLine(text string) string {
	text = string(bytes.TrimRight([]byte(text), "\r\n\t "))
	if i := bytes.LastIndexByte([]byte(text), '\n'); i >= 0 {
		text = text[i+1:]
	}
	if len(text) > 200 {
		text = text[:runeStart([]byte(text), 200)] + "…"
	}
	return text
}
