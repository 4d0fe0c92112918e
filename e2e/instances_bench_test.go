package e2e

// BenchmarkInstanceLatency is issue 15's latency across instances: two
// `releasedesk serve` processes on one PostgreSQL database, a write
// through instance A's API, and the time from just before its request is
// sent to the event it appended arriving on instance B's live stream
// (GET /api/v1/stream): A's commit, PostgreSQL's notification to B, B
// reading the event and applying it to its read models, B's SSE message.
// The baseline, in the same run on the same events, is A's own stream: the
// same write to the same arrival with no instance between. The ratio is
// what sharing the log across instances adds. Run it alone:
//
//	go test -run '^$' -bench BenchmarkInstanceLatency -benchtime 1x ./e2e/
//
// RD_INSTANCE_WRITES (default 200) sizes it. The write is the cheapest
// that appends one event: PUT /api/v1/users/{name}/contacts with a new
// mobile number each time (user.contacts_set), one at a time, each
// awaited on both streams before the next.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"releasedesk/app/httpapi/apitest"
	"releasedesk/events/pgtest"
)

func BenchmarkInstanceLatency(b *testing.B) {
	writes := envInt("RD_INSTANCE_WRITES", 200)
	db := pgtest.Database(b)
	key := secretKeyFile(b)
	const user, password = "root", "root-password-1"
	addUserOnStore(b, db, user, password, true)
	appA, appB := startInstance(b, db, key), startInstance(b, db, key)
	a := apitest.Login(b, appA.URL, user, password)
	signedInB := apitest.Login(b, appB.URL, user, password)
	ownStream, otherStream := watchArrivals(b, a), watchArrivals(b, signedInB)

	seq := 0
	write := func() (sent time.Time, onA, onB arrival) {
		seq++
		body := map[string]string{"mobile": fmt.Sprintf("+86138%08d", seq)}
		sent = time.Now()
		r, err := a.Try("PUT", "/api/v1/users/"+user+"/contacts", body)
		if err != nil || r.Status != http.StatusOK {
			b.Fatalf("write %d through A: %v %d %s", seq, err, r.Status, r.Raw)
		}
		onA, onB = ownStream.next(b, "user.contacts_set"), otherStream.next(b, "user.contacts_set")
		if onA.position != onB.position {
			b.Fatalf("write %d: A streamed position %d, B %d", seq, onA.position, onB.position)
		}
		return sent, onA, onB
	}
	// The first writes (unmeasured) show both streams follow, and warm
	// the connections and both instances' caches.
	for range 10 {
		write()
	}

	var own, other []time.Duration
	b.ResetTimer()
	for range b.N {
		for range writes {
			sent, onA, onB := write()
			own = append(own, onA.at.Sub(sent))
			other = append(other, onB.at.Sub(sent))
		}
	}
	b.StopTimer()

	p50, p99 := apitest.Quantile(other, 0.5), apitest.Quantile(other, 0.99)
	b50, b99 := apitest.Quantile(own, 0.5), apitest.Quantile(own, 0.99)
	b.ReportMetric(float64(p50.Microseconds())/1000, "other-p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "other-p99-ms")
	b.ReportMetric(float64(b50.Microseconds())/1000, "own-p50-ms")
	b.ReportMetric(float64(b99.Microseconds())/1000, "own-p99-ms")
	b.ReportMetric(float64(p50)/float64(max(b50, time.Microsecond)), "p50/own-p50")
	fmt.Printf("instance latency, %d writes through A (PUT contacts, one event each) on PostgreSQL: to B's stream p50 %s p99 %s; "+
		"baseline A's own stream p50 %s p99 %s; ratio p50 %.2fx p99 %.2fx\n",
		len(other), p50, p99, b50, b99,
		float64(p50)/float64(max(b50, time.Microsecond)), float64(p99)/float64(max(b99, time.Microsecond)))
}

// arrival is one message of a live stream: its event, and when the
// message's data line was read.
type arrival struct {
	position uint64
	typ      string
	at       time.Time
}

// arrivals follows one instance's /api/v1/stream from what comes next.
type arrivals struct {
	ch   chan arrival
	done <-chan struct{} // closed when the stream ends
}

// watchArrivals opens c's instance's stream (c's bearer token) and hands
// every message over as it is read.
func watchArrivals(tb testing.TB, c *apitest.Caller) *arrivals {
	tb.Helper()
	w := &arrivals{ch: make(chan arrival, 1024)}
	quit := make(chan struct{})
	stop, done := streamData(tb, c.Client.Base, c.Client.Token, "", func(data []byte, at time.Time) bool {
		var m struct {
			Position uint64
			Type     string
		}
		if json.Unmarshal(data, &m) != nil {
			return true
		}
		select {
		case w.ch <- arrival{position: m.Position, typ: m.Type, at: at}:
			return true
		case <-quit:
			return false
		}
	})
	w.done = done
	tb.Cleanup(func() { close(quit); stop() })
	return w
}

// next waits for the next message of type typ (passing over others) and
// fails after 30 s or when the stream ends.
func (w *arrivals) next(tb testing.TB, typ string) arrival {
	tb.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case a := <-w.ch:
			if a.typ == typ {
				return a
			}
		case <-w.done:
			tb.Fatalf("the stream ended while waiting for %s", typ)
		case <-timeout:
			tb.Fatalf("no %s on the stream in 30 s", typ)
		}
	}
}
