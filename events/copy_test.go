package events_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"releasedesk/events"
	"releasedesk/events/catalog/catalogtest"
	"releasedesk/events/pgtest"
)

// The copy's tests run on a generated log (releases, deployments with
// output, rollbacks) long enough for several of the copy's chunks.

func openBadger(t *testing.T, dir string) *events.Store {
	t.Helper()
	s, err := events.Open(dir, events.Options{})
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func openPostgres(t *testing.T, dsn string) *events.PgStore {
	t.Helper()
	s, err := events.OpenPostgres(context.Background(), dsn, events.Options{})
	if err != nil {
		t.Fatalf("open %s: %v", events.RedactURL(dsn), err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// generated writes a generated log of about n events into log.
func generated(t *testing.T, log catalogtest.Appender, n int) {
	t.Helper()
	if err := catalogtest.Generate(n).WriteTo(context.Background(), log); err != nil {
		t.Fatal(err)
	}
}

func rawAll(t *testing.T, r events.RawReader) []events.Envelope {
	t.Helper()
	var out []events.Envelope
	if err := r.ReadRaw(context.Background(), 1, func(e events.Envelope) error { out = append(out, e); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// sameLog fails unless b holds a's events exactly (every field the hash
// covers, and the hashes), the same stream heads and the same counts, and
// both verify.
func sameLog(t *testing.T, a, b events.Log) {
	t.Helper()
	ctx := context.Background()
	ea, eb := rawAll(t, a), rawAll(t, b)
	if len(ea) != len(eb) {
		t.Fatalf("%d events copied as %d", len(ea), len(eb))
	}
	streams := map[string]bool{}
	for i := range ea {
		x, y := ea[i], eb[i]
		if string(x.CanonicalBytes()) != string(y.CanonicalBytes()) || x.PrevHash != y.PrevHash || x.Hash != y.Hash {
			t.Fatalf("position %d differs:\n%+v\n%+v", x.Position, x, y)
		}
		streams[x.Stream] = true
	}
	for s := range streams {
		ha, err := a.StreamHead(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		hb, err := b.StreamHead(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		if ha != hb || ha.Version == 0 {
			t.Fatalf("stream %s: head %+v copied as %+v", s, ha, hb)
		}
	}
	sa, err := a.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := b.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sa.Count != sb.Count || sa.Bytes != sb.Bytes || sa.Streams != sb.Streams || sa.Head != sb.Head ||
		!sa.FirstTime.Equal(sb.FirstTime) || !sa.LastTime.Equal(sb.LastTime) || sb.Streams != uint64(len(streams)) {
		t.Fatalf("stats %+v copied as %+v", sa, sb)
	}
	if a.Head() != b.Head() {
		t.Fatalf("head %+v copied as %+v", a.Head(), b.Head())
	}
	for _, l := range []events.Log{a, b} {
		rep, err := events.Verify(ctx, l)
		if err != nil || !rep.OK() || rep.Count != uint64(len(ea)) {
			t.Fatalf("verify: %+v %v", rep, err)
		}
	}
}

// continues appends to a copied log and checks that the chain goes on.
func continues(t *testing.T, l events.Log) {
	t.Helper()
	ctx := context.Background()
	head := l.Head()
	before, err := l.StreamHead(ctx, "release/1")
	if err != nil {
		t.Fatal(err)
	}
	ev, _ := events.NewEvent("release.noted", "dana", map[string]any{"note": "after the copy"})
	envs, err := l.Append(ctx, "release/1", int64(before.Version), ev)
	if err != nil {
		t.Fatalf("append after the copy: %v", err)
	}
	e := envs[0]
	if e.Position != head.Position+1 || e.PrevHash != head.Hash || e.Version != before.Version+1 {
		t.Fatalf("appended %+v after head %+v and stream version %d", e, head, before.Version)
	}
	if rep, err := events.Verify(ctx, l); err != nil || !rep.OK() || rep.Head.Position != e.Position {
		t.Fatalf("verify after the append: %+v %v", rep, err)
	}
}

func TestCopyBadgerToPostgresAndBack(t *testing.T) {
	ctx := context.Background()
	src := openBadger(t, t.TempDir())
	generated(t, src, 2600)

	dsn := pgtest.Database(t)
	pg := openPostgres(t, dsn)
	rep, err := events.Copy(ctx, src, pg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Head != src.Head() || rep.Count != src.Head().Position || rep.Count < 2600 {
		t.Fatalf("report %+v, source head %+v", rep, src.Head())
	}
	sameLog(t, src, pg)

	// Another instance on the database sees the copy as its log.
	other := openPostgres(t, dsn)
	sameLog(t, src, other)

	backDir := t.TempDir()
	back := openBadger(t, backDir)
	if _, err := events.Copy(ctx, pg, back); err != nil {
		t.Fatal(err)
	}
	sameLog(t, src, back)

	// The copy is durable as an appended log is: its head record too.
	if err := back.Close(); err != nil {
		t.Fatal(err)
	}
	back = openBadger(t, backDir)
	if d, err := back.DurableHead(); err != nil || d != src.Head() {
		t.Fatalf("head record after reopening %+v %v, want %+v", d, err, src.Head())
	}
	sameLog(t, src, back)

	continues(t, back)
	continues(t, pg)
}

func TestCopyRefusesALogThatIsNotEmpty(t *testing.T) {
	ctx := context.Background()
	src := openBadger(t, t.TempDir())
	generated(t, src, 50)

	dir := t.TempDir()
	dsn := pgtest.Database(t)
	for name, target := range map[string]events.Importer{"badger": openBadger(t, dir), "postgres": openPostgres(t, dsn)} {
		ev, _ := events.NewEvent("user.created", "root", map[string]any{"name": "keep"})
		if _, err := target.Append(ctx, "user/keep", events.NoStream, ev); err != nil {
			t.Fatal(err)
		}
		_, err := events.Copy(ctx, src, target)
		var ne *events.NotEmptyError
		if !errors.Is(err, events.ErrNotEmpty) || !errors.As(err, &ne) || ne.Head.Position != 1 {
			t.Fatalf("%s: copy into a log with an event: %v", name, err)
		}
		where := dir
		if name == "postgres" {
			where = events.RedactURL(dsn)
		}
		if !strings.Contains(err.Error(), where) {
			t.Errorf("%s: %q does not name %s", name, err, where)
		}
		if all := rawAll(t, target); len(all) != 1 || all[0].Stream != "user/keep" {
			t.Fatalf("%s: the refused copy changed the target: %d events", name, len(all))
		}
		continues := func() {
			ev, _ := events.NewEvent("user.disabled", "root", map[string]any{"name": "keep"})
			if _, err := target.Append(ctx, "user/keep", 1, ev); err != nil {
				t.Fatalf("%s: append after a refused copy: %v", name, err)
			}
		}
		continues()
	}
}

// tampered is a source whose event at one position reads edited, as a
// byte changed on disk would.
type tampered struct {
	events.Log
	at uint64
}

func (s tampered) ReadRaw(ctx context.Context, from uint64, fn func(events.Envelope) error) error {
	return s.Log.ReadRaw(ctx, from, func(e events.Envelope) error {
		if e.Position == s.at {
			e.Actor += "x"
		}
		return fn(e)
	})
}

func TestCopyStopsAtTheFirstBadPositionAndLeavesTheTargetEmpty(t *testing.T) {
	ctx := context.Background()
	good := openBadger(t, t.TempDir())
	generated(t, good, 2500)
	const bad = 2345 // past two of the copy's chunks: they are undone

	dir := t.TempDir()
	dsn := pgtest.Database(t)
	for name, target := range map[string]events.Importer{"badger": openBadger(t, dir), "postgres": openPostgres(t, dsn)} {
		_, err := events.Copy(ctx, tampered{good, bad}, target)
		var p *events.Problem
		if !errors.Is(err, events.ErrChainBroken) || !errors.As(err, &p) || p.Position != bad || p.Kind != events.KindEdited {
			t.Fatalf("%s: copy of a source edited at %d: %v", name, bad, err)
		}
		if !strings.Contains(err.Error(), fmt.Sprint("position ", bad)) {
			t.Errorf("%s: %q does not name the position", name, err)
		}
		if n := len(rawAll(t, target)); n != 0 || target.Head().Position != 0 {
			t.Fatalf("%s: a refused copy left %d events, head %+v", name, n, target.Head())
		}
		if st, err := target.Stats(ctx); err != nil || st.Count != 0 {
			t.Fatalf("%s: stats after a refused copy %+v %v", name, st, err)
		}
		// Empty, so the sound log can be copied into it now.
		if _, err := events.Copy(ctx, good, target); err != nil {
			t.Fatalf("%s: copy after a refused one: %v", name, err)
		}
		sameLog(t, good, target)
	}

	// A Badger target undone so is empty when reopened too, and takes the
	// sound copy whole.
	dir = t.TempDir()
	b := openBadger(t, dir)
	if _, err := events.Copy(ctx, tampered{good, 1500}, b); err == nil {
		t.Fatal("a copy of an edited source went through")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = openBadger(t, dir)
	if n := len(rawAll(t, b)); n != 0 || b.Head().Position != 0 {
		t.Fatalf("reopened after an undone copy: %d events, head %+v", n, b.Head())
	}
	if _, err := events.Copy(ctx, good, b); err != nil {
		t.Fatal(err)
	}
	sameLog(t, good, b)
}

func TestCopyNamesALostTail(t *testing.T) {
	ctx := context.Background()
	src := openBadger(t, t.TempDir())
	generated(t, src, 30)
	short := cutShort{src, 10}
	_, err := events.Copy(ctx, short, openPostgres(t, pgtest.Database(t)))
	var p *events.Problem
	if !errors.As(err, &p) || p.Kind != events.KindLostTail || p.Position != 11 {
		t.Fatalf("copy of a source that ends before its head record: %v", err)
	}
}

// cutShort is a source whose events after position n are gone.
type cutShort struct {
	events.Log
	n uint64
}

func (s cutShort) ReadRaw(ctx context.Context, from uint64, fn func(events.Envelope) error) error {
	return s.Log.ReadRaw(ctx, from, func(e events.Envelope) error {
		if e.Position > s.n {
			return nil
		}
		return fn(e)
	})
}
