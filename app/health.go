package app

import (
	"net/http"
	"time"

	"releasedesk/events"
)

// healthResponse is GET /api/v1/health: is the backend up, which version, and
// is the log writable. Positions are gap-free, so the head position is the
// event count without a scan.
type healthResponse struct {
	Status   string       `json:"status"` // ok | degraded
	Version  string       `json:"version"`
	ReadOnly bool         `json:"read_only"`
	Offline  bool         `json:"offline"` // serving an archive for offline review
	Problem  string       `json:"problem"`
	Events   healthEvents `json:"events"`
	Time     time.Time    `json:"time"`
}

type healthEvents struct {
	Count uint64      `json:"count"`
	Head  events.Head `json:"head"`
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	head := s.cfg.Log.Head()
	resp := healthResponse{
		Status:  "ok",
		Version: Version,
		Events:  healthEvents{Count: head.Position, Head: head},
		Time:    s.cfg.Now().UTC(),
	}
	switch {
	case s.cfg.Desk != nil && s.cfg.Desk.Archive():
		// An archive is read-only by nature, not degraded.
		resp.ReadOnly, resp.Offline, resp.Problem = true, true, s.cfg.Problem.Error()
	case s.cfg.Problem != nil:
		resp.Status, resp.ReadOnly, resp.Problem = "degraded", true, s.cfg.Problem.Error()
	}
	writeJSON(w, http.StatusOK, resp)
}
