package runner

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"releasedesk/events/catalog"
)

// The whole life of an environment, for each strategy: deploy, a 1%
// change, rollback, roll forward, prune. After each step every host runs
// the expected release, complete against the commit's manifest, and the
// events say exactly what happened.

func TestRunLifecycleLocal(t *testing.T) {
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyLocal})
	runLifecycle(t, h)
}

func TestRunLifecycleRsync(t *testing.T) {
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyRsync, hosts: 3})
	runLifecycle(t, h)
}

func TestRunLifecycleGit(t *testing.T) {
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyGit, hosts: 3})
	runLifecycle(t, h)
}

func runLifecycle(t *testing.T, h *runHarness) {
	hosts := h.targets()
	first := hosts[0]
	transfer := []string{"transfer"}
	if h.p.Strategy == catalog.StrategyGit {
		transfer = []string{"git.fetch", "git.archive"}
	}
	// prepare: lock, directories, current, the releases and the release
	// in one session; a tar stream makes its staging dir as it is
	// received (one session: Layout.Receive), git has a step of its own;
	// finalize seals too (no hook, no check); switch prunes (from
	// prepare's list) and unlocks in the same session.
	stageSeq := func(first bool) []string {
		tar := h.r.tarWhy != "" || (h.p.Strategy == catalog.StrategyRsync && (!first || h.r.cfg.Transfer != TransferRsync))
		seq := []string{"connect", "prepare"}
		if h.p.Strategy == catalog.StrategyGit || !tar {
			seq = append(seq, "staging")
		}
		seq = append(seq, transfer...)
		return append(seq, "finalize", catalog.TypeHostStaged, "switch", catalog.TypeHostSwitched)
	}
	switchSeq := []string{"connect", "prepare", catalog.TypeHostStaged, "switch", catalog.TypeHostSwitched}
	checkSwitch := func(id, what string, want ...string) {
		t.Helper()
		if h.p.Strategy != catalog.StrategyLocal {
			// Over SSH the switch session waited at its gate for the
			// batch's cut-over (cutover.go).
			want = append([]string{GatePart}, want...)
		}
		if got := h.stepParts(id, first.Addr, "switch"); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s on %s: the switch session ran %v, want %v", what, first.Addr, got, want)
		}
	}
	wantDeploy := []string{catalog.TypeDeployRequested, catalog.TypeDeployStarted, catalog.TypeDeployPlanned, catalog.TypeDeploySucceeded}
	wantRollback := wantDeploy

	// 1. First deploy.
	c1 := h.head()
	v1, m1 := h.versionOf(c1), h.manifestOf(c1)
	start := time.Now()
	id1 := h.mustSucceed(catalog.KindDeploy, c1, v1)
	t.Logf("deploy v1 (%d files) to %d host(s): %s", m1.Files, len(hosts), time.Since(start).Round(time.Millisecond))
	h.checkHosts(hosts, v1, c1, m1)
	if got := h.deploySequence(id1); !reflect.DeepEqual(got, wantDeploy) {
		t.Fatalf("deploy v1 events %v", got)
	}
	if got := h.hostSequence(id1, first.Addr); !reflect.DeepEqual(got, stageSeq(true)) {
		t.Fatalf("deploy v1 on %s: %v\nwant %v", first.Addr, got, stageSeq(true))
	}
	checkSwitch(id1, "deploy v1", "switch", "unlock")
	var planned catalog.Planned
	h.decodeFirst(id1, catalog.TypeDeployPlanned, &planned)
	if planned.ManifestHash != m1.Hash || planned.Files != m1.Files {
		t.Fatalf("planned %+v, manifest %s %d", planned, m1.Hash, m1.Files)
	}

	// 2. Change 1% of the files (2 of 200) and deploy again.
	c2 := h.commit(map[string]string{"dir0/file000.txt": "changed\n", "dir1/file001.txt": "changed too\n"})
	v2, m2 := h.versionOf(c2), h.manifestOf(c2)
	accepted := h.handshakes()
	start = time.Now()
	id2 := h.mustSucceed(catalog.KindDeploy, c2, v2)
	t.Logf("deploy v2 (1%% change): %s", time.Since(start).Round(time.Millisecond))
	h.checkHosts(hosts, v2, c2, m2)
	// One connection per host for every command, the transfer included
	// (a tar stream, or rsync's remote half, rides it too).
	for i, n := range h.handshakes() {
		if d := n - accepted[i]; d > 1 {
			t.Fatalf("host %d: %d SSH handshakes in one deployment", i, d)
		}
	}
	if h.p.Strategy == catalog.StrategyLocal {
		n, err := sentFiles(h.stepOutput(id2, first.Addr, "transfer"))
		if err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Fatalf("%d files transferred for a 2-file change", n)
		}
	}
	if h.p.Strategy == catalog.StrategyRsync {
		// A delta: the changed files travel as a tar stream over the
		// host's open connection.
		st, err := ParseTarStats(h.stepOutput(id2, first.Addr, "transfer"))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("tar stream of the 1%% change: %d files, %d bytes of file data, %d bytes sent", st.Files, st.FileBytes, st.Bytes)
		if st.Files != 2 {
			t.Fatalf("%d files transferred for a 2-file change", st.Files)
		}
	}
	if h.p.Strategy != catalog.StrategyGit {
		// Unchanged files are hard links into the previous release.
		same := "dir2/file002.txt"
		a := runInode(t, filepath.Join(first.Path, "releases", v1, same))
		b := runInode(t, filepath.Join(first.Path, "releases", v2, same))
		if a != b {
			t.Fatalf("%s: not hard-linked between releases", same)
		}
	}

	// 3. Roll back to v1: no transfer, just a switch.
	start = time.Now()
	id3 := h.mustSucceed(catalog.KindRollback, c1, v1)
	t.Logf("rollback to v1: %s", time.Since(start).Round(time.Millisecond))
	h.checkHosts(hosts, v1, c1, m1)
	if got := h.hostSequence(id3, first.Addr); !reflect.DeepEqual(got, switchSeq) {
		t.Fatalf("rollback on %s: %v\nwant %v", first.Addr, got, switchSeq)
	}
	checkSwitch(id3, "rollback", "switch", "unlock")
	if got := h.deploySequence(id3); !reflect.DeepEqual(got, wantRollback) {
		t.Fatalf("rollback events %v", got)
	}
	var sw catalog.HostEvent
	h.decodeFirst(id3, catalog.TypeHostSwitched, &sw)
	if sw.Version != v1 || sw.Previous != v2 || sw.Commit != c1 {
		t.Fatalf("rollback host_switched %+v", sw)
	}

	// 4. Roll forward to v2.
	h.mustSucceed(catalog.KindRollback, c2, v2)
	h.checkHosts(hosts, v2, c2, m2)

	// 5. Prune: keep 2; a third release removes v1, keeps v2 (the one it
	// replaced) and v3.
	h.p.KeepReleases = 2
	c3 := h.commit(map[string]string{"dir3/file003.txt": "third\n"})
	v3, m3 := h.versionOf(c3), h.manifestOf(c3)
	id5 := h.mustSucceed(catalog.KindDeploy, c3, v3)
	h.checkHosts(hosts, v3, c3, m3)
	if got := h.hostSequence(id5, first.Addr); !reflect.DeepEqual(got, stageSeq(false)) {
		t.Fatalf("deploy v3 on %s: %v\nwant %v", first.Addr, got, stageSeq(false))
	}
	checkSwitch(id5, "deploy v3", "switch", "prune", "unlock")
	for _, host := range hosts {
		if got := runReleasesOn(t, host); !reflect.DeepEqual(got, []string{v2, v3}) {
			t.Fatalf("%s: releases %v after pruning to 2, want %v", host.Addr, got, []string{v2, v3})
		}
	}

	pruned := h.ofType(id5, catalog.TypeReleasePruned)
	if len(pruned) != len(hosts) {
		t.Fatalf("%d release.pruned events for %d hosts", len(pruned), len(hosts))
	}
	var pr catalog.Pruned
	_ = pruned[0].Decode(&pr)
	if !slices.Equal(pr.Versions, []string{v1}) {
		t.Fatalf("pruned %v", pr.Versions)
	}
	// Releases are read-only: an edit cannot leak through a hard link.
	for _, p := range []string{"dir4/file004.txt", "dir4", "."} {
		fi, err := os.Stat(filepath.Join(first.Path, "current", p))
		if err != nil || fi.Mode().Perm()&0o222 != 0 {
			t.Fatalf("%s in the release: %v %v", p, fi.Mode(), err)
		}
	}

	// 6. Roll back to the pruned v1: it is staged again from its commit.
	id6 := h.mustSucceed(catalog.KindRollback, c1, v1)
	h.checkHosts(hosts, v1, c1, m1)
	if got := h.hostSequence(id6, first.Addr); !slices.Contains(got, transfer[0]) {
		t.Fatalf("rollback to a pruned release on %s: %v", first.Addr, got)
	}
	h.checkLockFree()
	// Only the project's last export is kept: the rollback's, of v1 (v3's
	// was updated into it); the git strategy's rollback exports nothing.
	last := v1
	if h.p.Strategy == catalog.StrategyGit {
		last = v3
	}
	ents, err := os.ReadDir(filepath.Dir(h.ws.ExportDir(h.p.ID, v1)))
	if err != nil || len(ents) != 1 || ents[0].Name() != last {
		t.Fatalf("exports left in the workspace: %v %v", ents, err)
	}
}

// runInode returns a file's inode number.
func runInode(t testing.TB, p string) uint64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// handshakes counts the SSH connections each host accepted so far.
func (h *runHarness) handshakes() []int {
	if h.cluster == nil {
		return nil
	}
	out := make([]int, len(h.cluster.Hosts))
	for i := range out {
		out[i] = h.cluster.Accepted(i)
	}
	return out
}

// TestRunBuildAndLocalHooks: pre_deploy and the build run in the exported
// tree with the project's env (secrets included, redacted from output);
// what they make is published and listed in the manifest; post_deploy runs
// once every host is switched.
func TestRunBuildAndLocalHooks(t *testing.T) {
	marker := filepath.Join(runShmDir(t), "post-deploy-ran")
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyLocal, files: 10, project: func(p *catalog.Project) {
		p.Hooks.PreDeploy = `echo "pre_deploy in $(basename "$PWD")"`
		p.Build = `mkdir -p assets && printf 'compiled %s with %s\n' "$RELEASEDESK_VERSION" "$BUILD_KEY" >assets/app.js && echo "key $BUILD_KEY"`
		p.Hooks.PostDeploy = `echo "$RELEASEDESK_DEPLOYMENT" >` + Quote(marker)
		p.Env = []catalog.EnvVar{{Name: "BUILD_KEY", FromEnv: "RD_TEST_BUILD_KEY", Secret: true}}
	}})
	t.Setenv("RD_TEST_BUILD_KEY", "bk-0123456789")
	c := h.head()
	v := h.versionOf(c)
	id := h.mustSucceed(catalog.KindDeploy, c, v)
	host := h.targets()[0]
	b, err := os.ReadFile(filepath.Join(host.Path, "current", "assets", "app.js"))
	if err != nil || string(b) != "compiled "+v+" with bk-0123456789\n" {
		t.Fatalf("build output on the host: %q %v", b, err)
	}
	if out := h.stepOutput(id, "", "build"); out != "key [redacted]\n" {
		t.Fatalf("build output recorded as %q", out)
	}
	if out := h.stepOutput(id, "", "hook.pre_deploy"); out != "pre_deploy in "+v+"\n" {
		t.Fatalf("pre_deploy output %q", out)
	}
	if b, err := os.ReadFile(marker); err != nil || string(b) != id+"\n" {
		t.Fatalf("post_deploy: %q %v", b, err)
	}
	var planned catalog.Planned
	h.decodeFirst(id, catalog.TypeDeployPlanned, &planned)
	if planned.Files != h.manifestOf(c).Files+1 {
		t.Fatalf("the manifest does not count the built file: %d", planned.Files)
	}
	rev, _ := os.ReadFile(filepath.Join(host.Path, "current", "REVISION"))
	if r := ParseRevision(string(rev)); r.Who != "alice" || r.Deployment != id || r.Version != v {
		t.Fatalf("REVISION %+v", r)
	}
	if b, _ := os.ReadFile(filepath.Join(host.Path, "current", "VERSION")); string(b) != v+"\n" {
		t.Fatalf("VERSION %q", b)
	}
	// shared paths are links into shared/, which outlives releases.
	if target, err := os.Readlink(filepath.Join(host.Path, "current", ".env")); err != nil || target != filepath.Join(host.Path, "shared", ".env") {
		t.Fatalf(".env -> %q %v", target, err)
	}
}

// TestRunLocalFailures: a commit the repository lacks, and a failing
// build, fail the deployment before any host is touched.
func TestRunLocalFailures(t *testing.T) {
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyLocal, files: 10})
	missing := "0123456789abcdef0123456789abcdef01234567"
	id, term := h.deploy(catalog.KindDeploy, missing, h.versionOf(missing))
	if fin := h.finished(id); term != catalog.TypeDeployFailed || !strings.Contains(fin.Error, "is not in") {
		t.Fatalf("%s %+v", term, fin)
	}
	h.p.Build = "echo compiling; exit 7"
	c := h.head()
	id, term = h.deploy(catalog.KindDeploy, c, h.versionOf(c))
	if fin := h.finished(id); term != catalog.TypeDeployFailed || !strings.Contains(fin.Error, "build: exit status 7: compiling") {
		t.Fatalf("%s %+v", term, fin)
	}
	if _, err := os.Stat(h.targets()[0].Path); !os.IsNotExist(err) {
		t.Fatal("the target was touched")
	}
	h.checkLockFree()
}

// TestRunLifecycleRsyncCatRelay: where rsync's sockets cannot be taken
// (no pidfd_getfd), its data goes through relayShell's cat, and every
// deployment still goes as it should.
func TestRunLifecycleRsyncCatRelay(t *testing.T) {
	taken := relayHandoff
	relayHandoff = func(string) (*os.File, *os.File, error) { return nil, nil, errNoHandoff }
	t.Cleanup(func() { relayHandoff = taken })
	withLocalTools(t) // rsync, in the suite's tar pass too
	// Transfer rsync: the first release goes by rsync too, not as the
	// tar stream a host with nothing to link against gets by default.
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyRsync, hosts: 3,
		config: func(c *Config) { c.Transfer = TransferRsync }})
	runLifecycle(t, h)
}
