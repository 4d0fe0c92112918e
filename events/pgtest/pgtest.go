// Package pgtest runs a real PostgreSQL for tests: Debian's server binaries
// (initdb, pg_ctl), a cluster in a temporary directory listening on a
// loopback port, one per test process, and a fresh database per test.
// Tests never skip for lack of it: scripts/setup.sh installs PostgreSQL
// like every other need, and Start fails loudly when it is missing.
//
// A package whose tests use it stops the server after its tests:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is a running PostgreSQL cluster.
type Server struct {
	Dir  string // the cluster's data directory (also its socket directory)
	Port int
	bin  string // the directory of initdb and pg_ctl
	as   []string
	dbs  atomic.Int64
}

var (
	once    sync.Once
	shared  *Server
	started error
)

// Main runs a package's tests, then stops the server if one started.
func Main(m *testing.M) int {
	code := m.Run()
	Stop()
	return code
}

// Start returns the process's server, starting it on first use.
func Start(tb testing.TB) *Server {
	tb.Helper()
	once.Do(func() { shared, started = start() })
	if started != nil {
		tb.Fatalf("PostgreSQL for the tests: %v (scripts/setup.sh installs it: apt-get install postgresql)", started)
	}
	return shared
}

// Stop stops the server (immediately: its data is thrown away).
func Stop() {
	if shared == nil {
		return
	}
	_ = shared.ctl("stop", "-m", "immediate", "-w")
	_ = os.RemoveAll(filepath.Dir(shared.Dir))
	shared = nil
}

// BinDir finds Debian's server binaries: /usr/lib/postgresql/<version>/bin,
// the newest version.
func BinDir() (string, error) {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		if p, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p), nil
		}
		return "", fmt.Errorf("no initdb in /usr/lib/postgresql/*/bin nor on PATH")
	}
	sort.Slice(matches, func(i, j int) bool { return version(matches[i]) < version(matches[j]) })
	return filepath.Dir(matches[len(matches)-1]), nil
}

func version(initdb string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return v
}

func start() (*Server, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	base, err := os.MkdirTemp("", "rd-pgtest-")
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: filepath.Join(base, "data"), bin: bin}
	// PostgreSQL refuses to run as root: run it as the postgres user then,
	// on directories that user owns.
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs the postgres user to run the server as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(base, uid, gid); err != nil {
			return nil, err
		}
		s.as = []string{"runuser", "-u", "postgres", "--"}
	}
	if out, err := s.run(filepath.Join(bin, "initdb"), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-instructions", "-D", s.Dir); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s.Port = port
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=64MB", port, s.Dir)
	if err := s.ctl("start", "-w", "-t", "60", "-l", filepath.Join(s.Dir, "server.log"), "-o", opts); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.Dir, "server.log"))
		return nil, fmt.Errorf("pg_ctl start: %v\n%s", err, log)
	}
	return s, nil
}

func (s *Server) run(name string, args ...string) ([]byte, error) {
	argv := append(append([]string{}, s.as...), name)
	argv = append(argv, args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = filepath.Dir(s.Dir)
	return cmd.CombinedOutput()
}

func (s *Server) ctl(args ...string) error {
	out, err := s.run(filepath.Join(s.bin, "pg_ctl"), append([]string{"-D", s.Dir}, args...)...)
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// URL is the address of a database of the server.
func (s *Server) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, db)
}

// NewDatabase creates an empty database for one test, dropped when the
// test ends, and returns its address.
func (s *Server) NewDatabase(tb testing.TB) string {
	tb.Helper()
	name := fmt.Sprintf("rd_test_%d_%d", os.Getpid(), s.dbs.Add(1))
	if err := s.admin(fmt.Sprintf("CREATE DATABASE %s", name)); err != nil {
		tb.Fatalf("create database: %v", err)
	}
	tb.Cleanup(func() { _ = s.admin(fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name)) })
	return s.URL(name)
}

// Exec runs a statement in a database as the superuser (a test's setup:
// a role with fewer rights, a schema from the future).
func (s *Server) Exec(dsn, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

func (s *Server) admin(sql string) error { return s.Exec(s.URL("postgres"), sql) }

// Database starts the server if needed and returns a fresh database's
// address: the one call most tests need.
func Database(tb testing.TB) string {
	tb.Helper()
	return Start(tb).NewDatabase(tb)
}
