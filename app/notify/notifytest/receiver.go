package notifytest

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// DeliveryHeader is the header Release Desk puts the delivery's id in, on
// every request and mail (docs/api.md): a receiver drops a repeat by it.
const DeliveryHeader = "X-ReleaseDesk-Delivery"

// VendorWindow is how far DingTalk and Feishu accept a timestamp from
// their clock: one hour, both documents say.
const VendorWindow = time.Hour

// Options tune a receiver.
type Options struct {
	// FailFirst answers the first FailFirst requests with HTTP 500 before
	// looking at them: a vendor having a bad minute.
	FailFirst int
	// Addr is the loopback address to listen on ("": a free port). With
	// FreeAddr, a test knows a receiver's address while it is still down.
	Addr string
}

// Received is one message a receiver accepted, as its vendor would show
// it. Text is the message as the vendor parses it (markdown, mrkdwn, the
// text of a post's elements); what the vendor would make of it is in
// Mentions, Broadcast and Links.
type Received struct {
	Delivery string    // the X-ReleaseDesk-Delivery header
	At       time.Time // when it was received
	Title    string
	Text     string
	// Language is the locale a Feishu post is filed under (zh_cn, en_us).
	Language string
	// Mentions are the people the vendor calls on: mobiles (DingTalk,
	// WeCom), user ids (Feishu), member ids (Slack).
	Mentions []string
	// Broadcast are the calls on everyone the vendor would honour
	// (isAtAll, @all, <!channel>, <!here>): none is ever wanted.
	Broadcast []string
	// Links are the addresses a person could click: the message's links
	// and any address in its text the client turns into one.
	Links []string
	// Event is the generic webhook's event type (X-ReleaseDesk-Event).
	Event string
	Body  []byte // as received
}

// Receiver is one vendor's endpoint on a loopback port.
type Receiver struct {
	// URL is the server's base (http://127.0.0.1:PORT); Endpoint the
	// address a channel is configured with (the robot's URL with its
	// token or key).
	URL      string
	Endpoint string
	Addr     string // host:port

	srv *httptest.Server

	mu         sync.Mutex
	accepted   []Received
	requests   int
	byDelivery map[string]int
}

// vendor is how one vendor checks, parses and answers.
type vendor struct {
	// check returns the message as the vendor shows it, or why the
	// vendor refuses the request.
	check func(r *http.Request, body []byte) (Received, string)
	// reply writes the vendor's answer ("" refusal: accepted).
	reply func(w http.ResponseWriter, refusal string)
}

func start(t testing.TB, v vendor, o Options) *Receiver {
	t.Helper()
	rc := &Receiver{byDelivery: map[string]int{}}
	rc.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.serve(t, v, o, w, r)
	}))
	if o.Addr != "" {
		ln, err := net.Listen("tcp", o.Addr)
		if err != nil {
			t.Fatalf("receiver on %s: %v", o.Addr, err)
		}
		rc.srv.Listener.Close()
		rc.srv.Listener = ln
	}
	rc.srv.Start()
	t.Cleanup(rc.srv.Close)
	rc.URL, rc.Addr = rc.srv.URL, rc.srv.Listener.Addr().String()
	return rc
}

func (rc *Receiver) serve(t testing.TB, v vendor, o Options, w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.requests++
	n := rc.requests
	rc.mu.Unlock()
	if n <= o.FailFirst {
		http.Error(w, "a bad minute", http.StatusInternalServerError)
		return
	}
	var got Received
	refusal := ""
	switch {
	case err != nil:
		refusal = err.Error()
	case r.Method != http.MethodPost:
		refusal = "method " + r.Method
	case !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"):
		refusal = "content type " + r.Header.Get("Content-Type")
	case !json.Valid(body):
		refusal = "body is not JSON"
	default:
		got, refusal = v.check(r, body)
	}
	if refusal == "" {
		got.Delivery, got.At, got.Body = r.Header.Get(DeliveryHeader), time.Now(), body
		rc.mu.Lock()
		rc.accepted = append(rc.accepted, got)
		rc.byDelivery[got.Delivery]++
		rc.mu.Unlock()
	} else {
		t.Logf("%s refused: %s", r.URL.Path, refusal)
	}
	v.reply(w, refusal)
}

// Accepted are the messages accepted so far, in the order they came.
func (rc *Receiver) Accepted() []Received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]Received(nil), rc.accepted...)
}

// Last is the last message accepted (ok false: none yet).
func (rc *Receiver) Last() (Received, bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.accepted) == 0 {
		return Received{}, false
	}
	return rc.accepted[len(rc.accepted)-1], true
}

// Requests counts every request, failed, refused or accepted.
func (rc *Receiver) Requests() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.requests
}

// Count is how many times a delivery was accepted.
func (rc *Receiver) Count(delivery string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.byDelivery[delivery]
}

// Close stops the receiver (it is closed when the test ends anyway).
func (rc *Receiver) Close() { rc.srv.Close() }

// FreeAddr is a loopback address nothing listens on (as far as anyone
// can know): a receiver that is down, until one starts there.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func within(ts time.Time, window time.Duration) bool {
	d := time.Since(ts)
	return d <= window && d >= -window
}

// errcodeReply answers like DingTalk and WeCom: HTTP 200 and an errcode.
func errcodeReply(code int) func(http.ResponseWriter, string) {
	return func(w http.ResponseWriter, refusal string) {
		w.Header().Set("Content-Type", "application/json")
		if refusal == "" {
			io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"errcode": code, "errmsg": refusal})
	}
}
