package events

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"releasedesk/events/pgtest"
)

// pgInstances opens n stores on one fresh database, as n instances of the
// app are, closed at the test's end.
func pgInstances(t *testing.T, n int) []*PgStore {
	t.Helper()
	dsn := pgtest.Database(t)
	stores := make([]*PgStore, n)
	for i := range stores {
		s, err := OpenPostgres(context.Background(), dsn, Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	return stores
}

// TestPostgresTwoInstances: two stores on one database, as two instances
// of the app are, append at once. The positions of both make one gap-free
// sequence, the chain verifies, and each store's subscription delivers
// every event of both, in order, once (the other's through LISTEN/NOTIFY).
func TestPostgresTwoInstances(t *testing.T) {
	ctx := context.Background()
	stores := pgInstances(t, 2)
	const perWriter, writers = 100, 4 // per store
	total := uint64(2 * perWriter * writers)
	subCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	seen := make([][]uint64, 2)
	var subs sync.WaitGroup
	for i, s := range stores {
		sub := s.Subscribe(subCtx, 1)
		subs.Add(1)
		go func() {
			defer subs.Done()
			for e := range sub.C {
				seen[i] = append(seen[i], e.Position)
				if e.Position == total {
					return
				}
			}
		}()
	}
	start := time.Now()
	var wg sync.WaitGroup
	for i, s := range stores {
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := range perWriter {
					if _, err := s.Append(ctx, fmt.Sprintf("deploy/%d-%d", i, w), AnyVersion, confEvent("deploy.step", n)); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	subs.Wait()
	t.Logf("%d appends from two stores in %v; each subscription saw them all", total, time.Since(start).Round(time.Millisecond))
	for i, got := range seen {
		if uint64(len(got)) != total {
			t.Fatalf("store %d's subscription saw %d events, want %d", i, len(got), total)
		}
		for j, pos := range got {
			if pos != uint64(j)+1 {
				t.Fatalf("store %d's subscription: event %d at position %d, want %d (a gap or a duplicate)", i, j, pos, j+1)
			}
		}
	}
	raw := confCheckChain(t, stores[0])
	if uint64(len(raw)) != total {
		t.Fatalf("the log holds %d events, want %d", len(raw), total)
	}
	for _, s := range stores {
		if h := s.Head(); h.Position != total || h.Hash != raw[total-1].Hash {
			t.Fatalf("a store's head %+v, want position %d and the last hash", h, total)
		}
	}
}
