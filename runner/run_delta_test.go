package runner

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"testing"

	"releasedesk/events/catalog"
)

// A release staged as a delta of the previous one (cp -Rl, the changed
// paths removed, only they sent) equals one staged in full, and never
// touches the previous release's files.
func TestRunDeltaStaging(t *testing.T) {
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyRsync, hosts: 1})
	host := h.targets()[0]
	c1 := h.head()
	v1, m1 := h.versionOf(c1), h.manifestOf(c1)
	h.mustSucceed(catalog.KindDeploy, c1, v1)
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
	id2 := h.mustSucceed(catalog.KindDeploy, c2, v2)
	h.checkHosts(h.targets(), v2, c2, m2)
	st, err := ParseTarStats(h.stepOutput(id2, host.Addr, "transfer"))
	if err != nil {
		t.Fatal(err)
	}
	// Delta: the tar stream holds the changed files only (changed, mode,
	// new file; the new dir and its sub dir are made on the host).
	if st.Files != 3 || st.Symlinks != 0 || st.Dirs != 2 || st.Bytes < st.FileBytes || st.Bytes > st.FileBytes+8*512+1024 {
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
	id3 := h.mustSucceed(catalog.KindDeploy, c2, v3)
	h.checkHosts(h.targets(), v3, c2, m2)
	// rsync went over every file (hard-linking the unchanged ones); a
	// tar stream (the suite's tar pass) carried every file.
	out := h.stepOutput(id3, host.Addr, "transfer")
	if st, err := ParseTarStats(out); err == nil {
		if st.Files != int64(m2.Files) {
			t.Fatalf("not a full transfer: %d of %d files in the tar stream", st.Files, m2.Files)
		}
	} else if st, err := ParseRsyncStats(out); err != nil || st.Files < int64(m2.Files) {
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
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyLocal})
	c := h.head()
	v := h.versionOf(c)
	h.mustSucceed(catalog.KindDeploy, c, v)
	if _, err := h.ws.LoadManifest(h.p.ID, v); err != nil {
		t.Fatalf("a pure export kept no manifest: %v", err)
	}

	h.p.Build = "date +%s%N > BUILD_ID"
	id := h.submit(catalog.KindDeploy, c, v) // the same version exported again, now built
	if err := h.r.Run(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if term := h.terminal(id); term != catalog.TypeDeploySucceeded {
		t.Fatalf("built deployment ended %s:\n%s", term, h.describe(id))
	}
	if _, err := h.ws.LoadManifest(h.p.ID, v); err == nil {
		t.Fatal("a built export left a kept manifest a later delta would trust")
	}
}

// TestRunDeltaTarTransfer: a delta over real sshd travels as a tar stream
// on each host's one connection. It adds files (in a new dir and in an
// existing one), modifies one whose copy in the previous release is a hard
// link to the release before it, deletes one, changes modes both ways,
// retargets a symlink and adds one. The new release equals the export
// (its manifest), is sealed, and the previous releases are untouched:
// same tree, same inodes, same content.
func TestRunDeltaTarTransfer(t *testing.T) {
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyRsync, hosts: 2})
	hosts := h.targets()
	c1 := h.head()
	v1 := h.versionOf(c1)
	h.mustSucceed(catalog.KindDeploy, c1, v1)
	// v2: a small delta, so that v2's copy of the file v3 modifies is a
	// hard link into v1.
	c2 := h.commit(map[string]string{"dir6/file006.txt": "v2\n", "gone/x.txt": "a directory in v2, a file in v3\n"})
	v2, m2 := h.versionOf(c2), h.manifestOf(c2)
	h.mustSucceed(catalog.KindDeploy, c2, v2)
	h.checkHosts(hosts, v2, c2, m2)

	const modified, deleted, toExec, toPlain = "dir0/file000.txt", "dir1/file001.txt", "dir2/file002.txt", "bin/run.sh"
	rel := func(host catalog.Host, v, p string) string {
		return filepath.Join(host.Path, "releases", v, filepath.FromSlash(p))
	}
	first := hosts[0]
	if runInode(t, rel(first, v1, modified)) != runInode(t, rel(first, v2, modified)) {
		t.Fatalf("%s: v2 does not share v1's inode: the test needs a hard-linked previous version", modified)
	}
	type snap struct {
		hash  string
		inode uint64
		body  string
	}
	snapshot := func(host catalog.Host, v string) snap {
		m, err := buildManifest(rel(host, v, ""), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(rel(host, v, modified))
		if err != nil {
			t.Fatal(err)
		}
		return snap{m.Hash, runInode(t, rel(host, v, modified)), string(b)}
	}
	before := map[string]snap{}
	for _, host := range hosts {
		for _, v := range []string{v1, v2} {
			before[host.Addr+v] = snapshot(host, v)
		}
	}

	orig := runTestFiles(200)
	writeTestFile(t, h.repo, modified, "modified in v3\n", 0o644)
	if err := os.Remove(filepath.Join(h.repo, deleted)); err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, h.repo, toExec, orig[toExec], 0o755)
	writeTestFile(t, h.repo, toPlain, "#!/bin/sh\necho run\n", 0o644)
	writeTestFile(t, h.repo, "link-to-readme", "dir3/file003.txt", os.ModeSymlink)
	writeTestFile(t, h.repo, "newdir/sub/new.txt", "new in v3\n", 0o644)
	writeTestFile(t, h.repo, "newdir/link", "../dir4/file004.txt", os.ModeSymlink)
	writeTestFile(t, h.repo, "dir5/added.txt", "added in v3\n", 0o644)
	// A file becomes a directory, a directory a file.
	if err := os.Remove(filepath.Join(h.repo, "dir3", "file003.txt")); err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, h.repo, "dir3/file003.txt/inner.txt", "a file in v2, a directory in v3\n", 0o644)
	if err := os.RemoveAll(filepath.Join(h.repo, "gone")); err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, h.repo, "gone", "a file now\n", 0o644)
	c3 := commitAll(t, h.repo, "modify, delete, chmod both ways, retarget a symlink, add, change kinds")
	v3, m3 := h.versionOf(c3), h.manifestOf(c3)
	h.r.CloseIdleConnections() // count this deployment's own handshake
	accepted := h.handshakes()
	id3 := h.mustSucceed(catalog.KindDeploy, c3, v3)
	h.checkHosts(hosts, v3, c3, m3)
	for i, n := range h.handshakes() {
		if d := n - accepted[i]; d != 1 {
			t.Fatalf("host %d: %d SSH handshakes for a delta, want 1 (the tar stream uses the open connection)", i, d)
		}
	}

	for _, host := range hosts {
		// The transfer is a recorded step: its command is the extract
		// argv, its output the stream's figures.
		var cmd []string
		for _, e := range h.ofType(id3, catalog.TypeStepStarted) {
			var s catalog.StepStarted
			_ = e.Decode(&s)
			if s.Host == host.Addr && s.Name == "transfer" {
				cmd = s.Command
			}
		}
		// One session makes the staging dir from v2 and receives the
		// stream: the changed paths (and what Finalize writes) removed,
		// the directories the stream needs after them.
		hl := Layout{Path: host.Path}
		dirs := []string{"bin", "dir0", "dir2", "dir3/file003.txt", "dir5", "newdir/sub"}
		if len(cmd) < 8 || cmd[2] != receiveScript || !reflect.DeepEqual(cmd[4:7], []string{hl.Staging(v3), hl.Incoming(v3), hl.Release(v2)}) ||
			!reflect.DeepEqual(cmd[len(cmd)-len(dirs):], dirs) {
			t.Fatalf("%s: transfer command %q", host.Addr, cmd)
		}
		if n, _ := strconv.Atoi(cmd[7]); n+8+len(dirs) != len(cmd) || !slices.Contains(cmd[8:8+n], modified) ||
			!slices.Contains(cmd[8:8+n], deleted) || !slices.Contains(cmd[8:8+n], "REVISION") {
			t.Fatalf("%s: paths to remove %q", host.Addr, cmd[8:])
		}
		st, err := ParseTarStats(h.stepOutput(id3, host.Addr, "transfer"))
		if err != nil {
			t.Fatal(err)
		}
		if st.Files != 7 || st.Symlinks != 2 || st.Dirs != 3 || st.Bytes < st.FileBytes+9*512 {
			t.Fatalf("%s: tar stream %+v: want 7 files, 2 symlinks, 3 dirs", host.Addr, st)
		}

		// The new release: exactly the export (checkHosts), the modified
		// file a new inode, sealed read-only, the deleted one gone.
		if runInode(t, rel(host, v3, modified)) == before[host.Addr+v2].inode {
			t.Fatalf("%s: %s shares v2's inode", host.Addr, modified)
		}
		for _, p := range []string{modified, "newdir/sub/new.txt", "dir5/added.txt", toExec, toPlain} {
			fi, err := os.Lstat(rel(host, v3, p))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm()&0o222 != 0 {
				t.Fatalf("%s: %s in v3 is writable: %v", host.Addr, p, fi.Mode())
			}
		}
		if _, err := os.Lstat(rel(host, v3, deleted)); !os.IsNotExist(err) {
			t.Fatalf("%s: %s still in v3: %v", host.Addr, deleted, err)
		}
		if target, err := os.Readlink(rel(host, v3, "link-to-readme")); err != nil || target != "dir3/file003.txt" {
			t.Fatalf("%s: link-to-readme -> %q %v", host.Addr, target, err)
		}
		// The previous releases are untouched.
		for _, v := range []string{v1, v2} {
			if got := snapshot(host, v); got != before[host.Addr+v] {
				t.Fatalf("%s: release %s changed: %+v, was %+v", host.Addr, v, got, before[host.Addr+v])
			}
		}
		if before[host.Addr+v2].body != orig[modified] {
			t.Fatalf("%s: v2's %s: %q", host.Addr, modified, before[host.Addr+v2].body)
		}
		runNoStaging(t, host)
	}
	h.checkLockFree()

	// Rolling back to v2 finds it whole.
	h.mustSucceed(catalog.KindRollback, c2, v2)
	h.checkHosts(hosts, v2, c2, m2)
}
