package events

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"releasedesk/events/pgtest"
)

// BenchmarkPostgresAppend measures durable appends on PostgreSQL (on this
// machine: Debian's server, a loopback port, fsync on) against the Badger
// store in the same run: with 1 appender (one event per Append, each
// durable before the next) and with 16 (group commit). Issue 15's figure:
// what a team's server gives up in throughput for a log several instances
// share.
func BenchmarkPostgresAppend(b *testing.B) {
	for range b.N {
		for _, writers := range []int{1, 16} {
			badger := appendRate(b, writers, func() Log { return openBench(b, Options{}) })
			pg := appendRate(b, writers, func() Log {
				s, err := OpenPostgres(context.Background(), pgtest.Database(b), Options{})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { s.Close() })
				return s
			})
			b.ReportMetric(pg, fmt.Sprintf("pg_%dw_events/s", writers))
			b.ReportMetric(badger, fmt.Sprintf("badger_%dw_events/s", writers))
			b.Logf("%2d appenders: PostgreSQL %.0f events/s, Badger %.0f events/s: PostgreSQL at %.2fx of Badger",
				writers, pg, badger, pg/badger)
		}
	}
}

// appendRate is the durable appends per second of writers appenders, 4000
// events in all, one per Append.
func appendRate(b *testing.B, writers int, open func() Log) float64 {
	l := open()
	const total = 4000
	each := total / writers
	start := time.Now()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := l.Append(context.Background(), fmt.Sprintf("deploy/%d", w), AnyVersion, benchEvent(i)); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return float64(each*writers) / time.Since(start).Seconds()
}
