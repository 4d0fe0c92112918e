package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"releasedesk/app/httpapi"
	"releasedesk/app/httpapi/apitest"
)

// The perimeter of a real serve process: names, origins, tickets, offline
// review, sign-in throttling, plain HTTP, and credentials in its log.
func TestChaosPerimeter(t *testing.T) {
	t.Parallel()
	rep := newChaosReport(t, 9, "perimeter", "Only the desk's own pages may talk to it",
		"Against a real `serve` process (log at debug level) after a deployment: DNS rebinding, simulated: "+
			"every route of the API's table, health, the UI's page and a file, each sent on a raw connection "+
			"with a Host that is not the desk's (`attacker.example` with and without the port, "+
			"`127.0.0.1.attacker.example`, `localhost.attacker.example`, loopback on another port), must "+
			"answer 421. Every write of the table, with a valid token, from a foreign `Origin` (another "+
			"site, another loopback port, `null`) or, without one, a foreign `Referer`, must answer 403; the "+
			"log head must not move. The live stream: a session token in its URL, a reused ticket, another "+
			"user's ticket and an expired one (16 s later) must answer 401. Offline review: the log exported "+
			"and opened with `releasedesk open` as a process; every route and health without the review "+
			"secret must answer 401, the secret must work once and its session must read; a foreign Host "+
			"is refused there too. Password spraying: wrong passwords for new names from one address must "+
			"meet 429 with Retry-After within 30 names, even for a right password. `serve --addr 0.0.0.0:0` "+
			"without TLS must exit with the usage code and start nothing; with `--insecure-http` health "+
			"must warn. Last, the app's and the review process's logs must hold nothing shaped like a "+
			"token, ticket or secret, nor any token handed out in the run.")
	f := newChaosFleet(t, chaosOpts{hosts: 2, files: 5})
	f.app.Stop()
	f.app = startAppWith(t, f.data, []string{"--log-level", "debug"})
	f.relogin()
	f.commit()
	depID, _ := f.deploy()
	if d := f.root.WaitDeployment(depID, 2*time.Minute); d["state"] != "succeeded" {
		t.Fatalf("deployment: %v", d)
	}
	var tries, bad int
	check := func(ok bool, format string, args ...any) {
		tries++
		if !ok {
			bad++
			t.Errorf(format, args...)
		}
	}
	addr := strings.TrimPrefix(f.app.URL, "http://")
	_, port, _ := net.SplitHostPort(addr)
	token := f.root.Client.Token
	pos0, hash0, _ := chaosHead(f.app.URL)

	// DNS rebinding: foreign names on every route and the UI.
	foreignHosts := []string{"attacker.example:" + port, "attacker.example", "127.0.0.1.attacker.example:" + port,
		"localhost.attacker.example:" + port, "127.0.0.1:1"}
	targets := append(chaosRoutes(t), "GET /api/v1/health", "GET /", "GET /index.html", "GET /assets/x.js")
	for _, route := range targets {
		method, path := perimeterPath(route)
		for _, host := range foreignHosts {
			status, body, err := chaosRawRequest(addr, method, path, map[string]string{"Host": host, "Authorization": "Bearer " + token})
			check(err == nil && status == http.StatusMisdirectedRequest && !strings.Contains(body, `"events"`),
				"%s with Host %s: %d %v %s", route, host, status, err, chaosClip(body))
		}
	}
	// Foreign origins on every write.
	foreignFrom := []struct{ header, value string }{{"Origin", "http://attacker.example"}, {"Origin", "http://127.0.0.1:1"},
		{"Origin", "null"}, {"Referer", "http://attacker.example/x.html"}}
	for _, route := range chaosRoutes(t) {
		method, path := perimeterPath(route)
		if method == http.MethodGet {
			continue
		}
		for _, from := range foreignFrom {
			h := map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json", from.header: from.value}
			status, body, err := chaosRawRequest(addr, method, path, h)
			check(err == nil && status == http.StatusForbidden && strings.Contains(body, "foreign_origin"),
				"%s from %v: %d %v %s", route, h, status, err, chaosClip(body))
		}
	}
	pos1, hash1, _ := chaosHead(f.app.URL)
	check(pos1 == pos0 && hash1 == hash0, "refused requests moved the log head: %d %s -> %d %s", pos0, hash0, pos1, hash1)
	hostChecks := tries

	// The live stream's tickets.
	ticket := func(c *apitest.Caller) string {
		r := c.Must(http.StatusOK, "POST", "/api/v1/stream/ticket", nil)
		return apitest.Str(r.Body, "ticket")
	}
	refused := func(what, path string, c *apitest.Caller, want string) {
		r := c.Call("GET", path, nil)
		check(r.Status == http.StatusUnauthorized && strings.Contains(r.ErrMessage(), want), "%s: %d %s", what, r.Status, chaosClip(string(r.Raw)))
	}
	anon := &apitest.Caller{T: t, Client: httpapi.Client{Base: f.app.URL}}
	refused("a session token in the stream's URL", "/api/v1/stream?token="+token, anon, "bearer token")
	tk := ticket(f.root)
	stream, err := chaosOpenStream(f.app.URL + "/api/v1/stream?ticket=" + tk)
	check(err == nil, "a fresh ticket: %v", err)
	if stream != nil {
		stream.Close()
	}
	refused("a reused ticket", "/api/v1/stream?ticket="+tk, anon, "used already")
	refused("another user's ticket", "/api/v1/stream?ticket="+ticket(f.root), f.users["dev"], "another user")
	tk = ticket(f.root)
	time.Sleep(16 * time.Second)
	refused("an expired ticket", "/api/v1/stream?ticket="+tk, anon, "expired")

	// Offline review of the exported log, in a process of its own.
	export := f.root.Must(http.StatusOK, "GET", "/api/v1/audit/export?format=jsonl", nil)
	archive := filepath.Join(t.TempDir(), "audit.jsonl")
	if err := os.WriteFile(archive, export.Raw, 0o600); err != nil {
		t.Fatal(err)
	}
	review := startBinary(t, []string{"open", "--addr", "127.0.0.1:0", "--log-level", "debug", archive})
	link := apitest.ReviewLine.FindStringSubmatch(review.Out())
	check(link != nil, "open printed no review link: %q", review.Out())
	for _, route := range append(chaosRoutes(t), "GET /api/v1/health") {
		if route == "POST /api/v1/review" {
			continue
		}
		method, path := perimeterPath(route)
		res, err := tryRaw(&apitest.Caller{T: t, Client: httpapi.Client{Base: review.URL}}, method, path, []byte("{}"))
		check(err == nil && res.Status == http.StatusUnauthorized && apitest.Str(res.Body, "error", "code") == "review_secret_required",
			"review without the secret: %s: %d %v %s", route, res.Status, err, chaosClip(string(res.Raw)))
	}
	if link != nil {
		_, secret, _ := strings.Cut(link[1], "#/review/")
		rv := &apitest.Caller{T: t, Client: httpapi.Client{Base: review.URL}}
		r := rv.Call("POST", "/api/v1/review", map[string]string{"secret": secret})
		check(r.Status == http.StatusOK, "the review secret: %d %s", r.Status, r.Raw)
		again := rv.Call("POST", "/api/v1/review", map[string]string{"secret": secret})
		check(again.Status == http.StatusUnauthorized && again.ErrCode() == "review_secret_spent", "the secret twice: %d %s", again.Status, again.Raw)
		rv.Client.Token = apitest.Str(r.Body, "token")
		a := rv.Call("GET", "/api/v1/audit", nil)
		check(a.Status == http.StatusOK, "the review session reads: %d %s", a.Status, chaosClip(string(a.Raw)))
		status, body, err := chaosRawRequest(strings.TrimPrefix(review.URL, "http://"), "GET", "/api/v1/audit",
			map[string]string{"Host": "attacker.example", "Authorization": "Bearer " + rv.Client.Token})
		check(err == nil && status == http.StatusMisdirectedRequest, "review under a foreign name: %d %v %s", status, err, chaosClip(body))
	}
	review.Stop()

	// Plain HTTP beyond loopback: refused, unless on purpose.
	plainData := t.TempDir()
	out, err := exec.Command(sharedBinary(t), "serve", "--addr", "0.0.0.0:0", "--data", plainData).CombinedOutput()
	code := -1
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	entries, _ := os.ReadDir(plainData)
	check(code == 2 && strings.Contains(string(out), "--insecure-http") && len(entries) == 0,
		"serve on 0.0.0.0 without TLS: exit %d, %d files made, %s", code, len(entries), chaosClip(string(out)))
	insecure := startBinary(t, []string{"serve", "--addr", "0.0.0.0:0", "--insecure-http", "--data", plainData})
	_, iport, _ := net.SplitHostPort(strings.TrimPrefix(insecure.URL, "http://"))
	var health httpapi.HealthResponse
	_, err = (&httpapi.Client{Base: "http://127.0.0.1:" + iport}).Call(context.Background(), "GET", "/api/v1/health", nil, nil, &health)
	check(err == nil && len(health.Warnings) > 0 && health.Warnings[0].Code == "insecure_http", "health with --insecure-http: %v %+v", err, health.Warnings)
	insecure.Stop()

	// Password spraying from one address: last, as it holds this address up.
	sprayed, retry := 0, ""
	for i := range 40 {
		r := anon.Call("POST", "/api/v1/login", map[string]string{"user": "spray" + strconv.Itoa(i), "password": "Winter2026!"})
		if r.Status == http.StatusTooManyRequests {
			retry = r.Header.Get("Retry-After")
			break
		}
		sprayed++
	}
	check(retry != "" && sprayed <= 30, "spraying %d names met no 429 (Retry-After %q)", sprayed, retry)
	right := anon.Call("POST", "/api/v1/login", map[string]string{"user": "root", "password": chaosPassword})
	check(right.Status == http.StatusTooManyRequests && right.Header.Get("Retry-After") != "", "a right password from the spraying address: %d", right.Status)

	// No credential in any log line.
	handedOut := []string{token, f.users["dev"].Client.Token, tk}
	for name, log := range map[string]string{"the app": f.app.Log(), "the review process": review.Log()} {
		lines := strings.Count(log, "\n")
		m := apitest.CredentialShape.FindString(log)
		check(m == "", "%s's log (%d lines) holds a credential: %s", name, lines, m)
		for _, c := range handedOut {
			check(!strings.Contains(log, c), "%s's log holds a token handed out in the run", name)
		}
		check(lines > 20, "%s's log has only %d lines: was it at debug level?", name, lines)
	}
	rep.r.Trials, rep.r.Failures = tries, bad
	rep.note("%d routes; %d refusals of foreign names and origins checked, log head unchanged at position %d; "+
		"tickets, offline review, spraying (429 after %d names, Retry-After %s s), plain HTTP and the logs: %d checks",
		len(chaosRoutes(t)), hostChecks, pos0, sprayed, retry, tries-hostChecks)
}

// perimeterPath fills a route's wildcards.
func perimeterPath(pattern string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	r := strings.NewReplacer("{name}", "root", "{id}", "1", "{project}", "fleet", "{env}", "prod",
		"{version}", "20250101000000-abcdef0")
	return method, r.Replace(path)
}

// chaosRawRequest sends one request on a raw connection with exactly the
// headers given (Host included, as a browser under DNS rebinding sends
// it); a write carries "{}".
func chaosRawRequest(hostport, method, path string, headers map[string]string) (int, string, error) {
	conn, err := net.DialTimeout("tcp", hostport, 5*time.Second)
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	host, ok := headers["Host"]
	if !ok {
		host = hostport
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", method, path, host)
	for k, v := range headers {
		if k != "Host" {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	body := ""
	if method != http.MethodGet {
		body = "{}"
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return 0, "", err
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	if strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		return res.StatusCode, "", nil
	}
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return res.StatusCode, string(raw), nil
}

// chaosOpenStream opens the live stream at u and fails unless it answers
// as one; the caller closes it.
func chaosOpenStream(u string) (io.Closer, error) {
	if _, err := url.Parse(u); err != nil {
		return nil, err
	}
	res, err := http.Get(u)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		raw, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		res.Body.Close()
		return nil, fmt.Errorf("stream: %d %s", res.StatusCode, raw)
	}
	return res.Body, nil
}
