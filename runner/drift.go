package runner

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"releasedesk/events"
	"releasedesk/events/catalog"
)

// Drift reads each host's `current` and its REVISION and compares them
// with what the log says is live there (the last switch, revert or
// observation of a deployment of this environment), then appends
// drift.checked to drift/<project>/<env>, by the runner. A host that
// cannot be read is reported with its error and not counted as drifted:
// nobody knows.
func (r *Runner) Drift(ctx context.Context, p catalog.Project, envName string) (catalog.DriftReport, error) {
	return r.DriftAs(ctx, p, envName, DriftRequest{After: events.AnyVersion})
}

// DriftRequest says who asks for a drift check, and on what it was
// decided.
type DriftRequest struct {
	Actor     string // the event's actor: the person asking; "" is the runner
	Scheduled bool   // the environment's periodic check (drift_check)
	// After is the version of the drift stream the check was decided on:
	// the report is appended only if no other check came since, else
	// DriftAs returns events.ErrConcurrency with the report unrecorded
	// (several desks on one log check once). events.AnyVersion appends
	// whatever came.
	After int64
}

// DriftAs is Drift as req says.
func (r *Runner) DriftAs(ctx context.Context, p catalog.Project, envName string, req DriftRequest) (catalog.DriftReport, error) {
	env, ok := p.Environment(envName)
	if !ok {
		return catalog.DriftReport{}, fmt.Errorf("%w: environment %q not in project %s", ErrInvalidRequest, envName, p.ID)
	}
	if err := r.catchUp(ctx); err != nil {
		return catalog.DriftReport{}, err
	}
	targets := p.Targets(env)
	rep := catalog.DriftReport{Project: p.ID, Environment: env.Name, Hosts: make([]catalog.HostDrift, len(targets)),
		Scheduled: req.Scheduled}
	var wg sync.WaitGroup
	sem := make(chan struct{}, effectiveParallel(env.Parallel))
	for i, h := range targets {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			rep.Hosts[i] = r.driftOf(ctx, p, env, h)
		}()
	}
	wg.Wait()
	actor := req.Actor
	if actor == "" {
		actor = actorRunner
	}
	e, err := catalog.NewEvent(catalog.TypeDriftChecked, actor, rep)
	if err != nil {
		return rep, err
	}
	if _, err := r.log.Append(ctx, catalog.DriftStream(p.ID, env.Name), req.After, e); err != nil {
		return rep, err
	}
	return rep, nil
}

// driftOf reads one host.
func (r *Runner) driftOf(ctx context.Context, p catalog.Project, env catalog.Environment, h catalog.Host) catalog.HostDrift {
	hd := catalog.HostDrift{Host: h.Addr}
	live, known := r.st.liveVersion(p.ID, env.Name, h.Addr)
	hd.Expected = live.Version
	ex, err := r.dial(ctx, p, env, h)
	if err != nil {
		hd.Error = err.Error()
		return hd
	}
	defer ex.Close()
	argv, err := Layout{Path: h.Path}.ReadCurrent()
	if err != nil {
		hd.Error = err.Error()
		return hd
	}
	cctx, cancel := context.WithTimeout(ctx, r.cfg.StepTimeout)
	defer cancel()
	var out strings.Builder
	exit, err := ex.Run(cctx, argv, &out)
	if err == nil && exit != 0 {
		err = fmt.Errorf("read current: exit status %d: %s", exit, lastLine(out.String()))
	}
	if err != nil {
		hd.Error = err.Error()
		return hd
	}
	var rev string
	hd.Actual, rev = ParseCurrent(out.String())
	hd.Commit = ParseRevision(rev).Commit
	hd.Drifted = hd.Actual != hd.Expected ||
		(known && live.Commit != "" && hd.Commit != "" && hd.Commit != live.Commit)
	return hd
}
