package notify

import (
	"net/url"
	"strings"
	"unicode"

	"releasedesk/events/text"
)

// maxURLLen bounds a channel's URL.
const maxURLLen = 2048

// CheckURL checks a chat robot's or webhook's URL: https, or plain http
// only to this machine (a local relay; anywhere else the robot's token and
// the message would cross the network in the clear). A WeCom robot's URL
// carries its key (key=), a DingTalk robot's its access_token=; without
// them the robot answers every message with an error. Email has no URL.
func CheckURL(kind, raw string) error {
	if kind == KindEmail {
		if raw != "" {
			return text.Errorf("email has no URL: its server goes in email.host")
		}
		return nil
	}
	if raw == "" {
		return text.Errorf("required: the %s URL", kind)
	}
	if len(raw) > maxURLLen {
		return text.Errorf("%d bytes: at most %d", len(raw), maxURLLen)
	}
	if strings.IndexFunc(raw, func(c rune) bool { return unicode.IsSpace(c) || unicode.IsControl(c) }) >= 0 {
		return text.Errorf("holds a space or a control character")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		// Not repeated: a robot's URL carries its token.
		return text.Errorf("not a URL: want https://host/path")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !IsLoopback(u.Hostname()) {
			return text.Errorf("plain http only to this machine (localhost, 127.0.0.1, ::1): use https")
		}
	default:
		return text.Errorf("scheme %q: want https (or http to this machine)", u.Scheme)
	}
	if u.User != nil {
		return text.Errorf("holds a user name or password before the host: not kept in a URL")
	}
	q := u.Query()
	switch kind {
	case KindWeCom:
		if q.Get("key") == "" {
			return text.Errorf("a WeCom robot's URL carries its key: ...?key=KEY")
		}
	case KindDingTalk:
		if q.Get("access_token") == "" {
			return text.Errorf("a DingTalk robot's URL carries its token: ...?access_token=TOKEN")
		}
	}
	return nil
}
