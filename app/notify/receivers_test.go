package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The loopback receivers below stand in for each vendor: each checks a
// request as the vendor's documentation says it is checked, recomputing
// the signature here from the documented formula (not with the package's
// own functions), and answers as the vendor does: accepted, or refused.
// They keep the last body they accepted for the escaping tests.

// vendorWindow is how far DingTalk and Feishu accept a timestamp from
// their clock: one hour, both documents say.
const vendorWindow = time.Hour

type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	accepted [][]byte
}

func (r *receiver) last() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.accepted) == 0 {
		return nil
	}
	return r.accepted[len(r.accepted)-1]
}

// newReceiver serves check on a loopback port; check returns "" to accept
// the request or why it refuses, and reply writes the vendor's answer.
func newReceiver(t *testing.T, check func(r *http.Request, body []byte) string, reply func(w http.ResponseWriter, refusal string)) *receiver {
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
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
			refusal = check(r, body)
		}
		if refusal == "" {
			rc.mu.Lock()
			rc.accepted = append(rc.accepted, body)
			rc.mu.Unlock()
		} else {
			t.Logf("%s refused: %s", r.URL.Path, refusal)
		}
		reply(w, refusal)
	}))
	t.Cleanup(rc.Close)
	return rc
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

func within(ts time.Time, window time.Duration) bool {
	d := time.Since(ts)
	return d <= window && d >= -window
}

// dingTalkReceiver checks a DingTalk custom robot's signed request: the
// token, a millisecond timestamp within an hour, sign =
// urlencode(base64(HMAC-SHA256(secret, timestamp+"\n"+secret))), and a
// markdown message whose at.atMobiles each appear as @mobile in the text.
func dingTalkReceiver(t *testing.T, token, secret string) *receiver {
	return newReceiver(t, func(r *http.Request, body []byte) string {
		q := r.URL.Query()
		if r.URL.Path != "/robot/send" || q.Get("access_token") != token {
			return "token"
		}
		ms, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
		if err != nil || !within(time.UnixMilli(ms), vendorWindow) {
			return "timestamp"
		}
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(q.Get("timestamp") + "\n" + secret))
		sign := base64.StdEncoding.EncodeToString(mac.Sum(nil))
		if q.Get("sign") != sign || !strings.Contains(r.URL.RawQuery, "sign="+url.QueryEscape(sign)) {
			return "sign"
		}
		var msg struct {
			MsgType  string `json:"msgtype"`
			Markdown struct{ Title, Text string }
			At       struct {
				AtMobiles []string `json:"atMobiles"`
				IsAtAll   bool     `json:"isAtAll"`
			}
		}
		if err := json.Unmarshal(body, &msg); err != nil || msg.MsgType != "markdown" || msg.Markdown.Title == "" || msg.Markdown.Text == "" {
			return "not a markdown message"
		}
		for _, m := range msg.At.AtMobiles {
			if !strings.Contains(msg.Markdown.Text, "@"+m) {
				return "@" + m + " not in the text"
			}
		}
		return ""
	}, errcodeReply(310000))
}

// weComReceiver checks a WeCom group robot's request: the key in the URL,
// and markdown {content} (4096 bytes at most, no mention list) or text
// {content, mentioned_mobile_list} (2048 bytes at most).
func weComReceiver(t *testing.T, key string) *receiver {
	return newReceiver(t, func(r *http.Request, body []byte) string {
		if r.URL.Path != "/cgi-bin/webhook/send" || r.URL.Query().Get("key") != key {
			return "invalid webhook url"
		}
		var msg struct {
			MsgType  string          `json:"msgtype"`
			Markdown json.RawMessage `json:"markdown"`
			Text     json.RawMessage `json:"text"`
		}
		if err := json.Unmarshal(body, &msg); err != nil {
			return err.Error()
		}
		var part map[string]any
		switch msg.MsgType {
		case "markdown":
			json.Unmarshal(msg.Markdown, &part)
			if c, _ := part["content"].(string); c == "" || len(c) > 4096 || len(part) != 1 {
				return "markdown: want content alone, at most 4096 bytes"
			}
		case "text":
			json.Unmarshal(msg.Text, &part)
			if c, _ := part["content"].(string); c == "" || len(c) > 2048 {
				return "text: want content, at most 2048 bytes"
			}
		default:
			return "msgtype " + msg.MsgType
		}
		return ""
	}, errcodeReply(93000))
}

// feishuReceiver checks a Feishu custom bot's signed request: timestamp
// (seconds, a string) within an hour, sign = base64(HMAC-SHA256(key =
// timestamp+"\n"+secret, message = empty)), and a post message.
func feishuReceiver(t *testing.T, hook, secret string) *receiver {
	return newReceiver(t, func(r *http.Request, body []byte) string {
		if r.URL.Path != "/open-apis/bot/v2/hook/"+hook {
			return "bad hook"
		}
		var msg struct {
			Timestamp string `json:"timestamp"`
			Sign      string `json:"sign"`
			MsgType   string `json:"msg_type"`
			Content   struct {
				Post map[string]struct {
					Title   string
					Content [][]map[string]string
				}
			}
		}
		if err := json.Unmarshal(body, &msg); err != nil {
			return err.Error()
		}
		sec, err := strconv.ParseInt(msg.Timestamp, 10, 64)
		if err != nil || !within(time.Unix(sec, 0), vendorWindow) {
			return "timestamp"
		}
		mac := hmac.New(sha256.New, []byte(msg.Timestamp+"\n"+secret))
		if msg.Sign != base64.StdEncoding.EncodeToString(mac.Sum(nil)) {
			return "sign match fail"
		}
		if msg.MsgType != "post" || len(msg.Content.Post) != 1 {
			return "want one post"
		}
		for lang, p := range msg.Content.Post {
			if (lang != "zh_cn" && lang != "en_us") || p.Title == "" || len(p.Content) == 0 {
				return "post " + lang
			}
		}
		return ""
	}, func(w http.ResponseWriter, refusal string) {
		w.Header().Set("Content-Type", "application/json")
		if refusal == "" {
			io.WriteString(w, `{"code":0,"msg":"success"}`)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"code": 19021, "msg": refusal})
	})
}

// slackReceiver checks a Slack incoming webhook's request: its secret
// path, a fallback text and a mrkdwn section.
func slackReceiver(t *testing.T, path string) *receiver {
	return newReceiver(t, func(r *http.Request, body []byte) string {
		if r.URL.Path != path {
			return "no_service"
		}
		var msg struct {
			Text   string
			Blocks []struct {
				Type string
				Text struct{ Type, Text string }
			}
		}
		if err := json.Unmarshal(body, &msg); err != nil || msg.Text == "" || len(msg.Blocks) == 0 {
			return "invalid_payload"
		}
		for _, b := range msg.Blocks {
			if b.Type != "section" || b.Text.Type != "mrkdwn" || b.Text.Text == "" || len([]rune(b.Text.Text)) > 3000 {
				return "invalid_blocks"
			}
		}
		return ""
	}, func(w http.ResponseWriter, refusal string) {
		if refusal == "" {
			io.WriteString(w, "ok")
			return
		}
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, refusal)
	})
}

// webhookReceiver checks the generic webhook as docs/api.md tells a
// receiver to: the timestamp within tolerance, and X-ReleaseDesk-Signature
// = "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)).
func webhookReceiver(t *testing.T, secret string, tolerance time.Duration) *receiver {
	return newReceiver(t, func(r *http.Request, body []byte) string {
		ts := r.Header.Get("X-ReleaseDesk-Timestamp")
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || !within(time.Unix(sec, 0), tolerance) {
			return "timestamp"
		}
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(ts + "." + string(body)))
		want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
		if !hmac.Equal([]byte(r.Header.Get("X-ReleaseDesk-Signature")), []byte(want)) {
			return "signature"
		}
		var ev struct{ Type string }
		if err := json.Unmarshal(body, &ev); err != nil || ev.Type == "" || ev.Type != r.Header.Get("X-ReleaseDesk-Event") {
			return "event"
		}
		if r.Header.Get("X-ReleaseDesk-Delivery") == "" {
			return "delivery"
		}
		return ""
	}, func(w http.ResponseWriter, refusal string) {
		if refusal == "" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		http.Error(w, refusal, http.StatusUnauthorized)
	})
}
