package app

import (
	"cmp"
	"context"
	"slices"
	"time"

	"releasedesk/app/notify"
	"releasedesk/app/outbox"
	"releasedesk/events"
	"releasedesk/events/catalog"
)

// notifyPlanner is the desk's side of the outbox: which messages an event
// calls for, to which of its project's channels, about whom.
type notifyPlanner struct{ d *Desk }

// Plan waits until the read models have applied e (the outbox reads the
// log on its own), then makes one delivery per channel that listens for
// each trigger e sets off.
func (pl notifyPlanner) Plan(ctx context.Context, e events.Envelope) ([]outbox.Delivery, error) {
	d := pl.d
	if err := d.Set.WaitFor(ctx, e.Position); err != nil {
		return nil, err
	}
	var out []outbox.Delivery
	for _, occ := range d.occurrencesOf(ctx, e) {
		p, _, err := d.project(occ.data.Project)
		if err != nil {
			continue // a project since removed, or never configured
		}
		occ.data.Link = d.linkFor(occ.data)
		for _, ch := range p.Notify {
			if !listens(ch, occ) {
				continue
			}
			id := outbox.DeliveryID(e.Hash+"\x00"+occ.trigger, p.ID, ch.Name)
			m := message{channel: ch, language: cmp.Or(ch.Language, p.Language), trigger: occ.trigger, data: occ.data,
				at: notify.Occurrence{Position: e.Position, Time: e.Time}, people: d.peopleFor(p.ID, occ), id: id}
			out = append(out, outbox.Delivery{ID: id, Position: e.Position, Time: e.Time, Project: p.ID, Channel: ch.Name,
				Kind: ch.Kind, Trigger: occ.trigger, Environment: occ.data.Environment, Release: occ.data.Release,
				Deployment: occ.data.Deployment, Recipients: m.recipients(d), Send: func(ctx context.Context) outbox.Result {
					return d.send(ctx, m)
				}})
		}
	}
	return out, nil
}

// listens says whether a channel takes a trigger: it lists it, and its
// environments (if any) include the one the trigger is about.
func listens(ch catalog.Channel, occ occurrence) bool {
	if !slices.Contains(ch.Events, occ.trigger) {
		return false
	}
	env := occ.data.Environment
	return env == "" || len(ch.Environments) == 0 || slices.Contains(ch.Environments, env)
}

// messageTime is how a message writes when its event happened: the
// server's local time, with its zone, as a team reads a clock.
func messageTime(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05 MST") }
