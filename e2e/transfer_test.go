package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestDeployWithoutLocalRsync: the app run with a PATH that holds no
// program at all (no rsync, no git, no sh: a desk where none is
// installed) publishes a release to 3 real sshd hosts all the same, as a
// tar stream over each host's SSH session, and says so; every host holds
// the whole release, as recorded; a change then goes as a delta.
func TestDeployWithoutLocalRsync(t *testing.T) {
	var app *appProc
	defer func() {
		if t.Failed() && app != nil {
			t.Log(lastLinesOf(app.Log(), 20))
		}
	}()
	f := newChaosFleetWith(t, chaosOpts{hosts: 3, appEnv: []string{"PATH=" + t.TempDir()}}, nil)
	app = f.app
	for round := range 2 {
		f.commit()
		id, version := f.deploy()
		d := f.root.WaitDeployment(id, 2*time.Minute)
		if d["state"] != "succeeded" {
			t.Fatalf("round %d: %v %v\n%s", round, d["state"], d["error"], lastLinesOf(f.app.Log(), 30))
		}
		vs, err := f.checkHosts()
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for i, v := range vs {
			if v != version {
				t.Fatalf("round %d: host %d runs %s, want %s", round, i, v, version)
			}
		}
		if err := f.matchRecorded(); err != nil {
			t.Fatal(err)
		}
		out := stepOutputs(d, "transfer")
		if round == 0 && !strings.Contains(out, "the whole release sent as a tar stream, not by rsync: no rsync on this machine") {
			t.Fatalf("the first deployment's transfer does not say how it went:\n%s", out)
		}
		if !strings.Contains(out, "releasedesk: tar stream sent:") {
			t.Fatalf("round %d: no tar stream in the transfer:\n%s", round, out)
		}
	}
}

// stepOutputs joins the output of every step named name of a deployment.
func stepOutputs(dep map[string]any, name string) string {
	var b strings.Builder
	steps, _ := dep["steps"].([]any)
	for _, s := range steps {
		m, _ := s.(map[string]any)
		if m["name"] == name {
			out, _ := m["output"].(string)
			b.WriteString(out)
		}
	}
	return b.String()
}
