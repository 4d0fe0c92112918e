package notify

import "time"

// Limit is how many messages a channel may send in a window: a vendor
// refuses (and may mute) a robot that sends more.
type Limit struct {
	Messages int
	Per      time.Duration
}

// RateLimit is the documented limit of a kind of channel, or a zero Limit
// for none: DingTalk's custom robot takes 20 messages a minute, WeCom's
// group robot 20 a minute, a Feishu custom bot 100 a minute (and 5 a
// second), a Slack incoming webhook about one a second.
func RateLimit(kind string) []Limit {
	switch kind {
	case KindDingTalk, KindWeCom:
		return []Limit{{Messages: 20, Per: time.Minute}}
	case KindFeishu:
		return []Limit{{Messages: 100, Per: time.Minute}, {Messages: 5, Per: time.Second}}
	case KindSlack:
		return []Limit{{Messages: 1, Per: time.Second}}
	}
	return nil
}
