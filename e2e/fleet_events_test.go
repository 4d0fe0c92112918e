package e2e

// The realistic event log of the start-up figure of the fleet benchmark
// (catalogtest.Generate), written straight into a data directory's log
// (no app running).

import (
	"context"
	"path/filepath"
	"time"

	"releasedesk/events"
	"releasedesk/events/catalog/catalogtest"
)

// writeFleetLog writes about n events into the log of the data directory
// data (created), one Append per run of events of one stream, and
// returns the number written.
func writeFleetLog(data string, n int) (int, error) {
	g := catalogtest.Generate(n)
	clock := time.Now().Add(-time.Duration(g.N) * time.Millisecond).UTC()
	s, err := events.Open(filepath.Join(data, "events"), events.Options{Now: func() time.Time { clock = clock.Add(time.Millisecond); return clock }})
	if err != nil {
		return 0, err
	}
	if err := g.WriteTo(context.Background(), s); err != nil {
		s.Close()
		return 0, err
	}
	return g.N, s.Close()
}
