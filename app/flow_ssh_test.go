package app_test

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"releasedesk/app/httpapi/apitest"
	"releasedesk/events"
	"releasedesk/runner/sshtest"
)

// TestFlowEightStepsOverSSH runs the workflow of DESIGN.md section 3 end
// to end through the HTTP API, four people and an admin, onto five real
// sshd hosts over rsync: host keys refused until trusted, the eight steps
// with their separation-of-duties refusals, a second release, a rollback
// of production, and the audit trail exported and verified.
func TestFlowEightStepsOverSSH(t *testing.T) {
	c := sshtest.Start(t, 5)
	e := apitest.New(t, apitest.Options{})
	repo := apitest.GitRepo(t, nil)
	root := e.Login("root", apitest.RootPassword)
	testHosts, prodHosts := []int{0, 1}, []int{2, 3, 4}
	e.Must(http.StatusCreated, "PUT", "/api/v1/projects/shop", root, sshProjectConfig(repo, c, testHosts, prodHosts))
	dev := e.AddUser(root, "dev", false, map[string][]string{"shop": {"developer"}})
	tester := e.AddUser(root, "tess", false, map[string][]string{"shop": {"tester"}})
	appr := e.AddUser(root, "alice", false, map[string][]string{"shop": {"approver"}})
	mgr := e.AddUser(root, "max", false, map[string][]string{"shop": {"manager"}})

	// 1. The developer opens a release; the app makes its branch.
	r := e.Must(http.StatusCreated, "POST", "/api/v1/releases", dev,
		map[string]any{"project": "shop", "branch": "feature-1", "create_branch": true, "title": "First"})
	id1 := apitest.Str(r.Body, "release", "id")
	if apitest.Str(r.Body, "release", "state") != "open" || gitRev(t, repo, "feature-1") != gitRev(t, repo, "master") {
		t.Fatalf("open: %s", r.Raw)
	}

	// 0. Host keys: nobody trusted them, so a deployment is refused on
	// every host with the key's fingerprint, and nothing lands there.
	for _, i := range testHosts {
		if st := apitest.Str(hostKeyState(e, dev, c, i), "state"); st != "unknown" {
			t.Fatalf("host %d before trust: %s", i, st)
		}
	}
	_, dep := deployAndWait(e, dev, id1, "test", "failed")
	checkKeyRefused(t, e, dev, c, testHosts, dep)
	k0 := hostKeyState(e, root, c, 0)
	refused(e, http.StatusForbidden, "POST", "/api/v1/hosts/trust", appr,
		map[string]any{"addr": c.Hosts[0].Addr, "key": apitest.Str(k0, "key")}, "trusting a host key", "admin")
	e.As(root).TrustHosts(c, append(slices.Clone(testHosts), prodHosts...)...)
	for i := range c.Hosts {
		if st := apitest.Str(hostKeyState(e, dev, c, i), "state"); st != "trusted" {
			t.Fatalf("host %d after trust: %s", i, st)
		}
	}

	// 2. A commit on the release's branch; 3. the developer deploys it to
	// test (the deploy fetches, so the new head is what goes).
	apitest.GitCommit(t, repo, "feature-1", map[string]string{"index.html": "v2\n"}, "change index.html")
	head1 := gitRev(t, repo, "feature-1")
	res, _ := deployAndWait(e, dev, id1, "test", "succeeded")
	if apitest.Str(res, "commit") != head1 {
		t.Fatalf("test deploy took %s, the branch head is %s", apitest.Str(res, "commit"), head1)
	}
	testVersion := apitest.Str(res, "version")
	for _, i := range testHosts {
		assertHostRuns(t, c, i, testVersion)
		assertHookRan(t, c, i, testVersion)
	}
	for _, i := range prodHosts {
		if _, err := os.Lstat(filepath.Join(c.Hosts[i].Path, "current")); !os.IsNotExist(err) {
			t.Fatalf("production host %d has a current before any production deploy: %v", i, err)
		}
	}
	if rel := e.Must(http.StatusOK, "GET", "/api/v1/releases/"+id1, dev, nil); apitest.Str(rel.Body, "release", "state") != "testing" ||
		apitest.Str(rel.Body, "release", "pinned_commit") != head1 {
		t.Fatalf("after the test deploy: %s", rel.Raw)
	}

	// 4. Only a tester passes it, and not the release's own requester.
	refused(e, http.StatusForbidden, "POST", "/api/v1/releases/"+id1+"/test", dev, map[string]any{"passed": true}, "tester role")
	e.Must(http.StatusOK, "PUT", "/api/v1/users/dev", root,
		map[string]any{"admin": false, "roles": map[string][]string{"shop": {"developer", "tester", "approver"}}})
	refused(e, http.StatusForbidden, "POST", "/api/v1/releases/"+id1+"/test", dev, map[string]any{"passed": true}, "their own release")
	e.Must(http.StatusOK, "POST", "/api/v1/releases/"+id1+"/test", tester, map[string]any{"passed": true, "note": "works"})

	// 5. Nobody approves their own release; production takes nothing
	// before approval.
	refused(e, http.StatusForbidden, "POST", "/api/v1/releases/"+id1+"/approve", dev, map[string]any{"note": "mine"},
		"nobody approves their own release")
	refused(e, http.StatusConflict, "POST", "/api/v1/releases/"+id1+"/deploy", appr, map[string]any{"env": "production"}, "approved")
	e.Must(http.StatusOK, "PUT", "/api/v1/users/dev", root,
		map[string]any{"admin": false, "roles": map[string][]string{"shop": {"developer"}}})
	r = e.Must(http.StatusOK, "POST", "/api/v1/releases/"+id1+"/approve", appr, map[string]any{"note": "go"})
	if apitest.Str(r.Body, "release", "approved_commit") != head1 {
		t.Fatalf("approve: %s", r.Raw)
	}

	// 6. The approver deploys production: three hosts, the approved commit.
	v1 := shipToProduction(t, e, c, appr, id1, head1, prodHosts)

	// 7. The manager accepts; 8. completes: the commit is tagged.
	r = e.Must(http.StatusOK, "POST", "/api/v1/releases/"+id1+"/accept", mgr, map[string]any{"note": "fine"})
	if apitest.Str(r.Body, "release", "state") != "accepted" {
		t.Fatalf("accept: %s", r.Raw)
	}
	r = e.Must(http.StatusOK, "POST", "/api/v1/releases/"+id1+"/complete", mgr, nil)
	if apitest.Str(r.Body, "release", "state") != "completed" || apitest.Str(r.Body, "release", "tag") != "release/"+v1 {
		t.Fatalf("complete: %s", r.Raw)
	}
	if tagged := gitRev(t, repo, "release/"+v1); tagged != head1 {
		t.Fatalf("tag release/%s at %s, deployed %s", v1, tagged, head1)
	}

	// A second release the same way, so production holds two versions.
	r = e.Must(http.StatusCreated, "POST", "/api/v1/releases", dev,
		map[string]any{"project": "shop", "branch": "feature-2", "create_branch": true, "title": "Second"})
	id2 := apitest.Str(r.Body, "release", "id")
	apitest.GitCommit(t, repo, "feature-2", map[string]string{"index.html": "v3\n"}, "change index.html")
	head2 := gitRev(t, repo, "feature-2")
	res, _ = deployAndWait(e, dev, id2, "test", "succeeded")
	for _, i := range testHosts {
		assertHostRuns(t, c, i, apitest.Str(res, "version"))
	}
	e.Must(http.StatusOK, "POST", "/api/v1/releases/"+id2+"/test", tester, map[string]any{"passed": true})
	e.Must(http.StatusOK, "POST", "/api/v1/releases/"+id2+"/approve", appr, map[string]any{"note": "go"})
	v2 := shipToProduction(t, e, c, appr, id2, head2, prodHosts)
	e.Must(http.StatusOK, "POST", "/api/v1/releases/"+id2+"/accept", mgr, nil)
	e.Must(http.StatusOK, "POST", "/api/v1/releases/"+id2+"/complete", mgr, nil)
	if v1 == v2 {
		t.Fatalf("two releases, one version %s", v1)
	}

	// Roll production back to the first version: every host still holds
	// it, so the timeline offers it as an instant switch.
	before := prodVersions(e, appr)
	if e1 := versionEntry(t, before, v1, "deploy"); e1["instant"] != true || e1["current"] == true {
		t.Fatalf("before the rollback, %s: %v", v1, e1)
	}
	refused(e, http.StatusForbidden, "POST", "/api/v1/projects/shop/environments/production/rollback", dev,
		map[string]any{"version": v1, "reason": "not mine to do"}, "approver role")
	r = e.Must(http.StatusAccepted, "POST", "/api/v1/projects/shop/environments/production/rollback", appr,
		map[string]any{"version": v1, "reason": "checkout broken in " + v2})
	if apitest.Str(r.Body, "kind") != "rollback" || apitest.Str(r.Body, "commit") != head1 {
		t.Fatalf("rollback: %s", r.Raw)
	}
	rb := e.WaitDeployment(appr, apitest.Str(r.Body, "deployment"), 2*time.Minute)
	if rb["state"] != "succeeded" {
		t.Fatalf("rollback deployment: %v", rb)
	}
	// Kept everywhere: the rollback only switches, it transfers nothing.
	if steps := stepCounts(rb); steps["switch"] != len(prodHosts) || steps["export"]+steps["staging"]+steps["transfer"] != 0 {
		t.Fatalf("rollback steps %v: want %d switches and no export, staging or transfer", steps, len(prodHosts))
	}
	for _, i := range prodHosts {
		assertHostRuns(t, c, i, v1)
	}
	after := prodVersions(e, appr)
	if apitest.Str(after, "current") != v1 {
		t.Fatalf("after the rollback, current %q, want %s", apitest.Str(after, "current"), v1)
	}
	back := versionEntry(t, after, v1, "rollback")
	if back["current"] != true || apitest.Str(back, "by") != "alice" || back["instant"] != true {
		t.Fatalf("rollback entry: %v", back)
	}
	if e2 := versionEntry(t, after, v2, "deploy"); e2["instant"] != true || e2["current"] == true {
		t.Fatalf("after the rollback, %s: %v", v2, e2)
	}

	checkFlowAudit(t, e, mgr, auditExpect{approver: "alice", releases: []string{id1, id2}, v1: v1, v2: v2,
		prodAddrs: addrsOf(c, prodHosts)})
}

// checkKeyRefused checks a deployment refused on unknown host keys: each
// host's error and GET /api/v1/hosts carry the key's real fingerprint.
func checkKeyRefused(t *testing.T, e *apitest.Env, token string, c *sshtest.Cluster, idx []int, dep map[string]any) {
	t.Helper()
	hosts, _ := dep["hosts"].([]any)
	errs := map[string]string{}
	for _, h := range hosts {
		hm, _ := h.(map[string]any)
		errs[apitest.Str(hm, "host")] = apitest.Str(hm, "error")
	}
	listed := map[string]map[string]any{}
	for _, h := range e.Must(http.StatusOK, "GET", "/api/v1/hosts", token, nil).Body["hosts"].([]any) {
		hm, _ := h.(map[string]any)
		listed[apitest.Str(hm, "host_port")] = hm
	}
	for _, i := range idx {
		fp := ssh.FingerprintSHA256(c.HostKey(i))
		if msg := errs[c.Hosts[i].Addr]; !strings.Contains(msg, "unknown") || !strings.Contains(msg, fp) {
			t.Fatalf("host %d: error %q, want an unknown key %s (deployment: %v)", i, msg, fp, dep)
		}
		h := listed[c.HostPort(i)]
		if apitest.Str(h, "key", "state") != "unknown" || apitest.Str(h, "key", "offered_fingerprint") != fp {
			t.Fatalf("GET /hosts for host %d: %v, want unknown offering %s", i, h, fp)
		}
		if _, err := os.Lstat(filepath.Join(c.Hosts[i].Path, "current")); !os.IsNotExist(err) {
			t.Fatalf("host %d has a current although its key was refused: %v", i, err)
		}
	}
}

// shipToProduction deploys an approved release to production as the
// approver and checks every production host runs it; it returns the
// version.
func shipToProduction(t *testing.T, e *apitest.Env, c *sshtest.Cluster, appr, id, commit string, prodHosts []int) string {
	t.Helper()
	res, dep := deployAndWait(e, appr, id, "production", "succeeded")
	if apitest.Str(res, "commit") != commit {
		t.Fatalf("production took %s, approved %s", apitest.Str(res, "commit"), commit)
	}
	v := apitest.Str(res, "version")
	if hs, _ := dep["hosts"].([]any); len(hs) != len(prodHosts) {
		t.Fatalf("production deployment on %d hosts, want %d: %v", len(hs), len(prodHosts), dep)
	}
	for _, h := range dep["hosts"].([]any) {
		if hm, _ := h.(map[string]any); apitest.Str(hm, "version") != v {
			t.Fatalf("production host %v", hm)
		}
	}
	for _, i := range prodHosts {
		assertHostRuns(t, c, i, v)
		assertHookRan(t, c, i, v)
	}
	return v
}

// stepCounts counts a deployment's steps by name.
func stepCounts(dep map[string]any) map[string]int {
	out := map[string]int{}
	steps, _ := dep["steps"].([]any)
	for _, st := range steps {
		sm, _ := st.(map[string]any)
		out[apitest.Str(sm, "name")]++
	}
	return out
}

func prodVersions(e *apitest.Env, token string) map[string]any {
	e.T.Helper()
	return e.Must(http.StatusOK, "GET", "/api/v1/projects/shop/environments/production/versions", token, nil).Body
}

// versionEntry finds the newest timeline entry of version of kind.
func versionEntry(t *testing.T, ev map[string]any, version, kind string) map[string]any {
	t.Helper()
	tl, _ := ev["timeline"].([]any)
	for i := len(tl) - 1; i >= 0; i-- {
		m, _ := tl[i].(map[string]any)
		if apitest.Str(m, "version") == version && apitest.Str(m, "kind") == kind {
			return m
		}
	}
	t.Fatalf("no %s entry of %s in %v", kind, version, ev)
	return nil
}

func addrsOf(c *sshtest.Cluster, idx []int) []string {
	var out []string
	for _, i := range idx {
		out = append(out, c.Hosts[i].Addr)
	}
	return out
}

// auditExpect is what the flow's audit trail must show.
type auditExpect struct {
	approver  string
	releases  []string // each approved by approver
	v1, v2    string   // production versions; v1 also rolled back to
	prodAddrs []string
}

// checkFlowAudit reads the audit export as CSV and as a JSONL archive,
// and the chain's verification.
func checkFlowAudit(t *testing.T, e *apitest.Env, token string, want auditExpect) {
	t.Helper()
	r := e.Must(http.StatusOK, "GET", "/api/v1/audit/export?format=csv", token, nil)
	rows, err := csv.NewReader(bytes.NewReader(r.Raw)).ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("csv: %v (%d rows)", err, len(rows))
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, h := range []string{"actor", "action", "environment", "release", "version", "host", "summary"} {
		if _, ok := col[h]; !ok {
			t.Fatalf("csv header %v lacks %s", rows[0], h)
		}
	}
	approved := map[string]bool{}
	switched := map[string]map[string]int{} // version -> production host -> switches
	rollbacks := 0
	for _, row := range rows[1:] {
		get := func(h string) string { return row[col[h]] }
		switch get("action") {
		case "release.approved":
			if get("actor") == want.approver {
				approved[get("release")] = true
			}
		case "deploy.host_switched":
			if get("environment") == "production" {
				if switched[get("version")] == nil {
					switched[get("version")] = map[string]int{}
				}
				switched[get("version")][get("host")]++
			}
		case "rollback.requested":
			if get("actor") == want.approver && get("version") == want.v1 && get("environment") == "production" {
				rollbacks++
			}
		}
	}
	for _, id := range want.releases {
		if !approved[id] {
			t.Errorf("csv: no release.approved of %s by %s", id, want.approver)
		}
	}
	for _, h := range want.prodAddrs {
		// v1 was switched to twice on every host: deployed, then rolled back to.
		if switched[want.v1][h] != 2 || switched[want.v2][h] != 1 {
			t.Errorf("csv: host %s switched to %s %d times (want 2), to %s %d times (want 1)",
				h, want.v1, switched[want.v1][h], want.v2, switched[want.v2][h])
		}
	}
	if rollbacks != 1 {
		t.Errorf("csv: %d rollback.requested rows of %s by %s, want 1", rollbacks, want.v1, want.approver)
	}

	head := e.Desk.Log.Head().Position
	r = e.Must(http.StatusOK, "GET", "/api/v1/audit/export?format=jsonl", token, nil)
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	if err := os.WriteFile(path, r.Raw, 0o600); err != nil {
		t.Fatal(err)
	}
	report, err := events.VerifyArchive(path)
	if err != nil || !report.OK() {
		t.Fatalf("the exported archive does not verify: %v %v", err, report.Err())
	}
	if report.Count != head || report.Head.Position != head {
		t.Fatalf("archive holds %d events up to %d, the log's head is %d", report.Count, report.Head.Position, head)
	}
	v := e.Must(http.StatusOK, "GET", "/api/v1/audit/verify", token, nil)
	if v.Body["ok"] != true || v.Body["count"] != float64(head) {
		t.Fatalf("verify: %s (head %d)", v.Raw, head)
	}
}

// TestDeployApprovalInvalidatedByNewCommit: an approval is bound to the
// commit that was tested. Production ships exactly that commit even when
// the branch has moved since; the newer commit reaches production only
// after its own test deploy, test and approval. (A local target: this is
// about the workflow's rules, not the transport.)
func TestDeployApprovalInvalidatedByNewCommit(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	repo := apitest.GitRepo(t, nil)
	root := e.Login("root", apitest.RootPassword)
	target := t.TempDir()
	e.Must(http.StatusCreated, "PUT", "/api/v1/projects/shop", root, localProjectConfig(repo, target))
	dev := e.AddUser(root, "dev", false, map[string][]string{"shop": {"developer"}})
	tester := e.AddUser(root, "tess", false, map[string][]string{"shop": {"tester"}})
	appr := e.AddUser(root, "alice", false, map[string][]string{"shop": {"approver"}})
	mgr := e.AddUser(root, "max", false, map[string][]string{"shop": {"manager"}})
	prod := filepath.Join(target, "prod")

	r := e.Must(http.StatusCreated, "POST", "/api/v1/releases", dev,
		map[string]any{"project": "shop", "branch": "feature-1", "create_branch": true, "title": "First"})
	id := apitest.Str(r.Body, "release", "id")
	apitest.GitCommit(t, repo, "feature-1", map[string]string{"index.html": "c1\n"}, "change index.html")
	c1 := gitRev(t, repo, "feature-1")
	deployAndWait(e, dev, id, "test", "succeeded")
	e.Must(http.StatusOK, "POST", "/api/v1/releases/"+id+"/test", tester, map[string]any{"passed": true})
	r = e.Must(http.StatusOK, "POST", "/api/v1/releases/"+id+"/approve", appr, nil)
	if apitest.Str(r.Body, "release", "approved_commit") != c1 {
		t.Fatalf("approve: %s", r.Raw)
	}

	// The branch moves after the approval. The approved release takes no
	// new test deploy (it would void the approval behind the approver's
	// back): it has to be sent back first.
	apitest.GitCommit(t, repo, "feature-1", map[string]string{"index.html": "c2\n"}, "change index.html")
	c2 := gitRev(t, repo, "feature-1")
	refused(e, http.StatusConflict, "POST", "/api/v1/releases/"+id+"/deploy", dev, map[string]any{"env": "test"}, "approved")

	// Production ships the approved commit, not the branch head.
	res, dep := deployAndWait(e, appr, id, "production", "succeeded")
	if apitest.Str(res, "commit") != c1 || apitest.Str(dep, "commit") != c1 || !strings.HasSuffix(apitest.Str(res, "version"), "-"+c1[:7]) {
		t.Fatalf("production shipped %s (%s), approved %s, head %s", apitest.Str(res, "commit"), apitest.Str(res, "version"), c1, c2)
	}
	assertLocalRuns(t, prod, apitest.Str(res, "version"), "c1\n")

	// The manager refuses it, which clears the approval: production is
	// closed until the new commit is tested and approved.
	e.Must(http.StatusOK, "POST", "/api/v1/releases/"+id+"/refuse", mgr, map[string]any{"reason": "c2 must go too"})
	closed := func(state string) {
		t.Helper()
		refused(e, http.StatusConflict, "POST", "/api/v1/releases/"+id+"/deploy", appr, map[string]any{"env": "production"},
			"release "+id+" is "+state, "approved commit")
	}
	closed("open")
	res, _ = deployAndWait(e, dev, id, "test", "succeeded")
	if apitest.Str(res, "commit") != c2 {
		t.Fatalf("test deploy took %s, head %s", apitest.Str(res, "commit"), c2)
	}
	rel := e.Must(http.StatusOK, "GET", "/api/v1/releases/"+id, dev, nil)
	if apitest.Str(rel.Body, "release", "state") != "testing" || apitest.Str(rel.Body, "release", "pinned_commit") != c2 ||
		apitest.Str(rel.Body, "release", "approved_commit") != "" {
		t.Fatalf("after the new test deploy: %s", rel.Raw)
	}
	closed("testing")
	e.Must(http.StatusOK, "POST", "/api/v1/releases/"+id+"/test", tester, map[string]any{"passed": true})
	closed("tested")
	r = e.Must(http.StatusOK, "POST", "/api/v1/releases/"+id+"/approve", appr, nil)
	if apitest.Str(r.Body, "release", "approved_commit") != c2 {
		t.Fatalf("second approval: %s", r.Raw)
	}
	res, _ = deployAndWait(e, appr, id, "production", "succeeded")
	if apitest.Str(res, "commit") != c2 {
		t.Fatalf("production shipped %s, approved %s", apitest.Str(res, "commit"), c2)
	}
	assertLocalRuns(t, prod, apitest.Str(res, "version"), "c2\n")
}
