package app

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"releasedesk/app/notify"
	"releasedesk/app/outbox"
	"releasedesk/events/catalog"
	"releasedesk/events/text"
	"releasedesk/projections"
)

// message is one delivery's makings: what to say, to which channel, about
// whom. The words are made at each attempt, so a secret rotated or a
// contact added meanwhile counts.
type message struct {
	channel  catalog.Channel
	language string
	trigger  string
	data     notify.TemplateData
	at       notify.Occurrence
	people   []projections.User
	id       string
}

// recipients are the users the message goes to, by name: the people it
// calls on, or for email those of its addressees who are users.
func (m message) recipients(d *Desk) []string {
	if m.channel.Kind == notify.KindEmail {
		_, users := d.emailRecipients(m.data.Project, m.channel.Email.To)
		return users
	}
	names := make([]string, len(m.people))
	for i, u := range m.people {
		names[i] = u.Name
	}
	return names
}

// send makes one attempt at a message.
func (d *Desk) send(ctx context.Context, m message) outbox.Result {
	mentions, names := mentionsFor(m.channel.Kind, d.current(m.people))
	data := m.data
	data.Mentions, data.Time = names, messageTime(m.at.Time)
	msg, err := notify.Render(m.trigger, m.language, data, m.channel.Templates[m.trigger], m.at)
	if err != nil {
		return outbox.Result{Err: err, Final: true} // the words cannot be made: no retry mends that
	}
	msg.Mentions = mentions
	if m.channel.Kind == notify.KindEmail {
		return d.sendEmail(ctx, m, msg)
	}
	secret, err := notify.ResolveSecret(m.channel.Secret)
	if err != nil {
		return outbox.Result{Err: err} // an admin may put the secret in place: try again
	}
	target, err := channelURL(m.channel)
	if err != nil {
		return outbox.Result{Err: err, Fingerprint: notify.Fingerprint(secret)}
	}
	req, err := notify.Build(m.channel.Kind, msg, target, secret, m.id, d.Now())
	if err != nil {
		return outbox.Result{Err: err, Final: true, Fingerprint: notify.Fingerprint(secret)}
	}
	out, err := notify.SendHTTP(ctx, notifyClient, m.channel.Kind, req, m.id)
	return outbox.Result{Outcome: out, Err: err, Fingerprint: notify.Fingerprint(secret)}
}

// current is people as their accounts are now: a handle added since the
// event counts at the next attempt, and a disabled account is left out.
func (d *Desk) current(people []projections.User) []projections.User {
	out := make([]projections.User, 0, len(people))
	for _, u := range people {
		if now, ok := d.Set.Users.Get(u.Name); ok {
			u = now
		}
		if !u.Disabled {
			out = append(out, u)
		}
	}
	return out
}

// channelURL is where a channel's messages go: its URL, or the one read
// now where its url_from says (checked as the configuration's would be;
// an admin may mend it, so a refusal is tried again).
func channelURL(ch catalog.Channel) (string, error) {
	if ch.URLFrom.IsZero() {
		return ch.URL, nil
	}
	u, err := notify.ResolveSecret(ch.URLFrom)
	if err != nil {
		return "", err
	}
	if err := notify.CheckURL(ch.Kind, u); err != nil {
		return "", text.Errorf("the URL read from %s: %v", secretPlace(ch.URLFrom), err)
	}
	return u, nil
}

// secretPlace names where a secret is read, for a refusal.
func secretPlace(ref catalog.SecretRef) string {
	if ref.FromFile != "" {
		return ref.FromFile
	}
	return "$" + ref.FromEnv
}

// notifyClient sends every chat message. It follows no redirect: a robot's
// URL carries its token, which must go nowhere else.
var notifyClient = &http.Client{
	Timeout: 20 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return errors.New("the receiver answered with a redirect, which is not followed")
	},
}

// linkBase is where people reach this desk, the start of every link in a
// message: the address it listens on unless told its public one.
var defaultLinkBase = "http://127.0.0.1:7788"

// SetLinkBase says where people reach the desk (serve's address, or its
// public name), for the links messages carry.
func (d *Desk) SetLinkBase(base string) {
	base = strings.TrimRight(base, "/")
	d.linkBase.Store(&base)
}

func (d *Desk) linkBaseOf() string {
	if p := d.linkBase.Load(); p != nil && *p != "" {
		return *p
	}
	return defaultLinkBase
}

// linkFor is the page a message leads back to: its release, else its
// deployment, else its project's environment.
func (d *Desk) linkFor(data notify.TemplateData) string {
	base := d.linkBaseOf()
	switch {
	case data.Release != "":
		return base + "/#/releases/" + data.Release
	case data.Deployment != "":
		return base + "/#/deployments/" + data.Deployment
	case data.Environment != "":
		return base + "/#/versions/" + data.Project + "/" + data.Environment
	}
	return base + "/#/projects/" + data.Project
}

// linkBaseHolder keeps the link base; a field of Desk.
type linkBaseHolder = atomic.Pointer[string]

// EmailTLS verifies SMTP servers; nil: the system's roots. Tests give
// their own CA's.
var EmailTLS *tls.Config

// sendEmail mails a message to the channel's addressees, resolved now (a
// contact's address may have changed since the event).
func (d *Desk) sendEmail(ctx context.Context, m message, msg notify.Message) outbox.Result {
	es := m.channel.Email
	password, err := notify.ResolveSecret(es.Password)
	if err != nil {
		return outbox.Result{Err: err}
	}
	fp := notify.Fingerprint(password)
	to, _ := d.emailRecipients(m.data.Project, es.To)
	if len(to) == 0 {
		return outbox.Result{Err: text.Errorf("no addressee of %s has an email address: add one on their account", strings.Join(es.To, ", ")),
			Fingerprint: fp}
	}
	mail, err := notify.BuildMail(msg, es.From, to, m.id, "")
	if err != nil {
		return outbox.Result{Err: err, Final: true, Fingerprint: fp}
	}
	srv := notify.EmailServer{Host: es.Host, Port: es.Port, Security: es.Security, User: es.User, Password: password, TLSConfig: EmailTLS}
	out, err := notify.SendMail(ctx, srv, mail)
	return outbox.Result{Outcome: out, Err: err, Fingerprint: fp}
}
