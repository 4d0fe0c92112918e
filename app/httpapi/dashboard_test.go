package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"releasedesk/app/httpapi/apitest"
	"releasedesk/events"
	"releasedesk/events/catalog"
)

// TestDashboard: every project's every environment in stage order, what
// runs there, who put it there from which release, the last deployment's
// outcome, and hosts that drifted or could not be read.
func TestDashboard(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	root := e.Login("root", apitest.RootPassword)
	repo := apitest.GitRepo(t, map[string]string{"index.html": "v1\n"})
	target := t.TempDir()
	e.Must(http.StatusCreated, "PUT", "/api/v1/projects/shop", root, apitest.LocalProject("shop", repo, target))
	dev := e.AddUser(root, "dev", false, map[string][]string{"shop": {"developer"}})
	envs := func() []map[string]any {
		t.Helper()
		var out []map[string]any
		for _, x := range e.Must(http.StatusOK, "GET", "/api/v1/dashboard", dev, nil).Body["environments"].([]any) {
			out = append(out, x.(map[string]any))
		}
		return out
	}
	if got := envs(); len(got) != 2 || got[0]["environment"] != "test" || got[1]["environment"] != "production" ||
		got[0]["current"] != nil || got[1]["approval"] != true || got[0]["link"] != "#/versions/shop/test" {
		t.Fatalf("before any deployment: %v", got)
	}

	r := e.Must(http.StatusCreated, "POST", "/api/v1/releases", dev,
		map[string]any{"project": "shop", "branch": "f1", "create_branch": true, "title": "First"})
	id := apitest.Str(r.Body, "release", "id")
	d := e.Must(http.StatusAccepted, "POST", "/api/v1/releases/"+id+"/deploy", dev, map[string]string{"env": "test"})
	dep, version := apitest.Str(d.Body, "deployment"), apitest.Str(d.Body, "version")
	if got := e.WaitDeployment(dev, dep, time.Minute); got["state"] != "succeeded" {
		t.Fatalf("deployment: %v", got)
	}
	test := envs()[0]
	if test["current"] != version || test["by"] != "dev" || test["release"] != id || test["kind"] != "deploy" ||
		test["last_deployment"] != dep || test["last_state"] != "succeeded" || test["hosts"] != float64(1) ||
		test["drifted"] != nil || test["unreachable"] != nil {
		t.Fatalf("after the test deployment: %v", test)
	}

	// Someone switches the host by hand: the next drift check says so.
	envDir := filepath.Join(target, "shop-test")
	other := "20200101000000-aaaaaaa"
	if err := os.MkdirAll(filepath.Join(envDir, "releases", other), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(envDir, "current")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("releases", other), filepath.Join(envDir, "current")); err != nil {
		t.Fatal(err)
	}
	drift(t, e, "shop", "test")
	if got := envs()[0]; strings.Join(anyStrings(got["drifted"]), ",") != "local" || got["unreachable"] != nil {
		t.Errorf("test after someone switched it by hand: %v", got)
	}
	// Then its host cannot be reached (a local target always can: the
	// runner's report of an unreachable host is written as it would be).
	rep := catalog.DriftReport{Project: "shop", Environment: "test",
		Hosts: []catalog.HostDrift{{Host: "local", Expected: version, Error: "dial tcp 10.0.0.9:22: connect: connection refused"}}}
	ev, err := catalog.NewEvent(catalog.TypeDriftChecked, "runner", rep)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Desk.Log.Append(context.Background(), catalog.DriftStream("shop", "test"), events.AnyVersion, ev); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, e)
	if got := envs()[0]; got["drifted"] != nil || strings.Join(anyStrings(got["unreachable"]), ",") != "local" {
		t.Errorf("test whose host cannot be reached: %v", got)
	}
}

// drift runs a drift check of one environment, as the runner's check does.
func drift(t *testing.T, e *apitest.Env, project, env string) {
	t.Helper()
	pp, ok := e.Desk.Set.Projects.Get(project)
	if !ok {
		t.Fatalf("no project %s", project)
	}
	var p catalog.Project
	if err := json.Unmarshal(pp.Config, &p); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Desk.Runner.Drift(context.Background(), p, env); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, e)
}

// waitApplied waits until the read models hold the log's last event.
func waitApplied(t *testing.T, e *apitest.Env) {
	t.Helper()
	if err := e.Desk.Set.WaitFor(context.Background(), e.Desk.Log.Head().Position); err != nil {
		t.Fatal(err)
	}
}

func anyStrings(v any) []string {
	var out []string
	for _, x := range asList(v) {
		out = append(out, x.(string))
	}
	return out
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}
