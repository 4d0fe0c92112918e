package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"releasedesk/app/notify/notifytest"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	testSecret  = "SEC0123456789abcdef"
	wrongSecret = "SEC-not-the-secret"
	testMobile  = "13800000000"
	testFeishu  = "ou_7d8a6e6df7621556ce0d21922b676706ccs"
	testSlack   = "U123ABC"
)

// vendor is one kind of channel under test: its loopback receiver, the
// URL to it (and one the receiver refuses when the vendor signs nothing),
// its builder, and how its answer says accepted.
type vendor struct {
	name     string
	start    func(t *testing.T) (rc *notifytest.Receiver, good, wrong string)
	build    func(m Message, url, secret string, now time.Time) (Request, error)
	signed   bool
	window   time.Duration // how old a timestamp the receiver still takes
	accepted func(status int, body []byte) bool
}

func errcodeZero(status int, body []byte) bool {
	var a struct {
		Errcode *int `json:"errcode"`
		Code    *int `json:"code"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &a) != nil {
		return false
	}
	switch {
	case a.Errcode != nil:
		return *a.Errcode == 0
	case a.Code != nil:
		return *a.Code == 0
	}
	return false
}

func vendors() []vendor {
	return []vendor{
		{name: KindDingTalk, signed: true, window: notifytest.VendorWindow, build: BuildDingTalk, accepted: errcodeZero,
			start: func(t *testing.T) (*notifytest.Receiver, string, string) {
				rc := notifytest.DingTalk(t, "tok123", testSecret, notifytest.Options{})
				return rc, rc.Endpoint, ""
			}},
		{name: KindWeCom, build: BuildWeCom, accepted: errcodeZero,
			start: func(t *testing.T) (*notifytest.Receiver, string, string) {
				rc := notifytest.WeCom(t, "k-693a91f6", notifytest.Options{})
				return rc, rc.Endpoint, rc.URL + "/cgi-bin/webhook/send?key=wrong"
			}},
		{name: KindFeishu, signed: true, window: notifytest.VendorWindow, build: BuildFeishu, accepted: errcodeZero,
			start: func(t *testing.T) (*notifytest.Receiver, string, string) {
				rc := notifytest.Feishu(t, "hook-1", testSecret, notifytest.Options{})
				return rc, rc.Endpoint, ""
			}},
		{name: KindSlack, build: BuildSlack,
			accepted: func(status int, body []byte) bool { return status == http.StatusOK && string(body) == "ok" },
			start: func(t *testing.T) (*notifytest.Receiver, string, string) {
				rc := notifytest.Slack(t, "/services/T0/B0/xyz", notifytest.Options{})
				return rc, rc.Endpoint, rc.URL + "/services/T0/B0/wrong"
			}},
		{name: KindWebhook, signed: true, window: DefaultWebhookTolerance,
			build: func(m Message, url, secret string, now time.Time) (Request, error) {
				return BuildWebhook(m, url, secret, "42:ops-hook", now)
			},
			accepted: func(status int, _ []byte) bool { return status == http.StatusNoContent },
			start: func(t *testing.T) (*notifytest.Receiver, string, string) {
				rc := notifytest.Webhook(t, testSecret, DefaultWebhookTolerance, notifytest.Options{})
				return rc, rc.Endpoint, ""
			}},
	}
}

func plainMessage() Message {
	return Message{
		Language: "en", Title: "Approval needed: blog r42 to production",
		Lines: []string{"Fix the login page", "Version 20250101120000-0123456"},
		Link:  "https://releasedesk.example.com/releases/r42", LinkText: "Open r42",
		Mentions: Mentions{Mobiles: []string{testMobile}, FeishuUserIDs: []string{testFeishu}, SlackMemberIDs: []string{testSlack}},
		Event: Event{Type: "approval.needed", Position: 42, Project: "blog", Environment: "production", Release: "r42",
			Title: "Fix the login page", Version: "20250101120000-0123456", Actor: "alice",
			Time: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC), Link: "https://releasedesk.example.com/releases/r42"},
	}
}

// send sends a built request through net/http, as delivery will.
func send(t *testing.T, r Request) (int, []byte) {
	t.Helper()
	req, err := r.HTTP(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// TestVendorReceivers: each vendor's request reaches its receiver and is
// accepted with the right secret; a wrong secret (or, for WeCom and
// Slack, whose URL is the secret, a wrong URL) and a stale timestamp are
// refused.
func TestVendorReceivers(t *testing.T) {
	for _, v := range vendors() {
		t.Run(v.name, func(t *testing.T) {
			rc, good, wrongURL := v.start(t)
			try := func(what, url, secret string, now time.Time, want bool) {
				t.Helper()
				r, err := v.build(plainMessage(), url, secret, now)
				if err != nil {
					t.Fatalf("%s: build: %v", what, err)
				}
				status, body := send(t, r)
				if got := v.accepted(status, body); got != want {
					t.Errorf("%s: accepted %v, want %v (%d %s)", what, got, want, status, body)
				}
			}
			secret := ""
			if v.signed {
				secret = testSecret
			}
			try("right secret", good, secret, time.Now(), true)
			if n := len(rc.Accepted()); n != 1 {
				t.Fatalf("the receiver kept %d messages, want 1", n)
			}
			if v.signed {
				try("wrong secret", good, wrongSecret, time.Now(), false)
				try("stale timestamp", good, secret, time.Now().Add(-v.window-time.Minute), false)
				try("timestamp from the future", good, secret, time.Now().Add(v.window+time.Minute), false)
				try("just within the window", good, secret, time.Now().Add(-v.window+time.Minute), true)
			} else {
				try("wrong URL", wrongURL, "", time.Now(), false)
			}
		})
	}
}

const hostile = "@all [click](http://evil) <script>alert(1)</script> <@U000> <!channel> <!here>\n# heading `code` ![img](http://evil/x.png)"

// strings of a JSON value, keys and values.
func jsonStrings(v any) []string {
	var out []string
	switch v := v.(type) {
	case string:
		out = append(out, v)
	case []any:
		for _, e := range v {
			out = append(out, jsonStrings(e)...)
		}
	case map[string]any:
		for k, e := range v {
			out = append(out, k)
			out = append(out, jsonStrings(e)...)
		}
	}
	return out
}

// TestHostileTextArrivesEscaped: a release title and note full of markup
// reach each chat vendor as text that mentions nobody and links nowhere;
// only the message's own mentions are mentions.
func TestHostileTextArrivesEscaped(t *testing.T) {
	for _, v := range vendors() {
		if v.name == KindWebhook {
			continue // data, not text: TestWebhookCarriesHostileTextAsData
		}
		t.Run(v.name, func(t *testing.T) {
			rc, good, _ := v.start(t)
			m := plainMessage()
			m.Title, m.Lines, m.LinkText = hostile, []string{hostile, "note: " + hostile}, hostile
			r, err := v.build(m, good, testSecret, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if status, body := send(t, r); !v.accepted(status, body) {
				t.Fatalf("refused: %d %s", status, body)
			}
			// As the vendor shows it: nobody called on but the message's
			// mention, and the link back the only address to click (a
			// client links a bare http://evil on its own).
			got, _ := rc.Last()
			if len(got.Broadcast) != 0 {
				t.Errorf("calls on everyone: %v", got.Broadcast)
			}
			if len(got.Links) != 1 || got.Links[0] != "https://releasedesk.example.com/releases/r42" {
				t.Errorf("links %q: want only the message's", got.Links)
			}
			var decoded any
			if err := json.Unmarshal(last(t, rc), &decoded); err != nil {
				t.Fatalf("the received body does not decode: %v", err)
			}
			all := strings.Join(jsonStrings(decoded), "\n")
			for _, bad := range []string{"[click](", "](http://evil", "<script>", "<!channel>", "<!here>", "<@U000>", "@all", "\n# heading", "`code`"} {
				if strings.Contains(all, bad) {
					t.Errorf("%q arrived unescaped in %s", bad, all)
				}
			}
			if !strings.Contains(all, "click") || !strings.Contains(all, "script") {
				t.Errorf("the words themselves were lost: %s", all)
			}
			switch v.name {
			case KindDingTalk:
				if !strings.Contains(all, "@"+testMobile) || strings.Count(all, "@") != 1 {
					t.Errorf("want exactly one @, the mention @%s: %s", testMobile, all)
				}
				if !strings.Contains(all, "[Open r42](https://releasedesk") && !strings.Contains(all, "](https://releasedesk.example.com/releases/r42)") {
					t.Errorf("the link back is missing: %s", all)
				}
			case KindWeCom:
				if !strings.Contains(string(last(t, rc)), `"mentioned_mobile_list":["`+testMobile+`"]`) {
					t.Errorf("want mentioned_mobile_list with %s: %s", testMobile, last(t, rc))
				}
			case KindFeishu:
				if !strings.Contains(string(last(t, rc)), `{"tag":"at","user_id":"`+testFeishu+`"}`) || strings.Count(all, "user_id") != 1 {
					t.Errorf("want one at element, for %s: %s", testFeishu, last(t, rc))
				}
			case KindSlack:
				if strings.Count(all, "<@") != 2 || !strings.Contains(all, "<@"+testSlack+">") {
					t.Errorf("want <@%s> in the section and the fallback, and no other: %s", testSlack, all)
				}
				if !strings.Contains(all, "&lt;script&gt;") {
					t.Errorf("want Slack's escaping of < and >: %s", all)
				}
			}
		})
	}
}

// TestWebhookCarriesHostileTextAsData: the generic webhook's body is
// data: the title arrives exactly as written once decoded, and the raw
// body carries no markup a careless receiver could render.
func TestWebhookCarriesHostileTextAsData(t *testing.T) {
	rc := notifytest.Webhook(t, testSecret, DefaultWebhookTolerance, notifytest.Options{})
	m := plainMessage()
	m.Event.Title, m.Event.Actor = hostile, "mallory\"}"
	r, err := BuildWebhook(m, rc.URL+"/hook", testSecret, "42:ops-hook", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if status, body := send(t, r); status != http.StatusNoContent {
		t.Fatalf("refused: %d %s", status, body)
	}
	raw := last(t, rc)
	if strings.Contains(string(raw), "<script>") || strings.Contains(string(raw), "<!channel>") {
		t.Errorf("markup in the raw body: %s", raw)
	}
	var got Event
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	want := m.Event
	if got.Title != want.Title || got.Actor != want.Actor || got.Position != 42 || got.Type != "approval.needed" ||
		got.Project != "blog" || got.Environment != "production" || got.Release != "r42" || got.Version != want.Version ||
		!got.Time.Equal(want.Time) || got.Link != want.Link {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if r.Header.Get(HeaderDelivery) != "42:ops-hook" || r.Header.Get(HeaderEvent) != "approval.needed" {
		t.Errorf("headers %v", r.Header)
	}
}

// TestVerifyWebhook: the receiver's check accepts what BuildWebhook
// signs, and refuses a changed body, a wrong secret, a stale or future
// timestamp and a malformed signature.
func TestVerifyWebhook(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r, err := BuildWebhook(plainMessage(), "https://hooks.example.com/x", testSecret, "d1", now)
	if err != nil {
		t.Fatal(err)
	}
	ts, sig := r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderSignature)
	if !strings.HasPrefix(sig, "sha256=") || len(sig) != len("sha256=")+64 {
		t.Fatalf("signature %q", sig)
	}
	tol := DefaultWebhookTolerance
	cases := []struct {
		name      string
		secret    string
		ts        string
		body      []byte
		sig       string
		now       time.Time
		wantError string
	}{
		{"as sent", testSecret, ts, r.Body, sig, now, ""},
		{"received a little later", testSecret, ts, r.Body, sig, now.Add(tol - time.Second), ""},
		{"changed body", testSecret, ts, append(slices.Clone(r.Body), ' '), sig, now, "does not match"},
		{"wrong secret", wrongSecret, ts, r.Body, sig, now, "does not match"},
		{"other timestamp", testSecret, "1767322000", r.Body, sig, time.Unix(1767322000, 0), "does not match"},
		{"stale", testSecret, ts, r.Body, sig, now.Add(tol + time.Second), "from now"},
		{"future", testSecret, ts, r.Body, sig, now.Add(-tol - time.Second), "from now"},
		{"not a number", testSecret, "yesterday", r.Body, sig, now, "unix seconds"},
		{"no prefix", testSecret, ts, r.Body, strings.TrimPrefix(sig, "sha256="), now, "sha256="},
		{"no secret", "", ts, r.Body, sig, now, "no signing secret"},
	}
	for _, c := range cases {
		err := VerifyWebhook(c.secret, c.ts, c.body, c.sig, c.now, tol)
		switch {
		case c.wantError == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.wantError != "" && (err == nil || !strings.Contains(err.Error(), c.wantError)):
			t.Errorf("%s: %v, want %q", c.name, err, c.wantError)
		}
	}
}

// TestBuildersRefuse: what a builder must not send is refused before
// anything goes, with the reason.
func TestBuildersRefuse(t *testing.T) {
	now := time.Now()
	withMobile := func(s string) Message { m := plainMessage(); m.Mentions.Mobiles = []string{s}; return m }
	withLink := func(s string) Message { m := plainMessage(); m.Link = s; return m }
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"dingtalk without a secret", second(BuildDingTalk(plainMessage(), "https://oapi.dingtalk.com/robot/send?access_token=t", "", now)), "no signing secret"},
		{"feishu without a secret", second(BuildFeishu(plainMessage(), "https://open.feishu.cn/open-apis/bot/v2/hook/x", "", now)), "no signing secret"},
		{"webhook without a secret", second(BuildWebhook(plainMessage(), "https://h.example.com", "", "d1", now)), "no signing secret"},
		{"a mobile that is @all", second(BuildDingTalk(withMobile("all"), "https://oapi.dingtalk.com/robot/send?access_token=t", testSecret, now)), "not a mobile number"},
		{"a mobile with markup", second(BuildWeCom(withMobile("138 [x](y)"), "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", "", now)), "not a mobile number"},
		{"a Slack id that is a broadcast", second(BuildSlack(func() Message { m := plainMessage(); m.Mentions.SlackMemberIDs = []string{"!channel"}; return m }(), "https://hooks.slack.com/services/a", "", now)), "not a Slack member id"},
		{"a Feishu id that is everyone", second(BuildFeishu(func() Message { m := plainMessage(); m.Mentions.FeishuUserIDs = []string{"All"}; return m }(), "https://open.feishu.cn/open-apis/bot/v2/hook/x", testSecret, now)), "not a Feishu user id"},
		{"a Feishu id that is all", second(BuildFeishu(func() Message { m := plainMessage(); m.Mentions.FeishuUserIDs = []string{"all\"}"}; return m }(), "https://open.feishu.cn/open-apis/bot/v2/hook/x", testSecret, now)), "not a Feishu user id"},
		{"a javascript link", second(BuildSlack(withLink("javascript:alert(1)"), "https://hooks.slack.com/services/a", "", now)), "want an http or https address"},
		{"a bad URL", second(BuildWeCom(plainMessage(), "qyapi.weixin.qq.com/send?key=SECRETKEY", "", now)), "not a URL"},
		{"a delivery id with a line break", second(BuildWebhook(plainMessage(), "https://h.example.com", testSecret, "d1\r\nX-Evil: 1", now)), "delivery id"},
		{"an unknown event type", second(BuildWebhook(func() Message { m := plainMessage(); m.Event.Type = "nope"; return m }(), "https://h.example.com", testSecret, "d1", now)), "unknown trigger"},
	}
	for _, c := range cases {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, c.err, c.want)
		}
		if c.err != nil && strings.Contains(c.err.Error(), "SECRETKEY") {
			t.Errorf("%s: the refusal repeats the URL's key: %v", c.name, c.err)
		}
	}
}

func second(_ Request, err error) error { return err }

// last is the body of the last message rc accepted.
func last(t *testing.T, rc *notifytest.Receiver) []byte {
	t.Helper()
	got, ok := rc.Last()
	if !ok {
		t.Fatal("the receiver accepted nothing")
	}
	return got.Body
}

// TestWeComMarkdownWithoutMentions: a message that calls on nobody goes
// to WeCom as markdown, with its link; one that mentions goes as text
// (TestHostileTextArrivesEscaped), since markdown has no mention list.
func TestWeComMarkdownWithoutMentions(t *testing.T) {
	rc := notifytest.WeCom(t, "k1", notifytest.Options{})
	m := plainMessage()
	m.Mentions = Mentions{}
	r, err := BuildWeCom(m, rc.URL+"/cgi-bin/webhook/send?key=k1", "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if status, body := send(t, r); !errcodeZero(status, body) {
		t.Fatalf("refused: %d %s", status, body)
	}
	var got struct {
		MsgType  string `json:"msgtype"`
		Markdown struct{ Content string }
	}
	json.Unmarshal(last(t, rc), &got)
	if got.MsgType != "markdown" || !strings.HasPrefix(got.Markdown.Content, "#### Approval needed") ||
		!strings.Contains(got.Markdown.Content, "[Open r42](https://releasedesk.example.com/releases/r42)") {
		t.Errorf("got %s", last(t, rc))
	}
}

// TestFeishuLanguage: the post is filed under the message's language.
func TestFeishuLanguage(t *testing.T) {
	for lang, key := range map[string]string{"zh-CN": `"zh_cn"`, "en": `"en_us"`, "": `"en_us"`} {
		m := plainMessage()
		m.Language = lang
		r, err := BuildFeishu(m, "https://open.feishu.cn/open-apis/bot/v2/hook/x", testSecret, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(r.Body), key) {
			t.Errorf("%q: want %s in %s", lang, key, r.Body)
		}
	}
}

// TestBuildByKind: Build picks each kind's builder and refuses email.
func TestBuildByKind(t *testing.T) {
	urls := map[string]string{
		KindDingTalk: "https://oapi.dingtalk.com/robot/send?access_token=t",
		KindWeCom:    "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k",
		KindFeishu:   "https://open.feishu.cn/open-apis/bot/v2/hook/x",
		KindSlack:    "https://hooks.slack.com/services/T/B/x",
		KindWebhook:  "https://hooks.example.com/releasedesk",
	}
	marks := map[string]string{KindDingTalk: `"msgtype":"markdown"`, KindWeCom: `"mentioned_mobile_list"`,
		KindFeishu: `"msg_type":"post"`, KindSlack: `"blocks"`, KindWebhook: `"position":42`}
	for kind, u := range urls {
		r, err := Build(kind, plainMessage(), u, testSecret, "42:ch", time.Now())
		if err != nil || !strings.Contains(string(r.Body), marks[kind]) {
			t.Errorf("%s: %v %s", kind, err, r.Body)
		}
	}
	if _, err := Build(KindEmail, plainMessage(), "", "", "", time.Now()); err == nil || !strings.Contains(err.Error(), "not sent over HTTP") {
		t.Errorf("email: %v", err)
	}
}
