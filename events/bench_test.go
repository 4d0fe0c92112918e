package events

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Each benchmark iteration is a fixed workload, so `-benchtime 1x` gives
// meaningful figures, and each prints its baseline from the same run.

// benchData is a realistic ~300-byte payload: what a release event carries.
func benchData(i int) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"release_id":"rel-%06d","project":"shop-frontend","environment":"production",`+
		`"commit":"%040x","tag":"v1.%d.%d","hosts":["www@10.0.1.1:22","www@10.0.1.2:22"],`+
		`"requested_by":"ann","approved_by":"bob","notes":"Routine release with dependency updates and a fix for checkout (#%d)."}`,
		i, i*2654435761, i/100, i%100, i))
}

func benchEvent(i int) Event {
	return Event{Type: "release.approved", Actor: "bob", CorrelationID: "req-" + strconv.Itoa(i), Data: benchData(i)}
}

func openBench(b *testing.B, opts Options) *Store {
	b.Helper()
	s, err := Open(b.TempDir(), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// BenchmarkAppendDurable: one appender, one event per Append, each durable
// before the next.
func BenchmarkAppendDurable(b *testing.B) {
	const appends = 2000
	s := openBench(b, Options{})
	lat := make([]time.Duration, 0, appends*b.N)
	b.ResetTimer()
	start := time.Now()
	for n := range b.N {
		for i := range appends {
			t0 := time.Now()
			if _, err := s.Append(context.Background(), "release/"+strconv.Itoa(i%50), AnyVersion, benchEvent(n*appends+i)); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	rate := float64(len(lat)) / elapsed.Seconds()
	p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
	b.ReportMetric(rate, "events/s")
	b.ReportMetric(float64(p50.Microseconds()), "p50_µs")
	b.ReportMetric(float64(p99.Microseconds()), "p99_µs")
	b.Logf("durable append, 1 appender: %.0f events/s, p50 %v, p99 %v (%d appends, %d commits)", rate, p50, p99, len(lat), s.commits.Load())
}

// BenchmarkAppendConcurrent: 16 appenders, one event per Append, with group
// commit against the same 16 appenders each committing alone (MaxBatch 1).
func BenchmarkAppendConcurrent(b *testing.B) {
	const writers, each = 16, 500
	run := func(maxBatch int) (float64, uint64) {
		s := openBench(b, Options{MaxBatch: maxBatch})
		start := time.Now()
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					if _, err := s.Append(context.Background(), fmt.Sprintf("deploy/%d", w), AnyVersion, benchEvent(i)); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		return float64(writers*each) / time.Since(start).Seconds(), s.commits.Load()
	}
	var grouped, alone float64
	var gc, ac uint64
	for range b.N {
		g, c1 := run(0)
		a, c2 := run(1)
		grouped, alone, gc, ac = grouped+g, alone+a, gc+c1, ac+c2
	}
	grouped, alone = grouped/float64(b.N), alone/float64(b.N)
	b.ReportMetric(grouped, "grouped_events/s")
	b.ReportMetric(alone, "alone_events/s")
	b.ReportMetric(grouped/alone, "speedup")
	b.Logf("16 appenders: group commit %.0f events/s (%d commits), each alone %.0f events/s (%d commits): %.1fx",
		grouped, gc, alone, ac, grouped/alone)
}

const replayEvents = 1_000_000

// buildReplayStore fills a new store with replayEvents events, 1000 per
// Append, and closes it.
func buildReplayStore(b *testing.B, dir string) {
	b.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	evs := make([]Event, MaxEventsPerAppend)
	for n := 0; n < replayEvents; n += len(evs) {
		for i := range evs {
			evs[i] = benchEvent(n + i)
		}
		if _, err := s.Append(context.Background(), "release/"+strconv.Itoa(n/1000%500), AnyVersion, evs...); err != nil {
			b.Fatal(err)
		}
	}
	st, _ := s.Stats(context.Background())
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.Logf("built %d events (%d canonical bytes, %.0f per event) in %v", st.Count, st.Bytes, float64(st.Bytes)/float64(st.Count), time.Since(start))
}

// BenchmarkReplay reads a million events in global order: ReadAll (decoding
// envelopes), ReadAll plus decoding each event's JSON (what a projection
// does), and as the baseline a raw Badger iteration over the same keys and
// values without decoding. The peak RSS of a replay is measured in a fresh
// process.
func BenchmarkReplay(b *testing.B) {
	dir := b.TempDir()
	buildReplayStore(b, dir)
	s, err := Open(dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()

	var readAll, withJSON, raw time.Duration
	b.ResetTimer()
	for range b.N {
		readAll += timed(b, func() error {
			n := 0
			err := s.ReadAll(context.Background(), 0, func(Envelope) error { n++; return nil })
			return checkCount(n, err)
		})
		withJSON += timed(b, func() error {
			n := 0
			err := s.ReadAll(context.Background(), 0, func(e Envelope) error {
				var v struct {
					ReleaseID string   `json:"release_id"`
					Commit    string   `json:"commit"`
					Hosts     []string `json:"hosts"`
				}
				n++
				return json.Unmarshal(e.Data, &v)
			})
			return checkCount(n, err)
		})
		raw += timed(b, func() error { return rawIterate(s.db) })
	}
	b.StopTimer()
	per := func(d time.Duration) float64 { return float64(replayEvents*b.N) / d.Seconds() }
	b.ReportMetric(per(readAll), "readall_events/s")
	b.ReportMetric(per(withJSON), "readall+json_events/s")
	b.ReportMetric(per(raw), "raw_badger_events/s")
	b.Logf("replay of %d events: ReadAll %.0f/s, ReadAll+JSON %.0f/s, raw Badger iteration %.0f/s (ReadAll at %.0f%% of raw)",
		replayEvents, per(readAll), per(withJSON), per(raw), 100*per(readAll)/per(raw))

	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	rss, took := replayRSS(b, dir)
	b.ReportMetric(float64(rss)/(1<<20), "peak_rss_MB")
	b.Logf("replay in a fresh process (open + ReadAll + JSON): peak RSS %.0f MB in %v", float64(rss)/(1<<20), took)
}

func timed(b *testing.B, fn func() error) time.Duration {
	start := time.Now()
	if err := fn(); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

func checkCount(n int, err error) error {
	if err == nil && n != replayEvents {
		err = fmt.Errorf("replayed %d events, want %d", n, replayEvents)
	}
	return err
}

// rawIterate is the baseline: Badger's own iteration over the event keys,
// touching every value, decoding nothing.
func rawIterate(db *badger.DB) error {
	n, sum := 0, 0
	err := db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: eventPrefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := it.Item().Value(func(v []byte) error { sum += int(v[len(v)-1]); return nil }); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	_ = sum
	return checkCount(n, err)
}

// replayRSS runs replayChild on dir and returns its peak RSS.
func replayRSS(b *testing.B, dir string) (int64, time.Duration) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "RD_REPLAY_DIR="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("replay child: %v\n%s", err, out)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "replay-rss-now") {
			b.Log(sc.Text())
		}
		var rss int64
		var ms int64
		if _, err := fmt.Sscanf(sc.Text(), "replay-rss %d %d", &rss, &ms); err == nil {
			return rss, time.Duration(ms) * time.Millisecond
		}
	}
	b.Fatalf("replay child printed no figure:\n%s", out)
	return 0, 0
}

// replayChild is BenchmarkReplay's fresh process: it opens the
// store, replays it as a projection would and prints its peak RSS. TestMain runs
// it.
func replayChild(dir string) {
	start := time.Now()
	s, err := Open(dir, Options{})
	childMust(err)
	defer s.Close()
	n := 0
	err = s.ReadAll(context.Background(), 0, func(e Envelope) error {
		var v map[string]any
		n++
		return json.Unmarshal(e.Data, &v)
	})
	childMust(err)
	if n != replayEvents {
		childMust(fmt.Errorf("replayed %d events, want %d", n, replayEvents))
	}
	took := time.Since(start)
	fmt.Printf("replay-rss-now after the replay: anon %d MB, file-backed %d MB\n", procStatus("RssAnon")>>20, procStatus("RssFile")>>20)
	fmt.Printf("replay-rss %d %d\n", procStatus("VmHWM"), took.Milliseconds())
}

// procStatus reads a size from /proc/self/status (VmHWM is the peak
// resident set), in bytes.
func procStatus(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	childMust(err)
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == field+":" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			childMust(err)
			return kb << 10
		}
	}
	childMust(fmt.Errorf("no %s in /proc/self/status", field))
	return 0
}

// BenchmarkStreamHead learns a long stream's version, as a caller does before
// appending at the expected version: with StreamHead, and as the baseline
// with ReadStream(ctx, stream, 1), which reads the whole stream for its last
// envelope. The stream is a deployment of 5,000 step events, appended 50 at
// a time between batches of 50 other streams, as a runner writes it beside
// the rest of the desk. The store is reopened first, so that it reads
// tables, as it does for all but the newest events.
func BenchmarkStreamHead(b *testing.B) {
	const (
		steps       = 5000
		batch       = 50
		others      = 50
		readStreams = 20   // ReadStream calls per iteration
		heads       = 5000 // StreamHead calls per iteration
		stream      = "deploy/4711"
	)
	fill := func(l Log) {
		evs := make([]Event, batch)
		for n := 0; n < steps; n += batch {
			for i := range evs {
				evs[i] = benchEvent(n + i)
			}
			if _, err := l.Append(context.Background(), stream, AnyVersion, evs...); err != nil {
				b.Fatal(err)
			}
			if _, err := l.Append(context.Background(), "release/"+strconv.Itoa(n/batch%others), AnyVersion, evs...); err != nil {
				b.Fatal(err)
			}
		}
	}
	logs := map[string]func() Reader{
		"badger": func() Reader {
			dir := b.TempDir()
			s, err := Open(dir, Options{})
			if err != nil {
				b.Fatal(err)
			}
			fill(s)
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
			if s, err = Open(dir, Options{}); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			return s
		},
		"memory": func() Reader {
			m := NewMemStore(Options{})
			fill(m)
			b.Cleanup(func() { _ = m.Close() })
			return m
		},
	}
	for _, name := range []string{"badger", "memory"} {
		b.Run(name, func(b *testing.B) {
			r := logs[name]()
			ctx := context.Background()
			var want StreamHead
			var read, head time.Duration
			b.ResetTimer()
			for range b.N {
				read += timed(b, func() error {
					for range readStreams {
						envs, err := r.ReadStream(ctx, stream, 1)
						if err != nil {
							return err
						}
						last := envs[len(envs)-1]
						want = StreamHead{Version: last.Version, Hash: last.Hash}
					}
					return nil
				})
				head += timed(b, func() error {
					for range heads {
						h, err := r.StreamHead(ctx, stream)
						if err != nil {
							return err
						}
						if h != want || h.Version != steps {
							return fmt.Errorf("stream head %+v, ReadStream ends at %+v", h, want)
						}
					}
					return nil
				})
			}
			b.StopTimer()
			perRead := read / time.Duration(readStreams*b.N)
			perHead := head / time.Duration(heads*b.N)
			b.ReportMetric(float64(perRead.Nanoseconds())/1e3, "readstream_µs")
			b.ReportMetric(float64(perHead.Nanoseconds())/1e3, "streamhead_µs")
			b.ReportMetric(float64(perRead)/float64(perHead), "speedup")
			b.Logf("%s: version of a %d-event stream: StreamHead %v, ReadStream(ctx, s, 1) %v: %.0fx faster",
				name, steps, perHead, perRead, float64(perRead)/float64(perHead))
		})
	}
}
