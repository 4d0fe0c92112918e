package app

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"releasedesk/events"
	"releasedesk/events/catalog"
	"releasedesk/events/text"
	"releasedesk/projections"
	"releasedesk/runner"
)

// UserView is a user as the API shows it (no credentials).
type UserView struct {
	Name            string              `json:"name"`
	Admin           bool                `json:"admin"`
	Roles           map[string][]string `json:"roles"` // project -> roles
	Disabled        bool                `json:"disabled"`
	Created         time.Time           `json:"created,omitzero"`
	CreatedBy       string              `json:"created_by,omitempty"`
	PasswordChanged time.Time           `json:"password_changed,omitzero"`
	LastLogin       time.Time           `json:"last_login,omitzero"`
	FailedLogins    int                 `json:"failed_logins,omitempty"` // in a row, since the last success
	LockedUntil     time.Time           `json:"locked_until,omitzero"`
	// Language is the UI's language the user chose ("" until they do:
	// the UI then follows the browser).
	Language string `json:"language,omitempty"`
	// Contacts are the user's handles for notifications: shown to the
	// user themself and to admins only (see ContactsFor), absent for
	// anyone else.
	Contacts *Contacts `json:"contacts,omitempty"`
}

// UserViewOf is the view of a projected user (without lock-out time).
func UserViewOf(u projections.User) UserView {
	roles := make(map[string][]string, len(u.Roles))
	for p, rs := range u.Roles {
		roles[p] = slices.Clone(rs)
	}
	return UserView{Name: u.Name, Admin: u.Admin, Roles: roles, Disabled: u.Disabled, Created: u.Created,
		CreatedBy: u.CreatedBy, PasswordChanged: u.PasswordChanged, LastLogin: u.LastLogin, FailedLogins: u.FailedLogins,
		Language: u.Language, Contacts: new(Contacts(u.Contacts))}
}

func (a *Auth) view(u projections.User) UserView {
	v := UserViewOf(u)
	if d := lockoutDelay(u.FailedLogins); d > 0 {
		if until := u.LastFailure.Add(d); until.After(a.now()) {
			v.LockedUntil = until
		}
	}
	return v
}

// TokenInfo describes a bearer token (never its secret).
type TokenInfo struct {
	ID        string    `json:"id"`
	User      string    `json:"user"`
	Kind      string    `json:"kind"` // session | personal
	Name      string    `json:"name,omitempty"`
	Created   time.Time `json:"created"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

func tokenInfo(t projections.Token, user string) TokenInfo {
	return TokenInfo{ID: t.ID, User: user, Kind: t.Kind, Name: t.Name, Created: t.Created, ExpiresAt: t.ExpiresAt}
}

// User returns one user.
func (a *Auth) User(name string) (UserView, error) {
	u, ok := a.Set.Users.Get(name)
	if !ok {
		return UserView{}, &NotFoundError{Message: text.New("no user %s", name)}
	}
	return a.view(u), nil
}

// Users lists every user, by name.
func (a *Auth) Users() []UserView {
	us := a.Set.Users.List()
	out := make([]UserView, len(us))
	for i, u := range us {
		out[i] = a.view(u)
	}
	return out
}

// Account rules.
const (
	MinPasswordLen = 10   // characters
	MaxPasswordLen = 1024 // characters
	maxReasonLen   = 500  // characters of a disable/enable reason
)

var userNameRe = regexp.MustCompile(`^[a-z][a-z0-9._-]{1,31}$`)

// reservedNames are actors the system writes as; no user may take them.
var reservedNames = []string{SystemActor, "runner"}

func checkUserName(name string) error {
	switch {
	case !userNameRe.MatchString(name):
		return &InvalidError{Field: "name", Reason: text.New("%q: want 2 to 32 characters: a lower-case letter, then lower-case letters, digits, '.', '_' or '-'", name)}
	case slices.Contains(reservedNames, name):
		return &InvalidError{Field: "name", Reason: text.New("%q is reserved", name)}
	}
	return nil
}

func checkPassword(pw string) error {
	n := utf8.RuneCountInString(pw)
	switch {
	case !utf8.ValidString(pw):
		return &InvalidError{Field: "password", Reason: text.New("not valid UTF-8")}
	case n < MinPasswordLen:
		return &InvalidError{Field: "password", Reason: text.New("%d characters; at least %d are needed", n, MinPasswordLen)}
	case n > MaxPasswordLen:
		return &InvalidError{Field: "password", Reason: text.New("%d characters; at most %d are allowed", n, MaxPasswordLen)}
	}
	return nil
}

// normalizeRoles checks a grant (project ids valid, roles known) and
// returns it with each project's roles deduplicated in the usual order,
// and projects without roles dropped.
func normalizeRoles(roles map[string][]string) (map[string][]string, error) {
	out := map[string][]string{}
	projects := slices.Sorted(maps.Keys(roles))
	for _, p := range projects {
		if err := runner.ValidateProjectID(p); err != nil {
			return nil, &InvalidError{Field: "roles." + p, Reason: text.Of(err)}
		}
		for i, r := range roles[p] {
			if !isProjectRole(r) {
				return nil, &InvalidError{Field: fmt.Sprintf("roles.%s[%d]", p, i),
					Reason: text.New("unknown role %q (want %s)", r, orList(ProjectRoles))}
			}
		}
		var rs []string
		for _, r := range ProjectRoles {
			if slices.Contains(roles[p], r) {
				rs = append(rs, r)
			}
		}
		if len(rs) > 0 {
			out[p] = rs
		}
	}
	return out, nil
}

func checkReason(reason string) error {
	if utf8.RuneCountInString(reason) > maxReasonLen || !utf8.ValidString(reason) {
		return &InvalidError{Field: "reason", Reason: text.New("at most %d characters", maxReasonLen)}
	}
	return nil
}

// mayManage refuses an actor that may not manage users. SystemActor (the
// command line, without a server) may.
func (a *Auth) mayManage(actor string) error {
	if actor == SystemActor {
		return nil
	}
	u, ok := a.Set.Users.Get(actor)
	if !ok {
		return &ForbiddenError{Rule: text.New("managing users needs a signed-in user")}
	}
	return Authorize(a.view(u), "", ActionUserManage)
}

// lockUser takes the account-change lock and name's lock.
func (a *Auth) lockUser(name string) func() {
	a.wmu.Lock()
	mu := a.nameLock(name)
	mu.Lock()
	return func() { mu.Unlock(); a.wmu.Unlock() }
}

// CreateUser creates an account. Its user.created event is appended only if
// user/<name> does not exist yet, so of two creations of one name exactly
// one wins; the other gets a *ConflictError naming the user.
func (a *Auth) CreateUser(ctx context.Context, actor, name, password string, admin bool, roles map[string][]string) error {
	if err := a.mayManage(actor); err != nil {
		return err
	}
	if err := checkUserName(name); err != nil {
		return err
	}
	if err := checkPassword(password); err != nil {
		return err
	}
	roles, err := normalizeRoles(roles)
	if err != nil {
		return err
	}
	phc, err := hashPassword(ctx, a.argonHook, password, a.params())
	if err != nil {
		return err
	}
	defer a.lockUser(name)()
	exists := &ConflictError{Message: text.New("user %s already exists", name)}
	if _, ok := a.Set.Users.Get(name); ok {
		return exists
	}
	evs, err := newEvents(actor, catalog.TypeUserCreated, catalog.UserCreated{Name: name, Admin: admin, Roles: roles})
	if err != nil {
		return err
	}
	if _, err := a.writer().at(ctx, catalog.UserStream(name), events.NoStream, evs...); err != nil {
		if errors.Is(err, events.ErrConcurrency) {
			exists.Err = err
			return exists
		}
		return err
	}
	a.umu.Lock()
	delete(a.unknown, name)
	a.umu.Unlock()
	if err := a.Creds.setPassword(a.now(), name, phc); err != nil {
		return fmt.Errorf("user %s was created but its password could not be stored (set it again): %w", name, err)
	}
	return nil
}

// SetRoles replaces a user's grant (admin and per-project roles). An
// unchanged grant writes nothing. The last enabled admin cannot lose admin.
func (a *Auth) SetRoles(ctx context.Context, actor, name string, admin bool, roles map[string][]string) error {
	if err := a.mayManage(actor); err != nil {
		return err
	}
	roles, err := normalizeRoles(roles)
	if err != nil {
		return err
	}
	defer a.lockUser(name)()
	u, err := a.getUser(name)
	if err != nil {
		return err
	}
	if u.Admin == admin && rolesEqual(u.Roles, roles) {
		return nil
	}
	if u.Admin && !admin && !u.Disabled {
		if err := a.keepAnAdmin(name, text.New("lose the admin role")); err != nil {
			return err
		}
	}
	evs, err := newEvents(actor, catalog.TypeUserRolesChanged, catalog.UserRolesChanged{Name: name, Admin: admin, Roles: roles})
	if err != nil {
		return err
	}
	return a.appendUser(ctx, name, evs...)
}

// SetPassword sets a user's password: one's own, or anyone's for an admin.
// It revokes every session of the user (token.revoked events), so whoever
// held one must log in again; personal tokens stay (revoke them apart).
// It does not lift a lock-out (Enable does).
func (a *Auth) SetPassword(ctx context.Context, actor, name, password string) error {
	if actor != name {
		if err := a.mayManage(actor); err != nil {
			return err
		}
	}
	if err := checkPassword(password); err != nil {
		return err
	}
	phc, err := hashPassword(ctx, a.argonHook, password, a.params())
	if err != nil {
		return err
	}
	defer a.lockUser(name)()
	u, err := a.getUser(name)
	if err != nil {
		return err
	}
	if actor == name && u.Disabled {
		return &ForbiddenError{Rule: text.New("user %s is disabled", name)}
	}
	pairs := []any{catalog.TypeUserPasswordChanged, catalog.UserRef{Name: name}}
	var sessions []string
	now := a.now()
	for _, t := range u.Tokens {
		if t.Kind == TokenSession && t.Valid(now) {
			sessions = append(sessions, t.ID)
			pairs = append(pairs, catalog.TypeTokenRevoked,
				catalog.TokenEvent{User: name, ID: t.ID, Name: t.Name, Kind: t.Kind, ExpiresAt: t.ExpiresAt})
		}
	}
	evs, err := newEvents(actor, pairs...)
	if err != nil {
		return err
	}
	if err := a.appendUser(ctx, name, evs...); err != nil {
		return err
	}
	err = a.Creds.update(now, func(ch *credChange) {
		ch.passwords[name] = phc
		for _, id := range sessions {
			delete(ch.tokens, id)
		}
	})
	if err != nil {
		return fmt.Errorf("the password change of %s was recorded but could not be stored (set it again): %w", name, err)
	}
	return nil
}

// Disable stops a user from logging in and from using any token (tokens
// are kept: Enable brings them back; revoke them apart if they leaked).
// Disabling a disabled user does nothing. The last enabled admin cannot be
// disabled.
func (a *Auth) Disable(ctx context.Context, actor, name, reason string) error {
	if err := a.mayManage(actor); err != nil {
		return err
	}
	if err := checkReason(reason); err != nil {
		return err
	}
	defer a.lockUser(name)()
	u, err := a.getUser(name)
	if err != nil {
		return err
	}
	if u.Disabled {
		return nil
	}
	if u.Admin {
		if err := a.keepAnAdmin(name, text.New("be disabled")); err != nil {
			return err
		}
	}
	evs, err := newEvents(actor, catalog.TypeUserDisabled, catalog.UserRef{Name: name, Reason: reason})
	if err != nil {
		return err
	}
	return a.appendUser(ctx, name, evs...)
}

// Enable lets a disabled user in again; it also lifts a lock-out (the
// failed-login count starts afresh). An enabled user without failed logins
// is left as is.
func (a *Auth) Enable(ctx context.Context, actor, name, reason string) error {
	if err := a.mayManage(actor); err != nil {
		return err
	}
	if err := checkReason(reason); err != nil {
		return err
	}
	defer a.lockUser(name)()
	u, err := a.getUser(name)
	if err != nil {
		return err
	}
	if !u.Disabled && u.FailedLogins == 0 {
		return nil
	}
	evs, err := newEvents(actor, catalog.TypeUserEnabled, catalog.UserRef{Name: name, Reason: reason})
	if err != nil {
		return err
	}
	return a.appendUser(ctx, name, evs...)
}

// Languages are the UI's languages a user may choose.
var Languages = []string{"en", "zh-CN"}

// SetLanguage records the UI's language a user chose: their own choice
// (an admin's for another would be a surprise, not a help). Choosing the
// language already recorded records nothing.
func (a *Auth) SetLanguage(ctx context.Context, actor, name, language string) error {
	if actor != name {
		return &ForbiddenError{Rule: text.New("each person chooses their own language")}
	}
	if !slices.Contains(Languages, language) {
		return &InvalidError{Field: "language", Reason: text.New("%q is not a language of the UI: want one of %s",
			language, strings.Join(Languages, ", "))}
	}
	defer a.lockUser(name)()
	u, err := a.getUser(name)
	if err != nil {
		return err
	}
	if u.Language == language {
		return nil
	}
	evs, err := newEvents(actor, catalog.TypeUserLanguageSet, catalog.UserLanguageSet{Name: name, Language: language})
	if err != nil {
		return err
	}
	return a.appendUser(ctx, name, evs...)
}

func (a *Auth) getUser(name string) (projections.User, error) {
	u, ok := a.Set.Users.Get(name)
	if !ok {
		return projections.User{}, &NotFoundError{Message: text.New("no user %s", name)}
	}
	return u, nil
}

// keepAnAdmin refuses a change that would leave no enabled admin.
func (a *Auth) keepAnAdmin(name string, change text.Text) error {
	for _, u := range a.Set.Users.List() {
		if u.Admin && !u.Disabled && u.Name != name {
			return nil
		}
	}
	return &ConflictError{Message: text.New("%s is the last enabled admin and cannot %s", name, change)}
}

func rolesEqual(x, y map[string][]string) bool {
	if len(x) != len(y) {
		return false
	}
	for p, rs := range x {
		a, b := slices.Clone(rs), slices.Clone(y[p])
		sort.Strings(a)
		sort.Strings(b)
		if !slices.Equal(a, b) {
			return false
		}
	}
	return true
}

// BootstrapUserRoles creates a user without a server (`releasedesk user
// add`), with roles per project (nil: none): it folds the log into a
// projection set, keeps it live while it works, and creates the user as
// SystemActor. credsPath is the data directory's CredentialsPath(); the
// caller owns store (and closes it).
func BootstrapUserRoles(ctx context.Context, store events.Log, credsPath, name, password string, admin bool, roles map[string][]string) error {
	creds, err := OpenCredentials(credsPath)
	if err != nil {
		return err
	}
	return BootstrapUserIn(ctx, store, creds, name, password, admin, roles)
}

// BootstrapUserIn is BootstrapUserRoles with the credential store open:
// a server's on PostgreSQL (OpenStateCredentials), where `user add` may
// run while the server does.
func BootstrapUserIn(ctx context.Context, store events.Log, creds *Credentials, name, password string, admin bool, roles map[string][]string) error {
	set, err := projections.Build(ctx, store)
	if err != nil {
		return err
	}
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = set.Follow(fctx, store)
	}()
	defer func() {
		cancel()
		<-done
	}()
	a := &Auth{Log: store, Set: set, Creds: creds}
	return a.CreateUser(ctx, SystemActor, name, password, admin, roles)
}
