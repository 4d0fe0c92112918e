package projections

import (
	"encoding/json"
	"testing"

	"releasedesk/events/catalog"
)

// TestReleaseTransitions drives one release through sequences of steps
// and checks where the state machine lands. Steps: "test", "staging",
// "prod" (a succeeded deployment of commit A to that stage), "test:B"
// (of commit B), "test!" (a failed one), and the decisions by name.
func TestReleaseTransitions(t *testing.T) {
	a, b := commitOf("A"), commitOf("B")
	cases := []struct {
		name  string
		steps []string
		state string
		check func(t *testing.T, r Release)
	}{
		{"opened", nil, StateOpen, nil},
		{"deployed to test", []string{"test"}, StateTesting, func(t *testing.T, r Release) {
			if r.PinnedCommit != a || r.PinnedEnv != "test" {
				t.Errorf("pinned %s %s", r.PinnedCommit, r.PinnedEnv)
			}
		}},
		{"failed deployment leaves the state", []string{"test!"}, StateOpen, nil},
		{"passed", []string{"test", "pass"}, StateTested, func(t *testing.T, r Release) {
			if r.TestedCommit != a || r.TestedEnv != "test" || r.Tester != tester {
				t.Errorf("tested %+v", r)
			}
		}},
		{"test failed", []string{"test", "fail"}, StateOpen, func(t *testing.T, r Release) {
			if r.TestedCommit != "" || r.Tester != tester {
				t.Errorf("after a failed test %+v", r)
			}
		}},
		{"approved", []string{"test", "pass", "approve"}, StateApproved, func(t *testing.T, r Release) {
			if r.ApprovedCommit != a || r.Approver != approver {
				t.Errorf("approved %+v", r)
			}
		}},
		{"rejected", []string{"test", "pass", "reject"}, StateOpen, func(t *testing.T, r Release) {
			if r.ApprovedCommit != "" || r.TestedCommit != "" || r.Approver != approver {
				t.Errorf("rejected %+v", r)
			}
		}},
		{"a new test deployment clears the approval", []string{"test", "pass", "approve", "test:B"}, StateTesting, func(t *testing.T, r Release) {
			if r.ApprovedCommit != "" || r.TestedCommit != "" || r.PinnedCommit != b {
				t.Errorf("after a new commit %+v", r)
			}
		}},
		{"the approved commit through an approval stage stays approved", []string{"test", "pass", "approve", "staging"}, StateApproved, nil},
		{"live", []string{"test", "pass", "approve", "staging", "prod"}, StateLive, nil},
		{"accepted", []string{"test", "pass", "approve", "prod", "accept"}, StateAccepted, func(t *testing.T, r Release) {
			if r.Manager != manager {
				t.Errorf("manager %q", r.Manager)
			}
		}},
		{"refused", []string{"test", "pass", "approve", "prod", "refuse"}, StateOpen, func(t *testing.T, r Release) {
			if r.ApprovedCommit != "" || r.TestedCommit != "" {
				t.Errorf("refused %+v", r)
			}
		}},
		{"completed", []string{"test", "pass", "approve", "prod", "accept", "complete"}, StateCompleted, nil},
		{"a deployment after completion changes nothing", []string{"test", "pass", "approve", "prod", "accept", "complete", "test:B"}, StateCompleted, nil},
		{"cancelled", []string{"test", "cancel"}, StateCancelled, nil},
		{"a deployment after cancel changes nothing", []string{"cancel", "prod"}, StateCancelled, func(t *testing.T, r Release) {
			if len(r.Deployments) != 1 || r.Deployments[0].State != DeploySucceeded {
				t.Errorf("deployments %+v", r.Deployments)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newMemFlow(t)
			// Three stages: test, staging (approval), prod (approval).
			p := catalog.Project{ID: "shop", Repo: "/r", Branch: "main", Strategy: "local", Environments: []catalog.Environment{
				{Name: "test", Path: "/t"}, {Name: "staging", Path: "/s", Approval: true}, {Name: "prod", Path: "/p", Approval: true}}}
			raw, _ := json.Marshal(p)
			f.cfg["shop"] = p
			f.append("project/shop", catalog.TypeProjectConfigured, admin, catalog.ProjectConfigured{ID: "shop", Config: raw})
			f.append("release/r", catalog.TypeReleaseOpened, dev, catalog.ReleaseOpened{ID: "r", Project: "shop", Branch: "b", Title: "t"})
			for i, st := range c.steps {
				commit := a
				env, fail := st, false
				switch st {
				case "test:B":
					env, commit = "test", b
				case "test!":
					env, fail = "test", true
				}
				switch st {
				case "pass":
					f.decision("r", catalog.TypeReleaseTestPassed, tester, "", "", "")
				case "fail":
					f.decision("r", catalog.TypeReleaseTestFailed, tester, "test", a, "broken")
				case "approve":
					f.decision("r", catalog.TypeReleaseApproved, approver, "", "", "")
				case "reject":
					f.decision("r", catalog.TypeReleaseRejected, approver, "", "", "no")
				case "accept":
					f.decision("r", catalog.TypeReleaseAccepted, manager, "", "", "")
				case "refuse":
					f.decision("r", catalog.TypeReleaseRefused, manager, "", "", "no")
				case "complete":
					f.append("release/r", catalog.TypeReleaseCompleted, manager, catalog.ReleaseCompleted{ID: "r", Project: "shop", Commit: a, Tag: "release/x"})
				case "cancel":
					f.decision("r", catalog.TypeReleaseCancelled, manager, "", "", "gone")
				default:
					d := dep{id: "d" + string(rune('a'+i)), project: "shop", env: env, commit: commit,
						version: f.versionOf(commit), release: "r"}
					if fail {
						d.failHost = catalog.LocalHost
					}
					f.deploy(d)
				}
			}
			s := f.build()
			r, _ := s.Releases.Get("r")
			if r.State != c.state {
				t.Fatalf("state %s, want %s", r.State, c.state)
			}
			if c.check != nil {
				c.check(t, r)
			}
		})
	}
}

// TestReleaseLinkOrder: the queue entry may come before the release's own
// record of the request; a deployment known only through the release
// event is judged by the project's current stages.
func TestReleaseLinkOrder(t *testing.T) {
	f := newMemFlow(t)
	f.configure("shop")
	c := commitOf("x")
	v := f.versionOf(c)
	f.append("release/r", catalog.TypeReleaseOpened, dev, catalog.ReleaseOpened{ID: "r", Project: "shop", Branch: "b", Title: "t"})
	f.append("deploy/d1", catalog.TypeDeployRequested, dev, catalog.Request{Deployment: "d1", Kind: catalog.KindDeploy, Project: f.cfg["shop"],
		Environment: "test", Commit: c, Version: v, Release: "r"})
	f.append("release/r", catalog.TypeReleaseDeployRequested, dev, catalog.ReleaseDeployRequested{ID: "r", Project: "shop",
		Environment: "test", Deployment: "d1", Commit: c, Version: v})
	// d2 has no deploy.requested in this log at all.
	f.append("release/r", catalog.TypeReleaseDeployRequested, dev, catalog.ReleaseDeployRequested{ID: "r", Project: "shop",
		Environment: "production", Deployment: "d2", Commit: c, Version: v})
	f.append("deploy/d1", catalog.TypeDeploySucceeded, "runner", catalog.Finished{Deployment: "d1", Project: "shop", Environment: "test", Version: v, Commit: c, Kind: catalog.KindDeploy})
	s := f.build()
	tl := s.Releases.Timeline("r")
	if len(tl) != 4 || tl[1].Action != catalog.TypeDeployRequested || tl[2].Action != catalog.TypeReleaseDeployRequested || tl[2].Deployment != "d2" {
		t.Fatalf("timeline: %+v", tl)
	}
	if r, _ := s.Releases.Get("r"); r.State != StateTesting || len(r.Deployments) != 2 || r.Deployments[1].State != DeployQueued {
		t.Fatalf("release: %+v", r)
	}
	f.append("deploy/d2", catalog.TypeDeploySucceeded, "runner", catalog.Finished{Deployment: "d2", Project: "shop", Environment: "production", Version: v, Commit: c, Kind: catalog.KindDeploy})
	s = f.build()
	if r, _ := s.Releases.Get("r"); r.State != StateLive {
		t.Fatalf("a deployment to the configured last stage: %s", r.State)
	}
	if id, ok := s.Releases.OfDeployment("d2"); !ok || id != "r" {
		t.Fatal("OfDeployment")
	}
}
