package httpapi_test

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

// webhookReceiver is a loopback receiver of the generic webhook: it checks
// each request's signature as a real receiver would (notify.VerifyWebhook)
// and answers 200, or failWith while that is set.
type webhookReceiver struct {
	t      *testing.T
	secret string
	srv    *httptest.Server

	mu       sync.Mutex
	failWith int
	got      []receivedHook
}

// receivedHook is one request the receiver took.
type receivedHook struct {
	event, delivery string
	body            map[string]any
}

func newWebhookReceiver(t *testing.T, secret string) *webhookReceiver {
	rc := &webhookReceiver{t: t, secret: secret}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := notify.VerifyWebhook(secret, r.Header.Get(notify.HeaderTimestamp), body, r.Header.Get(notify.HeaderSignature),
			time.Now(), notify.DefaultWebhookTolerance); err != nil {
			t.Errorf("the receiver got a request it cannot verify: %v", err)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var h receivedHook
		h.event, h.delivery = r.Header.Get(notify.HeaderEvent), r.Header.Get(notify.HeaderDelivery)
		if err := json.Unmarshal(body, &h.body); err != nil {
			t.Errorf("the receiver got a body that is not JSON: %q", body)
		}
		rc.mu.Lock()
		rc.got = append(rc.got, h)
		fail := rc.failWith
		rc.mu.Unlock()
		if fail != 0 {
			http.Error(w, "receiver down for maintenance", fail)
			return
		}
		fmt.Fprint(w, `{"ok":true}`)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *webhookReceiver) fail(status int) {
	rc.mu.Lock()
	rc.failWith = status
	rc.mu.Unlock()
}

// received is the requests of one event type taken so far.
func (rc *webhookReceiver) received(event string) []receivedHook {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []receivedHook
	for _, h := range rc.got {
		if h.event == event {
			out = append(out, h)
		}
	}
	return out
}

// TestAPINotificationChannels: the project answer lists its channels
// (where each goes, never a secret nor its URL's path or query; the URL
// whole only for admins, who edit it), the release answer its messages,
// and an admin's test message goes now to a real receiver, which checks
// its signature: sent when it takes it, failed with its status and answer
// (still a 200) when it refuses; anyone else is refused, an unknown
// channel is not found.
func TestAPINotificationChannels(t *testing.T) {
	e := apitest.New(t, apitest.Options{NoRunner: true})
	root := e.Login("root", apitest.RootPassword)
	repo := apitest.GitRepo(t, nil)
	const secret = "whsec-7f3a9c1e5b2d"
	secretFile := filepath.Join(t.TempDir(), "hook.secret")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rc := newWebhookReceiver(t, secret)
	// The tokens a robot's URL carries, in its path and in its query.
	const pathToken, queryToken = "T0PATHTOKEN9d2e", "Q0QUERYTOKEN41b"
	hookURL := rc.srv.URL + "/hooks/" + pathToken + "?access_token=" + queryToken
	cfg := apitest.LocalProject("shop", repo, t.TempDir()) + fmt.Sprintf(`language: zh-CN
notify:
  - name: hook
    kind: webhook
    url: %s
    secret: {from_file: %s}
    events: [release.opened]
  - name: mail
    kind: email
    events: [deployment.failed]
    environments: [production]
    language: en
    email:
      host: smtp.example.com
      security: tls
      password: {from_env: RD_TEST_SMTP_PASSWORD}
      from: Release Desk <rd@example.com>
      to: [role:approver, ops@example.com]
`, hookURL, secretFile)
	e.Must(http.StatusCreated, "PUT", "/api/v1/projects/shop", root, cfg)
	dev := e.AddUser(root, "dev", false, map[string][]string{"shop": {"developer"}})

	// A release opened: the channel hears of it, and the release says so.
	r := e.Must(http.StatusCreated, "POST", "/api/v1/releases", dev,
		map[string]any{"project": "shop", "branch": "feature-1", "create_branch": true, "title": "First"})
	id := apitest.Str(r.Body, "release", "id")
	var msgs []any
	deadline := time.Now().Add(30 * time.Second)
	for {
		r = e.Must(http.StatusOK, "GET", "/api/v1/releases/"+id, dev, nil)
		msgs, _ = r.Body["notifications"].([]any)
		if len(msgs) == 1 && apitest.Str(msgs[0].(map[string]any), "state") == "sent" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the release's message was never sent: %s", r.Raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
	m := msgs[0].(map[string]any)
	if m["trigger"] != "release.opened" || m["channel"] != "hook" || m["kind"] != "webhook" || m["release"] != id ||
		m["attempts"] != 1.0 || m["status"] != 200.0 || m["secret_fingerprint"] != notify.Fingerprint(secret) {
		t.Fatalf("the release's message: %v", m)
	}
	if got := rc.received("release.opened"); len(got) != 1 || got[0].delivery != m["id"] {
		t.Fatalf("the receiver got %v, want one release.opened, delivery %v", got, m["id"])
	}

	// A test message, by an admin: sent now, signed, and recorded.
	test := "/api/v1/projects/shop/channels/hook/test"
	r = e.Must(http.StatusOK, "POST", test, root, nil)
	if r.Body["state"] != "sent" || r.Body["trigger"] != "channel.test" || r.Body["by"] != "root" || r.Body["position"] != 0.0 ||
		r.Body["attempts"] != 1.0 || r.Body["status"] != 200.0 || r.Body["next_attempt"] != nil ||
		r.Body["secret_fingerprint"] != notify.Fingerprint(secret) || fmt.Sprint(r.Body["recipients"]) != "[root]" {
		t.Fatalf("a test message: %s", r.Raw)
	}
	got := rc.received("channel.test")
	if len(got) != 1 || got[0].delivery != r.Body["id"] || got[0].body["project"] != "shop" || got[0].body["actor"] != "root" ||
		!strings.HasSuffix(apitest.Str(got[0].body, "link"), "/#/projects/shop") {
		t.Fatalf("the receiver got %v", got)
	}
	firstTest := apitest.Str(r.Body, "id")

	// The receiver refuses: still a 200, failed, with its status and its
	// words, and never tried again.
	rc.fail(http.StatusInternalServerError)
	r = e.Must(http.StatusOK, "POST", test, root, map[string]any{})
	if r.Body["state"] != "failed" || r.Body["status"] != 500.0 || !strings.Contains(apitest.Str(r.Body, "excerpt"), "receiver down for maintenance") ||
		apitest.Str(r.Body, "error") == "" || r.Body["next_attempt"] != nil || r.Body["id"] == firstTest {
		t.Fatalf("a test message the receiver refused: %s", r.Raw)
	}
	rc.fail(0)

	// Only admins; an unknown channel or project is not found; neither
	// sends anything nor records anything.
	head := e.Desk.Log.Head().Position
	for _, c := range []struct {
		token, path string
		want        int
		words       string
	}{
		{dev, test, http.StatusForbidden, "sending a test message to a channel needs the admin role"},
		{root, "/api/v1/projects/shop/channels/nope/test", http.StatusNotFound, `project shop has no channel "nope"`},
		{root, "/api/v1/projects/nope/channels/hook/test", http.StatusNotFound, `no project "nope"`},
	} {
		if r := e.Call("POST", c.path, c.token, nil); r.Status != c.want || !strings.Contains(r.ErrMessage(), c.words) {
			t.Errorf("POST %s: %d %s, want %d %q", c.path, r.Status, r.Raw, c.want, c.words)
		}
	}
	if r := e.Call("POST", test, root, map[string]any{"to": "me"}); r.Status != http.StatusBadRequest {
		t.Errorf("a test message with a body: %d %s", r.Status, r.Raw)
	}
	if got := len(rc.received("channel.test")); got != 2 {
		t.Errorf("the receiver got %d test messages, want 2", got)
	}
	if now := e.Desk.Log.Head().Position; now != head {
		t.Errorf("refused test messages wrote to the log: %d -> %d", head, now)
	}

	// The project's channels, to its admin and to a developer.
	secretFree := func(who, raw string) {
		t.Helper()
		for _, s := range []string{secret, pathToken, queryToken} {
			if strings.Contains(raw, s) {
				t.Errorf("%s reads %q: %s", who, s, raw)
			}
		}
	}
	for _, who := range []string{"root", "dev"} {
		r := e.Must(http.StatusOK, "GET", "/api/v1/projects/shop", map[string]string{"root": root, "dev": dev}[who], nil)
		raw, _ := json.Marshal(r.Body["channels"])
		secretFree(who+"'s channels", string(raw))
		var chans []map[string]any
		if err := json.Unmarshal(raw, &chans); err != nil || len(chans) != 2 {
			t.Fatalf("%s: channels: %s", who, raw)
		}
		hook, mail := chans[0], chans[1]
		last, _ := hook["last"].(map[string]any)
		if hook["name"] != "hook" || hook["kind"] != "webhook" || hook["destination"] != rc.srv.URL || hook["language"] != "zh-CN" ||
			fmt.Sprint(hook["events"]) != "[release.opened]" || fmt.Sprint(hook["environments"]) != "[]" ||
			fmt.Sprint(hook["secret"]) != "map[name:"+secretFile+" source:file]" ||
			fmt.Sprint(hook["recent"]) != "map[failed:1 retrying:0 sent:2]" ||
			last["state"] != "failed" || last["trigger"] != "channel.test" || last["status"] != 500.0 || last["by"] != "root" {
			t.Errorf("%s: the hook channel: %v", who, hook)
		}
		if mail["kind"] != "email" || mail["destination"] != "smtp.example.com:465" || mail["language"] != "en" ||
			fmt.Sprint(mail["email"]) != "map[from:Release Desk <rd@example.com> security:tls to:[role:approver ops@example.com]]" ||
			fmt.Sprint(mail["secret"]) != "map[name:RD_TEST_SMTP_PASSWORD source:env]" || mail["last"] != nil ||
			fmt.Sprint(mail["recent"]) != "map[failed:0 retrying:0 sent:0]" || fmt.Sprint(mail["environments"]) != "[production]" {
			t.Errorf("%s: the mail channel: %v", who, mail)
		}
		if who == "root" {
			// The admin edits the configuration: the URL is whole there.
			if !strings.Contains(apitest.Str(r.Body, "yaml"), hookURL) {
				t.Errorf("the admin's YAML lacks the channel's URL: %s", apitest.Str(r.Body, "yaml"))
			}
			continue
		}
		secretFree("the developer's project", string(r.Raw))
		if !strings.Contains(apitest.Str(r.Body, "yaml"), "url: "+rc.srv.URL+"/...") {
			t.Errorf("the developer's YAML does not show where the hook goes: %s", apitest.Str(r.Body, "yaml"))
		}
	}
	r = e.Must(http.StatusOK, "GET", "/api/v1/projects", dev, nil)
	secretFree("the developer's project list", string(r.Raw))
	if !strings.Contains(string(r.Raw), rc.srv.URL+"/...") {
		t.Errorf("the developer's project list does not show where the hook goes: %s", r.Raw)
	}
	if r := e.Must(http.StatusOK, "GET", "/api/v1/projects", root, nil); !strings.Contains(string(r.Raw), queryToken) {
		t.Errorf("the admin's project list lacks the channel's URL: %s", r.Raw)
	}
}
