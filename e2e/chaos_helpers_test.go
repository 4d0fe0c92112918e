package e2e

// Helpers of the chaos tests (make chaos; a shortened form under make
// test): the counts of a short and a full run, the results each test
// records for docs/RELIABILITY.md, a fleet fixture (a serve process, one
// user per role, real sshd hosts, a git repository and a project) and the
// checks every fault ends with (the chain verifies, what was acknowledged
// is still there, every host's current is a whole release).

import (
	"bufio"
	crand "crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"releasedesk/app/httpapi/apitest"
	"releasedesk/runner/sshtest"
)

// chaosFull says the full counts run (make chaos sets RD_CHAOS=full).
func chaosFull() bool { return os.Getenv("RD_CHAOS") == "full" }

// chaosCount is short under go test, full under make chaos.
func chaosCount(short, full int) int {
	if chaosFull() {
		return full
	}
	return short
}

// chaosResult is one fault or attack as docs/RELIABILITY.md reports it.
type chaosResult struct {
	Order    int      `json:"order"`
	Name     string   `json:"name"`
	How      string   `json:"how"`
	Trials   int      `json:"trials"`
	Failures int      `json:"failures"`
	Seconds  float64  `json:"seconds"`
	Notes    []string `json:"notes,omitempty"`
	Bugs     []string `json:"bugs,omitempty"` // app bugs the trials met (not test failures)
	Full     bool     `json:"full"`
}

// chaosReport collects one test's result and writes it, when
// RD_CHAOS_RESULTS names a directory, as <dir>/<order>-<key>.json at the
// end of the test (failures then count the test's own failure too).
type chaosReport struct {
	t     *testing.T
	key   string
	start time.Time
	mu    sync.Mutex
	r     chaosResult
}

func newChaosReport(t *testing.T, order int, key, name, how string) *chaosReport {
	rep := &chaosReport{t: t, key: key, start: time.Now(),
		r: chaosResult{Order: order, Name: name, How: how, Full: chaosFull()}}
	t.Cleanup(rep.write)
	return rep
}

// trial counts one trial, failed when ok is false.
func (r *chaosReport) trial(ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.r.Trials++
	if !ok {
		r.r.Failures++
	}
}

// note adds a line to the result (a figure, an observation).
func (r *chaosReport) note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.r.Notes = append(r.r.Notes, fmt.Sprintf(format, args...))
}

// bug records an app bug the trial met, once per text.
func (r *chaosReport) bug(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	msg := fmt.Sprintf(format, args...)
	for _, b := range r.r.Bugs {
		if b == msg {
			return
		}
	}
	r.r.Bugs = append(r.r.Bugs, msg)
}

func (r *chaosReport) write() {
	dir := os.Getenv("RD_CHAOS_RESULTS")
	if dir == "" {
		return
	}
	r.mu.Lock()
	res := r.r
	r.mu.Unlock()
	res.Seconds = time.Since(r.start).Seconds()
	if r.t.Failed() && res.Failures == 0 {
		res.Failures = 1
		if res.Trials == 0 {
			res.Trials = 1
		}
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	_ = os.MkdirAll(dir, 0o755)
	_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("%02d-%s.json", res.Order, r.key)), b, 0o644)
}

const chaosPassword = "chaos-password-1"

// chaosRoles are the users of a fleet, each with one role on "fleet"
// (none for "nobody"); root is the bootstrapped admin.
var chaosRoles = map[string]string{
	"dev": "developer", "tess": "tester", "appr": "approver", "mgr": "manager", "nobody": "",
}

// chaosOpts shapes the fleet's project.
type chaosOpts struct {
	hosts     int
	files     int    // files in the repository (default 40)
	big       int    // bytes of an incompressible big.bin, new in each commit (0: none)
	onFailure string // halt | continue
	parallel  int
	batch     int
	hooks     string // YAML lines under hooks: (indented by 2)
	env       string // YAML lines under env: (indented by 2)
	notify    string // YAML lines under notify: (indented by 2)
	hostPaths map[int]string
	appEnv    []string
	data      string // the data directory (default: a temp dir)
	// launch, when set, starts the app instead (with its user root made):
	// an instance of a server on PostgreSQL, say.
	launch func(t *testing.T) *appProc
}

// chaosFleet is a running app with its users, hosts, repository and a
// release "r1" of project "fleet" to deploy to "prod".
type chaosFleet struct {
	t       *testing.T
	opts    chaosOpts
	app     *appProc
	data    string
	root    *apitest.Caller
	users   map[string]*apitest.Caller
	cl      *sshtest.Cluster
	repo    string
	release string
	commits int
	paths   []string // each host's target path
}

func newChaosFleet(t *testing.T, o chaosOpts) *chaosFleet {
	t.Helper()
	return newChaosFleetWith(t, o, nil)
}

// newChaosFleetWith runs setup once the hosts run, before the project is
// configured (to change f.paths, say).
func newChaosFleetWith(t *testing.T, o chaosOpts, setup func(*chaosFleet)) *chaosFleet {
	t.Helper()
	if o.files == 0 {
		o.files = 40
	}
	if o.onFailure == "" {
		o.onFailure = "halt"
	}
	if o.parallel == 0 {
		o.parallel = o.hosts
	}
	f := &chaosFleet{t: t, opts: o, data: o.data, users: map[string]*apitest.Caller{}}
	if f.data == "" {
		f.data = t.TempDir()
	}
	if o.launch != nil {
		f.app = o.launch(t)
	} else {
		addUser(t, f.data, "root", chaosPassword, true)
		f.app = startApp(t, f.data, o.appEnv...)
	}
	f.root = apitest.Login(t, f.app.URL, "root", chaosPassword)
	f.cl = sshtest.Start(t, o.hosts)
	for i, h := range f.cl.Hosts {
		p := h.Path
		if o.hostPaths[i] != "" {
			p = o.hostPaths[i]
		}
		f.paths = append(f.paths, p)
	}
	if setup != nil {
		setup(f)
	}
	f.repo = apitest.GitRepo(t, f.tree("base"))
	f.root.Must(http.StatusCreated, "PUT", "/api/v1/projects/fleet", f.projectYAML())
	for name, role := range chaosRoles {
		roles := map[string][]string{}
		if role != "" {
			roles["fleet"] = []string{role}
		}
		f.root.Must(http.StatusCreated, "POST", "/api/v1/users",
			map[string]any{"name": name, "password": chaosPassword, "roles": roles})
		f.users[name] = apitest.Login(t, f.app.URL, name, chaosPassword)
	}
	f.root.TrustHosts(f.cl)
	r := f.users["dev"].Must(http.StatusCreated, "POST", "/api/v1/releases",
		map[string]any{"project": "fleet", "branch": "r1", "create_branch": true, "title": "chaos"})
	f.release = r.Body["release"].(map[string]any)["id"].(string)
	apitest.Git(t, f.repo, "checkout", "-q", "r1")
	return f
}

// projectYAML is the fleet's configuration.
func (f *chaosFleet) projectYAML() string {
	o := f.opts
	return fleetConfig{repo: f.repo, cl: f.cl, paths: f.paths, parallel: o.parallel, batch: o.batch, onFailure: o.onFailure,
		hooks: o.hooks, env: o.env, notify: o.notify}.yaml()
}

// chaosFiles is a tree of n files whose content names the mark.
func chaosFiles(n int, mark string) map[string]string {
	files := map[string]string{}
	for i := range n {
		files[fmt.Sprintf("d%d/f%03d.txt", i%4, i)] = fmt.Sprintf("%s %d %s\n", mark, i, strings.Repeat("x", 64))
	}
	files["MARK"] = mark + "\n"
	return files
}

// commit writes a new version of every file on the release branch and
// returns its mark.
func (f *chaosFleet) commit() string {
	f.commits++
	mark := fmt.Sprintf("c%d", f.commits)
	apitest.GitCommit(f.t, f.repo, "", f.tree(mark), mark)
	return mark
}

// tree is the repository's content for a mark.
func (f *chaosFleet) tree(mark string) map[string]string {
	files := chaosFiles(f.opts.files, mark)
	if f.opts.big > 0 {
		b := make([]byte, f.opts.big)
		_, _ = crand.Read(b)
		files["big.bin"] = string(b)
	}
	return files
}

// deploy asks for a deployment of the release to prod as dev.
func (f *chaosFleet) deploy() (id, version string) {
	f.t.Helper()
	d := f.users["dev"].Must(http.StatusAccepted, "POST", "/api/v1/releases/"+f.release+"/deploy", map[string]any{"env": "prod"})
	return d.Body["deployment"].(string), d.Body["version"].(string)
}

// relogin points every client at a (re)started app and signs them in.
func (f *chaosFleet) relogin() {
	f.t.Helper()
	f.root = apitest.Login(f.t, f.app.URL, "root", chaosPassword)
	for name := range f.users {
		f.users[name] = apitest.Login(f.t, f.app.URL, name, chaosPassword)
	}
}

var chaosVersionRe = regexp.MustCompile(`^[0-9]{14}-[0-9a-f]{7}$`)

// hostCurrent reads host i's current: the version it names and whether it
// is a whole release (a version-named dir with REVISION saying so, every
// file of the commit there with its content).
func (f *chaosFleet) hostCurrent(i int) (version string, err error) {
	p := f.paths[i]
	target, err := os.Readlink(filepath.Join(p, "current"))
	if err != nil {
		return "", err
	}
	version = filepath.Base(target)
	if !chaosVersionRe.MatchString(version) {
		return version, fmt.Errorf("current -> %s: not a version", target)
	}
	dir := filepath.Join(p, "releases", version)
	rev, err := os.ReadFile(filepath.Join(dir, "REVISION"))
	if err != nil {
		return version, err
	}
	if !strings.Contains(string(rev), "version="+version+"\n") {
		return version, fmt.Errorf("%s: REVISION %q does not name it", version, rev)
	}
	mark, err := os.ReadFile(filepath.Join(dir, "MARK"))
	if err != nil {
		return version, err
	}
	want := chaosFiles(f.opts.files, strings.TrimSpace(string(mark)))
	for name, content := range want {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(b) != content {
			return version, fmt.Errorf("%s: %s incomplete (%v)", version, name, err)
		}
	}
	if f.opts.big > 0 {
		st, err := os.Stat(filepath.Join(dir, "big.bin"))
		if err != nil || st.Size() != int64(f.opts.big) {
			return version, fmt.Errorf("%s: big.bin incomplete (%v)", version, err)
		}
	}
	return version, nil
}

// checkHosts fails unless every host's current is whole; it returns the
// versions.
func (f *chaosFleet) checkHosts() ([]string, error) {
	var vs []string
	for i := range f.paths {
		v, err := f.hostCurrent(i)
		if err != nil {
			return vs, fmt.Errorf("host %d: %w", i, err)
		}
		vs = append(vs, v)
	}
	return vs, nil
}

// verify asks the app to walk the chain.
func (f *chaosFleet) verify(c *apitest.Caller) error {
	r := c.Call("GET", "/api/v1/audit/verify", nil)
	if r.Status != http.StatusOK || r.Body["ok"] != true {
		return fmt.Errorf("audit/verify: %d %s", r.Status, r.Raw)
	}
	return nil
}

// chaosVerifyCLI runs `releasedesk events verify` on a data directory no app
// holds.
func chaosVerifyCLI(t testing.TB, data string) error {
	out, err := exec.Command(sharedBinary(t), "events", "verify", "--data", data, "--log-level", "warning").CombinedOutput()
	if err != nil {
		return fmt.Errorf("events verify: %v: %s", err, out)
	}
	return nil
}

// head is the app's log head from health.
func chaosHead(base string) (pos uint64, hash string, err error) {
	res, err := http.Get(base + "/api/v1/health")
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	var h struct {
		Events struct {
			Head struct {
				Position uint64 `json:"position"`
				Hash     string `json:"hash"`
			} `json:"head"`
		} `json:"events"`
	}
	if err := json.NewDecoder(res.Body).Decode(&h); err != nil {
		return 0, "", err
	}
	return h.Events.Head.Position, h.Events.Head.Hash, nil
}

// chaosEvent is one event of a JSONL export.
type chaosEvent struct {
	Position uint64 `json:"position"`
	Stream   string `json:"stream"`
	Type     string `json:"type"`
	Hash     string `json:"hash"`
}

// export reads the whole log through GET /api/v1/audit/export?format=jsonl.
func (f *chaosFleet) export(c *apitest.Caller) (map[uint64]chaosEvent, []byte, error) {
	r := c.Call("GET", "/api/v1/audit/export?format=jsonl", nil)
	if r.Status != http.StatusOK {
		return nil, r.Raw, fmt.Errorf("export: %d %s", r.Status, r.Raw)
	}
	out := map[uint64]chaosEvent{}
	sc := bufio.NewScanner(strings.NewReader(string(r.Raw)))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var e chaosEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Position == 0 {
			continue // the header line
		}
		out[e.Position] = e
	}
	return out, r.Raw, nil
}

// chaosSseRecorder follows GET /api/v1/stream and keeps every event it was
// sent: what the app acknowledged as written.
type chaosSseRecorder struct {
	mu   sync.Mutex
	seen map[uint64]chaosEvent
	last uint64
	stop func()
	done <-chan struct{} // closed when the stream ended
}

func chaosFollowStream(t testing.TB, base, token string, since uint64) *chaosSseRecorder {
	t.Helper()
	s := &chaosSseRecorder{seen: map[uint64]chaosEvent{}}
	s.stop, s.done = streamData(t, base, token, "?since="+strconv.FormatUint(since, 10), func(data []byte, _ time.Time) bool {
		var e chaosEvent
		if json.Unmarshal(data, &e) == nil && e.Position > 0 {
			s.mu.Lock()
			s.seen[e.Position] = e
			if e.Position > s.last {
				s.last = e.Position
			}
			s.mu.Unlock()
		}
		return true
	})
	return s
}

func (s *chaosSseRecorder) close() { s.stop() }

func (s *chaosSseRecorder) snapshot() map[uint64]chaosEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[uint64]chaosEvent, len(s.seen))
	for k, v := range s.seen {
		out[k] = v
	}
	return out
}

// waitState polls a deployment until pred accepts it or timeout passes.
func waitFor(c *apitest.Caller, id string, timeout time.Duration, pred func(map[string]any) bool) (map[string]any, bool) {
	deadline := time.Now().Add(timeout)
	for {
		r, err := c.Try("GET", "/api/v1/deployments/"+url.PathEscape(id), nil)
		if err == nil && r.Status == http.StatusOK && pred(r.Body) {
			return r.Body, true
		}
		if time.Now().After(deadline) {
			return r.Body, false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func chaosTerminal(state any) bool {
	switch state {
	case "succeeded", "failed", "cancelled", "interrupted":
		return true
	}
	return false
}

// chaosHostsOf is a deployment's host entries by address.
func chaosHostsOf(dep map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	hs, _ := dep["hosts"].([]any)
	for _, h := range hs {
		m, _ := h.(map[string]any)
		if m != nil {
			out[fmt.Sprint(m["host"])] = m
		}
	}
	return out
}

// matchRecorded compares what the app says each host of prod runs (GET
// .../versions) with the host's real current.
func (f *chaosFleet) matchRecorded() error {
	r := f.root.Call("GET", "/api/v1/projects/fleet/environments/prod/versions", nil)
	if r.Status != http.StatusOK {
		return fmt.Errorf("versions: %d %s", r.Status, r.Raw)
	}
	says := map[string]string{}
	hs, _ := r.Body["hosts"].([]any)
	for _, h := range hs {
		m := h.(map[string]any)
		v, _ := m["version"].(string)
		says[fmt.Sprint(m["host"])] = v
	}
	for i, h := range f.cl.Hosts {
		real, err := f.hostCurrent(i)
		if err != nil {
			return err
		}
		if says[h.Addr] != real {
			return fmt.Errorf("host %d runs %s but the app says %q", i, real, says[h.Addr])
		}
	}
	return nil
}
