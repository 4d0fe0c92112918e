package notify

import (
	"net"
	"regexp"
	"slices"
	"strings"

	"releasedesk/events/catalog"
	"releasedesk/events/text"
)

// Kinds of channel.
const (
	KindDingTalk = "dingtalk" // DingTalk custom robot, signed mode
	KindWeCom    = "wecom"    // WeCom (企业微信) group robot: the key is in its URL
	KindFeishu   = "feishu"   // Feishu (飞书) custom bot, signed
	KindSlack    = "slack"    // Slack incoming webhook: the URL is the secret
	KindWebhook  = "webhook"  // any receiver: a signed JSON body
	KindEmail    = "email"    // SMTP
)

// Kinds are the kinds of channel, in the order the documentation lists them.
var Kinds = []string{KindDingTalk, KindWeCom, KindFeishu, KindSlack, KindWebhook, KindEmail}

// Triggers are what a channel may be told of: the only values of a
// channel's events and of its templates' keys.
var Triggers = []string{
	"release.opened",
	"test.needed", // a release reached a test stage
	"test.failed",
	"approval.needed",
	"approved",
	"rejected",
	"deployment.started",
	"deployment.succeeded",
	"deployment.failed",
	"deployment.interrupted",
	"rollback.done",
	"acceptance.needed",
	"release.completed",
	"drift.found",
}

// TestTrigger is the message an admin sends from the project page to see
// that a channel works: not a trigger a channel lists, and always the
// default words.
const TestTrigger = catalog.TestTrigger

// Languages of messages; the first is the default.
var Languages = []string{"en", "zh-CN"}

// Roles a recipient may name: the project's people of that role.
var Roles = []string{catalog.RoleDeveloper, catalog.RoleTester, catalog.RoleApprover, catalog.RoleManager}

// CheckKind refuses a kind that is not one of Kinds.
func CheckKind(kind string) error {
	switch {
	case kind == "":
		return text.Errorf("required: want %s", strings.Join(Kinds, ", "))
	case !slices.Contains(Kinds, kind):
		return text.Errorf("unknown kind %q: want %s", kind, strings.Join(Kinds, ", "))
	}
	return nil
}

// CheckTrigger refuses a trigger that is not one of Triggers.
func CheckTrigger(trigger string) error {
	if !slices.Contains(Triggers, trigger) {
		return text.Errorf("unknown trigger %q: want one of %s", trigger, strings.Join(Triggers, ", "))
	}
	return nil
}

// CheckLanguage refuses a language messages are not written in; empty is
// the default (the project's, or English for a project).
func CheckLanguage(lang string) error {
	if lang != "" && !slices.Contains(Languages, lang) {
		return text.Errorf("unknown language %q: want zh-CN or en", lang)
	}
	return nil
}

// CheckSecretRequired says whether a kind takes a secret: DingTalk, Feishu
// and webhooks sign their messages with one; a WeCom or Slack URL is its
// own secret, and email's password is in its email settings.
func CheckSecretRequired(kind string, has bool) error {
	switch kind {
	case KindDingTalk, KindFeishu, KindWebhook:
		if !has {
			return text.Errorf("required for %s: the signing secret, {from_file: PATH} or {from_env: NAME}", kind)
		}
	case KindWeCom, KindSlack:
		if has {
			return text.Errorf("%s takes no secret: its URL is the secret", kind)
		}
	case KindEmail:
		if has {
			return text.Errorf("email takes no secret: the SMTP password goes in email.password")
		}
	}
	return nil
}

// IsLoopback reports whether a host (a name or an address, without a
// port) is this machine: the only place plain HTTP or unencrypted SMTP
// may go, since nothing else is on the way.
func IsLoopback(host string) bool {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

var channelNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// CheckName checks a channel's name: it names the channel in the
// configuration, its diff and its deliveries.
func CheckName(name string) error {
	switch {
	case name == "":
		return text.Errorf("required")
	case !channelNameRe.MatchString(name):
		return text.Errorf("%q: want lower-case letters, digits, '.', '_' and '-', starting with a letter or digit, at most 64", name)
	}
	return nil
}
