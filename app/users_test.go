package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"releasedesk/events"
	"releasedesk/events/catalog"
)

func TestCreateUserWritesUserCreated(t *testing.T) {
	f := newAuthFix(t)
	f.user("root", true)
	pos := f.head()
	roles := map[string][]string{"blog": {"tester", "developer", "tester"}, "shop": {"manager"}, "empty": {}}
	if err := f.auth.CreateUser(f.ctx, "root", "alice.b-c_d", fixPassword, false, roles); err != nil {
		t.Fatal(err)
	}
	evs := f.since(pos)
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	wantEvent(t, evs[0], catalog.TypeUserCreated, "user/alice.b-c_d", "root", catalog.UserCreated{
		Name: "alice.b-c_d", Roles: map[string][]string{"blog": {"developer", "tester"}, "shop": {"manager"}}})
	u := mustView(t, f, "alice.b-c_d")
	if u.CreatedBy != "root" || u.Admin || len(u.Roles) != 2 || !u.Created.Equal(f.clock.Now()) {
		t.Fatalf("view %+v", u)
	}
	if _, ok := f.auth.Creds.passwordHash("alice.b-c_d"); !ok {
		t.Fatal("no password stored")
	}
	f.login("alice.b-c_d")
	if all := f.auth.Users(); len(all) != 2 || all[0].Name != "alice.b-c_d" || all[1].Name != "root" {
		t.Fatalf("users %+v", all)
	}
	if _, err := f.auth.User("nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("User(nobody) = %v", err)
	}
}

func TestCreateUserValidation(t *testing.T) {
	f := newAuthFix(t)
	f.user("root", true)
	f.user("dev", false, "developer")
	long := strings.Repeat("p", 1025)
	for _, c := range []struct {
		name, password string
		roles          map[string][]string
		field          string
	}{
		{"A", fixPassword, nil, "name"},
		{"a", fixPassword, nil, "name"},
		{"Alice", fixPassword, nil, "name"},
		{"1alice", fixPassword, nil, "name"},
		{"al ice", fixPassword, nil, "name"},
		{"a" + strings.Repeat("b", 32), fixPassword, nil, "name"},
		{"system", fixPassword, nil, "name"},
		{"runner", fixPassword, nil, "name"},
		{"alice", "", nil, "password"},
		{"alice", "nine char", nil, "password"},
		{"alice", long, nil, "password"},
		{"alice", fixPassword, map[string][]string{"blog": {"boss"}}, "roles.blog[0]"},
		{"alice", fixPassword, map[string][]string{"blog": {"developer", "admin"}}, "roles.blog[1]"},
		{"alice", fixPassword, map[string][]string{"Blog!": {"developer"}}, "roles.Blog!"},
		{"alice", fixPassword, map[string][]string{"": {"developer"}}, "roles."},
	} {
		err := f.auth.CreateUser(f.ctx, "root", c.name, c.password, false, c.roles)
		var ie *InvalidError
		if !errors.As(err, &ie) || ie.Field != c.field || !errors.Is(err, ErrInvalid) {
			t.Errorf("CreateUser(%q, %d-char password, %v) = %v, want invalid %s", c.name, len(c.password), c.roles, err, c.field)
		}
	}
	// The longest name and password allowed pass; a ten-character one too.
	if err := f.auth.CreateUser(f.ctx, "root", "a"+strings.Repeat("b", 31), strings.Repeat("é", 1024), false, nil); err != nil {
		t.Fatal(err)
	}
	if err := f.auth.CreateUser(f.ctx, "root", "ten", "0123456789", false, nil); err != nil {
		t.Fatal(err)
	}
	wantErr(t, f.auth.CreateUser(f.ctx, "dev", "eve", fixPassword, true, nil), ErrForbidden, "managing users needs the admin role")
	wantErr(t, f.auth.CreateUser(f.ctx, "ghost", "eve", fixPassword, true, nil), ErrForbidden, "signed-in user")
}

func TestCreateUserTwiceConflicts(t *testing.T) {
	f := newAuthFix(t)
	f.user("alice", false)
	pos := f.head()
	err := f.auth.CreateUser(f.ctx, SystemActor, "alice", "another password", true, nil)
	wantErr(t, err, ErrConflict, "user alice already exists")
	if f.head() != pos {
		t.Fatal("a refused creation wrote an event")
	}
	f.login("alice") // the first password stands
}

// Two Auths over one log (their locks apart) create one name at once:
// the log's expected version lets exactly one win, and the losers leave
// the winner's password alone.
func TestConcurrentCreateUserOneWins(t *testing.T) {
	f := newAuthFix(t)
	other := &Auth{Log: f.log, Set: f.set, Creds: f.auth.Creds, Now: f.clock.Now, Argon: cheapArgon}
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			a := f.auth
			if i%2 == 1 {
				a = other
			}
			errs[i] = a.CreateUser(f.ctx, SystemActor, "carol", fmt.Sprintf("password number %d", i), false, nil)
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner < 0:
			winner = i
		case err == nil:
			t.Fatalf("two creations won: %d and %d", winner, i)
		default:
			wantErr(t, err, ErrConflict, "user carol already exists")
		}
	}
	if winner < 0 {
		t.Fatal("no creation won")
	}
	created := 0
	for _, e := range f.envelopes() {
		if e.Type == catalog.TypeUserCreated {
			created++
		}
	}
	if created != 1 {
		t.Fatalf("%d user.created events", created)
	}
	phc := mustPHC(t, f.auth, "carol")
	for i := range n {
		if ok, _ := verifyPassword(f.ctx, nil, fmt.Sprintf("password number %d", i), phc); ok != (i == winner) {
			t.Errorf("stored hash matches password %d: %v (winner %d)", i, ok, winner)
		}
	}
	if _, _, err := f.auth.Login(f.ctx, "carol", fmt.Sprintf("password number %d", winner)); err != nil {
		t.Fatal(err)
	}
}

func TestSetRoles(t *testing.T) {
	f := newAuthFix(t)
	f.user("root", true)
	f.user("alice", false, "developer")
	pos := f.head()

	if err := f.auth.SetRoles(f.ctx, "root", "alice", false, map[string][]string{"blog": {"developer"}}); err != nil || f.head() != pos {
		t.Fatalf("unchanged grant: %v, %d events", err, f.head()-pos)
	}
	grant := map[string][]string{"blog": {"approver", "developer"}, "shop": {"tester"}}
	if err := f.auth.SetRoles(f.ctx, "root", "alice", false, grant); err != nil {
		t.Fatal(err)
	}
	wantEvent(t, f.since(pos)[0], catalog.TypeUserRolesChanged, "user/alice", "root", catalog.UserRolesChanged{
		Name: "alice", Roles: map[string][]string{"blog": {"developer", "approver"}, "shop": {"tester"}}})
	if ok, _ := Can(mustView(t, f, "alice"), "blog", ActionReleaseApprove); !ok {
		t.Fatal("the new role does not count")
	}

	wantErr(t, f.auth.SetRoles(f.ctx, "alice", "alice", true, nil), ErrForbidden, "managing users needs the admin role")
	wantErr(t, f.auth.SetRoles(f.ctx, "root", "nobody", false, nil), ErrNotFound, "nobody")
	wantErr(t, f.auth.SetRoles(f.ctx, "root", "alice", false, map[string][]string{"blog": {"god"}}), ErrInvalid, "roles.blog[0]")

	// The last enabled admin keeps admin; with a second admin it may go.
	wantErr(t, f.auth.SetRoles(f.ctx, "root", "root", false, nil), ErrConflict, "root is the last enabled admin")
	wantErr(t, f.auth.Disable(f.ctx, "root", "root", ""), ErrConflict, "last enabled admin")
	if err := f.auth.SetRoles(f.ctx, "root", "alice", true, nil); err != nil {
		t.Fatal(err)
	}
	if err := f.auth.SetRoles(f.ctx, "alice", "root", false, nil); err != nil {
		t.Fatal(err)
	}
	if u := mustView(t, f, "root"); u.Admin {
		t.Fatal("root is still admin")
	}
}

// BootstrapUserRoles creates the first admin on a real Badger log without a
// server; the user survives a reopen of the log and the credential file.
func TestBootstrapUserOnBadger(t *testing.T) {
	dir := t.TempDir()
	data := DataDir{Path: dir}
	ctx := context.Background()
	store, err := events.Open(data.EventsPath(), events.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := BootstrapUserRoles(ctx, store, data.CredentialsPath(), "root", fixPassword, true, nil); err != nil {
		t.Fatal(err)
	}
	wantErr(t, BootstrapUserRoles(ctx, store, data.CredentialsPath(), "root", "other password", true, nil), ErrConflict, "user root already exists")
	wantErr(t, BootstrapUserRoles(ctx, store, data.CredentialsPath(), "R", fixPassword, true, nil), ErrInvalid, "name")
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, CredentialsFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials mode %v", fi.Mode().Perm())
	}

	store, err = events.Open(data.EventsPath(), events.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	f := newAuthFixOn(t, &authClock{t: time.Now()}, store, data.CredentialsPath())
	f.auth.Now = time.Now
	if !strings.HasPrefix(mustPHC(t, f.auth, "root"), "$argon2id$v=19$m=65536,t=2,p=2$") {
		t.Fatal("BootstrapUserRoles did not use the default parameters")
	}
	f.auth.Argon = DefaultArgon
	tok, u, err := f.auth.Login(ctx, "root", fixPassword)
	if err != nil {
		t.Fatal(err)
	}
	if !u.Admin || u.CreatedBy != SystemActor {
		t.Fatalf("bootstrapped user %+v", u)
	}
	if _, _, err := f.auth.Authenticate(ctx, tok); err != nil {
		t.Fatal(err)
	}
}

func mustPHC(t *testing.T, a *Auth, name string) string {
	t.Helper()
	phc, ok := a.Creds.passwordHash(name)
	if !ok {
		t.Fatalf("no hash for %s", name)
	}
	return phc
}

func TestSetLanguage(t *testing.T) {
	f := newAuthFix(t)
	f.user("root", true)
	f.user("alice", false, "developer")
	pos := f.head()
	wantErr(t, f.auth.SetLanguage(f.ctx, "root", "alice", "zh-CN"), ErrForbidden, "their own language")
	wantErr(t, f.auth.SetLanguage(f.ctx, "alice", "alice", "de"), ErrInvalid, "want one of en, zh-CN")
	wantErr(t, f.auth.SetLanguage(f.ctx, "nobody", "nobody", "en"), ErrNotFound, "nobody")
	if f.head() != pos {
		t.Fatalf("refusals wrote %d events", f.head()-pos)
	}
	if err := f.auth.SetLanguage(f.ctx, "alice", "alice", "zh-CN"); err != nil {
		t.Fatal(err)
	}
	wantEvent(t, f.since(pos)[0], catalog.TypeUserLanguageSet, "user/alice", "alice", catalog.UserLanguageSet{Name: "alice", Language: "zh-CN"})
	if u := mustView(t, f, "alice"); u.Language != "zh-CN" {
		t.Fatalf("alice's language: %q", u.Language)
	}
	if err := f.auth.SetLanguage(f.ctx, "alice", "alice", "zh-CN"); err != nil || f.head() != pos+1 {
		t.Fatalf("the same choice again: %v, %d events", err, f.head()-pos)
	}
}
