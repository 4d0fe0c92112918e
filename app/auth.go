package app

import (
	"context"
	"encoding/hex"
	"errors"
	"hash/fnv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"releasedesk/events"
	"releasedesk/events/catalog"
	"releasedesk/events/text"
	"releasedesk/projections"
)

// Lock-out: after LockoutThreshold failed logins in a row (the Users
// projection's count, which every user.login_failed raises, a refused
// attempt during the wait included, and a success or user.enabled resets)
// an account waits LockoutBase after the last failure, doubling with each
// further failure, at most LockoutMax.
const (
	LockoutThreshold = 5
	LockoutBase      = 30 * time.Second
	LockoutMax       = 15 * time.Minute
)

// lockoutDelay is how long an account waits after its last failure.
func lockoutDelay(failures int) time.Duration {
	if failures < LockoutThreshold {
		return 0
	}
	d := LockoutBase
	for i := LockoutThreshold; i < failures && d < LockoutMax; i++ {
		d *= 2
	}
	return min(d, LockoutMax)
}

// lockoutWait is how long, at now, an account must still wait.
func lockoutWait(failures int, last, now time.Time) time.Duration {
	d := lockoutDelay(failures)
	if d == 0 {
		return 0
	}
	return max(last.Add(d).Sub(now), 0)
}

// Token kinds and the default session lifetime.
const (
	TokenSession      = "session"
	TokenPersonal     = "personal"
	DefaultSessionTTL = 12 * time.Hour
)

// SystemActor is the actor of changes made without a signed-in person
// (`releasedesk user add`). No user may take the name.
const SystemActor = "system"

// Login failure reasons (projections.LoginFailed.Reason).
const (
	failBadPassword = "bad_password"
	failUnknownUser = "unknown_user"
	failDisabled    = "disabled"
	failLocked      = "locked"
)

// Auth is the people side: users, passwords, logins, tokens. Decisions are
// read from Set.Users and appended to user/<name> with the expected stream
// version; each call waits until its own events are folded into Set, so
// the next call sees them. Set must be kept live (Set.Follow) over Log.
//
// Within a process, changes to accounts are serialised, and every event of
// one user's stream (logins included) is written in turn, so a lock-out
// count cannot be outrun by parallel guesses. Now must read the same clock
// as the log (the lock-out compares it with the events' times).
type Auth struct {
	Log        streamLog // events.Store or MemStore
	Set        *projections.Set
	Creds      *Credentials
	Now        func() time.Time // nil: time.Now
	SessionTTL time.Duration    // 0: DefaultSessionTTL

	Argon     ArgonParams // password hashing cost; zero: DefaultArgon (tests make it cheap)
	argonHook func()      // told of every argon2 run (tests count them)

	wmu   sync.Mutex     // account changes, one at a time
	names [64]sync.Mutex // striped by user name: one user's events in turn

	dummyMu sync.Mutex
	dummy   string // a hash to verify against when there is no user

	umu     sync.Mutex
	unknown map[string]unknownFailures // failed logins of names that are no user
}

// unknownFailures mirrors the projection's count for a name that is no
// user, so probing a name gets the same answers (lock-out included) as a
// wrong password. It lives in memory, bounded by maxUnknownNames.
type unknownFailures struct {
	n    int
	last time.Time
}

const maxUnknownNames = 10000

func (a *Auth) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Auth) params() ArgonParams {
	if a.Argon.Memory == 0 {
		return DefaultArgon
	}
	return a.Argon
}

func (a *Auth) sessionTTL() time.Duration {
	if a.SessionTTL > 0 {
		return a.SessionTTL
	}
	return DefaultSessionTTL
}

// nameLock is the stripe that serialises name's events.
func (a *Auth) nameLock(name string) *sync.Mutex {
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	return &a.names[h.Sum32()%uint32(len(a.names))]
}

// dummyHash is a hash of a random password with the current parameters:
// an unknown user's login verifies against it, so it costs what a wrong
// password costs.
func (a *Auth) dummyHash(ctx context.Context) (string, error) {
	a.dummyMu.Lock()
	defer a.dummyMu.Unlock()
	if a.dummy == "" {
		secret, _, err := newSecretToken()
		if err != nil {
			return "", err
		}
		if a.dummy, err = hashPassword(ctx, nil, secret, a.params()); err != nil {
			return "", err
		}
	}
	return a.dummy, nil
}

// appendUser appends evs to user/<name> after its last event and waits
// until Set has folded them. The caller holds name's lock.
func (a *Auth) appendUser(ctx context.Context, name string, evs ...events.Event) error {
	_, err := a.writer().next(ctx, catalog.UserStream(name), evs...)
	return err
}

// writer appends the people side's events.
func (a *Auth) writer() appender { return appender{log: a.Log, set: a.Set} }

func newEvents(actor string, pairs ...any) ([]events.Event, error) {
	evs := make([]events.Event, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		ev, err := catalog.NewEvent(pairs[i].(string), actor, pairs[i+1])
		if err != nil {
			return nil, err
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

// Login checks a name and password and opens a session: a token shown once
// (valid SessionTTL), and the user. Success and failure are events
// (user.login_succeeded with token.created, or user.login_failed with its
// reason). Every answer to a wrong name, a wrong password or a disabled
// account with a wrong password is the same *UnauthorizedError after one
// argon2 run; a disabled account with the right password says so. After
// LockoutThreshold failures in a row the answer is a *LockedError until the
// wait is over, without looking at the password.
func (a *Auth) Login(ctx context.Context, name, password string) (string, UserView, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	if len(name) > 64 {
		name = name[:64]
	}
	mu := a.nameLock(name)
	mu.Lock()
	defer mu.Unlock()

	users := a.Set.Users
	u, known := users.Get(name)
	if !known && a.catchUp(ctx) {
		u, known = users.Get(name)
	}
	if wait, n := a.lockedFor(name, u, known); wait > 0 {
		if err := a.loginFailed(ctx, name, known, failLocked); err != nil {
			return "", UserView{}, err
		}
		u, known = users.Get(name)
		wait, n = a.lockedFor(name, u, known) // this refusal counted too
		return "", UserView{}, &LockedError{Failures: n, RetryAfter: max(wait, time.Second)}
	}

	phc, have := "", false
	if known {
		phc, have = a.Creds.passwordHash(name)
	}
	if !have {
		var err error
		if phc, err = a.dummyHash(ctx); err != nil {
			return "", UserView{}, err
		}
	}
	good, err := verifyPassword(ctx, a.argonHook, password, phc)
	if err != nil {
		return "", UserView{}, err
	}
	good = good && have && utf8.RuneCountInString(password) <= MaxPasswordLen

	var reason string
	switch {
	case !known:
		reason = failUnknownUser
	case !good:
		reason = failBadPassword
	case u.Disabled:
		reason = failDisabled
	}
	if reason != "" {
		if err := a.loginFailed(ctx, name, known, reason); err != nil {
			return "", UserView{}, err
		}
		if reason == failDisabled {
			return "", UserView{}, &UnauthorizedError{Reason: text.New("user %s is disabled", name)}
		}
		return "", UserView{}, &UnauthorizedError{Reason: text.New("wrong user name or password")}
	}

	now := a.now()
	token, _, err := a.issueToken(ctx, name, name, TokenSession, "", now.Add(a.sessionTTL()), true)
	if err != nil {
		return "", UserView{}, err
	}
	if outdated(phc, a.params()) { // stored with older parameters: store it anew
		if fresh, err := hashPassword(ctx, a.argonHook, password, a.params()); err == nil {
			_ = a.Creds.setPassword(now, name, fresh)
		}
	}
	u, _ = users.Get(name)
	return token, a.view(u), nil
}

// lockedFor is how long name must still wait, and its failures in a row.
func (a *Auth) lockedFor(name string, u projections.User, known bool) (time.Duration, int) {
	if known {
		return lockoutWait(u.FailedLogins, u.LastFailure, a.now()), u.FailedLogins
	}
	a.umu.Lock()
	f := a.unknown[name]
	a.umu.Unlock()
	return lockoutWait(f.n, f.last, a.now()), f.n
}

// loginFailed records a failed login.
func (a *Auth) loginFailed(ctx context.Context, name string, known bool, reason string) error {
	evs, err := newEvents(name, catalog.TypeLoginFailed, catalog.LoginFailed{Name: name, Reason: reason})
	if err != nil {
		return err
	}
	if known {
		return a.appendUser(ctx, name, evs...)
	}
	evs[0].Actor = "" // not a person: the name is only what was typed
	if _, err := a.writer().at(ctx, catalog.UnknownLoginStream, events.AnyVersion, evs...); err != nil {
		return err
	}
	a.umu.Lock()
	defer a.umu.Unlock()
	if a.unknown == nil {
		a.unknown = map[string]unknownFailures{}
	}
	if _, ok := a.unknown[name]; !ok && len(a.unknown) >= maxUnknownNames {
		oldest, at := "", time.Time{}
		for k, f := range a.unknown {
			if oldest == "" || f.last.Before(at) {
				oldest, at = k, f.last
			}
		}
		delete(a.unknown, oldest)
	}
	f := a.unknown[name]
	a.unknown[name] = unknownFailures{n: f.n + 1, last: a.now()}
	return nil
}

// issueToken stores a new token, then appends token.created (with
// user.login_succeeded first for a session from Login), and returns the
// token's text. The caller holds user's lock.
func (a *Auth) issueToken(ctx context.Context, actor, user, kind, name string, expires time.Time, login bool) (string, TokenInfo, error) {
	secret, h, err := newSecretToken()
	if err != nil {
		return "", TokenInfo{}, err
	}
	id, err := newTokenID()
	if err != nil {
		return "", TokenInfo{}, err
	}
	now := a.now()
	rec := credToken{ID: id, User: user, Kind: kind, Name: name, Hash: hex.EncodeToString(h[:]), Created: now, ExpiresAt: expires}
	if err := a.Creds.addToken(now, rec); err != nil {
		return "", TokenInfo{}, err
	}
	created := catalog.TokenEvent{User: user, ID: id, Name: name, Kind: kind, ExpiresAt: expires}
	var evs []events.Event
	if login {
		evs, err = newEvents(actor, catalog.TypeLoginSucceeded, catalog.UserRef{Name: user}, catalog.TypeTokenCreated, created)
	} else {
		evs, err = newEvents(actor, catalog.TypeTokenCreated, created)
	}
	// A token's events follow whatever the user's stream holds: a lost race
	// (another instance of a server on PostgreSQL appended to it meanwhile)
	// is tried again after it.
	for attempt := 0; err == nil; attempt++ {
		err = a.appendUser(ctx, user, evs...)
		if conflict := (*ConflictError)(nil); !errors.As(err, &conflict) || attempt == tokenAppendTries-1 {
			break
		}
		err = nil
	}
	if err != nil {
		_ = a.Creds.removeTokens(now, id) // unusable anyway without its event
		return "", TokenInfo{}, err
	}
	t, _, _ := a.Set.Users.Token(id)
	return secret, tokenInfo(t, user), nil
}

// tokenAppendTries bounds the appends of a token's events lost to another
// instance's.
const tokenAppendTries = 5

// BearerToken is an Authorization header's token without its "Bearer "
// scheme (a bare token is taken as it is).
func BearerToken(header string) string {
	tok := strings.TrimSpace(header)
	if scheme, rest, ok := strings.Cut(tok, " "); ok && strings.EqualFold(scheme, "Bearer") {
		tok = strings.TrimSpace(rest)
	}
	return tok
}

// Authenticate checks a bearer token ("rd_..." or "Bearer rd_...") on every
// request: a sha256 lookup, no argon2. The token must be stored, known to
// the projection, unrevoked and unexpired, and its user enabled.
func (a *Auth) Authenticate(ctx context.Context, bearer string) (UserView, TokenInfo, error) {
	tok := BearerToken(bearer)
	if tok == "" {
		return UserView{}, TokenInfo{}, &UnauthorizedError{Reason: text.New("a bearer token is needed")}
	}
	h, ok := parseSecretToken(tok)
	if !ok {
		return UserView{}, TokenInfo{}, &UnauthorizedError{Reason: text.New("malformed token")}
	}
	rec, ok := a.Creds.tokenByHash(h)
	if !ok {
		return UserView{}, TokenInfo{}, &UnauthorizedError{Reason: text.New("unknown or revoked token")}
	}
	t, owner, ok := a.Set.Users.Token(rec.ID)
	if !ok && a.catchUp(ctx) {
		t, owner, ok = a.Set.Users.Token(rec.ID)
	}
	now := a.now()
	switch {
	case !ok || owner != rec.User:
		return UserView{}, TokenInfo{}, &UnauthorizedError{Reason: text.New("unknown or revoked token")}
	case t.Revoked:
		return UserView{}, TokenInfo{}, &UnauthorizedError{Reason: text.New("token revoked")}
	case !t.Valid(now) || rec.expired(now):
		return UserView{}, TokenInfo{}, &UnauthorizedError{Reason: text.New("token expired")}
	}
	u, ok := a.Set.Users.Get(owner)
	switch {
	case !ok:
		return UserView{}, TokenInfo{}, &UnauthorizedError{Reason: text.New("unknown or revoked token")}
	case u.Disabled:
		return UserView{}, TokenInfo{}, &UnauthorizedError{Reason: text.New("user %s is disabled", owner)}
	}
	return a.view(u), tokenInfo(t, owner), nil
}

// MaxTokenName bounds a personal token's name.
const MaxTokenName = 64

// CreateToken makes a personal token for actor (scripts): shown once,
// valid for ttl (0: until revoked).
func (a *Auth) CreateToken(ctx context.Context, actor, name string, ttl time.Duration) (string, TokenInfo, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", TokenInfo{}, &InvalidError{Field: "name", Reason: text.New("a token needs a name (what uses it)")}
	case utf8.RuneCountInString(name) > MaxTokenName || !utf8.ValidString(name):
		return "", TokenInfo{}, &InvalidError{Field: "name", Reason: text.New("at most %d characters", MaxTokenName)}
	case hasControl(name):
		return "", TokenInfo{}, &InvalidError{Field: "name", Reason: text.New("contains a control character")}
	case ttl < 0:
		return "", TokenInfo{}, &InvalidError{Field: "ttl", Reason: text.New("must not be negative")}
	}
	mu := a.nameLock(actor)
	mu.Lock()
	defer mu.Unlock()
	u, ok := a.Set.Users.Get(actor)
	switch {
	case !ok:
		return "", TokenInfo{}, &ForbiddenError{Rule: text.New("creating a token needs a signed-in user")}
	case u.Disabled:
		return "", TokenInfo{}, &ForbiddenError{Rule: text.New("user %s is disabled", actor)}
	}
	var expires time.Time
	if ttl > 0 {
		expires = a.now().Add(ttl)
	}
	return a.issueToken(ctx, actor, actor, TokenPersonal, name, expires, false)
}

// RevokeToken revokes a token: one's own, or anyone's for an admin.
// Revoking a revoked token again does nothing.
func (a *Auth) RevokeToken(ctx context.Context, actor, id string) error {
	_, owner, ok := a.Set.Users.Token(id)
	if !ok {
		return &NotFoundError{Message: text.New("no token %q", id)}
	}
	if actor != owner {
		if err := a.mayManage(actor); err != nil {
			return &ForbiddenError{Rule: text.New("revoking another user's token needs the admin role")}
		}
	}
	mu := a.nameLock(owner)
	mu.Lock()
	defer mu.Unlock()
	t, _, _ := a.Set.Users.Token(id)
	if !t.Revoked {
		evs, err := newEvents(actor, catalog.TypeTokenRevoked,
			catalog.TokenEvent{User: owner, ID: id, Name: t.Name, Kind: t.Kind, ExpiresAt: t.ExpiresAt})
		if err != nil {
			return err
		}
		if err := a.appendUser(ctx, owner, evs...); err != nil {
			return err
		}
	}
	return a.Creds.removeTokens(a.now(), id)
}

// Tokens lists a user's usable tokens (neither revoked nor expired).
func (a *Auth) Tokens(name string) ([]TokenInfo, error) {
	u, ok := a.Set.Users.Get(name)
	if !ok {
		return nil, &NotFoundError{Message: text.New("no user %s", name)}
	}
	now := a.now()
	out := []TokenInfo{}
	for _, t := range u.Tokens {
		if t.Valid(now) {
			out = append(out, tokenInfo(t, name))
		}
	}
	return out, nil
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0
}
