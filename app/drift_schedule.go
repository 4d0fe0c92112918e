package app

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/sirupsen/logrus"

	"releasedesk/events"
	"releasedesk/events/catalog"
	"releasedesk/runner"
)

// The periodic drift check: an environment whose configuration sets
// drift_check is checked (Runner.DriftAs, recorded as drift.checked by
// the runner with scheduled: true) once its last check, by anyone, is
// older than the interval. The clock is the log: a restart does not reset
// it, and a check someone asked for meanwhile counts. Several desks on one
// log each decide on the drift stream's head and append at that version,
// so only one of them records a check; the others find it done.

// driftTick is how often the schedule looks for an environment due a
// check: the shortest interval (runner.MinDriftCheck) is a minute, so a
// check runs at most this late.
const driftTick = 20 * time.Second

// scheduleDrift runs the periodic drift checks until ctx ends. It starts
// with the runner (OpenDesk), never on a read-only desk, and skips its
// turns while the log refuses writes.
func (d *Desk) scheduleDrift(ctx context.Context) {
	t := time.NewTicker(driftTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.driftDue(ctx, d.NowUTC())
		}
	}
}

// driftDue checks, one after the other, the environments due a check at
// now, and returns those it checked ("project/environment").
func (d *Desk) driftDue(ctx context.Context, now time.Time) []string {
	if d.Runner == nil || d.Writable() != nil {
		return nil
	}
	projects := d.Set.Projects.List()
	sort.Slice(projects, func(i, j int) bool { return projects[i].ID < projects[j].ID })
	var checked []string
	for _, pp := range projects {
		p, _, err := d.project(pp.ID)
		if err != nil {
			d.Logger.WithError(err).WithField("project", pp.ID).Warn("scheduled drift check: cannot read the configuration")
			continue
		}
		for _, env := range p.Environments {
			if env.DriftCheck <= 0 || ctx.Err() != nil {
				continue
			}
			ran, err := d.driftIfDue(ctx, p, env, now)
			if err != nil && ctx.Err() == nil {
				d.Logger.WithError(err).WithFields(logrus.Fields{"project": p.ID, "env": env.Name}).Warn("scheduled drift check failed")
			}
			if ran {
				checked = append(checked, p.ID+"/"+env.Name)
			}
		}
	}
	return checked
}

// driftIfDue checks env if its last drift.checked is older than its
// interval at now and no deployment of it is under way; ran tells whether
// a check was recorded.
func (d *Desk) driftIfDue(ctx context.Context, p catalog.Project, env catalog.Environment, now time.Time) (ran bool, err error) {
	stream := catalog.DriftStream(p.ID, env.Name)
	last, ok, err := d.lastEventOf(ctx, stream)
	if err != nil {
		return false, err
	}
	if ok && now.Sub(last.Time) < time.Duration(env.DriftCheck) {
		return false, nil
	}
	// Mid-deployment, hosts are on two versions by design: a check now
	// would report drift that the deployment itself resolves, and it
	// would stand until the next check. The next tick looks again.
	if d.busy(p.ID, env.Name) != nil {
		return false, nil
	}
	rep, err := d.Runner.DriftAs(ctx, d.snapshot(p), env.Name,
		runner.DriftRequest{Scheduled: true, After: int64(last.Version)})
	if errors.Is(err, events.ErrConcurrency) {
		return false, nil // someone checked meanwhile: that check counts
	}
	if err != nil {
		return false, err
	}
	drifted, unread := 0, 0
	for _, h := range rep.Hosts {
		if h.Drifted {
			drifted++
		}
		if h.Error != "" {
			unread++
		}
	}
	d.Logger.WithFields(logrus.Fields{"project": p.ID, "env": env.Name, "hosts": len(rep.Hosts), "drifted": drifted,
		"unreadable": unread}).Info("scheduled drift check")
	// The views hold the check before the next environment is decided.
	return true, d.Set.WaitFor(ctx, d.Log.Head().Position)
}

// lastEventOf is a stream's last event, found by its head; ok is false
// for a stream with none.
func (d *Desk) lastEventOf(ctx context.Context, stream string) (e events.Envelope, ok bool, err error) {
	head, err := d.Log.StreamHead(ctx, stream)
	if err != nil || head.Version == 0 {
		return events.Envelope{}, false, err
	}
	envs, err := d.Log.ReadStream(ctx, stream, head.Version)
	if err != nil || len(envs) == 0 {
		return events.Envelope{}, false, err
	}
	return envs[len(envs)-1], true, nil // later than the head if one came meanwhile
}
