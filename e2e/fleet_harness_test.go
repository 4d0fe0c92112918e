package e2e

// Pieces of the fleet benchmark (fleet_bench_test.go) and of its short form
// in `go test` (fleet_short_test.go), on top of the whole-app harness
// (proc_harness_test.go): a project of many sshd hosts driven through the
// API, a monitor of the SSH connections open to the hosts and of the app's
// RSS, API load clients, SSE subscribers that check every event id, the
// plain-rsync baselines, and a writer of realistic events for the start-up
// figure.

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"releasedesk/app/httpapi/apitest"
	"releasedesk/runner/sshtest"
)

// fleetConnSlack is the "small constant" of issue 6: open SSH connections
// to the hosts may exceed `parallel` by at most this much (a connection
// still closing while the next host's opens).
const fleetConnSlack = 4

// fleetDir is a temporary directory on tmpfs (/dev/shm) when there is one,
// removed at cleanup: the app's data (its log and the exports) and the
// repository live there, as the hosts' targets do.
func fleetDir(tb testing.TB, name string) string {
	tb.Helper()
	base := ""
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		base = "/dev/shm"
	}
	d, err := os.MkdirTemp(base, "rd-fleet-"+name+"-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = os.RemoveAll(d) })
	return d
}

// fleet is one app, its admin, a cluster of sshd hosts and a repository
// with a release branch.
type fleet struct {
	tb      testing.TB
	app     *appProc
	root    *apitest.Caller
	cl      *sshtest.Cluster
	repo    string
	files   []string // the tree's files (relative), sorted
	release string   // the release's id
	branch  string
	seq     int
}

// newFleet starts n hosts, an app over a fresh data dir, a repository of
// files files totalling about bytes, trusts every host and opens a release
// on a branch "r1" (checked out in the repository, so commits land on it).
func newFleet(tb testing.TB, n, files int, bytes int64) *fleet {
	tb.Helper()
	return newFleetIn(tb, fleetDir(tb, "app"), n, files, bytes)
}

// newFleetIn is newFleet with the app's data directory and the repository
// under base.
func newFleetIn(tb testing.TB, base string, n, files int, bytes int64) *fleet {
	tb.Helper()
	sharedBinary(tb)
	f := &fleet{tb: tb, cl: sshtest.Start(tb, n), branch: "r1"}
	data := filepath.Join(base, "data")
	addUser(tb, data, "root", "root-password-1", true)
	f.app = startApp(tb, data)
	f.root = apitest.Login(tb, f.app.URL, "root", "root-password-1")
	f.repo, f.files = fleetRepo(tb, filepath.Join(base, "repo"), files, bytes)
	f.configure("init", 1, 1)
	f.root.TrustHosts(f.cl)
	r := f.root.Must(http.StatusCreated, "POST", "/api/v1/releases",
		map[string]any{"project": "fleet", "branch": f.branch, "create_branch": true, "title": "fleet"})
	f.release = r.Body["release"].(map[string]any)["id"].(string)
	apitest.Git(tb, f.repo, "checkout", "-q", f.branch)
	return f
}

// fleetRepo makes a git repository of files files (about bytes in all, in
// 10 directories), one commit on master, and returns it and its file list.
func fleetRepo(tb testing.TB, dir string, files int, bytes int64) (string, []string) {
	tb.Helper()
	rng := rand.New(rand.NewPCG(uint64(files), uint64(bytes)))
	words := strings.Fields("func return if err nil the release host deploy { } ( ) := value string int64 for range package import")
	avg := int(bytes / int64(files))
	var names []string
	for i := range files {
		rel := filepath.Join(fmt.Sprintf("d%02d", i%10), fmt.Sprintf("s%d", i/100), fmt.Sprintf("f%04d.txt", i))
		size := avg/10 + rng.IntN(avg*18/10+1)
		b := make([]byte, 0, size+16)
		for len(b) < size {
			b = append(b, words[rng.IntN(len(words))]...)
			b = append(b, " \n\t"[rng.IntN(3)])
		}
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			tb.Fatal(err)
		}
		names = append(names, rel)
	}
	if err := os.WriteFile(filepath.Join(dir, "VERSION"), []byte("dev\n"), 0o644); err != nil {
		tb.Fatal(err)
	}
	apitest.Git(tb, dir, "init", "-q", "-b", "master")
	apitest.Git(tb, dir, "add", "-A")
	apitest.Git(tb, dir, "commit", "-q", "-m", "fleet tree")
	sort.Strings(names)
	return dir, names
}

// configure (re)configures the project "fleet": an environment "warm" of
// the first host (the first deployment, which clones the repository,
// goes there) and "prod" of every host, each at <host path>/<sub>, with
// parallel and batch as given.
func (f *fleet) configure(sub string, parallel, batch int) {
	f.tb.Helper()
	doc := fleetConfig{repo: f.repo, cl: f.cl, paths: f.hostPaths(sub), parallel: parallel, batch: batch, onFailure: "halt",
		warm: filepath.Join(f.cl.Hosts[0].Path, "warm")}.yaml()
	r := f.root.Call("PUT", "/api/v1/projects/fleet", doc)
	if r.Status != http.StatusOK && r.Status != http.StatusCreated {
		f.tb.Fatalf("configure: %d %s", r.Status, r.Raw)
	}
}

// hostPaths are the prod targets of sub.
func (f *fleet) hostPaths(sub string) []string {
	var out []string
	for _, h := range f.cl.Hosts {
		out = append(out, filepath.Join(h.Path, sub))
	}
	return out
}

// change commits a change of n files (spread over the tree) on the
// release branch and returns the bytes written.
func (f *fleet) change(n int) int64 {
	f.tb.Helper()
	f.seq++
	files := map[string]string{}
	var total int64
	step := max(1, len(f.files)/max(n, 1))
	for i := 0; i < n && i*step < len(f.files); i++ {
		name := f.files[(i*step+f.seq)%len(f.files)]
		old, err := os.ReadFile(filepath.Join(f.repo, name))
		if err != nil {
			f.tb.Fatal(err)
		}
		content := fmt.Sprintf("change %d\n%s", f.seq, old)
		files[name] = content
		total += int64(len(content))
	}
	apitest.GitCommit(f.tb, f.repo, "", files, fmt.Sprintf("change %d (%d files)", f.seq, len(files)))
	return total
}

// deploy asks for a deployment of the release to env and returns its id
// and version.
func (f *fleet) deploy(env string) (id, version string) {
	f.tb.Helper()
	d := f.root.Must(http.StatusAccepted, "POST", "/api/v1/releases/"+f.release+"/deploy", map[string]any{"env": env})
	return d.Body["deployment"].(string), d.Body["version"].(string)
}

// rollback asks for a rollback of prod to version.
func (f *fleet) rollback(version string) string {
	f.tb.Helper()
	d := f.root.Must(http.StatusAccepted, "POST", "/api/v1/projects/fleet/environments/prod/rollback",
		map[string]any{"version": version, "reason": "fleet benchmark rollback"})
	return d.Body["deployment"].(string)
}

// wait waits for a deployment and fails unless it succeeded. It polls
// every 250 ms (a 100-host deployment is a large document: polling it
// faster would load the app it measures); the times it reports are the
// app's own.
func (f *fleet) wait(id string, timeout time.Duration) fleetDeployment {
	f.tb.Helper()
	deadline := time.Now().Add(timeout)
	var d fleetDeployment
	for {
		r := f.root.Must(http.StatusOK, "GET", "/api/v1/deployments/"+url.PathEscape(id), nil)
		d = fleetDeployment{}
		if err := json.Unmarshal(r.Raw, &d); err != nil {
			f.tb.Fatal(err)
		}
		if d.State == "succeeded" || d.State == "failed" || d.State == "cancelled" || d.State == "interrupted" {
			break
		}
		if time.Now().After(deadline) {
			f.tb.Fatalf("deployment %s still %s after %v", id, d.State, timeout)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if d.State != "succeeded" {
		f.tb.Fatalf("deployment %s: %s: %s\n%s", id, d.State, d.Error, lastLinesOf(f.app.Log(), 40))
	}
	return d
}

// waitPlanned returns once deployment id has its plan.
func (f *fleet) waitPlanned(id string, timeout time.Duration) {
	f.tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r := f.root.Must(http.StatusOK, "GET", "/api/v1/deployments/"+url.PathEscape(id), nil)
		var d fleetDeployment
		if err := json.Unmarshal(r.Raw, &d); err != nil {
			f.tb.Fatal(err)
		}
		if !d.Planned.IsZero() {
			return
		}
		if time.Now().After(deadline) {
			f.tb.Fatalf("deployment %s: no plan after %v (%s)", id, timeout, d.State)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkCurrent fails unless every target's current release holds version.
func (f *fleet) checkCurrent(paths []string, version string) {
	f.tb.Helper()
	for _, p := range paths {
		b, err := os.ReadFile(filepath.Join(p, "current", "VERSION"))
		if err != nil || strings.TrimSpace(string(b)) != version {
			f.tb.Fatalf("%s: VERSION %q %v, want %s", p, b, err, version)
		}
	}
}

func lastLinesOf(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// fleetDeployment is what GET /api/v1/deployments/{id} says, the part the
// bench reads.
type fleetDeployment struct {
	ID    string `json:"id"`
	State string `json:"state"`
	Error string `json:"error"`
	Plan  struct {
		Batches  [][]string `json:"batches"`
		Parallel int        `json:"parallel"`
	} `json:"plan"`
	Hosts []struct {
		Host     string    `json:"host"`
		State    string    `json:"state"`
		Staged   time.Time `json:"staged"`
		Switched time.Time `json:"switched"`
	} `json:"hosts"`
	Steps []struct {
		ID         string    `json:"id"`
		Name       string    `json:"name"`
		Host       string    `json:"host"`
		Started    time.Time `json:"started"`
		Finished   time.Time `json:"finished"`
		DurationMS int64     `json:"duration_ms"`
	} `json:"steps"`
	Switched   []string  `json:"switched"`
	Requested  time.Time `json:"requested"`
	Started    time.Time `json:"started"`
	Planned    time.Time `json:"planned"`
	Finished   time.Time `json:"finished"`
	DurationMS int64     `json:"duration_ms"`
	Position   uint64    `json:"position"`
	clicked    time.Time // when it was asked for, by the benchmark's clock
}

// batchTimes are the durations of each batch: from the end of the one
// before (the plan, for the first) to its last host's switch.
func (d fleetDeployment) batchTimes() []time.Duration {
	sw := map[string]time.Time{}
	for _, h := range d.Hosts {
		sw[h.Host] = h.Switched
	}
	prev := d.Planned
	var out []time.Duration
	for _, b := range d.Plan.Batches {
		end := prev
		for _, h := range b {
			if t := sw[h]; t.After(end) {
				end = t
			}
		}
		out = append(out, end.Sub(prev))
		prev = end
	}
	return out
}

// switchSkew is the time between the first and the last host's switch.
func (d fleetDeployment) switchSkew() time.Duration {
	var first, last time.Time
	for _, h := range d.Hosts {
		if h.Switched.IsZero() {
			continue
		}
		if first.IsZero() || h.Switched.Before(first) {
			first = h.Switched
		}
		if h.Switched.After(last) {
			last = h.Switched
		}
	}
	return last.Sub(first)
}

// stepTime is the duration of the local step name ("" host), 0 if none.
func (d fleetDeployment) stepTime(name string) time.Duration {
	for _, s := range d.Steps {
		if s.Host == "" && s.Name == name {
			return time.Duration(s.DurationMS) * time.Millisecond
		}
	}
	return 0
}

func (d fleetDeployment) wall() time.Duration { return d.Finished.Sub(d.Requested) }

// monitor polls, every 50 ms, the TCP connections established to the
// hosts (sshtest.Cluster.Established: the sshd side of /proc/net/tcp) and
// the app's RSS.
type monitor struct {
	cl       *sshtest.Cluster
	pid      int
	stop     chan struct{}
	done     chan struct{}
	peakConn atomic.Int64
	peakRSS  atomic.Int64 // bytes
	samples  atomic.Int64
}

func startMonitor(cl *sshtest.Cluster, pid int) *monitor {
	m := &monitor{cl: cl, pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			m.sample()
			select {
			case <-m.stop:
				m.sample()
				return
			case <-tick.C:
			}
		}
	}()
	return m
}

func (m *monitor) sample() {
	m.samples.Add(1)
	if n, err := m.cl.Established(); err == nil && int64(n) > m.peakConn.Load() {
		m.peakConn.Store(int64(n))
	}
	if rss := procRSS(m.pid, "VmRSS"); rss > m.peakRSS.Load() {
		m.peakRSS.Store(rss)
	}
}

// end stops the monitor and returns the peaks.
func (m *monitor) end() (conns int, rss int64) {
	close(m.stop)
	<-m.done
	return int(m.peakConn.Load()), m.peakRSS.Load()
}

// procRSS reads a field in kB of /proc/<pid>/status, in bytes.
func procRSS(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == field+":" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// headPosition is the log's head position from /api/v1/health.
func headPosition(c *apitest.Caller) uint64 {
	c.T.Helper()
	r := c.Must(http.StatusOK, "GET", "/api/v1/health", nil)
	ev, _ := r.Body["events"].(map[string]any)
	head, _ := ev["head"].(map[string]any)
	p, _ := head["position"].(float64)
	return uint64(p)
}

// rsyncPool copies src/ into dests[i] on host i with plain
// `rsync -a --delete -e ssh`, at most parallel at once, and returns the
// wall time.
func (f *fleet) rsyncPool(src string, dests []string, parallel int) time.Duration {
	f.tb.Helper()
	ssh := fmt.Sprintf("ssh -i %s -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o BatchMode=yes", f.cl.KeyPath, f.cl.KnownHostsPath)
	return f.pool(len(dests), parallel, func(i int) error {
		hp := f.cl.HostPort(i)
		port := hp[strings.LastIndex(hp, ":")+1:]
		cmd := exec.Command("rsync", "-a", "--delete", "--mkpath", "-e", ssh+" -p "+port, src+"/", fmt.Sprintf("%s@127.0.0.1:%s/", f.cl.User, dests[i]))
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("rsync to host %d: %v: %s", i, err, out)
		}
		return nil
	})
}

// sshPool runs script (given the host's index) over a fresh ssh
// connection on every host, at most parallel at once.
func (f *fleet) sshPool(parallel int, script func(i int) string) time.Duration {
	f.tb.Helper()
	return f.pool(len(f.cl.Hosts), parallel, func(i int) error {
		hp := f.cl.HostPort(i)
		port := hp[strings.LastIndex(hp, ":")+1:]
		cmd := exec.Command("ssh", "-i", f.cl.KeyPath, "-o", "UserKnownHostsFile="+f.cl.KnownHostsPath,
			"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-p", port, f.cl.User+"@127.0.0.1", script(i))
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("ssh to host %d: %v: %s", i, err, out)
		}
		return nil
	})
}

// pool runs fn(0..n-1) on a goroutine pool of size parallel.
func (f *fleet) pool(n, parallel int, fn func(i int) error) time.Duration {
	f.tb.Helper()
	errs := make([]error, n)
	next := atomic.Int64{}
	t0 := time.Now()
	var wg sync.WaitGroup
	for range parallel {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				errs[i] = fn(i)
			}
		})
	}
	wg.Wait()
	d := time.Since(t0)
	if err := errors.Join(errs...); err != nil {
		f.tb.Fatal(err)
	}
	return d
}

// export writes the repository's HEAD tree into dest (git archive | tar).
func (f *fleet) export(dest string) {
	f.tb.Helper()
	if err := os.MkdirAll(dest, 0o755); err != nil {
		f.tb.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", `git -C "$1" archive HEAD | tar -x -C "$2"`, "sh", f.repo, dest)
	if out, err := cmd.CombinedOutput(); err != nil {
		f.tb.Fatalf("export: %v: %s", err, out)
	}
}
