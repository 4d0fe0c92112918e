package events

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// A copy into a Badger store that stops half-way (the process killed)
// leaves its marker and some events behind: the next open empties the
// store, a read-only open refuses it.
func TestInterruptedImportIsUndoneAtOpen(t *testing.T) {
	ctx := context.Background()
	src := NewMemStore(Options{})
	for i := range 40 {
		if _, err := src.Append(ctx, "release/1", AnyVersion, confEvent("release.noted", i)); err != nil {
			t.Fatal(err)
		}
	}
	var envs []Envelope
	if err := src.ReadRaw(ctx, 1, func(e Envelope) error { envs = append(envs, e); return nil }); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	imp, err := s.beginImport(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := imp.write(ctx, envs[:25]); err != nil {
		t.Fatal(err)
	}
	// Nothing of it is visible while it runs.
	if got := confReadAll(t, s, 0); len(got) != 0 || s.Head().Position != 0 {
		t.Fatalf("an unfinished import shows %d events", len(got))
	}
	// The process dies here: no commit, no abort.
	imp.(*storeImport).done()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, importMarkerName)); err != nil {
		t.Fatalf("no marker after an interrupted import: %v", err)
	}

	if ro, err := Open(dir, Options{ReadOnly: true}); err == nil {
		ro.Close()
		t.Fatal("a read-only open took a store holding an interrupted copy")
	}

	s = openStore(t, dir, Options{})
	if got := confReadAll(t, s, 0); len(got) != 0 || s.Head().Position != 0 {
		t.Fatalf("reopened after an interrupted import: %d events, head %+v", len(got), s.Head())
	}
	if h, err := s.StreamHead(ctx, "release/1"); err != nil || h.Version != 0 {
		t.Fatalf("stream index left behind: %+v %v", h, err)
	}
	if _, err := os.Stat(filepath.Join(dir, importMarkerName)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("marker still there: %v", err)
	}
	if _, err := Copy(ctx, src, s); err != nil {
		t.Fatal(err)
	}
	if rep, err := Verify(ctx, s); err != nil || !rep.OK() || rep.Count != 40 {
		t.Fatalf("verify the copy: %+v %v", rep, err)
	}
	if got, err := s.StreamHead(ctx, "release/1"); err != nil || got.Version != 40 {
		t.Fatalf("stream head after the copy %+v %v", got, err)
	}
}

// Appends that arrive while an import runs wait for it, then continue
// its chain.
func TestAppendDuringImportWaitsAndContinuesTheChain(t *testing.T) {
	ctx := context.Background()
	src := NewMemStore(Options{})
	for i := range 10 {
		if _, err := src.Append(ctx, "release/1", AnyVersion, confEvent("release.noted", i)); err != nil {
			t.Fatal(err)
		}
	}
	s := openStore(t, t.TempDir(), Options{})
	imp, err := s.beginImport(ctx)
	if err != nil {
		t.Fatal(err)
	}
	appended := make(chan []Envelope, 1)
	go func() {
		envs, err := s.Append(ctx, "release/1", AnyVersion, confEvent("release.noted", 99))
		if err != nil {
			t.Error(err)
		}
		appended <- envs
	}()
	var envs []Envelope
	_ = src.ReadRaw(ctx, 1, func(e Envelope) error { envs = append(envs, e); return nil })
	if err := imp.write(ctx, envs); err != nil {
		t.Fatal(err)
	}
	select {
	case <-appended:
		t.Fatal("an append went through during the import")
	default:
	}
	last := envs[len(envs)-1]
	st := Stats{Count: 10, Streams: 1, FirstTime: envs[0].Time, LastTime: last.Time, Head: Head{Position: 10, Hash: last.Hash}}
	for _, e := range envs {
		st.Bytes += uint64(len(e.CanonicalBytes()))
	}
	if err := imp.commit(ctx, chainTip{head: st.Head, lastTime: last.Time}, st); err != nil {
		t.Fatal(err)
	}
	got := <-appended
	if got[0].Position != 11 || got[0].PrevHash != last.Hash || got[0].Version != 11 {
		t.Fatalf("append after the import: %+v", got[0])
	}
	if rep, err := Verify(ctx, s); err != nil || !rep.OK() {
		t.Fatalf("%+v %v", rep, err)
	}
}
