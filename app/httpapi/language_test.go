package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"releasedesk/app/httpapi/apitest"
)

// TestLanguageIsEachUsersChoice: PUT /api/v1/me/language records the
// signed-in user's language as an event, /me answers it from then on, the
// same choice again records nothing, and bad input names the field and
// changes nothing.
func TestLanguageIsEachUsersChoice(t *testing.T) {
	e := apitest.New(t, apitest.Options{NoRunner: true})
	root := e.Login("root", apitest.RootPassword)
	ann := e.AddUser(root, "ann", false, map[string][]string{"shop": {"tester"}})
	if r := e.Must(http.StatusOK, "GET", "/api/v1/me", ann, nil); apitest.Str(r.Body, "user", "language") != "" {
		t.Fatalf("a language before any choice: %s", r.Raw)
	}
	head := e.Desk.Log.Head().Position
	for _, c := range []struct {
		body  any
		field string
	}{
		{map[string]any{}, "language"},
		{map[string]any{"language": "fr"}, "language"},
		{map[string]any{"language": "zh-cn "}, "language"},
		{map[string]any{"language": 7}, "language"},
		{map[string]any{"language": "en", "theme": "dark"}, "theme"},
		{map[string]any{"language": strings.Repeat("x", 100<<10)}, ""},
	} {
		r := e.Call("PUT", "/api/v1/me/language", ann, c.body)
		if r.Status/100 != 4 || (c.field != "" && apitest.Str(r.Body, "error", "field") != c.field) {
			t.Errorf("%v: %d %s, want a 4xx naming %q", c.body, r.Status, r.Raw, c.field)
		}
	}
	if got := e.Desk.Log.Head().Position; got != head {
		t.Fatalf("refused choices wrote %d events", got-head)
	}

	r := e.Must(http.StatusOK, "PUT", "/api/v1/me/language", ann, map[string]string{"language": "zh-CN"})
	if apitest.Str(r.Body, "name") != "ann" || apitest.Str(r.Body, "language") != "zh-CN" {
		t.Fatalf("the choice: %s", r.Raw)
	}
	if r := e.Must(http.StatusOK, "GET", "/api/v1/me", ann, nil); apitest.Str(r.Body, "user", "language") != "zh-CN" {
		t.Fatalf("/me after the choice: %s", r.Raw)
	}
	if r := e.Must(http.StatusOK, "GET", "/api/v1/me", root, nil); apitest.Str(r.Body, "user", "language") != "" {
		t.Fatalf("ann's choice is root's too: %s", r.Raw)
	}
	after := e.Desk.Log.Head().Position
	if after != head+1 {
		t.Fatalf("the choice wrote %d events, want 1", after-head)
	}
	e.Must(http.StatusOK, "PUT", "/api/v1/me/language", ann, map[string]string{"language": "zh-CN"})
	if e.Desk.Log.Head().Position != after {
		t.Fatalf("the same choice again wrote an event")
	}
	audit := e.Must(http.StatusOK, "GET", "/api/v1/audit?type=user.language_set", root, nil)
	if !strings.Contains(string(audit.Raw), "ann chose zh-CN as their language") {
		t.Fatalf("the audit trail: %s", audit.Raw)
	}
}
