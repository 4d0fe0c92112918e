package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"releasedesk/events/catalog"

	"github.com/go-git/go-billy/v5/memfs"
	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/sirupsen/logrus"
)

// The demo: a project a newcomer can walk through the whole workflow at
// once, on this machine alone. Everything lives under <data>/demo: a git
// repository of a tiny static site, the two "hosts" (local targets), and
// the passwords of one user per role.

// Names of the demo.
const (
	DemoProject    = "shop"
	demoDirName    = "demo"
	demoRepoName   = "shop.git"
	demoPasswords  = "passwords.txt"
	DemoBranch     = "spring-sale"
	demoMainline   = "master"
	demoAuthorName = "Demo Developer"
)

// DemoUser is one demo account.
type DemoUser struct {
	Name     string
	Role     string // "admin" or a project role on shop
	Password string
}

// demoUsers are one user per role, named as DESIGN.md's examples.
var demoUsers = []DemoUser{
	{Name: "admin", Role: RoleAdmin},
	{Name: "dev", Role: catalog.RoleDeveloper},
	{Name: "tess", Role: catalog.RoleTester},
	{Name: "alice", Role: catalog.RoleApprover},
	{Name: "max", Role: catalog.RoleManager},
}

// ErrNotFresh refuses a demo in a data directory already in use.
var ErrNotFresh = errors.New("not a fresh data directory")

// Demo is what SetupDemo made, or found.
type Demo struct {
	Dir       string // <data>/demo
	Repo      string // the bare repository
	Passwords string // the passwords file (0600)
	Users     []DemoUser
	Release   string // the open release's id
	Already   bool   // the demo was there: nothing was changed
}

// SetupDemo makes the demo in a data directory, or reports the one already
// there without changing anything. A data directory that holds users or
// projects of its own is refused: the demo goes in a fresh one. It works
// in-process on the desk (no runner) and closes it.
func SetupDemo(ctx context.Context, data DataDir, logger logrus.FieldLogger) (Demo, error) {
	return SetupDemoOn(ctx, DeskConfig{Data: data, Logger: logger})
}

// SetupDemoOn is SetupDemo on the desk cfg opens: on a PostgreSQL store
// (cfg.Store) the demo's users, project and release go into the database,
// and its repository, targets and passwords file into the data directory
// (cfg.Data), on this machine: the server's instances that deploy it must
// run here too.
func SetupDemoOn(ctx context.Context, cfg DeskConfig) (Demo, error) {
	data := cfg.Data
	abs, err := filepath.Abs(data.Path)
	if err != nil {
		return Demo{}, fmt.Errorf("data directory %q: %w", data.Path, err)
	}
	dir := filepath.Join(abs, demoDirName)
	demo := Demo{Dir: dir, Repo: filepath.Join(dir, demoRepoName), Passwords: filepath.Join(dir, demoPasswords)}
	// The passwords file is written last: it marks a finished demo.
	if _, err := os.Stat(demo.Passwords); err == nil {
		demo.Already = true
		return demo, nil
	}

	cfg.Data, cfg.NoRunner = DataDir{Path: abs}, true
	d, err := OpenDesk(ctx, cfg)
	if err != nil {
		return demo, err
	}
	defer d.Close()
	if err := d.Writable(); err != nil {
		return demo, err
	}
	if n, p := len(d.Set.Users.List()), len(d.Set.Projects.List()); n > 0 || p > 0 {
		return demo, fmt.Errorf("%w: %s already holds %d users and %d projects of its own; the demo goes in a new data "+
			"directory (releasedesk demo --data DIR)", ErrNotFresh, abs, n, p)
	}
	if err := clearDemoDir(dir); err != nil {
		return demo, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return demo, err
	}
	if err := createDemoRepo(demo.Repo, d.NowUTC()); err != nil {
		return demo, fmt.Errorf("demo repository: %w", err)
	}

	for _, u := range demoUsers {
		u.Password = NewPassword()
		roles := map[string][]string{}
		if u.Role != RoleAdmin {
			roles[DemoProject] = []string{u.Role}
		}
		if err := d.Auth.CreateUser(ctx, SystemActor, u.Name, u.Password, u.Role == RoleAdmin, roles); err != nil {
			return demo, fmt.Errorf("demo user %s: %w", u.Name, err)
		}
		demo.Users = append(demo.Users, u)
	}
	admin, err := d.Auth.User("admin")
	if err != nil {
		return demo, err
	}
	projectCfg, err := DemoProjectConfig(dir, demo.Repo)
	if err != nil {
		return demo, err
	}
	if _, err := d.ApplyProject(ctx, admin, DemoProject, projectCfg, "application/json"); err != nil {
		return demo, fmt.Errorf("demo project: %w", err)
	}
	dev, err := d.Auth.User("dev")
	if err != nil {
		return demo, err
	}
	rel, err := d.OpenRelease(ctx, dev, OpenReleaseInput{Project: DemoProject, Branch: DemoBranch, CreateBranch: true,
		Title: "Spring sale banner", Note: "A banner on the front page for the spring sale."})
	if err != nil {
		return demo, fmt.Errorf("demo release: %w", err)
	}
	demo.Release = rel.ID
	if err := writeDemoPasswords(demo.Passwords, demo.Users); err != nil {
		return demo, err
	}
	return demo, nil
}

// clearDemoDir removes what a demo run cut short left (nothing of it is
// recorded in the log), and refuses a directory holding anything else.
func clearDemoDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		switch e.Name() {
		case demoRepoName, "hosts", demoPasswords + ".tmp":
		default:
			return fmt.Errorf("%s holds %s, which is not the demo's: move it away or choose another --data", dir, e.Name())
		}
	}
	return os.RemoveAll(dir)
}

// demoProjectConfig is the project: local strategy, a test stage and a
// production stage that needs approval, both under dir/hosts.
func DemoProjectConfig(dir, repo string) ([]byte, error) {
	env := func(name string, approval bool) map[string]any {
		return map[string]any{"name": name, "path": filepath.Join(dir, "hosts", name), "approval": approval}
	}
	return json.Marshal(map[string]any{
		"id": DemoProject, "title": "Demo shop", "repo": repo, "branch": demoMainline, "strategy": "local",
		"version_files": []string{"VERSION"}, "keep_releases": 5,
		"environments": []any{env("test", false), env("production", true)},
	})
}

// demoCommits are the mainline's history: a tiny static site.
var demoCommits = []struct {
	message string
	files   map[string]string
}{
	{"Shop front page", map[string]string{"index.html": `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Demo shop</title><link rel="stylesheet" href="style.css"></head>
<body><h1>Demo shop</h1><p>Fresh things, every day.</p><p><a href="products.html">Products</a></p></body>
</html>
`}},
	{"Add a stylesheet", map[string]string{"style.css": "body { font-family: sans-serif; margin: 2rem auto; max-width: 40rem; }\nh1 { color: #2a6f4e; }\n"}},
	{"Add the products page", map[string]string{"products.html": `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Products - Demo shop</title><link rel="stylesheet" href="style.css"></head>
<body><h1>Products</h1><ul><li>Apples</li><li>Bread</li><li>Cheese</li></ul></body>
</html>
`}},
}

// createDemoRepo makes a bare repository with the demo's mainline. The
// commits are made through a worktree in memory, so no git binary and no
// working copy on disk are needed.
func createDemoRepo(path string, now time.Time) error {
	st := filesystem.NewStorage(osfs.New(path), cache.NewObjectLRUDefault())
	wfs := memfs.New()
	r, err := git.InitWithOptions(st, wfs, git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName(demoMainline)})
	if err != nil {
		return err
	}
	wt, err := r.Worktree()
	if err != nil {
		return err
	}
	for i, c := range demoCommits {
		for name, content := range c.files {
			f, err := wfs.Create(name)
			if err != nil {
				return err
			}
			if _, err := f.Write([]byte(content)); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			if _, err := wt.Add(name); err != nil {
				return err
			}
		}
		when := now.Add(time.Duration(i-len(demoCommits)) * time.Hour)
		sig := &object.Signature{Name: demoAuthorName, Email: "dev@shop.example", When: when}
		if _, err := wt.Commit(c.message, &git.CommitOptions{Author: sig, Committer: sig}); err != nil {
			return err
		}
	}
	cfg, err := r.Config()
	if err != nil {
		return err
	}
	cfg.Core.IsBare = true
	return r.SetConfig(cfg)
}

// writeDemoPasswords writes "name role password" lines, readable by the
// owner only.
func writeDemoPasswords(path string, users []DemoUser) error {
	var b strings.Builder
	b.WriteString("# Release Desk demo users: name, role, password. Sign in with these at the app.\n")
	for _, u := range users {
		fmt.Fprintf(&b, "%-6s %-9s %s\n", u.Name, u.Role, u.Password)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
