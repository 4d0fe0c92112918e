package window

import (
	"bufio"
	"cmp"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// remoteDesk is the window joined to a team's server: the page's /api
// requests go to the server through a reverse proxy, and the server's live
// stream comes back as the same Wails events a local desk sends, so the
// page works as it does in a browser on that server, unchanged.
//
// The page signs in through the proxy as anywhere else; the proxy notes
// the bearer token the server accepted last, and the stream follows the
// server's /api/v1/stream with it (a ticket, as a browser's page does).
type remoteDesk struct {
	url    string // as ServerURL spells it
	base   *url.URL
	client *http.Client
	proxy  *httputil.ReverseProxy
	log    logrus.FieldLogger

	mu      sync.Mutex
	bearer  string        // the Authorization header the server last accepted; "" when signed out
	changed chan struct{} // closed and replaced when bearer changes
}

func newRemoteDesk(serverURL, pin string, roots *x509.CertPool, log logrus.FieldLogger) (*remoteDesk, error) {
	base, err := url.Parse(serverURL)
	if err != nil {
		return nil, err
	}
	r := &remoteDesk{url: serverURL, base: base, client: serverClient(base, pin, roots), changed: make(chan struct{}),
		log: log.WithField("server", serverURL)}
	r.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(base) // and Host: the server's own name
			// The page's own origin (wails://wails) means nothing to the
			// server, which would refuse its writes as foreign: the proxy
			// is the client here, and carries only the page's requests.
			pr.Out.Header.Del("Origin")
			pr.Out.Header.Del("Referer")
			pr.Out.Header.Del("Cookie")
		},
		Transport:      r.client.Transport,
		ModifyResponse: r.noteBearer,
		ErrorHandler:   r.proxyError,
	}
	return r, nil
}

// ServeHTTP passes the page's /api request to the server.
func (r *remoteDesk) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if !strings.HasPrefix(req.URL.Path, "/api/") {
		http.NotFound(w, req)
		return
	}
	r.proxy.ServeHTTP(w, req)
}

// noteBearer keeps the token the server accepted last, for the stream:
// a sign-in's answer names it, every later request shows it, and a
// sign-out or a 401 ends it.
func (r *remoteDesk) noteBearer(resp *http.Response) error {
	req := resp.Request
	auth := req.Header.Get("Authorization")
	switch {
	case req.URL.Path == "/api/v1/logout" && resp.StatusCode < 300:
		r.setBearer("")
	case resp.StatusCode == http.StatusUnauthorized && auth != "":
		r.forgetBearer(auth)
	case auth != "" && resp.StatusCode < 300:
		r.setBearer(auth)
	}
	return nil
}

func (r *remoteDesk) setBearer(auth string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bearer == auth {
		return
	}
	r.bearer = auth
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *remoteDesk) forgetBearer(auth string) {
	r.mu.Lock()
	stale := r.bearer == auth
	r.mu.Unlock()
	if stale {
		r.setBearer("")
	}
}

func (r *remoteDesk) currentBearer() (string, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bearer, r.changed
}

// proxyError answers a request the server did not: as the API's own
// refusals look, so the page says it as it says any other.
func (r *remoteDesk) proxyError(w http.ResponseWriter, req *http.Request, err error) {
	if req.Context().Err() != nil {
		return // the page gave up on it
	}
	r.log.WithError(err).WithField("path", req.URL.Path).Warn("the server did not answer")
	code := "server_unreachable"
	var changed *CertChangedError
	if errors.As(err, &changed) {
		code = "certificate_changed"
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusBadGateway)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{
		"code": code, "message": fmt.Sprintf("%s did not answer: %v", r.url, err)}})
}

// streamRetry is how long to wait before each new attempt at the stream,
// the last one repeating.
var streamRetry = []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second}

// follow relays the server's live stream to emit (kind, message) until
// ctx ends: while a session is signed in, with its token; again with the
// new one when it changes; resuming after the last message it relayed.
func (r *remoteDesk) follow(ctx context.Context, emit func(kind string, msg json.RawMessage)) {
	var last uint64
	failures := 0
	for ctx.Err() == nil {
		bearer, changed := r.currentBearer()
		if bearer == "" {
			select { // nobody signed in: nothing to follow yet
			case <-ctx.Done():
			case <-changed:
			}
			continue
		}
		sctx, cancel := context.WithCancel(ctx)
		go func() {
			select { // another session: this stream is not its
			case <-changed:
				cancel()
			case <-sctx.Done():
			}
		}()
		relayed, err := r.followOnce(sctx, bearer, &last, emit)
		switchedUser := sctx.Err() != nil && ctx.Err() == nil
		cancel()
		if ctx.Err() != nil {
			return
		}
		if relayed {
			failures = 0
		}
		if switchedUser {
			continue
		}
		if err != nil {
			r.log.WithError(err).Debug("the server's live stream broke off")
		}
		wait := streamRetry[min(failures, len(streamRetry)-1)]
		failures++
		select {
		case <-ctx.Done():
		case <-changed:
		case <-time.After(wait):
		}
	}
}

// errStreamUnauthorized: the server ended the stream since the session
// ended (signed out elsewhere, a password changed, a role taken away).
var errStreamUnauthorized = errors.New("the server ended the stream: the session may no longer read it")

// followOnce opens the stream once and relays it until it ends; relayed
// says whether it got as far as the stream's opening.
func (r *remoteDesk) followOnce(ctx context.Context, bearer string, last *uint64, emit func(string, json.RawMessage)) (bool, error) {
	ticket, err := r.streamTicket(ctx, bearer)
	if err != nil {
		return false, err
	}
	q := url.Values{"ticket": {ticket}}
	if *last > 0 {
		q.Set("since", fmt.Sprint(*last))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url+"/api/v1/stream?"+q.Encode(), nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := r.client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		if resp.StatusCode == http.StatusUnauthorized {
			r.forgetBearer(bearer)
		}
		return false, fmt.Errorf("GET /api/v1/stream: %s", resp.Status)
	}
	err = readSSE(resp.Body, func(kind string, data []byte) error {
		if kind == "unauthorized" {
			r.forgetBearer(bearer)
			return errStreamUnauthorized
		}
		var pos struct {
			Position uint64 `json:"position"`
		}
		if json.Unmarshal(data, &pos) != nil || pos.Position <= *last {
			return nil // not a message, or one relayed already
		}
		*last = pos.Position
		emit(kind, json.RawMessage(data))
		return nil
	})
	return true, err
}

// streamTicket asks the server for a one-time ticket to its stream.
func (r *remoteDesk) streamTicket(ctx context.Context, bearer string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url+"/api/v1/stream/ticket", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", bearer)
	req.Header.Set("Accept", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		r.forgetBearer(bearer)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("POST /api/v1/stream/ticket: %s", resp.Status)
	}
	var t struct {
		Ticket string `json:"ticket"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&t); err != nil || t.Ticket == "" {
		return "", fmt.Errorf("POST /api/v1/stream/ticket: no ticket in the answer")
	}
	return t.Ticket, nil
}

// maxSSELine bounds one line of the stream (a step's output is the
// longest message: well under this).
const maxSSELine = 4 << 20

// readSSE calls fn with each Server-Sent Event's kind and data until the
// body ends or fn fails. Comments (the heartbeat) and retry: are skipped.
func readSSE(body io.Reader, fn func(kind string, data []byte) error) error {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), maxSSELine)
	kind, data, hasData := "", []byte(nil), false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if hasData {
				if err := fn(cmp.Or(kind, "message"), data); err != nil {
					return err
				}
			}
			kind, data, hasData = "", nil, false
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "event:"):
			kind = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			d := strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")
			if hasData {
				data = append(data, '\n')
			}
			data, hasData = append(data, d...), true
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return errors.New("the stream ended")
}
