package httpapi

import (
	"net/http"
	"time"

	"releasedesk/app"
	"releasedesk/events"
	"releasedesk/events/text"
)

// HealthResponse is GET /api/v1/health: is the backend up, which version, and
// is the log writable. Positions are gap-free, so the head position is the
// event count without a scan.
type HealthResponse struct {
	Status   string `json:"status"` // ok | degraded
	Version  string `json:"version"`
	ReadOnly bool   `json:"read_only"`
	Offline  bool   `json:"offline"` // serving an archive for offline review
	Problem  string `json:"problem"`
	// Verifying: the log's background verification after a start is still
	// running; writes wait for it.
	Verifying bool         `json:"verifying,omitempty"`
	Events    HealthEvents `json:"events"`
	Time      time.Time    `json:"time"`
	// Warnings are what the operator should fix though the desk works:
	// plain HTTP beyond loopback, files open to other accounts.
	Warnings []HealthWarning `json:"warnings"`
	// WindowLanguage is the language of the machine the desktop window
	// runs on, answered to the window's own page only: it starts in that
	// language until its user chooses one.
	WindowLanguage string `json:"window_language,omitempty"`
}

// HealthWarning is one warning: a stable code and a sentence with the fix,
// in the language the request asked for (Accept-Language).
type HealthWarning struct {
	Code    string `json:"code"` // insecure_http | open_to_others
	Message string `json:"message"`
}

// HealthEvents is the log's size and head.
type HealthEvents struct {
	Count uint64      `json:"count"`
	Head  events.Head `json:"head"`
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	if s.reviewLocked(r, r.Header.Get("Authorization")) {
		s.writeError(w, r, errReviewLocked) // even the log's head is the archive's
		return
	}
	head := s.cfg.Log.Head()
	resp := HealthResponse{
		Status:   "ok",
		Version:  app.Version,
		Events:   HealthEvents{Count: head.Position, Head: head},
		Time:     s.cfg.Now().UTC(),
		Warnings: []HealthWarning{},
	}
	if fromWindow(r) {
		resp.WindowLanguage = s.cfg.WindowLanguage
	}
	lang := languageOf(r)
	if s.cfg.InsecureHTTP {
		resp.Warnings = append(resp.Warnings, HealthWarning{Code: "insecure_http",
			Message: text.New("this desk is served over plain HTTP beyond loopback (--insecure-http): passwords and tokens cross the network readable; serve it with --tls-cert and --tls-key, or behind a proxy that terminates TLS").In(lang)})
	}
	if s.cfg.Desk != nil {
		for _, m := range s.cfg.Desk.OpenToOthers {
			resp.Warnings = append(resp.Warnings, HealthWarning{Code: "open_to_others", Message: m.BriefText().In(lang)})
		}
	}
	problem := s.cfg.Problem
	if s.cfg.Desk != nil {
		problem = s.cfg.Desk.Problem()
		if v, ok := s.cfg.Desk.Log.(interface{ Verifying() bool }); ok {
			resp.Verifying = v.Verifying()
		}
	}
	switch {
	case s.cfg.Desk != nil && s.cfg.Desk.Archive():
		// An archive is read-only by nature, not degraded.
		resp.ReadOnly, resp.Offline, resp.Problem = true, true, app.ProblemText(problem).In(lang)
	case problem != nil:
		resp.Status, resp.ReadOnly, resp.Problem = "degraded", true, app.ProblemText(problem).In(lang)
	}
	writeJSON(w, http.StatusOK, resp)
}
