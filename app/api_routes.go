package app

import "net/http"

// routes registers the API of DESIGN.md section 5 (docs/api.md documents
// each with an example). Every route but login and health needs a bearer
// token; what each user may do is decided by the workflow, not here.
func (s *Server) routes(mux *http.ServeMux) {
	// People.
	mux.HandleFunc("POST /api/v1/login", s.handle(public, s.login))
	mux.HandleFunc("POST /api/v1/logout", s.handle(signedIn, s.logout))
	mux.HandleFunc("GET /api/v1/me", s.handle(signedIn, s.me))
	mux.HandleFunc("GET /api/v1/users", s.handle(signedIn, s.listUsers))
	mux.HandleFunc("POST /api/v1/users", s.handle(signedIn, s.createUser))
	mux.HandleFunc("GET /api/v1/users/{name}", s.handle(signedIn, s.getUser))
	mux.HandleFunc("PUT /api/v1/users/{name}", s.handle(signedIn, s.setRoles))
	mux.HandleFunc("POST /api/v1/users/{name}/password", s.handle(signedIn, s.setPassword))
	mux.HandleFunc("POST /api/v1/users/{name}/disable", s.handle(signedIn, s.disableUser))
	mux.HandleFunc("POST /api/v1/users/{name}/enable", s.handle(signedIn, s.enableUser))
	mux.HandleFunc("GET /api/v1/tokens", s.handle(signedIn, s.listTokens))
	mux.HandleFunc("POST /api/v1/tokens", s.handle(signedIn, s.createToken))
	mux.HandleFunc("DELETE /api/v1/tokens/{id}", s.handle(signedIn, s.revokeToken))

	// Projects, hosts, versions.
	mux.HandleFunc("GET /api/v1/projects", s.handle(signedIn, s.listProjects))
	mux.HandleFunc("GET /api/v1/projects/{project}", s.handle(signedIn, s.getProject))
	mux.HandleFunc("PUT /api/v1/projects/{project}", s.handle(signedIn, s.putProject))
	mux.HandleFunc("POST /api/v1/projects/validate", s.handle(signedIn, s.validateProject))
	mux.HandleFunc("GET /api/v1/projects/{project}/branches", s.handle(signedIn, s.branches))
	mux.HandleFunc("GET /api/v1/projects/{project}/compare", s.handle(signedIn, s.compare))
	mux.HandleFunc("GET /api/v1/projects/{project}/environments/{env}/versions", s.handle(signedIn, s.versions))
	mux.HandleFunc("POST /api/v1/projects/{project}/environments/{env}/rollback", s.handle(signedIn, s.rollback))
	mux.HandleFunc("POST /api/v1/projects/{project}/environments/{env}/versions/{version}/bad", s.handle(signedIn, s.markBad))
	mux.HandleFunc("GET /api/v1/hosts", s.handle(signedIn, s.listHosts))
	mux.HandleFunc("GET /api/v1/hosts/key", s.handle(signedIn, s.hostKey))
	mux.HandleFunc("POST /api/v1/hosts/trust", s.handle(signedIn, s.trustHost))

	// Releases and deployments.
	mux.HandleFunc("POST /api/v1/releases", s.handle(signedIn, s.openRelease))
	mux.HandleFunc("GET /api/v1/releases", s.handle(signedIn, s.board))
	mux.HandleFunc("GET /api/v1/releases/{id}", s.handle(signedIn, s.getRelease))
	mux.HandleFunc("POST /api/v1/releases/{id}/deploy", s.handle(signedIn, s.deployRelease))
	mux.HandleFunc("POST /api/v1/releases/{id}/test", s.handle(signedIn, s.testRelease))
	mux.HandleFunc("POST /api/v1/releases/{id}/approve", s.handle(signedIn, s.noteDecision((*Desk).Approve, "note")))
	mux.HandleFunc("POST /api/v1/releases/{id}/reject", s.handle(signedIn, s.noteDecision((*Desk).Reject, "reason")))
	mux.HandleFunc("POST /api/v1/releases/{id}/accept", s.handle(signedIn, s.noteDecision((*Desk).Accept, "note")))
	mux.HandleFunc("POST /api/v1/releases/{id}/refuse", s.handle(signedIn, s.noteDecision((*Desk).Refuse, "reason")))
	mux.HandleFunc("POST /api/v1/releases/{id}/cancel", s.handle(signedIn, s.noteDecision((*Desk).CancelRelease, "reason")))
	mux.HandleFunc("POST /api/v1/releases/{id}/complete", s.handle(signedIn, s.completeRelease))
	mux.HandleFunc("GET /api/v1/deployments", s.handle(signedIn, s.listDeployments))
	mux.HandleFunc("GET /api/v1/deployments/{id}", s.handle(signedIn, s.getDeployment))
	mux.HandleFunc("POST /api/v1/deployments/{id}/cancel", s.handle(signedIn, s.cancelDeployment))
	mux.HandleFunc("POST /api/v1/deployments/{id}/retry", s.handle(signedIn, s.retryDeployment))

	// The audit trail and the live stream.
	mux.HandleFunc("GET /api/v1/audit", s.handle(signedIn, s.audit))
	mux.HandleFunc("GET /api/v1/audit/export", s.handle(signedIn, s.auditExport))
	mux.HandleFunc("GET /api/v1/audit/verify", s.handle(signedIn, s.auditVerify))
	mux.HandleFunc("GET /api/v1/stream", s.handle(signedIn, s.stream))
}
