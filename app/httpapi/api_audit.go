package httpapi

import (
	"fmt"
	"net/http"
	"time"

	"releasedesk/app"
	"releasedesk/events"
	"releasedesk/events/text"
	"releasedesk/projections"
)

// mayRead authorizes a read; in offline review the person holding the
// archive may read all of it.
func (s *Server) mayRead(u app.UserView, action string) error {
	if s.cfg.Desk.Archive() {
		return nil
	}
	return app.Authorize(u, "", action)
}

// auditQuery reads ?project=&actor=&type=&since=&until=&oldest=&offset=&limit=.
func auditQuery(r *http.Request) (projections.AuditQuery, error) {
	q := r.URL.Query()
	aq := projections.AuditQuery{Project: q.Get("project"), Actor: q.Get("actor"), Type: q.Get("type"),
		Oldest: q.Get("oldest") == "true"}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"since", &aq.Since}, {"until", &aq.Until}} {
		if v := q.Get(f.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return aq, &app.InvalidError{Field: f.name, Reason: text.New("want an RFC 3339 time, e.g. 2026-11-26T09:00:00Z")}
			}
			*f.dst = t
		}
	}
	var err error
	if aq.Offset, err = queryInt(r, "offset"); err != nil {
		return aq, err
	}
	if aq.Limit, err = queryInt(r, "limit"); err != nil {
		return aq, err
	}
	return aq, nil
}

func (s *Server) audit(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	if err := s.mayRead(u, app.ActionAuditRead); err != nil {
		return err
	}
	aq, err := auditQuery(r)
	if err != nil {
		return err
	}
	d := s.cfg.Desk
	page, err := d.Set.Audit.Query(r.Context(), d.Log, aq)
	if err != nil {
		return err
	}
	// The page is read in the reader's language; the exports below keep
	// the English, the words of the evidence.
	lang := languageOf(r)
	for i := range page.Rows {
		page.Rows[i].Summary = page.Rows[i].SummaryIn(lang)
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

// auditExport streams the filtered rows as CSV, or the filtered events as
// a JSONL archive (which verifies offline: releasedesk events verify).
func (s *Server) auditExport(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	if err := s.mayRead(u, app.ActionAuditExport); err != nil {
		return err
	}
	aq, err := auditQuery(r)
	if err != nil {
		return err
	}
	d := s.cfg.Desk
	// Once streaming, a failure can only cut the file short: a log that
	// cannot be read at all is refused while an error status can still
	// be sent.
	if _, err := d.Log.Stats(r.Context()); err != nil {
		return err
	}
	filter := d.Set.Audit.Filter(aq)
	if aq == (projections.AuditQuery{}) {
		filter = nil
	}
	stamp := d.NowUTC().Format("20060102-150405")
	switch format := r.URL.Query().Get("format"); format {
	case "", "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="releasedesk-audit-%s.csv"`, stamp))
		if _, err := events.ExportCSV(r.Context(), d.Log, w, d.Set.Audit.Formatters(), filter); err != nil {
			s.log.WithError(err).Error("audit CSV export cut short")
		}
	case "jsonl":
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="releasedesk-audit-%s.jsonl"`, stamp))
		if _, err := events.ExportJSONL(r.Context(), d.Log, w, events.ExportOptions{Filter: filter, Now: d.Now}); err != nil {
			s.log.WithError(err).Error("audit JSONL export cut short")
		}
	default:
		return &app.InvalidError{Field: "format", Reason: text.New("want csv or jsonl")}
	}
	return nil
}

// auditVerify walks the whole hash chain and says whether it holds.
func (s *Server) auditVerify(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	if err := s.mayRead(u, app.ActionAuditRead); err != nil {
		return err
	}
	report, err := events.Verify(r.Context(), s.cfg.Desk.Log)
	if err != nil {
		return err
	}
	resp := VerifyResponse{OK: report.OK(), Count: report.Count, Head: report.Head, Problem: report.Problem}
	if report.Problem != nil {
		resp.Message = app.ProblemText(report.Err()).In(languageOf(r))
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// VerifyResponse is GET /api/v1/audit/verify: whether the whole hash chain
// holds, and if not, where it first breaks.
type VerifyResponse struct {
	OK      bool            `json:"ok"`
	Count   uint64          `json:"count"` // events that verified
	Head    events.Head     `json:"head"`  // the last event that verified
	Problem *events.Problem `json:"problem,omitempty"`
	Message string          `json:"message,omitempty"` // the problem in words, in the request's language
}
