package outbox

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"releasedesk/app/notify"
	"releasedesk/events"
	"releasedesk/events/catalog"
)

// A test event that calls for one message per channel it names.
const typePing = "test.pinged"

type ping struct {
	Channels []string `json:"channels"`
	Seq      int      `json:"seq"`
}

// urlPlanner sends each ping to its channels' URLs as a signed-less JSON
// POST, the way a webhook channel goes.
type urlPlanner struct {
	mu   sync.Mutex
	urls map[string]string
}

func (pl *urlPlanner) url(ch string) string {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return pl.urls[ch]
}

func (pl *urlPlanner) Plan(_ context.Context, e events.Envelope) ([]Delivery, error) {
	if e.Type != typePing {
		return nil, nil
	}
	var p ping
	if err := json.Unmarshal(e.Data, &p); err != nil {
		return nil, err
	}
	var out []Delivery
	for _, ch := range p.Channels {
		id := DeliveryID(e.Hash, "shop", ch)
		body, _ := json.Marshal(p)
		out = append(out, Delivery{ID: id, Position: e.Position, Time: e.Time, Project: "shop", Channel: ch,
			Kind: notify.KindWebhook, Trigger: "deployment.failed",
			Send: func(ctx context.Context) Result {
				req := notify.Request{Method: http.MethodPost, URL: pl.url(ch), Header: http.Header{}, Body: body}
				out, err := notify.SendHTTP(ctx, http.DefaultClient, notify.KindWebhook, req, id)
				return Result{Outcome: out, Err: err}
			}})
	}
	return out, nil
}

// receiver counts what it took by delivery id, failing the first
// failFirst requests.
type receiver struct {
	mu        sync.Mutex
	failFirst int
	calls     int
	took      []int          // the pings' seq, in the order taken
	byID      map[string]int // delivery id -> times taken
	hang      bool           // never answer: hold each request until it is dropped
	at        []time.Time
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rc.hang {
		<-r.Context().Done()
		return
	}
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.calls++
	if rc.calls <= rc.failFirst {
		http.Error(w, "busy, try later", http.StatusServiceUnavailable)
		return
	}
	var p ping
	_ = json.Unmarshal(body, &p)
	if rc.byID == nil {
		rc.byID = map[string]int{}
	}
	id := r.Header.Get(notify.DeliveryHeader)
	rc.byID[id]++
	if rc.byID[id] == 1 {
		rc.took = append(rc.took, p.Seq)
		rc.at = append(rc.at, time.Now())
	}
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) snapshot() (took []int, byID map[string]int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	byID = map[string]int{}
	for k, v := range rc.byID {
		byID[k] = v
	}
	return append([]int(nil), rc.took...), byID
}

// serve starts rc on a loopback listener (addr "" picks a port).
func serve(t *testing.T, rc http.Handler, addr string) (url string, stop func()) {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: rc}
	go srv.Serve(ln)
	var once sync.Once
	stop = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
			_ = srv.Close()
		})
	}
	t.Cleanup(stop)
	return "http://" + ln.Addr().String() + "/hook", stop
}

func openLog(t *testing.T, dir string) *events.Store {
	t.Helper()
	l := logrus.New()
	l.SetOutput(io.Discard)
	s, err := events.Open(dir, events.Options{Logger: l})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func appendPing(t *testing.T, log events.Log, seq int, channels ...string) {
	t.Helper()
	ev, err := events.NewEvent(typePing, "alice", ping{Channels: channels, Seq: seq})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := log.Append(context.Background(), "test/pings", events.AnyVersion, ev); err != nil {
		t.Fatal(err)
	}
}

// runOutbox runs an outbox until the test ends or stop is called.
func runOutbox(t *testing.T, cfg Config) (o *Outbox, stop func()) {
	t.Helper()
	l := logrus.New()
	l.SetOutput(io.Discard)
	cfg.Logger, cfg.Actor = l, "system"
	o = New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Error("the outbox did not stop")
			}
		})
	}
	t.Cleanup(stop)
	return o, stop
}

// waitFor polls cond until it holds or the time is up.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	end := time.Now().Add(within)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("after %s: %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// attempts reads the recorded attempts, in log order.
func attempts(t *testing.T, log events.Reader) []catalog.Notification {
	t.Helper()
	var out []catalog.Notification
	err := log.ReadAll(context.Background(), 1, func(e events.Envelope) error {
		if isOutcome(e.Type) {
			var n catalog.Notification
			if err := json.Unmarshal(e.Data, &n); err != nil {
				return err
			}
			if e.Type == catalog.TypeNotificationSent && n.Error != "" {
				t.Errorf("a sent attempt with an error: %+v", n)
			}
			out = append(out, n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var fastRetry = Retry{First: 20 * time.Millisecond, Max: 80 * time.Millisecond, GiveUp: time.Hour}

func TestFlakyReceiverGetsTheMessageOnce(t *testing.T) {
	log := openLog(t, t.TempDir())
	defer log.Close()
	rc := &receiver{failFirst: 3}
	url, _ := serve(t, rc, "")
	pl := &urlPlanner{urls: map[string]string{"ops": url}}
	o, _ := runOutbox(t, Config{Log: log, Planner: pl, Retry: fastRetry})
	waitFor(t, "the outbox follows", 5*time.Second, func() bool { return o.position() > 0 })

	appendPing(t, log, 1, "ops")
	waitFor(t, "the message delivered", 10*time.Second, func() bool { took, _ := rc.snapshot(); return len(took) == 1 })
	waitFor(t, "settled", 5*time.Second, func() bool { return o.Pending() == 0 })

	took, byID := rc.snapshot()
	if len(took) != 1 || len(byID) != 1 {
		t.Fatalf("took %v by id %v, want one message once", took, byID)
	}
	got := attempts(t, log)
	if len(got) != 4 {
		t.Fatalf("%d attempts recorded, want 3 failed and 1 sent: %+v", len(got), got)
	}
	for i, n := range got {
		if n.Attempt != i+1 || n.Channel != "ops" || n.Delivery == "" {
			t.Errorf("attempt %d recorded as %+v", i+1, n)
		}
		if i < 3 && (n.Status != http.StatusServiceUnavailable || n.NextAttempt.IsZero() || n.Excerpt != "busy, try later") {
			t.Errorf("failed attempt %d: %+v", i+1, n)
		}
	}
	if last := got[3]; last.Status != http.StatusNoContent || last.Error != "" {
		t.Errorf("the last attempt: %+v", last)
	}
}

func TestDeadChannelDoesNotDelayAnother(t *testing.T) {
	log := openLog(t, t.TempDir())
	defer log.Close()
	dead := &receiver{hang: true}
	deadURL, _ := serve(t, dead, "")
	live := &receiver{}
	liveURL, _ := serve(t, live, "")
	pl := &urlPlanner{urls: map[string]string{"dead": deadURL, "live": liveURL}}
	const timeout = 3 * time.Second
	o, _ := runOutbox(t, Config{Log: log, Planner: pl, Retry: fastRetry, AttemptTimeout: timeout})
	waitFor(t, "the outbox follows", 5*time.Second, func() bool { return o.position() > 0 })

	start := time.Now()
	for i := 1; i <= 5; i++ {
		appendPing(t, log, i, "dead", "live")
	}
	waitFor(t, "the live channel's five messages", timeout, func() bool { took, _ := live.snapshot(); return len(took) == 5 })
	took, _ := live.snapshot()
	for i, seq := range took {
		if seq != i+1 {
			t.Fatalf("the live channel took %v, want them in order", took)
		}
	}
	t.Logf("the live channel had its five messages %s after the first event, while the dead one hangs for %s", time.Since(start).Round(time.Millisecond), timeout)
	for _, n := range attempts(t, log) {
		if n.Channel == "dead" {
			t.Fatalf("the dead channel's attempt already ended: %+v", n)
		}
	}
}

func TestDeliveryResumesAfterRestart(t *testing.T) {
	dir := t.TempDir()
	cp := filepath.Join(t.TempDir(), "outbox.checkpoint")
	log := openLog(t, dir)
	rc := &receiver{}
	// The receiver is down: its port is taken and let go.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	pl := &urlPlanner{urls: map[string]string{"ops": "http://" + addr + "/hook"}}
	o, stop := runOutbox(t, Config{Log: log, Planner: pl, Retry: fastRetry, Checkpoint: cp, CheckpointEvery: 10 * time.Millisecond})
	waitFor(t, "the outbox follows", 5*time.Second, func() bool { return o.position() > 0 })
	appendPing(t, log, 1, "ops")
	waitFor(t, "two failed attempts", 5*time.Second, func() bool { return len(attempts(t, log)) >= 2 })
	stop()
	// While the app is down, another event.
	appendPing(t, log, 2, "ops")
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	reopened := openLog(t, dir)
	failed := len(attempts(t, reopened))
	reopened.Close()

	log = openLog(t, dir)
	defer log.Close()
	serve(t, rc, addr)
	o, _ = runOutbox(t, Config{Log: log, Planner: pl, Retry: fastRetry, Checkpoint: cp})
	waitFor(t, "both messages after the restart", 10*time.Second, func() bool { took, _ := rc.snapshot(); return len(took) == 2 })
	waitFor(t, "settled", 5*time.Second, func() bool { return o.Pending() == 0 })
	took, byID := rc.snapshot()
	if took[0] != 1 || took[1] != 2 || len(byID) != 2 {
		t.Fatalf("took %v (%v), want 1 then 2, once each", took, byID)
	}
	for id, n := range byID {
		if n != 1 {
			t.Errorf("delivery %s taken %d times", id, n)
		}
	}
	got := attempts(t, log)
	first := got[failed]
	if first.Attempt != failed+1 {
		t.Errorf("the first attempt after the restart is number %d, want %d (the count carries on)", first.Attempt, failed+1)
	}
	waitFor(t, "the checkpoint past both events", 5*time.Second, func() bool {
		c, ok, _ := readCheckpoint(cp)
		return ok && c.Position > 2
	})
}

func TestNoCheckpointStartsAtTheEnd(t *testing.T) {
	log := openLog(t, t.TempDir())
	defer log.Close()
	rc := &receiver{}
	url, _ := serve(t, rc, "")
	pl := &urlPlanner{urls: map[string]string{"ops": url}}
	appendPing(t, log, 1, "ops") // before the outbox ever ran: history, not news
	o, _ := runOutbox(t, Config{Log: log, Planner: pl, Checkpoint: filepath.Join(t.TempDir(), "cp")})
	waitFor(t, "the outbox follows", 5*time.Second, func() bool { return o.position() > 1 })
	appendPing(t, log, 2, "ops")
	waitFor(t, "the new message", 5*time.Second, func() bool { took, _ := rc.snapshot(); return len(took) == 1 })
	if took, _ := rc.snapshot(); took[0] != 2 {
		t.Fatalf("took %v, want only the event after the start", took)
	}
}

func TestGivesUpAfterTheRetryWindow(t *testing.T) {
	log := openLog(t, t.TempDir())
	defer log.Close()
	rc := &receiver{failFirst: 1 << 30}
	url, _ := serve(t, rc, "")
	pl := &urlPlanner{urls: map[string]string{"ops": url}}
	o, _ := runOutbox(t, Config{Log: log, Planner: pl, Retry: Retry{First: 10 * time.Millisecond, Max: 20 * time.Millisecond, GiveUp: 150 * time.Millisecond}})
	waitFor(t, "the outbox follows", 5*time.Second, func() bool { return o.position() > 0 })
	appendPing(t, log, 1, "ops")
	waitFor(t, "given up", 5*time.Second, func() bool { return o.Pending() == 0 && len(attempts(t, log)) > 1 })
	got := attempts(t, log)
	last := got[len(got)-1]
	if !last.NextAttempt.IsZero() || last.Error == "" {
		t.Fatalf("the last attempt %+v, want a failure with no next attempt", last)
	}
	for _, n := range got[:len(got)-1] {
		if n.NextAttempt.IsZero() {
			t.Fatalf("an attempt before the last gave up: %+v", n)
		}
	}
}

func TestRetryDoublesUpToItsMax(t *testing.T) {
	r := Retry{First: 10 * time.Second, Max: time.Minute, GiveUp: time.Hour}
	want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, time.Minute, time.Minute}
	for i, w := range want {
		if got := r.after(i+1, 0); got != w {
			t.Errorf("after attempt %d: %s, want %s", i+1, got, w)
		}
	}
	if got := r.after(1, 5*time.Minute); got != 5*time.Minute {
		t.Errorf("a receiver asking for 5m: %s", got)
	}
}

func TestLimiterKeepsASlidingWindow(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(notify.RateLimit(notify.KindDingTalk), func() time.Time { return now })
	for i := range 20 {
		if d := l.delay(); d != 0 {
			t.Fatalf("message %d waits %s, want none within the first 20", i+1, d)
		}
		l.took()
		now = now.Add(time.Second)
	}
	// 20 sent at 0s..19s: the 21st waits until the first leaves the minute.
	if d := l.delay(); d != 40*time.Second {
		t.Fatalf("the 21st waits %s, want 40s", d)
	}
	now = now.Add(40 * time.Second)
	if d := l.delay(); d != 0 {
		t.Fatalf("after the window: %s", d)
	}
}

func TestNewsTooOldIsRecordedNotSent(t *testing.T) {
	dir := t.TempDir()
	cp := filepath.Join(t.TempDir(), "cp")
	log := openLog(t, dir)
	defer log.Close()
	rc := &receiver{}
	url, _ := serve(t, rc, "")
	pl := &urlPlanner{urls: map[string]string{"ops": url}}
	// The outbox last ran before this event, and starts again two days on.
	if err := writeCheckpoint(cp, checkpoint{Position: 1}); err != nil {
		t.Fatal(err)
	}
	appendPing(t, log, 1, "ops")
	later := func() time.Time { return time.Now().Add(48 * time.Hour) }
	o, _ := runOutbox(t, Config{Log: log, Planner: pl, Checkpoint: cp, Now: later})
	waitFor(t, "settled", 5*time.Second, func() bool { return len(attempts(t, log)) == 1 && o.Pending() == 0 })
	got := attempts(t, log)[0]
	if !got.NextAttempt.IsZero() || !strings.Contains(got.Error, "not sent: 48h0m0s after its event") {
		t.Fatalf("recorded %+v, want a failure given up for its age", got)
	}
	if took, _ := rc.snapshot(); len(took) != 0 {
		t.Fatalf("the receiver took %v", took)
	}
}

// slowReceiver takes each message after a pause, telling when a request
// arrives.
type slowReceiver struct {
	receiver
	pause   time.Duration
	arrived chan struct{}
}

func (rc *slowReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case rc.arrived <- struct{}{}:
	default:
	}
	time.Sleep(rc.pause)
	rc.receiver.ServeHTTP(w, r)
}

// TestStopRecordsAnAnswerUnderWay: the outbox stopping while a receiver
// takes its time still records the answer that comes, so the restart
// sends no second copy.
func TestStopRecordsAnAnswerUnderWay(t *testing.T) {
	dir := t.TempDir()
	cp := filepath.Join(t.TempDir(), "cp")
	log := openLog(t, dir)
	defer log.Close()
	rc := &slowReceiver{pause: 300 * time.Millisecond, arrived: make(chan struct{}, 1)}
	url, _ := serve(t, rc, "")
	pl := &urlPlanner{urls: map[string]string{"ops": url}}
	o, stop := runOutbox(t, Config{Log: log, Planner: pl, Checkpoint: cp, CheckpointEvery: 10 * time.Millisecond})
	waitFor(t, "the outbox follows", 5*time.Second, func() bool { return o.position() > 0 })
	appendPing(t, log, 1, "ops")
	select {
	case <-rc.arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("no request")
	}
	stop() // while the receiver holds the request
	got := attempts(t, log)
	if len(got) != 1 || got[0].Error != "" || got[0].Status != http.StatusNoContent {
		t.Fatalf("recorded %+v, want the answer that came during the stop", got)
	}
	o, _ = runOutbox(t, Config{Log: log, Planner: pl, Checkpoint: cp})
	waitFor(t, "the outbox follows again", 5*time.Second, func() bool { return o.position() > 1 })
	time.Sleep(200 * time.Millisecond)
	took, byID := rc.snapshot()
	for _, n := range byID {
		if n != 1 || len(took) != 1 || len(byID) != 1 {
			t.Fatalf("took %v (%v), want the message once", took, byID)
		}
	}
}
