package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"releasedesk/events"
	"releasedesk/events/catalog"
	"releasedesk/events/text"
	"releasedesk/projections"
	"releasedesk/runner"
)

// The workflow of DESIGN.md section 3. Each command follows one pattern:
//
//  1. slow work that decides nothing (a git fetch) happens first;
//  2. under cmdMu (and, on PostgreSQL, the lock every instance decides
//     under), the read models are brought up to the log's head, the
//     rules are checked on them (roles, state, separation of duties);
//  3. the decision is appended with the stream's expected version, and the
//     command returns once the read models hold it, so the caller's next
//     read sees it.
//
// Refusals are typed: *ForbiddenError (403, with the rule), *ConflictError
// (409: the state does not allow it now), *InvalidError (400, naming the
// field), *NotFoundError (404).

// Limits of what people type into the workflow.
const (
	maxTitleRunes = 200
	maxNoteRunes  = 4000
)

// decide runs fn under the command lock with the read models at the log's
// head, so fn decides on everything committed so far.
func (d *Desk) decide(ctx context.Context, fn func() error) error {
	if err := d.Writable(); err != nil {
		return err
	}
	d.cmdMu.Lock()
	defer d.cmdMu.Unlock()
	head := d.Log.Head().Position
	if d.state != nil {
		// Instances sharing the log decide one at a time too, each on
		// everything committed so far by any of them: two people acting
		// at once on two instances get what they would on one.
		unlock, err := d.state.pg.Lock(ctx, commandLockKey)
		if err != nil {
			return err
		}
		defer unlock()
		h, err := d.state.pg.DurableHead()
		if err != nil {
			return err
		}
		head = h.Position
	}
	if err := d.Set.WaitFor(ctx, head); err != nil {
		return err
	}
	return fn()
}

// appendNext appends one event to stream after its last one.
func (d *Desk) appendNext(ctx context.Context, stream, typ, actor string, data any) (events.Envelope, error) {
	e, err := catalog.NewEvent(typ, actor, data)
	if err != nil {
		return events.Envelope{}, err
	}
	envs, err := d.writer().next(ctx, stream, e)
	if err != nil {
		return events.Envelope{}, err
	}
	return envs[0], nil
}

// writer appends the desk's decisions.
func (d *Desk) writer() appender { return appender{log: d.Log, set: d.Set} }

// project returns a project's current configuration as the runner reads it.
func (d *Desk) project(id string) (catalog.Project, projections.Project, error) {
	pp, ok := d.Set.Projects.Get(id)
	if !ok {
		return catalog.Project{}, projections.Project{}, &NotFoundError{Message: text.New("no project %q", id)}
	}
	var p catalog.Project
	if err := json.Unmarshal(pp.Config, &p); err != nil {
		return catalog.Project{}, pp, fmt.Errorf("project %s: stored configuration: %w", id, err)
	}
	return p, pp, nil
}

// projectEnv finds a project and one of its stages, both named in a
// route's path: an unknown one is not found.
func (d *Desk) projectEnv(project, envName string) (catalog.Project, catalog.Environment, error) {
	p, _, err := d.project(project)
	if err != nil {
		return catalog.Project{}, catalog.Environment{}, err
	}
	env, _, err := environment(p, envName)
	if err != nil {
		return p, catalog.Environment{}, &NotFoundError{Message: text.Of(err)}
	}
	return p, env, nil
}

// environment finds a stage of p by name; last tells whether it is the
// project's last stage.
func environment(p catalog.Project, name string) (env catalog.Environment, last bool, err error) {
	for i, e := range p.Environments {
		if e.Name == name {
			return e, i == len(p.Environments)-1, nil
		}
	}
	names := make([]string, len(p.Environments))
	for i, e := range p.Environments {
		names[i] = e.Name
	}
	return catalog.Environment{}, false, &InvalidError{Field: "env",
		Reason: text.New("project %s has no environment %q (it has %s)", p.ID, name, strings.Join(names, ", "))}
}

// checkText refuses text that is too long, not UTF-8, or holds control
// characters other than newlines and tabs. Such text is only ever data
// (it never reaches a shell), but it is shown in every view and export.
func checkText(field, s string, maxRunes int, required bool) error {
	switch {
	case required && strings.TrimSpace(s) == "":
		return &InvalidError{Field: field, Reason: text.New("is required")}
	case !utf8.ValidString(s):
		return &InvalidError{Field: field, Reason: text.New("is not valid UTF-8")}
	case utf8.RuneCountInString(s) > maxRunes:
		return &InvalidError{Field: field, Reason: text.New("is longer than %d characters", maxRunes)}
	}
	for _, r := range s {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
			return &InvalidError{Field: field, Reason: text.New("holds a control character (%U)", r)}
		}
	}
	return nil
}

// snapshot is the project as a deployment carries it: environments that
// name no ssh_key publish with the app's own key.
func (d *Desk) snapshot(p catalog.Project) catalog.Project {
	envs := make([]catalog.Environment, len(p.Environments))
	copy(envs, p.Environments)
	for i := range envs {
		if envs[i].SSHKey == "" && p.Strategy != catalog.StrategyLocal {
			envs[i].SSHKey = d.DefaultSSHKey
		}
	}
	p.Environments = envs
	return p
}

// busy refuses a deployment to an environment that already has one queued
// or running: deployments of one environment never overlap, and asking
// twice is a mistake to report, not a queue to grow.
func (d *Desk) busy(project, env string) error {
	active, _ := d.Set.Deployments.List(projections.DeploymentQuery{Project: project, Environment: env,
		States: []string{projections.DeployQueued, projections.DeployRunning}, Limit: 1})
	if len(active) == 0 {
		return nil
	}
	a := active[0]
	return &ConflictError{Message: text.New("environment %s of %s is busy: deployment %s (%s of %s, asked by %s) is %s; "+
		"wait for it or cancel it", env, project, a.ID, a.Kind, a.Version, a.RequestedBy, a.State)}
}

// nextDeploymentID names a new deployment "d<N>": short enough to say
// aloud, and unique since commands are serialised and the id is checked.
func (d *Desk) nextDeploymentID() string {
	n := d.Set.Stats().Deployments + 1
	for {
		id := fmt.Sprintf("d%d", n)
		if _, taken := d.Set.Deployments.Get(id); !taken {
			return id
		}
		n++
	}
}

// submit validates and queues a deployment for the runner.
func (d *Desk) submit(ctx context.Context, req catalog.Request, actor string) error {
	if err := runner.Submit(ctx, d.Log, req, actor); err != nil {
		if errors.Is(err, runner.ErrInvalidRequest) {
			return &InvalidError{Field: "deployment", Reason: runner.RequestProblem(err)}
		}
		return err
	}
	return d.Set.WaitFor(ctx, d.Log.Head().Position)
}
