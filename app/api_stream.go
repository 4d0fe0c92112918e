package app

import "net/http"

// stream is GET /api/v1/stream (being written).
func (s *Server) stream(w http.ResponseWriter, r *http.Request, u UserView) error {
	return errNotFound("the live stream is not built yet")
}
