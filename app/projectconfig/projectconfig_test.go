package projectconfig

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"releasedesk/events"
	"releasedesk/events/catalog"
	"releasedesk/events/text"
	"releasedesk/runner"
)

var updateProjectConfigGolden = flag.Bool("update-projectconfig", false, "rewrite the golden files of testdata")

// designProject is the project of the example of DESIGN.md section 5.
func designProject() catalog.Project {
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

// fullProject sets every field, with values that are awkward in YAML.
func fullProject() catalog.Project {
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
				Parallel: 200, Batch: 2, OnFailure: "halt", Approval: true, DriftCheck: catalog.Duration(90 * time.Minute),
			},
		},
		Workflow: catalog.Workflow{FastForward: true, AllowSelfTest: true},
	}
}

// designExample is the YAML block of DESIGN.md section 5, read from the
// document itself so that the example and the reader cannot drift apart.
func designExample(t *testing.T) []byte {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "DESIGN.md"))
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

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
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

func mustParse(t *testing.T, doc []byte, ctype string) catalog.Project {
	t.Helper()
	p, err := Parse(doc, ctype)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, doc)
	}
	return p
}

func TestProjectConfigDesignExampleParses(t *testing.T) {
	want := designProject()
	for _, c := range []struct {
		name, ctype string
		doc         []byte
	}{
		{"DESIGN.md", "application/yaml", designExample(t)},
		{"DESIGN.md sniffed", "", designExample(t)},
		{"design.yaml", "text/yaml", readTestdata(t, "design.yaml")},
		{"design.json", "application/json; charset=utf-8", readTestdata(t, "design.json")},
		{"design.json sniffed", "", readTestdata(t, "design.json")},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := mustParse(t, c.doc, c.ctype)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got\n%#v\nwant\n%#v", got, want)
			}
		})
	}
	if !bytes.Equal(designExample(t), readTestdata(t, "design.yaml")) {
		t.Error("testdata/design.yaml is not the example of DESIGN.md section 5 any more")
	}
}

// fieldWant is one expected error: its exact path and a part of its reason.
type fieldWant struct{ path, reason string }

func checkErrors(t *testing.T, err error, wants []fieldWant) {
	t.Helper()
	var ce Errors
	if !errors.As(err, &ce) {
		t.Fatalf("want Errors %v, got %v (%T)", wants, err, err)
	}
	ok := len(ce) == len(wants)
	for i := 0; ok && i < len(ce); i++ {
		ok = ce[i].Path == wants[i].path && strings.Contains(ce[i].Reason.String(), wants[i].reason)
	}
	if !ok {
		t.Errorf("errors:\n%v\nwant (path, part of the reason):\n%q", ce, wants)
	}
}

// TestProjectConfigRules: one case per rule, each checked three ways:
// Validate on the struct, and Parse of the same
// project written as YAML and as JSON. Each case must report exactly the
// listed errors, nothing more.
func TestProjectConfigRules(t *testing.T) {
	env := func(p *catalog.Project, i int) *catalog.Environment { return &p.Environments[i] }
	cases := []struct {
		name string
		mut  func(p *catalog.Project)
		want []fieldWant
	}{
		{"id required", func(p *catalog.Project) { p.ID = "" }, []fieldWant{{"id", "required"}}},
		{"id invalid", func(p *catalog.Project) { p.ID = "Blog!" }, []fieldWant{{"id", `project id "Blog!"`}}},
		{"id as path", func(p *catalog.Project) { p.ID = "../etc" }, []fieldWant{{"id", "want [a-z0-9]"}}},
		{"title too long", func(p *catalog.Project) { p.Title = strings.Repeat("é", 201) }, []fieldWant{{"title", "201 characters: at most 200"}}},
		{"title 200 is fine", func(p *catalog.Project) { p.Title = strings.Repeat("é", 200) }, nil},
		{"title one line", func(p *catalog.Project) { p.Title = "a\nb" }, []fieldWant{{"title", "control character"}}},
		{"repo required", func(p *catalog.Project) { p.Repo = "" }, []fieldWant{{"repo", "required"}}},
		{"repo relative", func(p *catalog.Project) { p.Repo = "git/blog.git" }, []fieldWant{{"repo", "want an absolute path"}}},
		{"repo ext", func(p *catalog.Project) { p.Repo = "ext::sh -c touch% CANARY" }, []fieldWant{{"repo", "bad repository URL"}}},
		{"repo ext no space", func(p *catalog.Project) { p.Repo = "ext::sh" }, []fieldWant{{"repo", "remote helper"}}},
		{"repo leading dash", func(p *catalog.Project) { p.Repo = "--upload-pack=touch" }, []fieldWant{{"repo", "starts with '-'"}}},
		{"repo upload-pack inside", func(p *catalog.Project) { p.Repo = "ssh://host/x--upload-pack=y" }, []fieldWant{{"repo", `contains "--upload-pack"`}}},
		{"repo file URL with a host", func(p *catalog.Project) { p.Repo = "file://host/srv/x.git" }, []fieldWant{{"repo", "file URL"}}},
		{"repo scp without path", func(p *catalog.Project) { p.Repo = "git@host:" }, []fieldWant{{"repo", "no path after ':'"}}},
		{"repo url is fine", func(p *catalog.Project) { p.Repo = "https://git.example.com/blog.git" }, nil},
		{"branch required", func(p *catalog.Project) { p.Branch = "" }, []fieldWant{{"branch", "required"}}},
		{"branch invalid", func(p *catalog.Project) { p.Branch = "feature..x" }, []fieldWant{{"branch", `contains ".."`}}},
		{"strategy required", func(p *catalog.Project) { p.Strategy = "" }, []fieldWant{{"strategy", "required: want rsync, git or local"}}},
		{"strategy unknown", func(p *catalog.Project) { p.Strategy = "ftp" }, []fieldWant{{"strategy", `unknown strategy "ftp": want rsync, git or local`}}},
		{"build with git", func(p *catalog.Project) { p.Strategy = "git"; p.Build = "make" }, []fieldWant{{"build", "git strategy cannot publish a build"}}},
		{"build NUL", func(p *catalog.Project) { p.Build = "make\x00" }, []fieldWant{{"build", "NUL"}}},
		{"exclude rsync rule", func(p *catalog.Project) { p.Exclude = []string{".git", "- secret"} }, []fieldWant{{"exclude[1]", "exclude pattern"}}},
		{"exclude unsupported", func(p *catalog.Project) { p.Exclude = []string{"a/**"} }, []fieldWant{{"exclude[0]", "not supported"}}},
		{"exclude twice", func(p *catalog.Project) { p.Exclude = []string{".git", ".git"} }, []fieldWant{{"exclude[1]", "listed twice (also exclude[0])"}}},
		{"shared parent", func(p *catalog.Project) { p.Shared = []string{"../x"} }, []fieldWant{{"shared[0]", `".." component`}}},
		{"shared absolute", func(p *catalog.Project) { p.Shared = []string{"/etc"} }, []fieldWant{{"shared[0]", "must be relative"}}},
		{"shared twice", func(p *catalog.Project) { p.Shared = []string{"storage/logs", "storage/logs/"} }, []fieldWant{{"shared[1]", `"storage/logs" is listed twice`}}},
		{"version file not clean", func(p *catalog.Project) { p.VersionFiles = []string{"./VERSION"} }, []fieldWant{{"version_files[0]", "not clean"}}},
		{"version file twice", func(p *catalog.Project) { p.VersionFiles = []string{"VERSION", "VERSION"} }, []fieldWant{{"version_files[1]", "listed twice"}}},
		{"keep_releases 1", func(p *catalog.Project) { p.KeepReleases = 1 }, []fieldWant{{"keep_releases", "want 2 to 100"}}},
		{"keep_releases 101", func(p *catalog.Project) { p.KeepReleases = 101 }, []fieldWant{{"keep_releases", "want 2 to 100"}}},
		{"keep_releases negative", func(p *catalog.Project) { p.KeepReleases = -1 }, []fieldWant{{"keep_releases", "want 2 to 100"}}},
		{"keep_releases 0 is the default", func(p *catalog.Project) { p.KeepReleases = 0 }, nil},
		{"hook NUL", func(p *catalog.Project) { p.Hooks.PreDeploy = "echo\x00" }, []fieldWant{{"hooks.pre_deploy", "NUL"}}},
		{"hook too long", func(p *catalog.Project) { p.Hooks.PostRelease = strings.Repeat("x", 8193) }, []fieldWant{{"hooks.post_release", "at most 8192"}}},
		{"hook 8 KiB is fine", func(p *catalog.Project) { p.Hooks.PostRelease = strings.Repeat("x", 8192) }, nil},
		{"health check too long", func(p *catalog.Project) { p.HealthCheck.Timeout = catalog.Duration(11 * time.Minute) }, []fieldWant{{"health_check.timeout", "at most 10m0s"}}},
		{"health check negative", func(p *catalog.Project) { p.HealthCheck.Timeout = catalog.Duration(-time.Second) }, []fieldWant{{"health_check.timeout", "-1s"}}},
		{"env name", func(p *catalog.Project) { p.Env = []catalog.EnvVar{{Name: "1X", Value: "v"}} }, []fieldWant{{"env[0].name", `"1X"`}}},
		{"env name required", func(p *catalog.Project) { p.Env = []catalog.EnvVar{{Value: "v"}} }, []fieldWant{{"env[0].name", "required"}}},
		{"env no source", func(p *catalog.Project) { p.Env = []catalog.EnvVar{{Name: "X"}} }, []fieldWant{{"env[0]", "exactly one of value, from_file, from_env"}}},
		{"env two sources", func(p *catalog.Project) { p.Env = []catalog.EnvVar{{Name: "X", Value: "v", FromEnv: "Y"}} }, []fieldWant{{"env[0]", "exactly one"}}},
		{"env from_file relative", func(p *catalog.Project) { p.Env = []catalog.EnvVar{{Name: "X", FromFile: "secrets/x"}} }, []fieldWant{{"env[0].from_file", "not absolute"}}},
		{"env from_env name", func(p *catalog.Project) { p.Env = []catalog.EnvVar{{Name: "X", FromEnv: "A-B"}} }, []fieldWant{{"env[0].from_env", `"A-B"`}}},
		{"env secret value", func(p *catalog.Project) { p.Env = []catalog.EnvVar{{Name: "X", Value: "hunter2", Secret: true}} }, []fieldWant{{"env[0].value", "use from_file or from_env"}}},
		{"env value NUL", func(p *catalog.Project) { p.Env = []catalog.EnvVar{{Name: "X", Value: "a\x00b"}} }, []fieldWant{{"env[0].value", "NUL"}}},
		{"env twice", func(p *catalog.Project) {
			p.Env = []catalog.EnvVar{{Name: "X", Value: "1"}, {Name: "X", Value: "2"}}
		}, []fieldWant{{"env[1].name", "defined twice (also env[0])"}}},
		{"drift_check under a minute", func(p *catalog.Project) { p.Environments[1].DriftCheck = catalog.Duration(30 * time.Second) },
			[]fieldWant{{"environments[1].drift_check", "30s: want 1m0s to 168h (7 days)"}}},
		{"drift_check over 7 days", func(p *catalog.Project) { p.Environments[1].DriftCheck = catalog.Duration(8 * 24 * time.Hour) },
			[]fieldWant{{"environments[1].drift_check", "192h0m0s: want 1m0s to 168h"}}},
		{"drift_check negative", func(p *catalog.Project) { p.Environments[0].DriftCheck = catalog.Duration(-time.Hour) },
			[]fieldWant{{"environments[0].drift_check", "-1h0m0s: want"}}},
		{"drift_check bounds are fine", func(p *catalog.Project) {
			p.Environments[0].DriftCheck, p.Environments[1].DriftCheck = catalog.Duration(time.Minute), catalog.Duration(7*24*time.Hour)
		}, nil},
		{"environments required", func(p *catalog.Project) { p.Environments = nil }, []fieldWant{{"environments", "at least one environment"}}},
		{"environment name", func(p *catalog.Project) { env(p, 1).Name = "Prod" }, []fieldWant{{"environments[1].name", `"Prod"`}}},
		{"environment name required", func(p *catalog.Project) { env(p, 1).Name = "" }, []fieldWant{{"environments[1].name", "required"}}},
		{"environment name too long", func(p *catalog.Project) { env(p, 1).Name = "p" + strings.Repeat("x", 32) }, []fieldWant{{"environments[1].name", "at most 32"}}},
		{"duplicate environment", func(p *catalog.Project) {
			env(p, 1).Name = "test"
			env(p, 1).Path = "/home/www/other"
		}, []fieldWant{{"environments[1].name", `duplicate environment "test" (also environments[0])`}}},
		{"environment path relative", func(p *catalog.Project) { env(p, 0).Path = "www/blog" }, []fieldWant{{"environments[0].path", "not absolute"}}},
		{"environment path required", func(p *catalog.Project) { env(p, 0).Path = "" }, []fieldWant{{"environments[0].path", "required"}}},
		{"environment path root", func(p *catalog.Project) { env(p, 0).Path = "/" }, []fieldWant{{"environments[0].path", "root directory"}}},
		{"hosts required", func(p *catalog.Project) { env(p, 1).Hosts = nil }, []fieldWant{{"environments[1].hosts", "at least one host is required for the rsync strategy"}}},
		{"host without user", func(p *catalog.Project) { env(p, 1).Hosts[0].Addr = "10.0.1.1:22" }, []fieldWant{{"environments[1].hosts[0]", "want user@host:port"}}},
		{"host bad port", func(p *catalog.Project) { env(p, 1).Hosts[1].Addr = "www@10.0.1.2:99999" }, []fieldWant{{"environments[1].hosts[1]", "want 1-65535"}}},
		{"host ipv6 without brackets", func(p *catalog.Project) { env(p, 1).Hosts[1].Addr = "www@::1" }, []fieldWant{{"environments[1].hosts[1]", "needs brackets"}}},
		{"host path relative", func(p *catalog.Project) { env(p, 1).Hosts[0].Path = "blog" }, []fieldWant{{"environments[1].hosts[0].path", "not absolute"}}},
		{"host twice", func(p *catalog.Project) {
			env(p, 1).Hosts = []catalog.Host{{Addr: "www@10.0.1.1"}, {Addr: "www@10.0.1.1:22", Path: "/srv/b"}}
		}, []fieldWant{{"environments[1].hosts[1]", "www@10.0.1.1:22 is listed twice (also environments[1].hosts[0])"}}},
		{"host path override is fine", func(p *catalog.Project) { env(p, 1).Hosts[0].Path = "/srv/blog" }, nil},
		{"same place in two environments", func(p *catalog.Project) {
			env(p, 1).Hosts[0] = catalog.Host{Addr: "www@10.0.0.5"}
		}, []fieldWant{{"environments[1].hosts[0]", `www@10.0.0.5:22 at /home/www/blog is also a target of environment "test"`}}},
		{"local with hosts", func(p *catalog.Project) {
			p.Strategy = "local"
			env(p, 0).Hosts = nil
			env(p, 1).Path = "/home/www/blog-prod"
		}, []fieldWant{{"environments[1].hosts", "the local strategy publishes to path on this machine"}}},
		{"local in one place", func(p *catalog.Project) {
			p.Strategy = "local"
			env(p, 0).Hosts, env(p, 1).Hosts = nil, nil
		}, []fieldWant{{"environments[1].path", "/home/www/blog on this machine is also a target of environment \"test\""}}},
		{"local is fine", func(p *catalog.Project) {
			p.Strategy = "local"
			env(p, 0).Hosts, env(p, 1).Hosts = nil, nil
			env(p, 1).Path = "/home/www/blog-prod"
		}, nil},
		{"ssh_key relative", func(p *catalog.Project) { env(p, 0).SSHKey = "~/.ssh/id_rsa" }, []fieldWant{{"environments[0].ssh_key", "not absolute"}}},
		{"parallel too many", func(p *catalog.Project) { env(p, 0).Parallel = 201 }, []fieldWant{{"environments[0].parallel", "want 1 to 200"}}},
		{"parallel negative", func(p *catalog.Project) { env(p, 0).Parallel = -1 }, []fieldWant{{"environments[0].parallel", "want 1 to 200"}}},
		{"batch negative", func(p *catalog.Project) { env(p, 0).Batch = -1 }, []fieldWant{{"environments[0].batch", "must not be negative"}}},
		{"on_failure", func(p *catalog.Project) { env(p, 0).OnFailure = "retry" }, []fieldWant{{"environments[0].on_failure", `"retry": want halt or continue`}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := designProject()
			c.mut(&p)
			errs := Validate(p)
			if c.want == nil {
				if errs != nil {
					t.Fatalf("Validate: %v", errs)
				}
			} else {
				checkErrors(t, errs, c.want)
			}

			y, err := MarshalYAML(p)
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
				got, err := Parse(d.doc, d.format)
				if c.want == nil {
					if err != nil {
						t.Fatalf("%s: %v\n%s", d.format, err, d.doc)
					}
					if !reflect.DeepEqual(got, p) {
						t.Errorf("%s: got\n%#v\nwant\n%#v", d.format, got, p)
					}
					continue
				}
				checkErrors(t, err, c.want)
			}
		})
	}
}

const baseYAML = `id: blog
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

// editDoc replaces old (which must be there) by new in doc.
func editDoc(t *testing.T, doc, old, new string) []byte {
	t.Helper()
	if !strings.Contains(doc, old) {
		t.Fatalf("%q is not in the document", old)
	}
	return []byte(strings.Replace(doc, old, new, 1))
}

const baseJSON = `{"id": "blog", "repo": "/srv/git/blog.git", "branch": "master", "strategy": "rsync",
 "keep_releases": 5,
 "environments": [{"name": "test", "path": "/home/www/blog", "hosts": ["www@10.0.0.5:22"]}]}`

// TestProjectConfigDocuments: what only a document can get wrong (unknown
// fields, types, duplicate keys, syntax, size), with exact paths.
func TestProjectConfigDocuments(t *testing.T) {
	if _, err := Parse([]byte(baseYAML), ""); err != nil {
		t.Fatalf("base YAML: %v", err)
	}
	if _, err := Parse([]byte(baseJSON), ""); err != nil {
		t.Fatalf("base JSON: %v", err)
	}
	y := func(old, new string) []byte { return editDoc(t, baseYAML, old, new) }
	j := func(old, new string) []byte { return editDoc(t, baseJSON, old, new) }
	cases := []struct {
		name  string
		ctype string
		doc   []byte
		want  []fieldWant
	}{
		{"unknown top-level field", "", y("strategy: rsync", "strategy: rsync\nbuidl: make"),
			[]fieldWant{{"buidl", `unknown field (did you mean "build"?) (line 5)`}}},
		{"unknown field far from any", "", y("strategy: rsync", "strategy: rsync\nwhatever: 1"),
			[]fieldWant{{"whatever", "unknown field; known fields: id, title, language, repo"}}},
		{"field names are case-sensitive", "", y("id: blog", "ID: blog"),
			[]fieldWant{{"ID", `unknown field (did you mean "id"?)`}}},
		{"unknown field at depth", "", y("    hosts:", "    hostz:"),
			[]fieldWant{{"environments[0].hostz", `unknown field (did you mean "hosts"?) (line 10)`}}},
		{"unknown field of a host", "", y(`["www@10.0.0.5:22"]`, `[{addr: "www@10.0.0.5", port: 22}]`),
			[]fieldWant{{"environments[0].hosts[0].port", "unknown field"}}},
		{"unknown field of a hook", "", y("strategy: rsync", "strategy: rsync\nhooks: {pre_deploy: x, post_switch: y}"),
			[]fieldWant{{"hooks.post_switch", "unknown field"}}},
		{"odd key is quoted in the path", "", y("    approval: false", "    approval: false\n    \"a.b\": 1"),
			[]fieldWant{{`environments[0]["a.b"]`, "unknown field"}}},
		{"wrong type keep_releases", "", y("keep_releases: 5", `keep_releases: "five"`),
			[]fieldWant{{"keep_releases", `want an integer, got the string "five" (line 5)`}}},
		{"wrong type float", "", y("keep_releases: 5", "keep_releases: 5.5"),
			[]fieldWant{{"keep_releases", "want an integer, got the number 5.5"}}},
		{"wrong type bool", "", y("approval: false", "approval: yes"),
			[]fieldWant{{"environments[0].approval", `want true or false, got the string "yes"`}}},
		{"wrong type list", "", y("branch: master", "branch: [master]"),
			[]fieldWant{{"branch", "want a string, got a list"}}},
		{"wrong type mapping", "", y("    hosts:", "    hosts: {a: b}\n    x_hosts:"),
			[]fieldWant{{"environments[0].hosts", "want a list, got a mapping"}, {"environments[0].x_hosts", "unknown field"}}},
		{"wrong type host", "", y(`["www@10.0.0.5:22"]`, `[["www@10.0.0.5:22"]]`),
			[]fieldWant{{"environments[0].hosts[0]", `want "user@host:port" or {addr, path}, got a list`}}},
		{"wrong type environment", "", y("  - name: test", "  - x\n  - name: test"),
			[]fieldWant{{"environments[0]", "want a mapping of name, path, hosts"}}},
		{"wrong type duration", "", y("timeout: 10s", "timeout: 10"),
			[]fieldWant{{"health_check.timeout", `want a duration such as "10s"`}}},
		{"bad duration", "", y("timeout: 10s", "timeout: ten"),
			[]fieldWant{{"health_check.timeout", `want a duration such as "10s" or "1m30s", got the string "ten"`}}},
		{"bad drift_check", "", y("    approval: false", "    approval: false\n    drift_check: hourly"),
			[]fieldWant{{"environments[0].drift_check", `want a duration such as "10s" or "1m30s", got the string "hourly"`}}},
		{"drift_check a number", "", y("    approval: false", "    approval: false\n    drift_check: 30"),
			[]fieldWant{{"environments[0].drift_check", `want a duration such as "10s"`}}},
		{"drift_check too often", "", y("    approval: false", "    approval: false\n    drift_check: 10s"),
			[]fieldWant{{"environments[0].drift_check", "10s: want 1m0s to 168h"}}},
		{"top level not a mapping", "", []byte("- a\n- b\n"),
			[]fieldWant{{"", "want a mapping of id, title"}}},
		{"duplicate YAML key", "", y("branch: master", "branch: master\nbranch: main"),
			[]fieldWant{{"branch", "duplicate key (first at line 3) (line 4)"}}},
		{"duplicate YAML key at depth", "", y("    approval: false", "    approval: false\n    approval: true"),
			[]fieldWant{{"environments[0].approval", "duplicate key"}}},
		{"duplicate JSON key", "application/json", j(`"branch": "master",`, `"branch": "master", "branch": "main",`),
			[]fieldWant{{"branch", "duplicate key"}}},
		{"JSON unknown field at depth", "application/json", j(`"hosts"`, `"hostz"`),
			[]fieldWant{{"environments[0].hostz", `unknown field (did you mean "hosts"?)`}}},
		{"JSON wrong type", "", j(`"keep_releases": 5`, `"keep_releases": "five"`),
			[]fieldWant{{"keep_releases", `want an integer, got the string "five" (line 2)`}}},
		{"JSON number is not a string", "", j(`"id": "blog"`, `"id": 7`),
			[]fieldWant{{"id", "want a string, got the number 7"}}},
		{"JSON float is not an integer", "", j(`"keep_releases": 5`, `"keep_releases": 5.0`),
			[]fieldWant{{"keep_releases", "want an integer, got the number 5.0"}}},
		{"JSON host object", "", j(`["www@10.0.0.5:22"]`, `[{"addr": "www@10.0.0.5:22", "path": "x"}]`),
			[]fieldWant{{"environments[0].hosts[0].path", "not absolute"}}},
		{"JSON syntax", "application/json", []byte("{\"id\": \"blog\",\n \"repo\": }"),
			[]fieldWant{{"", "JSON syntax: line 2"}}},
		{"JSON trailing data", "application/json", []byte(baseJSON + " {}"),
			[]fieldWant{{"", "data after the end of the document"}}},
		{"JSON truncated", "application/json", []byte(baseJSON[:40]),
			[]fieldWant{{"", "JSON syntax"}}},
		{"YAML syntax", "", []byte("id: blog\n  repo: x\n"),
			[]fieldWant{{"", "YAML syntax: line 2"}}},
		{"two YAML documents", "", []byte(baseYAML + "---\nid: other\n"),
			[]fieldWant{{"", "a second YAML document"}}},
		{"YAML merge key", "", y("id: blog", "x: &x {id: blog}\n<<: *x"),
			[]fieldWant{{"", "merge keys"}}},
		{"YAML custom tag", "", y("branch: master", "branch: !shell master"),
			[]fieldWant{{"", "tag !shell is not supported"}}},
		{"empty", "", []byte(" \n# nothing\n"), []fieldWant{{"", "empty"}}},
		{"empty JSON", "application/json", []byte("  "), []fieldWant{{"", "empty"}}},
		{"null document", "", []byte("null\n"), []fieldWant{{"", "empty"}}},
		{"too large", "", append([]byte(baseYAML+"#"), bytes.Repeat([]byte("x"), MaxSize)...),
			[]fieldWant{{"", "larger than 1048576 bytes"}}},
		{"not UTF-8", "", y("id: blog", "id: bl\xffog"), []fieldWant{{"", "not valid UTF-8"}}},
		{"content type", "text/plain", []byte(baseYAML), []fieldWant{{"", `content type "text/plain": want application/json or application/yaml`}}},
		{"YAML as JSON", "application/json", []byte(baseYAML), []fieldWant{{"", "JSON syntax"}}},
		{"wrong value then no second error", "", y("id: blog", "id: [blog]"),
			[]fieldWant{{"id", "want a string, got a list"}}},
		{"five errors at once", "", []byte(`id: Blog!
repo: relative/path
branch: master
strategy: ftp
keep_releases: "five"
environments:
  - name: test
    path: /home/www/blog
    hostz: ["www@10.0.0.5:22"]
`), []fieldWant{
			{"keep_releases", "want an integer"},
			{"environments[0].hostz", "unknown field"},
			{"id", `project id "Blog!"`},
			{"repo", "want an absolute path"},
			{"strategy", `unknown strategy "ftp"`},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Parse(c.doc, c.ctype)
			checkErrors(t, err, c.want)
			if !reflect.ValueOf(p).IsZero() {
				t.Errorf("a refused configuration returned %#v", p)
			}
		})
	}
}

func TestProjectConfigYAMLNiceties(t *testing.T) {
	// Plain scalars that YAML reads as numbers or booleans are strings
	// where a string is wanted; aliases work; null is absent.
	doc := editDoc(t, baseYAML, "id: blog", "id: 2024\ntitle: true\nbuild:\nexclude: &ex [\".git\"]")
	doc = []byte(strings.Replace(string(doc), "branch: master", "branch: 1.10", 1))
	doc = []byte(strings.Replace(string(doc), `hosts: ["www@10.0.0.5:22"]`, "hosts: [{addr: www@10.0.0.5, path: /srv/x}]", 1))
	p := mustParse(t, doc, "")
	if p.ID != "2024" || p.Title != "true" || p.Branch != "1.10" || p.Build != "" ||
		!reflect.DeepEqual(p.Exclude, []string{".git"}) ||
		!reflect.DeepEqual(p.Environments[0].Hosts, []catalog.Host{{Addr: "www@10.0.0.5", Path: "/srv/x"}}) {
		t.Errorf("got %#v", p)
	}
	// drift_check is a duration; the number 0 is off, as absent.
	for doc, want := range map[string]time.Duration{"drift_check: 30m": 30 * time.Minute, "drift_check: 0": 0, `drift_check: "0"`: 0} {
		p := mustParse(t, editDoc(t, baseYAML, "    approval: false", "    approval: false\n    "+doc), "")
		if got := time.Duration(p.Environments[0].DriftCheck); got != want {
			t.Errorf("%s: read %s, want %s", doc, got, want)
		}
	}
	// An alias bomb is refused, not expanded.
	var bomb strings.Builder
	bomb.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&bomb, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	_, err := Parse([]byte(bomb.String()), "")
	checkErrors(t, err, []fieldWant{{"", "aliases expand to too much"}})
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
			p := designProject()
			f.set(&p, v)
			var found bool
			for _, fe := range Validate(p) {
				found = found || fe.Path == f.path
			}
			if !found {
				t.Errorf("%s = %q: not refused (%v)", f.path, v, Validate(p))
			}
			for _, enc := range []func(catalog.Project) ([]byte, error){MarshalYAML, func(p catalog.Project) ([]byte, error) { return json.Marshal(p) }} {
				doc, err := enc(p)
				if err != nil {
					t.Fatal(err)
				}
				_, err = Parse(doc, "")
				var ce Errors
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
	_, err := Parse([]byte("id: blog\nrepo: x\nbranch: master\nstrategy: rsync\nenvironments: []\n"), "")
	want := `repo: bad repository URL "x": want an absolute path, file://, ssh://, git://, https:// or user@host:path
environments: at least one environment is required`
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
	var ce Errors
	if !errors.As(fmt.Errorf("apply: %w", err), &ce) || len(ce) != 2 {
		t.Errorf("errors.As: %v", ce)
	}
	if s := (FieldError{Reason: text.New("the document is empty")}).String(); s != "the document is empty" {
		t.Errorf("document-level error: %q", s)
	}
}

func TestProjectConfigMarshalRoundTrip(t *testing.T) {
	for name, p := range map[string]catalog.Project{"design": designProject(), "full": fullProject(), "notify": notifyProject()} {
		t.Run(name, func(t *testing.T) {
			if errs := Validate(p); errs != nil {
				t.Fatalf("test project is invalid: %v", errs)
			}
			y, err := MarshalYAML(p)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, name+".canonical.yaml", y)
			for _, ctype := range []string{"", "application/x-yaml"} {
				if got := mustParse(t, y, ctype); !reflect.DeepEqual(got, p) {
					t.Errorf("YAML round trip:\n%s\ngot\n%#v\nwant\n%#v", y, got, p)
				}
			}
			again, _ := MarshalYAML(mustParse(t, y, ""))
			if !bytes.Equal(again, y) {
				t.Errorf("not canonical: a second marshal differs:\n%s", again)
			}
			j, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			if got := mustParse(t, j, ""); !reflect.DeepEqual(got, p) {
				t.Errorf("JSON round trip:\n%s\ngot\n%#v", j, got)
			}
			if d := Diff(p, mustParse(t, y, "")); len(d) != 0 {
				t.Errorf("diff after a round trip: %q", d)
			}
		})
	}
}

func TestProjectConfigDiff(t *testing.T) {
	old := designProject()
	if d := Diff(old, designProject()); d != nil {
		t.Errorf("equal configurations: %q", d)
	}
	empty := designProject()
	empty.Shared = []string{}
	noShared := designProject()
	noShared.Shared = nil
	if d := Diff(empty, noShared); d != nil {
		t.Errorf("nil and empty lists: %q", d)
	}

	created := Diff(catalog.Project{}, old)
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

	p := designProject()
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
			Name:       "staging",
			Path:       "/home/www/blog-staging",
			Hosts:      []catalog.Host{{Addr: "www@10.0.0.7:22", Path: "/srv/blog"}},
			DriftCheck: catalog.Duration(5 * time.Minute),
		},
		{
			Name:       "production",
			Path:       "/home/www/blog",
			Hosts:      []catalog.Host{{Addr: "www@10.0.1.2:22", Path: "/srv/blog"}, {Addr: "www@10.0.1.3:22"}},
			Parallel:   20,
			Batch:      1,
			Approval:   true,
			DriftCheck: catalog.Duration(30 * time.Minute),
		},
	}
	if errs := Validate(p); errs != nil {
		t.Fatalf("changed project is invalid: %v", errs)
	}
	d := Diff(old, p)
	golden(t, "diff.golden", []byte(strings.Join(d, "\n")+"\n"))

	q := designProject()
	q.Environments[0], q.Environments[1] = q.Environments[1], q.Environments[0]
	q.Exclude = []string{"node_modules", ".git"}
	q.Env = []catalog.EnvVar{{Name: "A", Value: "1"}}
	r := q
	r.Env = []catalog.EnvVar{{Name: "A", Value: "two words"}}
	got := append(Diff(old, q), Diff(q, r)...)
	wantOrder := []string{
		"~ exclude: order [.git, node_modules] -> [node_modules, .git]",
		"+ env: A (value 1)",
		"~ environments: order test, production -> production, test",
		`~ env[A].value: 1 -> "two words"`,
	}
	if !reflect.DeepEqual(got, wantOrder) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantOrder, "\n"))
	}
	long := designProject()
	long.Hooks.PreDeploy = strings.Repeat("x", 500)
	if d := Diff(old, long); len(d) != 1 || !strings.HasSuffix(d[0], `... (500 bytes)`) || len(d[0]) > 200 {
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
		{catalog.Channel{}, channelFields},
		{catalog.SecretRef{}, secretRefFields},
		{catalog.EmailSettings{}, emailFields},
	} {
		if got := tags(c.typ); !reflect.DeepEqual(got, c.known) {
			t.Errorf("%T has fields %v; the config reader knows %v: teach it (and Diff and MarshalYAML) the new ones",
				c.typ, got, c.known)
		}
	}
	// The notify project (the full one with channels) sets every field, so
	// a round trip covers them all.
	p := notifyProject()
	checkAllSet(t, reflect.ValueOf(p), "project")
	email := p.Notify[slices.IndexFunc(p.Notify, func(c catalog.Channel) bool { return c.Kind == "email" })]
	ev := reflect.ValueOf(email.Email)
	for i := 0; i < ev.NumField(); i++ {
		if ev.Field(i).IsZero() {
			t.Errorf("notifyProject leaves notify[email].email.%s empty", ev.Type().Field(i).Name)
		}
	}
	// A secret is read from a file in one channel, from the environment
	// in another: both ways round-trip.
	var fromFile, fromEnv bool
	for _, c := range p.Notify {
		for _, s := range []catalog.SecretRef{c.Secret, c.Email.Password} {
			fromFile, fromEnv = fromFile || s.FromFile != "", fromEnv || s.FromEnv != ""
		}
	}
	if !fromFile || !fromEnv {
		t.Error("notifyProject reads no secret from a file, or none from the environment")
	}
}

func checkAllSet(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			checkAllSet(t, v.Field(i), path+"."+v.Type().Field(i).Name)
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

func submitToRunner(p catalog.Project, env string) error {
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

// TestProjectConfigAgreesWithRunner: what Validate accepts,
// runner.Submit accepts for every environment; what Submit refuses,
// Validate refuses.
func TestProjectConfigAgreesWithRunner(t *testing.T) {
	local := designProject()
	local.Strategy = "local"
	local.Environments[0].Hosts, local.Environments[1].Hosts = nil, nil
	local.Environments[1].Path = "/home/www/blog-prod"
	git := fullProject()
	git.Strategy, git.Build = "git", ""
	// The names a configuration may give its environments, at their
	// edges: the runner's own rule for a request's environment takes them.
	names := designProject()
	names.Environments[0].Name = "a"
	names.Environments[1].Name = "z" + strings.Repeat("-9", 15) + "x"
	for name, p := range map[string]catalog.Project{"design": designProject(), "full": fullProject(), "local": local, "git": git, "names": names} {
		if errs := Validate(p); errs != nil {
			t.Fatalf("%s: %v", name, errs)
		}
		for _, e := range p.Environments {
			if err := submitToRunner(p, e.Name); err != nil {
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
		// Addresses Validate used to take and the runner refused.
		{"repo bad port", func(p *catalog.Project) { p.Repo = "https://git.example.com:git/blog.git" }},
		{"repo host starts with '-'", func(p *catalog.Project) { p.Repo = "ssh://git@-git.example.com/blog.git" }},
		{"repo URL without host", func(p *catalog.Project) { p.Repo = "ssh:///srv/git/blog.git" }},
		// Two spellings of one host, which the runner used to take.
		{"host twice spelled two ways", func(p *catalog.Project) {
			p.Environments[0].Hosts = []catalog.Host{{Addr: "www@10.0.0.5"}, {Addr: "www@10.0.0.5:22", Path: "/srv/b"}}
		}},
	} {
		p := designProject()
		m.mut(&p)
		if err := submitToRunner(p, "test"); err == nil {
			t.Errorf("%s: the runner accepts it now; drop or change this case", m.name)
		}
		if errs := Validate(p); errs == nil {
			t.Errorf("%s: the runner refuses it, Validate accepts it", m.name)
		}
	}
}

// TestProjectConfigSharedRules: each rule of runner/rules.go, the rules
// both Validate and the runner's check of a request apply, is reached from
// both sides: a configuration that breaks it is refused by Validate at the
// field's path and by runner.Submit naming the same field
// ("project.<path>"), with the same reason, the rule's own. A new rule in
// rules.go needs a case here.
func TestProjectConfigSharedRules(t *testing.T) {
	env := func(p *catalog.Project) *catalog.Environment { return &p.Environments[0] }
	cases := map[string]struct {
		mut  func(p *catalog.Project)
		path string
		// rule is the rule's own refusal of the value, called directly.
		rule func() error
	}{
		"CheckStrategy": {func(p *catalog.Project) { p.Strategy = "ftp" }, "strategy",
			func() error { return runner.CheckStrategy("ftp") }},
		"CheckRepo": {func(p *catalog.Project) { p.Repo = "ssh://host/x--upload-pack=y" }, "repo",
			func() error { return runner.CheckRepo("ssh://host/x--upload-pack=y") }},
		"CheckGitBuild": {func(p *catalog.Project) { p.Strategy, p.Build = "git", "make" }, "build",
			func() error { return runner.CheckGitBuild("git", "make") }},
		"CheckExclude": {func(p *catalog.Project) { p.Exclude = []string{".git", "+ x"} }, "exclude[1]",
			func() error { return runner.CheckExclude("+ x") }},
		"CheckSharedPath": {func(p *catalog.Project) { p.Shared = []string{"../x/"} }, "shared[0]",
			func() error { _, err := runner.CheckSharedPath("../x/"); return err }},
		"CheckKeepReleases": {func(p *catalog.Project) { p.KeepReleases = -2 }, "keep_releases",
			func() error { return runner.CheckKeepReleases(-2) }},
		"CheckEnvVarName": {func(p *catalog.Project) { p.Env = []catalog.EnvVar{{Name: "X-Y", Value: "v"}} }, "env[0].name",
			func() error { return runner.CheckEnvVarName("X-Y") }},
		"CheckSecretValue": {func(p *catalog.Project) { p.Env = []catalog.EnvVar{{Name: "X", Value: "v", Secret: true}} }, "env[0].value",
			func() error { return runner.CheckSecretValue(catalog.EnvVar{Name: "X", Value: "v", Secret: true}) }},
		"CheckOnFailure": {func(p *catalog.Project) { env(p).OnFailure = "retry" }, "environments[0].on_failure",
			func() error { return runner.CheckOnFailure("retry") }},
		"CheckDriftCheck": {func(p *catalog.Project) { env(p).DriftCheck = catalog.Duration(30 * time.Second) }, "environments[0].drift_check",
			func() error { return runner.CheckDriftCheck(30 * time.Second) }},
		"CheckHostsRequired": {func(p *catalog.Project) { env(p).Hosts = nil }, "environments[0].hosts",
			func() error { return runner.CheckHostsRequired("rsync", nil) }},
		"HostKey": {func(p *catalog.Project) { env(p).Hosts[0].Addr = "10.0.0.5:22" }, "environments[0].hosts[0]",
			func() error { _, err := runner.HostKey("10.0.0.5:22"); return err }},
		"CheckHostOnce": {func(p *catalog.Project) {
			env(p).Hosts = []catalog.Host{{Addr: "www@10.0.0.5"}, {Addr: "www@10.0.0.5:22", Path: "/srv/b"}}
		}, "environments[0].hosts[1]",
			func() error {
				_, err := runner.CheckHostOnce(map[string]int{"www@10.0.0.5:22": 0}, "www@10.0.0.5:22", 1)
				return err
			}},
	}
	for _, name := range sharedRuleNames(t) {
		c, ok := cases[name]
		if !ok {
			t.Errorf("runner.%s: no case here", name)
			continue
		}
		delete(cases, name)
		t.Run(name, func(t *testing.T) {
			rule := c.rule()
			if rule == nil {
				t.Fatal("the rule itself takes the value")
			}
			p := designProject()
			c.mut(&p)
			var fe *FieldError
			for _, e := range Validate(p) {
				if e.Path == c.path {
					fe = &e
				}
			}
			if fe == nil || !strings.HasPrefix(fe.Reason.String(), rule.Error()) {
				t.Fatalf("Validate: %v\nwant %s: %s", Validate(p), c.path, rule)
			}
			err := submitToRunner(p, p.Environments[0].Name)
			if err == nil || !strings.HasSuffix(err.Error(), "project."+c.path+": "+fe.Reason.String()) {
				t.Errorf("runner: %v\nwant ...project.%s: %s", err, c.path, fe.Reason)
			}
		})
	}
	for name := range cases {
		t.Errorf("runner.%s: not a function of runner/rules.go", name)
	}
}

// sharedRuleNames lists the exported functions of runner/rules.go.
func sharedRuleNames(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join("..", "..", "runner", "rules.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.IsExported() {
			names = append(names, fd.Name.Name)
		}
	}
	if len(names) == 0 {
		t.Fatal("runner/rules.go has no rule")
	}
	return names
}

func FuzzProjectConfig(f *testing.F) {
	f.Add([]byte(baseYAML))
	f.Add([]byte(baseJSON))
	f.Add([]byte("environments: [{name: a, hosts: [{addr: x}]}]"))
	f.Add([]byte("{\"environments\": [{\"hosts\": [{}]}]}"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		p, err := Parse(doc, "")
		if err != nil {
			var ce Errors
			if !errors.As(err, &ce) || len(ce) == 0 {
				t.Fatalf("error is not Errors: %v", err)
			}
			return
		}
		y, err := MarshalYAML(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := mustParse(t, y, "application/yaml"); !reflect.DeepEqual(got, p) {
			t.Fatalf("round trip:\n%s\ngot %#v\nwant %#v", y, got, p)
		}
	})
}

// TestProjectConfigLargeDocuments: documents near the size limit are read
// in linear time, and a flood of problems is cut to a readable list.
func TestProjectConfigLargeDocuments(t *testing.T) {
	var manyHosts strings.Builder
	manyHosts.WriteString(baseYAML)
	manyHosts.WriteString("  - name: prod\n    path: /srv/x\n    hosts:\n")
	for manyHosts.Len() < MaxSize-20 {
		manyHosts.WriteString("      - nouser\n")
	}
	var manyTokens strings.Builder
	manyTokens.WriteString(`{"id": "blog", "exclude": [`)
	for manyTokens.Len() < MaxSize-20 {
		manyTokens.WriteString("\"a\",\n")
	}
	manyTokens.WriteString(`"b"]}`)
	deep := strings.Repeat("[", MaxSize/2) + strings.Repeat("]", MaxSize/2)
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
			// A guard against super-linear reading, not a timing target:
			// linear takes well under a second here; quadratic, over a
			// million bytes, far longer. The bound leaves room for a machine under load
			// (CI once took 5.8 s).
			start := time.Now()
			_, err := Parse([]byte(c.doc), c.ctype)
			if d := time.Since(start); d > time.Minute {
				t.Errorf("took %s", d)
			}
			var ce Errors
			if !errors.As(err, &ce) || len(ce) == 0 || len(ce) > maxConfigErrors+1 {
				t.Fatalf("want at most %d problems and a summary, got %d: %.300v", maxConfigErrors, len(ce), err)
			}
			if len(ce) == maxConfigErrors+1 && !strings.HasPrefix(ce[maxConfigErrors].Reason.String(), "and ") {
				t.Errorf("last line: %v", ce[maxConfigErrors])
			}
		})
	}
}
