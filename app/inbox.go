package app

import (
	"slices"
	"strings"
	"time"

	"releasedesk/events/catalog"
	"releasedesk/projections"
)

// What waits for a person: each kind is one step of the workflow that is
// theirs to take now.
const (
	InboxTest             = "test"              // a tester: a release on a test stage waits for a verdict
	InboxApprove          = "approve"           // an approver: a tested release waits for approval
	InboxAccept           = "accept"            // a manager: a live release waits for acceptance
	InboxRework           = "rework"            // its requester: a release sent back (failed test, rejected, refused)
	InboxFailedDeployment = "failed_deployment" // who asked for it: a deployment failed or was interrupted
)

// InboxItem is one thing waiting for the signed-in user: what to do, on
// what, since when, handed over by whom, and where the UI shows it.
type InboxItem struct {
	Kind        string    `json:"kind"` // InboxTest ... InboxFailedDeployment
	Project     string    `json:"project"`
	Release     string    `json:"release,omitempty"`
	Title       string    `json:"title,omitempty"`
	Environment string    `json:"environment,omitempty"`
	Deployment  string    `json:"deployment,omitempty"`
	State       string    `json:"state"`          // the release's or the deployment's
	Since       time.Time `json:"since"`          // when it started waiting
	By          string    `json:"by,omitempty"`   // who handed it over
	Note        string    `json:"note,omitempty"` // their note or reason; a deployment's error
	Link        string    `json:"link"`           // the UI's route: "#/releases/4", "#/deployments/d7"
}

// Inbox is what u can act on now, oldest first: by the same rules the
// commands apply (ReleaseActions), so nothing listed would be refused.
func (d *Desk) Inbox(u UserView) []InboxItem {
	out := []InboxItem{}
	if d.Problem() != nil {
		return out
	}
	waiting := map[string]string{ // release state -> the action that takes it on
		projections.StateTesting: InboxTest, projections.StateTested: InboxApprove, projections.StateLive: InboxAccept,
	}
	for _, r := range d.activeReleases() {
		actions := d.ReleaseActions(r, u)
		item := InboxItem{Project: r.Project, Release: r.ID, Title: r.Title, State: r.State, Since: r.Updated,
			Link: "#/releases/" + r.ID}
		var handedOver projections.TimelineEntry
		switch kind := waiting[r.State]; {
		case kind != "" && slices.Contains(actions, kind):
			item.Kind = kind
			if kind == InboxTest {
				item.Environment = r.PinnedEnv // where it is to be tested
			}
			// Who handed it over: the deployer to test or to the last
			// stage, or the tester who passed it.
			handedOver = d.lastEntry(r.ID, func(action string) bool {
				return action == catalog.TypeReleaseDeployRequested || action == catalog.TypeReleaseTestPassed
			})
		case r.State == projections.StateOpen && r.Requester == u.Name &&
			slices.ContainsFunc(actions, func(a string) bool { return strings.HasPrefix(a, "deploy:") }):
			handedOver = d.lastEntry(r.ID, isDecision)
			if !sentBack(handedOver.Action) {
				continue // opened, or cancelled deployments: nothing sent it back
			}
			item.Kind = InboxRework
		default:
			continue
		}
		item.By, item.Note = handedOver.Actor, handedOver.Note
		out = append(out, item)
	}
	out = append(out, d.failedDeploymentsOf(u)...)
	slices.SortStableFunc(out, func(a, b InboxItem) int { return a.Since.Compare(b.Since) })
	return out
}

// activeReleases are the releases someone may still act on.
func (d *Desk) activeReleases() []projections.Release {
	q := projections.BoardQuery{States: []string{projections.StateOpen, projections.StateTesting,
		projections.StateTested, projections.StateLive}, Limit: projections.MaxBoardLimit}
	var out []projections.Release
	for {
		page := d.Set.Releases.Board(q)
		out = append(out, page.Releases...)
		if len(page.Releases) == 0 || len(out) >= page.Total {
			return out
		}
		q.Offset += len(page.Releases)
	}
}

// lastEntry is release id's last timeline entry whose action is, by
// what (its actor, action and note); zero if none is.
func (d *Desk) lastEntry(id string, is func(action string) bool) projections.TimelineEntry {
	tl := d.Set.Releases.Timeline(id)
	for i := len(tl) - 1; i >= 0; i-- {
		if is(tl[i].Action) {
			return tl[i]
		}
	}
	return projections.TimelineEntry{}
}

// isDecision tells a person's decision on a release from the deployments'
// own entries.
func isDecision(action string) bool {
	return strings.HasPrefix(action, "release.") && action != catalog.TypeReleaseDeployRequested
}

// sentBack reports whether a release's last decision sent it back to its
// requester.
func sentBack(action string) bool {
	switch action {
	case catalog.TypeReleaseTestFailed, catalog.TypeReleaseRejected, catalog.TypeReleaseRefused:
		return true
	}
	return false
}

// failedDeploymentsOf are the deployments u asked for that failed or were
// interrupted and are still the last word on their environment (a later
// deployment there settles them).
func (d *Desk) failedDeploymentsOf(u UserView) []InboxItem {
	var out []InboxItem
	failed, _ := d.Set.Deployments.List(projections.DeploymentQuery{
		States: []string{projections.DeployFailed, projections.DeployInterrupted}, Limit: projections.MaxBoardLimit})
	for _, dep := range failed {
		if dep.RequestedBy != u.Name {
			continue
		}
		latest, _ := d.Set.Deployments.List(projections.DeploymentQuery{Project: dep.Project, Environment: dep.Environment, Limit: 1})
		if len(latest) == 0 || latest[0].ID != dep.ID {
			continue
		}
		out = append(out, InboxItem{Kind: InboxFailedDeployment, Project: dep.Project, Release: dep.Release,
			Environment: dep.Environment, Deployment: dep.ID, State: dep.State, Since: dep.Finished,
			Note: dep.Error, Link: "#/deployments/" + dep.ID})
	}
	return out
}
