package events

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// sampleStreams are the streams appendSample spreads its events over.
var sampleStreams = []string{"project/shop", "release/42", "deploy/7", "lock/shop/prod", "host/10.0.0.1", "user/zoë"}

// appendSample appends n events over several streams, in batches of up to 7,
// with data that exercises JSON escaping: HTML characters, unicode, nesting.
func appendSample(t testing.TB, l Log, n int) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; {
		stream := sampleStreams[i%len(sampleStreams)]
		batch := make([]Event, 0, 7)
		for j := 0; j < 7 && i < n; j, i = j+1, i+1 {
			ev, err := NewEvent("release.noted", "alice <ops>", map[string]any{
				"project": "shop & co",
				"env":     "prod",
				"release": i,
				"note":    fmt.Sprintf("<b>step %d</b> — ünïcode ✓ \"quoted\" \\ 日本", i),
				"nested":  map[string]any{"list": []any{1, "two", nil, true}, "html": "a<b>&c"},
			})
			if err != nil {
				t.Fatal(err)
			}
			ev.CorrelationID = fmt.Sprintf("corr-%d", i/10)
			if i%3 == 0 {
				ev.CausationID = fmt.Sprintf("cause-%d", i)
			}
			batch = append(batch, ev)
		}
		if _, err := l.Append(ctx, stream, AnyVersion, batch...); err != nil {
			t.Fatal(err)
		}
	}
}

// readAllOf collects every upcast event of r.
func readAllOf(t testing.TB, r Reader) []Envelope {
	t.Helper()
	var out []Envelope
	if err := r.ReadAll(context.Background(), 1, func(e Envelope) error {
		out = append(out, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// sameEnvelopes compares two lists field by field, times by instant (a
// time's location pointer may differ after a JSON round trip).
func sameEnvelopes(t testing.TB, what string, got, want []Envelope) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d events, want %d", what, len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.Time.Equal(w.Time) {
			t.Fatalf("%s[%d]: time %v, want %v", what, i, g.Time, w.Time)
		}
		g.Time, w.Time = time.Time{}, time.Time{}
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("%s[%d]:\n got %+v\nwant %+v", what, i, g, w)
		}
	}
}

func TestRoundTripJSONL(t *testing.T) {
	ctx := context.Background()
	for name, open := range logFactories() {
		t.Run(name, func(t *testing.T) {
			l := open(t)
			appendSample(t, l, 300)

			path := filepath.Join(t.TempDir(), "events.jsonl")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			sum, err := ExportJSONL(ctx, l, f, ExportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if sum.Header.Count != 300 || sum.Header.LastPosition != 300 || sum.Header.LastHash != l.Head().Hash || sum.Header.Filtered {
				t.Fatalf("header %+v, head %+v", sum.Header, l.Head())
			}

			arch, rep, err := OpenArchive(path, OpenArchiveOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer arch.Close()
			if !rep.OK() || rep.Count != 300 || rep.Head != l.Head() {
				t.Fatalf("report %+v, head %+v", rep, l.Head())
			}
			if rep, err := Verify(ctx, arch); err != nil || !rep.OK() {
				t.Fatalf("verify archive store: %v %+v", err, rep.Problem)
			}

			sameEnvelopes(t, "ReadAll", readAllOf(t, arch), readAllOf(t, l))
			for _, s := range sampleStreams {
				got, err := arch.ReadStream(ctx, s, 1)
				if err != nil {
					t.Fatal(err)
				}
				want, err := l.ReadStream(ctx, s, 1)
				if err != nil {
					t.Fatal(err)
				}
				sameEnvelopes(t, "ReadStream "+s, got, want)
			}
			gotStats, err := arch.Stats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			wantStats, err := l.Stats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !gotStats.FirstTime.Equal(wantStats.FirstTime) || !gotStats.LastTime.Equal(wantStats.LastTime) {
				t.Fatalf("stats times %+v, want %+v", gotStats, wantStats)
			}
			gotStats.FirstTime, gotStats.LastTime = time.Time{}, time.Time{}
			wantStats.FirstTime, wantStats.LastTime = time.Time{}, time.Time{}
			if gotStats != wantStats {
				t.Fatalf("stats %+v, want %+v", gotStats, wantStats)
			}
			if arch.Head() != l.Head() {
				t.Fatalf("head %+v, want %+v", arch.Head(), l.Head())
			}
		})
	}
}

// TestRoundTripExportOfArchive exports an opened archive again: the events
// come out byte for byte as they went in (the header's time aside).
func TestRoundTripExportOfArchive(t *testing.T) {
	l := NewMemStore(Options{})
	defer l.Close()
	appendSample(t, l, 50)
	dir := t.TempDir()
	first := exportTo(t, l, filepath.Join(dir, "a.jsonl"), ExportOptions{Now: fixedNow})
	arch, _, err := OpenArchive(first, OpenArchiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer arch.Close()
	second := exportTo(t, arch, filepath.Join(dir, "b.jsonl"), ExportOptions{Now: fixedNow})
	a, _ := os.ReadFile(first)
	b, _ := os.ReadFile(second)
	if string(a) != string(b) {
		t.Fatal("re-exporting an archive changed its bytes")
	}
}
