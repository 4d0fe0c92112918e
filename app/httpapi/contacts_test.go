package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"releasedesk/app/httpapi/apitest"
)

// TestContactsSelfAndAdmin: PUT /api/v1/users/{name}/contacts sets a
// user's handles, by the user themself or an admin and by nobody else;
// each bad handle is refused naming contacts.<handle> and changes nothing;
// the same handles again record nothing; /me, GET /users and GET
// /users/{name} answer them.
func TestContactsSelfAndAdmin(t *testing.T) {
	e := apitest.New(t, apitest.Options{NoRunner: true})
	root := e.Login("root", apitest.RootPassword)
	ann := e.AddUser(root, "ann", false, map[string][]string{"shop": {"tester"}})
	bob := e.AddUser(root, "bob", false, map[string][]string{"shop": {"approver"}})
	good := map[string]string{"email": "ann@example.com", "mobile": "+8613800138000", "feishu": "ou_84aad35d084aa403a838cf73ee18467", "slack": "U012AB3CD"}
	with := func(k, v string) map[string]any {
		m := map[string]any{}
		for gk, gv := range good {
			m[gk] = gv
		}
		m[k] = v
		return m
	}

	head := e.Desk.Log.Head().Position
	if r := e.Call("PUT", "/api/v1/users/ann/contacts", bob, good); r.Status != http.StatusForbidden {
		t.Fatalf("bob sets ann's contacts: %d %s", r.Status, r.Raw)
	}
	for _, c := range []struct {
		body  any
		field string
	}{
		{with("email", "ann"), "contacts.email"},
		{with("email", "Ann <ann@example.com>"), "contacts.email"},
		{with("email", strings.Repeat("a", 300)+"@example.com"), "contacts.email"},
		{with("mobile", "1380013"+"-8000"), "contacts.mobile"},
		{with("mobile", "12345"), "contacts.mobile"},
		{with("feishu", "ou_1 2"), "contacts.feishu"},
		{with("feishu", strings.Repeat("f", 129)), "contacts.feishu"},
		{with("slack", "ann"), "contacts.slack"},
		{with("slack", "<@U012AB3CD>"), "contacts.slack"},
		{map[string]any{"email": 7}, "email"},
		{map[string]any{"email": "ann@example.com", "telegram": "@ann"}, "telegram"},
		{map[string]any{"email": strings.Repeat("x", 100<<10)}, ""},
	} {
		r := e.Call("PUT", "/api/v1/users/ann/contacts", ann, c.body)
		if r.Status/100 != 4 || (c.field != "" && (r.Status != http.StatusBadRequest || apitest.Str(r.Body, "error", "field") != c.field)) {
			t.Errorf("%v: %d %s, want a 4xx naming %q", c.body, r.Status, r.Raw, c.field)
		}
	}
	if r := e.Call("PUT", "/api/v1/users/nobody/contacts", root, good); r.Status != http.StatusNotFound {
		t.Errorf("contacts of nobody: %d %s", r.Status, r.Raw)
	}
	if got := e.Desk.Log.Head().Position; got != head {
		t.Fatalf("refused contacts wrote %d events", got-head)
	}

	r := e.Must(http.StatusOK, "PUT", "/api/v1/users/ann/contacts", ann, good)
	if apitest.Str(r.Body, "name") != "ann" || apitest.Str(r.Body, "contacts", "mobile") != "+8613800138000" {
		t.Fatalf("ann's own contacts: %s", r.Raw)
	}
	after := e.Desk.Log.Head().Position
	if after != head+1 {
		t.Fatalf("the contacts wrote %d events, want 1", after-head)
	}
	e.Must(http.StatusOK, "PUT", "/api/v1/users/ann/contacts", ann, good)
	if e.Desk.Log.Head().Position != after {
		t.Fatalf("the same contacts again wrote an event")
	}
	r = e.Must(http.StatusOK, "PUT", "/api/v1/users/ann/contacts", root, with("slack", ""))
	if apitest.Str(r.Body, "contacts", "slack") != "" || apitest.Str(r.Body, "contacts", "email") != "ann@example.com" {
		t.Fatalf("root clears ann's slack: %s", r.Raw)
	}
	if r := e.Must(http.StatusOK, "GET", "/api/v1/me", ann, nil); apitest.Str(r.Body, "user", "contacts", "feishu") != good["feishu"] {
		t.Fatalf("/me: %s", r.Raw)
	}
	if r := e.Must(http.StatusOK, "GET", "/api/v1/users/ann", root, nil); apitest.Str(r.Body, "contacts", "email") != "ann@example.com" {
		t.Fatalf("an admin reads ann: %s", r.Raw)
	}
	if r := e.Must(http.StatusOK, "GET", "/api/v1/users", root, nil); !strings.Contains(string(r.Raw), "+8613800138000") {
		t.Fatalf("an admin lists users: %s", r.Raw)
	}
	audit := e.Must(http.StatusOK, "GET", "/api/v1/audit?type=user.contacts_set", root, nil)
	if !strings.Contains(string(audit.Raw), "ann changed their contact handles") ||
		!strings.Contains(string(audit.Raw), "root changed the contact handles of ann") {
		t.Fatalf("the audit trail: %s", audit.Raw)
	}
}

// TestContactsHiddenFromOthers: contact handles are personal data. In
// offline review anyone may list the users, and sees nobody's handles.
func TestContactsHiddenFromOthers(t *testing.T) {
	e := apitest.New(t, apitest.Options{NoRunner: true})
	root := e.Login("root", apitest.RootPassword)
	ann := e.AddUser(root, "ann", false, map[string][]string{"shop": {"tester"}})
	e.Must(http.StatusOK, "PUT", "/api/v1/users/ann/contacts", ann, map[string]string{"email": "ann@example.com"})
	if r := e.Call("GET", "/api/v1/users/root", ann, nil); r.Status != http.StatusForbidden {
		t.Fatalf("ann reads root: %d %s", r.Status, r.Raw)
	}
	file, _ := e.Export(root)
	off := apitest.ServeArchive(t, file, apitest.Options{})
	reviewer := off.Review()
	for _, path := range []string{"/api/v1/users", "/api/v1/users/ann"} {
		r := off.Must(http.StatusOK, "GET", path, reviewer, nil)
		if !strings.Contains(string(r.Raw), `"ann"`) || strings.Contains(string(r.Raw), "contacts") || strings.Contains(string(r.Raw), "ann@example.com") {
			t.Errorf("GET %s in review: %s", path, r.Raw)
		}
	}
}
