package runner

// CheckRequest says whether Submit would take req, without writing
// anything: the app checks a request before it records the decision that
// asks for it, so a refused request leaves no trace of a deployment.
func CheckRequest(req Request) error {
	if req.Kind == "" {
		req.Kind = KindDeploy
	}
	return validateRequest(req)
}
