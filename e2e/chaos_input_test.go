package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"releasedesk/app/httpapi"
	"releasedesk/app/httpapi/apitest"
)

// chaosRoutes is every route pattern ("METHOD /api/v1/...") of the API's
// table, so a route added there is one these tests cover.
func chaosRoutes(t *testing.T) []string {
	t.Helper()
	out := httpapi.Routes()
	if len(out) < 40 {
		t.Fatalf("found only %d routes in the API's table", len(out))
	}
	return out
}

// chaosJsonText quotes s as a JSON string but leaves bytes that are not valid
// UTF-8 as they are (json.Marshal would replace them), so a body can
// carry invalid UTF-8 to the server.
func chaosJsonText(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteByte(s[i])
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('"')
	return b.String()
}

// chaosHostilePayloads are the texts every text field and path segment gets.
// canary is an absolute path that no payload may ever create.
func chaosHostilePayloads(canary string) []string {
	touch := "touch " + canary
	all := []string{
		"; " + touch,
		"$(" + touch + ")",
		"`" + touch + "`",
		"x\n" + touch + "\n",
		"x\x00" + touch,
		"-rf",
		"--upload-pack=" + touch,
		"-oProxyCommand=" + touch,
		"ext::sh -c " + strings.ReplaceAll(touch, " ", "% "),
		"../../../../../../etc/passwd",
		"\xff\xfe\xc3\x28 invalid utf-8",
		"' || " + touch + " #",
		"| " + touch,
		"x\r\n" + touch,
		"%2e%2e%2f%2e%2e%2f",
		strings.Repeat("A", 5000),
	}
	if chaosFull() {
		return all
	}
	// The short run: one of each family.
	return []string{all[0], all[1], all[2], all[3], all[4], all[6], all[7], all[8], all[9], all[10]}
}

// Hostile input through every API route that takes text.
func TestChaosHostileInput(t *testing.T) {
	t.Parallel()
	rep := newChaosReport(t, 6, "hostile", "Hostile input through every API route",
		"Every route of the API's table (`app/httpapi/api_routes.go`) that takes text (a path segment, a query parameter or a "+
			"body field) gets each payload in each of its places: shell metacharacters (`;`, `|`, `||`), "+
			"`$(...)`, backticks, newlines and CR LF, NUL bytes, a leading `-` (`-rf`, "+
			"`--upload-pack=...`, `-oProxyCommand=...`), an `ext::` URL, `../` paths, encoded `../`, "+
			"invalid UTF-8 and 5,000-character text (the short run takes one of each family). Every "+
			"body route also gets a 10 MB body, a body that is not JSON, a JSON array, wrong JSON types "+
			"for each of its fields (number, array, object, bool, null where a string is wanted) and an "+
			"unknown field. The project configuration (`PUT /api/v1/projects/{project}`, "+
			"`POST /api/v1/projects/validate`) gets each payload in each of its text fields. Every answer "+
			"must be a 4xx with a JSON error carrying a code and a message, or a 2xx (stored as inert "+
			"text); never a 5xx, a dropped connection or a crash. Every payload that would run a command "+
			"runs `touch CANARY`: at the end no canary exists on this machine (which every sshd host "+
			"shares), the app is alive, its log shows no panic, and the chain verifies.")
	canaryDir := t.TempDir()
	canary := filepath.Join(canaryDir, "pwned")
	f := newChaosFleet(t, chaosOpts{hosts: 2, files: 5})
	f.commit()
	depID, version := f.deploy()
	if d := f.root.WaitDeployment(depID, 2*time.Minute); d["state"] != "succeeded" {
		t.Fatalf("deployment: %v", d)
	}
	payloads := chaosHostilePayloads(canary)
	rel := f.release
	// Body routes and their string fields (with a valid value for the
	// others), and their non-string fields.
	type bodyRoute struct {
		method, path string
		strs         []string          // string fields
		others       map[string]string // other fields: JSON literal of a valid value
	}
	users := "/api/v1/users/"
	vpath := "/api/v1/projects/fleet/environments/prod/"
	bodies := []bodyRoute{
		{"POST", "/api/v1/login", []string{"user", "password"}, nil},
		{"POST", "/api/v1/users", []string{"name", "password"}, map[string]string{"admin": "false", "roles": `{"fleet":["tester"]}`}},
		{"PUT", users + "tess", nil, map[string]string{"admin": "false", "roles": `{"fleet":["tester"]}`}},
		{"POST", users + "tess/password", []string{"password"}, nil},
		{"PUT", users + "tess/contacts", []string{"email", "mobile", "feishu", "slack"}, nil},
		{"POST", users + "tess/disable", []string{"reason"}, nil},
		{"POST", users + "tess/enable", []string{"reason"}, nil},
		{"POST", "/api/v1/tokens", []string{"name"}, map[string]string{"ttl_days": "1"}},
		{"POST", vpath + "rollback", []string{"version", "reason"}, nil},
		{"POST", vpath + "versions/" + version + "/bad", []string{"reason"}, nil},
		{"POST", vpath + "unlock", []string{"host", "reason"}, nil},
		{"POST", "/api/v1/projects/fleet/channels/hook/test", nil, nil},
		{"POST", "/api/v1/hosts/trust", []string{"addr", "key"}, nil},
		{"POST", "/api/v1/releases", []string{"project", "branch", "title", "note"}, map[string]string{"create_branch": "true"}},
		{"POST", "/api/v1/releases/" + rel + "/deploy", []string{"env"}, nil},
		{"POST", "/api/v1/releases/" + rel + "/test", []string{"note"}, map[string]string{"passed": "false"}},
		{"POST", "/api/v1/releases/" + rel + "/approve", []string{"note"}, nil},
		{"POST", "/api/v1/releases/" + rel + "/reject", []string{"reason"}, nil},
		{"POST", "/api/v1/releases/" + rel + "/accept", []string{"note"}, nil},
		{"POST", "/api/v1/releases/" + rel + "/refuse", []string{"reason"}, map[string]string{"rollback": "true"}},
		{"POST", "/api/v1/releases/" + rel + "/cancel", []string{"reason"}, nil},
		{"POST", "/api/v1/releases/" + rel + "/complete", nil, nil},
		{"POST", "/api/v1/deployments/" + depID + "/cancel", []string{"reason"}, nil},
		{"POST", "/api/v1/deployments/" + depID + "/retry", nil, nil},
		{"POST", "/api/v1/logout", nil, nil},
		{"POST", "/api/v1/review", []string{"secret"}, nil},
		{"PUT", "/api/v1/me/language", []string{"language"}, nil},
	}
	// Path and query places: a format with %s where the payload goes.
	places := map[string][]string{
		"GET /api/v1/users/{name}":                                                  {users + "%s"},
		"PUT /api/v1/users/{name}":                                                  {users + "%s"},
		"POST /api/v1/users/{name}/password":                                        {users + "%s/password"},
		"PUT /api/v1/users/{name}/contacts":                                         {users + "%s/contacts"},
		"POST /api/v1/users/{name}/disable":                                         {users + "%s/disable"},
		"POST /api/v1/users/{name}/enable":                                          {users + "%s/enable"},
		"DELETE /api/v1/tokens/{id}":                                                {"/api/v1/tokens/%s"},
		"GET /api/v1/projects/{project}":                                            {"/api/v1/projects/%s"},
		"PUT /api/v1/projects/{project}":                                            {"/api/v1/projects/%s"},
		"GET /api/v1/projects/{project}/branches":                                   {"/api/v1/projects/%s/branches"},
		"GET /api/v1/projects/{project}/compare":                                    {"/api/v1/projects/%s/compare?to=x", "/api/v1/projects/fleet/compare?env=prod&to=%s", "/api/v1/projects/fleet/compare?env=prod&to=" + version + "&from=%s", "/api/v1/projects/fleet/compare?to=" + version + "&env=%s"},
		"GET /api/v1/projects/{project}/environments/{env}/versions":                {"/api/v1/projects/%s/environments/prod/versions", "/api/v1/projects/fleet/environments/%s/versions"},
		"POST /api/v1/projects/{project}/environments/{env}/rollback":               {"/api/v1/projects/%s/environments/prod/rollback", "/api/v1/projects/fleet/environments/%s/rollback"},
		"POST /api/v1/projects/{project}/environments/{env}/versions/{version}/bad": {"/api/v1/projects/fleet/environments/prod/versions/%s/bad", "/api/v1/projects/%s/environments/prod/versions/" + version + "/bad"},
		"POST /api/v1/projects/{project}/environments/{env}/drift":                  {"/api/v1/projects/%s/environments/prod/drift", "/api/v1/projects/fleet/environments/%s/drift"},
		"POST /api/v1/projects/{project}/environments/{env}/unlock":                 {"/api/v1/projects/%s/environments/prod/unlock", "/api/v1/projects/fleet/environments/%s/unlock"},
		"POST /api/v1/projects/{project}/channels/{channel}/test":                   {"/api/v1/projects/%s/channels/hook/test", "/api/v1/projects/fleet/channels/%s/test"},
		"GET /api/v1/hosts/key":                                                     {"/api/v1/hosts/key?addr=%s"},
		"GET /api/v1/releases":                                                      {"/api/v1/releases?q=%s", "/api/v1/releases?state=%s", "/api/v1/releases?project=%s", "/api/v1/releases?sort=%s", "/api/v1/releases?limit=%s"},
		"GET /api/v1/releases/{id}":                                                 {"/api/v1/releases/%s"},
		"POST /api/v1/releases/{id}/deploy":                                         {"/api/v1/releases/%s/deploy"},
		"POST /api/v1/releases/{id}/test":                                           {"/api/v1/releases/%s/test"},
		"POST /api/v1/releases/{id}/approve":                                        {"/api/v1/releases/%s/approve"},
		"POST /api/v1/releases/{id}/reject":                                         {"/api/v1/releases/%s/reject"},
		"POST /api/v1/releases/{id}/accept":                                         {"/api/v1/releases/%s/accept"},
		"POST /api/v1/releases/{id}/refuse":                                         {"/api/v1/releases/%s/refuse"},
		"POST /api/v1/releases/{id}/cancel":                                         {"/api/v1/releases/%s/cancel"},
		"POST /api/v1/releases/{id}/complete":                                       {"/api/v1/releases/%s/complete"},
		"GET /api/v1/deployments":                                                   {"/api/v1/deployments?project=%s", "/api/v1/deployments?env=%s", "/api/v1/deployments?state=%s", "/api/v1/deployments?release=%s", "/api/v1/deployments?requested_by=%s", "/api/v1/deployments?kind=%s", "/api/v1/deployments?offset=%s"},
		"GET /api/v1/deployments/{id}":                                              {"/api/v1/deployments/%s"},
		"POST /api/v1/deployments/{id}/cancel":                                      {"/api/v1/deployments/%s/cancel"},
		"POST /api/v1/deployments/{id}/retry":                                       {"/api/v1/deployments/%s/retry"},
		"GET /api/v1/audit":                                                         {"/api/v1/audit?project=%s", "/api/v1/audit?actor=%s", "/api/v1/audit?type=%s", "/api/v1/audit?since=%s", "/api/v1/audit?until=%s", "/api/v1/audit?oldest=%s"},
		"GET /api/v1/audit/export":                                                  {"/api/v1/audit/export?format=%s", "/api/v1/audit/export?format=csv&actor=%s", "/api/v1/audit/export?format=jsonl&project=%s"},
		"GET /api/v1/stream":                                                        {"/api/v1/stream?since=%s", "/api/v1/stream?since=0&ticket=%s"},
	}
	// Routes that take no text at all (no body, no segment, no query).
	noText := map[string]bool{"GET /api/v1/me": true, "GET /api/v1/users": true, "GET /api/v1/tokens": true,
		"GET /api/v1/projects": true, "GET /api/v1/hosts": true, "GET /api/v1/audit/verify": true,
		"POST /api/v1/stream/ticket": true, "GET /api/v1/inbox": true, "GET /api/v1/dashboard": true}

	covered := map[string]bool{}
	var requests, accepted, refused int
	var problems []string
	statuses := map[int]int{}
	check := func(route, method, path string, body []byte, what string) {
		t.Helper()
		requests++
		c := f.root
		if strings.HasPrefix(path, "/api/v1/logout") {
			c = f.users["nobody"] // logging out must not end root's session
		}
		r, err := tryRaw(c, method, path, body)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s %s (%s): %v", method, chaosClip(path), what, err))
			return
		}
		statuses[r.Status]++
		switch {
		case r.Status >= 200 && r.Status < 300:
			accepted++
		case r.Status >= 400 && r.Status < 500:
			refused++
			e, _ := r.Body["error"].(map[string]any)
			if e == nil || e["code"] == "" || e["message"] == "" {
				problems = append(problems, fmt.Sprintf("%s %s (%s): %d without a clear error: %s", method, chaosClip(path), what, r.Status, chaosClip(string(r.Raw))))
			}
		case r.Status == http.StatusBadGateway && route == "GET /api/v1/hosts/key":
			// Documented (502 host_unreachable, with a message), but a
			// malformed address should be a 400 before any dial.
			addr := ""
			if u, err := url.Parse(path); err == nil {
				addr = u.Query().Get("addr")
			}
			chaosBug(t, rep, "GET /api/v1/hosts/key: addr %q (%d characters) is not refused as malformed (400) but looked up and dialled: 502 host_unreachable",
				chaosClip(strings.ToValidUTF8(addr, "?"))[:min(24, len(addr))]+"...", len(addr))
		default:
			problems = append(problems, fmt.Sprintf("%s %s (%s): %d %s", method, chaosClip(path), what, r.Status, chaosClip(string(r.Raw))))
		}
		covered[route] = true
	}
	routeOf := func(method, path string) string {
		// the pattern whose literal parts match (for coverage)
		for _, pat := range chaosRoutes(t) {
			m, p, _ := strings.Cut(pat, " ")
			if m != method {
				continue
			}
			re := "^" + regexp.MustCompile(`\\\{[a-z]+\\\}`).ReplaceAllString(regexp.QuoteMeta(p), `[^/]+`) + "$"
			if ok, _ := regexp.MatchString(re, strings.SplitN(path, "?", 2)[0]); ok {
				return pat
			}
		}
		return method + " " + path
	}
	// 1. Path and query places.
	for route, fmts := range places {
		method, _, _ := strings.Cut(route, " ")
		for _, fm := range fmts {
			for _, p := range payloads {
				esc := url.PathEscape(p)
				if strings.Contains(fm, "?") && strings.Index(fm, "%s") > strings.Index(fm, "?") {
					esc = url.QueryEscape(p)
				}
				var body []byte
				if method != "GET" && method != "DELETE" {
					body = []byte("{}")
				}
				if route == "GET /api/v1/stream" {
					check(route, method, fmt.Sprintf(fm, esc)+"&x=1", body, "stream") // answers before streaming when refused
					continue
				}
				check(route, method, fmt.Sprintf(fm, esc), body, "path/query")
			}
		}
	}
	// 2. Body fields: each payload in each string field, wrong types,
	// unknown fields, not JSON, an array, 10 MB.
	valid := func(field string) string {
		switch field {
		case "user":
			return `"root"`
		case "password":
			return `"` + chaosPassword + `"`
		case "project":
			return `"fleet"`
		case "env":
			return `"prod"`
		case "version":
			return `"` + version + `"`
		case "addr", "host":
			return chaosJsonText(f.cl.Hosts[0].Addr)
		}
		return `"chaos"`
	}
	big := make([]byte, 10<<20)
	for i := range big {
		big[i] = 'A'
	}
	for _, br := range bodies {
		route := routeOf(br.method, br.path)
		obj := func(override string, val string) []byte {
			var parts []string
			for _, s := range br.strs {
				v := valid(s)
				if s == override {
					v = val
				}
				parts = append(parts, chaosJsonText(s)+":"+v)
			}
			for k, v := range br.others {
				if k == override {
					v = val
				}
				parts = append(parts, chaosJsonText(k)+":"+v)
			}
			return []byte("{" + strings.Join(parts, ",") + "}")
		}
		for _, s := range br.strs {
			for _, p := range payloads {
				check(route, br.method, br.path, obj(s, chaosJsonText(p)), "field "+s)
			}
			for _, wrong := range []string{"12", `["x"]`, `{"a":1}`, "true", "null"} {
				check(route, br.method, br.path, obj(s, wrong), "type of "+s)
			}
		}
		for k := range br.others {
			for _, wrong := range []string{`"x"`, `["x"]`, `{"a":"b"}`, "-1e400"} {
				check(route, br.method, br.path, obj(k, wrong), "type of "+k)
			}
		}
		check(route, br.method, br.path, []byte(`{"bogus":"$(touch `+canary+`)"}`), "unknown field")
		check(route, br.method, br.path, []byte("$(touch "+canary+")"), "not JSON")
		check(route, br.method, br.path, []byte(`["x"]`), "an array")
		check(route, br.method, br.path, append(append([]byte(`{"note":"`), big...), '"', '}'), "10 MB")
	}
	// 3. The project configuration: each payload in each text field.
	cfg := f.root.Must(http.StatusOK, "GET", "/api/v1/projects/fleet", nil).Body["project"].(map[string]any)["config"].(map[string]any)
	type cfgField struct {
		name string
		set  func(m map[string]any, v string)
	}
	env0 := func(m map[string]any) map[string]any { return m["environments"].([]any)[0].(map[string]any) }
	fields := []cfgField{
		{"title", func(m map[string]any, v string) { m["title"] = v }},
		{"repo", func(m map[string]any, v string) { m["repo"] = v }},
		{"branch", func(m map[string]any, v string) { m["branch"] = v }},
		{"exclude", func(m map[string]any, v string) { m["exclude"] = []any{v} }},
		{"shared", func(m map[string]any, v string) { m["shared"] = []any{v} }},
		{"version_files", func(m map[string]any, v string) { m["version_files"] = []any{v} }},
		{"env.name", func(m map[string]any, v string) { m["env"] = []any{map[string]any{"name": v, "value": "x"}} }},
		{"env.value", func(m map[string]any, v string) { m["env"] = []any{map[string]any{"name": "X", "value": v}} }},
		{"env.from_file", func(m map[string]any, v string) {
			m["env"] = []any{map[string]any{"name": "X", "from_file": v, "secret": true}}
		}},
		{"environments.name", func(m map[string]any, v string) { env0(m)["name"] = v }},
		{"environments.path", func(m map[string]any, v string) { env0(m)["path"] = v }},
		{"environments.ssh_key", func(m map[string]any, v string) { env0(m)["ssh_key"] = v }},
		{"environments.hosts", func(m map[string]any, v string) { env0(m)["hosts"] = []any{v} }},
		{"environments.hosts.path", func(m map[string]any, v string) {
			env0(m)["hosts"] = []any{map[string]any{"addr": f.cl.Hosts[0].Addr, "path": v}}
		}},
	}
	var cfgAccepted []string
	acceptedBy := map[string][]string{}
	for _, fl := range fields {
		for _, p := range payloads {
			m := chaosDeepCopy(cfg)
			m["id"] = "hostile"
			fl.set(m, "@@PAYLOAD@@")
			raw, _ := json.Marshal(m)
			body := []byte(strings.Replace(string(raw), `"@@PAYLOAD@@"`, chaosJsonText(p), 1))
			before := statuses[200] + statuses[201]
			check("POST /api/v1/projects/validate", "POST", "/api/v1/projects/validate", body, "config "+fl.name)
			check("PUT /api/v1/projects/{project}", "PUT", "/api/v1/projects/hostile", body, "config "+fl.name)
			if statuses[200]+statuses[201] > before+1 {
				cfgAccepted = append(cfgAccepted, fmt.Sprintf("%s=%q", fl.name, chaosClip(p)))
				acceptedBy[fl.name] = append(acceptedBy[fl.name], p)
			}
		}
	}
	for _, path := range []string{"/api/v1/projects/validate", "/api/v1/projects/hostile"} {
		method := "POST"
		if strings.HasSuffix(path, "hostile") {
			method = "PUT"
		}
		check(routeOf(method, path), method, path, append([]byte("id: hostile\ntitle: "), big...), "10 MB")
	}
	// What the configuration took as text is then used: one project with
	// every accepted exclude, shared path, version file and hook
	// variable, deployed to the hosts (their own paths), with a hook that
	// prints the variables.
	if res := chaosHostileDeploy(t, f, cfg, acceptedBy); res != "" {
		rep.note("%s", res)
	}
	// Every route with text was reached.
	for _, route := range chaosRoutes(t) {
		if !covered[route] && !noText[route] && route != "GET /api/v1/health" {
			problems = append(problems, "route not covered: "+route)
		}
	}
	// The canary, the app, the log.
	time.Sleep(500 * time.Millisecond)
	for _, p := range chaosCanaryPlaces(canary, f) {
		if _, err := os.Stat(p); err == nil {
			problems = append(problems, "the canary exists: "+p)
		}
	}
	select {
	case <-f.app.done:
		problems = append(problems, "the app died")
	default:
	}
	if strings.Contains(f.app.Log(), "panic") {
		problems = append(problems, "the app's log shows a panic")
	}
	if err := f.verify(f.root); err != nil {
		problems = append(problems, err.Error())
	}
	for _, p := range problems {
		t.Error(p)
	}
	rep.r.Trials, rep.r.Failures = requests, len(problems)
	var st []string
	for k, v := range statuses {
		st = append(st, fmt.Sprintf("%d: %d", k, v))
	}
	slices.Sort(st)
	rep.note("%d requests over %d routes with %d payloads: %d refused (4xx), %d accepted as text (2xx); statuses %s",
		requests, len(covered), len(payloads), refused, accepted, strings.Join(st, ", "))
	if len(cfgAccepted) > 0 {
		rep.note("configuration values accepted as text: %s", strings.Join(cfgAccepted, "; "))
	}
}

// chaosHostileDeploy configures, releases and deploys project "hostile" with
// the accepted text values; it says what happened.
func chaosHostileDeploy(t *testing.T, f *chaosFleet, cfg map[string]any, acc map[string][]string) string {
	t.Helper()
	clean := func(vs []string) []any {
		var out []any
		for _, v := range vs {
			if utf8.ValidString(v) && !strings.ContainsRune(v, 0) {
				out = append(out, v)
			}
		}
		return out
	}
	m := chaosDeepCopy(cfg)
	m["id"], m["title"] = "hostile", "hostile text in use"
	m["exclude"] = clean(acc["exclude"])
	m["shared"] = clean(acc["shared"])
	m["version_files"] = append(clean(acc["version_files"]), "VERSION")
	var env []any
	for i, v := range clean(acc["env.value"]) {
		env = append(env, map[string]any{"name": fmt.Sprintf("X%d", i), "value": v})
	}
	m["env"] = env
	m["hooks"] = map[string]any{"post_release": `printenv | grep '^X[0-9]' || true`}
	e := m["environments"].([]any)[0].(map[string]any)
	var hosts []any
	for i, h := range f.cl.Hosts {
		hosts = append(hosts, map[string]any{"addr": h.Addr, "path": f.paths[i] + "-hostile"})
	}
	e["hosts"] = hosts
	r := f.root.Call("PUT", "/api/v1/projects/hostile", m)
	if r.Status != http.StatusOK && r.Status != http.StatusCreated {
		return fmt.Sprintf("the project with every accepted value together was refused: %d %s", r.Status, chaosClip(string(r.Raw)))
	}
	r = f.root.Call("POST", "/api/v1/releases", map[string]any{"project": "hostile", "branch": "h1", "create_branch": true, "title": "$(touch x)"})
	if r.Status != http.StatusCreated {
		return fmt.Sprintf("a release of the hostile project: %d %s", r.Status, chaosClip(string(r.Raw)))
	}
	id := r.Body["release"].(map[string]any)["id"].(string)
	d := f.root.Call("POST", "/api/v1/releases/"+id+"/deploy", map[string]any{"env": "prod"})
	if d.Status != http.StatusAccepted {
		return fmt.Sprintf("deploying the hostile project: %d %s", d.Status, chaosClip(string(d.Raw)))
	}
	dep := f.root.WaitDeployment(d.Body["deployment"].(string), 2*time.Minute)
	return fmt.Sprintf("the project holding every accepted value (%d excludes, %d shared, %d version files, %d hook variables) deployed to the hosts: %v %s",
		len(m["exclude"].([]any)), len(m["shared"].([]any)), len(m["version_files"].([]any)), len(env), dep["state"], chaosFirstLine(fmt.Sprint(dep["error"])))
}

// chaosCanaryPlaces is the canary and the same name where a relative touch
// would have put it: anywhere under the hosts (homes and targets), the
// data directory, the repository, and this directory.
func chaosCanaryPlaces(canary string, f *chaosFleet) []string {
	name := filepath.Base(canary)
	out := []string{canary, name}
	for _, root := range append([]string{f.cl.Dir, f.data, f.repo}, f.paths...) {
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			// A file at the end of directories named by the payload
			// itself ("; touch /x/pwned" as a version file or shared
			// path) is the text stored literally, not a command run.
			if err == nil && d.Name() == name && !strings.Contains(p, "touch") {
				out = append(out, p)
			}
			return nil
		})
	}
	return out
}

func chaosDeepCopy(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

func chaosClip(s string) string {
	if len(s) > 160 {
		return s[:160] + "..."
	}
	return s
}

// tryRaw sends body as is with Content-Type application/json (nil: no
// body); a stream that answers 200 is closed after its headers.
func tryRaw(c *apitest.Caller, method, path string, body []byte) (apitest.Resp, error) {
	return tryRawCT(c, method, path, body, "application/json")
}

// tryRawCT is tryRaw with another Content-Type.
func tryRawCT(c *apitest.Caller, method, path string, body []byte, ctype string) (apitest.Resp, error) {
	var send any
	if body != nil {
		send = httpapi.Raw{Data: body, ContentType: ctype}
	}
	res, err := c.Client.Send(context.Background(), method, path, nil, send)
	if errors.Is(err, httpapi.ErrNotSent) {
		// A path Go will not even send is no answer of the app's: count it
		// as refused by the client.
		return apitest.Resp{Status: 400, Body: map[string]any{"error": map[string]any{"code": "client", "message": err.Error()}}}, nil
	}
	if err != nil {
		return apitest.Resp{}, err
	}
	defer res.Body.Close()
	out := apitest.Resp{Status: res.StatusCode}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		return out, nil
	}
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	out.Raw = raw
	_ = json.Unmarshal(raw, &out.Body)
	return out, nil
}
