//go:build linux

package apitest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The API under load, as the benchmarks measure it (e2e's BenchmarkFleet
// against a real serve process, httpapi's BenchmarkAPIUnderLoad in
// process): closed-loop clients and followers of the live stream.

// LoadResult is what the clients of Load measured.
type LoadResult struct {
	N        int // requests answered
	Errs     int
	Releases []time.Duration // GET /api/v1/releases
	Deploys  []time.Duration // GET /api/v1/deployments/{id}
	FirstErr string
}

// Load runs clients goroutines, each alternating GET /api/v1/releases and
// GET /api/v1/deployments/{dep} on its own connection, until stop is
// closed, and returns every latency.
func Load(base, token, dep string, clients int, stop <-chan struct{}) LoadResult {
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: time.Minute}
	get := func(path string) (time.Duration, error) {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		t0 := time.Now()
		r, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		_, err = io.Copy(io.Discard, r.Body)
		r.Body.Close()
		d := time.Since(t0)
		if err == nil && r.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET %s: %d", path, r.StatusCode)
		}
		return d, err
	}
	var mu sync.Mutex
	var all LoadResult
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			var mine LoadResult
			for i := c; ; i++ {
				select {
				case <-stop:
					mu.Lock()
					all.Releases = append(all.Releases, mine.Releases...)
					all.Deploys = append(all.Deploys, mine.Deploys...)
					all.N += len(mine.Releases) + len(mine.Deploys)
					all.Errs += mine.Errs
					if all.FirstErr == "" {
						all.FirstErr = mine.FirstErr
					}
					mu.Unlock()
					return
				default:
				}
				path, into := "/api/v1/releases", &mine.Releases
				if i%2 == 1 {
					path, into = "/api/v1/deployments/"+url.PathEscape(dep), &mine.Deploys
				}
				d, err := get(path)
				if err != nil {
					mine.Errs++
					if mine.FirstErr == "" {
						mine.FirstErr = err.Error()
					}
					time.Sleep(10 * time.Millisecond)
					continue
				}
				*into = append(*into, d)
			}
		})
	}
	wg.Wait()
	return all
}

// Quantile is the q quantile of ds (0 when empty).
func Quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1))]
}

// Stream follows GET /api/v1/stream?since=from and records every id.
type Stream struct {
	mu     sync.Mutex
	ids    []uint64
	err    error
	cancel context.CancelFunc
	done   chan struct{}
	seen   chan struct{} // closed once an id >= until arrives
	until  uint64
}

// Subscribe opens the stream with the bearer header and ?since=from.
func Subscribe(base, token string, from uint64) (*Stream, error) {
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/api/v1/stream?since=%d", base, from), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		cancel()
		return nil, fmt.Errorf("stream: %d", res.StatusCode)
	}
	s := &Stream{cancel: cancel, done: make(chan struct{}), seen: make(chan struct{}), until: ^uint64(0)}
	go func() {
		defer close(s.done)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 4<<20)
		seenClosed := false
		for sc.Scan() {
			line := sc.Text()
			v, ok := strings.CutPrefix(line, "id: ")
			if !ok {
				continue
			}
			id, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			s.mu.Lock()
			if err != nil && s.err == nil {
				s.err = fmt.Errorf("bad id line %q", line)
			}
			s.ids = append(s.ids, id)
			reached := id >= s.until
			s.mu.Unlock()
			if reached && !seenClosed {
				close(s.seen)
				seenClosed = true
			}
		}
		s.mu.Lock()
		if err := sc.Err(); err != nil && ctx.Err() == nil && s.err == nil {
			s.err = err
		}
		s.mu.Unlock()
	}()
	return s, nil
}

// Close stops following the stream.
func (s *Stream) Close() {
	s.cancel()
	<-s.done
}

// expect sets the last id the subscriber must reach (closing seen if it
// already has).
func (s *Stream) expect(until uint64) {
	s.mu.Lock()
	s.until = until
	reached := len(s.ids) > 0 && s.ids[len(s.ids)-1] >= until
	s.mu.Unlock()
	if reached {
		select {
		case <-s.seen:
		default:
			close(s.seen)
		}
	}
}

// Check waits (up to timeout) for the ids up to until, stops following
// and says what is wrong: every id received must follow from+1 in order,
// with no gap and no duplicate, through until at least.
func (s *Stream) Check(from, until uint64, timeout time.Duration) error {
	s.expect(until)
	select {
	case <-s.seen:
	case <-time.After(timeout):
	}
	s.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	want := from + 1
	for i, id := range s.ids {
		if id != want {
			return fmt.Errorf("message %d: id %d, want %d (gap, duplicate or reorder)", i, id, want)
		}
		want++
	}
	if want <= until {
		return fmt.Errorf("received ids %d..%d of %d..%d", from+1, want-1, from+1, until)
	}
	return nil
}
