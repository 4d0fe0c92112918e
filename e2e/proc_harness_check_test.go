package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"releasedesk/app/httpapi/apitest"
	"releasedesk/runner/sshtest"
)

// The harness itself, end to end: a serve process, a bootstrapped admin,
// a project over two real sshd hosts, one release deployed through the API.
func TestProcHarnessDeploys(t *testing.T) {
	data := t.TempDir()
	addUser(t, data, "root", "root-password-1", true)
	app := startApp(t, data)
	root := apitest.Login(t, app.URL, "root", "root-password-1")
	cl := sshtest.Start(t, 2)
	repo := apitest.GitRepo(t, map[string]string{"index.html": "v1\n"})
	root.Must(http.StatusCreated, "PUT", "/api/v1/projects/fleet", fleetProject(repo, cl, 2, 0))
	root.TrustHosts(cl)
	r := root.Must(http.StatusCreated, "POST", "/api/v1/releases",
		map[string]any{"project": "fleet", "branch": "r1", "create_branch": true, "title": "one"})
	id := r.Body["release"].(map[string]any)["id"].(string)
	d := root.Must(http.StatusAccepted, "POST", "/api/v1/releases/"+id+"/deploy", map[string]any{"env": "prod"})
	dep := root.WaitDeployment(d.Body["deployment"].(string), 2*time.Minute)
	if dep["state"] != "succeeded" {
		t.Fatalf("deployment: %v\n%s", dep, app.Log())
	}
	version := d.Body["version"].(string)
	for _, h := range cl.Hosts {
		b, err := os.ReadFile(filepath.Join(h.Path, "current", "VERSION"))
		if err != nil || string(b) != version+"\n" && string(b) != version {
			t.Fatalf("%s: VERSION %q %v, want %s", h.Addr, b, err, version)
		}
	}
}
