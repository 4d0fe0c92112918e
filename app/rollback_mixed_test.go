package app_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"releasedesk/app/httpapi/apitest"
	"releasedesk/runner/sshtest"
)

// A deployment that fails on one host under on_failure continue leaves the
// others on the new version, while the environment's current version, the
// last one that succeeded, is still the old one. Going back to the current
// version is then exactly the rollback needed, and must not be refused as
// "already current".
func TestRollbackToCurrentWhenHostsMoved(t *testing.T) {
	c := sshtest.Start(t, 3)
	e := apitest.New(t, apitest.Options{})
	repo := apitest.GitRepo(t, nil)
	root := e.Login("root", apitest.RootPassword)
	cfg := sshProjectConfig(repo, c, []int{0, 1}, []int{2})
	cfg = strings.Replace(cfg, "    hosts:\n", "    on_failure: continue\n    hosts:\n", 1)
	e.Must(http.StatusCreated, "PUT", "/api/v1/projects/shop", root, cfg)
	e.As(root).TrustHosts(c, 0, 1)
	open := func(branch string) string {
		t.Helper()
		r := e.Must(http.StatusCreated, "POST", "/api/v1/releases", root,
			map[string]any{"project": "shop", "branch": branch, "create_branch": true, "title": branch})
		return apitest.Str(r.Body, "release", "id")
	}
	res, _ := deployAndWait(e, root, open("first"), "test", "succeeded")
	v1 := apitest.Str(res, "version")

	apitest.GitCommit(t, repo, "master", map[string]string{"index.html": "v2\n"}, "change index.html")
	c.Kill(1)
	res, _ = deployAndWait(e, root, open("second"), "test", "failed")
	assertHostRuns(t, c, 0, apitest.Str(res, "version"))
	assertHostRuns(t, c, 1, v1)
	c.Restart(1)

	r := e.Call("POST", "/api/v1/projects/shop/environments/test/rollback", root,
		map[string]any{"version": v1, "reason": "host 0 runs the failed version"})
	if r.Status != http.StatusAccepted {
		t.Fatalf("rollback to the current version while a host runs another: %d %s", r.Status, r.Raw)
	}
	if dep := e.WaitDeployment(root, apitest.Str(r.Body, "deployment"), time.Minute); dep["state"] != "succeeded" {
		t.Fatalf("rollback: %v %v", dep["state"], dep["error"])
	}
	assertHostRuns(t, c, 0, v1)
	assertHostRuns(t, c, 1, v1)
	// Now every host runs it: the same rollback is refused.
	r = e.Call("POST", "/api/v1/projects/shop/environments/test/rollback", root, map[string]any{"version": v1, "reason": "again"})
	if r.Status != http.StatusConflict || !strings.Contains(r.ErrMessage(), "already current") {
		t.Errorf("rollback to what every host runs: %d %s", r.Status, r.Raw)
	}
}
