package e2e

import (
	"releasedesk/app/httpapi/apitest"
	"testing"
	"time"
)

// runnerBoundsConnections says that the runner keeps the SSH connections
// open to the hosts within `parallel` plus a small constant
// (fleetConnSlack; issue 6): a host's one connection (rsync runs on it)
// is closed as soon as its work in its batch ends (in a batch larger than
// `parallel`, also while it waits for the batch's switch), and only its
// switch after such a wait or a revert connects again. TestFleetShort
// holds every deployment to that bound, and BenchmarkFleet fails a run
// that misses it.
const runnerBoundsConnections = true

// TestFleetShort is the fleet benchmark (BenchmarkFleet) in a form small
// enough for every `go test ./...`: a real serve process, 10 real sshd
// hosts in batches of 5 with parallel 5, a full deployment, a 1% change
// while 10 API clients poll and 5 SSE subscribers follow the stream, a
// rollback, then a change in one batch of all 10 hosts (batch 0) with
// parallel 5. It asserts correctness only (every deployment succeeded and
// every host runs what it says, open SSH connections stay within
// parallel + fleetConnSlack (runnerBoundsConnections) and are all closed
// at the end, no SSE event is lost, reordered or repeated, the API
// answers every request); timing targets live in the benchmark.
func TestFleetShort(t *testing.T) {
	const hosts, parallel, files = 10, 5, 200
	start := time.Now()
	f := newFleet(t, hosts, files, 2<<20)
	id, _ := f.deploy("warm")
	f.wait(id, 2*time.Minute)

	f.configure("short", parallel, parallel)
	paths := f.hostPaths("short")
	checkConns := func(what string, m *monitor) {
		t.Helper()
		conns, rss := m.end()
		t.Logf("%s: peak %d SSH connections open to the hosts, app RSS %.0f MB", what, conns, float64(rss)/(1<<20))
		if conns > parallel+fleetConnSlack {
			t.Errorf("%s: %d SSH connections open at once to the hosts (allowed: parallel %d + %d)", what, conns, parallel, fleetConnSlack)
		}
		// Once the deployment has ended, the only connections left are
		// those the runner keeps idle for the next deployment
		// (runner/connpool.go): at most `parallel`, closed after a minute.
		deadline := time.Now().Add(5 * time.Second)
		for {
			n, err := f.cl.Established()
			if err != nil {
				t.Fatal(err)
			}
			if n <= parallel {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s: %d SSH connections still open 5 s after the deployment ended, more than the %d kept idle at most", what, n, parallel)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// A full deployment to empty targets.
	f.change(1)
	m := startMonitor(f.cl, f.app.Pid())
	id, v1 := f.deploy("prod")
	d := f.wait(id, 3*time.Minute)
	checkConns("full deployment", m)
	f.checkCurrent(paths, v1)
	if n := len(d.batchTimes()); n != hosts/parallel {
		t.Errorf("full deployment: %d batches, want %d", n, hosts/parallel)
	}

	// A 1% change, with API clients and SSE subscribers.
	from := headPosition(f.root)
	var subs []*apitest.Stream
	for range 5 {
		s, err := apitest.Subscribe(f.app.URL, f.root.Client.Token, from)
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, s)
	}
	f.change(files / 100)
	m = startMonitor(f.cl, f.app.Pid())
	id, v2 := f.deploy("prod")
	stop := make(chan struct{})
	loaded := make(chan apitest.LoadResult, 1)
	go func() { loaded <- apitest.Load(f.app.URL, f.root.Client.Token, id, 10, stop) }()
	f.wait(id, 3*time.Minute)
	close(stop)
	load := <-loaded
	checkConns("1% change", m)
	f.checkCurrent(paths, v2)
	if load.Errs > 0 || load.N == 0 {
		t.Errorf("API under load: %d requests, %d errors (first: %s)", load.N, load.Errs, load.FirstErr)
	}
	t.Logf("API under load: %d requests, p50 %v p99 %v (releases), p50 %v p99 %v (deployment)", load.N,
		apitest.Quantile(load.Releases, .5), apitest.Quantile(load.Releases, .99), apitest.Quantile(load.Deploys, .5), apitest.Quantile(load.Deploys, .99))
	until := headPosition(f.root)
	for i, s := range subs {
		if err := s.Check(from, until, 30*time.Second); err != nil {
			t.Errorf("SSE subscriber %d: %v", i, err)
		}
	}
	t.Logf("SSE: %d subscribers, events %d..%d each", len(subs), from+1, until)

	// Back to the first release.
	m = startMonitor(f.cl, f.app.Pid())
	id = f.rollback(v1)
	rb := f.wait(id, 3*time.Minute)
	checkConns("rollback", m)
	f.checkCurrent(paths, v1)
	t.Logf("rollback of %d hosts: %v, switch skew %v", hosts, rb.wall(), rb.switchSkew())

	// One batch of all 10 hosts (batch 0) with parallel 5: the staged
	// hosts wait for the switch without their connection, so the bound
	// holds however large the batch.
	f.configure("short", parallel, 0)
	f.change(files / 100)
	m = startMonitor(f.cl, f.app.Pid())
	id, v3 := f.deploy("prod")
	d = f.wait(id, 3*time.Minute)
	checkConns("one batch larger than parallel", m)
	f.checkCurrent(paths, v3)
	if n := len(d.batchTimes()); n != 1 {
		t.Errorf("one batch larger than parallel: %d batches, want 1", n)
	}
	t.Logf("whole test %v", time.Since(start))
}
