package e2e

// The whole-app harness of the fleet benchmarks and the chaos tests: a
// real `releasedesk serve` process over a data directory, driven through
// its HTTP API, with real sshd hosts (runner/sshtest) and a real git
// repository. Each piece is a function of its own so the bench and the
// chaos tests compose what they need.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"releasedesk/runner/sshtest"
)

// appProc is one running `releasedesk serve`.
type appProc struct {
	t    testing.TB
	cmd  *exec.Cmd
	URL  string // base, no trailing slash
	Data string
	log  *lockedBuffer // stderr: the app's own log
	done chan struct{}
	err  error // of Wait, once done is closed
}

// lockedBuffer is a bytes.Buffer safe for one writer and many readers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var servingRe = regexp.MustCompile(`Release Desk is at (http://\S+)/`)

// startApp runs `releasedesk serve --addr 127.0.0.1:0` over data with the
// extra environment, waits for its URL, and stops it (SIGTERM, then KILL)
// at the end of the test.
func startApp(t testing.TB, data string, env ...string) *appProc {
	t.Helper()
	return startAppWith(t, data, nil, env...)
}

// startAppWith is startApp with extra serve arguments (e.g. --log-level debug).
func startAppWith(t testing.TB, data string, args []string, env ...string) *appProc {
	t.Helper()
	cmd := exec.Command(sharedBinary(t), append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &appProc{t: t, cmd: cmd, Data: data, log: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.Stop() })
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := servingRe.FindStringSubmatch(sc.Text()); m != nil {
				urls <- m[1]
			}
		}
	}()
	select {
	case p.URL = <-urls:
		return p
	case <-p.done:
		t.Fatalf("serve exited before serving: %v\n%s", p.err, p.log.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("serve printed no URL in 60 s\n%s", p.log.String())
	}
	return nil
}

// Pid is the process id.
func (p *appProc) Pid() int { return p.cmd.Process.Pid }

// Kill ends the app with SIGKILL (a crash) and waits for it.
func (p *appProc) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop asks the app to stop (SIGTERM), then kills it after 15 s.
func (p *appProc) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.Kill()
	}
}

// Log is what the app wrote to stderr so far.
func (p *appProc) Log() string { return p.log.String() }

// addUser creates a user on a data directory no server holds (the
// bootstrap path, `releasedesk user add --password-stdin`).
func addUser(t testing.TB, data, name, password string, admin bool) {
	t.Helper()
	args := []string{"user", "add", "--name", name, "--password-stdin", "--data", data, "--log-level", "warning"}
	if admin {
		args = append(args, "--admin")
	}
	cmd := exec.Command(sharedBinary(t), args...)
	cmd.Stdin = strings.NewReader(password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("user add %s: %v\n%s", name, err, out)
	}
}

// client talks to one app as one user.
type client struct {
	t     testing.TB
	base  string
	token string
	http  *http.Client
}

// reply is a decoded answer.
type reply struct {
	Status int
	Body   map[string]any
	Raw    []byte
}

// login signs in and returns a client for that user.
func login(t testing.TB, base, user, password string) *client {
	t.Helper()
	c := &client{t: t, base: base, http: &http.Client{Timeout: 2 * time.Minute}}
	r := c.call("POST", "/api/v1/login", map[string]string{"user": user, "password": password})
	if r.Status != http.StatusOK {
		t.Fatalf("login %s: %d %s", user, r.Status, r.Raw)
	}
	c.token, _ = r.Body["token"].(string)
	return c
}

// call sends body (nil, []byte or string as is, anything else as JSON).
func (c *client) call(method, path string, body any) reply {
	c.t.Helper()
	r, err := c.try(method, path, body)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// try is call without failing the test (for faults and races).
func (c *client) try(method, path string, body any) (reply, error) {
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return reply{}, err
		}
		rd, ct = bytes.NewReader(data), "application/json"
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return reply{}, err
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return reply{}, err
	}
	out := reply{Status: res.StatusCode, Raw: raw}
	_ = json.Unmarshal(raw, &out.Body)
	return out, nil
}

// must calls and fails unless the status is want.
func (c *client) must(want int, method, path string, body any) reply {
	c.t.Helper()
	r := c.call(method, path, body)
	if r.Status != want {
		c.t.Fatalf("%s %s: %d, want %d: %s", method, path, r.Status, want, r.Raw)
	}
	return r
}

// waitDeployment polls a deployment until it ends and returns its body.
func (c *client) waitDeployment(id string, timeout time.Duration) map[string]any {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r := c.must(http.StatusOK, "GET", "/api/v1/deployments/"+url.PathEscape(id), nil)
		switch r.Body["state"] {
		case "succeeded", "failed", "cancelled", "interrupted":
			return r.Body
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("deployment %s still %v after %v", id, r.Body["state"], timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// trustAll trusts every host of c through the API (scan, then trust).
func (c *client) trustAll(cl *sshtest.Cluster) {
	c.t.Helper()
	for _, h := range cl.Hosts {
		k := c.must(http.StatusOK, "GET", "/api/v1/hosts/key?addr="+url.QueryEscape(h.Addr), nil)
		c.must(http.StatusOK, "POST", "/api/v1/hosts/trust", map[string]any{"addr": h.Addr, "key": k.Body["key"]})
	}
}

// gitRepo makes a real repository (mainline master) holding files, one
// commit, and returns its path.
func gitRepo(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	gitRun(t, dir, "init", "-q", "-b", "master")
	gitWrite(t, dir, files, "first")
	return dir
}

// gitWrite writes files on the checked-out branch and commits them.
func gitWrite(t testing.TB, repo string, files map[string]string, msg string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(repo, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gitRun(t, repo, "add", "-A")
	gitRun(t, repo, "commit", "-q", "-m", msg)
}

func gitRun(t testing.TB, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=dev", "GIT_AUTHOR_EMAIL=dev@example.invalid",
		"GIT_COMMITTER_NAME=dev", "GIT_COMMITTER_EMAIL=dev@example.invalid")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// fleetProject is a project "fleet" over rsync to every host of cl in one
// environment "prod" (no approval, so one developer deploys), with
// parallel and batch as given and a post_release hook that prints a line.
func fleetProject(repo string, cl *sshtest.Cluster, parallel, batch int) string {
	var hosts strings.Builder
	for _, h := range cl.Hosts {
		fmt.Fprintf(&hosts, "      - {addr: %q, path: %q}\n", h.Addr, h.Path)
	}
	return fmt.Sprintf(`id: fleet
repo: %q
branch: master
strategy: rsync
keep_releases: 3
version_files: [VERSION]
hooks:
  post_release: 'echo "live: $RELEASEDESK_VERSION"'
environments:
  - name: prod
    path: %q
    ssh_key: %q
    parallel: %d
    batch: %d
    hosts:
%s`, repo, filepath.Join(cl.Dir, "unused"), cl.KeyPath, parallel, batch, hosts.String())
}
