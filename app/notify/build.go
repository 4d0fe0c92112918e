package notify

import (
	"time"

	"releasedesk/events/text"
)

// Build builds a channel's request by its kind, so delivery needs no
// switch of its own. deliveryID (stable per event and channel) is used by
// the generic webhook only; secret is the resolved value, "" for WeCom and
// Slack. Email is not HTTP: BuildMail and SendMail.
func Build(kind string, m Message, channelURL, secret, deliveryID string, now time.Time) (Request, error) {
	switch kind {
	case KindDingTalk:
		return BuildDingTalk(m, channelURL, secret, now)
	case KindWeCom:
		return BuildWeCom(m, channelURL, secret, now)
	case KindFeishu:
		return BuildFeishu(m, channelURL, secret, now)
	case KindSlack:
		return BuildSlack(m, channelURL, secret, now)
	case KindWebhook:
		return BuildWebhook(m, channelURL, secret, deliveryID, now)
	}
	return Request{}, text.Errorf("kind %q is not sent over HTTP", kind)
}
