package httpapi

import (
	"net/http"

	"releasedesk/app"
)

// routeTable is the API of DESIGN.md section 5 (docs/api.md documents
// each with an example). Every route but login and health needs a bearer
// token (or, in offline review, the review session); what each user may do is decided by the workflow, not here.
func (s *Server) routeTable() []route {
	return []route{
		// People.
		{"POST /api/v1/login", public, s.login},
		{"POST /api/v1/logout", signedIn, s.logout},
		{"GET /api/v1/me", signedIn, s.me},
		{"PUT /api/v1/me/language", signedIn, s.setLanguage},
		{"GET /api/v1/inbox", signedIn, s.inbox},
		{"GET /api/v1/dashboard", signedIn, s.dashboard},
		{"GET /api/v1/users", signedIn, s.listUsers},
		{"POST /api/v1/users", signedIn, s.createUser},
		{"GET /api/v1/users/{name}", signedIn, s.getUser},
		{"PUT /api/v1/users/{name}", signedIn, s.setRoles},
		{"POST /api/v1/users/{name}/password", signedIn, s.setPassword},
		{"PUT /api/v1/users/{name}/contacts", signedIn, s.setContacts},
		{"POST /api/v1/users/{name}/disable", signedIn, s.disableUser},
		{"POST /api/v1/users/{name}/enable", signedIn, s.enableUser},
		{"GET /api/v1/tokens", signedIn, s.listTokens},
		{"POST /api/v1/tokens", signedIn, s.createToken},
		{"DELETE /api/v1/tokens/{id}", signedIn, s.revokeToken},

		// Projects, hosts, versions.
		{"GET /api/v1/projects", signedIn, s.listProjects},
		{"GET /api/v1/projects/{project}", signedIn, s.getProject},
		{"PUT /api/v1/projects/{project}", signedIn, s.putProject},
		{"POST /api/v1/projects/validate", signedIn, s.validateProject},
		{"GET /api/v1/projects/{project}/branches", signedIn, s.branches},
		{"GET /api/v1/projects/{project}/compare", signedIn, s.compare},
		{"GET /api/v1/projects/{project}/environments/{env}/versions", signedIn, s.versions},
		{"POST /api/v1/projects/{project}/environments/{env}/rollback", signedIn, s.rollback},
		{"POST /api/v1/projects/{project}/environments/{env}/versions/{version}/bad", signedIn, s.markBad},
		{"POST /api/v1/projects/{project}/environments/{env}/drift", signedIn, s.checkDrift},
		{"POST /api/v1/projects/{project}/environments/{env}/unlock", signedIn, s.unlock},
		{"POST /api/v1/projects/{project}/channels/{channel}/test", signedIn, s.testChannel},
		{"GET /api/v1/hosts", signedIn, s.listHosts},
		{"GET /api/v1/hosts/key", signedIn, s.hostKey},
		{"POST /api/v1/hosts/trust", signedIn, s.trustHost},

		// Releases and deployments.
		{"POST /api/v1/releases", signedIn, s.openRelease},
		{"GET /api/v1/releases", signedIn, s.board},
		{"GET /api/v1/releases/{id}", signedIn, s.getRelease},
		{"POST /api/v1/releases/{id}/deploy", signedIn, s.deployRelease},
		{"POST /api/v1/releases/{id}/test", signedIn, s.testRelease},
		{"POST /api/v1/releases/{id}/approve", signedIn, s.noteDecision((*app.Desk).Approve, "note")},
		{"POST /api/v1/releases/{id}/reject", signedIn, s.noteDecision((*app.Desk).Reject, "reason")},
		{"POST /api/v1/releases/{id}/accept", signedIn, s.noteDecision((*app.Desk).Accept, "note")},
		{"POST /api/v1/releases/{id}/refuse", signedIn, s.refuseRelease},
		{"POST /api/v1/releases/{id}/cancel", signedIn, s.noteDecision((*app.Desk).CancelRelease, "reason")},
		{"POST /api/v1/releases/{id}/complete", signedIn, s.completeRelease},
		{"GET /api/v1/deployments", signedIn, s.listDeployments},
		{"GET /api/v1/deployments/{id}", signedIn, s.getDeployment},
		{"POST /api/v1/deployments/{id}/cancel", signedIn, s.cancelDeployment},
		{"POST /api/v1/deployments/{id}/retry", signedIn, s.retryDeployment},

		// The audit trail and the live stream.
		{"GET /api/v1/audit", signedIn, s.audit},
		{"GET /api/v1/audit/export", signedIn, s.auditExport},
		{"GET /api/v1/audit/verify", signedIn, s.auditVerify},
		{"POST /api/v1/stream/ticket", reader, s.streamTicket},
		{"GET /api/v1/stream", signedIn, s.stream},

		// Offline review: the review URL's secret, for a read-only session.
		{"POST /api/v1/review", public, s.startReview},
	}
}

// route is one API route: its pattern ("METHOD /api/v1/..."), who may
// call it, and its handler.
type route struct {
	pattern string
	access  access
	handler apiFunc
}

// routes registers every route of the table on mux.
func (s *Server) routes(mux *http.ServeMux) {
	for _, r := range s.routeTable() {
		mux.HandleFunc(r.pattern, s.handle(r.access, r.handler))
	}
}

// Routes lists the pattern of every API route ("POST /api/v1/login"), in
// the table's order: the chaos and authorization tests cover each one, so
// a route added is a route tested.
func Routes() []string {
	var out []string
	for _, r := range (&Server{}).routeTable() {
		out = append(out, r.pattern)
	}
	return out
}
