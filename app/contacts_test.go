package app

import (
	"errors"
	"strings"
	"testing"

	"releasedesk/events/catalog"
)

// TestSetContacts: a user sets their own handles, an admin anyone's,
// nobody else's; each bad handle is refused naming its field and changes
// nothing; the same handles again record nothing; empty clears.
func TestSetContacts(t *testing.T) {
	f := newAuthFix(t)
	f.user("root", true)
	f.user("alice", false, "developer")
	f.user("bob", false, "tester")
	pos := f.head()
	good := Contacts{Email: "alice@example.com", Mobile: "+8613800138000", Feishu: "ou_7d8a6e6df7621556ce0d21922b676706ccs", Slack: "U012AB3CD"}

	wantErr(t, f.auth.SetContacts(f.ctx, "bob", "alice", good), ErrForbidden, "managing users")
	wantErr(t, f.auth.SetContacts(f.ctx, "root", "nobody", good), ErrNotFound, "nobody")
	for _, c := range []struct {
		field string
		set   func(*Contacts)
	}{
		{"contacts.email", func(c *Contacts) { c.Email = "not-an-address" }},
		{"contacts.email", func(c *Contacts) { c.Email = "Alice <alice@example.com>" }},
		{"contacts.email", func(c *Contacts) { c.Email = "alice@example.com\n" }},
		{"contacts.email", func(c *Contacts) { c.Email = strings.Repeat("a", 250) + "@example.com" }},
		{"contacts.mobile", func(c *Contacts) { c.Mobile = "12345" }},
		{"contacts.mobile", func(c *Contacts) { c.Mobile = "138-0013-8000" }},
		{"contacts.mobile", func(c *Contacts) { c.Mobile = "++8613800138000" }},
		{"contacts.mobile", func(c *Contacts) { c.Mobile = strings.Repeat("1", 21) }},
		{"contacts.feishu", func(c *Contacts) { c.Feishu = "ou_ x" }},
		{"contacts.feishu", func(c *Contacts) { c.Feishu = "ou_\x00" }},
		{"contacts.feishu", func(c *Contacts) { c.Feishu = strings.Repeat("x", 129) }},
		{"contacts.feishu", func(c *Contacts) { c.Feishu = "ALL" }},
		{"contacts.slack", func(c *Contacts) { c.Slack = "@alice" }},
		{"contacts.slack", func(c *Contacts) { c.Slack = "u012ab3cd" }},
		{"contacts.slack", func(c *Contacts) { c.Slack = "U" + strings.Repeat("A", 21) }},
	} {
		in := good
		c.set(&in)
		err := f.auth.SetContacts(f.ctx, "alice", "alice", in)
		var inv *InvalidError
		if !errors.As(err, &inv) || inv.Field != c.field {
			t.Errorf("%+v: %v, want an InvalidError on %s", in, err, c.field)
		}
	}
	if f.head() != pos {
		t.Fatalf("refusals wrote %d events", f.head()-pos)
	}

	if err := f.auth.SetContacts(f.ctx, "alice", "alice", good); err != nil {
		t.Fatal(err)
	}
	wantEvent(t, f.since(pos)[0], catalog.TypeUserContactsSet, "user/alice", "alice",
		catalog.UserContactsSet{Name: "alice", Contacts: catalog.Contacts(good)})
	if u := mustView(t, f, "alice"); u.Contacts == nil || *u.Contacts != good {
		t.Fatalf("alice's contacts: %+v", u.Contacts)
	}
	if err := f.auth.SetContacts(f.ctx, "alice", "alice", good); err != nil || f.head() != pos+1 {
		t.Fatalf("the same contacts again: %v, %d events", err, f.head()-pos)
	}
	// An admin clears one handle and sets another; a Feishu handle may be an email.
	next := good
	next.Slack, next.Feishu = "", "alice@example.com"
	if err := f.auth.SetContacts(f.ctx, "root", "alice", next); err != nil {
		t.Fatal(err)
	}
	wantEvent(t, f.since(pos)[1], catalog.TypeUserContactsSet, "user/alice", "root",
		catalog.UserContactsSet{Name: "alice", Contacts: catalog.Contacts(next)})
	if u := mustView(t, f, "alice"); *u.Contacts != next {
		t.Fatalf("alice's contacts after root's change: %+v", u.Contacts)
	}
}

// TestContactsFor: the user themself and an admin see the handles, anyone
// else does not.
func TestContactsFor(t *testing.T) {
	c := &Contacts{Email: "alice@example.com"}
	alice := UserView{Name: "alice", Roles: map[string][]string{"shop": {"developer"}}, Contacts: c}
	root := UserView{Name: "root", Admin: true}
	bob := UserView{Name: "bob", Roles: map[string][]string{"shop": {"approver"}}}
	if ContactsFor(alice, alice).Contacts != c || ContactsFor(root, alice).Contacts != c {
		t.Fatal("alice or an admin does not see alice's contacts")
	}
	if v := ContactsFor(bob, alice); v.Contacts != nil || v.Name != "alice" {
		t.Fatalf("bob sees %+v", v)
	}
}
