package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"releasedesk/events"
	"releasedesk/events/catalog"
	"releasedesk/events/text"
)

// LockBreak is what breaking an environment's lock did: what it broke,
// and the hosts whose remote lock could not be removed (not reached, or
// the removal failed). It is the answer of
// POST /api/v1/projects/{project}/environments/{env}/unlock.
type LockBreak struct {
	Project     string `json:"project"`
	Environment string `json:"environment"`
	// Host is the one host asked for; "" when every host of the
	// environment was.
	Host        string            `json:"host,omitempty"`
	Broken      BrokenLock        `json:"broken"`
	Unreachable []UnreachableHost `json:"unreachable"` // never null
}

// BrokenLock is the lock broken: the environment's lock as the log held
// it (no deployment when nobody held it there), and each host reached,
// with the lock found on it.
type BrokenLock struct {
	Deployment string           `json:"deployment,omitempty"`
	Holder     string           `json:"holder,omitempty"`
	Since      time.Time        `json:"since,omitzero"`
	Hosts      []BrokenHostLock `json:"hosts"` // never null
}

// BrokenHostLock is one host whose remote lock is gone now. Deployment,
// Holder and Since are what its lock named; all empty when it held no
// lock, or one naming nobody (a crash while taking it).
type BrokenHostLock struct {
	Host       string    `json:"host"`
	Deployment string    `json:"deployment,omitempty"`
	Holder     string    `json:"holder,omitempty"`
	Since      time.Time `json:"since,omitzero"`
}

// UnreachableHost is a host whose remote lock was not removed, and why.
type UnreachableHost struct {
	Host  string `json:"host"`
	Error string `json:"error"`
}

// BreakLock frees an environment's lock by force, an admin's decision:
// lock.broken (by actor, with reason, naming the holder it broke and
// host, if one) in the log, then the remote lock removed on host, or on
// every host of the environment when host is "", whoever holds it.
//
// The log's lock is one per environment, so it is broken whichever hosts
// are named: breaking one host's stale lock also frees the environment
// for the next deployment. A deployment still running with the lock is
// not stopped (cancel it for that); its own release then finds the lock
// gone and leaves it alone. Hosts that cannot be reached do not undo the
// decision: the event is recorded first, and they are named in
// Unreachable.
func (r *Runner) BreakLock(ctx context.Context, p catalog.Project, envName, host, actor, reason string) (LockBreak, error) {
	env, ok := p.Environment(envName)
	if !ok {
		return LockBreak{}, &requestError{text.Errorf("environment %q not in project %s", envName, p.ID)}
	}
	targets := p.Targets(env)
	if host != "" {
		targets = hostsNamed(targets, host)
		if len(targets) == 0 {
			return LockBreak{}, &requestError{text.Errorf("host %q is not a host of %s/%s", host, p.ID, env.Name)}
		}
	}
	ev, err := r.appendBroken(ctx, p, env, host, actor, reason)
	if err != nil {
		return LockBreak{}, err
	}
	r.logger.WithFields(logrus.Fields{"lock": catalog.LockStream(p.ID, env.Name), "holder": ev.Deployment, "host": host,
		"actor": actor}).Warn("environment lock broken")
	out := LockBreak{Project: p.ID, Environment: env.Name, Host: host,
		Broken:      BrokenLock{Deployment: ev.Deployment, Holder: ev.Holder, Since: ev.Since, Hosts: []BrokenHostLock{}},
		Unreachable: []UnreachableHost{}}
	// The hosts at once, as many as a deployment of the environment would
	// reach together: a dead host costs its connect timeout, not the sum
	// of all of them. The answer keeps the configuration's order.
	held := make([]LockInfo, len(targets))
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	sem := make(chan struct{}, effectiveParallel(env.Parallel))
	for i, h := range targets {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			held[i], errs[i] = r.breakHostLock(ctx, p, env, h)
		}()
	}
	wg.Wait()
	for i, h := range targets {
		if errs[i] != nil {
			out.Unreachable = append(out.Unreachable, UnreachableHost{Host: h.Addr, Error: errs[i].Error()})
			continue
		}
		out.Broken.Hosts = append(out.Broken.Hosts, BrokenHostLock{Host: h.Addr, Deployment: held[i].Deployment,
			Holder: held[i].Holder, Since: held[i].Since})
	}
	return out, nil
}

// hostsNamed is the target of targets whose address is addr, if any.
func hostsNamed(targets []catalog.Host, addr string) []catalog.Host {
	for _, h := range targets {
		if h.Addr == addr {
			return []catalog.Host{h}
		}
	}
	return nil
}

// appendBroken appends lock.broken after the lock stream's last event,
// naming the deployment that held the lock there, if one did. A runner
// taking or releasing the lock meanwhile makes it look again.
func (r *Runner) appendBroken(ctx context.Context, p catalog.Project, env catalog.Environment, host, actor, reason string) (catalog.LockEvent, error) {
	stream := catalog.LockStream(p.ID, env.Name)
	for try := 0; ; try++ {
		last, _, err := r.lastEvent(ctx, stream)
		if err != nil {
			return catalog.LockEvent{}, err
		}
		ev := catalog.LockEvent{Project: p.ID, Environment: env.Name, Reason: reason, Host: host}
		if last.Type == catalog.TypeLockAcquired {
			var held catalog.LockEvent
			if last.Decode(&held) == nil {
				ev.Deployment, ev.Holder, ev.Since = held.Deployment, held.Holder, held.Since
			}
		}
		e, err := catalog.NewEvent(catalog.TypeLockBroken, actor, ev)
		if err != nil {
			return catalog.LockEvent{}, err
		}
		_, err = r.log.Append(ctx, stream, int64(last.Version), e)
		if errors.Is(err, events.ErrConcurrency) && try < 3 {
			continue
		}
		if err != nil {
			return catalog.LockEvent{}, fmt.Errorf("append lock.broken: %w", err)
		}
		return ev, nil
	}
}

// breakHostLock removes one host's lock (Layout.BreakLock) and returns
// what it named.
func (r *Runner) breakHostLock(ctx context.Context, p catalog.Project, env catalog.Environment, h catalog.Host) (LockInfo, error) {
	ex, err := r.dial(ctx, p, env, h)
	if err != nil {
		return LockInfo{}, err
	}
	defer ex.Close()
	argv, err := Layout{Path: h.Path}.BreakLock()
	if err != nil {
		return LockInfo{}, err
	}
	cctx, cancel := context.WithTimeout(ctx, r.cfg.StepTimeout)
	defer cancel()
	var out bytes.Buffer
	exit, err := ex.Run(cctx, argv, &out)
	if err == nil && exit != 0 {
		err = fmt.Errorf("break lock: exit status %d: %s", exit, lastLine(out.String()))
	}
	if err != nil {
		return LockInfo{}, err
	}
	return ParseLockInfo(out.String()), nil
}
