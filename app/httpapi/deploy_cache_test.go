package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"releasedesk/app"
	"releasedesk/events"
	"releasedesk/events/catalog"
)

// bigDeployment appends a running deployment to hosts hosts, each with
// steps steps whose output is outBytes long, as the runner records one.
func bigDeployment(tb testing.TB, log events.Log, id string, hosts, steps, outBytes int) {
	tb.Helper()
	stream := "deploy/" + id
	var evs []events.Event
	add := func(typ string, data any) {
		e, err := events.NewEvent(typ, "runner", data)
		if err != nil {
			tb.Fatal(err)
		}
		evs = append(evs, e)
		if len(evs) == events.MaxEventsPerAppend {
			flush(tb, log, stream, evs)
			evs = nil
		}
	}
	version, commit := "20261126100000-3f2a1b0", "3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"
	add(catalog.TypeDeployRequested, map[string]any{"deployment": id, "kind": "deploy", "project": map[string]any{"id": "shop"},
		"environment": "production", "commit": commit, "version": version})
	add(catalog.TypeDeployStarted, catalog.Started{Deployment: id, Runner: "bench"})
	addrs := make([]string, hosts)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("www@10.0.%d.%d:22", i/250, i%250+1)
	}
	add(catalog.TypeDeployPlanned, catalog.Planned{Deployment: id, Project: "shop", Environment: "production", Version: version,
		Commit: commit, Kind: "deploy", Batches: [][]string{addrs}, Parallel: 20, OnFailure: "halt"})
	text := bytes.Repeat([]byte("sending incremental file list: assets/app.js\n"), outBytes/45+1)[:outBytes]
	for _, h := range addrs {
		for s := range steps {
			sid := fmt.Sprintf("%s:step%d", h, s)
			add(catalog.TypeStepStarted, catalog.StepStarted{Deployment: id, Step: sid, Name: fmt.Sprintf("step%d", s), Host: h,
				Command: []string{"sh", "-c", "cd /srv/www && true"}})
			add(catalog.TypeStepOutput, catalog.StepOutput{Deployment: id, Step: sid, Host: h, Text: string(text)})
			add(catalog.TypeStepFinished, catalog.StepFinished{Deployment: id, Step: sid, Host: h, DurationMS: 12})
		}
	}
	flush(tb, log, stream, evs)
}

func flush(tb testing.TB, log events.Log, stream string, evs []events.Event) {
	if len(evs) == 0 {
		return
	}
	if _, err := log.Append(context.Background(), stream, events.AnyVersion, evs...); err != nil {
		tb.Fatal(err)
	}
}

// The kept document is served while the deployment is unchanged, and
// rebuilt as soon as one of its events lands.
func TestDeploymentDocCache(t *testing.T) {
	desk, srv := cacheDesk(t)
	ctx := context.Background()
	bigDeployment(t, desk.Log, "big", 10, 3, 200)
	if err := desk.Set.WaitFor(ctx, desk.Log.Head().Position); err != nil {
		t.Fatal(err)
	}
	first, err := srv.deploymentDoc(ctx, "big", nil)
	if err != nil {
		t.Fatal(err)
	}
	var view struct{ Steps []any }
	if err := json.Unmarshal(first, &view); err != nil || len(view.Steps) != 30 {
		t.Fatalf("%d steps (%v), want 30", len(view.Steps), err)
	}
	if e := srv.deployDocs.entries["big"]; e == nil || e.rev != mustRev(t, desk, "big") {
		t.Fatal("the document was not kept")
	}
	again, _ := srv.deploymentDoc(ctx, "big", nil)
	if &again[0] != &first[0] {
		t.Fatal("the same revision was built again, not served from the cache")
	}
	// The document is what a fresh build gives, byte for byte.
	if fresh := freshDoc(t, desk, "big"); !bytes.Equal(first, fresh) {
		t.Fatalf("the kept document differs from a fresh one:\n%s\n%s", first, fresh)
	}
	flush(t, desk.Log, "deploy/big", []events.Event{mustEvent(t, catalog.TypeStepOutput,
		catalog.StepOutput{Deployment: "big", Step: "www@10.0.0.1:22:step0", Host: "www@10.0.0.1:22", Text: "more\n"})})
	if err := desk.Set.WaitFor(ctx, desk.Log.Head().Position); err != nil {
		t.Fatal(err)
	}
	after, _ := srv.deploymentDoc(ctx, "big", nil)
	if bytes.Equal(first, after) || !bytes.Contains(after, []byte(`more\n`)) {
		t.Fatal("a new event of the deployment did not change its document")
	}
}

// freshDoc is deployment id's document as writeJSON writes the view.
func freshDoc(t *testing.T, desk *app.Desk, id string) []byte {
	t.Helper()
	dep, err := desk.Deployment(id)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	writeJSON(rec, http.StatusOK, viewDeployment(dep, ""))
	return rec.Body.Bytes()
}

// cacheDesk is a desk on a fresh data directory (no runner) and a server
// over it, both closed at the end.
func cacheDesk(tb testing.TB) (*app.Desk, *Server) {
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	desk, err := app.OpenDesk(context.Background(), app.DeskConfig{Data: app.DataDir{Path: tb.TempDir()}, Logger: quiet, NoRunner: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(desk.Close)
	return desk, NewServer(ServerConfig{Desk: desk, Logger: quiet})
}

func mustRev(t *testing.T, d *app.Desk, id string) uint64 {
	rev, ok := d.Set.Deployments.Revision(id)
	if !ok {
		t.Fatalf("no deployment %s", id)
	}
	return rev
}

func mustEvent(t *testing.T, typ string, data any) events.Event {
	e, err := events.NewEvent(typ, "runner", data)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// BenchmarkDeploymentDoc: 50 HTTP clients at once ask for a 100-host
// deployment's document (8 steps a host, 300 bytes of output each), as
// they do while it runs: served from the kept document, and, as the
// baseline in the same run, built and encoded for every request (what the
// API did before). Both handlers skip authentication alike.
func BenchmarkDeploymentDoc(b *testing.B) {
	desk, srv := cacheDesk(b)
	bigDeployment(b, desk.Log, "big", 100, 8, 300)
	if err := desk.Set.WaitFor(context.Background(), desk.Log.Head().Position); err != nil {
		b.Fatal(err)
	}
	built := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dep, _ := desk.Deployment("big")
		writeJSON(w, http.StatusOK, viewDeployment(dep, ""))
	}))
	defer built.Close()
	kept := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		doc, _ := srv.deploymentDoc(r.Context(), "big", nil)
		writeEncodedJSON(w, http.StatusOK, doc)
	}))
	defer kept.Close()
	run := func(url string) (p50, p99 time.Duration, size int) {
		const clients, each = 50, 10
		var mu sync.Mutex
		var lat []time.Duration
		var wg sync.WaitGroup
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range each {
					start := time.Now()
					res, err := client.Get(url)
					if err != nil {
						b.Error(err)
						return
					}
					n, _ := io.Copy(io.Discard, res.Body)
					res.Body.Close()
					d := time.Since(start)
					mu.Lock()
					lat, size = append(lat, d), int(n)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		return lat[len(lat)/2], lat[len(lat)*99/100], size
	}
	b.ResetTimer()
	for range b.N {
		bp50, bp99, size := run(built.URL)
		cp50, cp99, _ := run(kept.URL)
		b.ReportMetric(float64(cp99.Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(bp99.Microseconds())/1000, "baseline-p99-ms")
		b.Logf("a %d KB document, 50 clients x 10 GETs: kept p50 %v p99 %v; built for every request (baseline) p50 %v p99 %v: p99 %.1fx lower",
			size>>10, cp50.Round(time.Microsecond), cp99.Round(time.Microsecond), bp50.Round(time.Microsecond), bp99.Round(time.Microsecond), float64(bp99)/float64(cp99))
	}
}
