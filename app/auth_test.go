package app

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"releasedesk/events"
	"releasedesk/events/catalog"
	"releasedesk/projections"
)

// authClock is a settable clock shared by the log and Auth.
type authClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *authClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *authClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// cheapArgon keeps the tests fast (the default parameters are tested in
// credentials_test.go).
var cheapArgon = ArgonParams{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// authFix is a live Auth over a MemStore log, a followed projection set and
// a credential file in a temp dir.
type authFix struct {
	t         *testing.T
	ctx       context.Context
	clock     *authClock
	log       events.Log
	set       *projections.Set
	credsPath string
	auth      *Auth
	argonRuns atomic.Int64
}

const fixPassword = "correct horse battery"

func newAuthFix(t *testing.T) *authFix {
	t.Helper()
	clock := &authClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	return newAuthFixOn(t, clock, events.NewMemStore(events.Options{Now: clock.Now}), filepath.Join(t.TempDir(), CredentialsFile))
}

func newAuthFixOn(t *testing.T, clock *authClock, log events.Log, credsPath string) *authFix {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	set, err := projections.Build(ctx, log)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = set.Follow(ctx, log)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	creds, err := OpenCredentials(credsPath)
	if err != nil {
		t.Fatal(err)
	}
	f := &authFix{t: t, ctx: ctx, clock: clock, log: log, set: set, credsPath: credsPath}
	f.auth = &Auth{Log: log, Set: set, Creds: creds, Now: clock.Now, Argon: cheapArgon, argonHook: func() { f.argonRuns.Add(1) }}
	return f
}

// user creates a user as the system, with roles on blog.
func (f *authFix) user(name string, admin bool, roles ...string) {
	f.t.Helper()
	var grant map[string][]string
	if len(roles) > 0 {
		grant = map[string][]string{"blog": roles}
	}
	if err := f.auth.CreateUser(f.ctx, SystemActor, name, fixPassword, admin, grant); err != nil {
		f.t.Fatalf("create %s: %v", name, err)
	}
}

func (f *authFix) login(name string) string {
	f.t.Helper()
	tok, _, err := f.auth.Login(f.ctx, name, fixPassword)
	if err != nil {
		f.t.Fatalf("login %s: %v", name, err)
	}
	return tok
}

// envelopes reads the whole log.
func (f *authFix) envelopes() []events.Envelope {
	f.t.Helper()
	var out []events.Envelope
	if err := f.log.ReadAll(f.ctx, 1, func(e events.Envelope) error { out = append(out, e); return nil }); err != nil {
		f.t.Fatal(err)
	}
	return out
}

// since returns the events after position pos (the log's length before).
func (f *authFix) since(pos int) []events.Envelope { return f.envelopes()[pos:] }

func (f *authFix) head() int { return len(f.envelopes()) }

// wantEvent checks an envelope's type, stream, actor and data.
func wantEvent(t *testing.T, e events.Envelope, typ, stream, actor string, data any) {
	t.Helper()
	if e.Type != typ || e.Stream != stream || e.Actor != actor {
		t.Errorf("event %s on %s by %q, want %s on %s by %q", e.Type, e.Stream, e.Actor, typ, stream, actor)
	}
	want, _ := json.Marshal(data)
	if string(e.Data) != string(want) {
		t.Errorf("%s data %s, want %s", typ, e.Data, want)
	}
}

func wantErr(t *testing.T, err, sentinel error, contains string) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("error %v (%T), want %v", err, err, sentinel)
	}
	if !strings.Contains(err.Error(), contains) {
		t.Fatalf("error %q does not say %q", err, contains)
	}
}

func TestLoginAuthenticateRevoke(t *testing.T) {
	f := newAuthFix(t)
	f.user("alice", false, "developer")
	pos := f.head()
	start := f.clock.Now()

	tok, u, err := f.auth.Login(f.ctx, "  Alice ", fixPassword) // names are typed loosely
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, "rd_") || len(tok) != 46 {
		t.Fatalf("token %q: want rd_ and 43 base64url characters", tok)
	}
	if u.Name != "alice" || u.Admin || !u.LastLogin.Equal(start) || u.Roles["blog"][0] != "developer" {
		t.Fatalf("user %+v", u)
	}
	evs := f.since(pos)
	if len(evs) != 2 {
		t.Fatalf("%d events, want login_succeeded and token.created", len(evs))
	}
	wantEvent(t, evs[0], catalog.TypeLoginSucceeded, "user/alice", "alice", catalog.UserRef{Name: "alice"})
	var created catalog.TokenEvent
	_ = evs[1].Decode(&created)
	wantEvent(t, evs[1], catalog.TypeTokenCreated, "user/alice", "alice",
		catalog.TokenEvent{User: "alice", ID: created.ID, Kind: TokenSession, ExpiresAt: start.Add(DefaultSessionTTL)})
	if !strings.HasPrefix(created.ID, "tk_") {
		t.Errorf("token id %q", created.ID)
	}

	for _, bearer := range []string{tok, "Bearer " + tok, "bearer  " + tok + " "} {
		v, info, err := f.auth.Authenticate(f.ctx, bearer)
		if err != nil {
			t.Fatalf("Authenticate(%q): %v", bearer, err)
		}
		if v.Name != "alice" || info.ID != created.ID || info.Kind != TokenSession || !info.ExpiresAt.Equal(start.Add(12*time.Hour)) {
			t.Fatalf("got %+v %+v", v, info)
		}
	}
	for _, bad := range []string{"", "Bearer", "rd_", "rd_" + strings.Repeat("A", 43), tok[:45], tok + "A", "xx" + tok[2:]} {
		if _, _, err := f.auth.Authenticate(f.ctx, bad); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("Authenticate(%q) = %v, want ErrUnauthorized", bad, err)
		}
	}
	list, _ := f.auth.Tokens("alice")
	if len(list) != 1 || list[0].ID != created.ID {
		t.Fatalf("tokens %+v", list)
	}

	pos = f.head()
	if err := f.auth.RevokeToken(f.ctx, "alice", created.ID); err != nil {
		t.Fatal(err)
	}
	evs = f.since(pos)
	if len(evs) != 1 {
		t.Fatalf("%d events, want token.revoked", len(evs))
	}
	wantEvent(t, evs[0], catalog.TypeTokenRevoked, "user/alice", "alice",
		catalog.TokenEvent{User: "alice", ID: created.ID, Kind: TokenSession, ExpiresAt: start.Add(DefaultSessionTTL)})
	_, _, err = f.auth.Authenticate(f.ctx, tok)
	wantErr(t, err, ErrUnauthorized, "revoked")
	if err := f.auth.RevokeToken(f.ctx, "alice", created.ID); err != nil || f.head() != pos+1 {
		t.Fatalf("second revoke: %v, %d events", err, f.head()-pos)
	}
	if _, ok := f.auth.Creds.tokenByHash(mustTokenHash(t, tok)); ok {
		t.Fatal("revoked token still in the credential store")
	}
	if list, _ := f.auth.Tokens("alice"); len(list) != 0 {
		t.Fatalf("tokens after revoke %+v", list)
	}
}

func mustTokenHash(t *testing.T, tok string) [32]byte {
	t.Helper()
	h, ok := parseSecretToken(tok)
	if !ok {
		t.Fatalf("not a token: %q", tok)
	}
	return h
}

func TestTokensExpire(t *testing.T) {
	f := newAuthFix(t)
	f.user("bob", false, "tester")
	session := f.login("bob")
	hour, hourInfo, err := f.auth.CreateToken(f.ctx, "bob", "ci", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	forever, foreverInfo, err := f.auth.CreateToken(f.ctx, "bob", "nightly backup", 0)
	if err != nil {
		t.Fatal(err)
	}
	if hourInfo.Kind != TokenPersonal || hourInfo.Name != "ci" || !hourInfo.ExpiresAt.Equal(f.clock.Now().Add(time.Hour)) || !foreverInfo.ExpiresAt.IsZero() {
		t.Fatalf("infos %+v %+v", hourInfo, foreverInfo)
	}

	f.clock.Advance(time.Hour - time.Second)
	for _, tok := range []string{session, hour, forever} {
		if _, _, err := f.auth.Authenticate(f.ctx, tok); err != nil {
			t.Fatalf("before expiry: %v", err)
		}
	}
	f.clock.Advance(time.Second)
	_, _, err = f.auth.Authenticate(f.ctx, hour)
	wantErr(t, err, ErrUnauthorized, "expired")
	f.clock.Advance(11 * time.Hour)
	_, _, err = f.auth.Authenticate(f.ctx, session)
	wantErr(t, err, ErrUnauthorized, "expired")
	f.clock.Advance(10000 * time.Hour)
	if _, _, err := f.auth.Authenticate(f.ctx, forever); err != nil {
		t.Fatalf("a token without expiry: %v", err)
	}

	// Expired tokens leave the store at its next write.
	if _, _, err := f.auth.CreateToken(f.ctx, "bob", "another", 0); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{session, hour} {
		if _, ok := f.auth.Creds.tokenByHash(mustTokenHash(t, tok)); ok {
			t.Error("an expired token is still stored")
		}
	}
}

func TestCreateTokenRules(t *testing.T) {
	f := newAuthFix(t)
	f.user("bob", false)
	for _, c := range []struct {
		name  string
		ttl   time.Duration
		field string
	}{
		{"", 0, "name"},
		{"   ", 0, "name"},
		{strings.Repeat("x", MaxTokenName+1), 0, "name"},
		{"tab\there", 0, "name"},
		{"ci", -time.Second, "ttl"},
	} {
		_, _, err := f.auth.CreateToken(f.ctx, "bob", c.name, c.ttl)
		var ie *InvalidError
		if !errors.As(err, &ie) || ie.Field != c.field || !errors.Is(err, ErrInvalid) {
			t.Errorf("CreateToken(%q, %v) = %v, want invalid %s", c.name, c.ttl, err, c.field)
		}
	}
	_, _, err := f.auth.CreateToken(f.ctx, "nobody", "ci", 0)
	wantErr(t, err, ErrForbidden, "signed-in user")
}

func TestRevokeAnotherUsersTokenNeedsAdmin(t *testing.T) {
	f := newAuthFix(t)
	f.user("root", true)
	f.user("alice", false, "developer")
	f.user("bob", false, "developer")
	tok, info, err := f.auth.CreateToken(f.ctx, "alice", "ci", 0)
	if err != nil {
		t.Fatal(err)
	}
	err = f.auth.RevokeToken(f.ctx, "bob", info.ID)
	wantErr(t, err, ErrForbidden, "revoking another user's token needs the admin role")
	if _, _, err := f.auth.Authenticate(f.ctx, tok); err != nil {
		t.Fatalf("refused revoke revoked anyway: %v", err)
	}
	wantErr(t, f.auth.RevokeToken(f.ctx, "root", "tk_nosuch"), ErrNotFound, "tk_nosuch")

	pos := f.head()
	if err := f.auth.RevokeToken(f.ctx, "root", info.ID); err != nil {
		t.Fatal(err)
	}
	wantEvent(t, f.since(pos)[0], catalog.TypeTokenRevoked, "user/alice", "root",
		catalog.TokenEvent{User: "alice", ID: info.ID, Name: "ci", Kind: TokenPersonal})
	if _, _, err := f.auth.Authenticate(f.ctx, tok); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("revoked token: %v", err)
	}
}

func TestWrongPasswordAndUnknownUserLookAlike(t *testing.T) {
	f := newAuthFix(t)
	f.user("alice", false)
	pos := f.head()

	runs := f.argonRuns.Load()
	_, _, wrong := f.auth.Login(f.ctx, "alice", "not the password")
	wrongRuns := f.argonRuns.Load() - runs
	runs = f.argonRuns.Load()
	_, _, unknown := f.auth.Login(f.ctx, "mallory", "not the password")
	unknownRuns := f.argonRuns.Load() - runs
	runs = f.argonRuns.Load()
	_, _, junk := f.auth.Login(f.ctx, "Ünïcode\x00 name that is much too long to be any user at all, really, truly", "x")
	junkRuns := f.argonRuns.Load() - runs

	if wrongRuns != 1 || unknownRuns != 1 || junkRuns != 1 {
		t.Fatalf("argon2 runs: wrong password %d, unknown user %d, junk name %d; want 1 each", wrongRuns, unknownRuns, junkRuns)
	}
	for _, err := range []error{wrong, unknown, junk} {
		wantErr(t, err, ErrUnauthorized, "wrong user name or password")
		if err.Error() != wrong.Error() {
			t.Errorf("answers differ: %q vs %q", err, wrong)
		}
	}
	evs := f.since(pos)
	if len(evs) != 3 {
		t.Fatalf("%d events, want 3 login_failed", len(evs))
	}
	wantEvent(t, evs[0], catalog.TypeLoginFailed, "user/alice", "alice", catalog.LoginFailed{Name: "alice", Reason: "bad_password"})
	wantEvent(t, evs[1], catalog.TypeLoginFailed, catalog.UnknownLoginStream, "", catalog.LoginFailed{Name: "mallory", Reason: "unknown_user"})
	if evs[2].Type != catalog.TypeLoginFailed || evs[2].Stream != catalog.UnknownLoginStream {
		t.Fatalf("junk name: %+v", evs[2])
	}
	if u, _ := f.auth.User("alice"); u.FailedLogins != 1 {
		t.Fatalf("failed logins %d", u.FailedLogins)
	}
	// A failed login of a name does not take the name: it can be created.
	if err := f.auth.CreateUser(f.ctx, SystemActor, "mallory", fixPassword, false, nil); err != nil {
		t.Fatal(err)
	}
}

func TestLockoutAfterFiveFailures(t *testing.T) {
	f := newAuthFix(t)
	f.user("alice", false)
	for i := 1; i <= 5; i++ {
		_, _, err := f.auth.Login(f.ctx, "alice", "wrong password")
		wantErr(t, err, ErrUnauthorized, "wrong user name or password")
		f.clock.Advance(time.Second)
	}
	u, _ := f.auth.User("alice")
	if u.FailedLogins != 5 || u.LockedUntil.IsZero() {
		t.Fatalf("after 5 failures: %+v", u)
	}

	// Locked: refused without looking at the password, recorded, and the
	// refusal counts: the wait doubles from now.
	f.clock.Advance(20 * time.Second) // 21 s after the 5th failure
	pos, runs := f.head(), f.argonRuns.Load()
	_, _, err := f.auth.Login(f.ctx, "alice", fixPassword)
	wantErr(t, err, ErrLocked, "try again in 1 min")
	var le *LockedError
	if !errors.As(err, &le) || le.RetrySeconds() != 60 || le.Failures != 6 {
		t.Fatalf("locked error %+v", le)
	}
	if f.argonRuns.Load() != runs {
		t.Fatal("a locked login ran argon2")
	}
	wantEvent(t, f.since(pos)[0], catalog.TypeLoginFailed, "user/alice", "alice", catalog.LoginFailed{Name: "alice", Reason: "locked"})

	// The wait grows with each further failure.
	f.clock.Advance(60 * time.Second)
	_, _, err = f.auth.Login(f.ctx, "alice", "wrong again")
	wantErr(t, err, ErrUnauthorized, "wrong")
	f.clock.Advance(119 * time.Second)
	_, _, err = f.auth.Login(f.ctx, "alice", fixPassword)
	if !errors.As(err, &le) || le.RetrySeconds() != 240 {
		t.Fatalf("want a 240 s wait after 8 failures, got %v", err)
	}

	// After the wait, the right password gets in and the count starts afresh.
	f.clock.Advance(240 * time.Second)
	if _, _, err := f.auth.Login(f.ctx, "alice", fixPassword); err != nil {
		t.Fatal(err)
	}
	if u, _ := f.auth.User("alice"); u.FailedLogins != 0 || !u.LockedUntil.IsZero() {
		t.Fatalf("after success: %+v", u)
	}
	_, _, err = f.auth.Login(f.ctx, "alice", "wrong")
	wantErr(t, err, ErrUnauthorized, "wrong")
}

func TestLockoutOfUnknownNamesLooksTheSame(t *testing.T) {
	f := newAuthFix(t)
	f.user("alice", false)
	for i := 0; i < 5; i++ {
		_, _, e1 := f.auth.Login(f.ctx, "alice", "wrong password")
		_, _, e2 := f.auth.Login(f.ctx, "ghost", "wrong password")
		if e1.Error() != e2.Error() {
			t.Fatalf("failure %d: %q vs %q", i+1, e1, e2)
		}
	}
	f.clock.Advance(10 * time.Second)
	runs := f.argonRuns.Load()
	_, _, e1 := f.auth.Login(f.ctx, "alice", "wrong password")
	_, _, e2 := f.auth.Login(f.ctx, "ghost", "wrong password")
	if !errors.Is(e1, ErrLocked) || !errors.Is(e2, ErrLocked) || e1.Error() != e2.Error() || f.argonRuns.Load() != runs {
		t.Fatalf("locked answers: %q, %q (argon2 runs %d)", e1, e2, f.argonRuns.Load()-runs)
	}
}

func TestLockoutDelays(t *testing.T) {
	for n, want := range map[int]time.Duration{
		0: 0, 4: 0, 5: 30 * time.Second, 6: time.Minute, 7: 2 * time.Minute, 8: 4 * time.Minute,
		9: 8 * time.Minute, 10: 15 * time.Minute, 11: 15 * time.Minute, 1000: 15 * time.Minute,
	} {
		if got := lockoutDelay(n); got != want {
			t.Errorf("lockoutDelay(%d) = %v, want %v", n, got, want)
		}
	}
	last := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if w := lockoutWait(5, last, last.Add(10*time.Second)); w != 20*time.Second {
		t.Errorf("wait %v", w)
	}
	if w := lockoutWait(5, last, last.Add(31*time.Second)); w != 0 {
		t.Errorf("wait %v", w)
	}
}

func TestEnableLiftsALockout(t *testing.T) {
	f := newAuthFix(t)
	f.user("root", true)
	f.user("alice", false)
	for i := 0; i < 5; i++ {
		_, _, _ = f.auth.Login(f.ctx, "alice", "wrong password")
	}
	if _, _, err := f.auth.Login(f.ctx, "alice", fixPassword); !errors.Is(err, ErrLocked) {
		t.Fatalf("want locked: %v", err)
	}
	if err := f.auth.Enable(f.ctx, "root", "alice", "she called"); err != nil {
		t.Fatal(err)
	}
	f.login("alice")
}

func TestDisabledUserCannotLogInOrAuthenticate(t *testing.T) {
	f := newAuthFix(t)
	f.user("root", true)
	f.user("bob", false, "developer")
	session := f.login("bob")
	personal, _, err := f.auth.CreateToken(f.ctx, "bob", "ci", 0)
	if err != nil {
		t.Fatal(err)
	}

	wantErr(t, f.auth.Disable(f.ctx, "bob", "root", "coup"), ErrForbidden, "managing users needs the admin role")
	pos := f.head()
	if err := f.auth.Disable(f.ctx, "root", "bob", "left the team"); err != nil {
		t.Fatal(err)
	}
	wantEvent(t, f.since(pos)[0], catalog.TypeUserDisabled, "user/bob", "root", catalog.UserRef{Name: "bob", Reason: "left the team"})
	if err := f.auth.Disable(f.ctx, "root", "bob", "again"); err != nil || f.head() != pos+1 {
		t.Fatalf("disabling twice: %v, %d events", err, f.head()-pos)
	}
	for _, tok := range []string{session, personal} {
		_, _, err := f.auth.Authenticate(f.ctx, tok)
		wantErr(t, err, ErrUnauthorized, "user bob is disabled")
	}
	pos = f.head()
	_, _, err = f.auth.Login(f.ctx, "bob", fixPassword)
	wantErr(t, err, ErrUnauthorized, "user bob is disabled")
	_, _, err = f.auth.Login(f.ctx, "bob", "wrong password")
	wantErr(t, err, ErrUnauthorized, "wrong user name or password") // a wrong password learns nothing
	evs := f.since(pos)
	wantEvent(t, evs[0], catalog.TypeLoginFailed, "user/bob", "bob", catalog.LoginFailed{Name: "bob", Reason: "disabled"})
	wantEvent(t, evs[1], catalog.TypeLoginFailed, "user/bob", "bob", catalog.LoginFailed{Name: "bob", Reason: "bad_password"})
	if ok, rule := Can(mustView(t, f, "bob"), "blog", ActionReleaseOpen); ok || rule != "user bob is disabled" {
		t.Fatalf("Can of a disabled user: %v %q", ok, rule)
	}

	pos = f.head()
	if err := f.auth.Enable(f.ctx, "root", "bob", "back"); err != nil {
		t.Fatal(err)
	}
	wantEvent(t, f.since(pos)[0], catalog.TypeUserEnabled, "user/bob", "root", catalog.UserRef{Name: "bob", Reason: "back"})
	if _, _, err := f.auth.Authenticate(f.ctx, personal); err != nil {
		t.Fatalf("enabled again: %v", err)
	}
	f.login("bob")
	if err := f.auth.Enable(f.ctx, "root", "bob", ""); err != nil || f.head() != pos+3 {
		t.Fatalf("enabling an enabled user: %v, %d events", err, f.head()-pos)
	}
	wantErr(t, f.auth.Disable(f.ctx, "root", "nobody", ""), ErrNotFound, "nobody")
	wantErr(t, f.auth.Disable(f.ctx, "root", "bob", strings.Repeat("x", 501)), ErrInvalid, "reason")
}

func mustView(t *testing.T, f *authFix, name string) UserView {
	t.Helper()
	u, err := f.auth.User(name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestPasswordChangeRevokesSessions(t *testing.T) {
	f := newAuthFix(t)
	f.user("root", true)
	f.user("bob", false)
	s1, s2 := f.login("bob"), f.login("bob")
	personal, _, err := f.auth.CreateToken(f.ctx, "bob", "ci", 0)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, tok := range []string{s1, s2} {
		_, info, _ := f.auth.Authenticate(f.ctx, tok)
		ids[info.ID] = true
	}

	wantErr(t, f.auth.SetPassword(f.ctx, "bob", "bob", "short"), ErrInvalid, "password")
	wantErr(t, f.auth.SetPassword(f.ctx, "bob", "root", "a new long password"), ErrForbidden, "managing users needs the admin role")
	pos := f.head()
	const newPassword = "a much better passphrase"
	if err := f.auth.SetPassword(f.ctx, "bob", "bob", newPassword); err != nil {
		t.Fatal(err)
	}
	evs := f.since(pos)
	if len(evs) != 3 {
		t.Fatalf("%d events, want password_changed and 2 token.revoked", len(evs))
	}
	wantEvent(t, evs[0], catalog.TypeUserPasswordChanged, "user/bob", "bob", catalog.UserRef{Name: "bob"})
	for _, e := range evs[1:] {
		var te catalog.TokenEvent
		_ = e.Decode(&te)
		if e.Type != catalog.TypeTokenRevoked || !ids[te.ID] || te.Kind != TokenSession || e.Actor != "bob" {
			t.Errorf("revocation %s %s", e.Type, e.Data)
		}
	}
	for _, tok := range []string{s1, s2} {
		_, _, err := f.auth.Authenticate(f.ctx, tok)
		wantErr(t, err, ErrUnauthorized, "")
	}
	if _, _, err := f.auth.Authenticate(f.ctx, personal); err != nil {
		t.Fatalf("a personal token survives a password change: %v", err)
	}
	if _, _, err := f.auth.Login(f.ctx, "bob", fixPassword); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("old password: %v", err)
	}
	if _, _, err := f.auth.Login(f.ctx, "bob", newPassword); err != nil {
		t.Fatal(err)
	}
	// An admin sets another's password.
	pos = f.head()
	if err := f.auth.SetPassword(f.ctx, "root", "bob", fixPassword); err != nil {
		t.Fatal(err)
	}
	wantEvent(t, f.since(pos)[0], catalog.TypeUserPasswordChanged, "user/bob", "root", catalog.UserRef{Name: "bob"})
	f.login("bob")
	wantErr(t, f.auth.SetPassword(f.ctx, "root", "nobody", fixPassword), ErrNotFound, "nobody")
}

func TestLoginRehashesAnOutdatedHash(t *testing.T) {
	f := newAuthFix(t)
	f.user("alice", false)
	old, _ := f.auth.Creds.passwordHash("alice")
	f.auth.Argon = ArgonParams{Memory: 128, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32} // raised later
	f.login("alice")
	fresh, _ := f.auth.Creds.passwordHash("alice")
	if fresh == old || !strings.Contains(fresh, "$m=128,t=2,p=1$") {
		t.Fatalf("hash %q after login (was %q)", fresh, old)
	}
	f.login("alice")
}

func TestNoSecretReachesTheLog(t *testing.T) {
	f := newAuthFix(t)
	f.user("root", true)
	f.user("alice", false, "developer", "tester")
	secrets := []string{fixPassword}
	session := f.login("alice")
	personal, _, err := f.auth.CreateToken(f.ctx, "alice", "ci", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	const newPassword = "another secret passphrase"
	if err := f.auth.SetPassword(f.ctx, "root", "alice", newPassword); err != nil {
		t.Fatal(err)
	}
	_, _, _ = f.auth.Login(f.ctx, "alice", "a wrong guess 12345")
	second := f.login("root")
	secrets = append(secrets, newPassword, "a wrong guess 12345", session, personal, second)

	// The stored hashes, and their parts, must not be in the log either.
	creds, err := OpenCredentials(f.credsPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, phc := range creds.passwords {
		h, _ := parsePHC(phc)
		secrets = append(secrets, phc, phcB64.EncodeToString(h.salt), phcB64.EncodeToString(h.key))
	}
	for _, tok := range creds.tokens {
		secrets = append(secrets, tok.Hash)
	}
	for _, tok := range []string{session, personal, second} {
		secrets = append(secrets, strings.TrimPrefix(tok, tokenPrefix))
	}
	if len(creds.tokens) < 2 {
		t.Fatalf("%d tokens stored", len(creds.tokens))
	}
	for _, e := range f.envelopes() {
		whole, _ := json.Marshal(e)
		for _, s := range secrets {
			if strings.Contains(string(whole), s) {
				t.Errorf("event %d (%s) carries a secret %q", e.Position, e.Type, s)
			}
		}
	}
}
