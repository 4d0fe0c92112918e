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

// BuildDingTalk builds the message to a DingTalk custom robot in its
// signed mode. It follows DingTalk's documented rule for 加签: the string
// to sign is timestamp (milliseconds) + "\n" + secret, signed with
// HMAC-SHA256 keyed by the secret, then base64, then URL-encoded, and
// both go in the query as timestamp= and sign= next to access_token=; the
// robot refuses a timestamp more than an hour from its clock. The message
// is msgtype markdown {title, text}; a mention needs both the mobile in
// at.atMobiles and "@mobile" written in the text, or it does not ring.
func BuildDingTalk(m Message, channelURL, secret string, now time.Time) (Request, error) {
	if err := requireSecret(KindDingTalk, secret); err != nil {
		return Request{}, err
	}
	if v, bad := badMention(m.Mentions.Mobiles, mobileRe); bad {
		return Request{}, text.Errorf("mention %q is not a mobile number", v)
	}
	u, err := parseChannelURL(channelURL)
	if err != nil {
		return Request{}, err
	}
	paragraphs, err := markdownParagraphs(m)
	if err != nil {
		return Request{}, err
	}
	if len(m.Mentions.Mobiles) > 0 {
		paragraphs = append(paragraphs, "@"+strings.Join(m.Mentions.Mobiles, " @"))
	}
	body := map[string]any{
		"msgtype":  "markdown",
		"markdown": map[string]string{"title": EscapeMarkdown(m.Title), "text": strings.Join(paragraphs, "\n\n")},
		"at":       map[string]any{"atMobiles": nonNil(m.Mentions.Mobiles), "isAtAll": false},
	}
	data, err := json.Marshal(body)
	if err != nil {
		return Request{}, err
	}
	ts := strconv.FormatInt(now.UnixMilli(), 10)
	q := u.Query()
	q.Set("timestamp", ts)
	q.Set("sign", DingTalkSign(ts, secret)) // Encode URL-encodes it, as the rule says
	u.RawQuery = q.Encode()
	return jsonRequest(u.String(), data), nil
}

// DingTalkSign is DingTalk's signature before URL encoding:
// base64(HMAC-SHA256(key = secret, message = timestamp + "\n" + secret)).
func DingTalkSign(timestamp, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp + "\n" + secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// markdownParagraphs are a message as escaped markdown paragraphs: the
// title as a heading, the lines, the link; shared by DingTalk and WeCom.
func markdownParagraphs(m Message) ([]string, error) {
	if err := checkLink(m.Link); err != nil {
		return nil, err
	}
	out := []string{"#### " + EscapeMarkdown(m.Title)}
	for _, l := range m.Lines {
		if l = EscapeMarkdown(l); strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	if m.Link != "" {
		out = append(out, "["+EscapeMarkdown(linkText(m))+"]("+markdownURL.Replace(cleanURL(m.Link))+")")
	}
	return out, nil
}

func linkText(m Message) string {
	if m.LinkText != "" {
		return m.LinkText
	}
	return m.Link
}

// nonNil keeps an empty list a list in JSON ([] rather than null).
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
