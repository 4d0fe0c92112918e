//go:build linux

package sshtest

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// Host is one sshd of a cluster: Addr is "user@127.0.0.1:port", Path the
// host's own deploy path (absent until something creates it).
type Host struct {
	Addr string `json:"addr"`
	Path string `json:"path,omitempty"`
}

// Cluster is a set of running sshd, stopped in the test's cleanup.
type Cluster struct {
	Hosts          []Host
	KeyPath        string // client private key (ed25519, 0600), authorized on every host
	KnownHostsPath string // trusts every host's key as started
	Dir            string // the cluster's directory under /dev/shm (or a temp dir)
	User           string

	t       testing.TB
	sshd    string
	servers []*server
}

type server struct {
	mu       sync.Mutex
	i        int
	port     int
	dir      string
	cmd      *exec.Cmd
	exited   chan struct{}
	pub      ssh.PublicKey
	accepted atomic.Int64
	logMu    sync.Mutex
	log      strings.Builder
}

// startTimeout bounds the wait for "Server listening on".
const startTimeout = 10 * time.Second

// Start starts n sshd in parallel. It skips the test if sshd is not
// installed, and fails it if they cannot start.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	sshd, err := exec.LookPath("sshd")
	if err != nil {
		sshd = "/usr/sbin/sshd"
		if _, err := os.Stat(sshd); err != nil {
			t.Skip("sshtest: sshd is not installed (Debian: apt-get install openssh-server)")
		}
	}
	u, err := user.Current()
	if err != nil {
		t.Fatalf("sshtest: current user: %v", err)
	}
	_ = os.MkdirAll("/run/sshd", 0o755) // privilege separation dir (root)

	base := "/dev/shm"
	if st, err := os.Stat(base); err != nil || !st.IsDir() {
		base = os.TempDir()
	}
	sweepStale(base)
	dir, err := os.MkdirTemp(base, "rd-sshtest-")
	if err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	c := &Cluster{Dir: dir, User: u.Username, sshd: sshd, t: t}
	t.Cleanup(func() {
		c.stopAll()
		removeAll(dir)
	})

	c.KeyPath = filepath.Join(dir, "id_ed25519")
	clientPub, err := writeKey(c.KeyPath)
	if err != nil {
		t.Fatalf("sshtest: client key: %v", err)
	}
	authorized := ssh.MarshalAuthorizedKey(clientPub)

	c.servers = make([]*server, n)
	c.Hosts = make([]Host, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		s := &server{i: i, dir: filepath.Join(dir, strconv.Itoa(i))}
		c.servers[i] = s
		c.Hosts[i] = Host{Path: filepath.Join(s.dir, "www")}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.setup(s, authorized)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	var kh strings.Builder
	for i, s := range c.servers {
		c.Hosts[i].Addr = fmt.Sprintf("%s@127.0.0.1:%d", c.User, s.port)
		kh.WriteString(c.HostKeyLine(i) + "\n")
	}
	c.KnownHostsPath = filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(c.KnownHostsPath, []byte(kh.String()), 0o600); err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	return c
}

func (c *Cluster) setup(s *server, authorized []byte) error {
	for _, d := range []string{s.dir, filepath.Join(s.dir, "home")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(s.dir, "authorized_keys"), authorized, 0o600); err != nil {
		return err
	}
	pub, err := writeKey(filepath.Join(s.dir, "host_ed25519_key"))
	if err != nil {
		return err
	}
	s.pub = pub
	var last error
	for range 5 {
		port, err := freePort()
		if err != nil {
			return err
		}
		s.port = port
		if last = c.start(s); last == nil {
			return nil
		}
	}
	return fmt.Errorf("host %d: %w", s.i, last)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// writeKey writes a new ed25519 private key (OpenSSH format, 0600) and
// its .pub, and returns the public key.
func writeKey(p string) (ssh.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return nil, err
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, err
	}
	tmp := p + ".new"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, p); err != nil {
		return nil, err
	}
	if err := os.WriteFile(p+".pub", ssh.MarshalAuthorizedKey(sp), 0o644); err != nil {
		return nil, err
	}
	return sp, nil
}

func (s *server) config() string {
	return strings.Join([]string{
		fmt.Sprintf("ListenAddress 127.0.0.1:%d", s.port),
		"HostKey " + filepath.Join(s.dir, "host_ed25519_key"),
		"PidFile none",
		"UsePAM no",
		"StrictModes no",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"PubkeyAuthentication yes",
		"AuthorizedKeysFile " + filepath.Join(s.dir, "authorized_keys"),
		"MaxStartups 100:30:200",
		"Subsystem sftp internal-sftp",
		"SetEnv HOME=" + filepath.Join(s.dir, "home"),
		"UseDNS no",
		"LogLevel INFO",
		"",
	}, "\n")
}

// start runs sshd for s and waits until it listens.
func (c *Cluster) start(s *server) error {
	cfg := filepath.Join(s.dir, "sshd_config")
	if err := os.WriteFile(cfg, []byte(s.config()), 0o600); err != nil {
		return err
	}
	cmd := exec.Command(c.sshd, "-D", "-e", "-f", cfg)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	cmd.Stdout = nil
	// Pdeathsig: a test binary that dies without cleanup (a panic, a
	// timeout) takes its sshd along; their sessions end with the client.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	listening := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		said := false
		for sc.Scan() {
			line := sc.Text()
			s.logMu.Lock()
			s.log.WriteString(line + "\n")
			s.logMu.Unlock()
			if !said && strings.Contains(line, "Server listening on") {
				said = true
				close(listening)
			}
			if strings.Contains(line, "Accepted publickey") {
				s.accepted.Add(1)
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		_ = cmd.Wait()
		close(exited)
	}()
	select {
	case <-listening:
	case <-exited:
		return fmt.Errorf("sshd on port %d exited: %s", s.port, lastLines(s.logText(), 5))
	case <-time.After(startTimeout):
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("sshd on port %d did not listen within %s: %s", s.port, startTimeout, lastLines(s.logText(), 5))
	}
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	return nil
}

func (s *server) logText() string {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.log.String()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// HostKeyLine is host i's known_hosts line for its current host key:
// "[127.0.0.1]:port ssh-ed25519 AAAA...".
func (c *Cluster) HostKeyLine(i int) string {
	s := c.servers[i]
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("[127.0.0.1]:%d %s", s.port, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.pub))))
}

// HostKey is host i's current public host key.
func (c *Cluster) HostKey(i int) ssh.PublicKey {
	s := c.servers[i]
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pub
}

// HostKeyPath is the file of host i's private host key (".pub" beside it).
func (c *Cluster) HostKeyPath(i int) string {
	return filepath.Join(c.servers[i].dir, "host_ed25519_key")
}

// HostPort is host i's "127.0.0.1:port".
func (c *Cluster) HostPort(i int) string {
	return fmt.Sprintf("127.0.0.1:%d", c.servers[i].port)
}

// Accepted counts the SSH connections host i authenticated ("Accepted
// publickey" in its log) since the cluster started, restarts included.
func (c *Cluster) Accepted(i int) int { return int(c.servers[i].accepted.Load()) }

// Log is host i's sshd log (stderr) so far.
func (c *Cluster) Log(i int) string { return c.servers[i].logText() }

// Kill sends SIGKILL to host i's sshd and to every process below it
// (connections and the commands they run): a host that dies.
func (c *Cluster) Kill(i int) {
	s := c.servers[i]
	s.mu.Lock()
	defer s.mu.Unlock()
	s.killLocked()
}

func (s *server) killLocked() {
	if s.cmd == nil {
		return
	}
	pid := s.cmd.Process.Pid
	_ = syscall.Kill(pid, syscall.SIGSTOP) // no new children while we look
	for range 3 {
		for _, p := range descendants(pid) {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	<-s.exited
	s.cmd = nil
}

// Restart starts host i again (after Kill, or to pick up a new key) on the
// same port. It fails the test that started the cluster if it cannot (call
// it from that test's goroutine).
func (c *Cluster) Restart(i int) {
	t := c.t
	t.Helper()
	s := c.servers[i]
	s.mu.Lock()
	s.killLocked()
	s.mu.Unlock()
	var err error
	for range 50 {
		if err = c.start(s); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond) // the port may linger a moment
	}
	t.Fatalf("sshtest: restart host %d: %v", i, err)
}

// RotateHostKey gives host i a new host key and restarts it; known_hosts
// still holds the old one. It returns the new key's known_hosts line.
func (c *Cluster) RotateHostKey(i int) string {
	t := c.t
	t.Helper()
	s := c.servers[i]
	pub, err := writeKey(filepath.Join(s.dir, "host_ed25519_key"))
	if err != nil {
		t.Fatalf("sshtest: rotate key of host %d: %v", i, err)
	}
	s.mu.Lock()
	s.pub = pub
	s.mu.Unlock()
	c.Restart(i)
	return c.HostKeyLine(i)
}

// Freeze stops (SIGSTOP) host i's sshd and everything below it: the port
// still accepts TCP connections, nothing answers. Thaw undoes it.
func (c *Cluster) Freeze(i int) { c.signalTree(i, syscall.SIGSTOP) }

// Thaw resumes a frozen host.
func (c *Cluster) Thaw(i int) { c.signalTree(i, syscall.SIGCONT) }

func (c *Cluster) signalTree(i int, sig syscall.Signal) {
	s := c.servers[i]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	pid := s.cmd.Process.Pid
	if sig == syscall.SIGSTOP {
		_ = syscall.Kill(pid, sig)
	}
	for _, p := range descendants(pid) {
		_ = syscall.Kill(p, sig)
	}
	if sig != syscall.SIGSTOP {
		_ = syscall.Kill(pid, sig)
	}
}

func (c *Cluster) stopAll() {
	var wg sync.WaitGroup
	for _, s := range c.servers {
		if s == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.mu.Lock()
			defer s.mu.Unlock()
			s.killLocked()
		}()
	}
	wg.Wait()
}

// descendants lists the processes below pid, read from /proc.
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parens.
		st := string(b)
		j := strings.LastIndexByte(st, ')')
		if j < 0 {
			continue
		}
		f := strings.Fields(st[j+1:])
		if len(f) < 2 {
			continue
		}
		pp, _ := strconv.Atoi(f[1])
		children[pp] = append(children[pp], p)
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, ch := range children[p] {
			out = append(out, ch)
			queue = append(queue, ch)
		}
	}
	return out
}

// sweepStale removes the cluster dirs in base left by test processes that
// died without cleanup (their owner pid no longer runs).
func sweepStale(base string) {
	dirs, _ := filepath.Glob(filepath.Join(base, "rd-sshtest-*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "owner"))
		if err != nil {
			continue // starting, or not ours
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			removeAll(d)
		}
	}
}

// removeAll removes dir even where trees were made read-only.
func removeAll(dir string) {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	_ = os.RemoveAll(dir)
}

// RandomName returns a short random hex name (for paths in tests).
func RandomName() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Alive reports whether process pid (decimal) runs on this machine, which
// every host of a cluster shares: a zombie is not alive. It waits up to a
// second for a killed process to go.
func Alive(pid string) bool {
	for range 100 {
		b, err := os.ReadFile("/proc/" + strings.TrimSpace(pid) + "/stat")
		if err != nil {
			return false
		}
		st := string(b)
		if j := strings.LastIndexByte(st, ')'); j >= 0 && strings.HasPrefix(strings.TrimSpace(st[j+1:]), "Z") {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}
