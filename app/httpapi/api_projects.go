package httpapi

import (
	"net/http"

	"releasedesk/app"
	"releasedesk/projections"
)

// ProjectList is GET /api/v1/projects.
type ProjectList struct {
	Projects []projections.Project `json:"projects"`
}

func (s *Server) listProjects(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	writeJSON(w, http.StatusOK, ProjectList{Projects: s.cfg.Desk.ProjectsFor(u)})
	return nil
}

// getProject answers app.ProjectView: one project, its configuration as
// stored and as canonical YAML, its history of changes, each
// environment's state and each notification channel's (the channels'
// URLs whole only for those who configure the project).
func (s *Server) getProject(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	v, err := s.cfg.Desk.ProjectFor(u, r.PathValue("project"))
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
	writeJSON(w, status, ProjectApplied{Project: res.Project, Diff: res.Diff, Changed: res.Changed})
	return nil
}

// ProjectApplied is PUT /api/v1/projects/{project}'s answer: the project as
// it now stands, what changed, and whether anything did.
type ProjectApplied struct {
	Project projections.Project `json:"project"`
	Diff    []string            `json:"diff"`
	Changed bool                `json:"changed"`
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
	writeJSON(w, http.StatusOK, ProjectValidated{Valid: true, ProjectCheck: check})
	return nil
}

// ProjectValidated is POST /api/v1/projects/validate's answer for a valid
// configuration (an invalid one is refused, with every problem).
type ProjectValidated struct {
	Valid            bool `json:"valid"`
	app.ProjectCheck `tstype:",extends"`
}

func (s *Server) branches(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	mainline, bs, err := s.cfg.Desk.Branches(r.Context(), r.PathValue("project"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, BranchList{Mainline: mainline, Branches: bs})
	return nil
}

// BranchList is GET /api/v1/projects/{project}/branches.
type BranchList struct {
	Mainline string   `json:"mainline"`
	Branches []string `json:"branches"`
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

// RollbackRequest is POST /api/v1/projects/{project}/environments/{env}/rollback.
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

// checkDrift reads what each host of an environment runs now (drift.checked).
func (s *Server) checkDrift(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	var in struct{}
	if err := decodeBody(w, r, maxBodyBytes, &in); err != nil {
		return err
	}
	rep, err := s.cfg.Desk.CheckDrift(r.Context(), u, r.PathValue("project"), r.PathValue("env"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// UnlockRequest is POST /api/v1/projects/{project}/environments/{env}/unlock:
// the host whose lock to break ("" or absent: every host of the
// environment), and why.
type UnlockRequest struct {
	Host   string `json:"host"`
	Reason string `json:"reason"`
}

// unlock breaks a stale host lock (lock.broken): the answer is
// runner.LockBreak, what was broken and the hosts that were not reached.
func (s *Server) unlock(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	var in UnlockRequest
	if err := decodeBody(w, r, maxBodyBytes, &in); err != nil {
		return err
	}
	res, err := s.cfg.Desk.BreakLock(r.Context(), u, r.PathValue("project"), r.PathValue("env"), in.Host, in.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) listHosts(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	writeJSON(w, http.StatusOK, HostList{Hosts: s.cfg.Desk.Set.Hosts.List()})
	return nil
}

// HostList is GET /api/v1/hosts; hosts is null while no host is known.
type HostList struct {
	Hosts []projections.Host `json:"hosts" tstype:"projections.Host[] | null"`
}

func (s *Server) hostKey(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	info, err := s.cfg.Desk.ScanHostKey(r.Context(), r.URL.Query().Get("addr"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, info)
	return nil
}

// TrustRequest is POST /api/v1/hosts/trust: the key as GET /api/v1/hosts/key gave it.
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

// testChannel sends a test message to one of the project's channels now
// and answers what became of it (projections.Delivery): a receiver that
// refused it is a 200 with state failed and its answer, not an error.
func (s *Server) testChannel(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	var in struct{}
	if err := decodeBody(w, r, maxBodyBytes, &in); err != nil {
		return err
	}
	dl, err := s.cfg.Desk.TestChannel(r.Context(), u, r.PathValue("project"), r.PathValue("channel"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, dl)
	return nil
}
