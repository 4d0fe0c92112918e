package runner

import (
	"context"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logrustest "github.com/sirupsen/logrus/hooks/test"

	"releasedesk/events"
	"releasedesk/events/catalog"
)

func TestRunTenDeploymentsOneAtATime(t *testing.T) {
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyRsync, hosts: 2, files: 20})
	c := h.head()
	var ids []string
	for range 10 {
		ids = append(ids, h.submit(catalog.KindDeploy, c, h.versionOf(c)))
	}
	start := time.Now()
	if err := h.r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, id := range ids {
		term, err := h.r.Wait(ctx, id)
		if err != nil || term != catalog.TypeDeploySucceeded {
			t.Fatalf("%s: %s %v\n%s", id, term, err, h.describe(id))
		}
	}
	t.Logf("10 deployments of one environment: %s", time.Since(start).Round(time.Millisecond))

	// The lock alternates acquired/released, one deployment at a time, in
	// request order; no deployment found a host locked by another.
	locks := h.lockHistory()
	if len(locks) != 20 {
		t.Fatalf("%d lock events, want 20", len(locks))
	}
	for i, e := range locks {
		var l catalog.LockEvent
		_ = e.Decode(&l)
		want := catalog.TypeLockAcquired
		if i%2 == 1 {
			want = catalog.TypeLockReleased
		}
		if e.Type != want || l.Deployment != ids[i/2] {
			t.Fatalf("lock event %d: %s by %s, want %s by %s", i, e.Type, l.Deployment, want, ids[i/2])
		}
	}
	// Their runs never overlap: each started after the previous ended.
	var prevEnd uint64
	for _, id := range ids {
		envs := h.events(id)
		var startPos, endPos uint64
		for _, e := range envs {
			switch {
			case e.Type == catalog.TypeDeployPlanned:
				startPos = e.Position
			case isTerminal(e.Type):
				endPos = e.Position
			}
		}
		if startPos < prevEnd {
			t.Fatalf("%s planned at %d before the previous ended at %d", id, startPos, prevEnd)
		}
		prevEnd = endPos
		if n := len(h.ofType(id, catalog.TypeHostFailed)); n != 0 {
			t.Fatalf("%s: %d hosts failed:\n%s", id, n, h.describe(id))
		}
	}
	h.checkLockFree()
}

func TestRunTwoRunnersClaimOneDeployment(t *testing.T) {
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyLocal, files: 20})
	other := h.newRunner(func(c *Config) { c.Name = "other-runner" })
	c := h.head()
	id := h.submit(catalog.KindDeploy, c, h.versionOf(c))
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, r := range []*Runner{h.r, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = r.Run(context.Background(), id)
		}()
	}
	wg.Wait()
	ok, claimed := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrClaimed):
			claimed++
		default:
			t.Fatal(err)
		}
	}
	if ok != 1 || claimed != 1 {
		t.Fatalf("results %v", errs)
	}
	if n := len(h.ofType(id, catalog.TypeDeployStarted)); n != 1 {
		t.Fatalf("%d deploy.started", n)
	}
	if h.terminal(id) != catalog.TypeDeploySucceeded {
		t.Fatal(h.describe(id))
	}
	// A claimed deployment cannot be run again.
	if err := h.r.Run(context.Background(), id); !errors.Is(err, ErrClaimed) {
		t.Fatalf("second Run: %v", err)
	}
}

func TestRunLockWaitsForRelease(t *testing.T) {
	log := events.NewMemStore(events.Options{})
	r, err := New(Config{Log: log, Workspace: Workspace{Dir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	p := catalog.Project{ID: "demo"}
	ctx := context.Background()
	a, err := r.acquireLock(ctx, p, "prod", "a", "alice")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *logLock, 1)
	go func() {
		b, err := r.acquireLock(ctx, p, "prod", "b", "bob")
		if err != nil {
			t.Error(err)
		}
		got <- b
	}()
	select {
	case <-got:
		t.Fatal("b took a held lock")
	case <-time.After(100 * time.Millisecond):
	}
	if err := a.release(ctx, "done"); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-got:
		if b.ev.Deployment != "b" {
			t.Fatalf("lock %+v", b.ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("b never got the released lock")
	}
	// A waiter gives up when its context ends.
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := r.acquireLock(cctx, p, "prod", "c", "carol"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting with an ended context: %v", err)
	}
	// Breaking the lock frees it, and removes the remote lock dir whoever
	// holds it.
	target := t.TempDir()
	lockDir := Layout{Path: target}.LockDir()
	if err := os.MkdirAll(lockDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lockDir+"/info", []byte("deployment=zombie\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := r.BreakLock(ctx, catalog.Project{ID: "demo", Strategy: catalog.StrategyLocal,
		Environments: []catalog.Environment{{Name: "prod", Path: target}}}, "prod", "", "admin", "stuck")
	if err != nil {
		t.Fatal(err)
	}
	if res.Broken.Deployment != "b" || len(res.Broken.Hosts) != 1 || res.Broken.Hosts[0].Deployment != "zombie" || len(res.Unreachable) != 0 {
		t.Fatalf("break: %+v", res)
	}
	if _, err := os.Stat(lockDir); !os.IsNotExist(err) {
		t.Fatalf("remote lock dir not removed: %v", err)
	}
	envs, _ := log.ReadStream(ctx, catalog.LockStream("demo", "prod"), 1)
	var types []string
	for _, e := range envs {
		types = append(types, e.Type)
	}
	want := []string{catalog.TypeLockAcquired, catalog.TypeLockReleased, catalog.TypeLockAcquired, catalog.TypeLockBroken}
	if !slices.Equal(types, want) {
		t.Fatalf("lock stream %v, want %v", types, want)
	}
	var broken catalog.LockEvent
	_ = envs[3].Decode(&broken)
	if broken.Deployment != "b" || broken.Reason != "stuck" || envs[3].Actor != "admin" {
		t.Fatalf("lock.broken %+v by %s", broken, envs[3].Actor)
	}
	if _, err := r.acquireLock(ctx, p, "prod", "d", "dave"); err != nil {
		t.Fatal(err)
	}
}

func TestRunCancelQueued(t *testing.T) {
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyLocal, files: 20, mem: true})
	c := h.head()
	id := h.submit(catalog.KindDeploy, c, h.versionOf(c))
	if err := h.r.Cancel(context.Background(), id, "carol", "not today"); err != nil {
		t.Fatal(err)
	}
	if err := h.r.Run(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	want := []string{catalog.TypeDeployRequested, catalog.TypeDeployCancelRequested, catalog.TypeDeployStarted, catalog.TypeDeployCancelled}
	if got := h.deploySequence(id); !slices.Equal(got, want) {
		t.Fatalf("events %v", got)
	}
	if len(h.lockHistory()) != 0 {
		t.Fatal("a cancelled queued deployment took the lock")
	}
	if runCurrentOf(t, h.targets()[0]) != "" {
		t.Fatal("a cancelled queued deployment touched the target")
	}
}

// TestRunStartFollowsNewRequests: a started runner claims what is
// requested after it started.
func TestRunStartFollowsNewRequests(t *testing.T) {
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyLocal, files: 20})
	if err := h.r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := h.head()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range 3 {
		id := h.submit(catalog.KindDeploy, c, h.versionOf(c))
		term, err := h.r.Wait(ctx, id)
		if err != nil || term != catalog.TypeDeploySucceeded {
			t.Fatalf("deployment %d: %s %v", i, term, err)
		}
	}
	if _, err := h.r.Wait(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("wait for an unknown deployment: %v", err)
	}
}

// TestRunInfolessHostLock: a host lock dir of the older kind that names no
// holder (its maker died between mkdir and writing the info) fails the
// host, saying so, while it is young; once older than InfolessLockAge the
// next deployment removes it with a logged warning and goes on.
func TestRunInfolessHostLock(t *testing.T) {
	logger := logrus.New()
	logger.SetOutput(io.Discard)
	hook := logrustest.NewLocal(logger)
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyLocal, files: 5, mem: true,
		config: func(c *Config) { c.Logger = logger }})
	host := h.targets()[0]
	lockDir := Layout{Path: host.Path}.LockDir()
	if err := os.MkdirAll(lockDir, 0o755); err != nil {
		t.Fatal(err)
	}
	c := h.head()
	id, term := h.deploy(catalog.KindDeploy, c, h.versionOf(c))
	if term != catalog.TypeDeployFailed {
		t.Fatalf("a young info-less lock: %s\n%s", term, h.describe(id))
	}
	var hf catalog.HostEvent
	h.decodeFirst(id, catalog.TypeHostFailed, &hf)
	if hf.Step != "lock" || !strings.Contains(hf.Error, "unknown holder") {
		t.Fatalf("host_failed %+v", hf)
	}
	aged := time.Now().Add(-InfolessLockAge - time.Minute)
	if err := os.Chtimes(lockDir, aged, aged); err != nil {
		t.Fatal(err)
	}
	v := h.versionOf(c)
	h.mustSucceed(catalog.KindDeploy, c, v)
	if runCurrentOf(t, host) != v {
		t.Fatal("not deployed")
	}
	warned := false
	for _, e := range hook.AllEntries() {
		if e.Level == logrus.WarnLevel && strings.Contains(e.Message, "info-less host lock") {
			warned = true
		}
	}
	if !warned {
		t.Fatal("no warning logged for the removed lock")
	}
	h.checkLockFree()
}

// TestRunBreakOneHostLock: breaking one host's lock removes its remote
// lock, says what it named, and records the host in lock.broken; a host that is
// not the environment's is refused before anything is written; a host
// that cannot be reached is named in the answer, and the event stays.
func TestRunBreakOneHostLock(t *testing.T) {
	log := events.NewMemStore(events.Options{})
	r, err := New(Config{Log: log, Workspace: Workspace{Dir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a := t.TempDir()
	lockDir := Layout{Path: a}.LockDir()
	if err := os.MkdirAll(lockDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lockDir+"/info", []byte("deployment=d7\nholder=alice\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The local strategy's one target (several SSH hosts: app's tests).
	p := catalog.Project{ID: "demo", Strategy: catalog.StrategyLocal,
		Environments: []catalog.Environment{{Name: "prod", Path: a}}}
	if _, err := r.BreakLock(ctx, p, "prod", "www@10.0.0.9:22", "root", "stale"); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("a host of no environment: %v", err)
	}
	if head, _ := log.StreamHead(ctx, catalog.LockStream("demo", "prod")); head.Version != 0 {
		t.Fatalf("a refused break wrote %d events", head.Version)
	}
	res, err := r.BreakLock(ctx, p, "prod", catalog.LocalHost, "root", "stale")
	if err != nil {
		t.Fatal(err)
	}
	if res.Host != catalog.LocalHost || res.Broken.Deployment != "" || len(res.Broken.Hosts) != 1 ||
		res.Broken.Hosts[0].Deployment != "d7" || res.Broken.Hosts[0].Holder != "alice" {
		t.Fatalf("break of one host: %+v", res)
	}
	if _, err := os.Stat(lockDir); !os.IsNotExist(err) {
		t.Fatalf("the host's lock is still there: %v", err)
	}
	envs, _ := log.ReadStream(ctx, catalog.LockStream("demo", "prod"), 1)
	var ev catalog.LockEvent
	if len(envs) != 1 || envs[0].Type != catalog.TypeLockBroken || envs[0].Decode(&ev) != nil || ev.Host != catalog.LocalHost ||
		ev.Reason != "stale" || envs[0].Actor != "root" {
		t.Fatalf("lock stream %+v", envs)
	}

	// An SSH host that does not answer: recorded anyway, and named.
	ssh := catalog.Project{ID: "demo", Strategy: catalog.StrategyRsync, Environments: []catalog.Environment{{Name: "prod", Path: a,
		SSHKey: t.TempDir() + "/no-such-key", Hosts: []catalog.Host{{Addr: "www@127.0.0.1:1"}}}}}
	res, err = r.BreakLock(ctx, ssh, "prod", "", "root", "gone")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Broken.Hosts) != 0 || len(res.Unreachable) != 1 || res.Unreachable[0].Host != "www@127.0.0.1:1" || res.Unreachable[0].Error == "" {
		t.Fatalf("an unreachable host: %+v", res)
	}
	if head, _ := log.StreamHead(ctx, catalog.LockStream("demo", "prod")); head.Version != 2 {
		t.Fatalf("lock stream at version %d after two breaks", head.Version)
	}
}
