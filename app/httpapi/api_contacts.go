package httpapi

import (
	"net/http"

	"releasedesk/app"
)

// ContactsRequest is PUT /api/v1/users/{name}/contacts: all four handles
// at once; an empty one is cleared.
type ContactsRequest struct {
	Email  string `json:"email"`
	Mobile string `json:"mobile"`
	Feishu string `json:"feishu"`
	Slack  string `json:"slack"`
}

// setContacts records a user's contact handles (their own, or anyone's for
// an admin: Auth decides) and answers the user as it stands now.
func (s *Server) setContacts(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	d := s.cfg.Desk
	if err := d.Writable(); err != nil {
		return err
	}
	var in ContactsRequest
	if err := decodeBody(w, r, maxBodyBytes, &in); err != nil {
		return err
	}
	c := app.Contacts{Email: in.Email, Mobile: in.Mobile, Feishu: in.Feishu, Slack: in.Slack}
	if err := d.Auth.SetContacts(r.Context(), u.Name, r.PathValue("name"), c); err != nil {
		return err
	}
	return s.writeUser(w, http.StatusOK, r.PathValue("name"))
}
