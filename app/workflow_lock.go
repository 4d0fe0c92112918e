package app

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"releasedesk/events/catalog"
	"releasedesk/events/text"
	"releasedesk/runner"
)

// BreakLock frees a stale lock by force, an admin's decision with a
// reason: on one host of an environment (host), or on every host of it
// (host ""). lock.broken is recorded (by the admin, naming the host and
// the deployment that held the environment's lock, if one did) before any
// host is touched; hosts that cannot be reached are named in the answer,
// not an error, since the decision stands. While a deployment of the
// environment is queued or running the break is refused: that lock is
// not stale (cancel the deployment first), and breaking a stale lock of
// one host must not free the environment's lock under a live one.
func (d *Desk) BreakLock(ctx context.Context, u UserView, project, envName, host, reason string) (runner.LockBreak, error) {
	if err := d.Writable(); err != nil {
		return runner.LockBreak{}, err
	}
	p, env, err := d.projectEnv(project, envName)
	if err != nil {
		return runner.LockBreak{}, err
	}
	if err := Authorize(u, p.ID, ActionLockBreak); err != nil {
		return runner.LockBreak{}, err
	}
	if err := checkText("reason", reason, maxReasonLen, true); err != nil {
		return runner.LockBreak{}, err
	}
	if host != "" {
		if err := checkTarget(p, env, host); err != nil {
			return runner.LockBreak{}, err
		}
	}
	if d.Runner == nil {
		return runner.LockBreak{}, &UnavailableError{Code: "read_only", Message: text.New("this desk reaches no host")}
	}
	if err := d.busy(p.ID, env.Name); err != nil {
		return runner.LockBreak{}, err
	}
	res, err := d.Runner.BreakLock(ctx, d.snapshot(p), env.Name, host, u.Name, reason)
	if errors.Is(err, runner.ErrInvalidRequest) {
		return res, &InvalidError{Field: "host", Reason: runner.RequestProblem(err)}
	}
	if err != nil {
		return res, err
	}
	// The views hold lock.broken before the caller reads them.
	return res, d.Set.WaitFor(ctx, d.Log.Head().Position)
}

// checkTarget refuses a host that is not one of env's targets, naming
// them (as configured: "user@host:port", or "local" for the local
// strategy).
func checkTarget(p catalog.Project, env catalog.Environment, host string) error {
	targets := p.Targets(env)
	names := make([]string, len(targets))
	for i, h := range targets {
		if h.Addr == host {
			return nil
		}
		names[i] = h.Addr
	}
	if !utf8.ValidString(host) || utf8.RuneCountInString(host) > 200 {
		return &InvalidError{Field: "host", Reason: text.New("is not a host of environment %s of %s (its hosts: %s)",
			env.Name, p.ID, strings.Join(names, ", "))}
	}
	return &InvalidError{Field: "host", Reason: text.New("%q is not a host of environment %s of %s (its hosts: %s)",
		host, env.Name, p.ID, strings.Join(names, ", "))}
}
