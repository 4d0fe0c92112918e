package runner

import (
	"context"
	"sync"

	"releasedesk/events/catalog"
)

// DefaultParallel is how many hosts a deployment works on at once when the
// environment says nothing.
const DefaultParallel = 10

// planBatches cuts hosts into batches of size batch, in configuration
// order; batch <= 0 (or more than the hosts) is one batch of all. Each
// batch is staged on every host, then switched, before the next starts, so
// a bad release reaches at most one batch.
func planBatches(hosts []catalog.Host, batch int) [][]catalog.Host {
	if len(hosts) == 0 {
		return nil
	}
	if batch <= 0 || batch > len(hosts) {
		batch = len(hosts)
	}
	var out [][]catalog.Host
	for i := 0; i < len(hosts); i += batch {
		out = append(out, hosts[i:min(i+batch, len(hosts))])
	}
	return out
}

// batchAddrs is the plan as deploy.planned records it.
func batchAddrs(batches [][]catalog.Host) [][]string {
	out := make([][]string, len(batches))
	for i, b := range batches {
		for _, h := range b {
			out[i] = append(out[i], h.Addr)
		}
	}
	return out
}

// effectiveParallel is env.Parallel with its default.
func effectiveParallel(p int) int {
	if p <= 0 {
		return DefaultParallel
	}
	return p
}

// runBounded calls fn for each host, at most parallel at once, starting
// them in order. Before starting each it asks stop; once stop says yes (a
// failure under the halt policy) or ctx ends, no further host is started,
// and the ones running are waited for. It returns the hosts it started.
func runBounded(ctx context.Context, hosts []catalog.Host, parallel int, stop func() bool, fn func(catalog.Host)) []catalog.Host {
	parallel = effectiveParallel(parallel)
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	var started []catalog.Host
	for _, h := range hosts {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil || (stop != nil && stop()) {
			break
		}
		started = append(started, h)
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(h)
		}()
	}
	wg.Wait()
	return started
}
