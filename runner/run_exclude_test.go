package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"releasedesk/events/catalog"
)

// runExcludeFiles hold paths each exclude pattern of runExcludes is about,
// and their near misses.
var (
	runExcludes     = []string{"node_modules", "*.log", "/docs/private", "config/*.local.php", "tmp/"}
	runExcludeFiles = map[string]string{
		"node_modules/a/b.js": "x", "web/node_modules/c.js": "x", "node_modules_keep/d.js": "kept",
		"app.log": "x", "logs/today.log": "x", "logs/keep.txt": "kept",
		"docs/private/secret.md": "x", "docs/private-not.md": "kept", "a/docs/private/kept.md": "kept",
		"config/app.local.php": "x", "config/app.php": "kept", "config/sub/app.local.php": "kept",
		"tmp/cache.bin": "x", "src/tmp": "x",
	}
)

// TestRunExcludeSameTreeEveryStrategy: with the same excludes, the git
// strategy (git archive | tar on the host) and the rsync strategy publish
// the very same tree, the one the deployment's manifest lists.
func TestRunExcludeSameTreeEveryStrategy(t *testing.T) {
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyGit, hosts: 2, files: 20,
		project: func(p *catalog.Project) { p.Exclude = runExcludes }})
	hosts := h.targets()
	c := h.commit(runExcludeFiles)
	want := h.manifestOf(c)
	releases := map[string]string{}
	for _, strategy := range []string{catalog.StrategyGit, catalog.StrategyRsync} {
		h.p.Strategy = strategy
		v := h.versionOf(c)
		id := h.mustSucceed(catalog.KindDeploy, c, v)
		h.checkHosts(hosts, v, c, want)
		var planned catalog.Planned
		h.decodeFirst(id, catalog.TypeDeployPlanned, &planned)
		if planned.ManifestHash != want.Hash {
			t.Fatalf("%s: planned manifest %s, want %s", strategy, planned.ManifestHash, want.Hash)
		}
		releases[strategy] = filepath.Join(hosts[0].Path, "releases", v)
	}
	var hashes []string
	for _, strategy := range []string{catalog.StrategyGit, catalog.StrategyRsync} {
		m, err := buildManifest(releases[strategy], h.deployTimeFiles)
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, m.Hash)
		for p, content := range runExcludeFiles {
			_, err := os.Lstat(filepath.Join(releases[strategy], p))
			if kept := content == "kept"; kept != (err == nil) {
				t.Errorf("%s: %s: present %v, want %v", strategy, p, err == nil, kept)
			}
		}
	}
	if hashes[0] != hashes[1] {
		t.Fatalf("the strategies published different trees: %v", hashes)
	}
}

// TestRunExcludeAppliesToTheBuild: what a build makes is published, except
// what the project excludes, and the manifest lists exactly what hosts get.
func TestRunExcludeAppliesToTheBuild(t *testing.T) {
	const build = `mkdir -p node_modules/pkg dist && echo module >node_modules/pkg/index.js && echo log >build.log && echo app >dist/app.js`
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyRsync, hosts: 1, files: 10,
		project: func(p *catalog.Project) { p.Exclude = runExcludes; p.Build = build }})
	c := h.head()
	v := h.versionOf(c)
	want := h.manifestOfBuilt(c, build)
	id := h.mustSucceed(catalog.KindDeploy, c, v)
	h.checkHosts(h.targets(), v, c, want)
	var planned catalog.Planned
	h.decodeFirst(id, catalog.TypeDeployPlanned, &planned)
	if planned.ManifestHash != want.Hash {
		t.Fatalf("planned manifest %s, want %s", planned.ManifestHash, want.Hash)
	}
	rel := filepath.Join(h.targets()[0].Path, "current")
	if _, err := os.Stat(filepath.Join(rel, "dist", "app.js")); err != nil {
		t.Fatal("the build's output is not published")
	}
	for _, p := range []string{"node_modules", "build.log"} {
		if _, err := os.Lstat(filepath.Join(rel, p)); err == nil {
			t.Errorf("excluded %s was published", p)
		}
	}
}

// TestRunSubmitRefusesGitBuild: the git strategy cannot publish a build;
// a project with both is refused, naming the field, and nothing is written.
func TestRunSubmitRefusesGitBuild(t *testing.T) {
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyGit, hosts: 1, files: 5, mem: true})
	h.p.Build = "npm ci && npm run build"
	c := h.head()
	req := catalog.Request{Deployment: "gitbuild", Kind: catalog.KindDeploy, Project: h.p, Environment: "prod", Commit: c, Version: h.versionOf(c)}
	err := Submit(context.Background(), h.log, req, "alice")
	if !errors.Is(err, ErrInvalidRequest) || !strings.Contains(err.Error(), "project.build") ||
		!strings.Contains(err.Error(), "git strategy") {
		t.Fatalf("Submit: %v", err)
	}
	if envs := h.events("gitbuild"); len(envs) != 0 {
		t.Fatalf("a refused request wrote %d events", len(envs))
	}
	t.Logf("refused: %v", err)
	// The same project with the rsync strategy is fine.
	req.Project.Strategy = catalog.StrategyRsync
	if err := validateRequest(req); err != nil {
		t.Fatal(err)
	}
}
