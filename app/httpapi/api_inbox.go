package httpapi

import (
	"net/http"

	"releasedesk/app"
)

// InboxResponse is GET /api/v1/inbox: what the signed-in user can act on
// now, oldest first.
type InboxResponse struct {
	Items []app.InboxItem `json:"items"`
	Count int             `json:"count"`
}

func (s *Server) inbox(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	items := s.cfg.Desk.Inbox(u)
	writeJSON(w, http.StatusOK, InboxResponse{Items: items, Count: len(items)})
	return nil
}
