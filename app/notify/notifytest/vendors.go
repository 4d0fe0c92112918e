package notifytest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// DingTalk is a DingTalk custom robot in its signed mode (加签): the
// token, a millisecond timestamp within an hour, sign =
// urlencode(base64(HMAC-SHA256(secret, timestamp+"\n"+secret))), and a
// markdown message whose at.atMobiles each appear as @mobile in the text.
func DingTalk(t testing.TB, token, secret string, o Options) *Receiver {
	rc := start(t, vendor{check: func(r *http.Request, body []byte) (Received, string) {
		q := r.URL.Query()
		if r.URL.Path != "/robot/send" || q.Get("access_token") != token {
			return Received{}, "token"
		}
		ms, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
		if err != nil || !within(time.UnixMilli(ms), VendorWindow) {
			return Received{}, "timestamp"
		}
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(q.Get("timestamp") + "\n" + secret))
		sign := base64.StdEncoding.EncodeToString(mac.Sum(nil))
		if q.Get("sign") != sign || !strings.Contains(r.URL.RawQuery, "sign="+url.QueryEscape(sign)) {
			return Received{}, "sign"
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
			return Received{}, "not a markdown message"
		}
		for _, m := range msg.At.AtMobiles {
			if !strings.Contains(msg.Markdown.Text, "@"+m) {
				return Received{}, "@" + m + " not in the text"
			}
		}
		got := Received{Title: msg.Markdown.Title, Text: msg.Markdown.Text, Mentions: msg.At.AtMobiles,
			Links: markdownLinks(msg.Markdown.Text)}
		if msg.At.IsAtAll {
			got.Broadcast = append(got.Broadcast, "isAtAll")
		}
		return got, ""
	}, reply: errcodeReply(310000)}, o)
	rc.Endpoint = rc.URL + "/robot/send?access_token=" + url.QueryEscape(token)
	return rc
}

// WeCom is a WeCom group robot: the key in the URL, and markdown
// {content} (4096 bytes at most, no mention list; a <@userid> in it
// mentions) or text {content, mentioned_list, mentioned_mobile_list}
// (2048 bytes at most; "@all" in a list calls on everyone). WeCom's
// client turns an address in a text message into a link.
func WeCom(t testing.TB, key string, o Options) *Receiver {
	rc := start(t, vendor{check: func(r *http.Request, body []byte) (Received, string) {
		if r.URL.Path != "/cgi-bin/webhook/send" || r.URL.Query().Get("key") != key {
			return Received{}, "invalid webhook url"
		}
		var msg struct {
			MsgType  string          `json:"msgtype"`
			Markdown json.RawMessage `json:"markdown"`
			Text     json.RawMessage `json:"text"`
		}
		if err := json.Unmarshal(body, &msg); err != nil {
			return Received{}, err.Error()
		}
		var got Received
		switch msg.MsgType {
		case "markdown":
			var part map[string]any
			json.Unmarshal(msg.Markdown, &part)
			c, _ := part["content"].(string)
			if c == "" || len(c) > 4096 || len(part) != 1 {
				return Received{}, "markdown: want content alone, at most 4096 bytes"
			}
			got = Received{Title: strings.TrimPrefix(firstLine(c), "#### "), Text: c, Links: markdownLinks(c)}
			for _, m := range weComMarkdownMention.FindAllStringSubmatch(c, -1) {
				got.Mentions = append(got.Mentions, m[1])
				if m[1] == "all" {
					got.Broadcast = append(got.Broadcast, "<@all>")
				}
			}
		case "text":
			var part struct {
				Content        string   `json:"content"`
				MentionedList  []string `json:"mentioned_list"`
				MentionedPhone []string `json:"mentioned_mobile_list"`
			}
			if err := json.Unmarshal(msg.Text, &part); err != nil || part.Content == "" || len(part.Content) > 2048 {
				return Received{}, "text: want content, at most 2048 bytes"
			}
			got = Received{Title: firstLine(part.Content), Text: part.Content, Links: bareLinks(part.Content)}
			for _, m := range append(append([]string(nil), part.MentionedList...), part.MentionedPhone...) {
				if m == "@all" {
					got.Broadcast = append(got.Broadcast, "@all")
					continue
				}
				got.Mentions = append(got.Mentions, m)
			}
		default:
			return Received{}, "msgtype " + msg.MsgType
		}
		return got, ""
	}, reply: errcodeReply(93000)}, o)
	rc.Endpoint = rc.URL + "/cgi-bin/webhook/send?key=" + url.QueryEscape(key)
	return rc
}

// Feishu is a Feishu custom bot with signature verification (签名校验):
// timestamp (seconds, a string) within an hour, sign =
// base64(HMAC-SHA256(key = timestamp+"\n"+secret, message = empty)), and
// a post message filed under one locale. A post's text elements show as
// written (an address in one becomes a link), an a element is a link, an
// at element a mention (user_id "all": everyone).
func Feishu(t testing.TB, hook, secret string, o Options) *Receiver {
	rc := start(t, vendor{check: func(r *http.Request, body []byte) (Received, string) {
		if r.URL.Path != "/open-apis/bot/v2/hook/"+hook {
			return Received{}, "bad hook"
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
			return Received{}, err.Error()
		}
		sec, err := strconv.ParseInt(msg.Timestamp, 10, 64)
		if err != nil || !within(time.Unix(sec, 0), VendorWindow) {
			return Received{}, "timestamp"
		}
		mac := hmac.New(sha256.New, []byte(msg.Timestamp+"\n"+secret))
		if msg.Sign != base64.StdEncoding.EncodeToString(mac.Sum(nil)) {
			return Received{}, "sign match fail"
		}
		if msg.MsgType != "post" || len(msg.Content.Post) != 1 {
			return Received{}, "want one post"
		}
		var got Received
		for lang, p := range msg.Content.Post {
			if (lang != "zh_cn" && lang != "en_us") || p.Title == "" || len(p.Content) == 0 {
				return Received{}, "post " + lang
			}
			got = Received{Title: p.Title, Language: lang}
			var lines []string
			for _, line := range p.Content {
				var b strings.Builder
				for _, el := range line {
					switch el["tag"] {
					case "text":
						b.WriteString(el["text"])
						got.Links = append(got.Links, bareLinks(el["text"])...)
					case "a":
						b.WriteString(el["text"])
						got.Links = append(got.Links, el["href"])
					case "at":
						b.WriteString("@" + el["user_id"])
						if strings.EqualFold(el["user_id"], "all") {
							got.Broadcast = append(got.Broadcast, "at all")
						} else {
							got.Mentions = append(got.Mentions, el["user_id"])
						}
					default:
						return Received{}, "unknown element " + el["tag"]
					}
				}
				lines = append(lines, b.String())
			}
			got.Text = strings.Join(lines, "\n")
		}
		return got, ""
	}, reply: func(w http.ResponseWriter, refusal string) {
		w.Header().Set("Content-Type", "application/json")
		if refusal == "" {
			io.WriteString(w, `{"code":0,"msg":"success"}`)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"code": 19021, "msg": refusal})
	}}, o)
	rc.Endpoint = rc.URL + "/open-apis/bot/v2/hook/" + hook
	return rc
}

// Slack is a Slack incoming webhook: its secret path, a fallback text and
// mrkdwn sections of at most 3000 characters. In mrkdwn, <@U123> mentions,
// <!channel>, <!here> and <!everyone> call on everyone, <address|words>
// is a link, and a bare address becomes one.
func Slack(t testing.TB, path string, o Options) *Receiver {
	rc := start(t, vendor{check: func(r *http.Request, body []byte) (Received, string) {
		if r.URL.Path != path {
			return Received{}, "no_service"
		}
		var msg struct {
			Text   string
			Blocks []struct {
				Type string
				Text struct{ Type, Text string }
			}
		}
		if err := json.Unmarshal(body, &msg); err != nil || msg.Text == "" || len(msg.Blocks) == 0 {
			return Received{}, "invalid_payload"
		}
		var sections []string
		for _, b := range msg.Blocks {
			if b.Type != "section" || b.Text.Type != "mrkdwn" || b.Text.Text == "" || len([]rune(b.Text.Text)) > 3000 {
				return Received{}, "invalid_blocks"
			}
			sections = append(sections, b.Text.Text)
		}
		got := Received{Title: strings.Trim(firstLine(sections[0]), "*"), Text: strings.Join(sections, "\n")}
		// The fallback is what a notification shows: it mentions too.
		for _, s := range []string{msg.Text, got.Text} {
			mentions, broadcast, links := slackControls(s)
			got.Mentions = appendNew(got.Mentions, mentions...)
			got.Broadcast = append(got.Broadcast, broadcast...)
			got.Links = appendNew(got.Links, links...)
		}
		return got, ""
	}, reply: func(w http.ResponseWriter, refusal string) {
		if refusal == "" {
			io.WriteString(w, "ok")
			return
		}
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, refusal)
	}}, o)
	rc.Endpoint = rc.URL + path
	return rc
}

// Webhook is a receiver of Release Desk's generic webhook, checking as
// docs/api.md tells one to: the timestamp within tolerance, and
// X-ReleaseDesk-Signature = "sha256=" + hex(HMAC-SHA256(secret, timestamp
// + "." + body)). Its body is data: Title is the release's title as
// decoded, Links the event's link.
func Webhook(t testing.TB, secret string, tolerance time.Duration, o Options) *Receiver {
	rc := start(t, vendor{check: func(r *http.Request, body []byte) (Received, string) {
		ts := r.Header.Get("X-ReleaseDesk-Timestamp")
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || !within(time.Unix(sec, 0), tolerance) {
			return Received{}, "timestamp"
		}
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(ts + "." + string(body)))
		want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
		if !hmac.Equal([]byte(r.Header.Get("X-ReleaseDesk-Signature")), []byte(want)) {
			return Received{}, "signature"
		}
		var ev struct{ Type, Title, Link string }
		if err := json.Unmarshal(body, &ev); err != nil || ev.Type == "" || ev.Type != r.Header.Get("X-ReleaseDesk-Event") {
			return Received{}, "event"
		}
		if r.Header.Get(DeliveryHeader) == "" {
			return Received{}, "delivery"
		}
		got := Received{Title: ev.Title, Event: ev.Type}
		if ev.Link != "" {
			got.Links = []string{ev.Link}
		}
		return got, ""
	}, reply: func(w http.ResponseWriter, refusal string) {
		if refusal == "" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		http.Error(w, refusal, http.StatusUnauthorized)
	}}, o)
	rc.Endpoint = rc.URL + "/hooks/releasedesk"
	return rc
}
