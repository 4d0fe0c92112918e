package projections

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
	"testing"
)

// dump is a canonical text of everything a Set holds, through the same
// queries the app uses (and the audit columns directly): two Sets with
// equal dumps answer every question alike.
func dump(t testing.TB, s *Set) string {
	t.Helper()
	type projectDump struct {
		Project Project
		History []ProjectChange
	}
	type releaseDump struct {
		Release  Release
		Timeline []TimelineEntry
	}
	var d struct {
		Head        any
		Skipped     uint64
		Projects    []projectDump
		Users       []User
		Releases    []releaseDump
		ByUpdate    []string
		Deployments []Deployment
		Versions    []EnvVersions
		Hosts       []Host
		Drifts      []EnvDrift
		Queue       []QueueEntry
		Locks       []EnvLock
		Audit       string
	}
	d.Head = s.Head()
	d.Skipped, _ = s.Skipped()
	for _, p := range s.Projects.List() {
		d.Projects = append(d.Projects, projectDump{p, s.Projects.History(p.ID)})
	}
	d.Users = s.Users.List()
	all := s.Releases.Board(BoardQuery{Oldest: true, Limit: MaxBoardLimit})
	for off := 0; off < all.Total; off += MaxBoardLimit {
		page := s.Releases.Board(BoardQuery{Oldest: true, Offset: off, Limit: MaxBoardLimit})
		for _, r := range page.Releases {
			d.Releases = append(d.Releases, releaseDump{r, s.Releases.Timeline(r.ID)})
		}
	}
	for off := 0; off < all.Total; off += MaxBoardLimit {
		for _, r := range s.Releases.Board(BoardQuery{Sort: SortUpdated, Offset: off, Limit: MaxBoardLimit}).Releases {
			d.ByUpdate = append(d.ByUpdate, r.ID)
		}
	}
	_, total := s.Deployments.List(DeploymentQuery{})
	for off := 0; off < total; off += MaxBoardLimit {
		list, _ := s.Deployments.List(DeploymentQuery{Offset: off, Limit: MaxBoardLimit})
		for _, x := range list {
			full, _ := s.Deployments.Get(x.ID)
			d.Deployments = append(d.Deployments, full)
		}
	}
	keys := envKeys(s.Versions.envs)
	for _, k := range keys {
		ev, _ := s.Versions.Env(k.project, k.env)
		d.Versions = append(d.Versions, ev)
	}
	d.Hosts = s.Hosts.List()
	for _, k := range envKeys(s.Hosts.drifts) {
		dr, _ := s.Hosts.LastDrift(k.project, k.env)
		d.Drifts = append(d.Drifts, dr)
	}
	d.Queue = s.Queue.Waiting()
	for _, k := range envKeys(s.Queue.locks) {
		l, _ := s.Queue.Lock(k.project, k.env)
		d.Locks = append(d.Locks, l)
	}
	// The audit index, column by column, with its side tables.
	a := s.Audit
	a.mu.RLock()
	cols, err := json.Marshal([]any{a.first, a.times.slice(), a.actors.slice(), a.types.slice(), a.projects.slice(), a.actorT.names, a.typeT.names, a.projectT.names})
	if err != nil {
		t.Fatal(err)
	}
	var deps []string
	for id, ad := range a.deploys {
		b, _ := json.Marshal([]any{id, a.projectT.name(ad.project), ad.env, ad.release, ad.version, ad.commit, ad.kind})
		deps = append(deps, string(b))
	}
	for id, p := range a.releases {
		deps = append(deps, id+"="+a.projectT.name(p))
	}
	a.mu.RUnlock()
	sort.Strings(deps)
	side, _ := json.Marshal(deps)
	h := sha256.Sum256(append(cols, side...))
	d.Audit = hex.EncodeToString(h[:])

	b, err := json.MarshalIndent(d, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sameDump fails the test with the first differing line.
func sameDump(t testing.TB, what, want, got string) {
	t.Helper()
	if want == got {
		return
	}
	wl, gl := splitLines(want), splitLines(got)
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			t.Fatalf("%s: dumps differ at line %d:\nwant %s\n got %s", what, i+1, w, g)
		}
	}
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
