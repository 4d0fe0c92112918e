package runner

import "releasedesk/events/catalog"

// CheckRequest says whether Submit would take req, without writing
// anything: the app checks a request before it records the decision that
// asks for it, so a refused request leaves no trace of a deployment.
func CheckRequest(req catalog.Request) error {
	if req.Kind == "" {
		req.Kind = catalog.KindDeploy
	}
	return validateRequest(req)
}
