package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"releasedesk/app/httpapi"
	"releasedesk/app/httpapi/apitest"
	"releasedesk/events"
)

// sseMsg is one Server-Sent Events message as a client parses it.
type sseMsg struct {
	ID    uint64
	Event string
	Data  map[string]any
	Raw   string // the data line
}

// sseConn is an open GET /api/v1/stream. Nothing reads its body until
// start: a test can leave it unread to play a slow subscriber.
type sseConn struct {
	t      testing.TB
	res    *http.Response
	cancel context.CancelFunc
	msgs   chan sseMsg
	once   sync.Once

	mu    sync.Mutex
	pings int
	retry string
	err   error // why reading stopped
}

// openStream opens the stream with query (e.g. "?since=3") and an optional
// Last-Event-ID, as token (in the Authorization header), and wants a 200.
func openStream(e *apitest.Env, query, token, lastID string) *sseConn {
	e.T.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", e.URL+"/api/v1/stream"+query, nil)
	if err != nil {
		e.T.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	// Its own transport: one connection per subscriber, none shared.
	tr := &http.Transport{DisableCompression: true}
	res, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		cancel()
		e.T.Fatalf("open stream: %v", err)
	}
	c := &sseConn{t: e.T, res: res, cancel: func() { cancel(); tr.CloseIdleConnections() }, msgs: make(chan sseMsg, 1<<16)}
	e.T.Cleanup(c.close)
	if res.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(res.Body)
		e.T.Fatalf("stream: status %d: %s", res.StatusCode, raw)
	}
	for k, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"} {
		if got := res.Header.Get(k); !strings.HasPrefix(got, want) {
			e.T.Fatalf("stream header %s = %q, want %q", k, got, want)
		}
	}
	return c
}

// close hangs up (the server's handler then ends).
func (c *sseConn) close() {
	c.cancel()
	_ = c.res.Body.Close()
}

// start reads the body in the background, parsing messages into c.msgs.
func (c *sseConn) start() {
	c.once.Do(func() { go c.read() })
}

func (c *sseConn) read() {
	defer close(c.msgs)
	rd := bufio.NewReaderSize(c.res.Body, 64<<10)
	var m sseMsg
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		line = strings.TrimSuffix(line, "\n")
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch {
		case line == "":
			if m.Raw != "" {
				c.msgs <- m
			}
			m = sseMsg{}
		case field == "": // a comment
			c.mu.Lock()
			if value == "ping" {
				c.pings++
			}
			c.mu.Unlock()
		case field == "retry":
			c.mu.Lock()
			c.retry = value
			c.mu.Unlock()
		case field == "id":
			m.ID, err = strconv.ParseUint(value, 10, 64)
			if err != nil {
				c.t.Errorf("bad id line %q", line)
			}
		case field == "event":
			m.Event = value
		case field == "data":
			m.Raw = value
			if err := json.Unmarshal([]byte(value), &m.Data); err != nil {
				c.t.Errorf("data is not JSON: %v: %.200s", err, value)
			}
		default:
			c.t.Errorf("unexpected SSE line %.200q", line)
		}
	}
}

// next returns the next message, failing the test after timeout.
func (c *sseConn) next(timeout time.Duration) sseMsg {
	c.t.Helper()
	c.start()
	select {
	case m, ok := <-c.msgs:
		if !ok {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.t.Fatalf("stream ended: %v", c.err)
		}
		return m
	case <-time.After(timeout):
		c.t.Fatalf("no stream message in %v", timeout)
	}
	return sseMsg{}
}

// until reads messages up to and including position last.
func (c *sseConn) until(last uint64, timeout time.Duration) []sseMsg {
	c.t.Helper()
	var out []sseMsg
	deadline := time.Now().Add(timeout)
	for {
		m := c.next(time.Until(deadline))
		out = append(out, m)
		if m.ID >= last {
			return out
		}
	}
}

// gapFree fails unless msgs have the ids from, from+1, ... and each
// data's position is its id.
func gapFree(t *testing.T, what string, msgs []sseMsg, from uint64) {
	t.Helper()
	for i, m := range msgs {
		if m.ID != from+uint64(i) {
			t.Fatalf("%s: message %d has id %d, want %d", what, i, m.ID, from+uint64(i))
		}
		if pos, _ := m.Data["position"].(float64); uint64(pos) != m.ID {
			t.Fatalf("%s: id %d carries position %v", what, m.ID, m.Data["position"])
		}
	}
}

// head is the last position the desk's read models have applied.
func head(e *apitest.Env) uint64 { return e.Desk.Set.Position() }

// TestStreamLocalDeployment follows a real local-strategy deployment over
// the stream, then resumes from its middle with Last-Event-ID and ?since=.
func TestStreamLocalDeployment(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	repo := apitest.GitRepo(t, nil)
	root := e.Login("root", apitest.RootPassword)
	target := t.TempDir()
	cfg := fmt.Sprintf(`id: shop
repo: %s
branch: master
strategy: local
build: "echo built-for-the-stream"
environments:
  - name: test
    path: %s/test
`, repo, target)
	sub := openStream(e, "", root, "")
	start := head(e)
	e.Must(http.StatusCreated, "PUT", "/api/v1/projects/shop", root, cfg)
	dev := e.AddUser(root, "dev", false, map[string][]string{"shop": {"developer"}})
	r := e.Must(http.StatusCreated, "POST", "/api/v1/releases", dev,
		map[string]any{"project": "shop", "branch": "feature-1", "create_branch": true, "title": "First"})
	rel := apitest.Str(r.Body, "release", "id")
	r = e.Must(http.StatusAccepted, "POST", "/api/v1/releases/"+rel+"/deploy", dev, map[string]any{"env": "test"})
	depID := apitest.Str(r.Body, "deployment")
	if dep := e.WaitDeployment(dev, depID, time.Minute); dep["state"] != "succeeded" {
		t.Fatalf("deploy: %v", dep)
	}
	end := head(e)
	msgs := sub.until(end, 30*time.Second)
	gapFree(t, "live", msgs, start+1)
	sub.mu.Lock()
	retry := sub.retry
	sub.mu.Unlock()
	if retry != "2000" {
		t.Fatalf("retry %q, want 2000", retry)
	}

	kinds := map[string]int{}
	var output string
	for _, m := range msgs {
		kinds[m.Event]++
		for _, k := range []string{"type", "time", "actor", "stream"} {
			if apitest.Str(m.Data, k) == "" {
				t.Fatalf("message %d lacks %s: %s", m.ID, k, m.Raw)
			}
		}
		switch m.Event {
		case "output":
			if apitest.Str(m.Data, "type") != "step.output" || apitest.Str(m.Data, "deployment") != depID || apitest.Str(m.Data, "step") == "" {
				t.Fatalf("output message: %s", m.Raw)
			}
			output += apitest.Str(m.Data, "text")
		case "step", "deployment", "host":
			if apitest.Str(m.Data, "project") != "shop" || apitest.Str(m.Data, "environment") != "test" {
				t.Fatalf("%s message does not name its project and environment: %s", m.Event, m.Raw)
			}
			if apitest.Str(m.Data, "stream") == "deploy/"+depID && (apitest.Str(m.Data, "deployment") != depID || apitest.Str(m.Data, "release") != rel) {
				t.Fatalf("%s message does not name its deployment and release: %s", m.Event, m.Raw)
			}
		case "user":
			if strings.Contains(m.Raw, "password") || strings.Contains(m.Raw, "hash") {
				t.Fatalf("user message carries more than names: %s", m.Raw)
			}
		}
		if m.Event != "output" && m.Data["text"] != nil {
			t.Fatalf("a %s message carries text: %s", m.Event, m.Raw)
		}
	}
	for _, k := range []string{"project", "user", "release", "deployment", "step", "output"} {
		if kinds[k] == 0 {
			t.Fatalf("no %q message among %v", k, kinds)
		}
	}
	if !strings.Contains(output, "built-for-the-stream") {
		t.Fatalf("the output messages do not carry the build's output: %q", output)
	}
	if kinds["other"] != 0 {
		t.Fatalf("events of no known kind: %v", kinds)
	}

	// Resume from the middle: exactly the missed events, then live ones.
	mid := msgs[len(msgs)/2].ID
	for _, resume := range []*sseConn{openStream(e, "", root, strconv.FormatUint(mid, 10)),
		openStream(e, "?since="+strconv.FormatUint(mid, 10), root, ""),
		openStream(e, "?since=1", root, strconv.FormatUint(mid, 10))} { // the header wins
		got := resume.until(end, 30*time.Second)
		gapFree(t, "resumed", got, mid+1)
		for i, m := range got {
			if want := msgs[int(m.ID-start-1)]; m.Raw != want.Raw || m.Event != want.Event {
				t.Fatalf("resumed message %d differs:\n%s\n%s", i, m.Raw, want.Raw)
			}
		}
	}
	e.Login("dev", "dev-password-1") // one more event: the next id, no duplicate
	if m := sub.next(10 * time.Second); m.ID != end+1 || apitest.Str(m.Data, "type") != "user.login_succeeded" || m.Event != "user" {
		t.Fatalf("after the deployment: %d %s %s", m.ID, m.Event, m.Raw)
	}
}

// TestStreamAuthAndResumeErrors: a token in the header or a ticket in the
// query, none refused, and a session token in the query refused (URLs
// are kept by proxies, logs and history); a bad resume point is a 400
// naming its field.
func TestStreamAuthAndResumeErrors(t *testing.T) {
	e := apitest.New(t, apitest.Options{NoRunner: true})
	root := e.Login("root", apitest.RootPassword)

	if r := e.Call("GET", "/api/v1/stream", "", nil); r.Status != http.StatusUnauthorized || r.ErrCode() != "unauthorized" {
		t.Fatalf("no token: %d %s", r.Status, r.Raw)
	}
	if r := e.Call("GET", "/api/v1/stream?token="+root, "", nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("a session token in the stream's query: %d %s, want 401", r.Status, r.Raw)
	}
	if r := e.Call("GET", "/api/v1/audit?token="+root, "", nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("a query token outside the stream: %d %s", r.Status, r.Raw)
	}
	sub := openStream(e, "?ticket="+ticketFor(e, root), "", "")
	before := head(e)
	e.AddUser(root, "ann", false, nil)
	m := sub.next(10 * time.Second)
	if m.ID != before+1 || m.Event != "user" || apitest.Str(m.Data, "type") != "user.created" || apitest.Str(m.Data, "actor") != "root" {
		t.Fatalf("ticket subscriber got %d %s %s", m.ID, m.Event, m.Raw)
	}

	past := strconv.FormatUint(head(e)+5, 10)
	for _, c := range []struct{ query, header, field string }{
		{"", "abc", "Last-Event-ID"},
		{"", "-1", "Last-Event-ID"},
		{"", past, "Last-Event-ID"},
		{"?since=x1", "", "since"},
		{"?since=" + past, "", "since"},
	} {
		req, _ := http.NewRequest("GET", e.URL+"/api/v1/stream"+c.query, nil)
		req.Header.Set("Authorization", "Bearer "+root)
		if c.header != "" {
			req.Header.Set("Last-Event-ID", c.header)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Error httpapi.Error `json:"error"`
		}
		_ = json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest || body.Error.Field != c.field || body.Error.Code != "invalid" {
			t.Fatalf("%q %q: %d %+v, want a 400 about %s", c.query, c.header, res.StatusCode, body.Error, c.field)
		}
	}
}

// fastHeartbeat is a 50 ms heartbeat, for a test to wait little.
const fastHeartbeat = 50 * time.Millisecond

// TestStreamHeartbeat: an idle stream sends a ping comment.
func TestStreamHeartbeat(t *testing.T) {
	e := apitest.New(t, apitest.Options{NoRunner: true, Heartbeat: fastHeartbeat})
	root := e.Login("root", apitest.RootPassword)
	sub := openStream(e, "", root, "")
	sub.start()
	deadline := time.Now().Add(10 * time.Second)
	for {
		sub.mu.Lock()
		pings := sub.pings
		sub.mu.Unlock()
		if pings >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d pings in 10 s at a 50 ms heartbeat", pings)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Still live after pinging.
	before := head(e)
	e.Login("root", apitest.RootPassword)
	if m := sub.next(10 * time.Second); m.ID != before+1 {
		t.Fatalf("after pings: id %d, want %d", m.ID, before+1)
	}
}

// appendOutput appends n step.output events of size bytes each to a
// deployment stream the models do not know (they skip it; the stream
// carries it): a lot of stream traffic for few appends.
func appendOutput(t *testing.T, e *apitest.Env, n, size int) {
	t.Helper()
	text := strings.Repeat("x", size-1) + "\n"
	for i := range n {
		ev, err := events.NewEvent("step.output", "runner", map[string]any{
			"deployment": "bulk", "step": "bulk:build", "text": fmt.Sprintf("%06d", i) + text[6:]})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Desk.Log.Append(context.Background(), "deploy/bulk", events.AnyVersion, ev); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStreamSlowSubscriber: a subscriber that reads nothing while far more
// than any socket buffer holds goes by stalls neither the read models
// (API writes wait for them), nor the API, nor a fast subscriber; when it
// reads at last it gets everything, in order.
func TestStreamSlowSubscriber(t *testing.T) {
	e := apitest.New(t, apitest.Options{NoRunner: true})
	root := e.Login("root", apitest.RootPassword)
	start := head(e)
	slow := openStream(e, "", root, "")
	fast := openStream(e, "", root, "")
	fast.start()

	const outputs, size = 120, 160 << 10 // about 19 MB of text
	appendOutput(t, e, outputs, size)
	// API writes now: each waits for the read models to apply it.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range 5 {
		began := time.Now()
		e.AddUser(root, fmt.Sprintf("u%d", i), false, nil)
		if took := time.Since(began); took > 5*time.Second {
			t.Fatalf("an API write took %v with a stalled subscriber", took)
		}
	}
	if err := e.Desk.Set.WaitFor(ctx, e.Desk.Log.Head().Position); err != nil {
		t.Fatalf("read models stalled: %v", err)
	}
	end := head(e)
	got := fast.until(end, 30*time.Second)
	gapFree(t, "fast", got, start+1)
	checkOutputs(t, "fast", got, outputs, size)

	slow.start()
	late := slow.until(end, 60*time.Second)
	gapFree(t, "slow", late, start+1)
	checkOutputs(t, "slow", late, outputs, size)
	for i := range late {
		if late[i].Raw != got[i].Raw {
			t.Fatalf("slow and fast differ at id %d", late[i].ID)
		}
	}
}

// checkOutputs checks the bulk outputs arrived whole and in order.
func checkOutputs(t *testing.T, who string, msgs []sseMsg, n, size int) {
	t.Helper()
	seen := 0
	for _, m := range msgs {
		if m.Event != "output" {
			continue
		}
		text := apitest.Str(m.Data, "text")
		if len(text) != size || text[:6] != fmt.Sprintf("%06d", seen) {
			t.Fatalf("%s: output %d is %d bytes starting %.6q", who, seen, len(text), text)
		}
		seen++
	}
	if seen != n {
		t.Fatalf("%s: %d outputs, want %d", who, seen, n)
	}
}

// TestStreamManySubscribers: 20 subscribers see the same sequence, gap-free,
// while events arrive from the API and in bursts straight to the log.
func TestStreamManySubscribers(t *testing.T) {
	e := apitest.New(t, apitest.Options{NoRunner: true})
	root := e.Login("root", apitest.RootPassword)
	start := head(e)
	subs := make([]*sseConn, 20)
	for i := range subs {
		subs[i] = openStream(e, "", root, "")
		subs[i].start()
	}
	for i := range 10 {
		e.AddUser(root, fmt.Sprintf("p%d", i), false, nil)
		evs := make([]events.Event, 100)
		for j := range evs {
			ev, err := events.NewEvent("step.output", "runner", map[string]any{
				"deployment": "many", "step": "s", "text": fmt.Sprintf("%d-%d\n", i, j)})
			if err != nil {
				t.Fatal(err)
			}
			evs[j] = ev
		}
		if _, err := e.Desk.Log.Append(context.Background(), "deploy/many", events.AnyVersion, evs...); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.Desk.Set.WaitFor(ctx, e.Desk.Log.Head().Position); err != nil {
		t.Fatal(err)
	}
	end := head(e)
	if end-start < 1010 {
		t.Fatalf("only %d events appended", end-start)
	}
	var want []sseMsg
	for i, s := range subs {
		got := s.until(end, 30*time.Second)
		gapFree(t, fmt.Sprintf("subscriber %d", i), got, start+1)
		if i == 0 {
			want = got
			continue
		}
		for j := range got {
			if got[j].Raw != want[j].Raw || got[j].Event != want[j].Event {
				t.Fatalf("subscriber %d differs from 0 at id %d", i, got[j].ID)
			}
		}
	}
}

// TestStreamArchive: in offline review (the review session, a log that never grows)
// the stream replays the archive from ?since= and then only pings.
func TestStreamArchive(t *testing.T) {
	e := apitest.New(t, apitest.Options{NoRunner: true, Heartbeat: fastHeartbeat})
	root := e.Login("root", apitest.RootPassword)
	e.AddUser(root, "ann", false, nil)
	head := head(e)
	file, _ := e.Export(root)
	review := apitest.ServeArchive(t, file, apitest.Options{Heartbeat: fastHeartbeat})
	if r := review.Call("GET", "/api/v1/stream?since=0", "", nil); r.Status != http.StatusUnauthorized || r.ErrCode() != "review_secret_required" {
		t.Fatalf("the archive's stream without the review session: %d %s", r.Status, r.Raw)
	}
	session := review.Review()
	sub := openStream(review, "?since=0&ticket="+ticketFor(review, session), "", "")
	got := sub.until(head, 10*time.Second)
	gapFree(t, "archive", got, 1)
	if last := got[len(got)-1]; last.Event != "user" || apitest.Str(last.Data, "stream") != "user/ann" {
		t.Fatalf("the archive's last event: %s", last.Raw)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		sub.mu.Lock()
		pings := sub.pings
		sub.mu.Unlock()
		if pings > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no ping from an idle archive stream")
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case m, ok := <-sub.msgs:
		t.Fatalf("a message past the archive's end: %v %+v", ok, m)
	default:
	}
}

// TestStreamEndsOnClose: closing the desk ends open streams (a server
// shutting down is not held open by its subscribers).
func TestStreamEndsOnClose(t *testing.T) {
	e := apitest.New(t, apitest.Options{NoRunner: true})
	root := e.Login("root", apitest.RootPassword)
	sub := openStream(e, "", root, "")
	sub.start()
	e.Desk.Close()
	select {
	case m, ok := <-sub.msgs:
		if ok {
			t.Fatalf("a message after close: %+v", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stream is still open 10 s after the desk closed")
	}
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.err != io.EOF {
		t.Fatalf("the stream ended with %v, want a clean end", sub.err)
	}
}

// A token revoked while its stream is open ends the stream, with an event
// saying why; the revocation itself is not sent to it.
func TestStreamEndsWhenTokenRevoked(t *testing.T) {
	e := apitest.New(t, apitest.Options{NoRunner: true})
	root := e.Login("root", apitest.RootPassword)
	r := e.Must(http.StatusCreated, "POST", "/api/v1/tokens", root, map[string]any{"name": "watcher"})
	token, id := apitest.Str(r.Body, "token"), apitest.Str(r.Body, "info", "id")
	if token == "" || id == "" {
		t.Fatalf("token answer: %s", r.Raw)
	}
	sub := openStream(e, "", token, "")
	sub.start()
	e.Must(http.StatusNoContent, "DELETE", "/api/v1/tokens/"+id, root, nil)
	var got []sseMsg
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m, ok := <-sub.msgs:
			if ok {
				got = append(got, m)
				continue
			}
		case <-deadline:
			t.Fatalf("the stream is still open 10 s after its token was revoked; got %+v", got)
		}
		break
	}
	if len(got) != 1 || got[0].Event != "unauthorized" || !strings.Contains(got[0].Raw, "revoked") {
		t.Fatalf("want one unauthorized event naming the revocation, got %+v", got)
	}
}
