package events

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestPgLeasesGoToOneHolderAtATime: of instances taking one lease at once
// exactly one gets it; its holder renews it, the others cannot; once it
// expires unrenewed another takes it and the first's renewal says so; a
// release frees it at once, and only its holder's release does.
func TestPgLeasesGoToOneHolderAtATime(t *testing.T) {
	ctx := context.Background()
	stores := pgInstances(t, 3)
	a, b := stores[0], stores[1]
	const ttl = 2 * time.Second

	// 3 instances x 10 holders race for one lease: one wins.
	var won atomic.Int32
	var winner atomic.Value
	var wg sync.WaitGroup
	for i, s := range stores {
		for j := range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				holder := string(rune('a'+i)) + string(rune('0'+j))
				ok, err := s.TakeLease(ctx, "deploy/d1", holder, ttl)
				if err != nil {
					t.Error(err)
				}
				if ok {
					won.Add(1)
					winner.Store(holder)
				}
			}()
		}
	}
	wg.Wait()
	if won.Load() != 1 {
		t.Fatalf("%d holders took one lease, want exactly 1", won.Load())
	}
	holder := winner.Load().(string)
	l, found, err := b.LeaseOf(ctx, "deploy/d1")
	if err != nil || !found || l.Holder != holder || l.Expired {
		t.Fatalf("lease as read: %+v found %v err %v, want held by %s", l, found, err, holder)
	}

	if ok, err := a.RenewLease(ctx, "deploy/d1", holder, ttl); err != nil || !ok {
		t.Fatalf("the holder's renewal: %v %v", ok, err)
	}
	if ok, _ := b.RenewLease(ctx, "deploy/d1", "someone", ttl); ok {
		t.Fatal("a non-holder renewed the lease")
	}
	if ok, _ := b.TakeLease(ctx, "deploy/d1", "someone", ttl); ok {
		t.Fatal("a running lease was taken by another holder")
	}
	if ok, _ := b.TakeLease(ctx, "deploy/d1", holder, ttl); !ok {
		t.Fatal("the holder could not take its own lease again")
	}

	// Unrenewed past its life: another takes it, the first's renewal fails.
	time.Sleep(ttl + 500*time.Millisecond)
	if l, _, _ := a.LeaseOf(ctx, "deploy/d1"); !l.Expired {
		t.Fatalf("lease %+v not expired after its ttl", l)
	}
	if ok, err := b.TakeLease(ctx, "deploy/d1", "taker", ttl); err != nil || !ok {
		t.Fatalf("an expired lease was not taken: %v %v", ok, err)
	}
	if ok, _ := a.RenewLease(ctx, "deploy/d1", holder, ttl); ok {
		t.Fatal("the old holder renewed a lease another took")
	}

	// Only its holder's release frees it.
	if err := a.ReleaseLease(ctx, "deploy/d1", holder); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := a.LeaseOf(ctx, "deploy/d1"); !found {
		t.Fatal("a non-holder's release freed the lease")
	}
	if err := b.ReleaseLease(ctx, "deploy/d1", "taker"); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := a.LeaseOf(ctx, "deploy/d1"); found {
		t.Fatal("the holder's release left the lease")
	}
	if ok, _ := a.TakeLease(ctx, "deploy/d1", "next", ttl); !ok {
		t.Fatal("a released lease could not be taken")
	}
}

// TestPgLockSerialisesInstances: sections under Lock on two instances
// never overlap, and a waiter gives up when its context ends.
func TestPgLockSerialisesInstances(t *testing.T) {
	ctx := context.Background()
	stores := pgInstances(t, 2)
	a, b := stores[0], stores[1]

	var inside, most atomic.Int32
	var wg sync.WaitGroup
	for _, s := range []*PgStore{a, b} {
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 5 {
					unlock, err := s.Lock(ctx, 42)
					if err != nil {
						t.Error(err)
						return
					}
					n := inside.Add(1)
					if n > most.Load() {
						most.Store(n)
					}
					time.Sleep(2 * time.Millisecond)
					inside.Add(-1)
					unlock()
				}
			}()
		}
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Fatalf("%d sections ran at once under one lock, want 1", most.Load())
	}

	// A waiter gives up with its context.
	unlock, err := a.Lock(ctx, 43)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := b.Lock(short, 43); err == nil {
		t.Fatal("a second holder took a held lock")
	}
	unlock()
	unlock2, err := b.Lock(ctx, 43)
	if err != nil {
		t.Fatalf("after the release: %v", err)
	}
	unlock2()
}
