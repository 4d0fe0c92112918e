package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"releasedesk/events/text"
	"strconv"
	"strings"
	"time"
)

// BuildFeishu builds the message to a Feishu (飞书) custom bot with
// signature verification. It follows Feishu's documented rule for 签名校验:
// the body carries timestamp (seconds, a string) and sign =
// base64(HMAC-SHA256 keyed by timestamp + "\n" + secret over an empty
// message); the bot refuses a timestamp more than an hour from its clock.
// The message is msg_type post (rich text) in the channel's language
// (zh_cn or en_us): text elements show as written, a link is an "a"
// element, and a mention an "at" element with the user's id; only those
// elements mention, and the text is neutralized all the same.
func BuildFeishu(m Message, channelURL, secret string, now time.Time) (Request, error) {
	if err := requireSecret(KindFeishu, secret); err != nil {
		return Request{}, err
	}
	if v, bad := badMention(m.Mentions.FeishuUserIDs, feishuUserIDRe); bad {
		return Request{}, text.Errorf("mention %q is not a Feishu user id", v)
	}
	for _, id := range m.Mentions.FeishuUserIDs {
		// Feishu's at element with user_id "all" calls on the whole group.
		if strings.EqualFold(id, "all") {
			return Request{}, text.Errorf("mention %q is not a Feishu user id", id)
		}
	}
	if err := checkLink(m.Link); err != nil {
		return Request{}, err
	}
	u, err := parseChannelURL(channelURL)
	if err != nil {
		return Request{}, err
	}
	type element map[string]string
	var content [][]element
	for _, l := range m.Lines {
		if l = EscapeMarkdown(l); strings.TrimSpace(l) != "" {
			content = append(content, []element{{"tag": "text", "text": l}})
		}
	}
	if m.Link != "" {
		content = append(content, []element{{"tag": "a", "text": EscapeMarkdown(linkText(m)), "href": cleanURL(m.Link)}})
	}
	if len(m.Mentions.FeishuUserIDs) > 0 {
		var at []element
		for _, id := range m.Mentions.FeishuUserIDs {
			at = append(at, element{"tag": "at", "user_id": id})
		}
		content = append(content, at)
	}
	locale := "en_us"
	if m.Language == "zh-CN" {
		locale = "zh_cn"
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	body := map[string]any{
		"timestamp": ts,
		"sign":      FeishuSign(ts, secret),
		"msg_type":  "post",
		"content": map[string]any{"post": map[string]any{
			locale: map[string]any{"title": EscapeMarkdown(m.Title), "content": content},
		}},
	}
	data, err := json.Marshal(body)
	if err != nil {
		return Request{}, err
	}
	return jsonRequest(u.String(), data), nil
}

// FeishuSign is Feishu's signature: base64(HMAC-SHA256(key = timestamp +
// "\n" + secret, message = empty)).
func FeishuSign(timestamp, secret string) string {
	mac := hmac.New(sha256.New, []byte(timestamp+"\n"+secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
