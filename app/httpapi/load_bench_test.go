package httpapi_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"releasedesk/app/httpapi/apitest"
	"releasedesk/events"
	"releasedesk/events/catalog"
)

// BenchmarkAPIUnderLoad is the API-under-load part of BenchmarkFleet
// (e2e/fleet_bench_test.go) without its sshd hosts, quick enough to work
// with: a desk on Badger in a fresh data directory, served over loopback
// HTTP with authentication and every middleware; 50 closed-loop clients,
// each alternating GET /api/v1/releases and GET /api/v1/deployments/{id}
// of a running 100-host deployment (parallel 20) whose events a goroutine
// appends as the runner does, one append per event (steps with commands
// and output the size of a real deployment's, host progress); and 20 SSE
// subscribers following /api/v1/stream, each of which must receive every
// event. The baseline, in the same run: the same clients for 5 s with no
// deployment running, asking for a finished deployment of the same size
// (its document, 1.3 MB, is as large as the running one's only at its
// end).
//
// Run it alone (timing):
//
//	go test -run '^$' -bench APIUnderLoad -benchtime 1x ./app/httpapi/
//
// What the hosts cost the machine is not reproduced: where sshd and rsync
// share the cores with the desk, every request waits longer for a core.
// RD_LOAD_HOGS=N starts N busy processes during the loaded part to stand
// in for them (default 0). RD_LOAD_SECONDS paces the deployment (default
// 30: its 2,300 events in about 35 s, some 65 a second, twice the rate of
// BenchmarkFleet's, whose hosts are slower).
func BenchmarkAPIUnderLoad(b *testing.B) {
	env := apitest.New(b, apitest.Options{NoRunner: true})
	token := env.Login("root", apitest.RootPassword)
	repo := apitest.GitRepo(b, map[string]string{"VERSION": "1\n"})
	env.Must(http.StatusCreated, "PUT", "/api/v1/projects/shop", token, apitest.LocalProject("shop", repo, b.TempDir()))
	for i := range 12 {
		env.Must(http.StatusCreated, "POST", "/api/v1/releases", token, map[string]any{"project": "shop",
			"branch": fmt.Sprintf("r%d", i), "create_branch": true, "title": fmt.Sprintf("release %d", i)})
	}
	seconds := loadEnvInt("RD_LOAD_SECONDS", 30)
	hogs := loadEnvInt("RD_LOAD_HOGS", 0)
	ctx := context.Background()
	fake := &fakeRunner{log: env.Desk.Log, hosts: loadHosts, parallel: loadParallel}
	last := "warm" // the baseline's deployment: finished, as large as the loaded one at its end
	fake.run(ctx, b, last, 0, func() {})

	b.ResetTimer()
	for i := range b.N {
		stop := make(chan struct{})
		time.AfterFunc(5*time.Second, func() { close(stop) })
		idle := apitest.Load(env.URL, token, last, loadClientCount, stop)

		from := env.Desk.Log.Head().Position
		var subs []*apitest.Stream
		for range loadSubscribers {
			sub, err := apitest.Subscribe(env.URL, token, from)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(sub.Close)
			subs = append(subs, sub)
		}
		stopHogs := startHogs(b, hogs)
		id := fmt.Sprintf("load%d", i)
		stop = make(chan struct{})
		loaded := make(chan apitest.LoadResult, 1)
		t0 := time.Now()
		n := fake.run(ctx, b, id, time.Duration(seconds)*time.Second, func() {
			// As the API answers a deploy: once the request is applied.
			if err := env.Desk.Set.WaitFor(ctx, env.Desk.Log.Head().Position); err != nil {
				b.Fatal(err)
			}
			go func() { loaded <- apitest.Load(env.URL, token, id, loadClientCount, stop) }()
		})
		span := time.Since(t0)
		close(stop)
		busy := <-loaded
		stopHogs()
		until := env.Desk.Log.Head().Position
		for j, s := range subs {
			if err := s.Check(from, until, 30*time.Second); err != nil {
				b.Fatalf("subscriber %d: %v", j, err)
			}
		}
		if idle.Errs+busy.Errs > 0 {
			b.Fatalf("errors: %d with no deployment, %d during it (first: %s%s)", idle.Errs, busy.Errs, idle.FirstErr, busy.FirstErr)
		}
		last = id
		doc := env.Must(http.StatusOK, "GET", "/api/v1/deployments/"+id, token, nil)
		rel50, rel99 := apitest.Quantile(busy.Releases, .5), apitest.Quantile(busy.Releases, .99)
		dep50, dep99 := apitest.Quantile(busy.Deploys, .5), apitest.Quantile(busy.Deploys, .99)
		irel50, irel99 := apitest.Quantile(idle.Releases, .5), apitest.Quantile(idle.Releases, .99)
		idep50, idep99 := apitest.Quantile(idle.Deploys, .5), apitest.Quantile(idle.Deploys, .99)
		b.Logf("deployment of %d hosts: %d events in %v (%.0f/s), its document %d KB at the end; %d clients, %d SSE subscribers (every event received), %d busy processes",
			loadHosts, n, span.Round(time.Millisecond), float64(n)/span.Seconds(), len(doc.Raw)>>10, loadClientCount, loadSubscribers, hogs)
		b.Logf("GET /api/v1/releases p50/p99: %v / %v during the deployment; %v / %v with none (baseline): %.1fx / %.1fx",
			ms(rel50), ms(rel99), ms(irel50), ms(irel99), ratio(rel50, irel50), ratio(rel99, irel99))
		b.Logf("GET /api/v1/deployments/{id} p50/p99: %v / %v during the deployment; %v / %v with none (baseline): %.1fx / %.1fx",
			ms(dep50), ms(dep99), ms(idep50), ms(idep99), ratio(dep50, idep50), ratio(dep99, idep99))
		b.Logf("requests: %.0f/s during the deployment, %.0f/s with none (baseline)",
			float64(busy.N)/span.Seconds(), float64(idle.N)/5)
		b.ReportMetric(float64(rel99.Microseconds())/1000, "releases-p99-ms")
		b.ReportMetric(float64(dep99.Microseconds())/1000, "deployment-p99-ms")
		b.ReportMetric(float64(irel99.Microseconds())/1000, "baseline-releases-p99-ms")
		b.ReportMetric(float64(idep99.Microseconds())/1000, "baseline-deployment-p99-ms")
	}
}

const (
	loadClientCount = 50
	loadSubscribers = 20
	loadHosts       = 100
	loadParallel    = 20
)

func loadEnvInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v >= 0 {
		return v
	}
	return def
}

func ms(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }

func ratio(a, b time.Duration) float64 { return float64(a) / float64(max(b, 1)) }

// fakeRunner appends a deployment's events as the runner does, one
// append per event, hosts in batches of parallel running at once.
type fakeRunner struct {
	log             events.Log
	hosts, parallel int
}

// hostSteps are a host's steps as the runner records them, with the
// sizes of a real deployment's: each a sequence of shell scripts (its
// argv as JSON, escapes and all, is cmd bytes long, and names a nonce of
// its own, so no two hosts' commands are the same) and its output.
var hostSteps = []struct {
	name   string
	cmd    int
	output string
}{
	{"connect", 0, ""},
	{"prepare", 2700, "\n%[1]s lock exit 0\n\n%[1]s prepare exit 0\n20261207121547-d9a5817\nversion=20261207121547-d9a5817\n" +
		"commit=d9a58177f24819386ba3392631dc1c42a5b5f080\ndeployment=d1\nwho=root\nwhen=2026-12-07T12:15:48Z\n\n" +
		"%[1]s current exit 0\n\n%[1]s release exit 4\n"},
	{"staging", 1550, ""},
	{"transfer", 940, "releasedesk: tar stream sent: 20975616 bytes (2000 files, 0 symlinks, 11 dirs, 20480000 bytes of file data)\n"},
	{"finalize", 1740, "\n%[1]s finalize exit 0\n\n%[1]s seal exit 0\n\n%[1]s seal exit 0\n"},
	{"switch", 1040, "\n%[1]s switch exit 0\n20261207121547-d9a5817\n20261207121549-d7e83ed\n\n%[1]s releases exit 0\n"},
	{"hook.post_release", 630, "live: 20261207121549-d7e83ed\n"},
	{"unlock", 1460, ""},
}

// stepCommand is a sequence's argv of about size bytes as JSON.
func stepCommand(name, nonce string, size int) []string {
	if size == 0 {
		return nil
	}
	const seq = "m=\"$1\"\nshift\nwhile [ $# -gt 0 ]; do\n\tname=\"$1\"\n\tn=\"$2\"\n\tshift 2\n\t(\n\t\texec \"$@\"\n\t)\n" +
		"\ts=$?\n\tprintf '\\n%s %s exit %d\\n' \"$m\" \"$name\" \"$s\"\n\t[ \"$s\" -eq 0 ] || exit \"$s\"\ndone\nexit 0"
	const line = "\tif [ -e \"$t\" ] || [ -L \"$t\" ]; then\n\t\trm -rf \"$t\" || exit 1\n\tfi\n"
	argv := []string{"sh", "-c", seq, "sh", nonce, name, "8", "sh", "-c", ""}
	var body strings.Builder
	for n := len(seq) + 120; n < size; n += len(line) + 12 { // quotes and escapes
		body.WriteString(line)
	}
	argv[len(argv)-1] = body.String()
	return append(argv, "sh", "/srv/www", "20261207121549-d7e83ed", "d1")
}

// run appends deployment id, spread over about dur (0: at once), calls
// requested once deploy.requested is appended, and returns how many
// events it appended.
func (f *fakeRunner) run(ctx context.Context, tb testing.TB, id string, dur time.Duration, requested func()) int {
	version, commit := "20261207120000-3f2a1b0", "3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"
	var mu sync.Mutex
	n := 0
	emit := func(typ string, data any) {
		e, err := events.NewEvent(typ, "runner", data)
		if err == nil {
			_, err = f.log.Append(ctx, "deploy/"+id, events.AnyVersion, e)
		}
		if err != nil {
			tb.Error(err)
		}
		mu.Lock()
		n++
		mu.Unlock()
	}
	addrs := make([]string, f.hosts)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("www@10.0.%d.%d:22", i/250, i%250+1)
	}
	var batches [][]string
	for b := range slices.Chunk(addrs, f.parallel) {
		batches = append(batches, b)
	}
	emit(catalog.TypeDeployRequested, map[string]any{"deployment": id, "kind": "deploy", "project": map[string]any{"id": "shop"},
		"environment": "production", "commit": commit, "version": version})
	requested()
	emit(catalog.TypeDeployStarted, catalog.Started{Deployment: id, Runner: "bench"})
	emit(catalog.TypeDeployPlanned, catalog.Planned{Deployment: id, Project: "shop", Environment: "production", Version: version,
		Commit: commit, Kind: "deploy", Batches: batches, Parallel: f.parallel, OnFailure: "halt", Files: 2000, Bytes: 20 << 20})
	// Each step lasts about dur / (batches * steps), give or take half.
	step := dur / time.Duration(len(batches)*len(hostSteps))
	pause := func(r *rand.Rand) {
		if step > 0 {
			time.Sleep(step/4 + time.Duration(r.Int64N(int64(step)/2+1)))
		}
	}
	for bi, batch := range batches {
		var wg sync.WaitGroup
		for hi, h := range batch {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(bi), uint64(hi)))
				for _, s := range hostSteps {
					sid := h + ":" + s.name
					nonce := fmt.Sprintf("rd-%024x", r.Uint64())
					emit(catalog.TypeStepStarted, catalog.StepStarted{Deployment: id, Step: sid, Name: s.name, Host: h,
						Command: stepCommand(s.name, nonce, s.cmd)})
					pause(r)
					if s.output != "" {
						emit(catalog.TypeStepOutput, catalog.StepOutput{Deployment: id, Step: sid, Host: h,
							Text: strings.ReplaceAll(s.output, "%[1]s", nonce)})
					}
					pause(r)
					emit(catalog.TypeStepFinished, catalog.StepFinished{Deployment: id, Step: sid, Host: h, DurationMS: step.Milliseconds()})
					switch s.name {
					case "finalize":
						emit(catalog.TypeHostStaged, catalog.HostEvent{Deployment: id, Project: "shop", Environment: "production",
							Host: h, Version: version, Commit: commit})
					case "switch":
						emit(catalog.TypeHostSwitched, catalog.HostEvent{Deployment: id, Project: "shop", Environment: "production",
							Host: h, Version: version, Commit: commit})
					}
				}
			})
		}
		wg.Wait()
	}
	emit(catalog.TypeDeploySucceeded, catalog.Finished{Deployment: id, Project: "shop", Environment: "production",
		Version: version, Commit: commit, Kind: "deploy", Switched: addrs, DurationMS: dur.Milliseconds()})
	return n
}

// startHogs starts n busy processes and returns what stops them.
func startHogs(tb testing.TB, n int) func() {
	var cmds []*exec.Cmd
	for range n {
		cmd := exec.Command("sh", "-c", "while :; do :; done")
		if err := cmd.Start(); err != nil {
			tb.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	return func() {
		for _, c := range cmds {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}
}
