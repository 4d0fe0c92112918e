package projections

import (
	"encoding/json"
	"slices"
	"sort"
	"time"

	"releasedesk/events"
	"releasedesk/events/catalog"
)

// Project is a project's current configuration: the JSON as configured
// (catalog.Project) and the essentials parsed out of it.
type Project struct {
	ID           string          `json:"id"`
	Title        string          `json:"title,omitempty"`
	Repo         string          `json:"repo"`
	Branch       string          `json:"branch"`   // the mainline
	Strategy     string          `json:"strategy"` // rsync | git | local
	KeepReleases int             `json:"keep_releases"`
	Environments []Environment   `json:"environments"` // in stage order: the last is production
	Config       json.RawMessage `json:"config"`
	Created      time.Time       `json:"created"`
	CreatedBy    string          `json:"created_by"`
	Updated      time.Time       `json:"updated"`
	UpdatedBy    string          `json:"updated_by"`
	Position     uint64          `json:"position"` // of the last project.configured
}

// Environment is one ordered stage of a project. Hosts are the runner's
// targets: the configured addresses, or "local" for the local strategy.
type Environment struct {
	Name     string   `json:"name"`
	Path     string   `json:"path,omitempty"`
	Approval bool     `json:"approval,omitempty"`
	Hosts    []string `json:"hosts"`
}

// ProjectChange is one project.configured: who changed what, when.
type ProjectChange struct {
	Position uint64    `json:"position"`
	Time     time.Time `json:"time"`
	Actor    string    `json:"actor"`
	Diff     []string  `json:"diff,omitempty"`
}

// Projects is the read model of project configurations and their history.
type Projects struct {
	base
	byID map[string]*projectState
}

type projectState struct {
	cur     Project
	history []ProjectChange
}

// NewProjects returns an empty model.
func NewProjects() *Projects { return &Projects{byID: map[string]*projectState{}} }

// Apply folds one envelope (see Projection).
func (m *Projects) Apply(e events.Envelope) error { return applyOne(m, &m.base, e) }

func (m *Projects) apply(e *events.Envelope, p *payload, d *decoder) error {
	if e.Type != catalog.TypeProjectConfigured {
		return nil
	}
	pi, err := d.projectOf(p)
	if err != nil {
		return err
	}
	id := p.ID
	if id == "" {
		id = pi.ID
	}
	if id == "" {
		id = d.internString(catalog.StreamID(e.Stream, catalog.ProjectPrefix))
	}
	actor := d.internString(e.Actor)
	st := m.byID[id]
	if st == nil {
		st = &projectState{cur: Project{ID: id, Created: e.Time, CreatedBy: actor}}
		m.byID[id] = st
	}
	c := &st.cur
	c.Title, c.Repo, c.Branch, c.Strategy, c.KeepReleases = pi.Title, pi.Repo, pi.Branch, pi.Strategy, pi.KeepReleases
	c.Environments = pi.Environments
	c.Config = slices.Clone(json.RawMessage(p.ConfigRaw))
	c.Updated, c.UpdatedBy, c.Position = e.Time, actor, e.Position
	st.history = append(st.history, ProjectChange{Position: e.Position, Time: e.Time, Actor: actor, Diff: p.Diff})
	return nil
}

// Get returns a project's current configuration.
func (m *Projects) Get(id string) (Project, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	st, ok := m.byID[id]
	if !ok {
		return Project{}, false
	}
	return st.cur.clone(), true
}

// List returns every project, by id.
func (m *Projects) List() []Project {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]Project, 0, len(m.byID))
	for _, st := range m.byID {
		out = append(out, st.cur.clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// History returns a project's changes, oldest first.
func (m *Projects) History(id string) []ProjectChange {
	m.mu.RLock()
	defer m.mu.RUnlock()
	st, ok := m.byID[id]
	if !ok {
		return nil
	}
	out := make([]ProjectChange, len(st.history))
	for i, h := range st.history {
		h.Diff = slices.Clone(h.Diff)
		out[i] = h
	}
	return out
}

// Stage returns a project's environment, its index in stage order and
// whether it is the last stage.
func (m *Projects) Stage(project, env string) (e Environment, index int, last bool, ok bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	st, found := m.byID[project]
	if !found {
		return Environment{}, -1, false, false
	}
	envs := st.cur.Environments
	for i, x := range envs {
		if x.Name == env {
			return x.clone(), i, i == len(envs)-1, true
		}
	}
	return Environment{}, -1, false, false
}

func (p Project) clone() Project {
	p.Config = slices.Clone(p.Config)
	p.Environments = cloneEnvs(p.Environments)
	return p
}

func (e Environment) clone() Environment {
	e.Hosts = slices.Clone(e.Hosts)
	return e
}

func cloneEnvs(envs []Environment) []Environment {
	if envs == nil {
		return nil
	}
	out := make([]Environment, len(envs))
	for i, e := range envs {
		out[i] = e.clone()
	}
	return out
}
