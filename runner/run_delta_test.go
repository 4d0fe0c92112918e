package runner

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// A release staged as a delta of the previous one (cp -al, the changed
// paths removed, only they sent) equals one staged in full, and never
// touches the previous release's files.
func TestRunDeltaStaging(t *testing.T) {
	h := newRunHarness(t, runHarnessOpts{strategy: StrategyRsync, hosts: 1})
	host := h.targets()[0]
	c1 := h.head()
	v1, m1 := h.versionOf(c1), h.manifestOf(c1)
	h.mustSucceed(KindDeploy, c1, v1)
	h.checkHosts(h.targets(), v1, c1, m1)

	const changed, deleted, modeOnly, same = "dir0/file000.txt", "dir1/file001.txt", "dir2/file002.txt", "dir3/file003.txt"
	orig := runTestFiles(200)
	writeTestFile(t, h.repo, changed, "changed in v2\n", 0o644)
	writeTestFile(t, h.repo, modeOnly, orig[modeOnly], 0o755)
	writeTestFile(t, h.repo, "newdir/sub/new.txt", "new in v2\n", 0o644)
	if err := os.Remove(filepath.Join(h.repo, deleted)); err != nil {
		t.Fatal(err)
	}
	c2 := commitAll(t, h.repo, "change, delete, chmod, add")
	v2, m2 := h.versionOf(c2), h.manifestOf(c2)
	id2 := h.mustSucceed(KindDeploy, c2, v2)
	h.checkHosts(h.targets(), v2, c2, m2)
	st, err := ParseRsyncStats(h.stepOutput(id2, host.Addr, "transfer"))
	if err != nil {
		t.Fatal(err)
	}
	// Delta: the file list holds the changed paths only (changed, mode,
	// new dir, its sub dir, new file and the source root), not the tree.
	if st.Files > 10 || st.FilesTransferred != 3 {
		t.Fatalf("not a delta transfer: %+v", st)
	}

	rel := func(v, p string) string { return filepath.Join(host.Path, "releases", v, filepath.FromSlash(p)) }
	if runInode(t, rel(v1, changed)) == runInode(t, rel(v2, changed)) {
		t.Fatalf("%s: v2 shares v1's inode", changed)
	}
	if b, err := os.ReadFile(rel(v1, changed)); err != nil || string(b) != orig[changed] {
		t.Fatalf("%s in v1 altered: %q %v", changed, b, err)
	}
	if _, err := os.Lstat(rel(v2, deleted)); !os.IsNotExist(err) {
		t.Fatalf("%s deleted in v2 but still there: %v", deleted, err)
	}
	if _, err := os.Stat(rel(v1, deleted)); err != nil {
		t.Fatalf("%s gone from v1: %v", deleted, err)
	}
	for v, exec := range map[string]bool{v1: false, v2: true} {
		fi, err := os.Stat(rel(v, modeOnly))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode()&0o111 != 0; got != exec {
			t.Fatalf("%s in %s: mode %v", modeOnly, v, fi.Mode())
		}
	}
	if runInode(t, rel(v1, modeOnly)) == runInode(t, rel(v2, modeOnly)) {
		t.Fatalf("%s: mode change applied to v1's inode", modeOnly)
	}
	if runInode(t, rel(v1, same)) != runInode(t, rel(v2, same)) {
		t.Fatalf("%s: unchanged file not hard-linked", same)
	}

	// The same commit staged in full (no kept manifests): the same tree.
	if err := os.RemoveAll(filepath.Join(h.ws.Dir, "manifests")); err != nil {
		t.Fatal(err)
	}
	v3 := h.versionOf(c2)
	id3 := h.mustSucceed(KindDeploy, c2, v3)
	h.checkHosts(h.targets(), v3, c2, m2)
	if st, err := ParseRsyncStats(h.stepOutput(id3, host.Addr, "transfer")); err != nil || st.Files < int64(m2.Files) {
		t.Fatalf("not a full transfer: %+v %v", st, err)
	}
	delta, err := buildManifest(rel(v2, ""), h.deployTimeFiles)
	if err != nil {
		t.Fatal(err)
	}
	full, err := buildManifest(rel(v3, ""), h.deployTimeFiles)
	if err != nil {
		t.Fatal(err)
	}
	if delta.Hash != full.Hash {
		t.Fatalf("delta release %s differs from full %s", delta.Hash, full.Hash)
	}
}

// TestRunKeepsManifestsOnlyOfPureExports: a delta trusts the kept manifest
// of the host's previous version, so only an export that depends on the
// commit alone keeps one; a build (here one whose output differs at every
// run) keeps none, and drops one kept earlier for the same version.
func TestRunKeepsManifestsOnlyOfPureExports(t *testing.T) {
	h := newRunHarness(t, runHarnessOpts{strategy: StrategyLocal})
	c := h.head()
	v := h.versionOf(c)
	h.mustSucceed(KindDeploy, c, v)
	if _, err := h.ws.LoadManifest(h.p.ID, v); err != nil {
		t.Fatalf("a pure export kept no manifest: %v", err)
	}

	h.p.Build = "date +%s%N > BUILD_ID"
	id := h.submit(KindDeploy, c, v) // the same version exported again, now built
	if err := h.r.Run(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if term := h.terminal(id); term != TypeDeploySucceeded {
		t.Fatalf("built deployment ended %s:\n%s", term, h.describe(id))
	}
	if _, err := h.ws.LoadManifest(h.p.ID, v); err == nil {
		t.Fatal("a built export left a kept manifest a later delta would trust")
	}
}
