package app

import (
	"context"
	"strings"
	"time"

	"releasedesk/app/projectconfig"
	"releasedesk/events/catalog"
	"releasedesk/events/text"
	"releasedesk/projections"
	"releasedesk/runner"
)

// What people read beyond the read models themselves: the project's
// repository (branches, what changed between two commits), a project
// configuration checked before it is applied, an environment's versions.

// errNoRepository refuses what needs the repository in offline review.
var errNoRepository = &UnavailableError{Code: "read_only", Message: text.New("offline review has no repository")}

// Branches lists the branches of a project's repository and its mainline.
func (d *Desk) Branches(ctx context.Context, project string) (mainline string, branches []string, err error) {
	p, _, err := d.project(project)
	if err != nil {
		return "", nil, err
	}
	if d.Archive() {
		return "", nil, errNoRepository
	}
	m, err := d.mirror(ctx, p)
	if err != nil {
		return "", nil, err
	}
	bs, err := m.Branches()
	if err != nil {
		return "", nil, gitError("repo", err)
	}
	return p.Branch, bs, nil
}

// Comparison is what changed between two commits of a project.
type Comparison struct {
	From    string              `json:"from"` // "" for the start of history
	To      string              `json:"to"`
	Commits []runner.Commit     `json:"commits"`
	Files   []runner.FileChange `json:"files"`
}

// Compare lists the commits (at most 500) and the files changed between
// two commits or versions of a project; a version id is looked up in env.
// from may be empty (the start of history); to may not.
func (d *Desk) Compare(ctx context.Context, project, env, from, to string) (Comparison, error) {
	p, _, err := d.project(project)
	if err != nil {
		return Comparison{}, err
	}
	if d.Archive() {
		return Comparison{}, errNoRepository
	}
	resolve := func(field, v string) (string, error) {
		v = strings.TrimSpace(v)
		if v == "" {
			if field == "from" {
				return "", nil
			}
			return "", &InvalidError{Field: field, Reason: text.New("is required: a commit or a version")}
		}
		if runner.ValidateVersion(v) == nil {
			if env == "" {
				return "", &InvalidError{Field: "env", Reason: text.New("is required when %s is a version id", field)}
			}
			e, ok := d.Set.Versions.Entry(p.ID, env, v)
			if !ok {
				return "", &InvalidError{Field: field, Reason: text.New("no version %s on environment %s", v, env)}
			}
			return e.Commit, nil
		}
		if runner.ValidateCommit(v) != nil {
			return "", &InvalidError{Field: field, Reason: text.New("want a 40-hex commit or a version id")}
		}
		return v, nil
	}
	c := Comparison{Commits: []runner.Commit{}, Files: []runner.FileChange{}}
	if c.From, err = resolve("from", from); err != nil {
		return Comparison{}, err
	}
	if c.To, err = resolve("to", to); err != nil {
		return Comparison{}, err
	}
	m, err := d.mirror(ctx, p)
	if err != nil {
		return Comparison{}, err
	}
	commits, err := m.Log(c.From, c.To, 500)
	if err != nil {
		return Comparison{}, gitError("to", err)
	}
	files, err := m.ChangedFiles(c.From, c.To)
	if err != nil {
		return Comparison{}, gitError("to", err)
	}
	if commits != nil {
		c.Commits = commits
	}
	if files != nil {
		c.Files = files
	}
	return c, nil
}

// Versions is an environment's versions: what runs where, and the
// timeline of what went live.
func (d *Desk) Versions(project, envName string) (projections.EnvVersions, error) {
	p, env, err := d.projectEnv(project, envName)
	if err != nil {
		return projections.EnvVersions{}, err
	}
	ev, ok := d.Set.Versions.Env(p.ID, env.Name)
	if !ok {
		ev = projections.EnvVersions{Project: p.ID, Environment: env.Name, Timeline: []projections.VersionEntry{}}
	}
	d.addDrift(&ev, env)
	return ev, nil
}

// addDrift gives an environment's versions its last drift check and the
// interval of its periodic one.
func (d *Desk) addDrift(ev *projections.EnvVersions, env catalog.Environment) {
	if last, ok := d.Set.Hosts.LastDrift(ev.Project, env.Name); ok {
		ev.Drift = &last
	}
	if env.DriftCheck > 0 {
		ev.DriftEvery = time.Duration(env.DriftCheck).String()
	}
}

// ProjectCheck is a configuration checked but not applied: what applying
// it would change, and its canonical YAML.
type ProjectCheck struct {
	Diff []string `json:"diff"`
	YAML string   `json:"yaml"`
}

// CheckProject reads and validates a configuration (YAML or JSON, by
// contentType or by its first character) without writing anything; the
// UI's form asks as its user types. A refusal is projectconfig.Errors.
func (d *Desk) CheckProject(data []byte, contentType string) (ProjectCheck, error) {
	p, err := projectconfig.Parse(data, contentType)
	if err != nil {
		return ProjectCheck{}, err
	}
	old, _, _ := d.project(p.ID) // zero when new: the diff then says "created"
	check := ProjectCheck{Diff: projectconfig.Diff(old, p)}
	if check.Diff == nil {
		check.Diff = []string{}
	}
	y, err := projectconfig.MarshalYAML(p)
	check.YAML = string(y)
	return check, err
}

// ProjectView is a project as its page shows it: the read model, the
// configuration as canonical YAML, its history, each environment's
// versions and each notification channel, in the configuration's order.
type ProjectView struct {
	Project      projections.Project         `json:"project"`
	YAML         string                      `json:"yaml"`
	History      []projections.ProjectChange `json:"history"`
	Environments []projections.EnvVersions   `json:"environments"`
	Channels     []ChannelView               `json:"channels"`
}

// Project returns a project's view, whole, or a *NotFoundError.
func (d *Desk) Project(id string) (ProjectView, error) { return d.projectView(id, true) }

// ProjectFor is a project's view as viewer may read it: whole for those
// who configure it; for everyone else its channels' URLs show only their
// scheme and host (ProjectsFor says why).
func (d *Desk) ProjectFor(viewer UserView, id string) (ProjectView, error) {
	whole, _ := Can(viewer, id, ActionProjectConfigure)
	return d.projectView(id, whole)
}

func (d *Desk) projectView(id string, whole bool) (ProjectView, error) {
	p, pp, err := d.project(id)
	if err != nil {
		return ProjectView{}, err
	}
	if !whole {
		p, pp = withoutChannelURLs(p, pp)
	}
	y, err := projectconfig.MarshalYAML(p)
	if err != nil {
		return ProjectView{}, err
	}
	v := ProjectView{Project: pp, YAML: string(y), History: d.Set.Projects.History(id),
		Environments: []projections.EnvVersions{}, Channels: d.channelViews(p)}
	for _, e := range p.Environments {
		ev, ok := d.Set.Versions.Env(id, e.Name)
		if !ok {
			ev = projections.EnvVersions{Project: id, Environment: e.Name}
		}
		d.addDrift(&ev, e)
		v.Environments = append(v.Environments, ev)
	}
	return v, nil
}

// Context ends when the desk closes: work started for a caller (a live
// stream, a retry) that must not outlive the desk.
func (d *Desk) Context() context.Context {
	if d.runCtx == nil {
		return context.Background() // read-only: nothing runs, nothing ends early
	}
	return d.runCtx
}
