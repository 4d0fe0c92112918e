package notify

import (
	"encoding/json"
	"releasedesk/events/text"
	"strings"
	"time"
)

// slackSectionMax is Slack's documented limit of a section's text, in
// characters.
const slackSectionMax = 3000

// BuildSlack builds the message to a Slack incoming webhook. It follows
// Slack's documented rules for incoming webhooks and Block Kit: the URL is
// the secret (nothing is signed), the body has blocks (a section of
// mrkdwn) and a top-level text, the fallback that notifications and old
// clients show; untrusted text is escaped as Slack's formatting reference
// says (&, <, > as &amp;, &lt;, &gt;), a link is <address|words> and a
// mention <@member id>, written only for the message's mentions.
func BuildSlack(m Message, channelURL, _ string, _ time.Time) (Request, error) {
	if v, bad := badMention(m.Mentions.SlackMemberIDs, slackMemberRe); bad {
		return Request{}, text.Errorf("mention %q is not a Slack member id", v)
	}
	if err := checkLink(m.Link); err != nil {
		return Request{}, err
	}
	u, err := parseChannelURL(channelURL)
	if err != nil {
		return Request{}, err
	}
	lines := []string{"*" + EscapeSlack(m.Title) + "*"}
	for _, l := range m.Lines {
		if l = EscapeSlack(l); strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	if m.Link != "" {
		lines = append(lines, "<"+slackURL.Replace(cleanURL(m.Link))+"|"+EscapeSlack(linkText(m))+">")
	}
	var mentions []string
	for _, id := range m.Mentions.SlackMemberIDs {
		mentions = append(mentions, "<@"+id+">")
	}
	section := truncateRunes(strings.Join(lines, "\n"), slackSectionMax-len(strings.Join(mentions, " "))-1)
	if len(mentions) > 0 {
		section += "\n" + strings.Join(mentions, " ")
	}
	fallback := EscapeSlack(m.Title)
	if len(mentions) > 0 {
		fallback += " " + strings.Join(mentions, " ")
	}
	body := map[string]any{
		"text": fallback,
		"blocks": []any{map[string]any{
			"type": "section",
			"text": map[string]string{"type": "mrkdwn", "text": section},
		}},
	}
	data, err := json.Marshal(body)
	if err != nil {
		return Request{}, err
	}
	return jsonRequest(u.String(), data), nil
}

// truncateRunes cuts s to at most n characters, with an ellipsis when it
// cuts.
func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n || n < 1 {
		return s
	}
	return string(r[:n-1]) + "…"
}
