package app_test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"releasedesk/app/httpapi/apitest"
)

func TestFlowLocalStrategy(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	repo := apitest.GitRepo(t, nil)
	root := e.Login("root", apitest.RootPassword)
	target := t.TempDir()
	cfg := fmt.Sprintf(`id: shop
repo: %s
branch: master
strategy: local
keep_releases: 3
version_files: [VERSION]
environments:
  - name: test
    path: %s/test
  - name: production
    path: %s/prod
    approval: true
`, repo, target, target)
	e.Must(http.StatusCreated, "PUT", "/api/v1/projects/shop", root, cfg)
	dev := e.AddUser(root, "dev", false, map[string][]string{"shop": {"developer"}})
	tester := e.AddUser(root, "tess", false, map[string][]string{"shop": {"tester"}})
	appr := e.AddUser(root, "alice", false, map[string][]string{"shop": {"approver"}})
	mgr := e.AddUser(root, "max", false, map[string][]string{"shop": {"manager"}})

	r := e.Must(http.StatusCreated, "POST", "/api/v1/releases", dev,
		map[string]any{"project": "shop", "branch": "feature-1", "create_branch": true, "title": "First"})
	id := apitest.Str(r.Body, "release", "id")
	r = e.Must(http.StatusAccepted, "POST", "/api/v1/releases/"+id+"/deploy", dev, map[string]any{"env": "test"})
	dep := e.WaitDeployment(dev, apitest.Str(r.Body, "deployment"), time.Minute)
	if dep["state"] != "succeeded" {
		t.Fatalf("test deploy: %v", dep)
	}
	if r := e.Call("POST", "/api/v1/releases/"+id+"/test", dev, map[string]any{"passed": true}); r.Status != 403 {
		t.Fatalf("developer testing: %d %s", r.Status, r.Raw)
	}
	e.Must(http.StatusOK, "POST", "/api/v1/releases/"+id+"/test", tester, map[string]any{"passed": true, "note": "ok"})
	e.Must(http.StatusOK, "POST", "/api/v1/releases/"+id+"/approve", appr, map[string]any{"note": "go"})
	r = e.Must(http.StatusAccepted, "POST", "/api/v1/releases/"+id+"/deploy", appr, map[string]any{"env": "production"})
	dep = e.WaitDeployment(appr, apitest.Str(r.Body, "deployment"), time.Minute)
	if dep["state"] != "succeeded" {
		t.Fatalf("prod deploy: %v", dep)
	}
	version := apitest.Str(r.Body, "version")
	e.Must(http.StatusOK, "POST", "/api/v1/releases/"+id+"/accept", mgr, map[string]any{"note": "fine"})
	r = e.Must(http.StatusOK, "POST", "/api/v1/releases/"+id+"/complete", mgr, nil)
	if apitest.Str(r.Body, "release", "state") != "completed" || apitest.Str(r.Body, "release", "tag") != "release/"+version {
		t.Fatalf("complete: %s", r.Raw)
	}
	cur, err := os.Readlink(filepath.Join(target, "prod", "current"))
	if err != nil || !strings.HasSuffix(cur, version) {
		t.Fatalf("prod current %q %v, want %s", cur, err, version)
	}
	out, err := exec.Command("git", "-C", repo, "rev-parse", "release/"+version+"^{commit}").CombinedOutput()
	if err != nil {
		t.Fatalf("tag missing: %v %s", err, out)
	}
}
