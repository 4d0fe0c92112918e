package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"releasedesk/app"
	"releasedesk/events/text"
)

// LoginRequest is POST /api/v1/login.
type LoginRequest struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

// LoginResponse is a session token and who it signs in.
type LoginResponse struct {
	Token string       `json:"token"`
	User  app.UserView `json:"user"`
}

func (s *Server) login(w http.ResponseWriter, r *http.Request, _ app.UserView) error {
	d := s.cfg.Desk
	if s.reviewLocked(r, r.Header.Get("Authorization")) {
		return errReviewLocked
	}
	if s.review != nil {
		return d.Writable()
	}
	from := sourceAddress(r)
	if wait := s.logins.wait(from); wait > 0 {
		return errThrottled(w, from, wait)
	}
	var in LoginRequest
	if err := decodeBody(w, r, maxBodyBytes, &in); err != nil {
		return err
	}
	if in.User == "" {
		return &app.InvalidError{Field: "user", Reason: text.New("is required")}
	}
	token, u, err := d.Auth.Login(r.Context(), in.User, in.Password)
	if errors.Is(err, app.ErrUnauthorized) {
		s.logins.failed(from)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, LoginResponse{Token: token, User: u})
	return nil
}

// logout revokes the token the request came with.
func (s *Server) logout(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	d := s.cfg.Desk
	_, tok, err := d.Auth.Authenticate(r.Context(), r.Header.Get("Authorization"))
	if err != nil {
		return err
	}
	if err := d.Auth.RevokeToken(r.Context(), u.Name, tok.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// MeResponse is who is signed in and what they may do on each project, so
// a page offers only the actions its user may take.
type MeResponse struct {
	User        app.UserView        `json:"user"`
	Permissions map[string][]string `json:"permissions"`                     // project -> actions
	Global      []string            `json:"global" tstype:"string[] | null"` // actions on no project (host trust, users); null if none
	ReadOnly    string              `json:"read_only,omitempty"`
	Offline     bool                `json:"offline"`
	PublicKey   string              `json:"public_key,omitempty"` // the app's publishing key, to install on hosts
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	d := s.cfg.Desk
	resp := MeResponse{User: u, Permissions: map[string][]string{}, Offline: d.Archive(), PublicKey: d.PublicKey()}
	if p := d.Problem(); p != nil {
		resp.ReadOnly = app.ProblemText(p).In(languageOf(r))
	}
	for _, p := range d.Set.Projects.List() {
		resp.Permissions[p.ID] = app.Permissions(u, p.ID)
	}
	resp.Global = app.Permissions(u, "")
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// mayManageUsers guards reading the user list (writes are checked by Auth).
func mayManageUsers(u app.UserView) error { return app.Authorize(u, "", app.ActionUserManage) }

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	if err := mayManageUsers(u); err != nil && !s.cfg.Desk.Archive() {
		return err
	}
	users := s.cfg.Desk.Auth.Users()
	for i := range users {
		users[i] = app.ContactsFor(u, users[i])
	}
	writeJSON(w, http.StatusOK, UserList{Users: users})
	return nil
}

// UserList is GET /api/v1/users.
type UserList struct {
	Users []app.UserView `json:"users"`
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	name := r.PathValue("name")
	if name != u.Name {
		if err := mayManageUsers(u); err != nil && !s.cfg.Desk.Archive() {
			return err
		}
	}
	v, err := s.cfg.Desk.Auth.User(name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, app.ContactsFor(u, v))
	return nil
}

// CreateUserRequest is POST /api/v1/users.
type CreateUserRequest struct {
	Name     string              `json:"name"`
	Password string              `json:"password"`
	Admin    bool                `json:"admin"`
	Roles    map[string][]string `json:"roles"`
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	d := s.cfg.Desk
	if err := d.Writable(); err != nil {
		return err
	}
	var in CreateUserRequest
	if err := decodeBody(w, r, maxBodyBytes, &in); err != nil {
		return err
	}
	if err := d.Auth.CreateUser(r.Context(), u.Name, in.Name, in.Password, in.Admin, in.Roles); err != nil {
		return err
	}
	return s.writeUser(w, http.StatusCreated, in.Name)
}

// RolesRequest is PUT /api/v1/users/{name}.
type RolesRequest struct {
	Admin bool                `json:"admin"`
	Roles map[string][]string `json:"roles"`
}

func (s *Server) setRoles(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	d := s.cfg.Desk
	if err := d.Writable(); err != nil {
		return err
	}
	var in RolesRequest
	if err := decodeBody(w, r, maxBodyBytes, &in); err != nil {
		return err
	}
	name := r.PathValue("name")
	if err := d.Auth.SetRoles(r.Context(), u.Name, name, in.Admin, in.Roles); err != nil {
		return err
	}
	return s.writeUser(w, http.StatusOK, name)
}

// PasswordRequest is POST /api/v1/users/{name}/password.
type PasswordRequest struct {
	Password string `json:"password"`
	// Current is required to change one's own password.
	Current string `json:"current_password"`
}

func (s *Server) setPassword(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	d := s.cfg.Desk
	if err := d.Writable(); err != nil {
		return err
	}
	var in PasswordRequest
	if err := decodeBody(w, r, maxBodyBytes, &in); err != nil {
		return err
	}
	name := r.PathValue("name")
	if name == u.Name {
		if in.Current == "" {
			return &app.InvalidError{Field: "current_password", Reason: text.New("is required to change your own password")}
		}
		if err := d.Auth.CheckPassword(r.Context(), name, in.Current); err != nil {
			return err
		}
	}
	if err := d.Auth.SetPassword(r.Context(), u.Name, name, in.Password); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// LanguageRequest is PUT /api/v1/me/language: the UI's language the
// signed-in user chose ("en" or "zh-CN").
type LanguageRequest struct {
	Language string `json:"language"`
}

// setLanguage records the signed-in user's language and answers who they
// are now.
func (s *Server) setLanguage(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	d := s.cfg.Desk
	if err := d.Writable(); err != nil {
		return err
	}
	var in LanguageRequest
	if err := decodeBody(w, r, maxBodyBytes, &in); err != nil {
		return err
	}
	if in.Language == "" {
		return &app.InvalidError{Field: "language", Reason: text.New("is required")}
	}
	if err := d.Auth.SetLanguage(r.Context(), u.Name, u.Name, in.Language); err != nil {
		return err
	}
	v, err := d.Auth.User(u.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// ReasonRequest is the body of what takes a reason: reject, refuse and
// cancel a release, cancel a deployment, disable or enable a user, mark a
// version bad.
type ReasonRequest struct {
	Reason string `json:"reason"`
}

func (s *Server) disableUser(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	return s.userSwitch(w, r, u, (*app.Auth).Disable)
}

func (s *Server) enableUser(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	return s.userSwitch(w, r, u, (*app.Auth).Enable)
}

// userSwitch disables or enables the user named in the path, with a reason.
func (s *Server) userSwitch(w http.ResponseWriter, r *http.Request, u app.UserView,
	fn func(*app.Auth, context.Context, string, string, string) error) error {
	d := s.cfg.Desk
	if err := d.Writable(); err != nil {
		return err
	}
	var in ReasonRequest
	if err := decodeBody(w, r, maxBodyBytes, &in); err != nil {
		return err
	}
	name := r.PathValue("name")
	if err := fn(d.Auth, r.Context(), u.Name, name, in.Reason); err != nil {
		return err
	}
	return s.writeUser(w, http.StatusOK, name)
}

// TokenRequest is POST /api/v1/tokens.
type TokenRequest struct {
	Name    string `json:"name"`
	TTLDays int    `json:"ttl_days"` // 0: until revoked
}

// TokenResponse is a new token: its secret, shown this once, and its record.
type TokenResponse struct {
	Token string        `json:"token"` // shown once
	Info  app.TokenInfo `json:"info"`
}

// TokenList is GET /api/v1/tokens: the caller's own tokens.
type TokenList struct {
	Tokens []app.TokenInfo `json:"tokens"`
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	if s.cfg.Desk.Archive() {
		// An archive carries no credentials: nobody has tokens there.
		writeJSON(w, http.StatusOK, TokenList{Tokens: []app.TokenInfo{}})
		return nil
	}
	toks, err := s.cfg.Desk.Auth.Tokens(u.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, TokenList{Tokens: toks})
	return nil
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	d := s.cfg.Desk
	if err := d.Writable(); err != nil {
		return err
	}
	var in TokenRequest
	if err := decodeBody(w, r, maxBodyBytes, &in); err != nil {
		return err
	}
	if in.TTLDays < 0 || in.TTLDays > 3650 {
		return &app.InvalidError{Field: "ttl_days", Reason: text.New("want 0 (until revoked) to 3650 days")}
	}
	token, info, err := d.Auth.CreateToken(r.Context(), u.Name, strings.TrimSpace(in.Name), time.Duration(in.TTLDays)*24*time.Hour)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, TokenResponse{Token: token, Info: info})
	return nil
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, u app.UserView) error {
	d := s.cfg.Desk
	if err := d.Writable(); err != nil {
		return err
	}
	if err := d.Auth.RevokeToken(r.Context(), u.Name, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// writeUser answers with the user's view as it stands after a change.
func (s *Server) writeUser(w http.ResponseWriter, status int, name string) error {
	v, err := s.cfg.Desk.Auth.User(name)
	if err != nil {
		return err
	}
	writeJSON(w, status, v)
	return nil
}
