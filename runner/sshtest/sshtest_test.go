//go:build linux

package sshtest

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sshRun runs a command on host i with the system ssh client, strictly
// against the cluster's known_hosts.
func sshRun(c *Cluster, i int, cmd string) (string, error) {
	h := c.Hosts[i]
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(h.Addr, c.User+"@"))
	out, err := exec.Command("ssh", "-F", "none", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
		"-o", "UserKnownHostsFile="+c.KnownHostsPath, "-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=5",
		"-i", c.KeyPath, "-p", port, "-l", c.User, "127.0.0.1", cmd).CombinedOutput()
	return string(out), err
}

func TestStartManyHosts(t *testing.T) {
	start := time.Now()
	c := Start(t, 20)
	t.Logf("20 sshd started in %s", time.Since(start))
	if len(c.Hosts) != 20 {
		t.Fatalf("hosts: %d", len(c.Hosts))
	}
	seen := map[string]bool{}
	for i, h := range c.Hosts {
		if seen[h.Addr] || seen[h.Path] {
			t.Fatalf("host %d: address or path shared: %+v", i, h)
		}
		seen[h.Addr], seen[h.Path] = true, true
		if !strings.HasPrefix(h.Addr, c.User+"@127.0.0.1:") || !filepath.IsAbs(h.Path) {
			t.Fatalf("host %d: %+v", i, h)
		}
	}
	kh, err := os.ReadFile(c.KnownHostsPath)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(kh), "\n"); got != 20 {
		t.Fatalf("known_hosts has %d lines", got)
	}
	if st, _ := os.Stat(c.KeyPath); st.Mode().Perm() != 0o600 {
		t.Fatalf("client key mode %v", st.Mode())
	}
	// Every host answers, as itself, with HOME set to its own dir.
	errs := make(chan error, 20)
	for i := range c.Hosts {
		go func() {
			out, err := sshRun(c, i, `echo "$HOME"`)
			if err == nil && !strings.HasPrefix(strings.TrimSpace(out), filepath.Dir(c.Hosts[i].Path)) {
				err = &exec.Error{Name: "HOME", Err: os.ErrInvalid}
			}
			if err != nil {
				t.Errorf("host %d: %v: %s", i, err, out)
			}
			errs <- err
		}()
	}
	for range c.Hosts {
		<-errs
	}
	for i := range c.Hosts {
		if c.Accepted(i) != 1 {
			t.Errorf("host %d: accepted %d connections, want 1", i, c.Accepted(i))
		}
	}
	if !strings.Contains(c.HostKeyLine(3), "[127.0.0.1]:") || !bytes.Contains(kh, []byte(c.HostKeyLine(3))) {
		t.Fatalf("HostKeyLine(3) = %q not in known_hosts", c.HostKeyLine(3))
	}
}

func TestKillRestartRotateFreeze(t *testing.T) {
	c := Start(t, 2)
	// A long command, then Kill: the command dies with the host.
	pidFile := filepath.Join(c.Dir, "pid")
	done := make(chan error, 1)
	go func() {
		_, err := sshRun(c, 0, "echo $$ >"+pidFile+"; exec sleep 30")
		done <- err
	}()
	var pid []byte
	for range 200 {
		if b, err := os.ReadFile(pidFile); err == nil && len(bytes.TrimSpace(b)) > 0 {
			pid = bytes.TrimSpace(b)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if pid == nil {
		t.Fatal("the remote command did not start")
	}
	c.Kill(0)
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the session survived Kill")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the client did not notice Kill")
	}
	if Alive(string(pid)) {
		t.Fatalf("remote process %s survived Kill", pid)
	}
	if _, err := sshRun(c, 0, "true"); err == nil {
		t.Fatal("a killed host answered")
	}
	c.Restart(0)
	if out, err := sshRun(c, 0, "echo back"); err != nil || strings.TrimSpace(out) != "back" {
		t.Fatalf("after restart: %v %q", err, out)
	}

	// A new key: the old known_hosts refuses it.
	old := c.HostKeyLine(1)
	line := c.RotateHostKey(1)
	if line == old {
		t.Fatal("RotateHostKey kept the key")
	}
	if out, err := sshRun(c, 1, "true"); err == nil || !strings.Contains(out, "HOST IDENTIFICATION HAS CHANGED") {
		t.Fatalf("changed key accepted: %v %q", err, out)
	}

	// Frozen: TCP connects, SSH never answers.
	c.Freeze(0)
	conn, err := net.DialTimeout("tcp", c.HostPort(0), time.Second)
	if err != nil {
		t.Fatalf("frozen host refused TCP: %v", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, err := conn.Read(make([]byte, 64)); err == nil {
		t.Fatalf("frozen host sent %d bytes", n)
	}
	conn.Close()
	c.Thaw(0)
	if out, err := sshRun(c, 0, "echo thawed"); err != nil || strings.TrimSpace(out) != "thawed" {
		t.Fatalf("after thaw: %v %q", err, out)
	}
}

func TestStaleClusterDirsAreSwept(t *testing.T) {
	base := "/dev/shm"
	if st, err := os.Stat(base); err != nil || !st.IsDir() {
		base = os.TempDir()
	}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	stale, err := os.MkdirTemp(base, "rd-sshtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeAll(stale) })
	if err := os.WriteFile(filepath.Join(stale, "owner"), []byte(strconv.Itoa(dead.Process.Pid)), 0o600); err != nil {
		t.Fatal(err)
	}
	c := Start(t, 1)
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatal("a dead test's cluster dir was left")
	}
	if _, err := os.Stat(c.Dir); err != nil {
		t.Fatal("own cluster dir missing")
	}
}
