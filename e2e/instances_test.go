package e2e

// Two `releasedesk serve` instances on one PostgreSQL (issue 15, section
// 3): a team's server behind a load balancer. Every request may reach
// either instance, so the tests send each one to the other instance than
// the last, race requests over both, and kill the instance that runs a
// deployment.

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"releasedesk/app/httpapi/apitest"
	"releasedesk/events/pgtest"
	"releasedesk/runner/sshtest"
)

// instanceLease is the instances' --lease in these tests: a dead
// instance's deployment is taken over a few seconds after it died.
const instanceLease = "3s"

// twoStageProject is a project "shop" whose test stage publishes to the
// hosts test and whose production stage, behind approval, to prod.
func twoStageProject(repo string, cl *sshtest.Cluster, test, prod []int) string {
	hosts := func(idx []int) string {
		var b strings.Builder
		for _, i := range idx {
			fmt.Fprintf(&b, "      - {addr: %q, path: %q}\n", cl.Hosts[i].Addr, cl.Hosts[i].Path)
		}
		return b.String()
	}
	unused := filepath.Join(cl.Dir, "unused")
	return fmt.Sprintf("id: shop\nrepo: %q\nbranch: master\nstrategy: rsync\nkeep_releases: 3\nenvironments:\n"+
		"  - name: test\n    path: %q\n    ssh_key: %q\n    hosts:\n%s"+
		"  - name: production\n    path: %q\n    ssh_key: %q\n    approval: true\n    hosts:\n%s",
		repo, unused, cl.KeyPath, hosts(test), unused, cl.KeyPath, hosts(prod))
}

// TestInstancesShareOneDesk: the eight steps of a release, each sent to
// the other instance than the step before, with every read right after a
// write on the other instance; 40 writes each read at once through the
// other instance; then 20 deploy requests for one release at
// once, spread over both, which give exactly one deployment. Both
// instances' live streams deliver every event, in order.
func TestInstancesShareOneDesk(t *testing.T) {
	db, key := pgtest.Database(t), secretKeyFile(t)
	addUserOnStore(t, db, "root", chaosPassword, true)
	inst := []*appProc{startInstance(t, db, key, "--lease", instanceLease), startInstance(t, db, key, "--lease", instanceLease)}
	cl := sshtest.Start(t, 4)
	testHosts, prodHosts := []int{0, 1}, []int{2, 3}
	repo := apitest.GitRepo(t, nil)

	root := []*apitest.Caller{apitest.Login(t, inst[0].URL, "root", chaosPassword), apitest.Login(t, inst[1].URL, "root", chaosPassword)}
	root[0].Must(http.StatusCreated, "PUT", "/api/v1/projects/shop", twoStageProject(repo, cl, testHosts, prodHosts))
	people := map[string]string{"dev": "developer", "tess": "tester", "alice": "approver", "max": "manager"}
	as := map[string][]*apitest.Caller{}
	for name, role := range people {
		// Made on one instance, signed in on both at once.
		root[1].Must(http.StatusCreated, "POST", "/api/v1/users",
			map[string]any{"name": name, "password": chaosPassword, "roles": map[string][]string{"shop": {role}}})
		as[name] = []*apitest.Caller{apitest.Login(t, inst[0].URL, name, chaosPassword), apitest.Login(t, inst[1].URL, name, chaosPassword)}
	}
	root[0].TrustHosts(cl)

	start := headPosition(root[1])
	var streams []*apitest.Stream
	for i := range inst {
		s, err := apitest.Subscribe(inst[i].URL, root[i].Client.Token, start)
		if err != nil {
			t.Fatal(err)
		}
		streams = append(streams, s)
	}

	// step n goes to instance n%2.
	on := func(name string, step int) *apitest.Caller { return as[name][step%2] }
	r := on("dev", 1).Must(http.StatusCreated, "POST", "/api/v1/releases",
		map[string]any{"project": "shop", "branch": "feature-1", "create_branch": true, "title": "Across instances"})
	id := apitest.Str(r.Body, "release", "id")
	dep := on("dev", 2).Must(http.StatusAccepted, "POST", "/api/v1/releases/"+id+"/deploy", map[string]any{"env": "test"})
	if d := on("dev", 3).WaitDeployment(apitest.Str(dep.Body, "deployment"), 2*time.Minute); d["state"] != "succeeded" {
		t.Fatalf("test deployment: %v", d)
	}
	on("tess", 4).Must(http.StatusOK, "POST", "/api/v1/releases/"+id+"/test", map[string]any{"passed": true, "note": "fine"})
	on("alice", 5).Must(http.StatusOK, "POST", "/api/v1/releases/"+id+"/approve", map[string]any{"note": "go"})
	dep = on("alice", 6).Must(http.StatusAccepted, "POST", "/api/v1/releases/"+id+"/deploy", map[string]any{"env": "production"})
	version := apitest.Str(dep.Body, "version")
	if d := on("alice", 7).WaitDeployment(apitest.Str(dep.Body, "deployment"), 2*time.Minute); d["state"] != "succeeded" {
		t.Fatalf("production deployment: %v", d)
	}
	on("max", 8).Must(http.StatusOK, "POST", "/api/v1/releases/"+id+"/accept", map[string]any{"note": "live and well"})
	r = on("max", 9).Must(http.StatusOK, "POST", "/api/v1/releases/"+id+"/complete", nil)
	if apitest.Str(r.Body, "release", "state") != "completed" {
		t.Fatalf("complete: %s", r.Raw)
	}
	for i := range inst {
		rel := as["dev"][i].Must(http.StatusOK, "GET", "/api/v1/releases/"+id, nil)
		if apitest.Str(rel.Body, "release", "state") != "completed" {
			t.Fatalf("instance %d sees release %s %s", i, id, apitest.Str(rel.Body, "release", "state"))
		}
		v := as["dev"][i].Must(http.StatusOK, "GET", "/api/v1/projects/shop/environments/production/versions", nil)
		if apitest.Str(v.Body, "current") != version {
			t.Fatalf("instance %d: production runs %q, want %s", i, apitest.Str(v.Body, "current"), version)
		}
	}
	for _, h := range prodHosts {
		if got := readCurrent(t, cl, h); got != version {
			t.Fatalf("production host %d runs %q, want %s", h, got, version)
		}
	}

	// A write through one instance, read at once through the other (a
	// load balancer sends them apart): 40 times, the read sees it.
	for n := range 40 {
		email := fmt.Sprintf("dev+%d@example.com", n)
		as["dev"][n%2].Must(http.StatusOK, "PUT", "/api/v1/users/dev/contacts", map[string]any{"email": email})
		got := as["dev"][1-n%2].Must(http.StatusOK, "GET", "/api/v1/users/dev", nil)
		if c, _ := got.Body["contacts"].(map[string]any); c["email"] != email {
			t.Fatalf("write %d through instance %d, read through the other: %s, want email %s", n, n%2, got.Raw, email)
		}
	}

	// 20 deploy requests to the test stage at once, over both instances,
	// for 4 releases (5 each): one deployment; every other request is
	// refused as the stage is busy, and no release records a request
	// that went nowhere.
	var raced []string
	for k := range 4 {
		r := as["dev"][k%2].Must(http.StatusCreated, "POST", "/api/v1/releases",
			map[string]any{"project": "shop", "branch": fmt.Sprintf("raced-%d", k), "create_branch": true, "title": "Raced"})
		raced = append(raced, apitest.Str(r.Body, "release", "id"))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	var accepted []string
	for n := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := as["dev"][(n/4)%2].Call("POST", "/api/v1/releases/"+raced[n%4]+"/deploy", map[string]any{"env": "test"})
			mu.Lock()
			defer mu.Unlock()
			statuses[res.Status]++
			if res.Status == http.StatusAccepted {
				accepted = append(accepted, apitest.Str(res.Body, "deployment"))
			}
		}()
	}
	wg.Wait()
	if statuses[http.StatusAccepted] != 1 || statuses[http.StatusConflict] != 19 {
		t.Fatalf("20 concurrent deploy requests over two instances: %v, want 1 accepted and 19 conflicts", statuses)
	}
	for i := range inst {
		list := as["dev"][i].Must(http.StatusOK, "GET", "/api/v1/deployments?project=shop&env=test&limit=100", nil)
		deps, _ := list.Body["deployments"].([]any)
		if len(deps) != 2 { // the first release's, and the raced one
			t.Fatalf("instance %d lists %d deployments of the test stage, want 2: %s", i, len(deps), list.Raw)
		}
		recorded := 0
		for _, id := range raced {
			rel := as["dev"][i].Must(http.StatusOK, "GET", "/api/v1/releases/"+id, nil)
			ds, _ := rel.Body["release"].(map[string]any)["deployments"].([]any)
			for _, d := range ds {
				if apitest.Str(d.(map[string]any), "deployment") != accepted[0] {
					t.Fatalf("instance %d: release %s records deployment %v, which is not the one accepted (%s)", i, id, d, accepted[0])
				}
			}
			recorded += len(ds)
		}
		if recorded != 1 {
			t.Fatalf("instance %d: the raced releases record %d deployments, want 1", i, recorded)
		}
	}
	if d := as["dev"][0].WaitDeployment(accepted[0], 2*time.Minute); d["state"] != "succeeded" {
		t.Fatalf("the one deployment: %v", d)
	}

	end := headPosition(root[0])
	for i, s := range streams {
		if err := s.Check(start, end, 30*time.Second); err != nil {
			t.Errorf("instance %d's stream: %v", i, err)
		}
	}
	t.Logf("eight steps over two instances, 20 raced requests (%v), %d events on both streams in order", statuses, end-start)
}

// readCurrent is the version host i's current names ("" without one).
func readCurrent(t *testing.T, cl *sshtest.Cluster, i int) string {
	t.Helper()
	target, err := os.Readlink(filepath.Join(cl.Hosts[i].Path, "current"))
	if err != nil {
		return ""
	}
	return filepath.Base(target)
}

// pgPair is a chaos fleet whose app is one of two instances of a server on
// PostgreSQL.
type pgPair struct {
	f       *chaosFleet
	db, key string
	insts   []*appProc
}

func newPgPair(t *testing.T, o chaosOpts) *pgPair {
	t.Helper()
	p := &pgPair{db: pgtest.Database(t), key: secretKeyFile(t)}
	o.launch = func(t *testing.T) *appProc {
		addUserOnStore(t, p.db, "root", chaosPassword, true)
		return p.start(t)
	}
	p.f = newChaosFleet(t, o)
	p.insts = []*appProc{p.f.app, p.start(t)}
	return p
}

func (p *pgPair) start(t *testing.T) *appProc {
	return startInstance(t, p.db, p.key, "--lease", instanceLease)
}

// use points the fleet's callers at instance i.
func (p *pgPair) use(i int) {
	p.f.app = p.insts[i]
	p.f.relogin()
}

// runnerOf is the instance whose runner runs the deployment (its runner
// is "host:pid"), or -1.
func (p *pgPair) runnerOf(dep map[string]any) int {
	r, _ := dep["runner"].(string)
	for i, a := range p.insts {
		if strings.HasSuffix(r, fmt.Sprintf(":%d", a.Pid())) {
			return i
		}
	}
	return -1
}

// TestInstanceKilledMidDeployment: 10 times, the instance running a
// deployment to 5 hosts is killed (SIGKILL) at a random moment of it; the
// other instance, which nobody restarts, takes the deployment over once
// its lease expires and settles it as a restart would: it ends
// interrupted with every host's `current` whole and recorded, and a retry
// on the survivor finishes it. Every event an instance streamed before it
// died is in the log, the chain verifies.
func TestInstanceKilledMidDeployment(t *testing.T) {
	p := newPgPair(t, chaosOpts{hosts: 5, parallel: 1, hooks: "  post_release: 'sleep 0.4'\n"})
	f := p.f
	// Every host runs a first version, so each trial has one to keep.
	f.commit()
	first, prev := f.deploy()
	if d := f.root.WaitDeployment(first, 2*time.Minute); d["state"] != "succeeded" {
		t.Fatalf("the first deployment: %v", d)
	}
	took := map[string]int{}
	var takeover []time.Duration
	for trial := range 10 {
		fail := func(format string, args ...any) {
			t.Fatalf("trial %d: "+format, append([]any{trial}, args...)...)
		}
		p.use(trial % 2) // requests go to either instance
		f.commit()
		recs := make([]*chaosSseRecorder, len(p.insts))
		for i, a := range p.insts {
			recs[i] = chaosFollowStream(t, a.URL, apitest.Login(t, a.URL, "root", chaosPassword).Client.Token, headPosition(f.root))
		}
		id, version := f.deploy()
		dep, ok := waitFor(f.root, id, time.Minute, func(d map[string]any) bool {
			return d["state"] == "running" && d["runner"] != nil && len(chaosHostsOf(d)) > 0
		})
		victim := p.runnerOf(dep)
		if !ok || victim < 0 {
			fail("deployment %s never ran on an instance: %v", id, dep)
		}
		survivor := 1 - victim
		time.Sleep(time.Duration(trial%5) * 400 * time.Millisecond) // into a different step each time
		killed := time.Now()
		p.insts[victim].Kill()
		recs[victim].close()

		p.use(survivor)
		dep, ok = waitFor(f.root, id, time.Minute, func(d map[string]any) bool { return chaosTerminal(d["state"]) })
		if !ok {
			fail("deployment %s still %v a minute after its instance died\n%s", id, dep["state"], lastLinesOf(p.insts[survivor].Log(), 40))
		}
		state := dep["state"].(string)
		took[state]++
		if state == "interrupted" {
			takeover = append(takeover, time.Since(killed))
		} else if state != "succeeded" {
			fail("deployment %s after its instance died: %s (%v)", id, state, dep["error"])
		}
		if vs, err := f.checkHosts(); err != nil {
			fail("after the takeover: %v", err)
		} else {
			for i, v := range vs {
				if v != version && v != prev {
					fail("host %d runs %s, neither %s nor %s", i, v, prev, version)
				}
			}
		}
		if err := f.matchRecorded(); err != nil {
			fail("after the takeover: %v", err)
		}
		if state == "interrupted" {
			r := f.users["dev"].Call("POST", "/api/v1/deployments/"+id+"/retry", nil)
			if r.Status != http.StatusAccepted {
				fail("retry of %s on the survivor: %d %s", id, r.Status, r.Raw)
			}
			if d := f.root.WaitDeployment(id, 2*time.Minute); d["state"] != "succeeded" {
				fail("retry of %s: %v %v", id, d["state"], d["error"])
			}
		}
		prev = version
		if vs, err := f.checkHosts(); err != nil {
			fail("after the retry: %v", err)
		} else {
			for i, v := range vs {
				if v != version {
					fail("host %d runs %s after the retry, want %s", i, v, version)
				}
			}
		}
		// What the dead instance streamed (it was written) is in the log.
		logged, _, err := f.export(f.root)
		if err != nil {
			fail("%v", err)
		}
		for pos, e := range recs[victim].snapshot() {
			// (The stream leaves out a step output's hash.)
			if got, ok := logged[pos]; !ok || got.Stream != e.Stream || got.Type != e.Type || e.Hash != "" && got.Hash != e.Hash {
				fail("event %d (%+v) streamed by the dead instance is not in the log as streamed: %+v", pos, e, got)
			}
		}
		recs[survivor].close()
		if err := f.verify(f.root); err != nil {
			fail("%v", err)
		}
		p.insts[victim] = p.start(t) // the team starts it again
	}
	t.Logf("10 instances killed mid-deployment: %v; taken over and settled %v after the kill (lease %s)",
		took, takeover, instanceLease)
	if took["interrupted"] == 0 {
		t.Fatal("no kill landed during a deployment: the trials tested nothing")
	}
}
