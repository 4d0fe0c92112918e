package app

import (
	"slices"

	"releasedesk/projections"
)

// ReleaseActions lists what u may do to release r now, by the same rules
// the commands apply: "deploy:<env>" per stage it may deploy to, then
// test, approve, reject, accept, refuse, complete and cancel. A page
// offers exactly these, so an action that would be refused is not shown.
func (d *Desk) ReleaseActions(r projections.Release, u UserView) []string {
	out := []string{}
	if d.Problem() != nil {
		return out
	}
	p, _, err := d.project(r.Project)
	if err != nil {
		return out
	}
	for i, env := range p.Environments {
		if ok, _ := Can(u, p.ID, DeployAction(env.Approval)); !ok {
			continue
		}
		if _, err := deployCommit(r, env, i == len(p.Environments)-1, "head"); err == nil {
			out = append(out, "deploy:"+env.Name)
		}
	}
	may := func(dc decision) bool {
		ok, _ := Can(u, p.ID, dc.action)
		return ok && slices.Contains(dc.from, r.State)
	}
	if may(decideTestPassed) && (u.Name != r.Requester || p.Workflow.AllowSelfTest) {
		out = append(out, "test")
	}
	if may(decideApprove) && u.Name != r.Requester {
		out = append(out, "approve")
	}
	for _, x := range []struct {
		name string
		dc   decision
	}{{"reject", decideReject}, {"accept", decideAccept}, {"refuse", decideRefuse}} {
		if may(x.dc) {
			out = append(out, x.name)
		}
	}
	if ok, _ := Can(u, p.ID, ActionReleaseComplete); ok && r.State == projections.StateAccepted {
		if _, commit := liveOf(r, p); commit != "" {
			out = append(out, "complete")
		}
	}
	if may(decideCancel) {
		out = append(out, "cancel")
	}
	return out
}
