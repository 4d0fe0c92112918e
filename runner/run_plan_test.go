package runner

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"releasedesk/events/catalog"
)

func runWriteFile(p, s string) error { return os.WriteFile(p, []byte(s), 0o600) }

func runHostsN(n int) []catalog.Host {
	hs := make([]catalog.Host, n)
	for i := range hs {
		hs[i] = catalog.Host{Addr: fmt.Sprintf("h%d", i+1), Path: "/srv/app"}
	}
	return hs
}

func TestRunPlanBatches(t *testing.T) {
	cases := []struct {
		n, batch int
		want     [][]string
	}{
		{0, 0, nil},
		{1, 0, [][]string{{"h1"}}},
		{5, 0, [][]string{{"h1", "h2", "h3", "h4", "h5"}}},
		{5, 2, [][]string{{"h1", "h2"}, {"h3", "h4"}, {"h5"}}},
		{5, 5, [][]string{{"h1", "h2", "h3", "h4", "h5"}}},
		{5, 9, [][]string{{"h1", "h2", "h3", "h4", "h5"}}},
		{4, 1, [][]string{{"h1"}, {"h2"}, {"h3"}, {"h4"}}},
		{3, -1, [][]string{{"h1", "h2", "h3"}}},
	}
	for _, tc := range cases {
		got := batchAddrs(planBatches(runHostsN(tc.n), tc.batch))
		if len(got) == 0 && len(tc.want) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%d hosts, batch %d: %v, want %v", tc.n, tc.batch, got, tc.want)
		}
	}
}

func TestRunPlanParallelBound(t *testing.T) {
	for _, parallel := range []int{1, 3, 10} {
		t.Run(fmt.Sprint(parallel), func(t *testing.T) {
			var cur, peak atomic.Int32
			var mu sync.Mutex
			var order []string
			gate := make(chan struct{})
			done := make(chan []catalog.Host)
			go func() {
				done <- runBounded(context.Background(), runHostsN(12), parallel, nil, func(h catalog.Host) {
					mu.Lock()
					order = append(order, h.Addr)
					mu.Unlock()
					n := cur.Add(1)
					for {
						p := peak.Load()
						if n <= p || peak.CompareAndSwap(p, n) {
							break
						}
					}
					<-gate // hold until the test lets hosts go, one at a time
					cur.Add(-1)
				})
			}()
			for range 12 {
				time.Sleep(5 * time.Millisecond) // let every free slot fill
				gate <- struct{}{}
			}
			started := <-done
			if len(started) != 12 {
				t.Fatalf("started %d hosts", len(started))
			}
			want := min(parallel, 12)
			if int(peak.Load()) != want {
				t.Fatalf("peak concurrency %d, want %d", peak.Load(), want)
			}
			// Hosts start in order: the first `parallel` together, then one
			// per slot freed, so the start order is the configuration order
			// when parallel is 1.
			if parallel == 1 && !reflect.DeepEqual(order, batchAddrs([][]catalog.Host{runHostsN(12)})[0]) {
				t.Fatalf("order %v", order)
			}
		})
	}
}

func TestRunPlanStopsStartingOnHalt(t *testing.T) {
	var halted atomic.Bool
	var ran []string
	var mu sync.Mutex
	started := runBounded(context.Background(), runHostsN(6), 1, halted.Load, func(h catalog.Host) {
		mu.Lock()
		ran = append(ran, h.Addr)
		mu.Unlock()
		if h.Addr == "h3" {
			halted.Store(true)
		}
	})
	if !reflect.DeepEqual(ran, []string{"h1", "h2", "h3"}) || len(started) != 3 {
		t.Fatalf("ran %v after a halt at h3", ran)
	}
}

func TestRunPruneSet(t *testing.T) {
	vs := []string{"20260101000000-aaaaaaa", "20260102000000-bbbbbbb", "20260103000000-ccccccc", "20260104000000-ddddddd"}
	cases := []struct {
		keep    int
		protect []string
		want    []string
	}{
		{5, nil, nil},
		{2, []string{vs[3], vs[2]}, vs[:2]},
		// A rollback to the oldest: current and the one it replaced stay.
		{2, []string{vs[0], vs[3]}, vs[1:3]},
		{1, []string{vs[3], vs[2]}, vs[:2]},
		{3, []string{vs[0], vs[3]}, vs[1:2]},
	}
	for _, tc := range cases {
		got := pruneSet(vs, tc.keep, tc.protect...)
		if len(got) == 0 && len(tc.want) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("keep %d protect %v: %v, want %v", tc.keep, tc.protect, got, tc.want)
		}
	}
}
