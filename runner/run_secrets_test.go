package runner

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"releasedesk/events/catalog"
	"releasedesk/runner/sshtest"
)

// runOddValues are variable values that a naive encoding would mangle or
// run: newlines (a trailing one too), backslash sequences printf and echo
// know, quotes, substitutions, control bytes and bytes that are not UTF-8.
var runOddValues = []string{
	"", "plain", "a\nb", "ends with a newline\n", "\n\n", `back\slash`, `\n`, `\\n`, `\c stop`, `\0101`,
	"%s%b%%", "'single' \"double\" `back` $(touch CANARY) ${HOME}", " lead and trail ", "-n", "a=b=c",
	"\r\n\t\x01\x1f\x7f", "\xff\xfe not UTF-8", strings.Repeat("long ", 2000),
}

// TestRunEnvRoundTrip: every value reaches the command byte for byte, over
// SSH (the session's stdin) and locally (the process environment).
func TestRunEnvRoundTrip(t *testing.T) {
	c := sshtest.Start(t, 1)
	executors := map[string]Executor{"ssh": dialHost(t, c, 0, nil), "local": &LocalExecutor{}}
	for name, ex := range executors {
		for i, v := range runOddValues {
			var out bytes.Buffer
			env := []string{"RD_V=" + v, "RD_OTHER=x"}
			code, err := ex.RunEnv(context.Background(), []string{"sh", "-c", `printf '%s|%s' "$RD_V" "$RD_OTHER"`}, env, &out)
			if err != nil || code != 0 {
				t.Fatalf("%s value %d: exit %d %v: %q", name, i, code, err, out.String())
			}
			if got := out.String(); got != v+"|x" {
				t.Errorf("%s value %d: got %q, want %q", name, i, got, v+"|x")
			}
		}
		// No variables at all, and bad ones refused before anything runs.
		var out bytes.Buffer
		if code, err := ex.RunEnv(context.Background(), []string{"sh", "-c", "echo ok"}, nil, &out); err != nil || code != 0 || out.String() != "ok\n" {
			t.Fatalf("%s without variables: %d %v %q", name, code, err, out.String())
		}
		for _, bad := range []string{"1X=a", "A B=c", "noequals", "A=nul\x00"} {
			if _, err := ex.RunEnv(context.Background(), []string{"true"}, []string{bad}, nil); err == nil {
				t.Errorf("%s: variable %q accepted", name, bad)
			}
		}
	}
	assertNoCanary(t, ".")
}

// runCmdlineScanner reads every process's command line on this machine
// (which all test hosts share) until stopped, and records those holding
// any of needles.
type runCmdlineScanner struct {
	needles []string
	stop    chan struct{}
	done    chan struct{}
	scans   atomic.Int64
	mu      sync.Mutex
	hits    []string
}

func runScanCmdlines(needles ...string) *runCmdlineScanner {
	s := &runCmdlineScanner{needles: needles, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		self := strconv.Itoa(os.Getpid())
		for {
			select {
			case <-s.stop:
				return
			default:
			}
			ents, _ := os.ReadDir("/proc")
			for _, e := range ents {
				if _, err := strconv.Atoi(e.Name()); err != nil || e.Name() == self {
					continue
				}
				b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
				if err != nil {
					continue
				}
				for _, n := range s.needles {
					if bytes.Contains(b, []byte(n)) {
						s.mu.Lock()
						s.hits = append(s.hits, strings.ReplaceAll(string(b), "\x00", " "))
						s.mu.Unlock()
					}
				}
			}
			s.scans.Add(1)
		}
	}()
	return s
}

func (s *runCmdlineScanner) finish() []string {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits
}

// TestRunSecretsNeverInProcessList deploys to real hosts with hooks and a
// health check that need a secret: they see its exact value, while no
// process on the hosts (this machine) ever shows it in its command line,
// as seen by the hook itself (ps) and by a scanner of /proc running all
// along. A plain variable still travels in argv, as before.
func TestRunSecretsNeverInProcessList(t *testing.T) {
	token := "tok-" + sshtest.RandomName() + "-SECRET"
	secret := token + "\nsecond line of it \\c %s $(touch CANARY) 'q'\n"
	t.Setenv("RD_TEST_DEPLOY_SECRET", secret)
	const marker = "rd-hook-marker-7f3a"
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyRsync, hosts: 2, files: 10,
		project: func(p *catalog.Project) {
			p.Env = []catalog.EnvVar{
				{Name: "API_TOKEN", FromEnv: "RD_TEST_DEPLOY_SECRET", Secret: true},
				{Name: "PLAIN_SETTING", Value: "plain-value-1"},
			}
			p.Hooks.PreRelease = ": " + marker + `
printf '%s' "$API_TOKEN" >../../seen-hook
printf '%s' "$PLAIN_SETTING" >../../seen-plain
ps -ww -eo args >../../ps.txt
sleep 0.3`
			p.Hooks.PostRelease = `printf '%s' "$API_TOKEN" >../../seen-post`
			p.HealthCheck = catalog.HealthCheck{Command: `printf '%s' "$API_TOKEN" >../../seen-check; sleep 0.2`}
		}})
	// The scanner can see a value in an argv: a control run shows it.
	ctl := runScanCmdlines(token)
	if _, err := (&LocalExecutor{}).Run(context.Background(), []string{"sh", "-c", "sleep 0.3", "sh", secret}, nil); err != nil {
		t.Fatal(err)
	}
	if hits := ctl.finish(); len(hits) == 0 {
		t.Fatal("the scanner does not see a value in an argv: the test would prove nothing")
	}

	scan := runScanCmdlines(token, "second line of it")
	c := h.head()
	v := h.versionOf(c)
	id := h.mustSucceed(catalog.KindDeploy, c, v)
	hits := scan.finish()
	t.Logf("scanned every command line %d times during the deployment", scan.scans.Load())
	if len(hits) > 0 {
		t.Fatalf("the secret was in a process list: %q", hits)
	}
	for _, host := range h.targets() {
		for _, f := range []string{"seen-hook", "seen-check", "seen-post"} {
			if got := readFile(t, filepath.Join(host.Path, f)); got != secret {
				t.Fatalf("%s: %s saw %q, want the secret", host.Addr, f, got)
			}
		}
		if got := readFile(t, filepath.Join(host.Path, "seen-plain")); got != "plain-value-1" {
			t.Fatalf("%s: the plain variable is %q", host.Addr, got)
		}
		ps := readFile(t, filepath.Join(host.Path, "ps.txt"))
		if !strings.Contains(ps, marker) {
			t.Fatalf("%s: ps did not show the hook itself:\n%s", host.Addr, ps)
		}
		if strings.Contains(ps, token) || strings.Contains(ps, "second line of it") {
			t.Fatalf("%s: ps showed the secret:\n%s", host.Addr, ps)
		}
		if !strings.Contains(ps, "PLAIN_SETTING=plain-value-1") {
			t.Fatalf("%s: the plain variable is no longer in argv:\n%s", host.Addr, ps)
		}
	}
	// Nor is it in any event.
	for _, e := range h.events(id) {
		if bytes.Contains(e.Data, []byte(token)) {
			t.Fatalf("event %s holds the secret: %s", e.Type, e.Data)
		}
	}
	assertNoCanary(t, ".", h.targets()[0].Path, h.targets()[1].Path)
}
