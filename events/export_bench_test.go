package events

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// csvBenchEvents is the size of the audit export the CSV must handle in under
// five seconds.
const csvBenchEvents = 1_000_000

// fillBench appends n events of about 300 bytes of data each, 1000 per
// Append (the largest batch a caller may send), over 50 streams.
func fillBench(b *testing.B, l Log, n int) {
	b.Helper()
	ctx := context.Background()
	pad := strings.Repeat("x", 120)
	batch := make([]Event, 0, MaxEventsPerAppend)
	for i := 0; i < n; {
		batch = batch[:0]
		stream := fmt.Sprintf("release/%d", (i/MaxEventsPerAppend)%50)
		for ; len(batch) < MaxEventsPerAppend && i < n; i++ {
			data := fmt.Sprintf(`{"project":"shop-%02d","environment":"production","release":%d,"version":"1.%d.%d","commit":"%040x","host":"web-%d.example.org","note":"%s"}`,
				i%40, i/100, i%100, i%7, i, i%16, pad)
			batch = append(batch, Event{Type: "deploy.finished", Schema: 1, Actor: "runner", Data: []byte(data), CorrelationID: "deploy-" + fmt.Sprint(i/20)})
		}
		if _, err := l.Append(ctx, stream, AnyVersion, batch...); err != nil {
			b.Fatal(err)
		}
	}
}

// timeToFile runs write into a fresh file under dir and returns the time it
// took, the file included (created, written, closed).
func timeToFile(b *testing.B, dir, name string, write func(w *os.File) error) time.Duration {
	b.Helper()
	start := time.Now()
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		b.Fatal(err)
	}
	if err := write(f); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// rawLinesBaseline is what the CSV export is compared with: the same read of
// the log, writing each event's raw data as one line through the same size
// of buffer, with no row formatting or CSV quoting.
func rawLinesBaseline(ctx context.Context, r Reader, f *os.File) error {
	bw := bufio.NewWriterSize(f, exportBufferSize)
	if err := r.ReadAll(ctx, 1, func(e Envelope) error {
		bw.Write(e.Data)
		return bw.WriteByte('\n')
	}); err != nil {
		return err
	}
	return bw.Flush()
}

// benchExportCSV measures ExportCSV of l (already holding csvBenchEvents) to a
// file on disk, and two baselines in the same run: a bare ReadAll, and the
// raw-lines file.
func benchExportCSV(b *testing.B, l Log) {
	ctx := context.Background()
	dir := b.TempDir()
	start := time.Now()
	if err := l.ReadAll(ctx, 1, func(Envelope) error { return nil }); err != nil {
		b.Fatal(err)
	}
	readAll := time.Since(start)
	base := timeToFile(b, dir, "baseline.jsonl", func(f *os.File) error { return rawLinesBaseline(ctx, l, f) })

	var total time.Duration
	runs := 0
	for b.Loop() {
		total += timeToFile(b, dir, "audit.csv", func(f *os.File) error {
			n, err := ExportCSV(ctx, l, f, NewFormatters(), nil)
			if err == nil && n != csvBenchEvents {
				err = fmt.Errorf("exported %d rows, want %d", n, csvBenchEvents)
			}
			return err
		})
		runs++
	}
	per := total / time.Duration(runs)
	b.ReportMetric(per.Seconds(), "s/export")
	b.ReportMetric(float64(csvBenchEvents)/per.Seconds(), "events/s")
	b.ReportMetric(readAll.Seconds(), "readall-s")
	b.ReportMetric(base.Seconds(), "rawlines-s")
	b.ReportMetric(per.Seconds()/base.Seconds(), "ratio-to-rawlines")
	if per > 5*time.Second {
		b.Errorf("CSV export of %d events took %v, the budget is 5s", csvBenchEvents, per)
	}
}

// BenchmarkExportCSV1M exports a million-event log to CSV on disk. It runs
// only with -bench: building the log alone takes seconds.
func BenchmarkExportCSV1M(b *testing.B) {
	b.Run("memory", func(b *testing.B) {
		l := NewMemStore(Options{})
		defer l.Close()
		fillBench(b, l, csvBenchEvents)
		benchExportCSV(b, l)
	})
	// Badger is what users have: build the store, close it, and export from
	// a fresh Open as the CLI would.
	b.Run("badger", func(b *testing.B) {
		dir := b.TempDir()
		s, err := Open(dir, Options{})
		if err != nil {
			b.Fatal(err)
		}
		fillBench(b, s, csvBenchEvents)
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		if s, err = Open(dir, Options{}); err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		benchExportCSV(b, s)
	})
}
