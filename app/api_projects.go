package app

import (
	"net/http"
	"strings"

	"releasedesk/app/projectconfig"
	"releasedesk/projections"
	"releasedesk/runner"
)

func (s *Server) listProjects(w http.ResponseWriter, r *http.Request, u UserView) error {
	writeJSON(w, http.StatusOK, map[string]any{"projects": s.cfg.Desk.Set.Projects.List()})
	return nil
}

// projectResponse is one project: its configuration as stored and as
// canonical YAML, its history of changes, and each environment's state.
type projectResponse struct {
	Project      projections.Project         `json:"project"`
	YAML         string                      `json:"yaml"`
	History      []projections.ProjectChange `json:"history"`
	Environments []projections.EnvVersions   `json:"environments"`
}

func (s *Server) getProject(w http.ResponseWriter, r *http.Request, u UserView) error {
	d := s.cfg.Desk
	id := r.PathValue("project")
	p, pp, err := d.project(id)
	if err != nil {
		return err
	}
	y, err := projectconfig.MarshalYAML(p)
	if err != nil {
		return err
	}
	resp := projectResponse{Project: pp, YAML: string(y), History: d.Set.Projects.History(id),
		Environments: []projections.EnvVersions{}}
	for _, e := range p.Environments {
		ev, ok := d.Set.Versions.Env(id, e.Name)
		if !ok {
			ev = projections.EnvVersions{Project: id, Environment: e.Name}
		}
		resp.Environments = append(resp.Environments, ev)
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// putProject configures a project from a YAML or JSON body (by its
// Content-Type, or by its first character).
func (s *Server) putProject(w http.ResponseWriter, r *http.Request, u UserView) error {
	d := s.cfg.Desk
	if err := d.Writable(); err != nil {
		return err
	}
	data, err := readRaw(w, r, maxProjectBytes)
	if err != nil {
		return err
	}
	res, err := d.ApplyProject(r.Context(), u, r.PathValue("project"), data, r.Header.Get("Content-Type"))
	if err != nil {
		return err
	}
	status := http.StatusOK
	if res.Changed && len(d.Set.Projects.History(res.Project.ID)) == 1 {
		status = http.StatusCreated
	}
	writeJSON(w, status, map[string]any{"project": res.Project, "diff": res.Diff, "changed": res.Changed})
	return nil
}

// validateProject checks a configuration without writing anything: the
// form of the UI calls it as its user types.
func (s *Server) validateProject(w http.ResponseWriter, r *http.Request, u UserView) error {
	data, err := readRaw(w, r, maxProjectBytes)
	if err != nil {
		return err
	}
	p, err := projectconfig.Parse(data, r.Header.Get("Content-Type"))
	if err != nil {
		return err
	}
	old, _, _ := s.cfg.Desk.project(p.ID) // zero when new: the diff then says "created"
	diff := projectconfig.Diff(old, p)
	if diff == nil {
		diff = []string{}
	}
	y, err := projectconfig.MarshalYAML(p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"valid": true, "diff": diff, "yaml": string(y)})
	return nil
}

func (s *Server) branches(w http.ResponseWriter, r *http.Request, u UserView) error {
	d := s.cfg.Desk
	p, _, err := d.project(r.PathValue("project"))
	if err != nil {
		return err
	}
	if d.Archive() {
		return &apiError{Status: http.StatusServiceUnavailable, Code: "read_only", Message: "offline review has no repository"}
	}
	m, err := d.mirror(r.Context(), p)
	if err != nil {
		return err
	}
	bs, err := m.Branches()
	if err != nil {
		return gitError("repo", err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"mainline": p.Branch, "branches": bs})
	return nil
}

// compare lists the commits and the files changed between two commits or
// versions of the project (?from=&to=; a version id is looked up in the
// environment ?env=).
func (s *Server) compare(w http.ResponseWriter, r *http.Request, u UserView) error {
	d := s.cfg.Desk
	p, _, err := d.project(r.PathValue("project"))
	if err != nil {
		return err
	}
	if d.Archive() {
		return &apiError{Status: http.StatusServiceUnavailable, Code: "read_only", Message: "offline review has no repository"}
	}
	q := r.URL.Query()
	resolve := func(field string) (string, error) {
		v := strings.TrimSpace(q.Get(field))
		if v == "" {
			if field == "from" {
				return "", nil
			}
			return "", &InvalidError{Field: field, Reason: "is required: a commit or a version"}
		}
		if runner.ValidateVersion(v) == nil {
			if q.Get("env") == "" {
				return "", &InvalidError{Field: "env", Reason: "is required when " + field + " is a version id"}
			}
			e, ok := d.Set.Versions.Entry(p.ID, q.Get("env"), v)
			if !ok {
				return "", &InvalidError{Field: field, Reason: "no version " + v + " on environment " + q.Get("env")}
			}
			return e.Commit, nil
		}
		if runner.ValidateCommit(v) != nil {
			return "", &InvalidError{Field: field, Reason: "want a 40-hex commit or a version id"}
		}
		return v, nil
	}
	from, err := resolve("from")
	if err != nil {
		return err
	}
	to, err := resolve("to")
	if err != nil {
		return err
	}
	m, err := d.mirror(r.Context(), p)
	if err != nil {
		return err
	}
	commits, err := m.Log(from, to, 500)
	if err != nil {
		return gitError("to", err)
	}
	files, err := m.ChangedFiles(from, to)
	if err != nil {
		return gitError("to", err)
	}
	if commits == nil {
		commits = []runner.Commit{}
	}
	if files == nil {
		files = []runner.FileChange{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"from": from, "to": to, "commits": commits, "files": files})
	return nil
}

func (s *Server) versions(w http.ResponseWriter, r *http.Request, u UserView) error {
	d := s.cfg.Desk
	p, _, err := d.project(r.PathValue("project"))
	if err != nil {
		return err
	}
	env, _, err := environment(p, r.PathValue("env"))
	if err != nil {
		return &NotFoundError{Message: err.Error()}
	}
	ev, ok := d.Set.Versions.Env(p.ID, env.Name)
	if !ok {
		ev = projections.EnvVersions{Project: p.ID, Environment: env.Name, Timeline: []projections.VersionEntry{}}
	}
	writeJSON(w, http.StatusOK, ev)
	return nil
}

type rollbackRequest struct {
	Version string `json:"version"`
	Reason  string `json:"reason"`
}

func (s *Server) rollback(w http.ResponseWriter, r *http.Request, u UserView) error {
	var in rollbackRequest
	if err := decodeBody(w, r, maxBodyBytes, &in); err != nil {
		return err
	}
	res, err := s.cfg.Desk.Rollback(r.Context(), u, r.PathValue("project"), r.PathValue("env"), in.Version, in.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, res)
	return nil
}

func (s *Server) markBad(w http.ResponseWriter, r *http.Request, u UserView) error {
	var in reasonRequest
	if err := decodeBody(w, r, maxBodyBytes, &in); err != nil {
		return err
	}
	e, err := s.cfg.Desk.MarkBad(r.Context(), u, r.PathValue("project"), r.PathValue("env"), r.PathValue("version"), in.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, e)
	return nil
}

func (s *Server) listHosts(w http.ResponseWriter, r *http.Request, u UserView) error {
	writeJSON(w, http.StatusOK, map[string]any{"hosts": s.cfg.Desk.Set.Hosts.List()})
	return nil
}

func (s *Server) hostKey(w http.ResponseWriter, r *http.Request, u UserView) error {
	d := s.cfg.Desk
	if d.Archive() {
		return &apiError{Status: http.StatusServiceUnavailable, Code: "read_only", Message: "offline review reaches no host"}
	}
	addr := r.URL.Query().Get("addr")
	if addr == "" {
		return &InvalidError{Field: "addr", Reason: "is required: user@host:port or host:port"}
	}
	info, err := d.ScanHostKey(r.Context(), addr)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, info)
	return nil
}

type trustRequest struct {
	Addr string `json:"addr"`
	Key  string `json:"key"`
}

func (s *Server) trustHost(w http.ResponseWriter, r *http.Request, u UserView) error {
	var in trustRequest
	if err := decodeBody(w, r, maxBodyBytes, &in); err != nil {
		return err
	}
	k, err := s.cfg.Desk.TrustHost(r.Context(), u, in.Addr, in.Key)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, k)
	return nil
}
