package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"releasedesk/events/pgtest"
)

// logFactories returns one constructor per Log implementation. Each opens a
// fresh, empty log that is closed when the test ends. Other test files (the
// verify and export tests) run their cases against every entry.
func logFactories() map[string]func(t *testing.T) Log {
	return conformanceFactories(Options{})
}

// conformanceFactories is logFactories with options, for the cases that need
// upcasters or a fixed clock.
func conformanceFactories(opts Options) map[string]func(t *testing.T) Log {
	return map[string]func(t *testing.T) Log{
		"badger": func(t *testing.T) Log {
			t.Helper()
			s, err := Open(t.TempDir(), opts)
			if err != nil {
				t.Fatalf("open store: %v", err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
		"postgres": func(t *testing.T) Log {
			t.Helper()
			s, err := OpenPostgres(context.Background(), pgtest.Database(t), opts)
			if err != nil {
				t.Fatalf("open store: %v", err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
		"memory": func(t *testing.T) Log {
			t.Helper()
			m := NewMemStore(opts)
			t.Cleanup(func() { _ = m.Close() })
			return m
		},
	}
}

// conformanceCases are the rules every Log obeys.
var conformanceCases = []struct {
	name string
	run  func(t *testing.T, open func(t *testing.T) Log)
}{
	{"AppendAndRead", confAppendAndRead},
	{"Expectations", confExpectations},
	{"AllOrNothing", confAllOrNothing},
	{"ConcurrentSameStream", confConcurrentSameStream},
	{"ConcurrentStreams", confConcurrentStreams},
	{"HashChain", confHashChain},
	{"StreamHead", confStreamHead},
	{"StreamHeadDecideThenAppend", confStreamHeadDecideThenAppend},
	{"SubscribeWhileAppending", confSubscribeWhileAppending},
	{"SlowSubscriberDoesNotStall", confSlowSubscriber},
	{"SubscriptionCancel", confSubscriptionCancel},
	{"Close", confClose},
}

func TestConformance(t *testing.T) {
	for name, open := range logFactories() {
		t.Run(name, func(t *testing.T) {
			for _, c := range conformanceCases {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					c.run(t, open)
				})
			}
		})
	}
}

// TestConformanceUpcast runs the upcasting case, which needs a registry.
func TestConformanceUpcast(t *testing.T) {
	up := NewUpcasters()
	if err := up.Register("note.added", 1, func(d json.RawMessage) (json.RawMessage, error) {
		var v map[string]any
		if err := json.Unmarshal(d, &v); err != nil {
			return nil, err
		}
		v["title"] = v["text"]
		delete(v, "text")
		return json.Marshal(v)
	}); err != nil {
		t.Fatal(err)
	}
	for name, open := range conformanceFactories(Options{Upcasters: up}) {
		t.Run(name, func(t *testing.T) { confUpcast(t, open) })
	}
}

// ev builds a small event whose data names n, so reads can be checked.
func confEvent(typ string, n int) Event {
	return Event{Type: typ, Actor: "tester", Data: json.RawMessage(fmt.Sprintf(`{ "n" : %d }`, n))}
}

func confAppend(t *testing.T, l Log, stream string, expected int64, evs ...Event) []Envelope {
	t.Helper()
	got, err := l.Append(context.Background(), stream, expected, evs...)
	if err != nil {
		t.Fatalf("append to %s expecting %d: %v", stream, expected, err)
	}
	return got
}

func confReadAll(t *testing.T, r Reader, from uint64) []Envelope {
	t.Helper()
	var out []Envelope
	if err := r.ReadAll(context.Background(), from, func(e Envelope) error { out = append(out, e); return nil }); err != nil {
		t.Fatalf("read all from %d: %v", from, err)
	}
	return out
}

func confPositions(envs []Envelope) []uint64 {
	out := make([]uint64, len(envs))
	for i, e := range envs {
		out[i] = e.Position
	}
	return out
}

func confSeq(from, to uint64) []uint64 {
	var out []uint64
	for p := from; p <= to; p++ {
		out = append(out, p)
	}
	return out
}

func confEqual(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func confAppendAndRead(t *testing.T, open func(t *testing.T) Log) {
	l := open(t)
	a := confAppend(t, l, "release/1", NoStream, confEvent("release.created", 1), confEvent("release.tested", 2), confEvent("release.approved", 3))
	b := confAppend(t, l, "release/2", NoStream, confEvent("release.created", 4), confEvent("release.tested", 5))
	if len(a) != 3 || len(b) != 2 {
		t.Fatalf("append returned %d and %d envelopes, want 3 and 2", len(a), len(b))
	}
	for i, e := range append(a, b...) {
		if e.Position != uint64(i+1) {
			t.Errorf("envelope %d has position %d", i, e.Position)
		}
		if e.Schema != 1 || e.Actor != "tester" || e.Time.IsZero() || e.Time.Location() != time.UTC {
			t.Errorf("envelope %d: schema %d actor %q time %v", i, e.Schema, e.Actor, e.Time)
		}
		if want := fmt.Sprintf(`{"n":%d}`, i+1); string(e.Data) != want {
			t.Errorf("envelope %d data %s, want canonical %s", i, e.Data, want)
		}
	}
	if b[1].Version != 2 || b[1].Stream != "release/2" {
		t.Errorf("last envelope: stream %q version %d", b[1].Stream, b[1].Version)
	}

	s1, err := l.ReadStream(context.Background(), "release/1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(s1) != 3 || s1[0].Version != 1 || s1[2].Version != 3 || s1[2].Type != "release.approved" {
		t.Fatalf("read stream release/1: %+v", s1)
	}
	s1, err = l.ReadStream(context.Background(), "release/1", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(s1) != 2 || s1[0].Version != 2 {
		t.Fatalf("read stream release/1 from version 2: %+v", s1)
	}
	if none, err := l.ReadStream(context.Background(), "release/9", 0); err != nil || len(none) != 0 {
		t.Fatalf("read missing stream: %v %+v", err, none)
	}
	// A stream whose name is a prefix of another must not see the other's events.
	confAppend(t, l, "release/10", NoStream, confEvent("release.created", 6))
	if s, _ := l.ReadStream(context.Background(), "release/1", 0); len(s) != 3 {
		t.Fatalf("release/1 sees %d events after release/10 was created", len(s))
	}

	all := confReadAll(t, l, 0)
	if !confEqual(confPositions(all), confSeq(1, 6)) {
		t.Fatalf("read all positions %v", confPositions(all))
	}
	for i, e := range all[:5] {
		want := append(a, b...)[i]
		if e.Hash != want.Hash || e.Stream != want.Stream || e.Version != want.Version || !e.Time.Equal(want.Time) || string(e.Data) != string(want.Data) {
			t.Errorf("read all %d = %+v, appended %+v", i, e, want)
		}
	}
	if from4 := confReadAll(t, l, 4); !confEqual(confPositions(from4), confSeq(4, 6)) {
		t.Fatalf("read all from 4: %v", confPositions(from4))
	}
	if past := confReadAll(t, l, 7); len(past) != 0 {
		t.Fatalf("read all past the end: %v", confPositions(past))
	}
	stop := errors.New("stop")
	n := 0
	if err := l.ReadAll(context.Background(), 0, func(Envelope) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Fatalf("read all stops on fn's error: err %v after %d calls", err, n)
	}

	head := l.Head()
	if head.Position != 6 || head.Hash != all[5].Hash {
		t.Fatalf("head %+v, last %d %s", head, all[5].Position, all[5].Hash)
	}
	st, err := l.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var bytes uint64
	for _, e := range all {
		bytes += uint64(len(e.CanonicalBytes()))
	}
	if st.Count != 6 || st.Streams != 3 || st.Bytes != bytes || st.Head != head ||
		!st.FirstTime.Equal(all[0].Time) || !st.LastTime.Equal(all[5].Time) {
		t.Fatalf("stats %+v, want count 6 streams 3 bytes %d head %+v", st, bytes, head)
	}
}

func confExpectations(t *testing.T, open func(t *testing.T) Log) {
	l := open(t)
	ctx := context.Background()
	confAppend(t, l, "deploy/1", NoStream, confEvent("deploy.queued", 1))
	confAppend(t, l, "deploy/1", 1, confEvent("deploy.started", 2), confEvent("deploy.finished", 3))

	var ce *ConcurrencyError
	_, err := l.Append(ctx, "deploy/1", NoStream, confEvent("deploy.queued", 4))
	if !errors.Is(err, ErrConcurrency) || !errors.As(err, &ce) || ce.Stream != "deploy/1" || ce.Expected != NoStream || ce.Actual != 3 {
		t.Fatalf("NoStream on an existing stream: %v (%+v)", err, ce)
	}
	_, err = l.Append(ctx, "deploy/1", 1, confEvent("deploy.started", 4))
	if !errors.Is(err, ErrConcurrency) || !errors.As(err, &ce) || ce.Expected != 1 || ce.Actual != 3 {
		t.Fatalf("stale expectation: %v (%+v)", err, ce)
	}
	_, err = l.Append(ctx, "deploy/1", 7, confEvent("deploy.started", 4))
	if !errors.As(err, &ce) || ce.Expected != 7 || ce.Actual != 3 {
		t.Fatalf("future expectation: %v", err)
	}
	_, err = l.Append(ctx, "deploy/2", 1, confEvent("deploy.started", 4))
	if !errors.As(err, &ce) || ce.Expected != 1 || ce.Actual != 0 {
		t.Fatalf("version expected of a missing stream: %v", err)
	}
	if l.Head().Position != 3 {
		t.Fatalf("refused appends moved the head to %d", l.Head().Position)
	}
	got := confAppend(t, l, "deploy/1", 3, confEvent("deploy.verified", 5))
	if got[0].Version != 4 || got[0].Position != 4 {
		t.Fatalf("exact expectation gave %+v", got[0])
	}
	got = confAppend(t, l, "deploy/1", AnyVersion, confEvent("deploy.noted", 6))
	if got[0].Version != 5 {
		t.Fatalf("AnyVersion gave version %d", got[0].Version)
	}
	got = confAppend(t, l, "deploy/3", AnyVersion, confEvent("deploy.noted", 7))
	if got[0].Version != 1 || got[0].Position != 6 {
		t.Fatalf("AnyVersion on a new stream gave %+v", got[0])
	}
	if _, err := l.Append(ctx, "deploy/1", -2, confEvent("deploy.noted", 8)); !errors.Is(err, ErrInvalidEvent) {
		t.Fatalf("expected version -2: %v", err)
	}
}

func confAllOrNothing(t *testing.T, open func(t *testing.T) Log) {
	l := open(t)
	confAppend(t, l, "host/a", NoStream, confEvent("host.added", 1))
	bad := Event{Type: "host.checked", Data: json.RawMessage(`{"broken":`)}
	_, err := l.Append(context.Background(), "host/a", 1, confEvent("host.checked", 2), bad, confEvent("host.checked", 3))
	var ie *InvalidEventError
	if !errors.Is(err, ErrInvalidEvent) || !errors.As(err, &ie) || ie.Field != "data" {
		t.Fatalf("bad event in the middle: %v", err)
	}
	if h := l.Head(); h.Position != 1 {
		t.Fatalf("head moved to %d", h.Position)
	}
	if s, _ := l.ReadStream(context.Background(), "host/a", 0); len(s) != 1 {
		t.Fatalf("stream has %d events, want 1", len(s))
	}
	got := confAppend(t, l, "host/a", 1, confEvent("host.checked", 2))
	if got[0].Position != 2 || got[0].Version != 2 {
		t.Fatalf("append after a refusal: %+v", got[0])
	}
}

func confConcurrentSameStream(t *testing.T, open func(t *testing.T) Log) {
	l := open(t)
	const writers, rounds = 8, 10
	for v := range int64(rounds) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, conflicts := 0, 0
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := l.Append(context.Background(), "lock/web/prod", v, confEvent("lock.taken", w))
				mu.Lock()
				defer mu.Unlock()
				var ce *ConcurrencyError
				switch {
				case err == nil:
					wins++
				case errors.As(err, &ce) && ce.Actual == uint64(v)+1:
					conflicts++
				default:
					t.Errorf("round %d writer %d: %v", v, w, err)
				}
			}()
		}
		wg.Wait()
		if wins != 1 || conflicts != writers-1 {
			t.Fatalf("round %d: %d appends won and %d conflicted, want 1 and %d", v, wins, conflicts, writers-1)
		}
	}
	all := confReadAll(t, l, 0)
	if !confEqual(confPositions(all), confSeq(1, rounds)) {
		t.Fatalf("positions %v", confPositions(all))
	}
	for i, e := range all {
		if e.Version != uint64(i+1) {
			t.Fatalf("position %d has version %d", e.Position, e.Version)
		}
	}
}

func confConcurrentStreams(t *testing.T, open func(t *testing.T) Log) {
	l := open(t)
	const writers, appends = 8, 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	var acked []uint64
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := fmt.Sprintf("project/%d", w)
			var version int64
			for i := range appends {
				batch := []Event{confEvent("project.changed", i)}
				if i%5 == 0 {
					batch = append(batch, confEvent("project.changed", i), confEvent("project.changed", i))
				}
				got, err := l.Append(context.Background(), stream, version, batch...)
				if err != nil {
					t.Errorf("%s: %v", stream, err)
					return
				}
				version += int64(len(got))
				mu.Lock()
				acked = append(acked, confPositions(got)...)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	total := uint64(writers * (appends + 2*(appends/5)))
	sort.Slice(acked, func(i, j int) bool { return acked[i] < acked[j] })
	if !confEqual(acked, confSeq(1, total)) {
		t.Fatalf("acknowledged positions are not 1..%d: %v", total, acked)
	}
	all := confReadAll(t, l, 0)
	if !confEqual(confPositions(all), confSeq(1, total)) {
		t.Fatalf("stored positions are not 1..%d", total)
	}
	for w := range writers {
		s, err := l.ReadStream(context.Background(), fmt.Sprintf("project/%d", w), 0)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range s {
			if e.Version != uint64(i+1) {
				t.Fatalf("project/%d event %d has version %d", w, i, e.Version)
			}
		}
		if len(s) != int(total)/writers {
			t.Fatalf("project/%d has %d events", w, len(s))
		}
	}
}

// checkChain walks the raw log and checks every link.
func confCheckChain(t *testing.T, l Log) []Envelope {
	t.Helper()
	var raw []Envelope
	if err := l.ReadRaw(context.Background(), 0, func(e Envelope) error { raw = append(raw, e); return nil }); err != nil {
		t.Fatal(err)
	}
	prev := GenesisHash
	for i, e := range raw {
		if e.Position != uint64(i+1) {
			t.Fatalf("raw event %d has position %d", i, e.Position)
		}
		if e.PrevHash != prev {
			t.Fatalf("position %d: prev hash %s, previous event's hash %s", e.Position, e.PrevHash, prev)
		}
		if got := e.ComputeHash(); got != e.Hash {
			t.Fatalf("position %d: stored hash %s, computed %s", e.Position, e.Hash, got)
		}
		prev = e.Hash
	}
	return raw
}

func confHashChain(t *testing.T, open func(t *testing.T) Log) {
	l := open(t)
	if h := l.Head(); h != emptyHead() {
		t.Fatalf("empty head %+v", h)
	}
	if dh, err := l.DurableHead(); err != nil || dh != emptyHead() {
		t.Fatalf("empty durable head %+v %v", dh, err)
	}
	for i := range 5 {
		confAppend(t, l, fmt.Sprintf("user/%d", i%2), AnyVersion, confEvent("user.seen", i), confEvent("user.seen", i))
	}
	raw := confCheckChain(t, l)
	if len(raw) != 10 {
		t.Fatalf("%d events", len(raw))
	}
	head := l.Head()
	if head.Position != 10 || head.Hash != raw[9].Hash {
		t.Fatalf("head %+v", head)
	}
	if dh, err := l.DurableHead(); err != nil || dh != head {
		t.Fatalf("durable head %+v (%v), head %+v", dh, err, head)
	}
}

// collect reads n envelopes from sub or fails after timeout.
// confStreamEnd is the end of stream as ReadStream gives it: the last
// envelope's version and hash, or the zero StreamHead.
func confStreamEnd(t *testing.T, r Reader, stream string) StreamHead {
	t.Helper()
	envs, err := r.ReadStream(context.Background(), stream, 1)
	if err != nil {
		t.Fatalf("read stream %s: %v", stream, err)
	}
	if len(envs) == 0 {
		return StreamHead{}
	}
	last := envs[len(envs)-1]
	return StreamHead{Version: last.Version, Hash: last.Hash}
}

// confCheckHeads checks StreamHead of each stream against ReadStream and
// against want (the envelopes last appended, by stream; absent means none).
func confCheckHeads(t *testing.T, where string, r Reader, streams []string, want map[string]StreamHead) {
	t.Helper()
	for _, stream := range streams {
		got, err := r.StreamHead(context.Background(), stream)
		if err != nil {
			t.Fatalf("%s: stream head of %s: %v", where, stream, err)
		}
		if got != want[stream] {
			t.Fatalf("%s: stream head of %s is %+v, the last append left %+v", where, stream, got, want[stream])
		}
		if end := confStreamEnd(t, r, stream); got != end {
			t.Fatalf("%s: stream head of %s is %+v, ReadStream ends at %+v", where, stream, got, end)
		}
	}
}

func confStreamHead(t *testing.T, open func(t *testing.T) Log) {
	l := open(t)
	ctx := context.Background()
	// deploy/1 is a prefix of deploy/10: neither may see the other's end.
	streams := []string{"deploy/1", "deploy/10", "deploy/2", "release/9"}
	want := map[string]StreamHead{}
	confCheckHeads(t, "empty log", l, streams, want)

	// Interleave appends of one and several events over three streams,
	// each expecting the version StreamHead gave.
	plan := []struct {
		stream string
		n      int
	}{{"deploy/1", 1}, {"deploy/10", 3}, {"deploy/1", 2}, {"deploy/2", 1}, {"deploy/10", 1}, {"deploy/1", 5}, {"deploy/2", 4}, {"deploy/1", 1}}
	for i, p := range plan {
		h, err := l.StreamHead(ctx, p.stream)
		if err != nil {
			t.Fatal(err)
		}
		expected := int64(h.Version)
		if h.Version == 0 {
			expected = NoStream
		}
		evs := make([]Event, p.n)
		for j := range evs {
			evs[j] = confEvent("step.finished", 10*i+j)
		}
		envs := confAppend(t, l, p.stream, expected, evs...)
		last := envs[len(envs)-1]
		if last.Version != h.Version+uint64(p.n) || envs[0].Version != h.Version+1 {
			t.Fatalf("append %d to %s at head %+v gave versions %d..%d", i, p.stream, h, envs[0].Version, last.Version)
		}
		want[p.stream] = StreamHead{Version: last.Version, Hash: last.Hash}
		confCheckHeads(t, fmt.Sprintf("after append %d", i), l, streams, want)
	}
	if want["deploy/1"].Version != 9 || want["deploy/10"].Version != 4 || want["deploy/2"].Version != 5 {
		t.Fatalf("stream versions %+v", want)
	}

	// A refused append leaves the head where it was.
	if _, err := l.Append(ctx, "deploy/1", 3, confEvent("step.finished", 99)); !errors.Is(err, ErrConcurrency) {
		t.Fatalf("stale append: %v", err)
	}
	bad := Event{Type: "step.finished", Data: json.RawMessage(`{"broken":`)}
	if _, err := l.Append(ctx, "deploy/2", 5, confEvent("step.finished", 99), bad); !errors.Is(err, ErrInvalidEvent) {
		t.Fatalf("invalid append: %v", err)
	}
	confCheckHeads(t, "after refused appends", l, streams, want)

	if _, err := l.StreamHead(ctx, ""); !errors.Is(err, ErrInvalidEvent) {
		t.Fatalf("stream head of an empty name: %v", err)
	}
	if _, err := l.StreamHead(ctx, "deploy/1\x00"); !errors.Is(err, ErrInvalidEvent) {
		t.Fatalf("stream head of a name with a control byte: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := l.StreamHead(cancelled, "deploy/1"); !errors.Is(err, context.Canceled) {
		t.Fatalf("stream head with a cancelled context: %v", err)
	}

	// The same heads from an export opened as an archive.
	arch, _, err := OpenArchive(exportTo(t, l, filepath.Join(t.TempDir(), "events.jsonl"), ExportOptions{}), OpenArchiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	confCheckHeads(t, "archive", arch, streams, want)
	must(t, arch.Close())

	// The on-disk store: the same heads after a reopen, read-only and not,
	// and appends continue from them.
	s, ok := l.(*Store)
	if !ok {
		return
	}
	dir := s.dir
	must(t, s.Close())
	ro := openStore(t, dir, Options{ReadOnly: true})
	confCheckHeads(t, "reopened read-only", ro, streams, want)
	must(t, ro.Close())
	re := openStore(t, dir, Options{})
	confCheckHeads(t, "reopened", re, streams, want)
	envs := confAppend(t, re, "deploy/10", int64(want["deploy/10"].Version), confEvent("step.finished", 100))
	if envs[0].Version != 5 {
		t.Fatalf("append after reopen at the stream head gave version %d", envs[0].Version)
	}
	want["deploy/10"] = StreamHead{Version: 5, Hash: envs[0].Hash}
	confCheckHeads(t, "after append after reopen", re, streams, want)
}

// confStreamHeadDecideThenAppend: writers that read StreamHead and append at
// its version, retrying on a conflict. Every Append is seen by the next
// StreamHead of its writer, and the stream ends with every event, in order.
func confStreamHeadDecideThenAppend(t *testing.T, open func(t *testing.T) Log) {
	l := open(t)
	ctx := context.Background()
	const writers, each = 6, 15
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; {
				h, err := l.StreamHead(ctx, "deploy/9")
				if err != nil {
					t.Error(err)
					return
				}
				expected := int64(h.Version)
				if h.Version == 0 {
					expected = NoStream
				}
				envs, err := l.Append(ctx, "deploy/9", expected, confEvent("step.finished", 100*w+i))
				if errors.Is(err, ErrConcurrency) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				if envs[0].Version != h.Version+1 {
					t.Errorf("append at head %+v gave version %d", h, envs[0].Version)
					return
				}
				after, err := l.StreamHead(ctx, "deploy/9")
				if err != nil || after.Version < envs[0].Version {
					t.Errorf("stream head %+v (%v) after an append that returned version %d", after, err, envs[0].Version)
					return
				}
				if after.Version == envs[0].Version && after.Hash != envs[0].Hash {
					t.Errorf("stream head %+v names another hash than the append's %s", after, envs[0].Hash)
					return
				}
				i++
			}
		}()
	}
	wg.Wait()
	envs, err := l.ReadStream(ctx, "deploy/9", 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(envs) != writers*each {
		t.Fatalf("%d events, want %d", len(envs), writers*each)
	}
	for i, e := range envs {
		if e.Version != uint64(i+1) {
			t.Fatalf("event %d has version %d", i, e.Version)
		}
	}
	h, err := l.StreamHead(ctx, "deploy/9")
	last := envs[len(envs)-1]
	if err != nil || h != (StreamHead{Version: last.Version, Hash: last.Hash}) {
		t.Fatalf("stream head %+v (%v), last event version %d hash %s", h, err, last.Version, last.Hash)
	}
}

func confCollect(t *testing.T, sub *Subscription, n int, timeout time.Duration) []Envelope {
	t.Helper()
	var out []Envelope
	deadline := time.After(timeout)
	for len(out) < n {
		select {
		case e, ok := <-sub.C:
			if !ok {
				t.Fatalf("subscription closed after %d of %d events: %v", len(out), n, sub.Err())
			}
			out = append(out, e)
		case <-deadline:
			t.Fatalf("subscription delivered %d of %d events in %v", len(out), n, timeout)
		}
	}
	return out
}

func confSubscribeWhileAppending(t *testing.T, open func(t *testing.T) Log) {
	l := open(t)
	for i := range 30 {
		confAppend(t, l, "release/0", AnyVersion, confEvent("release.noted", i))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fromStart := l.Subscribe(ctx, 0)
	fromMiddle := l.Subscribe(ctx, 17)

	const writers, each = 8, 25
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := l.Append(context.Background(), fmt.Sprintf("release/%d", w+1), AnyVersion, confEvent("release.noted", i)); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		}()
	}
	// A subscription started while appends race must also see everything.
	racing := l.Subscribe(ctx, 25)
	wg.Wait()
	total := uint64(30 + writers*each)

	for name, c := range map[string]struct {
		sub  *Subscription
		from uint64
	}{"from 0": {fromStart, 1}, "from 17": {fromMiddle, 17}, "racing from 25": {racing, 25}} {
		got := confCollect(t, c.sub, int(total-c.from+1), 30*time.Second)
		if !confEqual(confPositions(got), confSeq(c.from, total)) {
			t.Fatalf("%s: positions %v", name, confPositions(got))
		}
		select {
		case e := <-c.sub.C:
			t.Fatalf("%s: extra event at position %d", name, e.Position)
		case <-time.After(50 * time.Millisecond):
		}
	}
	// And live events keep coming after the catch-up.
	confAppend(t, l, "release/0", AnyVersion, confEvent("release.noted", 99))
	if got := confCollect(t, fromStart, 1, 10*time.Second); got[0].Position != total+1 {
		t.Fatalf("live event at position %d, want %d", got[0].Position, total+1)
	}
}

func confSlowSubscriber(t *testing.T, open func(t *testing.T) Log) {
	l := open(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stalled := l.Subscribe(ctx, 0) // never read
	reader := l.Subscribe(ctx, 0)

	const writers, each = 4, 100 // far more than a subscription buffers
	start := time.Now()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := l.Append(context.Background(), fmt.Sprintf("deploy/%d", w), AnyVersion, confEvent("step.output", i)); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("appends stalled behind a subscriber that never reads")
	}
	t.Logf("%d appends with a stalled subscriber took %v", writers*each, time.Since(start))
	got := confCollect(t, reader, writers*each, 10*time.Second)
	if !confEqual(confPositions(got), confSeq(1, writers*each)) {
		t.Fatalf("reading subscriber got %v", confPositions(got))
	}
	if stalled.Err() != nil {
		t.Fatalf("stalled subscription ended: %v", stalled.Err())
	}
}

func confSubscriptionCancel(t *testing.T, open func(t *testing.T) Log) {
	l := open(t)
	confAppend(t, l, "user/ann", NoStream, confEvent("user.added", 1))
	ctx, cancel := context.WithCancel(context.Background())
	sub := l.Subscribe(ctx, 0)
	confCollect(t, sub, 1, 5*time.Second)
	if sub.Err() != nil {
		t.Fatalf("open subscription has error %v", sub.Err())
	}
	cancel()
	select {
	case _, ok := <-sub.C:
		if ok {
			t.Fatal("event after cancel")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("subscription not closed after cancel")
	}
	if !errors.Is(sub.Err(), context.Canceled) {
		t.Fatalf("err after cancel: %v", sub.Err())
	}
}

func confClose(t *testing.T, open func(t *testing.T) Log) {
	l := open(t)
	confAppend(t, l, "user/ann", NoStream, confEvent("user.added", 1))
	sub := l.Subscribe(context.Background(), 0)
	confCollect(t, sub, 1, 5*time.Second)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	select {
	case _, ok := <-sub.C:
		if ok {
			t.Fatal("event after close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("subscription not closed by Close")
	}
	if !errors.Is(sub.Err(), ErrClosed) {
		t.Fatalf("subscription err after close: %v", sub.Err())
	}
	if _, err := l.Append(context.Background(), "user/ann", AnyVersion, confEvent("user.seen", 2)); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
	if err := l.ReadAll(context.Background(), 0, func(Envelope) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
	if _, err := l.StreamHead(context.Background(), "user/ann"); !errors.Is(err, ErrClosed) {
		t.Fatalf("stream head after close: %v", err)
	}
	if late := l.Subscribe(context.Background(), 0); !errors.Is(confWaitClosed(t, late), ErrClosed) {
		t.Fatalf("subscribe after close: %v", late.Err())
	}
}

func confWaitClosed(t *testing.T, sub *Subscription) error {
	t.Helper()
	for {
		select {
		case _, ok := <-sub.C:
			if !ok {
				return sub.Err()
			}
		case <-time.After(5 * time.Second):
			t.Fatal("subscription not closed")
		}
	}
}

func confUpcast(t *testing.T, open func(t *testing.T) Log) {
	l := open(t)
	confAppend(t, l, "note/1", NoStream, Event{Type: "note.added", Data: json.RawMessage(`{"text":"hi"}`)})
	confAppend(t, l, "note/1", 1, Event{Type: "note.added", Schema: 2, Data: json.RawMessage(`{"title":"new"}`)})

	check := func(where string, e Envelope, title string) {
		t.Helper()
		var v struct{ Title string }
		if err := e.Decode(&v); err != nil || e.Schema != 2 || v.Title != title {
			t.Errorf("%s: schema %d data %s", where, e.Schema, e.Data)
		}
	}
	all := confReadAll(t, l, 0)
	check("read all", all[0], "hi")
	check("read all", all[1], "new")
	s, err := l.ReadStream(context.Background(), "note/1", 0)
	if err != nil {
		t.Fatal(err)
	}
	check("read stream", s[0], "hi")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	check("subscribe", confCollect(t, l.Subscribe(ctx, 0), 1, 5*time.Second)[0], "hi")

	var raw []Envelope
	if err := l.ReadRaw(context.Background(), 0, func(e Envelope) error { raw = append(raw, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if raw[0].Schema != 1 || string(raw[0].Data) != `{"text":"hi"}` || raw[0].ComputeHash() != raw[0].Hash {
		t.Fatalf("raw event was changed: %+v", raw[0])
	}
	if all[0].Hash != raw[0].Hash {
		t.Fatalf("upcasting changed the hash")
	}
}

// TestUnavailableStreamHead: a log that cannot be opened answers StreamHead
// with its reason, as it answers ReadStream.
func TestUnavailableStreamHead(t *testing.T) {
	reason := &DamagedStoreError{Reason: "a table is damaged"}
	u := NewUnavailable(Head{Position: 7, Hash: GenesisHash}, reason)
	h, err := u.StreamHead(context.Background(), "deploy/1")
	var dse *DamagedStoreError
	if !errors.As(err, &dse) || h != (StreamHead{}) {
		t.Fatalf("stream head of an unavailable log: %+v %v", h, err)
	}
	if _, rerr := u.ReadStream(context.Background(), "deploy/1", 1); rerr.Error() != err.Error() {
		t.Fatalf("StreamHead says %q, ReadStream %q", err, rerr)
	}
}
