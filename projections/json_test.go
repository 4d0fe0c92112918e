package projections

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode"
)

// TestJSONNames checks the API's views marshal with snake_case names.
func TestJSONNames(t *testing.T) {
	f := newMemFlow(t)
	f.users()
	f.configure("shop")
	_, prodDep, _ := f.eightSteps("1", "")
	s := f.build()

	rel, ok := s.Releases.Get("1")
	if !ok {
		t.Fatal("no release 1")
	}
	d, ok := s.Deployments.Get(prodDep)
	if !ok || len(d.Hosts) == 0 || len(d.Steps) == 0 {
		t.Fatalf("deployment %s: found %v, %d hosts, %d steps", prodDep, ok, len(d.Hosts), len(d.Steps))
	}
	ev, ok := s.Versions.Env("shop", "production")
	if !ok || len(ev.Timeline) == 0 {
		t.Fatalf("production versions: found %v, %d entries", ok, len(ev.Timeline))
	}
	p, ok := s.Projects.Get("shop")
	if !ok {
		t.Fatal("no project shop")
	}

	for _, c := range []struct {
		name string
		v    any
		keys []string
	}{
		{"Release", rel, []string{"id", "pinned_commit", "pinned_env", "approved_commit", "deployments", "position"}},
		{"Deployment", d, []string{"id", "requested_by", "duration_ms", "plan", "manifest_hash", "hosts", "steps", "exit_code"}},
		{"EnvVersions", ev, []string{"current_deployment", "timeline", "instant", "kept", "hosts"}},
		{"Project", p, []string{"id", "keep_releases", "environments", "config", "created_by"}},
	} {
		raw, err := json.Marshal(c.v)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		keys := map[string]bool{}
		// Project.Config is the runner's configuration, with its own names.
		walkKeys(m, keys, "config")
		for _, k := range c.keys {
			if !keys[k] {
				t.Errorf("%s: no key %q in %s", c.name, k, raw)
			}
		}
		for k := range keys {
			if strings.IndexFunc(k, unicode.IsUpper) >= 0 {
				t.Errorf("%s: key %q has an upper-case letter", c.name, k)
			}
		}
	}

	// A Change names what an event touched, not the event itself.
	raw, err := json.Marshal(Change{Release: "1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(raw); got != `{"release":"1"}` {
		t.Errorf("Change as JSON: %s", got)
	}
}

// walkKeys adds every object key under v to keys, except under skip.
func walkKeys(v any, keys map[string]bool, skip string) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			keys[k] = true
			if k != skip {
				walkKeys(x, keys, skip)
			}
		}
	case []any:
		for _, x := range v {
			walkKeys(x, keys, skip)
		}
	}
}
