package projections

import (
	"bytes"
	"context"
	"io"
	"os"
	"runtime"
	"testing"
	"time"

	"releasedesk/events"
	"releasedesk/events/pgtest"
)

// startupRounds is how many start-ups each store gets: one is too few
// to trust on a loaded 2-core machine, and each takes about a second.
const startupRounds = 5

// pgCheckpointState is the rd_state row a server on PostgreSQL keeps its
// read models' checkpoint in (app's stateCheckpoint): the bench reads it
// back from there as the server does.
const pgCheckpointState = "projections.checkpoint"

// BenchmarkStartupPostgres is issue 15's start-up figure: the million
// events of BenchmarkStartup copied into PostgreSQL (events.Copy, what
// `releasedesk events copy` runs), then a start from a checkpoint at the
// log's end on each store, as the app starts: on Badger the checkpoint
// file from the data directory, on PostgreSQL the checkpoint from the
// database's rd_state; then Start (load, the hash check against the log,
// the catch-up). Badger's start-up, in the same run from the same
// checkpoint, is the baseline. It also reports the copy's rate, the figure
// an operator moving a data directory to PostgreSQL wants; the copy runs
// once (minutes: it is most of this benchmark's time).
func BenchmarkStartupPostgres(b *testing.B) {
	ctx := context.Background()
	badger := openBench(b)
	pg, err := events.OpenPostgres(ctx, pgtest.Database(b), events.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { pg.Close() })

	t0 := time.Now()
	rep, err := events.Copy(ctx, badger, pg)
	if err != nil {
		b.Fatal(err)
	}
	copyTook := time.Since(t0)
	if rep.Head != badger.Head() || pg.Head() != badger.Head() {
		b.Fatalf("copied up to %+v, PostgreSQL's head %+v, Badger's %+v", rep.Head, pg.Head(), badger.Head())
	}

	// One checkpoint for both: the logs are the same, positions and hashes
	// included, so it matches either.
	ckpt := checkpointOf(b, badger)
	path := b.TempDir() + "/projections.checkpoint"
	if err := os.WriteFile(path, ckpt, 0o600); err != nil {
		b.Fatal(err)
	}
	if err := pg.SaveState(ctx, pgCheckpointState, ckpt); err != nil {
		b.Fatal(err)
	}

	fromFile := func() (io.Reader, func(), error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, nil, err
		}
		return f, func() { f.Close() }, nil
	}
	var pgFetch time.Duration // of pgStart: reading the checkpoint's row
	fromDatabase := func() (io.Reader, func(), error) {
		t0 := time.Now()
		raw, found, err := pg.LoadState(ctx, pgCheckpointState)
		pgFetch += time.Since(t0)
		if err == nil && !found {
			err = io.ErrUnexpectedEOF
		}
		return bytes.NewReader(raw), func() {}, err
	}

	var badgerStart, pgStart time.Duration
	b.ResetTimer()
	for range b.N {
		for i := range startupRounds {
			// Alternate which store goes first, so neither always
			// follows the other's garbage.
			if i%2 == 0 {
				badgerStart += timeStart(b, badger, fromFile)
				pgStart += timeStart(b, pg, fromDatabase)
			} else {
				pgStart += timeStart(b, pg, fromDatabase)
				badgerStart += timeStart(b, badger, fromFile)
			}
		}
	}
	b.StopTimer()
	rounds := time.Duration(b.N * startupRounds)
	badgerStart, pgStart, pgFetch = badgerStart/rounds, pgStart/rounds, pgFetch/rounds
	copyRate := float64(rep.Count) / copyTook.Seconds()
	b.ReportMetric(pgStart.Seconds(), "pg_start_s")
	b.ReportMetric(badgerStart.Seconds(), "badger_start_s")
	b.ReportMetric(pgStart.Seconds()/badgerStart.Seconds(), "pg/badger")
	b.ReportMetric(copyRate, "copy_events/s")
	b.Logf("start-up from a checkpoint at the end of %d events (mean of %d): PostgreSQL %v (of which reading the checkpoint's row %v), "+
		"baseline Badger %v (the checkpoint file): PostgreSQL at %.2fx; checkpoint %.1f MB",
		rep.Count, int(rounds), pgStart, pgFetch, badgerStart, pgStart.Seconds()/badgerStart.Seconds(), float64(len(ckpt))/(1<<20))
	b.Logf("events copy from Badger into PostgreSQL: %d events, %d streams, %.0f MB in %v: %.0f events/s, %.1f MB/s",
		rep.Count, rep.Streams, float64(rep.Bytes)/(1<<20), copyTook.Round(time.Millisecond), copyRate,
		float64(rep.Bytes)/(1<<20)/copyTook.Seconds())
}

// checkpointOf builds the Set of log and returns its checkpoint; the Set
// is garbage once it returns.
func checkpointOf(b *testing.B, log events.Reader) []byte {
	set, err := Build(context.Background(), log)
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if err := set.SaveCheckpoint(&buf); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// timeStart times one start-up: opening the checkpoint where the app
// keeps it, then Start on log. It fails unless Start used the checkpoint
// and reached the log's end.
func timeStart(b *testing.B, log events.Reader, open func() (io.Reader, func(), error)) time.Duration {
	runtime.GC() // the last start's Set is garbage: not this one's to collect
	t0 := time.Now()
	ckpt, done, err := open()
	if err != nil {
		b.Fatal(err)
	}
	set, info, err := Start(context.Background(), log, ckpt)
	done()
	took := time.Since(t0)
	if err != nil || !info.FromCheckpoint || set.Position() != log.Head().Position {
		b.Fatalf("start: %+v %v", info, err)
	}
	return took
}
