package app

import (
	"context"

	"releasedesk/events"
	"releasedesk/events/catalog"
	"releasedesk/events/text"
	"releasedesk/runner"
)

// CheckDrift reads what each host of an environment runs now and compares
// it with what the log says (the runner's drift check, recorded as
// drift.checked by the person asking): the answer to "did someone change
// a host by hand?". (The environment's drift_check also runs it on a
// schedule: drift_schedule.go.)
func (d *Desk) CheckDrift(ctx context.Context, u UserView, project, envName string) (catalog.DriftReport, error) {
	if err := d.Writable(); err != nil {
		return catalog.DriftReport{}, err
	}
	p, env, err := d.projectEnv(project, envName)
	if err != nil {
		return catalog.DriftReport{}, err
	}
	if err := Authorize(u, p.ID, ActionDriftCheck); err != nil {
		return catalog.DriftReport{}, err
	}
	if d.Runner == nil {
		return catalog.DriftReport{}, &UnavailableError{Code: "read_only", Message: text.New("this desk reaches no host")}
	}
	// The snapshot: an environment without ssh_key reaches its hosts with
	// the desk's own key, as its deployments do.
	rep, err := d.Runner.DriftAs(ctx, d.snapshot(p), env.Name, runner.DriftRequest{Actor: u.Name, After: events.AnyVersion})
	if err != nil {
		return rep, err
	}
	// The views hold the check before the caller reads them.
	return rep, d.Set.WaitFor(ctx, d.Log.Head().Position)
}
