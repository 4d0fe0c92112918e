package app_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"releasedesk/app/httpapi/apitest"
)

// TestNotifyBadConfigRefused: through PUT /api/v1/projects/{project}, a
// channel with an unknown kind, a literal secret, a bad URL, an unknown
// trigger or a template that does not parse is refused with the field's
// path and why, the literal secret is not repeated, and nothing changes:
// the project reads as before and the log has no new event.
// (app/projectconfig's tests check each rule on its own; this is the
// API's answer.)
func TestNotifyBadConfigRefused(t *testing.T) {
	e := apitest.New(t, apitest.Options{NoRunner: true})
	repo := apitest.GitRepo(t, nil)
	root := e.Login("root", apitest.RootPassword)
	base := apitest.LocalProject("shop", repo, t.TempDir())
	// One good channel; each case changes one of its lines.
	good := map[string]string{
		"name": "name: ops", "kind": "kind: webhook", "url": "url: https://hooks.example.com/releasedesk",
		"secret": "secret: {from_env: RELEASEDESK_HOOK_SECRET}", "events": "events: [release.opened, approval.needed]",
		"templates": "templates: {approval.needed: \"{{.Project}} {{.Release}} waits for you\"}",
	}
	doc := func(change map[string]string) string {
		var b strings.Builder
		b.WriteString(base + "notify:\n")
		for i, k := range []string{"name", "kind", "url", "secret", "events", "templates"} {
			line := good[k]
			if c, ok := change[k]; ok {
				line = c
			}
			prefix := "    "
			if i == 0 {
				prefix = "  - "
			}
			b.WriteString(prefix + line + "\n")
		}
		return b.String()
	}
	e.Must(http.StatusCreated, "PUT", "/api/v1/projects/shop", root, doc(nil))
	before := e.Must(http.StatusOK, "GET", "/api/v1/projects/shop", root, nil).Raw
	head := e.Desk.Log.Head().Position

	for _, c := range []struct {
		name   string
		change map[string]string
		path   string
		reason string
	}{
		{"unknown kind", map[string]string{"kind": "kind: teams"}, "notify[0].kind", `unknown kind "teams"`},
		{"literal secret", map[string]string{"secret": `secret: "s3cr3t-literal-value"`}, "notify[0].secret",
			"a literal secret is not kept in the configuration"},
		{"bad URL", map[string]string{"url": "url: hooks.example.com/releasedesk"}, "notify[0].url", "not a URL"},
		{"plain http elsewhere", map[string]string{"url": "url: http://hooks.example.com/releasedesk"}, "notify[0].url",
			"plain http only to this machine"},
		{"unknown trigger", map[string]string{"events": "events: [release.opened, deployed]"}, "notify[0].events[1]",
			`unknown trigger "deployed"`},
		{"template that does not parse", map[string]string{"templates": `templates: {approval.needed: "{{.Project"}`},
			`notify[0].templates["approval.needed"]`, "does not parse"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, route := range []string{"PUT /api/v1/projects/shop", "POST /api/v1/projects/validate"} {
				method, path, _ := strings.Cut(route, " ")
				r := e.Call(method, path, root, doc(c.change))
				if r.Status != http.StatusBadRequest || r.ErrCode() != "invalid_config" {
					t.Fatalf("%s: %d %s, want 400 invalid_config", route, r.Status, r.Raw)
				}
				fields := fieldReasons(r)
				if reason, ok := fields[c.path]; !ok || !strings.Contains(reason, c.reason) || len(fields) != 1 {
					t.Errorf("%s: fields %v, want %s: ...%s...", route, fields, c.path, c.reason)
				}
				if !strings.Contains(r.ErrMessage(), c.path) {
					t.Errorf("%s: the message %q does not name %s", route, r.ErrMessage(), c.path)
				}
				if bytes.Contains(r.Raw, []byte("s3cr3t-literal-value")) {
					t.Errorf("%s: the refusal repeats the secret: %s", route, r.Raw)
				}
			}
			if after := e.Must(http.StatusOK, "GET", "/api/v1/projects/shop", root, nil).Raw; !bytes.Equal(after, before) {
				t.Errorf("the project changed:\n%s\nwas\n%s", after, before)
			}
			if h := e.Desk.Log.Head().Position; h != head {
				t.Errorf("the log moved from %d to %d", head, h)
			}
		})
	}
}

// fieldReasons are a refusal's fields, path to reason.
func fieldReasons(r apitest.Resp) map[string]string {
	out := map[string]string{}
	errBody, _ := r.Body["error"].(map[string]any)
	fields, _ := errBody["fields"].([]any)
	for _, f := range fields {
		fm, _ := f.(map[string]any)
		out[fmt.Sprint(fm["path"])] = fmt.Sprint(fm["reason"])
	}
	return out
}
