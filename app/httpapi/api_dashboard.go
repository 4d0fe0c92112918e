package httpapi

import (
	"net/http"

	"releasedesk/app"
)

// DashboardResponse is GET /api/v1/dashboard: every project's every
// environment, what runs there and what needs a look.
type DashboardResponse struct {
	Environments []app.DashboardEnv `json:"environments"`
}

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	writeJSON(w, http.StatusOK, DashboardResponse{Environments: s.cfg.Desk.Dashboard()})
	return nil
}
