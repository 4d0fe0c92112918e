package notify

import (
	"encoding/json"
	"releasedesk/events/text"
	"strings"
	"time"
)

// WeCom's documented limits of a group robot's message content, in bytes.
const (
	weComMarkdownMax = 4096
	weComTextMax     = 2048
)

// BuildWeCom builds the message to a WeCom (企业微信) group robot. It
// follows WeCom's documented group robot rules: the robot's key is in its
// URL (key=), nothing is signed, and the body is msgtype markdown
// {content} (at most 4096 bytes). WeCom documents mentioned_mobile_list
// only for msgtype text: its markdown type has no mention list and ignores
// one. So a message that mentions goes as msgtype text {content,
// mentioned_mobile_list} (at most 2048 bytes), and one that does not as
// markdown. The secret is unused: the URL is the secret.
func BuildWeCom(m Message, channelURL, _ string, _ time.Time) (Request, error) {
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
	var body map[string]any
	if len(m.Mentions.Mobiles) == 0 {
		body = map[string]any{
			"msgtype":  "markdown",
			"markdown": map[string]string{"content": truncateBytes(strings.Join(paragraphs, "\n\n"), weComMarkdownMax)},
		}
	} else {
		// Text shows as written: the same escaped words, without the
		// heading's "#### " and with the link as its bare address.
		lines := []string{EscapeMarkdown(m.Title)}
		for _, l := range m.Lines {
			if l = EscapeMarkdown(l); strings.TrimSpace(l) != "" {
				lines = append(lines, l)
			}
		}
		if m.Link != "" {
			lines = append(lines, cleanURL(m.Link))
		}
		body = map[string]any{
			"msgtype": "text",
			"text": map[string]any{
				"content":               truncateBytes(strings.Join(lines, "\n"), weComTextMax),
				"mentioned_mobile_list": m.Mentions.Mobiles,
			},
		}
	}
	data, err := json.Marshal(body)
	if err != nil {
		return Request{}, err
	}
	return jsonRequest(u.String(), data), nil
}
