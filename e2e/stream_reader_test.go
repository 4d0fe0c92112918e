package e2e

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// streamData follows base's live stream (GET /api/v1/stream, with query
// such as "?since=12" when not empty) as the bearer token, and calls fn,
// from a goroutine of its own, with each message's data and the moment it
// was read, until the stream ends, stop is called or fn returns false.
// done is closed once reading is over. A stream that does not open fails
// the test. The messages' shape is left to fn: each caller keeps the
// fields it measures.
func streamData(tb testing.TB, base, token, query string, fn func(data []byte, at time.Time) bool) (stop func(), done <-chan struct{}) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/stream"+query, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		cancel()
		tb.Fatalf("stream of %s: %d", base, res.StatusCode)
	}
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if ok && !fn([]byte(data), time.Now()) {
				return
			}
		}
	}()
	return func() { cancel(); <-finished }, finished
}
