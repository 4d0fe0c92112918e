package e2e

// BenchmarkNotifyLatency measures what a person waiting for a message
// feels (issue 14): from an event to the chat receiver holding its
// message, over deployments of 20 real sshd hosts through a real `serve`
// process. Five signed webhook channels hear each deployment's start, its
// end and the acceptance it then waits for. The baseline, measured in the
// same run on the same events, is the live view: from the event to a
// browser's SSE stream (/api/v1/stream) receiving it. Both follow the
// log; the ratio is what the outbox adds (signing, the HTTP round trip,
// its own read of the log). Run it alone:
//
//	go test -run '^$' -bench BenchmarkNotifyLatency -benchtime 1x ./e2e/
//
// RD_NOTIFY_HOSTS (default 20) and RD_NOTIFY_DEPLOYS (default 8) size it.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"releasedesk/app/httpapi/apitest"
	"releasedesk/app/notify"
)

func BenchmarkNotifyLatency(b *testing.B) {
	hosts, deploys := envInt("RD_NOTIFY_HOSTS", 20), envInt("RD_NOTIFY_DEPLOYS", 8)
	f := newFleet(b, hosts, 200, 2<<20)
	secretFile := filepath.Join(b.TempDir(), "webhook.secret")
	const secret = "bench-webhook-secret"
	if err := os.WriteFile(secretFile, []byte(secret), 0o600); err != nil {
		b.Fatal(err)
	}
	rc := newLatencyReceiver(b, secret)
	const channels = 5
	var lines strings.Builder
	for i := range channels {
		fmt.Fprintf(&lines, "  - {name: hook%d, kind: webhook, url: %q, secret: {from_file: %q}, "+
			"events: [deployment.started, deployment.succeeded, acceptance.needed]}\n", i, rc.URL+"/hook", secretFile)
	}
	doc := fleetConfig{repo: f.repo, cl: f.cl, paths: f.hostPaths("notify"), parallel: hosts, batch: hosts, onFailure: "halt",
		warm: filepath.Join(f.cl.Hosts[0].Path, "warm"), notify: lines.String()}.yaml()
	if r := f.root.Call("PUT", "/api/v1/projects/fleet", doc); r.Status != http.StatusOK && r.Status != http.StatusCreated {
		b.Fatalf("configure: %d %s", r.Status, r.Raw)
	}
	sse := followStream(b, f)

	b.ResetTimer()
	for range b.N {
		for range deploys {
			f.change(5)
			id, _ := f.deploy("prod")
			f.wait(id, 5*time.Minute)
		}
	}
	want := b.N * deploys * channels * 3
	if !rc.waitFor(want, time.Minute) {
		b.Fatalf("the receivers took %d messages, want %d", rc.count(), want)
	}
	b.StopTimer()

	msgs := rc.latencies()
	base := sse.latencies(func(typ string) bool { return typ == "deploy.started" || typ == "deploy.succeeded" })
	p50, p99 := apitest.Quantile(msgs, 0.5), apitest.Quantile(msgs, 0.99)
	b50, b99 := apitest.Quantile(base, 0.5), apitest.Quantile(base, 0.99)
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(p50)/float64(max(b50, time.Microsecond)), "p50/sse-p50")
	fmt.Printf("notify latency over %d deployments of %d hosts, %d messages to %d channels: p50 %s p99 %s; "+
		"baseline (the same events to the SSE stream, %d samples): p50 %s p99 %s; ratio p50 %.1fx p99 %.1fx\n",
		b.N*deploys, hosts, len(msgs), channels, p50, p99, len(base), b50, b99,
		float64(p50)/float64(max(b50, time.Microsecond)), float64(p99)/float64(max(b99, time.Microsecond)))
}

// latencyReceiver is a webhook receiver that checks each message's
// signature and keeps, per delivery, how long after its event it came.
type latencyReceiver struct {
	*httptest.Server
	mu   sync.Mutex
	took map[string]time.Duration
}

func newLatencyReceiver(tb testing.TB, secret string) *latencyReceiver {
	rc := &latencyReceiver{took: map[string]time.Duration{}}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		body, _ := io.ReadAll(r.Body)
		ts, sig := r.Header.Get("X-ReleaseDesk-Timestamp"), r.Header.Get("X-ReleaseDesk-Signature")
		if err := notify.VerifyWebhook(secret, ts, body, sig, at, notify.DefaultWebhookTolerance); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var ev struct{ Time time.Time }
		if err := json.Unmarshal(body, &ev); err != nil || ev.Time.IsZero() {
			http.Error(w, "no event time", http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		if _, dup := rc.took[r.Header.Get("X-ReleaseDesk-Delivery")]; !dup {
			rc.took[r.Header.Get("X-ReleaseDesk-Delivery")] = at.Sub(ev.Time)
		}
		rc.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	tb.Cleanup(rc.Close)
	return rc
}

func (rc *latencyReceiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.took)
}

func (rc *latencyReceiver) waitFor(n int, within time.Duration) bool {
	end := time.Now().Add(within)
	for rc.count() < n {
		if time.Now().After(end) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

func (rc *latencyReceiver) latencies() []time.Duration {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make([]time.Duration, 0, len(rc.took))
	for _, d := range rc.took {
		out = append(out, d)
	}
	return out
}

// streamWatch follows /api/v1/stream from the head and keeps when each
// event arrived after it happened.
type streamWatch struct {
	mu   sync.Mutex
	seen []streamSeen
}

type streamSeen struct {
	typ string
	lag time.Duration
}

func followStream(tb testing.TB, f *fleet) *streamWatch {
	tb.Helper()
	w := &streamWatch{}
	stop, _ := streamData(tb, f.app.URL, f.root.Client.Token, "", func(data []byte, at time.Time) bool {
		var m struct {
			Type string
			Time time.Time
		}
		if json.Unmarshal(data, &m) == nil && !m.Time.IsZero() {
			w.mu.Lock()
			w.seen = append(w.seen, streamSeen{m.Type, at.Sub(m.Time)})
			w.mu.Unlock()
		}
		return true
	})
	tb.Cleanup(stop)
	return w
}

func (w *streamWatch) latencies(keep func(typ string) bool) []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []time.Duration
	for _, s := range w.seen {
		if keep(s.typ) {
			out = append(out, s.lag)
		}
	}
	return out
}
