package e2e

// The whole-app harness of the fleet benchmarks and the chaos tests: a
// real `releasedesk serve` process over a data directory, driven through
// its HTTP API, with real sshd hosts (runner/sshtest) and a real git
// repository. Each piece is a function of its own so the bench and the
// chaos tests compose what they need.

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"releasedesk/app/httpapi/apitest"
	"releasedesk/runner/sshtest"
)

// appProc is one running `releasedesk serve`.
type appProc struct {
	t    testing.TB
	cmd  *exec.Cmd
	URL  string // base, no trailing slash
	Data string
	log  *apitest.Buffer // stderr: the app's own log
	out  *apitest.Buffer // stdout: what it tells its user
	done chan struct{}
	err  error // of Wait, once done is closed
}

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
	p := startBinary(t, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data}, args...), env...)
	p.Data = data
	return p
}

// startBinary runs the binary with args (a command that serves: serve,
// open), waits for its URL, and stops it at the end of the test.
func startBinary(t testing.TB, args []string, env ...string) *appProc {
	t.Helper()
	cmd := exec.Command(sharedBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &appProc{t: t, cmd: cmd, log: &apitest.Buffer{}, out: &apitest.Buffer{}, done: make(chan struct{})}
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
			fmt.Fprintln(p.out, sc.Text())
			if m := apitest.ServingLine.FindStringSubmatch(sc.Text()); m != nil {
				urls <- strings.TrimSuffix(m[1], "/")
			}
		}
	}()
	select {
	case p.URL = <-urls:
		return p
	case <-p.done:
		t.Fatalf("%s exited before serving: %v\n%s", args[0], p.err, p.log.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("%s printed no URL in 60 s\n%s", args[0], p.log.String())
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

// Out is what the app wrote to stdout so far.
func (p *appProc) Out() string { return p.out.String() }

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

// fleetProject is a project "fleet" over rsync to every host of cl in one
// environment "prod" (no approval, so one developer deploys), with
// parallel and batch as given and a post_release hook that prints a line.
func fleetProject(repo string, cl *sshtest.Cluster, parallel, batch int) string {
	return fleetConfig{repo: repo, cl: cl, parallel: parallel, batch: batch}.yaml()
}

// fleetConfig is the configuration of the project "fleet" of the whole-app
// tests: the rsync strategy to the sshd hosts of cl, in an environment
// "prod" of every host.
type fleetConfig struct {
	repo            string
	cl              *sshtest.Cluster
	paths           []string // each host's target ("prod"); nil: the host's own path
	parallel, batch int
	onFailure       string // "": the default (halt)
	hooks           string // the lines under hooks:; "": a post_release hook that prints a line
	env             string // the lines under env:, if any
	warm            string // a path on the first host for an environment "warm" of it alone; "": none
	notify          string // the lines under notify:, if any
}

func (c fleetConfig) yaml() string {
	var b strings.Builder
	fmt.Fprintf(&b, "id: fleet\nrepo: %q\nbranch: master\nstrategy: rsync\nkeep_releases: 3\nversion_files: [VERSION]\nhooks:\n", c.repo)
	if c.hooks == "" {
		b.WriteString("  post_release: 'echo \"live: $RELEASEDESK_VERSION\"'\n")
	} else {
		b.WriteString(c.hooks)
	}
	if c.env != "" {
		b.WriteString("env:\n" + c.env)
	}
	if c.notify != "" {
		b.WriteString("notify:\n" + c.notify)
	}
	b.WriteString("environments:\n")
	if c.warm != "" {
		fmt.Fprintf(&b, "  - name: warm\n    path: %q\n    ssh_key: %q\n    hosts: [%q]\n", c.warm, c.cl.KeyPath, c.cl.Hosts[0].Addr)
	}
	fmt.Fprintf(&b, "  - name: prod\n    path: %q\n    ssh_key: %q\n    parallel: %d\n    batch: %d\n",
		filepath.Join(c.cl.Dir, "unused"), c.cl.KeyPath, c.parallel, c.batch)
	if c.onFailure != "" {
		fmt.Fprintf(&b, "    on_failure: %s\n", c.onFailure)
	}
	b.WriteString("    hosts:\n")
	for i, h := range c.cl.Hosts {
		path := h.Path
		if c.paths != nil {
			path = c.paths[i]
		}
		fmt.Fprintf(&b, "      - {addr: %q, path: %q}\n", h.Addr, path)
	}
	return b.String()
}
