package runner

// More faults on real hosts: a host killed in the middle of its rsync, a
// host whose disk fills up during the transfer, and repository addresses
// built to run commands on the git strategy's hosts.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"releasedesk/events"
	"releasedesk/events/catalog"
)

// runBigBuild makes 40 files of 1 MiB under big/, the same each time.
const runBigBuild = `mkdir big && for i in $(seq 10 49); do yes "big file $i, a line to fill it up" | head -c 1048576 >big/part$i.txt; done`

// manifestOfBuilt is manifestOf for a project with a build: the commit's
// tree after script ran in it, without what the project excludes.
func (h *runHarness) manifestOfBuilt(commit, script string) Manifest {
	h.t.Helper()
	m := testMirrorIn(h.t, Workspace{Dir: h.t.TempDir()}, h.repo)
	dir := filepath.Join(h.t.TempDir(), "tree")
	if err := m.Export(context.Background(), commit, dir, h.p.Exclude); err != nil {
		h.t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		h.t.Fatalf("build: %v: %s", err, out)
	}
	ex, err := CompileExclude(h.p.Exclude)
	if err != nil {
		h.t.Fatal(err)
	}
	man, err := buildManifest(dir, ex.Match)
	if err != nil {
		h.t.Fatal(err)
	}
	return man
}

// runBigFiles is n files of size bytes each under big/ (text that git
// stores quickly; rsync does not compress, so it travels whole).
func runBigFiles(n, size int) map[string]string {
	files := map[string]string{}
	for i := range n {
		line := fmt.Sprintf("big file %d, a line of text to fill it up.\n", i)
		files[fmt.Sprintf("big/part%02d.txt", i)] = strings.Repeat(line, size/len(line)+1)[:size]
	}
	return files
}

// runWaitTransferring waits until rsync or tar has written file data into
// the staging (or incoming) dir of version on host: the transfer is under
// way.
func runWaitTransferring(t *testing.T, host catalog.Host, version string, timeout time.Duration) {
	t.Helper()
	l := Layout{Path: host.Path}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		found := false
		// A delta's files land in the incoming dir first (Layout.Receive).
		for _, dir := range []string{l.Staging(version), l.Incoming(version)} {
			_ = filepath.WalkDir(filepath.Join(dir, "big"), func(p string, d fs.DirEntry, err error) error {
				if err != nil || found || !d.Type().IsRegular() {
					return nil
				}
				if fi, err := d.Info(); err == nil && fi.Size() > 0 {
					found = true
					return filepath.SkipAll
				}
				return nil
			})
		}
		if found {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("%s: no file data arrived in %s within %s", host.Addr, l.Staging(version), timeout)
}

// TestRunHostKilledMidRsync: three hosts in batches of one under halt; the
// second host dies while its rsync runs. It fails at the transfer with
// rsync's own words; the first host, already switched, is switched back;
// the third is never touched; every host runs a complete v1; the live
// hosts keep no staging dir and no lock. Once the host is back, a resume
// takes over its lock, replaces its half-sent staging dir and finishes.
func TestRunHostKilledMidRsync(t *testing.T) { runHostKilledMidTransfer(t, false) }

// TestRunHostKilledMidTar is the same with the release staged as a delta
// (the changed files as a tar stream on the host's connection): the host
// fails at the transfer, its connection lost, with the same outcome.
func TestRunHostKilledMidTar(t *testing.T) { runHostKilledMidTransfer(t, true) }

func runHostKilledMidTransfer(t *testing.T, delta bool) {
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyRsync, hosts: 3, files: 20,
		env: func(e *catalog.Environment) { e.Batch = 1; e.OnFailure = catalog.OnFailureHalt }})
	hosts := h.targets()
	c1 := h.head()
	v1, m1 := h.versionOf(c1), h.manifestOf(c1)
	h.mustSucceed(catalog.KindDeploy, c1, v1)
	if !delta {
		// No kept manifest of v1: v2 is staged in full, by rsync (or
		// as a whole tar stream in the suite's tar pass).
		if err := os.RemoveAll(filepath.Join(h.ws.Dir, "manifests")); err != nil {
			t.Fatal(err)
		}
	}

	// v2 builds 40 MiB, a transfer long enough to cut. (Built rather
	// than committed: go-git takes seconds to fetch that much.)
	h.p.Build = runBigBuild
	c2 := h.commit(map[string]string{"dir0/file000.txt": "v2\n"})
	v2, m2 := h.versionOf(c2), h.manifestOfBuilt(c2, runBigBuild)
	id := h.submit(catalog.KindDeploy, c2, v2)
	done := make(chan error, 1)
	go func() { done <- h.r.Run(context.Background(), id) }()
	runWaitTransferring(t, hosts[1], v2, time.Minute)
	h.cluster.Kill(1)
	killed := time.Now()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the deployment did not end after its host died")
	}
	t.Logf("the deployment ended %s after the host died", time.Since(killed).Round(time.Millisecond))
	if term := h.terminal(id); term != catalog.TypeDeployFailed {
		t.Fatalf("ended %s:\n%s", term, h.describe(id))
	}
	fin := h.finished(id)
	if !slices.Equal(fin.Failed, []string{hosts[1].Addr}) || !slices.Equal(fin.Reverted, []string{hosts[0].Addr}) ||
		len(fin.Switched) != 0 {
		t.Fatalf("deploy.failed %+v", fin)
	}
	var hf catalog.HostEvent
	h.decodeFirst(id, catalog.TypeHostFailed, &hf)
	t.Logf("host_failed: %s", hf.Error)
	if hf.Host != hosts[1].Addr || hf.Step != "transfer" || hf.Version != v1 ||
		!strings.HasPrefix(hf.Error, "connection to "+hosts[1].Addr+" lost during the transfer: ") {
		t.Fatalf("host_failed %+v", hf)
	}
	// A tar stream: the delta, or the whole release where the runner
	// sends no rsync (the suite's tar pass).
	if delta || h.r.tarWhy != "" {
		if !strings.Contains(hf.Error, ErrConnectionLost.Error()) {
			t.Fatalf("host_failed %+v", hf)
		}
		if _, err := ParseTarStats(h.stepOutput(id, hosts[1].Addr, "transfer")); err == nil {
			t.Fatal("a cut tar stream recorded as sent")
		}
	} else {
		if !strings.HasPrefix(hf.Error, "connection to "+hosts[1].Addr+" lost during the transfer: transfer: exit status ") ||
			!strings.Contains(hf.Error, "rsync: ") {
			t.Fatalf("host_failed %+v", hf)
		}
		if out := h.stepOutput(id, hosts[1].Addr, "transfer"); !strings.Contains(out, "rsync error") {
			t.Fatalf("the transfer's output does not hold rsync's error:\n%s", out)
		}
	}
	// Every host runs a complete v1, the dead one included (its disk is
	// this machine's); the third was never touched.
	h.checkHosts(hosts, v1, c1, m1)
	if got := h.hostSequence(id, hosts[2].Addr); len(got) != 0 {
		t.Fatalf("%s was touched after the halt: %v", hosts[2].Addr, got)
	}
	live := []catalog.Host{hosts[0], hosts[2]}
	runNoStaging(t, live...)
	h.checkLockFreeOn(live)
	// The dead host kept what nobody could remove there.
	if _, err := os.Stat(Layout{Path: hosts[1].Path}.Staging(v2)); err != nil {
		t.Fatalf("the dead host's staging dir: %v", err)
	}

	h.cluster.Restart(1)
	if err := h.r.Resume(context.Background(), id, "alice"); err != nil {
		t.Fatal(err)
	}
	if term := h.terminal(id); term != catalog.TypeDeploySucceeded {
		t.Fatalf("resume ended %s:\n%s", term, h.describe(id))
	}
	h.checkHosts(hosts, v2, c2, m2)
	runNoStaging(t, hosts...)
	h.checkLockFree()
}

// runMountTmpfs mounts a tmpfs of size at dir (created), unmounted at
// cleanup. It needs root (CAP_SYS_ADMIN): CI runs the tests as root.
func runMountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0755", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount a tmpfs of %s at %s: %v: %s", size, dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			// Something still has it open: detach it now, freed when done.
			if out2, err2 := exec.Command("umount", "-l", dir).CombinedOutput(); err2 != nil {
				t.Errorf("umount %s: %v: %s; %v: %s", dir, err, out, err2, out2)
			}
		}
	})
}

// TestRunHostDiskFull: one of three hosts has its deploy path on a 2 MiB
// tmpfs; a release of 3 MiB does not fit. Under continue, that host fails
// with "No space left on device" (the delta's tar transfer: tar's own
// words and the runner's note of the full disk), its staging dir is removed and
// it keeps running the complete older release; the others switch.
func TestRunHostDiskFull(t *testing.T) {
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyRsync, hosts: 3, files: 20,
		env: func(e *catalog.Environment) { e.OnFailure = catalog.OnFailureContinue }})
	hosts := h.targets()
	runMountTmpfs(t, hosts[1].Path, "2m")
	c1 := h.head()
	v1, m1 := h.versionOf(c1), h.manifestOf(c1)
	h.mustSucceed(catalog.KindDeploy, c1, v1)

	c2 := h.commit(runBigFiles(3, 1<<20))
	v2, m2 := h.versionOf(c2), h.manifestOf(c2)
	id, term := h.deploy(catalog.KindDeploy, c2, v2)
	if term != catalog.TypeDeployFailed {
		t.Fatalf("ended %s:\n%s", term, h.describe(id))
	}
	fin := h.finished(id)
	if !slices.Equal(fin.Failed, []string{hosts[1].Addr}) ||
		!slices.Equal(fin.Switched, []string{hosts[0].Addr, hosts[2].Addr}) || len(fin.Reverted) != 0 {
		t.Fatalf("deploy.failed %+v", fin)
	}
	var hf catalog.HostEvent
	h.decodeFirst(id, catalog.TypeHostFailed, &hf)
	t.Logf("host_failed: %s", hf.Error)
	if hf.Host != hosts[1].Addr || hf.Step != "transfer" || hf.Version != v1 ||
		!strings.HasPrefix(hf.Error, "transfer: exit status ") || !strings.Contains(hf.Error, "No space left on device") {
		t.Fatalf("host_failed %+v", hf)
	}
	if out := h.stepOutput(id, hosts[1].Addr, "transfer"); !strings.Contains(out, "No space left on device") {
		t.Fatalf("the transfer's output does not say the disk is full:\n%s", out)
	}
	h.checkHosts([]catalog.Host{hosts[1]}, v1, c1, m1)
	h.checkHosts([]catalog.Host{hosts[0], hosts[2]}, v2, c2, m2)
	runNoStaging(t, hosts...)
	h.checkLockFree()
	// The partial release is gone: the space is free again.
	if got := h.hostSequence(id, hosts[1].Addr); !slices.Contains(got, "clean") {
		t.Fatalf("no clean-up step on the full host: %v", got)
	}
}

// TestRunGitRepoNeverRunsOnHosts: the git strategy hands the repository
// address to each host's git, the one piece of project configuration
// besides hooks that reaches a host.
//   - An address that is a valid path full of shell syntax travels as one
//     quoted argument: the deployment works and nothing in it runs.
//   - Every hostile address is refused by Submit, and by the runner even
//     when a request that never went through Submit is in the log: then
//     no host is even connected to.
func TestRunGitRepoNeverRunsOnHosts(t *testing.T) {
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyGit, hosts: 2, files: 10})
	hosts := h.targets()
	root := runShmDir(t)
	canary := filepath.Join(root, "CANARY")
	odd := filepath.Join(root,
		"a;touch${IFS}CANARY;b",
		"$(touch${IFS}"+canary+"1)",
		"`touch${IFS}"+canary+"2`",
		"c|touch${IFS}CANARY3&&d",
		"repo.git")
	if err := os.MkdirAll(filepath.Dir(odd), 0o755); err != nil {
		t.Fatal(err)
	}
	gitCmd(t, h.repo, "clone", "-q", "--bare", h.repo, odd)
	if err := ValidateRepoURL(odd); err != nil {
		t.Fatalf("the odd path is refused: %v", err)
	}
	c := h.head()
	for i, repo := range []string{odd, "file://" + odd} {
		h.p.Repo = repo
		v := h.versionOf(c)
		id := h.mustSucceed(catalog.KindDeploy, c, v)
		h.checkHosts(hosts, v, c, h.manifestOf(c))
		if i == 0 && !strings.Contains(strings.Join(h.stepCommand(id, hosts[0].Addr, "git.fetch"), " "), odd) {
			t.Fatal("the git.fetch step does not carry the address")
		}
	}
	runNoCanaryFiles(t, root, h.cluster.Dir, h.ws.Dir, ".")

	payloads := append(runPayloads(canary),
		"ext::sh -c touch% "+canary, "ext::sh", "fd::3",
		"--upload-pack=touch${IFS}"+canary, "-oProxyCommand=touch${IFS}"+canary,
		"ssh://-oProxyCommand=touch${IFS}"+canary+"/r", "git@-oProxyCommand=x:r", "git@host:-u",
		"file://"+root+"/$(touch "+canary+")", "/srv/x\n/usr/bin/touch "+canary, "relative/"+canary)
	before := h.handshakes()
	for i, p := range payloads {
		h.p.Repo = p
		v := h.versionOf(c)
		if err := Submit(context.Background(), h.log, catalog.Request{Deployment: fmt.Sprintf("sub%02d", i), Kind: catalog.KindDeploy,
			Project: h.p, Environment: "prod", Commit: c, Version: v}, "alice"); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("Submit took repo %q: %v", p, err)
		}
		if _, err := (Layout{Path: hosts[0].Path}).GitFetch(p, c); err == nil {
			t.Errorf("GitFetch took repo %q", p)
		}
		// A request that did not go through Submit, both kinds.
		for _, kind := range []string{catalog.KindDeploy, catalog.KindRollback} {
			id := fmt.Sprintf("raw%02d-%s", i, kind)
			e, err := events.NewEvent(catalog.TypeDeployRequested, "mallory", catalog.Request{Deployment: id, Kind: kind,
				Project: h.p, Environment: "prod", Commit: c, Version: v})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := h.log.Append(context.Background(), catalog.DeployStream(id), events.NoStream, e); err != nil {
				t.Fatal(err)
			}
			if err := h.r.Run(context.Background(), id); !errors.Is(err, ErrInvalidRequest) {
				t.Errorf("%s with repo %q: %v", kind, p, err)
			}
			if term := h.terminal(id); term != catalog.TypeDeployFailed {
				t.Errorf("%s with repo %q ended %q", kind, p, term)
			}
			for _, host := range hosts {
				if got := h.hostSequence(id, host.Addr); len(got) != 0 {
					t.Errorf("%s with repo %q ran on %s: %v", kind, p, host.Addr, got)
				}
			}
		}
	}
	if after := h.handshakes(); !slices.Equal(after, before) {
		t.Fatalf("hosts were connected to: %v, then %v", before, after)
	}
	runNoCanaryFiles(t, root, h.cluster.Dir, h.ws.Dir, ".")
}

// stepCommand is the command line of the first step named name on host.
func (h *runHarness) stepCommand(id, addr, name string) []string {
	for _, e := range h.events(id) {
		if e.Type == catalog.TypeStepStarted {
			var s catalog.StepStarted
			_ = e.Decode(&s)
			if s.Host == addr && s.Name == name {
				return s.Command
			}
		}
	}
	return nil
}

// runNoCanaryFiles fails if a file whose name starts with CANARY exists
// under any of dirs (directories of that name are part of odd paths).
func runNoCanaryFiles(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		_ = filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if d == "." && e.IsDir() && p != "." {
				return filepath.SkipDir // the package dir: its own files only
			}
			if !e.IsDir() && strings.HasPrefix(e.Name(), "CANARY") {
				t.Fatalf("an injection ran: %s exists", p)
			}
			return nil
		})
	}
}
