package projections

import (
	"slices"
	"sort"
	"time"

	"releasedesk/events"
	"releasedesk/events/catalog"
)

// User is a person (or script account) and what the log says of it.
// Credentials are not here: hashes live in the app's credential store.
type User struct {
	Name     string              `json:"name"`
	Admin    bool                `json:"admin,omitempty"`
	Roles    map[string][]string `json:"roles,omitempty"` // project -> roles
	Disabled bool                `json:"disabled,omitempty"`
	Created  time.Time           `json:"created"`
	// CreatedBy is who created the account.
	CreatedBy       string    `json:"created_by,omitempty"`
	PasswordChanged time.Time `json:"password_changed,omitzero"`
	LastLogin       time.Time `json:"last_login,omitzero"`
	// FailedLogins counts failed logins since the last success (every
	// user.login_failed naming this user, whatever the reason); the app
	// bases its lock-out on it and LastFailure.
	FailedLogins int       `json:"failed_logins"`
	LastFailure  time.Time `json:"last_failure,omitzero"`
	Tokens       []Token   `json:"tokens,omitempty"`
	// Language is the UI's language the user chose ("" until they do).
	Language string `json:"language,omitempty"`
	// Contacts are the handles notifications reach the user by.
	Contacts catalog.Contacts `json:"contacts,omitzero"`
}

// Token is a bearer token's record (never its secret).
type Token struct {
	ID        string    `json:"id"`
	Name      string    `json:"name,omitempty"`
	Kind      string    `json:"kind"` // session | personal
	Created   time.Time `json:"created"`
	ExpiresAt time.Time `json:"expires_at,omitzero"` // zero: no expiry
	Revoked   bool      `json:"revoked,omitempty"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	RevokedBy string    `json:"revoked_by,omitempty"`
}

// Valid tells whether the token may be used at t.
func (t Token) Valid(at time.Time) bool {
	return !t.Revoked && (t.ExpiresAt.IsZero() || at.Before(t.ExpiresAt))
}

// HasRole tells whether u holds role in project (admins hold every role).
func (u User) HasRole(project, role string) bool {
	return u.Admin || slices.Contains(u.Roles[project], role)
}

// Users is the read model of users, roles, logins and tokens.
type Users struct {
	base
	byName  map[string]*User
	tokenOf map[string]string // token id -> user
}

// NewUsers returns an empty model.
func NewUsers() *Users { return &Users{byName: map[string]*User{}, tokenOf: map[string]string{}} }

// Apply folds one envelope (see Projection).
func (m *Users) Apply(e events.Envelope) error { return applyOne(m, &m.base, e) }

func (m *Users) apply(e *events.Envelope, p *payload, d *decoder) error {
	switch e.Type {
	case catalog.TypeUserCreated:
		if p.Name == "" {
			return nil
		}
		m.byName[p.Name] = &User{Name: p.Name, Admin: p.Admin, Roles: p.roles(), Created: e.Time,
			CreatedBy: d.internString(e.Actor)}
		return nil
	case catalog.TypeTokenCreated, catalog.TypeTokenRevoked:
		return m.applyToken(e, p, d)
	case catalog.TypeUserRolesChanged, catalog.TypeUserPasswordChanged, catalog.TypeUserDisabled, catalog.TypeUserEnabled,
		catalog.TypeUserLanguageSet, catalog.TypeUserContactsSet, catalog.TypeLoginSucceeded, catalog.TypeLoginFailed:
	default:
		return nil
	}
	u := m.byName[p.Name]
	if u == nil {
		return nil // a failed login may name no user
	}
	switch e.Type {
	case catalog.TypeUserRolesChanged:
		u.Admin, u.Roles = p.Admin, p.roles()
	case catalog.TypeUserPasswordChanged:
		u.PasswordChanged = e.Time
	case catalog.TypeUserDisabled:
		u.Disabled = true
	case catalog.TypeUserEnabled:
		u.Disabled = false
		u.FailedLogins = 0
	case catalog.TypeUserLanguageSet:
		u.Language = p.Language
	case catalog.TypeUserContactsSet:
		u.Contacts = p.contacts()
	case catalog.TypeLoginSucceeded:
		u.LastLogin, u.FailedLogins = e.Time, 0
	case catalog.TypeLoginFailed:
		u.FailedLogins++
		u.LastFailure = e.Time
	}
	return nil
}

func (m *Users) applyToken(e *events.Envelope, p *payload, d *decoder) error {
	u := m.byName[p.User]
	if u == nil || p.ID == "" {
		return nil
	}
	i := slices.IndexFunc(u.Tokens, func(t Token) bool { return t.ID == p.ID })
	if e.Type == catalog.TypeTokenCreated {
		t := Token{ID: p.ID, Name: p.Name, Kind: p.Kind, Created: e.Time, ExpiresAt: p.ExpiresAt}
		if i >= 0 {
			u.Tokens[i] = t
		} else {
			u.Tokens = append(u.Tokens, t)
		}
		m.tokenOf[p.ID] = u.Name
		return nil
	}
	if i >= 0 {
		t := &u.Tokens[i]
		t.Revoked, t.RevokedAt, t.RevokedBy = true, e.Time, d.internString(e.Actor)
	}
	return nil
}

// Get returns a user.
func (m *Users) Get(name string) (User, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	u, ok := m.byName[name]
	if !ok {
		return User{}, false
	}
	return u.clone(), true
}

// List returns every user, by name.
func (m *Users) List() []User {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]User, 0, len(m.byName))
	for _, u := range m.byName {
		out = append(out, u.clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Token returns a token's record and the user it belongs to.
func (m *Users) Token(id string) (Token, string, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	name, ok := m.tokenOf[id]
	if !ok {
		return Token{}, "", false
	}
	for _, t := range m.byName[name].Tokens {
		if t.ID == id {
			return t, name, true
		}
	}
	return Token{}, "", false
}

// Count is the number of users (the app's bootstrap asks whether any exists).
func (m *Users) Count() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.byName)
}

func (u *User) clone() User {
	c := *u
	c.Roles = cloneRoles(u.Roles)
	c.Tokens = slices.Clone(u.Tokens)
	return c
}

func cloneRoles(r map[string][]string) map[string][]string {
	if r == nil {
		return nil
	}
	out := make(map[string][]string, len(r))
	for k, v := range r {
		out[k] = slices.Clone(v)
	}
	return out
}
