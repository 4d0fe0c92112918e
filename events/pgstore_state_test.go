package events

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
)

// TestPgStateKeepsEveryInstancesWrites: values stored under a name are
// read back by another instance, and read-modify-writes from two
// instances at once each see the other's result (none is lost).
func TestPgStateKeepsEveryInstancesWrites(t *testing.T) {
	ctx := context.Background()
	stores := pgInstances(t, 2)
	a, b := stores[0], stores[1]

	if _, found, err := a.LoadState(ctx, "x"); err != nil || found {
		t.Fatalf("a missing value: found %v, err %v", found, err)
	}
	if err := a.SaveState(ctx, "x", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if v, found, err := b.LoadState(ctx, "x"); err != nil || !found || string(v) != "one" {
		t.Fatalf("read on b: %q %v %v, want one", v, found, err)
	}
	if err := b.SaveState(ctx, "x", nil); err != nil {
		t.Fatal(err)
	}
	if v, found, _ := a.LoadState(ctx, "x"); !found || len(v) != 0 {
		t.Fatalf("an empty value: %q found %v, want found and empty", v, found)
	}

	// 2 x 20 increments of one counter, from two instances at once.
	var wg sync.WaitGroup
	for _, s := range []*PgStore{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				err := s.UpdateState(ctx, "counter", func(old []byte, found bool) ([]byte, error) {
					n := 0
					if found {
						n, _ = strconv.Atoi(string(old))
					}
					return []byte(strconv.Itoa(n + 1)), nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if v, _, _ := a.LoadState(ctx, "counter"); string(v) != "40" {
		t.Fatalf("counter %q after 40 increments from two instances, want 40", v)
	}

	// fn's error changes nothing; nil leaves the value as it is.
	boom := errors.New("boom")
	if err := a.UpdateState(ctx, "counter", func([]byte, bool) ([]byte, error) { return []byte("0"), boom }); !errors.Is(err, boom) {
		t.Fatalf("got %v, want fn's error", err)
	}
	if err := a.UpdateState(ctx, "counter", func([]byte, bool) ([]byte, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := b.LoadState(ctx, "counter"); string(v) != "40" {
		t.Fatalf("counter %q after a failed and an empty update, want 40", v)
	}
	// A name only locked (UpdateState returning nil) reads as none.
	if err := a.UpdateState(ctx, "never", func([]byte, bool) ([]byte, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := b.LoadState(ctx, "never"); found {
		t.Fatal("a name only locked reads as found")
	}
}

// TestPgLockOneHolder: an advisory lock is held by one instance at a time,
// and free again once its holder releases it.
func TestPgLockOneHolder(t *testing.T) {
	ctx := context.Background()
	stores := pgInstances(t, 2)
	a, b := stores[0], stores[1]
	la, ok, err := a.TryLock(ctx, 42)
	if err != nil || !ok {
		t.Fatalf("a's lock: %v %v", ok, err)
	}
	if err := la.Alive(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := b.TryLock(ctx, 42); err != nil || ok {
		t.Fatalf("b took a lock a holds: %v %v", ok, err)
	}
	la.Release()
	lb, ok, err := b.TryLock(ctx, 42)
	if err != nil || !ok {
		t.Fatalf("b after a released: %v %v", ok, err)
	}
	lb.Release()
}
