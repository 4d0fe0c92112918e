package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"releasedesk/events"
	"releasedesk/events/catalog"
	"releasedesk/runner"
)

var updateProjectConfigGolden = flag.Bool("update-projectconfig", false, "rewrite the golden files of testdata/projectconfig")

// pcDesignProject is the project of the example of DESIGN.md section 5.
func pcDesignProject() catalog.Project {
	return catalog.Project{
		ID:           "blog",
		Title:        "Blog",
		Repo:         "/srv/git/blog.git",
		Branch:       "master",
		Strategy:     "rsync",
		Exclude:      []string{".git", "node_modules"},
		Shared:       []string{"storage/logs", ".env"},
		VersionFiles: []string{"VERSION"},
		KeepReleases: 5,
		HealthCheck:  catalog.HealthCheck{Timeout: catalog.Duration(10 * time.Second)},
		Environments: []catalog.Environment{
			{
				Name:      "test",
				Path:      "/home/www/blog",
				Hosts:     []catalog.Host{{Addr: "www@10.0.0.5:22"}},
				SSHKey:    "/home/www/.ssh/publish_rsa",
				Parallel:  10,
				OnFailure: "halt",
			},
			{
				Name:     "production",
				Path:     "/home/www/blog",
				Hosts:    []catalog.Host{{Addr: "www@10.0.1.1:22"}, {Addr: "www@10.0.1.2:22"}},
				Approval: true,
			},
		},
	}
}

// pcFullProject sets every field, with values that are awkward in YAML.
func pcFullProject() catalog.Project {
	return catalog.Project{
		ID:           "shop_2",
		Title:        `Shop: "main" — #1 ünïcode`,
		Repo:         "git@github.com:acme/shop.git",
		Branch:       "release/2.0",
		Strategy:     "rsync",
		Build:        "npm ci\nnpm run build -- --prod   \n\tmake assets\n",
		Exclude:      []string{"*.log", "storage/cache/", "[abc]x", "true", "- not-a-rule"[2:]},
		Shared:       []string{"storage/", ".env", "public/uploads"},
		VersionFiles: []string{"VERSION", "public/version.txt"},
		KeepReleases: 100,
		Hooks: catalog.Hooks{
			PreDeploy:   "echo 'pre' # not a comment",
			PostDeploy:  "curl -fsS https://hooks.example/deployed?x=1&y=2",
			PreRelease:  "php artisan migrate --force\nphp artisan cache:clear",
			PostRelease: "null",
		},
		HealthCheck: catalog.HealthCheck{Command: "curl -fsS http://127.0.0.1/health", Timeout: catalog.Duration(90 * time.Second)},
		Env: []catalog.EnvVar{
			{Name: "APP_ENV", Value: "production"},
			{Name: "COUNT", Value: "10"},
			{Name: "DB_PASSWORD", FromFile: "/etc/shop/db_password", Secret: true},
			{Name: "API_TOKEN", FromEnv: "SHOP_API_TOKEN", Secret: true},
			{Name: "_QUOTES", Value: `a "b" 'c' ~ : - ? {}`},
		},
		Environments: []catalog.Environment{
			{
				Name:  "test",
				Path:  "/srv/shop test",
				Hosts: []catalog.Host{{Addr: "deploy@test-1.example.com"}, {Addr: "deploy@[::1]:2222", Path: "/srv/shop-alt"}},
				Batch: 1, OnFailure: "continue", Parallel: 1,
			},
			{
				Name: "prod-eu", Path: "/srv/shop", SSHKey: "/keys/deploy key",
				Hosts:    []catalog.Host{{Addr: "deploy@10.0.1.1"}, {Addr: "deploy@10.0.1.2:22"}, {Addr: "deploy@10.0.1.3:22"}},
				Parallel: 200, Batch: 2, OnFailure: "halt", Approval: true,
			},
		},
		Workflow: catalog.Workflow{FastForward: true, AllowSelfTest: true},
	}
}

// pcDesignExample is the YAML block of DESIGN.md section 5, read from the
// document itself so that the example and the reader cannot drift apart.
func pcDesignExample(t *testing.T) []byte {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "docs", "DESIGN.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "Project configuration (YAML file")
	if !ok {
		t.Fatal("DESIGN.md: no project configuration example")
	}
	_, rest, ok = strings.Cut(rest, "```yaml\n")
	if !ok {
		t.Fatal("DESIGN.md: no yaml block after \"Project configuration\"")
	}
	block, _, _ := strings.Cut(rest, "```")
	return []byte(block)
}

func pcTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "projectconfig", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pcGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "projectconfig", name)
	if *updateProjectConfigGolden {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update-projectconfig to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func pcMustParse(t *testing.T, doc []byte, ctype string) catalog.Project {
	t.Helper()
	p, err := ParseProjectConfig(doc, ctype)
	if err != nil {
		t.Fatalf("ParseProjectConfig: %v\n%s", err, doc)
	}
	return p
}

func TestProjectConfigDesignExampleParses(t *testing.T) {
	want := pcDesignProject()
	for _, c := range []struct {
		name, ctype string
		doc         []byte
	}{
		{"DESIGN.md", "application/yaml", pcDesignExample(t)},
		{"DESIGN.md sniffed", "", pcDesignExample(t)},
		{"design.yaml", "text/yaml", pcTestdata(t, "design.yaml")},
		{"design.json", "application/json; charset=utf-8", pcTestdata(t, "design.json")},
		{"design.json sniffed", "", pcTestdata(t, "design.json")},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := pcMustParse(t, c.doc, c.ctype)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got\n%#v\nwant\n%#v", got, want)
			}
		})
	}
	if !bytes.Equal(pcDesignExample(t), pcTestdata(t, "design.yaml")) {
		t.Error("testdata/projectconfig/design.yaml is not the example of DESIGN.md section 5 any more")
	}
}

// pcWant is one expected error: its exact path and a part of its reason.
type pcWant struct{ path, reason string }

func pcCheckErrors(t *testing.T, err error, wants []pcWant) {
	t.Helper()
	var ce ConfigErrors
	if !errors.As(err, &ce) {
		t.Fatalf("want ConfigErrors %v, got %v (%T)", wants, err, err)
	}
	ok := len(ce) == len(wants)
	for i := 0; ok && i < len(ce); i++ {
		ok = ce[i].Path == wants[i].path && strings.Contains(ce[i].Reason, wants[i].reason)
	}
	if !ok {
		t.Errorf("errors:\n%v\nwant (path, part of the reason):\n%q", ce, wants)
	}
}

// TestProjectConfigRules: one case per rule, each checked three ways:
// ValidateProject on the struct, and ParseProjectConfig of the same
// project written as YAML and as JSON. Each case must report exactly the
// listed errors, nothing more.
func TestProjectConfigRules(t *testing.T) {
	env := func(p *catalog.Project, i int) *catalog.Environment { return &p.Environments[i] }
	cases := []struct {
		name string
		mut  func(p *catalog.Project)
		want []pcWant
	}{
		{"id required", func(p *catalog.Project) { p.ID = "" }, []pcWant{{"id", "required"}}},
		{"id invalid", func(p *catalog.Project) { p.ID = "Blog!" }, []pcWant{{"id", `project id "Blog!"`}}},
		{"id as path", func(p *catalog.Project) { p.ID = "../etc" }, []pcWant{{"id", "want [a-z0-9]"}}},
		{"title too long", func(p *catalog.Project) { p.Title = strings.Repeat("é", 201) }, []pcWant{{"title", "201 characters: at most 200"}}},
		{"title 200 is fine", func(p *catalog.Project) { p.Title = strings.Repeat("é", 200) }, nil},
		{"title one line", func(p *catalog.Project) { p.Title = "a\nb" }, []pcWant{{"title", "control character"}}},
		{"repo required", func(p *catalog.Project) { p.Repo = "" }, []pcWant{{"repo", "required"}}},
		{"repo relative", func(p *catalog.Project) { p.Repo = "git/blog.git" }, []pcWant{{"repo", "want an absolute path"}}},
		{"repo ext", func(p *catalog.Project) { p.Repo = "ext::sh -c touch% CANARY" }, []pcWant{{"repo", "bad repository URL"}}},
		{"repo ext no space", func(p *catalog.Project) { p.Repo = "ext::sh" }, []pcWant{{"repo", "remote helper"}}},
		{"repo leading dash", func(p *catalog.Project) { p.Repo = "--upload-pack=touch" }, []pcWant{{"repo", "starts with '-'"}}},
		{"repo upload-pack inside", func(p *catalog.Project) { p.Repo = "ssh://host/x--upload-pack=y" }, []pcWant{{"repo", `contains "--upload-pack"`}}},
		{"repo file URL with a host", func(p *catalog.Project) { p.Repo = "file://host/srv/x.git" }, []pcWant{{"repo", "file URL"}}},
		{"repo scp without path", func(p *catalog.Project) { p.Repo = "git@host:" }, []pcWant{{"repo", "no path after ':'"}}},
		{"repo url is fine", func(p *catalog.Project) { p.Repo = "https://git.example.com/blog.git" }, nil},
		{"branch required", func(p *catalog.Project) { p.Branch = "" }, []pcWant{{"branch", "required"}}},
		{"branch invalid", func(p *catalog.Project) { p.Branch = "feature..x" }, []pcWant{{"branch", `contains ".."`}}},
		{"strategy required", func(p *catalog.Project) { p.Strategy = "" }, []pcWant{{"strategy", "required: want rsync, git or local"}}},
		{"strategy unknown", func(p *catalog.Project) { p.Strategy = "ftp" }, []pcWant{{"strategy", `unknown strategy "ftp": want rsync, git or local`}}},
		{"build with git", func(p *catalog.Project) { p.Strategy = "git"; p.Build = "make" }, []pcWant{{"build", "git strategy cannot publish a build"}}},
		{"build NUL", func(p *catalog.Project) { p.Build = "make\x00" }, []pcWant{{"build", "NUL"}}},
		{"exclude rsync rule", func(p *catalog.Project) { p.Exclude = []string{".git", "- secret"} }, []pcWant{{"exclude[1]", "exclude pattern"}}},
		{"exclude unsupported", func(p *catalog.Project) { p.Exclude = []string{"a/**"} }, []pcWant{{"exclude[0]", "not supported"}}},
		{"exclude twice", func(p *catalog.Project) { p.Exclude = []string{".git", ".git"} }, []pcWant{{"exclude[1]", "listed twice (also exclude[0])"}}},
		{"shared parent", func(p *catalog.Project) { p.Shared = []string{"../x"} }, []pcWant{{"shared[0]", `".." component`}}},
		{"shared absolute", func(p *catalog.Project) { p.Shared = []string{"/etc"} }, []pcWant{{"shared[0]", "must be relative"}}},
		{"shared twice", func(p *catalog.Project) { p.Shared = []string{"storage/logs", "storage/logs/"} }, []pcWant{{"shared[1]", `"storage/logs" is listed twice`}}},
		{"version file not clean", func(p *catalog.Project) { p.VersionFiles = []string{"./VERSION"} }, []pcWant{{"version_files[0]", "not clean"}}},
		{"version file twice", func(p *catalog.Project) { p.VersionFiles = []string{"VERSION", "VERSION"} }, []pcWant{{"version_files[1]", "listed twice"}}},
		{"keep_releases 1", func(p *catalog.Project) { p.KeepReleases = 1 }, []pcWant{{"keep_releases", "want 2 to 100"}}},
		{"keep_releases 101", func(p *catalog.Project) { p.KeepReleases = 101 }, []pcWant{{"keep_releases", "want 2 to 100"}}},
		{"keep_releases negative", func(p *catalog.Project) { p.KeepReleases = -1 }, []pcWant{{"keep_releases", "want 2 to 100"}}},
		{"keep_releases 0 is the default", func(p *catalog.Project) { p.KeepReleases = 0 }, nil},
		{"hook NUL", func(p *catalog.Project) { p.Hooks.PreDeploy = "echo\x00" }, []pcWant{{"hooks.pre_deploy", "NUL"}}},
		{"hook too long", func(p *catalog.Project) { p.Hooks.PostRelease = strings.Repeat("x", 8193) }, []pcWant{{"hooks.post_release", "at most 8192"}}},
		{"hook 8 KiB is fine", func(p *catalog.Project) { p.Hooks.PostRelease = strings.Repeat("x", 8192) }, nil},
		{"health check too long", func(p *catalog.Project) { p.HealthCheck.Timeout = catalog.Duration(11 * time.Minute) }, []pcWant{{"health_check.timeout", "at most 10m0s"}}},
		{"health check negative", func(p *catalog.Project) { p.HealthCheck.Timeout = catalog.Duration(-time.Second) }, []pcWant{{"health_check.timeout", "-1s"}}},
		{"env name", func(p *catalog.Project) { p.Env = []catalog.EnvVar{{Name: "1X", Value: "v"}} }, []pcWant{{"env[0].name", `"1X"`}}},
		{"env name required", func(p *catalog.Project) { p.Env = []catalog.EnvVar{{Value: "v"}} }, []pcWant{{"env[0].name", "required"}}},
		{"env no source", func(p *catalog.Project) { p.Env = []catalog.EnvVar{{Name: "X"}} }, []pcWant{{"env[0]", "exactly one of value, from_file, from_env"}}},
		{"env two sources", func(p *catalog.Project) { p.Env = []catalog.EnvVar{{Name: "X", Value: "v", FromEnv: "Y"}} }, []pcWant{{"env[0]", "exactly one"}}},
		{"env from_file relative", func(p *catalog.Project) { p.Env = []catalog.EnvVar{{Name: "X", FromFile: "secrets/x"}} }, []pcWant{{"env[0].from_file", "not absolute"}}},
		{"env from_env name", func(p *catalog.Project) { p.Env = []catalog.EnvVar{{Name: "X", FromEnv: "A-B"}} }, []pcWant{{"env[0].from_env", `"A-B"`}}},
		{"env secret value", func(p *catalog.Project) { p.Env = []catalog.EnvVar{{Name: "X", Value: "hunter2", Secret: true}} }, []pcWant{{"env[0].value", "use from_file or from_env"}}},
		{"env value NUL", func(p *catalog.Project) { p.Env = []catalog.EnvVar{{Name: "X", Value: "a\x00b"}} }, []pcWant{{"env[0].value", "NUL"}}},
		{"env twice", func(p *catalog.Project) {
			p.Env = []catalog.EnvVar{{Name: "X", Value: "1"}, {Name: "X", Value: "2"}}
		}, []pcWant{{"env[1].name", "defined twice (also env[0])"}}},
		{"environments required", func(p *catalog.Project) { p.Environments = nil }, []pcWant{{"environments", "at least one environment"}}},
		{"environment name", func(p *catalog.Project) { env(p, 1).Name = "Prod" }, []pcWant{{"environments[1].name", `"Prod"`}}},
		{"environment name required", func(p *catalog.Project) { env(p, 1).Name = "" }, []pcWant{{"environments[1].name", "required"}}},
		{"environment name too long", func(p *catalog.Project) { env(p, 1).Name = "p" + strings.Repeat("x", 32) }, []pcWant{{"environments[1].name", "at most 32"}}},
		{"duplicate environment", func(p *catalog.Project) {
			env(p, 1).Name = "test"
			env(p, 1).Path = "/home/www/other"
		}, []pcWant{{"environments[1].name", `duplicate environment "test" (also environments[0])`}}},
		{"environment path relative", func(p *catalog.Project) { env(p, 0).Path = "www/blog" }, []pcWant{{"environments[0].path", "not absolute"}}},
		{"environment path required", func(p *catalog.Project) { env(p, 0).Path = "" }, []pcWant{{"environments[0].path", "required"}}},
		{"environment path root", func(p *catalog.Project) { env(p, 0).Path = "/" }, []pcWant{{"environments[0].path", "root directory"}}},
		{"hosts required", func(p *catalog.Project) { env(p, 1).Hosts = nil }, []pcWant{{"environments[1].hosts", "at least one host is required for the rsync strategy"}}},
		{"host without user", func(p *catalog.Project) { env(p, 1).Hosts[0].Addr = "10.0.1.1:22" }, []pcWant{{"environments[1].hosts[0]", "want user@host:port"}}},
		{"host bad port", func(p *catalog.Project) { env(p, 1).Hosts[1].Addr = "www@10.0.1.2:99999" }, []pcWant{{"environments[1].hosts[1]", "want 1-65535"}}},
		{"host ipv6 without brackets", func(p *catalog.Project) { env(p, 1).Hosts[1].Addr = "www@::1" }, []pcWant{{"environments[1].hosts[1]", "needs brackets"}}},
		{"host path relative", func(p *catalog.Project) { env(p, 1).Hosts[0].Path = "blog" }, []pcWant{{"environments[1].hosts[0].path", "not absolute"}}},
		{"host twice", func(p *catalog.Project) {
			env(p, 1).Hosts = []catalog.Host{{Addr: "www@10.0.1.1"}, {Addr: "www@10.0.1.1:22", Path: "/srv/b"}}
		}, []pcWant{{"environments[1].hosts[1]", "www@10.0.1.1:22 is listed twice (also environments[1].hosts[0])"}}},
		{"host path override is fine", func(p *catalog.Project) { env(p, 1).Hosts[0].Path = "/srv/blog" }, nil},
		{"same place in two environments", func(p *catalog.Project) {
			env(p, 1).Hosts[0] = catalog.Host{Addr: "www@10.0.0.5"}
		}, []pcWant{{"environments[1].hosts[0]", `www@10.0.0.5:22 at /home/www/blog is also a target of environment "test"`}}},
		{"local with hosts", func(p *catalog.Project) {
			p.Strategy = "local"
			env(p, 0).Hosts = nil
			env(p, 1).Path = "/home/www/blog-prod"
		}, []pcWant{{"environments[1].hosts", "the local strategy publishes to path on this machine"}}},
		{"local in one place", func(p *catalog.Project) {
			p.Strategy = "local"
			env(p, 0).Hosts, env(p, 1).Hosts = nil, nil
		}, []pcWant{{"environments[1].path", "/home/www/blog on this machine is also a target of environment \"test\""}}},
		{"local is fine", func(p *catalog.Project) {
			p.Strategy = "local"
			env(p, 0).Hosts, env(p, 1).Hosts = nil, nil
			env(p, 1).Path = "/home/www/blog-prod"
		}, nil},
		{"ssh_key relative", func(p *catalog.Project) { env(p, 0).SSHKey = "~/.ssh/id_rsa" }, []pcWant{{"environments[0].ssh_key", "not absolute"}}},
		{"parallel too many", func(p *catalog.Project) { env(p, 0).Parallel = 201 }, []pcWant{{"environments[0].parallel", "want 1 to 200"}}},
		{"parallel negative", func(p *catalog.Project) { env(p, 0).Parallel = -1 }, []pcWant{{"environments[0].parallel", "want 1 to 200"}}},
		{"batch negative", func(p *catalog.Project) { env(p, 0).Batch = -1 }, []pcWant{{"environments[0].batch", "must not be negative"}}},
		{"on_failure", func(p *catalog.Project) { env(p, 0).OnFailure = "retry" }, []pcWant{{"environments[0].on_failure", `"retry": want halt or continue`}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := pcDesignProject()
			c.mut(&p)
			errs := ValidateProject(p)
			if c.want == nil {
				if errs != nil {
					t.Fatalf("ValidateProject: %v", errs)
				}
			} else {
				pcCheckErrors(t, errs, c.want)
			}

			y, err := MarshalProjectYAML(p)
			if err != nil {
				t.Fatal(err)
			}
			j, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range []struct {
				format string
				doc    []byte
			}{{"application/yaml", y}, {"application/json", j}} {
				got, err := ParseProjectConfig(d.doc, d.format)
				if c.want == nil {
					if err != nil {
						t.Fatalf("%s: %v\n%s", d.format, err, d.doc)
					}
					if !reflect.DeepEqual(got, p) {
						t.Errorf("%s: got\n%#v\nwant\n%#v", d.format, got, p)
					}
					continue
				}
				pcCheckErrors(t, err, c.want)
			}
		})
	}
}

const pcBaseYAML = `id: blog
repo: /srv/git/blog.git
branch: master
strategy: rsync
keep_releases: 5
health_check: {timeout: 10s}
environments:
  - name: test
    path: /home/www/blog
    hosts: ["www@10.0.0.5:22"]
    approval: false
`

// pcEdit replaces old (which must be there) by new in doc.
func pcEdit(t *testing.T, doc, old, new string) []byte {
	t.Helper()
	if !strings.Contains(doc, old) {
		t.Fatalf("%q is not in the document", old)
	}
	return []byte(strings.Replace(doc, old, new, 1))
}

const pcBaseJSON = `{"id": "blog", "repo": "/srv/git/blog.git", "branch": "master", "strategy": "rsync",
 "keep_releases": 5,
 "environments": [{"name": "test", "path": "/home/www/blog", "hosts": ["www@10.0.0.5:22"]}]}`

// TestProjectConfigDocuments: what only a document can get wrong (unknown
// fields, types, duplicate keys, syntax, size), with exact paths.
func TestProjectConfigDocuments(t *testing.T) {
	if _, err := ParseProjectConfig([]byte(pcBaseYAML), ""); err != nil {
		t.Fatalf("base YAML: %v", err)
	}
	if _, err := ParseProjectConfig([]byte(pcBaseJSON), ""); err != nil {
		t.Fatalf("base JSON: %v", err)
	}
	y := func(old, new string) []byte { return pcEdit(t, pcBaseYAML, old, new) }
	j := func(old, new string) []byte { return pcEdit(t, pcBaseJSON, old, new) }
	cases := []struct {
		name  string
		ctype string
		doc   []byte
		want  []pcWant
	}{
		{"unknown top-level field", "", y("strategy: rsync", "strategy: rsync\nbuidl: make"),
			[]pcWant{{"buidl", `unknown field (did you mean "build"?) (line 5)`}}},
		{"unknown field far from any", "", y("strategy: rsync", "strategy: rsync\nwhatever: 1"),
			[]pcWant{{"whatever", "unknown field; known fields: id, title, repo"}}},
		{"field names are case-sensitive", "", y("id: blog", "ID: blog"),
			[]pcWant{{"ID", `unknown field (did you mean "id"?)`}}},
		{"unknown field at depth", "", y("    hosts:", "    hostz:"),
			[]pcWant{{"environments[0].hostz", `unknown field (did you mean "hosts"?) (line 10)`}}},
		{"unknown field of a host", "", y(`["www@10.0.0.5:22"]`, `[{addr: "www@10.0.0.5", port: 22}]`),
			[]pcWant{{"environments[0].hosts[0].port", "unknown field"}}},
		{"unknown field of a hook", "", y("strategy: rsync", "strategy: rsync\nhooks: {pre_deploy: x, post_switch: y}"),
			[]pcWant{{"hooks.post_switch", "unknown field"}}},
		{"odd key is quoted in the path", "", y("    approval: false", "    approval: false\n    \"a.b\": 1"),
			[]pcWant{{`environments[0]["a.b"]`, "unknown field"}}},
		{"wrong type keep_releases", "", y("keep_releases: 5", `keep_releases: "five"`),
			[]pcWant{{"keep_releases", `want an integer, got the string "five" (line 5)`}}},
		{"wrong type float", "", y("keep_releases: 5", "keep_releases: 5.5"),
			[]pcWant{{"keep_releases", "want an integer, got the number 5.5"}}},
		{"wrong type bool", "", y("approval: false", "approval: yes"),
			[]pcWant{{"environments[0].approval", `want true or false, got the string "yes"`}}},
		{"wrong type list", "", y("branch: master", "branch: [master]"),
			[]pcWant{{"branch", "want a string, got a list"}}},
		{"wrong type mapping", "", y("    hosts:", "    hosts: {a: b}\n    x_hosts:"),
			[]pcWant{{"environments[0].hosts", "want a list, got a mapping"}, {"environments[0].x_hosts", "unknown field"}}},
		{"wrong type host", "", y(`["www@10.0.0.5:22"]`, `[["www@10.0.0.5:22"]]`),
			[]pcWant{{"environments[0].hosts[0]", `want "user@host:port" or {addr, path}, got a list`}}},
		{"wrong type environment", "", y("  - name: test", "  - x\n  - name: test"),
			[]pcWant{{"environments[0]", "want a mapping of name, path, hosts"}}},
		{"wrong type duration", "", y("timeout: 10s", "timeout: 10"),
			[]pcWant{{"health_check.timeout", `want a duration such as "10s"`}}},
		{"bad duration", "", y("timeout: 10s", "timeout: ten"),
			[]pcWant{{"health_check.timeout", `want a duration such as "10s" or "1m30s", got the string "ten"`}}},
		{"top level not a mapping", "", []byte("- a\n- b\n"),
			[]pcWant{{"", "want a mapping of id, title"}}},
		{"duplicate YAML key", "", y("branch: master", "branch: master\nbranch: main"),
			[]pcWant{{"branch", "duplicate key (first at line 3) (line 4)"}}},
		{"duplicate YAML key at depth", "", y("    approval: false", "    approval: false\n    approval: true"),
			[]pcWant{{"environments[0].approval", "duplicate key"}}},
		{"duplicate JSON key", "application/json", j(`"branch": "master",`, `"branch": "master", "branch": "main",`),
			[]pcWant{{"branch", "duplicate key"}}},
		{"JSON unknown field at depth", "application/json", j(`"hosts"`, `"hostz"`),
			[]pcWant{{"environments[0].hostz", `unknown field (did you mean "hosts"?)`}}},
		{"JSON wrong type", "", j(`"keep_releases": 5`, `"keep_releases": "five"`),
			[]pcWant{{"keep_releases", `want an integer, got the string "five" (line 2)`}}},
		{"JSON number is not a string", "", j(`"id": "blog"`, `"id": 7`),
			[]pcWant{{"id", "want a string, got the number 7"}}},
		{"JSON float is not an integer", "", j(`"keep_releases": 5`, `"keep_releases": 5.0`),
			[]pcWant{{"keep_releases", "want an integer, got the number 5.0"}}},
		{"JSON host object", "", j(`["www@10.0.0.5:22"]`, `[{"addr": "www@10.0.0.5:22", "path": "x"}]`),
			[]pcWant{{"environments[0].hosts[0].path", "not absolute"}}},
		{"JSON syntax", "application/json", []byte("{\"id\": \"blog\",\n \"repo\": }"),
			[]pcWant{{"", "JSON syntax: line 2"}}},
		{"JSON trailing data", "application/json", []byte(pcBaseJSON + " {}"),
			[]pcWant{{"", "data after the end of the document"}}},
		{"JSON truncated", "application/json", []byte(pcBaseJSON[:40]),
			[]pcWant{{"", "JSON syntax"}}},
		{"YAML syntax", "", []byte("id: blog\n  repo: x\n"),
			[]pcWant{{"", "YAML syntax: line 2"}}},
		{"two YAML documents", "", []byte(pcBaseYAML + "---\nid: other\n"),
			[]pcWant{{"", "a second YAML document"}}},
		{"YAML merge key", "", y("id: blog", "x: &x {id: blog}\n<<: *x"),
			[]pcWant{{"", "merge keys"}}},
		{"YAML custom tag", "", y("branch: master", "branch: !shell master"),
			[]pcWant{{"", "tag !shell is not supported"}}},
		{"empty", "", []byte(" \n# nothing\n"), []pcWant{{"", "empty"}}},
		{"empty JSON", "application/json", []byte("  "), []pcWant{{"", "empty"}}},
		{"null document", "", []byte("null\n"), []pcWant{{"", "empty"}}},
		{"too large", "", append([]byte(pcBaseYAML+"#"), bytes.Repeat([]byte("x"), MaxProjectConfigSize)...),
			[]pcWant{{"", "larger than 1048576 bytes"}}},
		{"not UTF-8", "", y("id: blog", "id: bl\xffog"), []pcWant{{"", "not valid UTF-8"}}},
		{"content type", "text/plain", []byte(pcBaseYAML), []pcWant{{"", `content type "text/plain": want application/json or application/yaml`}}},
		{"YAML as JSON", "application/json", []byte(pcBaseYAML), []pcWant{{"", "JSON syntax"}}},
		{"wrong value then no second error", "", y("id: blog", "id: [blog]"),
			[]pcWant{{"id", "want a string, got a list"}}},
		{"five errors at once", "", []byte(`id: Blog!
repo: relative/path
branch: master
strategy: ftp
keep_releases: "five"
environments:
  - name: test
    path: /home/www/blog
    hostz: ["www@10.0.0.5:22"]
`), []pcWant{
			{"keep_releases", "want an integer"},
			{"environments[0].hostz", "unknown field"},
			{"id", `project id "Blog!"`},
			{"repo", "want an absolute path"},
			{"strategy", `unknown strategy "ftp"`},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParseProjectConfig(c.doc, c.ctype)
			pcCheckErrors(t, err, c.want)
			if !reflect.ValueOf(p).IsZero() {
				t.Errorf("a refused configuration returned %#v", p)
			}
		})
	}
}

func TestProjectConfigYAMLNiceties(t *testing.T) {
	// Plain scalars that YAML reads as numbers or booleans are strings
	// where a string is wanted; aliases work; null is absent.
	doc := pcEdit(t, pcBaseYAML, "id: blog", "id: 2024\ntitle: true\nbuild:\nexclude: &ex [\".git\"]")
	doc = []byte(strings.Replace(string(doc), "branch: master", "branch: 1.10", 1))
	doc = []byte(strings.Replace(string(doc), `hosts: ["www@10.0.0.5:22"]`, "hosts: [{addr: www@10.0.0.5, path: /srv/x}]", 1))
	p := pcMustParse(t, doc, "")
	if p.ID != "2024" || p.Title != "true" || p.Branch != "1.10" || p.Build != "" ||
		!reflect.DeepEqual(p.Exclude, []string{".git"}) ||
		!reflect.DeepEqual(p.Environments[0].Hosts, []catalog.Host{{Addr: "www@10.0.0.5", Path: "/srv/x"}}) {
		t.Errorf("got %#v", p)
	}
	// An alias bomb is refused, not expanded.
	var bomb strings.Builder
	bomb.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&bomb, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	_, err := ParseProjectConfig([]byte(bomb.String()), "")
	pcCheckErrors(t, err, []pcWant{{"", "aliases expand to too much"}})
}

// TestProjectConfigInjection: shell and git option payloads in the fields
// that reach a command line are refused with their path, and nothing is
// run while reading them.
func TestProjectConfigInjection(t *testing.T) {
	dir := t.TempDir()
	canary := filepath.Join(dir, "CANARY")
	payloads := []string{
		"$(touch " + canary + ")",
		"$(touch${IFS}CANARY)",
		"`touch " + canary + "`",
		"`touch${IFS}CANARY`",
		"--upload-pack=touch " + canary,
		"--upload-pack=touch${IFS}CANARY",
		"-oProxyCommand=touch${IFS}CANARY",
		"ext::sh -c touch% " + canary,
		"ext::sh",
		"../x",
		"x\ntouch CANARY",
		"; touch CANARY",
		"|touch${IFS}CANARY",
	}
	// Relative paths inside a release may hold any printable character
	// (the runner quotes them): only what escapes or reads as an option
	// is refused there.
	relative := []string{"../x", "--upload-pack=touch${IFS}CANARY", "x\ntouch CANARY", "a/../../x"}
	fields := []struct {
		path     string
		set      func(p *catalog.Project, v string)
		payloads []string
	}{
		{"repo", func(p *catalog.Project, v string) { p.Repo = v }, nil},
		{"branch", func(p *catalog.Project, v string) { p.Branch = v }, nil},
		{"environments[0].path", func(p *catalog.Project, v string) { p.Environments[0].Path = v }, nil},
		{"environments[1].hosts[0]", func(p *catalog.Project, v string) { p.Environments[1].Hosts[0].Addr = v }, nil},
		{"environments[1].hosts[1].path", func(p *catalog.Project, v string) { p.Environments[1].Hosts[1].Path = v }, nil},
		{"environments[0].ssh_key", func(p *catalog.Project, v string) { p.Environments[0].SSHKey = v }, nil},
		{"shared[0]", func(p *catalog.Project, v string) { p.Shared[0] = v }, relative},
		{"version_files[0]", func(p *catalog.Project, v string) { p.VersionFiles[0] = v }, relative},
		{"exclude[0]", func(p *catalog.Project, v string) { p.Exclude[0] = "-" + v }, nil},
		{"env[0].from_file", func(p *catalog.Project, v string) {
			p.Env = []catalog.EnvVar{{Name: "X", FromFile: v}}
		}, nil},
	}
	for _, f := range fields {
		if f.payloads == nil {
			f.payloads = payloads
		}
		for _, v := range f.payloads {
			p := pcDesignProject()
			f.set(&p, v)
			var found bool
			for _, fe := range ValidateProject(p) {
				found = found || fe.Path == f.path
			}
			if !found {
				t.Errorf("%s = %q: not refused (%v)", f.path, v, ValidateProject(p))
			}
			for _, enc := range []func(catalog.Project) ([]byte, error){MarshalProjectYAML, func(p catalog.Project) ([]byte, error) { return json.Marshal(p) }} {
				doc, err := enc(p)
				if err != nil {
					t.Fatal(err)
				}
				_, err = ParseProjectConfig(doc, "")
				var ce ConfigErrors
				if !errors.As(err, &ce) || !strings.Contains("\n"+ce.Error(), "\n"+f.path+": ") {
					t.Errorf("%s = %q: parse did not name the field: %v", f.path, v, err)
				}
			}
		}
	}
	for _, p := range []string{canary, "CANARY"} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s exists: %v", p, err)
		}
	}
}

func TestProjectConfigErrorFormat(t *testing.T) {
	_, err := ParseProjectConfig([]byte("id: blog\nrepo: x\nbranch: master\nstrategy: rsync\nenvironments: []\n"), "")
	want := `repo: bad repository URL "x": want an absolute path, file://, ssh://, git://, https:// or user@host:path
environments: at least one environment is required`
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
	var ce ConfigErrors
	if !errors.As(fmt.Errorf("apply: %w", err), &ce) || len(ce) != 2 {
		t.Errorf("errors.As: %v", ce)
	}
	if s := (FieldError{Reason: "the document is empty"}).String(); s != "the document is empty" {
		t.Errorf("document-level error: %q", s)
	}
}

func TestProjectConfigMarshalRoundTrip(t *testing.T) {
	for name, p := range map[string]catalog.Project{"design": pcDesignProject(), "full": pcFullProject()} {
		t.Run(name, func(t *testing.T) {
			if errs := ValidateProject(p); errs != nil {
				t.Fatalf("test project is invalid: %v", errs)
			}
			y, err := MarshalProjectYAML(p)
			if err != nil {
				t.Fatal(err)
			}
			pcGolden(t, name+".canonical.yaml", y)
			for _, ctype := range []string{"", "application/x-yaml"} {
				if got := pcMustParse(t, y, ctype); !reflect.DeepEqual(got, p) {
					t.Errorf("YAML round trip:\n%s\ngot\n%#v\nwant\n%#v", y, got, p)
				}
			}
			again, _ := MarshalProjectYAML(pcMustParse(t, y, ""))
			if !bytes.Equal(again, y) {
				t.Errorf("not canonical: a second marshal differs:\n%s", again)
			}
			j, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			if got := pcMustParse(t, j, ""); !reflect.DeepEqual(got, p) {
				t.Errorf("JSON round trip:\n%s\ngot\n%#v", j, got)
			}
			if d := DiffProjects(p, pcMustParse(t, y, "")); len(d) != 0 {
				t.Errorf("diff after a round trip: %q", d)
			}
		})
	}
}

func TestProjectConfigDiff(t *testing.T) {
	old := pcDesignProject()
	if d := DiffProjects(old, pcDesignProject()); d != nil {
		t.Errorf("equal configurations: %q", d)
	}
	empty := pcDesignProject()
	empty.Shared = []string{}
	noShared := pcDesignProject()
	noShared.Shared = nil
	if d := DiffProjects(empty, noShared); d != nil {
		t.Errorf("nil and empty lists: %q", d)
	}

	created := DiffProjects(catalog.Project{}, old)
	wantCreated := []string{
		"+ project created",
		"+ id: blog",
		"+ title: Blog",
		"+ repo: /srv/git/blog.git",
		"+ branch: master",
		"+ strategy: rsync",
		"+ environments: test, production",
	}
	if !reflect.DeepEqual(created, wantCreated) {
		t.Errorf("created:\n%s\nwant\n%s", strings.Join(created, "\n"), strings.Join(wantCreated, "\n"))
	}

	p := pcDesignProject()
	p.Title = "The blog"
	p.Branch = "main"
	p.Build = "npm ci && npm run build"
	p.Exclude = []string{".git", "vendor"}
	p.Shared = []string{".env", "storage/logs"}
	p.KeepReleases = 10
	p.Hooks.PostRelease = "php artisan queue:restart\necho done"
	p.HealthCheck.Timeout = catalog.Duration(30 * time.Second)
	p.Env = []catalog.EnvVar{{Name: "APP_KEY", FromFile: "/etc/blog/app_key", Secret: true}}
	p.Environments = []catalog.Environment{
		{
			Name:      "test",
			Path:      "/home/www/blog",
			Hosts:     []catalog.Host{{Addr: "www@10.0.0.5:22"}, {Addr: "www@10.0.0.6:22"}},
			SSHKey:    "/home/www/.ssh/publish_rsa",
			Parallel:  10,
			OnFailure: "halt",
		},
		{
			Name:  "staging",
			Path:  "/home/www/blog-staging",
			Hosts: []catalog.Host{{Addr: "www@10.0.0.7:22", Path: "/srv/blog"}},
		},
		{
			Name:     "production",
			Path:     "/home/www/blog",
			Hosts:    []catalog.Host{{Addr: "www@10.0.1.2:22", Path: "/srv/blog"}, {Addr: "www@10.0.1.3:22"}},
			Parallel: 20,
			Batch:    1,
			Approval: true,
		},
	}
	if errs := ValidateProject(p); errs != nil {
		t.Fatalf("changed project is invalid: %v", errs)
	}
	d := DiffProjects(old, p)
	pcGolden(t, "diff.golden", []byte(strings.Join(d, "\n")+"\n"))

	q := pcDesignProject()
	q.Environments[0], q.Environments[1] = q.Environments[1], q.Environments[0]
	q.Exclude = []string{"node_modules", ".git"}
	q.Env = []catalog.EnvVar{{Name: "A", Value: "1"}}
	r := q
	r.Env = []catalog.EnvVar{{Name: "A", Value: "two words"}}
	got := append(DiffProjects(old, q), DiffProjects(q, r)...)
	wantOrder := []string{
		"~ exclude: order [.git, node_modules] -> [node_modules, .git]",
		"+ env: A (value 1)",
		"~ environments: order test, production -> production, test",
		`~ env[A].value: 1 -> "two words"`,
	}
	if !reflect.DeepEqual(got, wantOrder) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantOrder, "\n"))
	}
	long := pcDesignProject()
	long.Hooks.PreDeploy = strings.Repeat("x", 500)
	if d := DiffProjects(old, long); len(d) != 1 || !strings.HasSuffix(d[0], `... (500 bytes)`) || len(d[0]) > 200 {
		t.Errorf("long value: %q", d)
	}
}

// TestProjectConfigKnowsEveryField fails when catalog.Project gains a field
// that the reader, the diff or the canonical YAML would silently drop.
func TestProjectConfigKnowsEveryField(t *testing.T) {
	tags := func(v any) []string {
		var out []string
		rt := reflect.TypeOf(v)
		for i := 0; i < rt.NumField(); i++ {
			name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			out = append(out, name)
		}
		return out
	}
	for _, c := range []struct {
		typ   any
		known []string
	}{
		{catalog.Project{}, projectFields},
		{catalog.Hooks{}, hooksFields},
		{catalog.HealthCheck{}, healthCheckFields},
		{catalog.EnvVar{}, envVarFields},
		{catalog.Environment{}, environmentFields},
		{catalog.Host{}, hostFields},
	} {
		if got := tags(c.typ); !reflect.DeepEqual(got, c.known) {
			t.Errorf("%T has fields %v; the config reader knows %v: teach it (and DiffProjects and MarshalProjectYAML) the new ones",
				c.typ, got, c.known)
		}
	}
	// The full project sets every field, so a round trip covers them all.
	pcCheckAllSet(t, reflect.ValueOf(pcFullProject()), "project")
}

func pcCheckAllSet(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			pcCheckAllSet(t, v.Field(i), path+"."+v.Type().Field(i).Name)
		}
	case reflect.Slice:
		if v.Len() == 0 {
			t.Errorf("fullProject leaves %s empty", path)
		}
		// Each field of the items must be set in one item at least.
		if v.Len() > 0 && v.Index(0).Kind() == reflect.Struct {
			for f := 0; f < v.Index(0).NumField(); f++ {
				set := false
				for i := 0; i < v.Len(); i++ {
					set = set || !v.Index(i).Field(f).IsZero()
				}
				if !set {
					t.Errorf("fullProject leaves %s[].%s empty", path, v.Index(0).Type().Field(f).Name)
				}
			}
		}
	default:
		if v.IsZero() {
			t.Errorf("fullProject leaves %s empty", path)
		}
	}
}

func pcSubmit(p catalog.Project, env string) error {
	const commit = "0123456789abcdef0123456789abcdef01234567"
	for i := range p.Environments {
		if p.Strategy != catalog.StrategyLocal && p.Environments[i].SSHKey == "" {
			p.Environments[i].SSHKey = "/keys/id_ed25519" // the app's default key
		}
	}
	return runner.Submit(context.Background(), events.NewMemStore(events.Options{}), catalog.Request{
		Deployment: "d1", Kind: catalog.KindDeploy, Project: p, Environment: env,
		Commit: commit, Version: "20250101120000-" + commit[:7],
	}, "tester")
}

// TestProjectConfigAgreesWithRunner: what ValidateProject accepts,
// runner.Submit accepts for every environment; what Submit refuses,
// ValidateProject refuses.
func TestProjectConfigAgreesWithRunner(t *testing.T) {
	local := pcDesignProject()
	local.Strategy = "local"
	local.Environments[0].Hosts, local.Environments[1].Hosts = nil, nil
	local.Environments[1].Path = "/home/www/blog-prod"
	git := pcFullProject()
	git.Strategy, git.Build = "git", ""
	for name, p := range map[string]catalog.Project{"design": pcDesignProject(), "full": pcFullProject(), "local": local, "git": git} {
		if errs := ValidateProject(p); errs != nil {
			t.Fatalf("%s: %v", name, errs)
		}
		for _, e := range p.Environments {
			if err := pcSubmit(p, e.Name); err != nil {
				t.Errorf("%s: runner refuses environment %s: %v", name, e.Name, err)
			}
		}
	}
	for _, m := range []struct {
		name string
		mut  func(p *catalog.Project)
	}{
		{"repo file host", func(p *catalog.Project) { p.Repo = "file://host/srv/x.git" }},
		{"repo scp no path", func(p *catalog.Project) { p.Repo = "git@host:" }},
		{"repo option inside", func(p *catalog.Project) { p.Repo = "ssh://host/x--upload-pack=y" }},
		{"repo ProxyCommand", func(p *catalog.Project) { p.Repo = "ssh://host/x-oProxyCommand=y" }},
		{"build with git", func(p *catalog.Project) { p.Strategy, p.Build = "git", "make" }},
		{"secret value", func(p *catalog.Project) { p.Env = []catalog.EnvVar{{Name: "X", Value: "v", Secret: true}} }},
		{"env name", func(p *catalog.Project) { p.Env = []catalog.EnvVar{{Name: "X-Y", Value: "v"}} }},
		{"exclude", func(p *catalog.Project) { p.Exclude = []string{"a/**"} }},
		{"shared", func(p *catalog.Project) { p.Shared = []string{"../x/"} }},
		{"version file", func(p *catalog.Project) { p.VersionFiles = []string{"/VERSION"} }},
		{"keep negative", func(p *catalog.Project) { p.KeepReleases = -1 }},
		{"on_failure", func(p *catalog.Project) { p.Environments[0].OnFailure = "retry" }},
		{"host twice", func(p *catalog.Project) {
			p.Environments[0].Hosts = []catalog.Host{{Addr: "www@10.0.0.5:22"}, {Addr: "www@10.0.0.5:22", Path: "/srv/b"}}
		}},
		{"host path", func(p *catalog.Project) { p.Environments[0].Hosts[0].Path = "srv" }},
		{"host addr", func(p *catalog.Project) { p.Environments[0].Hosts[0].Addr = "-oProxyCommand=x@h" }},
		{"no hosts", func(p *catalog.Project) { p.Environments[0].Hosts = nil }},
		{"env path", func(p *catalog.Project) { p.Environments[0].Path = "/a/../b" }},
		{"strategy", func(p *catalog.Project) { p.Strategy = "scp" }},
		{"id", func(p *catalog.Project) { p.ID = "A" }},
	} {
		p := pcDesignProject()
		m.mut(&p)
		if err := pcSubmit(p, "test"); err == nil {
			t.Errorf("%s: the runner accepts it now; drop or change this case", m.name)
		}
		if errs := ValidateProject(p); errs == nil {
			t.Errorf("%s: the runner refuses it, ValidateProject accepts it", m.name)
		}
	}
}

func FuzzProjectConfig(f *testing.F) {
	f.Add([]byte(pcBaseYAML))
	f.Add([]byte(pcBaseJSON))
	f.Add([]byte("environments: [{name: a, hosts: [{addr: x}]}]"))
	f.Add([]byte("{\"environments\": [{\"hosts\": [{}]}]}"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		p, err := ParseProjectConfig(doc, "")
		if err != nil {
			var ce ConfigErrors
			if !errors.As(err, &ce) || len(ce) == 0 {
				t.Fatalf("error is not ConfigErrors: %v", err)
			}
			return
		}
		y, err := MarshalProjectYAML(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := pcMustParse(t, y, "application/yaml"); !reflect.DeepEqual(got, p) {
			t.Fatalf("round trip:\n%s\ngot %#v\nwant %#v", y, got, p)
		}
	})
}

// TestProjectConfigLargeDocuments: documents near the size limit are read
// in linear time, and a flood of problems is cut to a readable list.
func TestProjectConfigLargeDocuments(t *testing.T) {
	var manyHosts strings.Builder
	manyHosts.WriteString(pcBaseYAML)
	manyHosts.WriteString("  - name: prod\n    path: /srv/x\n    hosts:\n")
	for manyHosts.Len() < MaxProjectConfigSize-20 {
		manyHosts.WriteString("      - nouser\n")
	}
	var manyTokens strings.Builder
	manyTokens.WriteString(`{"id": "blog", "exclude": [`)
	for manyTokens.Len() < MaxProjectConfigSize-20 {
		manyTokens.WriteString("\"a\",\n")
	}
	manyTokens.WriteString(`"b"]}`)
	deep := strings.Repeat("[", MaxProjectConfigSize/2) + strings.Repeat("]", MaxProjectConfigSize/2)
	for name, c := range map[string]struct {
		doc   string
		ctype string
	}{
		"hosts":       {manyHosts.String(), ""},
		"JSON tokens": {manyTokens.String(), ""},
		"deep JSON":   {`{"x": ` + deep + `}`, "application/json"},
		"deep YAML":   {"x: " + deep, "application/yaml"},
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			_, err := ParseProjectConfig([]byte(c.doc), c.ctype)
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %s", d)
			}
			var ce ConfigErrors
			if !errors.As(err, &ce) || len(ce) == 0 || len(ce) > maxConfigErrors+1 {
				t.Fatalf("want at most %d problems and a summary, got %d: %.300v", maxConfigErrors, len(ce), err)
			}
			if len(ce) == maxConfigErrors+1 && !strings.HasPrefix(ce[maxConfigErrors].Reason, "and ") {
				t.Errorf("last line: %v", ce[maxConfigErrors])
			}
		})
	}
}
