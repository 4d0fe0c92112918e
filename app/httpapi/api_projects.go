package httpapi

import (
	"net/http"

	"releasedesk/app"
)

func (s *Server) listProjects(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	writeJSON(w, http.StatusOK, map[string]any{"projects": s.cfg.Desk.Set.Projects.List()})
	return nil
}

// projectResponse is one project: its configuration as stored and as
// canonical YAML, its history of changes, and each environment's state.
func (s *Server) getProject(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	v, err := s.cfg.Desk.Project(r.PathValue("project"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// putProject configures a project from a YAML or JSON body (by its
// Content-Type, or by its first character).
func (s *Server) putProject(w http.ResponseWriter, r *http.Request, u app.UserView) error {
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
func (s *Server) validateProject(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	data, err := readRaw(w, r, maxProjectBytes)
	if err != nil {
		return err
	}
	check, err := s.cfg.Desk.CheckProject(data, r.Header.Get("Content-Type"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"valid": true, "diff": check.Diff, "yaml": check.YAML})
	return nil
}

func (s *Server) branches(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	mainline, bs, err := s.cfg.Desk.Branches(r.Context(), r.PathValue("project"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"mainline": mainline, "branches": bs})
	return nil
}

// compare lists the commits and the files changed between two commits or
// versions of the project (?from=&to=; a version id is looked up in the
// environment ?env=).
func (s *Server) compare(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	q := r.URL.Query()
	c, err := s.cfg.Desk.Compare(r.Context(), r.PathValue("project"), q.Get("env"), q.Get("from"), q.Get("to"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) versions(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	ev, err := s.cfg.Desk.Versions(r.PathValue("project"), r.PathValue("env"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ev)
	return nil
}

type RollbackRequest struct {
	Version string `json:"version"`
	Reason  string `json:"reason"`
}

func (s *Server) rollback(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	var in RollbackRequest
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

func (s *Server) markBad(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	var in ReasonRequest
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

func (s *Server) listHosts(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	writeJSON(w, http.StatusOK, map[string]any{"hosts": s.cfg.Desk.Set.Hosts.List()})
	return nil
}

func (s *Server) hostKey(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	info, err := s.cfg.Desk.ScanHostKey(r.Context(), r.URL.Query().Get("addr"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, info)
	return nil
}

type TrustRequest struct {
	Addr string `json:"addr"`
	Key  string `json:"key"`
}

func (s *Server) trustHost(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	var in TrustRequest
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
