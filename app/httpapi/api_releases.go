package httpapi

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"releasedesk/app"
	"releasedesk/events/text"
	"releasedesk/projections"
)

func (s *Server) openRelease(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	var in app.OpenReleaseInput
	if err := decodeBody(w, r, maxBodyBytes, &in); err != nil {
		return err
	}
	rel, err := s.cfg.Desk.OpenRelease(r.Context(), u, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, s.releaseView(rel, u))
	return nil
}

// board is GET /api/v1/releases?project=&state=a,b&q=&sort=updated&offset=&limit=.
func (s *Server) board(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	q := r.URL.Query()
	bq := projections.BoardQuery{Project: q.Get("project"), Text: q.Get("q")}
	if st := q.Get("state"); st != "" {
		for _, x := range strings.Split(st, ",") {
			if !slices.Contains(app.ReleaseStates, x) {
				return &app.InvalidError{Field: "state", Reason: text.New("unknown state %s", x)}
			}
			bq.States = append(bq.States, x)
		}
	}
	switch q.Get("sort") {
	case "", "created":
		bq.Sort = projections.SortCreated
	case "updated":
		bq.Sort = projections.SortUpdated
	default:
		return &app.InvalidError{Field: "sort", Reason: text.New("want created or updated")}
	}
	var err error
	if bq.Offset, err = queryInt(r, "offset"); err != nil {
		return err
	}
	if bq.Limit, err = queryInt(r, "limit"); err != nil {
		return err
	}
	page := s.cfg.Desk.Set.Releases.Board(bq)
	writeJSON(w, http.StatusOK, BoardResponse{BoardPage: page, Counts: s.cfg.Desk.Set.Releases.Counts(bq.Project)})
	return nil
}

// BoardResponse is GET /api/v1/releases: one page of the board, and how
// many releases of the project (or of all) are in each state.
type BoardResponse struct {
	projections.BoardPage `tstype:",extends"`
	Counts                map[string]int `json:"counts"`
}

// ReleaseResponse is one release with its timeline and what the caller
// may do with it now.
type ReleaseResponse struct {
	Release  projections.Release         `json:"release"`
	Timeline []projections.TimelineEntry `json:"timeline"`
	Actions  []string                    `json:"actions"`
	// Notifications are the messages sent about the release (who was
	// told what, on which channel), in the order they were first tried.
	Notifications []projections.Delivery `json:"notifications"`
	// RefuseRollback is the rollback the caller may ask for with a
	// refusal (POST .../refuse with "rollback": true), if any.
	RefuseRollback *app.RollbackOffer `json:"refuse_rollback,omitempty"`
	// Rollback is the deployment a refusal with rollback started (only in
	// that refusal's answer).
	Rollback *app.DeployResult `json:"rollback,omitempty"`
	// RollbackError says why a refusal with rollback, recorded, could not
	// start its rollback (rare: the log refused the write); roll back from
	// the versions timeline then.
	RollbackError string `json:"rollback_error,omitempty"`
}

func (s *Server) releaseView(rel projections.Release, u app.UserView) ReleaseResponse {
	d := s.cfg.Desk
	out := ReleaseResponse{Release: rel, Timeline: d.Set.Releases.Timeline(rel.ID), Actions: d.ReleaseActions(rel, u),
		Notifications: d.Set.Notifications.OfRelease(rel.ID)}
	if offer, ok := d.RefuseRollbackOffer(rel, u); ok {
		out.RefuseRollback = &offer
	}
	return out
}

// RefuseRequest is POST /api/v1/releases/{id}/refuse: why, and whether to
// roll production back to the version before the release with it.
type RefuseRequest struct {
	Reason   string `json:"reason"`
	Rollback bool   `json:"rollback,omitempty"`
}

func (s *Server) refuseRelease(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	var in RefuseRequest
	if err := decodeBody(w, r, maxBodyBytes, &in); err != nil {
		return err
	}
	d := s.cfg.Desk
	if !in.Rollback {
		rel, err := d.Refuse(r.Context(), u, r.PathValue("id"), in.Reason)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, s.releaseView(rel, u))
		return nil
	}
	rel, res, err := d.RefuseAndRollBack(r.Context(), u, r.PathValue("id"), in.Reason)
	if rn := (*app.RollbackNotStartedError)(nil); errors.As(err, &rn) {
		s.log.WithError(err).WithField("release", rel.ID).Error("refusal recorded, rollback not started")
		out := s.releaseView(rel, u)
		out.RollbackError = toAPIError(rn.Err, languageOf(r)).Message
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	if err != nil {
		return err
	}
	out := s.releaseView(rel, u)
	out.Rollback = &res
	writeJSON(w, http.StatusAccepted, out)
	return nil
}

func (s *Server) getRelease(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	rel, err := s.cfg.Desk.Release(r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.releaseView(rel, u))
	return nil
}

// DeployRequest is POST /api/v1/releases/{id}/deploy.
type DeployRequest struct {
	Env string `json:"env"`
}

func (s *Server) deployRelease(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	var in DeployRequest
	if err := decodeBody(w, r, maxBodyBytes, &in); err != nil {
		return err
	}
	res, err := s.cfg.Desk.DeployRelease(r.Context(), u, r.PathValue("id"), in.Env)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, res)
	return nil
}

// TestRequest is POST /api/v1/releases/{id}/test.
type TestRequest struct {
	Passed *bool  `json:"passed"`
	Note   string `json:"note"`
}

func (s *Server) testRelease(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	var in TestRequest
	if err := decodeBody(w, r, maxBodyBytes, &in); err != nil {
		return err
	}
	if in.Passed == nil {
		return &app.InvalidError{Field: "passed", Reason: text.New("is required: true (passed) or false (failed)")}
	}
	rel, err := s.cfg.Desk.Test(r.Context(), u, r.PathValue("id"), *in.Passed, in.Note)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.releaseView(rel, u))
	return nil
}

// noteDecision serves approve, reject, accept, refuse and cancel: a body of
// one text field ("note" or "reason") and a decision of the desk.
func (s *Server) noteDecision(fn func(*app.Desk, context.Context, app.UserView, string, string) (projections.Release, error), field string) apiFunc {
	return func(w http.ResponseWriter, r *http.Request, u app.UserView) error {
		var text string
		var err error
		if field == "reason" {
			var in ReasonRequest
			err = decodeBody(w, r, maxBodyBytes, &in)
			text = in.Reason
		} else {
			var in NoteRequest
			err = decodeBody(w, r, maxBodyBytes, &in)
			text = in.Note
		}
		if err != nil {
			return err
		}
		rel, err := fn(s.cfg.Desk, r.Context(), u, r.PathValue("id"), text)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, s.releaseView(rel, u))
		return nil
	}
}

// NoteRequest is the body of approve and accept (reject, refuse and
// cancel take a ReasonRequest).
type NoteRequest struct {
	Note string `json:"note"`
}

func (s *Server) completeRelease(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	var in struct{}
	if err := decodeBody(w, r, maxBodyBytes, &in); err != nil {
		return err
	}
	rel, err := s.cfg.Desk.CompleteRelease(r.Context(), u, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.releaseView(rel, u))
	return nil
}

// listDeployments is GET /api/v1/deployments?project=&env=&release=&requested_by=&kind=&state=a,b&offset=&limit=.
func (s *Server) listDeployments(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	q := r.URL.Query()
	f := app.DeploymentFilter{Project: q.Get("project"), Environment: q.Get("env"), Release: q.Get("release"),
		RequestedBy: q.Get("requested_by"), Kind: q.Get("kind"), States: q.Get("state")}
	var err error
	if f.Offset, err = queryInt(r, "offset"); err != nil {
		return err
	}
	if f.Limit, err = queryInt(r, "limit"); err != nil {
		return err
	}
	list, total, err := s.cfg.Desk.Deployments(f)
	if err != nil {
		return err
	}
	offset, limit := f.Offset, f.Limit
	if limit == 0 {
		limit = projections.DefaultBoardLimit
	}
	views := make([]DeploymentView, len(list))
	problem := stalledBy(s.cfg.Desk.Problem(), languageOf(r))
	for i, dep := range list {
		views[i] = viewDeployment(dep, problem)
	}
	writeJSON(w, http.StatusOK, DeploymentList{Total: total, Offset: offset, Limit: min(limit, projections.MaxBoardLimit),
		Deployments: views})
	return nil
}

// DeploymentList is GET /api/v1/deployments: one page of deployments,
// newest first, without their steps (steps is null), and how many match.
type DeploymentList struct {
	Total       int              `json:"total"`
	Offset      int              `json:"offset"`
	Limit       int              `json:"limit"`
	Deployments []DeploymentView `json:"deployments"`
}

func (s *Server) getDeployment(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	doc, err := s.deploymentDoc(r.Context(), r.PathValue("id"), languageOf(r))
	if err != nil {
		return err
	}
	writeEncodedJSON(w, http.StatusOK, doc)
	return nil
}

func (s *Server) cancelDeployment(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	var in ReasonRequest
	if err := decodeBody(w, r, maxBodyBytes, &in); err != nil {
		return err
	}
	dep, err := s.cfg.Desk.CancelDeployment(r.Context(), u, r.PathValue("id"), in.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, dep)
	return nil
}

func (s *Server) retryDeployment(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	var in struct{}
	if err := decodeBody(w, r, maxBodyBytes, &in); err != nil {
		return err
	}
	dep, err := s.cfg.Desk.RetryDeployment(r.Context(), u, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, dep)
	return nil
}
