package notify

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"releasedesk/events/text"
)

// Message is what one notification says, before it is written for a
// vendor: every builder (BuildDingTalk, BuildWeCom, BuildFeishu,
// BuildSlack, BuildWebhook) reads the same Message and escapes its text
// for its own target, so the words are made once and never trusted.
type Message struct {
	// Language of the words (zh-CN | en); Feishu files them under it.
	Language string
	// Title is one line: what happened. Plain text, escaped per target.
	Title string
	// Lines are the body, one paragraph each (the rendered template text
	// split at its line ends). Plain text, escaped per target.
	Lines []string
	// Link leads back to the release or deployment (http or https).
	Link string
	// LinkText is the words of the link; empty: the link itself.
	LinkText string
	// Mentions are the people to call on, per vendor. Only these become
	// mentions: any "@" in the text is neutralized.
	Mentions Mentions
	// Event are the facts a generic webhook carries.
	Event Event
}

// Mentions are the people a message calls on, as each vendor addresses
// them (from the users' contact handles).
type Mentions struct {
	Mobiles        []string // DingTalk and WeCom: mobile numbers
	FeishuUserIDs  []string // Feishu: user ids (or open ids, ou_...)
	SlackMemberIDs []string // Slack: member ids (U0123ABCD)
}

// Event are the facts of what happened, as the generic webhook's JSON body
// carries them; a receiver decodes them, so they are data, not text.
type Event struct {
	Type        string    `json:"type"`     // the trigger, such as "deployment.failed"
	Position    uint64    `json:"position"` // the event's position in the log
	Project     string    `json:"project"`
	Environment string    `json:"environment,omitempty"`
	Release     string    `json:"release,omitempty"`
	Title       string    `json:"title,omitempty"` // the release's title
	Version     string    `json:"version,omitempty"`
	Actor       string    `json:"actor,omitempty"`
	Time        time.Time `json:"time"`
	Link        string    `json:"link,omitempty"`
}

// Request is one HTTP request to a vendor, built but not sent: the
// builders are pure so a test (or a dry run) sees exactly what would go.
// Its URL carries the robot's token (and DingTalk's signature) and is as
// secret as a password: it is never logged nor put in an error.
type Request struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
}

// HTTP makes the request net/http sends.
func (r Request) HTTP(ctx context.Context) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		return nil, err
	}
	req.Header = r.Header.Clone()
	return req, nil
}

// jsonRequest is a POST of a JSON body, the shape of every vendor's call.
func jsonRequest(u string, body []byte) Request {
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=utf-8")
	return Request{Method: http.MethodPost, URL: u, Header: h, Body: body}
}

// parseChannelURL parses a channel's URL for a builder. The URL is not
// repeated in the refusal: a robot's URL carries its token.
func parseChannelURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, text.Errorf("not a URL: want https://host/path")
	}
	return u, nil
}

var (
	mobileRe       = regexp.MustCompile(`^\+?[0-9]{5,20}$`)
	feishuUserIDRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	slackMemberRe  = regexp.MustCompile(`^[UW][A-Z0-9]{2,20}$`)
)

// IsFeishuID says whether a Feishu handle is an id a bot can @ (a user id
// or an open id), not an email address, which a custom bot cannot.
func IsFeishuID(s string) bool { return feishuUserIDRe.MatchString(s) }

// badMention is the first mention that is not the documented shape of a
// handle, if any: a handle is written into the text ("@138..." or
// "<@U...>"), so one of another shape could inject markup or call on
// everyone.
func badMention(values []string, re *regexp.Regexp) (string, bool) {
	for _, v := range values {
		if !re.MatchString(v) {
			return v, true
		}
	}
	return "", false
}

// checkLink refuses a link that is not http(s): it becomes a clickable
// link in every chat.
func checkLink(link string) error {
	if link == "" {
		return nil
	}
	u, err := url.Parse(link)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return text.Errorf("link %q: want an http or https address", link)
	}
	return nil
}

// requireSecret refuses to sign with nothing: an empty key would send an
// unsigned-looking message the robot refuses anyway.
func requireSecret(kind, secret string) error {
	if secret == "" {
		return text.Errorf("%s: no signing secret", kind)
	}
	return nil
}
