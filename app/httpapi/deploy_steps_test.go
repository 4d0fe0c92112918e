package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"releasedesk/app"
	"releasedesk/events"
	"releasedesk/events/catalog"
	"releasedesk/projections"
)

// While a deployment runs, each document built from the last one's steps
// is byte for byte the document built whole, through every kind of
// change; the steps that did not change are not encoded again, and once
// the deployment ends nothing is kept of its steps but its document.
func TestDeploymentDocIncremental(t *testing.T) {
	desk, srv := cacheDesk(t)
	ctx := context.Background()
	bigDeployment(t, desk.Log, "run", 4, 3, 100)
	const h = "www@10.0.0.1:22"
	step := func(typ string, data any) func() {
		return func() { flush(t, desk.Log, "deploy/run", []events.Event{mustEvent(t, typ, data)}) }
	}
	changes := []struct {
		what   string
		append func()
	}{
		{"nothing yet", func() {}},
		{"a step started, its command with <html> & escapes", step(catalog.TypeStepStarted, catalog.StepStarted{Deployment: "run",
			Step: h + ":late", Name: "late", Host: h, Command: []string{"sh", "-c", "echo '<b>' && printf \"%s\\t\\u00e9\" 'é'"}})},
		{"its output", step(catalog.TypeStepOutput, catalog.StepOutput{Deployment: "run", Step: h + ":late", Host: h, Text: "<b>é</b>\n"})},
		{"more of it", step(catalog.TypeStepOutput, catalog.StepOutput{Deployment: "run", Step: h + ":late", Host: h, Text: "\x1b[1mbold\n"})},
		{"an earlier step's output", step(catalog.TypeStepOutput, catalog.StepOutput{Deployment: "run", Step: h + ":step0", Host: h, Text: "late line\n"})},
		{"the step finished", step(catalog.TypeStepFinished, catalog.StepFinished{Deployment: "run", Step: h + ":late", Host: h,
			ExitCode: 3, DurationMS: 40, Error: "exit status 3"})},
		{"a host switched", step(catalog.TypeHostSwitched, catalog.HostEvent{Deployment: "run", Project: "shop", Environment: "production",
			Host: h, Version: "v2", Commit: "c2"})},
		{"a step with no command", step(catalog.TypeStepStarted, catalog.StepStarted{Deployment: "run", Step: h + ":bare", Name: "bare", Host: h})},
	}
	var last [][]byte
	for _, c := range changes {
		c.append()
		if err := desk.Set.WaitFor(ctx, desk.Log.Head().Position); err != nil {
			t.Fatal(err)
		}
		doc, err := srv.deploymentDoc(ctx, "run", nil)
		if err != nil {
			t.Fatal(err)
		}
		if fresh := freshDoc(t, desk, "run"); !bytes.Equal(doc, fresh) {
			t.Fatalf("%s: the document built from the last one's steps differs from one built whole:\n%s\n%s", c.what, doc, fresh)
		}
		kept := srv.deployDocs.entries["run"].steps.json
		if last != nil && &kept[len(kept)-3][0] != &last[len(kept)-3][0] {
			t.Errorf("%s: a step that did not change was encoded again", c.what)
		}
		last = kept
	}
	flush(t, desk.Log, "deploy/run", []events.Event{mustEvent(t, catalog.TypeDeploySucceeded, catalog.Finished{Deployment: "run",
		Project: "shop", Environment: "production", Version: "v2", Commit: "c2", Kind: "deploy"})})
	if err := desk.Set.WaitFor(ctx, desk.Log.Head().Position); err != nil {
		t.Fatal(err)
	}
	doc, err := srv.deploymentDoc(ctx, "run", nil)
	if err != nil || !bytes.Equal(doc, freshDoc(t, desk, "run")) {
		t.Fatalf("the ended deployment's document differs from one built whole (%v)", err)
	}
	if e := srv.deployDocs.entries["run"]; e.steps.steps != nil || e.steps.json != nil {
		t.Error("the steps of an ended deployment are still kept")
	}
}

// However many ask at once for a revision not built yet, it is built once.
func TestDeploymentDocOneBuildAtATime(t *testing.T) {
	var c deployDocCache
	var builds atomic.Int32
	release := make(chan struct{})
	build := func(*stepFragments) (uint64, []byte, error) {
		builds.Add(1)
		<-release
		return 5, []byte("doc at 5"), nil
	}
	var wg sync.WaitGroup
	docs := make([][]byte, 50)
	for i := range docs {
		wg.Go(func() {
			doc, err := c.get(context.Background(), "d", 5, build)
			if err != nil {
				t.Error(err)
			}
			docs[i] = doc
		})
	}
	time.Sleep(50 * time.Millisecond) // let them all ask
	close(release)
	wg.Wait()
	if n := builds.Load(); n != 1 {
		t.Errorf("%d builds for 50 asks of one revision, want 1", n)
	}
	for i, d := range docs {
		if string(d) != "doc at 5" {
			t.Fatalf("ask %d got %q", i, d)
		}
	}
}

// An ask never gets a document older than the deployment was when it
// asked, not even the one a build begun before it is making.
func TestDeploymentDocNeverOlder(t *testing.T) {
	var c deployDocCache
	var rev atomic.Uint64
	rev.Store(1)
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	build := func(*stepFragments) (uint64, []byte, error) {
		r := rev.Load() // what the deployment is at as the build reads it
		once.Do(func() { close(started); <-release })
		return r, []byte(strconv.FormatUint(r, 10)), nil
	}
	first := make(chan []byte)
	go func() {
		doc, _ := c.get(context.Background(), "d", 1, build)
		first <- doc
	}()
	<-started
	rev.Store(2) // an event lands while revision 1 is built
	second := make(chan []byte)
	go func() {
		doc, _ := c.get(context.Background(), "d", 2, build)
		second <- doc
	}()
	time.Sleep(20 * time.Millisecond) // the second ask waits for the first build
	close(release)
	if got := string(<-first); got != "1" {
		t.Errorf("the first ask got revision %s, want 1", got)
	}
	if got := string(<-second); got != "2" {
		t.Errorf("the ask made at revision 2 got revision %s", got)
	}
	if doc, _ := c.get(context.Background(), "d", 2, build); string(doc) != "2" {
		t.Errorf("revision 2 was not kept: %s", doc)
	}
}

// A wait for another's build ends with the asker's request.
func TestDeploymentDocWaitEndsWithRequest(t *testing.T) {
	var c deployDocCache
	release := make(chan struct{})
	defer close(release)
	go func() {
		_, _ = c.get(context.Background(), "d", 1, func(*stepFragments) (uint64, []byte, error) {
			<-release
			return 1, []byte("1"), nil
		})
	}()
	for {
		c.mu.Lock()
		building := c.entries["d"] != nil && c.entries["d"].building != nil
		c.mu.Unlock()
		if building {
			break
		}
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := c.get(ctx, "d", 1, nil); err != context.DeadlineExceeded {
		t.Errorf("a wait whose request ended: %v, want its context's error", err)
	}
}

// sameStep tells apart two steps that differ in any one field, so a
// field added to projections.Step is never served stale from the last
// document.
func TestSameStepSeesEveryField(t *testing.T) {
	base := projections.Step{ID: "h:s", Name: "s", Host: "h", Command: []string{"sh", "-c", "true"},
		Started: time.Unix(10, 0).UTC(), Finished: time.Unix(20, 0).UTC(), ExitCode: 1, DurationMS: 5,
		Error: "e", Output: "o", Truncated: false}
	if !sameStep(&base, &base) {
		t.Fatal("a step differs from itself")
	}
	bv := reflect.ValueOf(base)
	for i := range bv.NumField() {
		other := base
		other.Command = append([]string(nil), base.Command...)
		f := reflect.ValueOf(&other).Elem().Field(i)
		switch v := f.Addr().Interface().(type) {
		case *string:
			*v += "x"
		case *int:
			*v++
		case *int64:
			*v++
		case *bool:
			*v = !*v
		case *time.Time:
			*v = v.Add(time.Nanosecond)
		case *[]string:
			*v = append(*v, "x")
		default:
			t.Fatalf("Step.%s is a %s: teach sameStep (and this test) to compare it", bv.Type().Field(i).Name, f.Type())
		}
		if sameStep(&base, &other) {
			t.Errorf("sameStep misses a change of Step.%s", bv.Type().Field(i).Name)
		}
	}
	noCmd, emptyCmd := base, base
	noCmd.Command, emptyCmd.Command = nil, []string{}
	if sameStep(&noCmd, &emptyCmd) {
		t.Error("sameStep takes no command (null) for an empty one ([])")
	}
	inZone := base
	inZone.Started = base.Started.In(time.FixedZone("X", 3600))
	if sameStep(&base, &inZone) {
		t.Error("sameStep takes a time for the same in another zone, which is written otherwise")
	}
}

// The document goes out with its length, not in chunks.
func TestDeploymentDocLength(t *testing.T) {
	desk, srv := cacheDesk(t)
	bigDeployment(t, desk.Log, "big", 10, 3, 200)
	if err := desk.Set.WaitFor(context.Background(), desk.Log.Head().Position); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/api/v1/deployments/big", nil)
	r.SetPathValue("id", "big")
	w := httptest.NewRecorder()
	if err := srv.getDeployment(w, r, app.UserView{}); err != nil {
		t.Fatal(err)
	}
	if got, want := w.Header().Get("Content-Length"), fmt.Sprint(w.Body.Len()); got != want || w.Code != http.StatusOK {
		t.Errorf("%d, Content-Length %q, want %s", w.Code, got, want)
	}
}
