package notifytest

import (
	"regexp"
	"slices"
	"strings"
)

// What a chat client makes of a message's text: its links (explicit, and
// the addresses it turns into links on its own, as DingTalk, WeCom,
// Feishu and Slack all do) and, for Slack, its control sequences.

var (
	// markdownLink is [words](address) and <address>, the links of the
	// markdown subsets of DingTalk and WeCom.
	markdownLink = regexp.MustCompile(`\[[^\]\n]*\]\(([^)\s]*)\)|<(https?://[^>\s]*)>`)
	// bareLink is an address a client links on its own. It ends where a
	// space, a bracket or a quote ends it, ASCII or full-width.
	bareLink = regexp.MustCompile(`(?i)https?://[^\s<>()\[\]{}"'|（）［］＜＞｜]+`)
	// slackControl is one of mrkdwn's <...> sequences.
	slackControl = regexp.MustCompile(`<([^<>]*)>`)
	// weComMarkdownMention is WeCom markdown's <@userid>.
	weComMarkdownMention = regexp.MustCompile(`<@([^>]*)>`)
)

// markdownLinks are the addresses a markdown message links to.
func markdownLinks(text string) []string {
	var out []string
	for _, m := range markdownLink.FindAllStringSubmatch(text, -1) {
		out = append(out, m[1]+m[2])
	}
	return appendNew(out, bareLinks(markdownLink.ReplaceAllString(text, " "))...)
}

// bareLinks are the addresses in plain text a client turns into links.
func bareLinks(text string) []string {
	return bareLink.FindAllString(text, -1)
}

// slackControls reads Slack mrkdwn: the members it mentions, its calls on
// everyone and the addresses it links to.
func slackControls(text string) (mentions, broadcast, links []string) {
	for _, m := range slackControl.FindAllStringSubmatch(text, -1) {
		target, _, _ := strings.Cut(m[1], "|")
		switch {
		case strings.HasPrefix(target, "@"):
			mentions = append(mentions, target[1:])
		case target == "!channel" || target == "!here" || target == "!everyone" || strings.HasPrefix(target, "!subteam"):
			broadcast = append(broadcast, "<"+target+">")
		case strings.HasPrefix(target, "!"), strings.HasPrefix(target, "#"):
			// A date or a channel's name: neither calls on anyone.
		default:
			links = append(links, target)
		}
	}
	return mentions, broadcast, appendNew(links, bareLinks(slackControl.ReplaceAllString(text, " "))...)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// appendNew appends the values not in list yet.
func appendNew(list []string, values ...string) []string {
	for _, v := range values {
		if !slices.Contains(list, v) {
			list = append(list, v)
		}
	}
	return list
}
