package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"releasedesk/app/httpapi/apitest"
)

// chaosMountTmpfs mounts a tmpfs of size (e.g. "64m") at a new directory and
// unmounts it at the end of the test.
func chaosMountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir, err := os.MkdirTemp("", "rd-chaos-mnt-")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
		_ = os.Remove(dir)
	})
	return dir
}

// chaosExportEvent is one event of an export with the fields the checks read.
type chaosExportEvent struct {
	Position uint64         `json:"position"`
	Type     string         `json:"type"`
	Stream   string         `json:"stream"`
	Hash     string         `json:"hash"`
	Data     map[string]any `json:"data"`
}

func chaosDecodeExport(raw []byte) []chaosExportEvent {
	var out []chaosExportEvent
	for _, line := range strings.Split(string(raw), "\n") {
		var e chaosExportEvent
		if json.Unmarshal([]byte(line), &e) == nil && e.Position > 0 {
			out = append(out, e)
		}
	}
	return out
}

// The data directory's disk fills up in the middle of a deployment.
func TestChaosDataDiskFull(t *testing.T) {
	t.Parallel()
	trials := chaosCount(1, 3)
	rep := newChaosReport(t, 3, "datafull", "The data directory's disk fills up during a deployment",
		"The app's data directory is its own tmpfs mount (128 MiB). Five sshd hosts run a version; a "+
			"deployment of a new commit (40 files and a 4 MiB file) starts, and once a host's `transfer` "+
			"step has begun a filler file takes every free byte of the data directory's file system. "+
			"Checked: the app stays up (the event store refuses appends below a reserve of free space "+
			"and preallocates its write-ahead log, so Badger's memory-mapped writes never fault); the "+
			"deployment stops (it ends, or shows `stalled` with the reason when its end cannot be "+
			"recorded); every event sent on the SSE stream "+
			"before and after the fault is in the log at its position with its type; once the app runs "+
			"again, no host runs the new version unless the log records it (`deploy.host_switched`, or "+
			"`deploy.host_observed` by the recovery at start), and what the app says each host runs "+
			"(`GET .../versions`) is what the host's `current` names; every host's `current` is a whole "+
			"release; while "+
			"full, the app says why (health `degraded` with the reason, or writes answer with an error "+
			"naming the disk). Then the filler is removed: the running app settles the stopped "+
			"deployment by itself (it ends within 30 s, no restart); the app is restarted, the chain "+
			"verifies (`releasedesk events verify` and the API), and a retry succeeds.")
	for trial := range trials {
		ok := t.Run(fmt.Sprint(trial), func(t *testing.T) { dataDiskFullTrial(t, rep, trial == 0) })
		rep.trial(ok)
	}
}

func dataDiskFullTrial(t *testing.T, rep *chaosReport, first bool) {
	mnt := chaosMountTmpfs(t, "128m")
	data := filepath.Join(mnt, "data")
	f := newChaosFleet(t, chaosOpts{hosts: 5, files: 40, big: 4 << 20, data: data})
	f.commit()
	id, cur := f.deploy()
	if d := f.root.WaitDeployment(id, 2*time.Minute); d["state"] != "succeeded" {
		t.Fatalf("first deployment: %v\n%s", d, f.app.Log())
	}
	head, _, _ := chaosHead(f.app.URL)
	rec := chaosFollowStream(t, f.app.URL, f.root.Client.Token, head)
	f.commit()
	id, next := f.deploy()
	filler := filepath.Join(mnt, "filler")
	deadline := time.Now().Add(time.Minute)
	filled := false
	for !filled && time.Now().Before(deadline) {
		r := f.root.Must(http.StatusOK, "GET", "/api/v1/deployments/"+id, nil)
		if chaosTerminal(r.Body["state"]) {
			t.Fatalf("the deployment ended before the disk filled: %v", r.Body["state"])
		}
		for _, h := range chaosHostsOf(r.Body) {
			if strings.Contains(fmt.Sprint(h["step"]), "transfer") {
				chaosFillDisk(t, filler, 0)
				filled = true
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !filled {
		t.Fatal("no host started its transfer within a minute")
	}
	// The app while full: alive? what does it say? The deployment stops:
	// it ends if its end could be recorded, else the app shows it stalled
	// with the reason (the runner stopped at the first event it could not
	// record).
	var dep map[string]any
	alive := true
	end := time.Now().Add(90 * time.Second)
	for time.Now().Before(end) {
		select {
		case <-f.app.done:
			alive = false
		default:
		}
		if !alive {
			break
		}
		r, err := f.root.Try("GET", "/api/v1/deployments/"+id, nil)
		if err == nil && r.Status == http.StatusOK && (chaosTerminal(r.Body["state"]) || r.Body["stalled"] != nil) {
			dep = r.Body
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	stalled, _ := dep["stalled"].(string)
	var health map[string]any
	var write apitest.Resp
	if alive {
		res, err := http.Get(f.app.URL + "/api/v1/health")
		if err == nil {
			_ = json.NewDecoder(res.Body).Decode(&health)
			res.Body.Close()
		}
		write, _ = f.users["dev"].Try("POST", "/api/v1/tokens", map[string]any{"name": "while full"})
	}
	if first {
		shown := fmt.Sprint(dep["state"])
		if e, _ := dep["error"].(string); e != "" {
			shown += " (" + e + ")"
		}
		if stalled != "" {
			shown += ", stalled: " + stalled
		}
		rep.note("while full: app alive %v; deployment %s; health %v: %v; a write answered %d %s",
			alive, shown, health["status"], health["problem"], write.Status, strings.TrimSpace(string(write.Raw)))
	}
	t.Logf("alive %v dep %v %v health %v write %d %s", alive, dep["state"], dep["error"], health, write.Status, write.Raw)
	said := false
	if alive {
		if health["status"] == "degraded" && strings.TrimSpace(fmt.Sprint(health["problem"])) != "" {
			said = true
		}
		if write.Status >= 500 && (strings.Contains(string(write.Raw), "space") || strings.Contains(string(write.Raw), "disk")) {
			said = true
		}
		if dep == nil {
			t.Errorf("the deployment neither ended nor showed as stalled within 90 s of the disk filling")
		}
	} else {
		// Badger writes through memory maps: a page the full disk cannot
		// back would kill the process (SIGBUS). The event store keeps a
		// reserve of free space and preallocates its write-ahead log so
		// that this never happens.
		crash := "the app died"
		if strings.Contains(f.app.Log(), "SIGBUS") {
			crash = "the app died of SIGBUS"
		}
		t.Errorf("when the data directory's disk filled, %s instead of refusing appends:\n%s", crash, chaosCrashHead(f.app.Log()))
		said = true
	}
	if !said {
		t.Errorf("the app does not say the disk is full: health %v, write %d %s", health, write.Status, write.Raw)
	}
	// Hosts: none runs the new version unrecorded.
	vs, hostErr := f.checkHosts()
	rec.close()
	acked := rec.snapshot()
	// Mend: free the space. The app, still running, settles the deployment
	// it could not record (ended interrupted, or as it was) without a
	// restart; then it is restarted all the same.
	_ = os.Remove(filler)
	if alive {
		settled, ok := waitFor(f.root, id, 30*time.Second, func(d map[string]any) bool { return chaosTerminal(d["state"]) })
		if !ok {
			t.Errorf("30 s after the disk had room again the deployment is still %v (stalled %v)", settled["state"], settled["stalled"])
		} else if first {
			rep.note("once the space was freed, without a restart: deployment %v (%v)", settled["state"], settled["error"])
		}
	}
	f.app.Stop()
	if !alive {
		t.Logf("app log:\n%s", chaosCrashHead(f.app.Log()))
	}
	if err := chaosVerifyCLI(t, data); err != nil {
		t.Errorf("after the fault: %v", err)
	}
	f.app = startApp(t, data)
	f.relogin()
	d, ok := waitFor(f.root, id, time.Minute, func(d map[string]any) bool { return chaosTerminal(d["state"]) })
	if !ok {
		t.Fatalf("after restart the deployment is still %v", d["state"])
	}
	_, raw, err := f.export(f.root)
	if err != nil {
		t.Fatal(err)
	}
	evs := chaosDecodeExport(raw)
	byPos := map[uint64]chaosExportEvent{}
	recorded := map[string]string{} // host -> the version the log last says it runs
	for _, e := range evs {
		byPos[e.Position] = e
		if e.Stream == "deploy/"+id && (e.Type == "deploy.host_switched" || e.Type == "deploy.host_observed" || e.Type == "deploy.host_reverted") {
			if v, _ := e.Data["version"].(string); v != "" {
				recorded[fmt.Sprint(e.Data["host"])] = v
			}
		}
	}
	for pos, e := range acked {
		if x, ok := byPos[pos]; !ok || x.Type != e.Type || x.Stream != e.Stream {
			t.Errorf("acknowledged event %d %s lost: %+v", pos, e.Type, x)
		}
	}
	if hostErr != nil {
		t.Errorf("hosts after the fault: %v", hostErr)
	}
	for i, v := range vs {
		if v == next && recorded[f.cl.Hosts[i].Addr] != next {
			t.Errorf("host %d runs %s, which the log never records (switched or observed after the restart)", i, v)
		} else if v != next && v != cur {
			t.Errorf("host %d runs %s, neither %s nor %s", i, v, cur, next)
		}
	}
	if err := f.matchRecorded(); err != nil {
		t.Error(err)
	}
	if err := f.verify(f.root); err != nil {
		t.Error(err)
	}
	if d["state"] != "succeeded" {
		r := f.users["dev"].Call("POST", "/api/v1/deployments/"+id+"/retry", nil)
		if r.Status != http.StatusAccepted {
			t.Fatalf("retry: %d %s", r.Status, r.Raw)
		}
		if d := f.root.WaitDeployment(id, 2*time.Minute); d["state"] != "succeeded" {
			t.Fatalf("retry: %v %v", d["state"], d["error"])
		}
	}
	if vs, err := f.checkHosts(); err != nil {
		t.Error(err)
	} else {
		for i, v := range vs {
			if v != next {
				t.Errorf("after retry host %d on %s", i, v)
			}
		}
	}
	f.app.Stop()
	if err := chaosVerifyCLI(t, data); err != nil {
		t.Error(err)
	}
}

func chaosTail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// chaosCrashHead is the part of a log around a Go crash: the lines before
// "fatal error"/"panic"/"unexpected fault" and the first goroutine.
func chaosCrashHead(s string) string {
	i := strings.Index(s, "unexpected fault address")
	if i < 0 {
		i = strings.Index(s, "fatal error")
	}
	if i < 0 {
		i = strings.Index(s, "panic:")
	}
	if i < 0 {
		return chaosTail(s, 30)
	}
	start := max(0, i-1500)
	end := min(len(s), i+2500)
	return s[start:end]
}
