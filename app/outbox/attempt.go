package outbox

import (
	"context"
	"time"

	"github.com/sirupsen/logrus"

	"releasedesk/events"
	"releasedesk/events/catalog"
	"releasedesk/events/text"
)

// attempt makes one attempt at p and records it; again says p is to be
// tried later (its attempts and due time updated).
func (o *Outbox) attempt(ctx context.Context, p *pending) (again bool) {
	var res Result
	if late := o.cfg.Now().Sub(p.Time); late >= o.cfg.Retry.GiveUp {
		// Due after the app was down longer than the retries last: news
		// that old would mislead more than it tells (an approval long
		// given, a failure long mended). Recorded, not sent.
		res = Result{Err: text.Errorf("not sent: %s after its event, past the %s retries last", late.Round(time.Minute), o.cfg.Retry.GiveUp), Final: true}
	} else {
		res = o.send(ctx, p)
	}
	if ctx.Err() != nil && res.Err != nil {
		// Stopping, and no answer taken: whether the stop cut it short or
		// not, the restart makes this attempt again.
		return false
	}
	now := o.cfg.Now()
	p.attempts++
	n := catalog.Notification{
		Delivery: p.ID, Position: p.Position, Trigger: p.Trigger, Project: p.Project, Channel: p.Channel,
		Kind: p.Kind, Environment: p.Environment, Release: p.Release, Deployment: p.Deployment,
		Recipients: p.Recipients, Attempt: p.attempts, Status: res.Outcome.Status, Excerpt: res.Outcome.Excerpt,
		SecretFingerprint: res.Fingerprint, LatencyMS: now.Sub(p.Time).Milliseconds(),
	}
	typ := catalog.TypeNotificationSent
	if res.Err != nil {
		typ = catalog.TypeNotificationFailed
		n.Error = text.Of(res.Err).String()
		if !res.Final && now.Sub(p.Time) < o.cfg.Retry.GiveUp {
			p.due = now.Add(o.cfg.Retry.after(p.attempts, res.Outcome.RetryAfter))
			n.NextAttempt = p.due.UTC()
			again = true
		}
	}
	o.record(n, typ)
	if !again {
		o.settle(p.Position)
	}
	return again
}

// ShutdownGrace is how long an attempt under way may still take when the
// outbox stops: an answer that comes is recorded, so a stop sends no
// second copy of a message already taken (a crash still may).
const ShutdownGrace = 5 * time.Second

// send makes the attempt with its own deadline, which the outbox's stop
// shortens to ShutdownGrace rather than ends at once.
func (o *Outbox) send(ctx context.Context, p *pending) Result {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.cfg.AttemptTimeout)
	defer cancel()
	stopped := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(ShutdownGrace, cancel)
		<-actx.Done()
		t.Stop()
	})
	defer stopped()
	return p.Send(actx)
}

// record appends the attempt; a log that refuses it (full, read-only)
// costs only the record: after a restart the message may go again.
func (o *Outbox) record(n catalog.Notification, typ string) {
	ev, err := events.NewEvent(typ, o.cfg.Actor, n)
	if err == nil {
		_, err = o.cfg.Log.Append(context.WithoutCancel(o.ctx), catalog.NotifyStream(n.Project), events.AnyVersion, ev)
	}
	log := o.cfg.Logger.WithFields(logrus.Fields{"delivery": n.Delivery, "channel": n.Project + "/" + n.Channel,
		"trigger": n.Trigger, "attempt": n.Attempt, "status": n.Status})
	if err != nil {
		log.WithError(err).Warn("the attempt could not be recorded")
	}
	switch {
	case typ == catalog.TypeNotificationSent:
		log.Debug("message delivered")
	case n.NextAttempt.IsZero():
		log.WithField("error", n.Error).Warn("message not delivered: giving up")
	default:
		log.WithField("error", n.Error).Info("message not delivered: trying again later")
	}
}
