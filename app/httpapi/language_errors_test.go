package httpapi_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"releasedesk/app/httpapi"
	"releasedesk/app/httpapi/apitest"
)

// hasHan tells whether s holds Chinese characters.
func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

// inLanguage calls as token with Accept-Language lang ("" sends none). A
// body that is a func() any is called for each request.
func inLanguage(e *apitest.Env, token, lang, method, path string, body any) apitest.Resp {
	e.T.Helper()
	c := e.As(token)
	c.Client.Language = lang
	if f, ok := body.(func() any); ok {
		body = f()
	}
	return c.Call(method, path, body)
}

// TestRefusalsInTheReadersLanguage: the same refusal asked in Chinese
// answers a Chinese message (and rule, and each field's reason) with the
// same status, code and field; asked in English, or in no language, it
// answers the English it always did, to the byte.
func TestRefusalsInTheReadersLanguage(t *testing.T) {
	e := apitest.New(t, apitest.Options{NoRunner: true})
	root := e.Login("root", apitest.RootPassword)
	repo := apitest.GitRepo(t, nil)
	e.Must(http.StatusCreated, "PUT", "/api/v1/projects/shop", root, apitest.LocalProject("shop", repo, t.TempDir()))
	dev := e.AddUser(root, "dev", false, map[string][]string{"shop": {"developer"}})
	tess := e.AddUser(root, "tess", false, map[string][]string{"shop": {"tester"}})
	id := apitest.Str(e.Must(http.StatusCreated, "POST", "/api/v1/releases", dev,
		map[string]any{"project": "shop", "branch": "feature-1", "create_branch": true, "title": "First"}).Body, "release", "id")
	badConfig := `id: cafe
title: "a\nb"
repo: ` + repo + `
branch: master
strategy: local
environments:
  - name: test
    path: srv/cafe-test
  - name: production
    path: /srv/cafe-prod
    hosts: ["www@10.0.0.5:22"]
`

	// Malformed JSON is refused with the decoder's own words after ours.
	malformed := `{"project" "shop"}`
	var se *json.SyntaxError
	if !errors.As(json.NewDecoder(strings.NewReader(malformed)).Decode(&map[string]any{}), &se) {
		t.Fatal("the malformed body decodes")
	}
	// Each failed login names another user: five in a row would lock one
	// out (a refusal of its own).
	nobody := 0
	for _, c := range []struct {
		name                string
		token, method, path string
		body                any
		status              int
		code, field         string
		english             string // the message, exactly
		rule                bool   // a 403: rule is the message
	}{
		{name: "a failed login", method: "POST", path: "/api/v1/login",
			body: func() any {
				nobody++
				return map[string]string{"user": "nobody" + strconv.Itoa(nobody), "password": "wrong-password-1"}
			},
			status: http.StatusUnauthorized, code: "unauthorized", english: "wrong user name or password"},
		{name: "approving a release that is not tested", token: root, method: "POST", path: "/api/v1/releases/" + id + "/approve",
			status: http.StatusConflict, code: "conflict", english: "release " + id + " is open: approving a release needs it tested"},
		{name: "a role's rule", token: tess, method: "POST", path: "/api/v1/releases/" + id + "/deploy",
			body:   map[string]string{"env": "test"},
			status: http.StatusForbidden, code: "forbidden", rule: true,
			english: "deploying to a stage without approval needs the developer role on project shop"},
		{name: "a release that does not exist", token: root, method: "GET", path: "/api/v1/releases/999",
			status: http.StatusNotFound, code: "not_found", english: `no release "999"`},
		{name: "a route that does not exist", token: root, method: "GET", path: "/api/v1/nothing",
			status: http.StatusNotFound, code: "not_found", english: "no API route GET /api/v1/nothing"},
		{name: "a body cut short", token: dev, method: "POST", path: "/api/v1/releases", body: `{"project": "shop"`,
			status: http.StatusBadRequest, code: "invalid", field: "body", english: "body: is cut short: not a whole JSON value"},
		{name: "malformed JSON", token: dev, method: "POST", path: "/api/v1/releases", body: malformed,
			status: http.StatusBadRequest, code: "invalid", field: "body",
			english: fmt.Sprintf("body: is not valid JSON (at byte %d): %v", se.Offset, se)},
		{name: "a field of the wrong type", token: dev, method: "POST", path: "/api/v1/releases", body: `{"project": 7}`,
			status: http.StatusBadRequest, code: "invalid", field: "project", english: "project: want a string, got a JSON number"},
		{name: "a field out of bounds", token: dev, method: "POST", path: "/api/v1/releases",
			body:   map[string]any{"project": "shop", "branch": "feature-2", "title": strings.Repeat("t", 300)},
			status: http.StatusBadRequest, code: "invalid", field: "title", english: "title: is longer than 200 characters"},
		{name: "a body that is not JSON", token: dev, method: "POST", path: "/api/v1/releases",
			body:   httpapi.Raw{Data: []byte("project=shop"), ContentType: "text/plain"},
			status: http.StatusUnsupportedMediaType, code: "unsupported_media_type",
			english: `Content-Type "text/plain": send application/json`},
		{name: "a configuration with several problems", token: root, method: "PUT", path: "/api/v1/projects/cafe",
			body: badConfig, status: http.StatusBadRequest, code: "invalid_config",
			english: "title: holds a control character (a newline?): one line of text\n" +
				`environments[0].path: bad path "srv/cafe-test": not absolute` + "\n" +
				"environments[1].hosts: the local strategy publishes to path on this machine: it has no hosts (remove them, or use rsync or git)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var english apitest.Resp
			for _, lang := range []string{"", "en", "en-US,en;q=0.9", "fr"} {
				r := inLanguage(e, c.token, lang, c.method, c.path, c.body)
				if r.Status != c.status || r.ErrCode() != c.code || apitest.Str(r.Body, "error", "field") != c.field {
					t.Fatalf("%q: %d %s, want %d %s naming %q", lang, r.Status, r.Raw, c.status, c.code, c.field)
				}
				if r.ErrMessage() != c.english {
					t.Errorf("%q: the message is %q, want %q", lang, r.ErrMessage(), c.english)
				}
				if c.rule && apitest.Str(r.Body, "error", "rule") != c.english {
					t.Errorf("%q: the rule is %s", lang, r.Raw)
				}
				english = r
			}
			for _, lang := range []string{"zh-CN", "zh", "zh-TW,zh;q=0.9,en;q=0.8"} {
				r := inLanguage(e, c.token, lang, c.method, c.path, c.body)
				if r.Status != c.status || r.ErrCode() != c.code || apitest.Str(r.Body, "error", "field") != c.field {
					t.Fatalf("%q: %d %s, want %d %s naming %q", lang, r.Status, r.Raw, c.status, c.code, c.field)
				}
				if msg := r.ErrMessage(); !hasHan(msg) || msg == c.english {
					t.Errorf("%q: the message is not Chinese: %s", lang, r.Raw)
				}
				if c.rule && (apitest.Str(r.Body, "error", "rule") != r.ErrMessage()) {
					t.Errorf("%q: the rule is not the Chinese message: %s", lang, r.Raw)
				}
				fields, _ := r.Body["error"].(map[string]any)["fields"].([]any)
				enFields, _ := english.Body["error"].(map[string]any)["fields"].([]any)
				if len(fields) != len(enFields) {
					t.Fatalf("%q: %d fields, %d in English: %s", lang, len(fields), len(enFields), r.Raw)
				}
				for i, f := range fields {
					zh, en := f.(map[string]any), enFields[i].(map[string]any)
					if zh["path"] != en["path"] || !hasHan(zh["reason"].(string)) {
						t.Errorf("%q: field %v, in English %v", lang, zh, en)
					}
				}
			}
		})
	}

	// The rule a configuration shares with the runner reads Chinese inside
	// its field's reason too, its names as they are.
	r := inLanguage(e, root, "zh-CN", "PUT", "/api/v1/projects/cafe", badConfig)
	fields, _ := r.Body["error"].(map[string]any)["fields"].([]any)
	if len(fields) < 2 || apitest.Str(fields[1].(map[string]any), "reason") != `路径无效 "srv/cafe-test"：不是绝对路径` {
		t.Errorf("the runner's rule in Chinese: %s", r.Raw)
	}
	// A refused configuration wrote nothing.
	if r := e.Call("GET", "/api/v1/projects/cafe", root, nil); r.Status != http.StatusNotFound {
		t.Errorf("the refused project exists: %d %s", r.Status, r.Raw)
	}
}

// TestOfflineReviewSaysWhyInTheReadersLanguage: the read-only reason an
// offline review shows (/me, health, a refused write) follows the
// request's language.
func TestOfflineReviewSaysWhyInTheReadersLanguage(t *testing.T) {
	e := apitest.New(t, apitest.Options{NoRunner: true})
	root := e.Login("root", apitest.RootPassword)
	file, _ := e.Export(root)
	off := apitest.ServeArchive(t, file, apitest.Options{})
	session := off.Review()

	en := inLanguage(off, session, "en", "GET", "/api/v1/me", nil)
	if got := apitest.Str(en.Body, "read_only"); got != "offline review of audit.jsonl: read-only" {
		t.Errorf("/me in English: %s", en.Raw)
	}
	zh := inLanguage(off, session, "zh-CN", "GET", "/api/v1/me", nil)
	if got := apitest.Str(zh.Body, "read_only"); got != "正在离线审阅 audit.jsonl：只读" {
		t.Errorf("/me in Chinese: %s", zh.Raw)
	}
	if h := inLanguage(off, session, "zh-CN", "GET", "/api/v1/health", nil); apitest.Str(h.Body, "problem") != "正在离线审阅 audit.jsonl：只读" {
		t.Errorf("health in Chinese: %s", h.Raw)
	}
	w := inLanguage(off, session, "zh-CN", "POST", "/api/v1/releases", map[string]any{"project": "shop", "branch": "b", "title": "t"})
	if w.Status != http.StatusServiceUnavailable || w.ErrCode() != "read_only" || !hasHan(w.ErrMessage()) {
		t.Errorf("a write in Chinese: %d %s", w.Status, w.Raw)
	}
	// Without the session, the archive says where to get in, in Chinese too.
	if r := inLanguage(off, "", "zh-CN", "GET", "/api/v1/releases", nil); r.ErrCode() != "review_secret_required" || !hasHan(r.ErrMessage()) {
		t.Errorf("the locked archive in Chinese: %d %s", r.Status, r.Raw)
	}
}
