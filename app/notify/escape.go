package notify

import (
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// markdownNeutral replaces every character that the markdown of DingTalk,
// WeCom (and its <@userid> extension) or Feishu could read as markup, a
// link or a mention with its full-width twin, which reads the same to a
// person and means nothing to the renderer. Replacement, not a backslash:
// none of the three documents backslash escapes in its markdown subset, so
// "\[" might show or might not, while "［" is always text. An address's
// "://" becomes "：//" too: every one of these clients turns a bare
// http://evil in text into a link on its own, markup or not.
var markdownNeutral = strings.NewReplacer(
	`\`, "＼", "`", "｀", "*", "＊", "_", "＿", "~", "～",
	"[", "［", "]", "］", "<", "＜", ">", "＞",
	"#", "＃", "@", "＠", "|", "｜", "://", "：//",
)

// EscapeMarkdown makes untrusted text one line of plain text for the
// markdown of DingTalk, WeCom or Feishu: line breaks and control
// characters become spaces (a new line could start a heading or a quote),
// and markup characters their full-width twins (see markdownNeutral), so
// "@all [click](http://evil)" neither mentions anyone nor makes a link.
func EscapeMarkdown(s string) string {
	return markdownNeutral.Replace(oneLine(s))
}

// slackEscape is Slack's documented escaping of mrkdwn: only &, < and >
// are control characters there (they open <@U123>, <!channel>, <url|x>).
// "@" is neutralized too: incoming webhooks honoured link_names once,
// which turned a bare @name into a mention. Brackets and backticks become
// their full-width twins as for the other chats: mrkdwn ignores
// [words](address), but Slack's newer markdown block does not, and a
// backtick would swallow the rest of the line into code. Slack links a
// bare address on its own, so an address's "://" becomes "：//".
var slackEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "@", "＠", "[", "［", "]", "］", "`", "｀", "://", "：//")

// EscapeSlack makes untrusted text one line of Slack mrkdwn that shows as
// written and mentions nobody.
func EscapeSlack(s string) string {
	return slackEscape.Replace(oneLine(s))
}

// oneLine turns line breaks, tabs and other control or format characters
// (a zero-width joiner, a right-to-left override) into spaces.
func oneLine(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
}

// markdownURL writes a link's address for [text](address): the
// characters that would close or break the parentheses are
// percent-encoded.
var markdownURL = strings.NewReplacer("(", "%28", ")", "%29", " ", "%20", "<", "%3C", ">", "%3E", "[", "%5B", "]", "%5D")

// slackURL writes a link's address for <address|text>.
var slackURL = strings.NewReplacer("|", "%7C", "<", "%3C", ">", "%3E", " ", "%20")

// cleanURL is the canonical form of an address checkLink accepted.
func cleanURL(link string) string {
	u, err := url.Parse(link)
	if err != nil {
		return ""
	}
	return u.String()
}

// truncateBytes cuts s to at most n bytes at a character boundary, with
// an ellipsis when it cuts: vendors refuse a message over their limit.
func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	cut := n - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}
