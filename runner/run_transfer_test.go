package runner

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"releasedesk/events/catalog"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// TestRunTarTransferWithoutRsync: with the Go-native transfer (asked for
// here; the default where this machine has no rsync), a first deployment
// sends the whole release as a tar stream over each host's SSH session,
// and says so in its output; the hosts hold exactly the export's tree
// (its manifest verified), the same as the rsync path leaves for the same
// commit; the next change goes as a delta. The local strategy takes the
// same path.
func TestRunTarTransferWithoutRsync(t *testing.T) {
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyRsync, hosts: 2,
		config: func(c *Config) { c.Transfer = TransferTar }})
	c1 := h.head()
	v1, m1 := h.versionOf(c1), h.manifestOf(c1)
	id := h.mustSucceed(catalog.KindDeploy, c1, v1)
	h.checkHosts(h.targets(), v1, c1, m1)
	var files, links int64
	for _, e := range m1.Entries {
		switch {
		case e.Mode.IsRegular():
			files++
		case e.Mode&os.ModeSymlink != 0:
			links++
		}
	}
	for _, host := range h.targets() {
		out := h.stepOutput(id, host.Addr, "transfer")
		if !strings.Contains(out, "the whole release sent as a tar stream, not by rsync: asked for (transfer: tar)") {
			t.Fatalf("%s: the transfer does not say it went as a tar stream:\n%s", host.Addr, out)
		}
		st, err := ParseTarStats(out)
		if err != nil || st.Files != files || st.Symlinks != links {
			t.Fatalf("%s: a full tar transfer sent %+v (%v), the release has %d files and %d symlinks", host.Addr, st, err, files, links)
		}
	}

	// The rsync path for the same commit, on the same hosts: the same tree.
	withLocalTools(t) // rsync again, in the suite's tar pass too
	rs := h.newRunner(func(c *Config) { c.Transfer = TransferRsync })
	tarRunner := h.r
	h.r = rs
	v1b := h.versionOf(c1)
	if v1b == v1 {
		t.Fatal("the harness gave one version twice")
	}
	if err := os.RemoveAll(filepath.Join(h.ws.Dir, "manifests")); err != nil { // in full, not a delta
		t.Fatal(err)
	}
	id = h.mustSucceed(catalog.KindDeploy, c1, v1b)
	if _, err := ParseRsyncStats(h.stepOutput(id, h.targets()[0].Addr, "transfer")); err != nil {
		t.Fatalf("the rsync runner did not run rsync: %v", err)
	}
	host := h.targets()[0]
	byTar, err := buildManifest(filepath.Join(host.Path, "releases", v1), h.deployTimeFiles)
	if err != nil {
		t.Fatal(err)
	}
	byRsync, err := buildManifest(filepath.Join(host.Path, "releases", v1b), h.deployTimeFiles)
	if err != nil {
		t.Fatal(err)
	}
	if byTar.Hash != byRsync.Hash {
		t.Fatalf("the tar stream's release %s differs from rsync's %s", byTar.Hash, byRsync.Hash)
	}

	// A change, by the tar runner again: a delta.
	h.r = tarRunner
	writeTestFile(t, h.repo, "dir0/file000.txt", "changed\n", 0o644)
	c2 := commitAll(t, h.repo, "one change")
	v2, m2 := h.versionOf(c2), h.manifestOf(c2)
	id = h.mustSucceed(catalog.KindDeploy, c2, v2)
	h.checkHosts(h.targets(), v2, c2, m2)
	if st, err := ParseTarStats(h.stepOutput(id, host.Addr, "transfer")); err != nil || st.Files != 1 {
		t.Fatalf("the change went as %+v (%v), want a delta of 1 file", st, err)
	}
}

// TestRunTarTransferLocal: the local strategy with the tar stream.
func TestRunTarTransferLocal(t *testing.T) {
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyLocal, mem: true,
		config: func(c *Config) { c.Transfer = TransferTar }})
	c1 := h.head()
	v1, m1 := h.versionOf(c1), h.manifestOf(c1)
	id := h.mustSucceed(catalog.KindDeploy, c1, v1)
	h.checkHosts(h.targets(), v1, c1, m1)
	if out := h.stepOutput(id, h.targets()[0].Addr, "transfer"); !strings.Contains(out, "sent as a tar stream") {
		t.Fatalf("the local transfer did not go as a tar stream:\n%s", out)
	}
}

// TestTransferChoice: rsync where this machine has it, the tar stream
// where it has not or when asked; a name that is no transfer is refused.
func TestTransferChoice(t *testing.T) {
	found := func(string) (string, error) { return "/usr/bin/rsync", nil }
	missing := func(string) (string, error) { return "", errors.New("not found") }
	for _, c := range []struct {
		t    Transfer
		look func(string) (string, error)
		want string
	}{
		{TransferAuto, found, ""},
		{TransferAuto, missing, "no rsync on this machine"},
		{TransferTar, found, "asked for (transfer: tar)"},
		{TransferRsync, missing, ""},
	} {
		if got := tarReason(c.t, c.look); got != c.want {
			t.Errorf("transfer %q: %q, want %q", c.t, got, c.want)
		}
	}
	if _, err := ParseTransfer("scp"); err == nil || !strings.Contains(err.Error(), "auto, rsync, tar") {
		t.Fatalf("ParseTransfer(scp): %v", err)
	}
	if _, err := New(Config{Log: nil}); err == nil {
		t.Fatal("New without a log")
	}
}

// TestRepoLoaderFindsBareAndWorkTrees: the in-process file transport of a
// desk without git opens a work tree's .git and a bare repository, and
// calls anything else not a repository.
func TestRepoLoaderFindsBareAndWorkTrees(t *testing.T) {
	work, _ := newTestRepo(t, map[string]string{"a.txt": "a\n"})
	// A project whose tree has a config/ directory and a HEAD file at its
	// root, as a web app may: its .git is still the repository.
	withConfig, _ := newTestRepo(t, map[string]string{"config/app.php": "<?php\n", "HEAD": "not git's\n"})
	// A directory holding a "config" file is not a repository.
	notRepo := t.TempDir()
	writeTestFile(t, notRepo, "config", "x=1\n", 0o644)
	bare := filepath.Join(t.TempDir(), "bare.git")
	if _, err := initMirror(bare); err != nil {
		t.Fatal(err)
	}
	l := repoLoader{osfs.New("")}
	for _, c := range []struct {
		path string
		ok   bool
	}{{work, true}, {withConfig, true}, {bare, true}, {t.TempDir(), false}, {notRepo, false}} {
		ep, err := transport.NewEndpoint(c.path)
		if err != nil {
			t.Fatal(err)
		}
		st, err := l.Load(ep)
		if c.ok != (err == nil) {
			t.Fatalf("%s: %v, want found %v", c.path, err, c.ok)
		}
		if c.ok {
			if _, err := st.Reference("HEAD"); err != nil {
				t.Fatalf("%s: HEAD: %v", c.path, err)
			}
		} else if !errors.Is(err, transport.ErrRepositoryNotFound) {
			t.Fatalf("%s: %v, want ErrRepositoryNotFound", c.path, err)
		}
	}
}

// TestRunFirstReleaseAsTarStream: a host with no release yet leaves rsync
// nothing to link against, so the whole release goes as the (faster) tar
// stream, and the output says why; with an earlier release and no kept
// manifest, rsync's --link-dest runs again.
func TestRunFirstReleaseAsTarStream(t *testing.T) {
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyRsync, hosts: 2})
	c1 := h.head()
	v1, m1 := h.versionOf(c1), h.manifestOf(c1)
	id := h.mustSucceed(catalog.KindDeploy, c1, v1)
	h.checkHosts(h.targets(), v1, c1, m1)
	why := noLinkDest
	if h.r.tarWhy != "" { // the suite's tar pass
		why = h.r.tarWhy
	}
	for _, host := range h.targets() {
		out := h.stepOutput(id, host.Addr, "transfer")
		if st, err := ParseTarStats(out); err != nil || st.Files != int64(m1.Files) ||
			!strings.Contains(out, "the whole release sent as a tar stream, not by rsync: "+why) {
			t.Fatalf("%s: the first release did not go whole as a tar stream (%+v, %v):\n%s", host.Addr, st, err, out)
		}
	}
	if err := os.RemoveAll(filepath.Join(h.ws.Dir, "manifests")); err != nil {
		t.Fatal(err)
	}
	c2 := h.commit(map[string]string{"dir0/file000.txt": "v2\n"})
	v2, m2 := h.versionOf(c2), h.manifestOf(c2)
	id = h.mustSucceed(catalog.KindDeploy, c2, v2)
	h.checkHosts(h.targets(), v2, c2, m2)
	if h.r.tarWhy == "" {
		if _, err := ParseRsyncStats(h.stepOutput(id, h.targets()[0].Addr, "transfer")); err != nil {
			t.Fatalf("with an earlier release to link against, rsync did not run: %v", err)
		}
	}
}
