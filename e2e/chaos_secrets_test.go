package e2e

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"releasedesk/runner/sshtest"
)

// Secrets planted in hook environments and echoed by every hook never
// reach the log, the exports, the API or the app's own log.
func TestChaosSecrets(t *testing.T) {
	t.Parallel()
	rep := newChaosReport(t, 8, "secrets", "Secrets never leave their hooks",
		"A project's `env` holds two values marked secret, one `from_file` (a file outside the data "+
			"directory) and one `from_env` (the app's environment), and a plain one. Every hook "+
			"(`pre_deploy` and `post_deploy` on this machine; `pre_release`, `post_release` and the health "+
			"check on the hosts) echoes the secrets on stdout and stderr, once per line and run together "+
			"with other text; a second deployment fails in its `pre_release` hook right after printing "+
			"them (so they would be in the error too). Then each secret value is searched for in: the "+
			"JSONL and CSV exports, every deployment and release through the API, the SSE stream replayed "+
			"from position 0, the app's own log (stderr, at debug level), and the raw bytes of every file "+
			"of the data directory. None may hold it, while the captured output must show `[redacted]` "+
			"where the hooks printed them (proof the hooks ran). The project also has three notification "+
			"channels, a webhook signing with a secret `from_file`, a DingTalk robot signing with one "+
			"`from_env` and a WeCom robot whose URL (its key) is read `url_from` the environment, each told "+
			"of both deployments' start and end (4 messages each): their secrets are searched for in the same places.")
	secretFile := filepath.Join(t.TempDir(), "db_password")
	fileSecret := "fs-" + sshtest.RandomName() + sshtest.RandomName()
	envSecret := "es-" + sshtest.RandomName() + sshtest.RandomName()
	if err := os.WriteFile(secretFile, []byte(fileSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The channels' signing secrets: a webhook's from a file, a DingTalk
	// robot's from the app's environment.
	robotFile := filepath.Join(t.TempDir(), "webhook.secret")
	hookSecret := "ws-" + sshtest.RandomName() + sshtest.RandomName()
	robotSecret := "rs-" + sshtest.RandomName() + sshtest.RandomName()
	if err := os.WriteFile(robotFile, []byte(hookSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hooked, robot := chaosReceiver(t, ""), chaosReceiver(t, `{"errcode":0,"errmsg":"ok"}`)
	// A WeCom robot's URL is its secret (the key): read from the
	// environment with url_from.
	wecom := chaosReceiver(t, `{"errcode":0,"errmsg":"ok"}`)
	wecomKey := "wk-" + sshtest.RandomName() + sshtest.RandomName()
	wecomURL := wecom.URL + "/cgi-bin/webhook/send?key=" + wecomKey
	triggers := "[deployment.started, deployment.succeeded, deployment.failed]"
	channels := fmt.Sprintf("  - {name: hook, kind: webhook, url: %q, secret: {from_file: %q}, events: %s}\n"+
		"  - {name: ding, kind: dingtalk, url: %q, secret: {from_env: RD_CHAOS_ROBOT}, events: %s}\n"+
		"  - {name: wecom, kind: wecom, url_from: {from_env: RD_CHAOS_WECOM_URL}, events: %s}\n",
		hooked.URL+"/hook", robotFile, triggers, robot.URL+"/robot/send?access_token=chaos", triggers, triggers)
	echo := `echo "F=$FILE_SECRET"; echo "E=$ENV_SECRET" >&2; echo "both:$FILE_SECRET$ENV_SECRET:$PLAIN"; printf '%s\n%s\n' "$FILE_SECRET" "$ENV_SECRET"`
	q := chaosJsonText(echo)
	hooks := fmt.Sprintf("  pre_deploy: %s\n  post_deploy: %s\n  pre_release: %s\n  post_release: %s\nhealth_check:\n  command: %s\n",
		q, q, q, q, q)
	f := newChaosFleet(t, chaosOpts{hosts: 2, files: 5, hooks: hooks,
		env:    fmt.Sprintf("  - {name: FILE_SECRET, from_file: %q, secret: true}\n  - {name: ENV_SECRET, from_env: RD_CHAOS_SECRET, secret: true}\n  - {name: PLAIN, value: plain-visible}\n", secretFile),
		notify: channels, appEnv: []string{"RD_CHAOS_SECRET=" + envSecret, "RD_CHAOS_ROBOT=" + robotSecret, "RD_CHAOS_WECOM_URL=" + wecomURL}})
	// The app's own log at debug level: restart it so.
	f.app.Stop()
	f.app = startAppWith(t, f.data, []string{"--log-level", "debug"}, "RD_CHAOS_SECRET="+envSecret, "RD_CHAOS_ROBOT="+robotSecret,
		"RD_CHAOS_WECOM_URL="+wecomURL)
	f.relogin()
	f.commit()
	id1, _ := f.deploy()
	d1 := f.root.WaitDeployment(id1, 2*time.Minute)
	if d1["state"] != "succeeded" {
		t.Fatalf("deployment: %v %v\n%s", d1["state"], d1["error"], f.app.Log())
	}
	// A failing hook right after printing them.
	f.opts.hooks = strings.Replace(hooks, "  pre_release: "+q, "  pre_release: "+chaosJsonText(echo+"; exit 3"), 1)
	f.root.Must(http.StatusOK, "PUT", "/api/v1/projects/fleet", f.projectYAML())
	f.commit()
	id2, _ := f.deploy()
	if d := f.root.WaitDeployment(id2, 2*time.Minute); d["state"] != "failed" {
		t.Fatalf("the failing deployment: %v", d["state"])
	}
	// Both channels told of both deployments' start and end, signed.
	for name, rc := range map[string]*chaosHTTPReceiver{"webhook": hooked, "dingtalk": robot, "wecom": wecom} {
		if !rc.waitFor(4, time.Minute) {
			t.Fatalf("the %s channel took %d messages, want 4 (two deployments started and ended)", name, rc.count())
		}
	}
	// Everything that could hold them.
	places := map[string][]byte{}
	get := func(name, path string) {
		r := f.root.Must(http.StatusOK, "GET", path, nil)
		places[name] = r.Raw
	}
	get("JSONL export", "/api/v1/audit/export?format=jsonl")
	get("CSV export", "/api/v1/audit/export?format=csv")
	get("deployment "+id1, "/api/v1/deployments/"+id1)
	get("deployment "+id2, "/api/v1/deployments/"+id2)
	get("deployments", "/api/v1/deployments")
	get("release", "/api/v1/releases/"+f.release)
	get("project", "/api/v1/projects/fleet")
	get("audit", "/api/v1/audit?limit=1000")
	places["SSE stream from 0"] = chaosReplayStream(t, f)
	redacted := bytes.Count(places["deployment "+id1], []byte("[redacted]")) + bytes.Count(places["deployment "+id2], []byte("[redacted]"))
	if redacted == 0 {
		t.Errorf("no [redacted] in the captured output: did the hooks run?\n%s", chaosClip(string(places["deployment "+id1])))
	}
	f.app.Stop()
	places["the app's log (stderr)"] = []byte(f.app.Log())
	files := 0
	_ = filepath.WalkDir(f.data, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err == nil {
			files++
			rel, _ := filepath.Rel(f.data, p)
			places["data file "+rel] = b
		}
		return nil
	})
	checks, leaks := 0, 0
	for name, b := range places {
		for label, secret := range map[string]string{"from_file": fileSecret, "from_env": envSecret,
			"webhook signing (from_file)": hookSecret, "DingTalk signing (from_env)": robotSecret, "WeCom key (url_from env)": wecomKey} {
			checks++
			if bytes.Contains(b, []byte(secret)) {
				leaks++
				t.Errorf("the %s secret is in %s", label, name)
			}
		}
	}
	rep.r.Trials, rep.r.Failures = checks, leaks
	rep.note("5 secrets (2 hook env values, 2 channels' signing secrets, a WeCom robot's key read with url_from; each channel took 4 messages) x %d places (%d of them the data directory's files); `[redacted]` shown %d times in the captured output of 2 deployments",
		len(places), files, redacted)
}

// chaosReplayStream reads the SSE stream from position 0 up to the log's head.
func chaosReplayStream(t *testing.T, f *chaosFleet) []byte {
	t.Helper()
	head, _, _ := chaosHead(f.app.URL)
	req, _ := http.NewRequest("GET", f.app.URL+"/api/v1/stream?since=0", nil)
	req.Header.Set("Authorization", "Bearer "+f.root.Client.Token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	want := fmt.Sprintf("id: %d\n", head)
	chunk := make([]byte, 64*1024)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(buf.String(), want) && time.Now().Before(deadline) {
		n, err := res.Body.Read(chunk)
		buf.Write(chunk[:n])
		if err == io.EOF || err != nil {
			break
		}
	}
	return buf.Bytes()
}

// chaosHTTPReceiver takes every message posted to it, answering answer
// (a chat robot's "errcode 0", or 204 when empty).
type chaosHTTPReceiver struct {
	*httptest.Server
	mu   sync.Mutex
	took int
}

func chaosReceiver(t *testing.T, answer string) *chaosHTTPReceiver {
	rc := &chaosHTTPReceiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		rc.mu.Lock()
		rc.took++
		rc.mu.Unlock()
		if answer == "" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *chaosHTTPReceiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.took
}

func (rc *chaosHTTPReceiver) waitFor(n int, within time.Duration) bool {
	end := time.Now().Add(within)
	for rc.count() < n {
		if time.Now().After(end) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}
