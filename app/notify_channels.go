package app

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/url"
	"slices"
	"strconv"
	"time"

	"releasedesk/app/notify"
	"releasedesk/app/outbox"
	"releasedesk/events"
	"releasedesk/events/catalog"
	"releasedesk/events/text"
	"releasedesk/projections"
)

// A project's notification channels as its page shows them, and the test
// message an admin sends to see that one works.

// ChannelView is one channel of a project: what it is told of and where
// it goes, without any secret. A robot's URL carries its token (DingTalk's
// access_token, WeCom's key, the path of a Slack or Feishu hook), so only
// its scheme and host are shown.
type ChannelView struct {
	Name         string   `json:"name"`
	Kind         string   `json:"kind"` // dingtalk | wecom | feishu | slack | webhook | email
	Events       []string `json:"events"`
	Environments []string `json:"environments"` // empty: every environment
	// Language is the messages' language: the channel's, else the project's, else en.
	Language string `json:"language"`
	// Destination is where messages go: "https://oapi.dingtalk.com" (a URL's
	// scheme and host) or, for email, the server's "host:port".
	Destination string `json:"destination"`
	// URLFrom says where the URL is read at each message (url_from), so it
	// has no Destination to show: the URL is the secret.
	URLFrom *ChannelSecret `json:"url_from,omitempty"`
	// Email is an email channel's server and addressees (kind email only).
	Email *ChannelEmail `json:"email,omitempty"`
	// Secret says where the signing secret (or the SMTP password) is read,
	// absent when the channel has none. The file's path or the variable's
	// name is not secret; what they hold never leaves this machine's disk.
	Secret *ChannelSecret `json:"secret,omitempty"`
	// Templates are the triggers whose message the channel writes itself.
	Templates []string `json:"templates"`
	// Last is the channel's latest message, absent before the first.
	Last *projections.Delivery `json:"last,omitempty"`
	// Recent counts the channel's latest messages (at most 20) by state.
	Recent ChannelCounts `json:"recent"`
}

// ChannelEmail is an email channel's server and addressees.
type ChannelEmail struct {
	Security string   `json:"security"` // starttls | tls | none
	From     string   `json:"from"`
	To       []string `json:"to"` // role:NAME, user:NAME or addresses, as configured
}

// ChannelSecret names where a secret is read: Source "file" (Name is the
// file's path) or "env" (Name is the variable's name).
type ChannelSecret struct {
	Source string `json:"source"`
	Name   string `json:"name"`
}

// ChannelCounts are how many of a channel's latest messages are in each state.
type ChannelCounts struct {
	Sent     int `json:"sent"`
	Retrying int `json:"retrying"`
	Failed   int `json:"failed"`
}

// Channels lists a project's channels, in the configuration's order.
func (d *Desk) Channels(project string) ([]ChannelView, error) {
	p, _, err := d.project(project)
	if err != nil {
		return nil, err
	}
	return d.channelViews(p), nil
}

func (d *Desk) channelViews(p catalog.Project) []ChannelView {
	out := make([]ChannelView, 0, len(p.Notify))
	for _, ch := range p.Notify {
		v := ChannelView{Name: ch.Name, Kind: ch.Kind, Events: nonNil(ch.Events), Environments: nonNil(ch.Environments),
			Language: cmp.Or(ch.Language, p.Language, notify.Languages[0]), Templates: sortedKeys(ch.Templates)}
		secret := ch.Secret
		if ch.Kind == notify.KindEmail {
			es := ch.Email
			v.Destination = net.JoinHostPort(es.Host, strconv.Itoa(emailPort(es)))
			v.Email = &ChannelEmail{Security: cmp.Or(es.Security, notify.SecurityStartTLS), From: es.From, To: nonNil(es.To)}
			secret = es.Password
		} else {
			v.Destination = urlOrigin(ch.URL)
			v.URLFrom = secretSource(ch.URLFrom)
		}
		v.Secret = secretSource(secret)
		recent := d.Set.Notifications.OfChannel(p.ID, ch.Name) // newest first
		if len(recent) > 0 {
			v.Last = &recent[0]
		}
		for _, m := range recent {
			switch m.State {
			case projections.DeliverySent:
				v.Recent.Sent++
			case projections.DeliveryRetrying:
				v.Recent.Retrying++
			case projections.DeliveryFailed:
				v.Recent.Failed++
			}
		}
		out = append(out, v)
	}
	return out
}

// emailPort is the port an email channel reaches its server on.
// secretSource names where a secret is read; nil for none.
func secretSource(ref catalog.SecretRef) *ChannelSecret {
	switch {
	case ref.FromFile != "":
		return &ChannelSecret{Source: "file", Name: ref.FromFile}
	case ref.FromEnv != "":
		return &ChannelSecret{Source: "env", Name: ref.FromEnv}
	}
	return nil
}

func emailPort(es catalog.EmailSettings) int {
	switch {
	case es.Port != 0:
		return es.Port
	case es.Security == notify.SecurityTLS:
		return notify.DefaultEmailTLSPort
	}
	return notify.DefaultEmailPort
}

// urlOrigin is a URL's scheme and host ("https://oapi.dingtalk.com"):
// where it goes, without the path or query that may carry its token. A
// URL that does not parse shows as nothing, never as itself.
func urlOrigin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// testMessageTimeout bounds a test message: the admin waits for its answer.
const testMessageTimeout = 20 * time.Second

// TestChannel sends a test message to one of a project's channels now,
// and waits for the receiver's answer (an admin's check that the URL, the
// secret and the vendor's settings work). It calls on the admin, so a
// chat shows their mention; an email goes to the channel's addressees.
// The attempt is recorded (notification.sent or notification.failed, by
// the admin, never retried) on the project's notify stream. A receiver
// that refuses the message is no error: the Delivery says what it
// answered, for the admin to read.
func (d *Desk) TestChannel(ctx context.Context, u UserView, project, channel string) (projections.Delivery, error) {
	if err := d.Writable(); err != nil {
		return projections.Delivery{}, err
	}
	p, _, err := d.project(project)
	if err != nil {
		return projections.Delivery{}, err
	}
	if err := Authorize(u, p.ID, ActionChannelTest); err != nil {
		return projections.Delivery{}, err
	}
	i := slices.IndexFunc(p.Notify, func(c catalog.Channel) bool { return c.Name == channel })
	if i < 0 {
		return projections.Delivery{}, &NotFoundError{Message: text.New("project %s has no channel %q", p.ID, channel)}
	}
	ch := p.Notify[i]
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce) // never fails (crypto/rand)
	var people []projections.User
	if me, ok := d.Set.Users.Get(u.Name); ok {
		people = append(people, me)
	}
	start := d.Now()
	data := notify.TemplateData{Project: p.ID, Actor: u.Name}
	data.Link = d.linkFor(data)
	m := message{channel: ch, language: cmp.Or(ch.Language, p.Language), trigger: catalog.TestTrigger, data: data,
		at: notify.Occurrence{Time: start}, people: people, id: outbox.DeliveryID(hex.EncodeToString(nonce), p.ID, ch.Name)}
	sctx, cancel := context.WithTimeout(ctx, testMessageTimeout)
	res := d.send(sctx, m)
	cancel()

	n := catalog.Notification{Delivery: m.id, Trigger: catalog.TestTrigger, Project: p.ID, Channel: ch.Name, Kind: ch.Kind,
		Recipients: m.recipients(d), Attempt: 1, Status: res.Outcome.Status, Excerpt: res.Outcome.Excerpt,
		SecretFingerprint: res.Fingerprint, LatencyMS: d.Now().Sub(start).Milliseconds()}
	typ := catalog.TypeNotificationSent
	if res.Err != nil {
		typ, n.Error = catalog.TypeNotificationFailed, text.Of(res.Err).String()
	}
	ev, err := catalog.NewEvent(typ, u.Name, n)
	if err != nil {
		return projections.Delivery{}, err
	}
	// The message went (or was refused): record it even if the caller
	// has gone meanwhile.
	if _, err := d.writer().at(context.WithoutCancel(ctx), catalog.NotifyStream(p.ID), events.AnyVersion, ev); err != nil {
		return projections.Delivery{}, err
	}
	for _, dl := range d.Set.Notifications.OfChannel(p.ID, ch.Name) {
		if dl.ID == m.id {
			return dl, nil
		}
	}
	return projections.Delivery{}, text.Errorf("the test message %s was recorded but is not in the read model", m.id)
}
