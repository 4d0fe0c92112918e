package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"releasedesk/events"
	"releasedesk/events/catalog"
	"releasedesk/runner/sshtest"
)

// runChildSpec tells the child process (see TestMain) what to run.
type runChildSpec struct {
	Store      string `json:"store"`
	Workspace  string `json:"workspace"`
	KnownHosts string `json:"known_hosts"`
	Deployment string `json:"deployment"`
}

// runnerChild opens the log and runs one deployment, as a runner process
// would; the parent kills it with SIGKILL at some moment.
func runnerChild(specPath string) error {
	b, err := os.ReadFile(specPath)
	if err != nil {
		return err
	}
	var spec runChildSpec
	if err := json.Unmarshal(b, &spec); err != nil {
		return err
	}
	st, err := events.Open(spec.Store, events.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	r, err := New(Config{Log: st, Workspace: Workspace{Dir: spec.Workspace}, KnownHostsPath: spec.KnownHosts,
		Name: "child", OutputInterval: 20 * time.Millisecond, StepTimeout: time.Minute})
	if err != nil {
		return err
	}
	defer r.Close()
	return r.Run(context.Background(), spec.Deployment)
}

// runCrashTrials is how many times the crash test kills a runner: 20 by
// default (the count), RD_RUNNER_CRASH_TRIALS for another count.
func runCrashTrials(t *testing.T) int {
	if s := os.Getenv("RD_RUNNER_CRASH_TRIALS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("RD_RUNNER_CRASH_TRIALS=%q", s)
		}
		return n
	}
	return 20
}

// TestRunCrashRecovery kills a runner process with SIGKILL at a random
// moment of a five-host deployment, then restarts: recovery marks it
// interrupted, records what each host runs, releases the locks, and every
// host's current is a complete release; a resume finishes the job. The
// trials share one cluster, repository and log: each deploys a new commit
// over the release the previous trial left live, so a trial costs about
// two deployments, not four.
func TestRunCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes and sshd hosts")
	}
	trials := runCrashTrials(t)
	start := time.Now()
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyRsync, hosts: 5, files: 100,
		env:     func(e *catalog.Environment) { e.Batch = 2 },
		project: func(p *catalog.Project) { p.Hooks.PreRelease = "sleep 0.05" }})
	c := h.head()
	live := runLive{commit: c, version: h.versionOf(c), manifest: h.manifestOf(c)}
	h.mustSucceed(catalog.KindDeploy, live.commit, live.version)
	// How long a deployment of one change takes: the first estimate of
	// the window of the kills (a runner child also needs to start).
	c = h.commit(map[string]string{"dir0/file000.txt": "warm-up\n"})
	next := runLive{commit: c, version: h.versionOf(c), manifest: h.manifestOf(c)}
	began := time.Now()
	h.mustSucceed(catalog.KindDeploy, next.commit, next.version)
	window := time.Since(began) + childStart
	live = next
	counts := map[string]int{}
	parent := h.t
	for i := range trials {
		t.Run(fmt.Sprintf("trial%d", i), func(t *testing.T) {
			h.t = t
			defer func() { h.t = parent }()
			counts[runCrashTrial(t, h, i, trials, &window, &live)]++
		})
		if t.Failed() {
			break
		}
	}
	t.Logf("%d trials in %s (a runner child takes about %s): %d interrupted mid-deploy, %d finished before the kill, %d killed before claiming",
		trials, time.Since(start).Round(time.Millisecond), window.Round(time.Millisecond),
		counts["interrupted"], counts["finished"], counts["queued"])
}

// runLive is what every host of the crash test runs between trials.
type runLive struct {
	commit, version string
	manifest        Manifest
}

// runCrashTrial deploys a new commit with a runner process killed after a
// delay spread over the deployment's length, recovers, checks and
// finishes it; it says in which state the kill left the deployment.
//
// window is how long a runner child takes from its start to its end: the
// kill comes at (trial+jitter)/trials of it. A child that ends before its
// kill tells the real figure, which the following trials use.
func runCrashTrial(t *testing.T, h *runHarness, trial, trials int, window *time.Duration, live *runLive) string {
	hosts := h.targets()
	c2 := h.commit(map[string]string{
		"dir0/file000.txt": fmt.Sprintf("trial %d\n", trial),
		"dir5/file005.txt": fmt.Sprintf("trial %d too\n", trial),
	})
	v2, m2 := h.versionOf(c2), h.manifestOf(c2)
	v1, m1 := live.version, live.manifest
	id := h.submit(catalog.KindDeploy, c2, v2)
	h.closeStore()

	// Kill moments spread over the child's life, plus some jitter.
	delay := time.Duration(float64(*window) * (float64(trial) + rand.Float64()) / float64(trials))
	spec := filepath.Join(t.TempDir(), "spec.json")
	b, _ := json.Marshal(runChildSpec{Store: h.storeDir, Workspace: h.ws.Dir, KnownHosts: h.cluster.KnownHostsPath, Deployment: id})
	if err := os.WriteFile(spec, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	// The dead runner's private dir (files-from lists) is left behind,
	// as after a real crash: keep it inside the test's temp dir.
	cmd.Env = append(os.Environ(), "RD_RUNNER_CHILD="+spec, "TMPDIR="+t.TempDir())
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	began := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-time.After(delay):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-exited
		t.Logf("killed the runner %s into its life of about %s", delay.Round(time.Millisecond), window.Round(time.Millisecond))
	case err := <-exited:
		*window = time.Since(began)
		t.Logf("the runner ended (%v) in %s, before its kill at %s", err, window.Round(time.Millisecond), delay.Round(time.Millisecond))
	}
	// The dead runner's local commands die with it (see LocalExecutor);
	// make sure before looking at the hosts.
	runWaitNoProcess(t, h.cluster.Dir, "."+v2+".partial")

	h.reopen()
	if err := h.r.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	outcome := "interrupted"
	switch term := h.terminal(id); {
	case len(h.ofType(id, catalog.TypeDeployStarted)) == 0:
		outcome = "queued"
	case term == catalog.TypeDeploySucceeded:
		outcome = "finished"
	case term != catalog.TypeDeployInterrupted:
		t.Fatalf("after recovery: %q\n%s\nchild: %s", term, h.describe(id), out.String())
	}
	// Whatever the moment: each host runs a complete v1 or v2.
	for _, host := range hosts {
		switch cur := runCurrentOf(t, host); cur {
		case v1:
			h.checkComplete(host, m1)
		case v2:
			h.checkComplete(host, m2)
		default:
			t.Fatalf("%s: current -> %q", host.Addr, cur)
		}
		runNoStaging(t, host)
	}
	if outcome == "interrupted" {
		observed := map[string]bool{}
		for _, e := range h.ofType(id, catalog.TypeHostObserved) {
			var he catalog.HostEvent
			_ = e.Decode(&he)
			observed[he.Host] = true
			if he.Error != "" || he.Version != runCurrentOf(t, catalog.Host{Path: runHostPath(hosts, he.Host)}) {
				t.Fatalf("host_observed %+v", he)
			}
		}
		if len(observed) != len(hosts) {
			t.Fatalf("observed %d hosts of %d", len(observed), len(hosts))
		}
		h.checkLockFree()
		if err := h.r.Resume(context.Background(), id, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	if outcome == "queued" {
		if err := h.r.Run(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	}
	if term := h.terminal(id); term != catalog.TypeDeploySucceeded {
		t.Fatalf("after resume: %s\n%s", term, h.describe(id))
	}
	h.checkHosts(hosts, v2, c2, m2)
	h.checkLockFree()
	*live = runLive{commit: c2, version: v2, manifest: m2}
	return outcome
}

// childStart is about how long a runner child takes to start and claim.
const childStart = 150 * time.Millisecond

func runHostPath(hosts []catalog.Host, addr string) string {
	i := slices.IndexFunc(hosts, func(h catalog.Host) bool { return h.Addr == addr })
	return hosts[i].Path
}

// runWaitNoProcess waits until no process's command line mentions all of
// subs (this test's own paths: other test processes may run the same).
func runWaitNoProcess(t *testing.T, subs ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		found := false
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			if _, err := strconv.Atoi(e.Name()); err != nil {
				continue
			}
			b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			if err == nil && !slices.ContainsFunc(subs, func(s string) bool { return !strings.Contains(string(b), s) }) {
				found = true
				break
			}
		}
		if !found {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("processes mentioning %q still run", subs)
}

// TestRunCloseLeavesToRecovery: closing the runner mid-deployment kills
// its steps and writes no terminal event; the next start recovers it
// (deploy.interrupted, lock released) and a resume finishes it.
func TestRunCloseLeavesToRecovery(t *testing.T) {
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyLocal, files: 10, project: func(p *catalog.Project) {
		p.Hooks.PreRelease = `if [ -e ../../slow ]; then echo $$ >../../hook.pid; exec sleep 30; fi`
	}})
	host := h.targets()[0]
	c1 := h.head()
	v1, m1 := h.versionOf(c1), h.manifestOf(c1)
	h.mustSucceed(catalog.KindDeploy, c1, v1)
	if err := os.WriteFile(filepath.Join(host.Path, "slow"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c2 := h.commit(map[string]string{"a.txt": "2"})
	v2, m2 := h.versionOf(c2), h.manifestOf(c2)
	id := h.submit(catalog.KindDeploy, c2, v2)
	pid := runWaitFile(t, filepath.Join(host.Path, "hook.pid"))
	start := time.Now()
	if err := h.r.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("closed in %s", time.Since(start).Round(time.Millisecond))
	if term := h.terminal(id); term != "" {
		t.Fatalf("a closed runner wrote %s", term)
	}
	if sshtestAlive(pid) {
		t.Fatalf("the hook (pid %s) survived the close", pid)
	}
	if runCurrentOf(t, host) != v1 {
		t.Fatal("current moved")
	}

	h.restartInterrupted(id)
	h.checkHosts([]catalog.Host{host}, v1, c1, m1)
	runNoStaging(t, host)
	if err := os.Remove(filepath.Join(host.Path, "slow")); err != nil {
		t.Fatal(err)
	}
	if err := h.r.Resume(context.Background(), id, "alice"); err != nil {
		t.Fatal(err)
	}
	if term := h.terminal(id); term != catalog.TypeDeploySucceeded {
		t.Fatalf("resume: %s\n%s", term, h.describe(id))
	}
	h.checkHosts([]catalog.Host{host}, v2, c2, m2)
}

// sshtestAlive tells whether a process runs (see sshtest.Alive).
func sshtestAlive(pid string) bool { return sshtest.Alive(pid) }
