package app

import (
	"net/http"
	"testing"
)

func TestAPISmokeLoginAndMe(t *testing.T) {
	e := newAPIEnv(t, apiOptions{noRunner: true})
	tok := e.login("root", rootPassword)
	r := e.must(http.StatusOK, "GET", "/api/v1/me", tok, nil)
	if str(r.Body, "user", "name") != "root" {
		t.Fatalf("me: %s", r.Raw)
	}
	if r := e.call("GET", "/api/v1/me", "", nil); r.Status != 401 || r.errCode() != "unauthorized" {
		t.Fatalf("me without token: %d %s", r.Status, r.Raw)
	}
	if r := e.call("POST", "/api/v1/releases", tok, map[string]any{"project": "nope", "branch": "b", "title": "t", "bogus": 1}); r.Status != 400 || str(r.Body, "error", "field") != "bogus" {
		t.Fatalf("unknown field: %d %s", r.Status, r.Raw)
	}
}
