package app

import (
	"cmp"
	"context"
	"slices"
	"strconv"

	"releasedesk/events"
	"releasedesk/events/catalog"
	"releasedesk/events/text"
	"releasedesk/projections"
	"releasedesk/runner"
)

// OpenReleaseInput is POST /api/v1/releases.
type OpenReleaseInput struct {
	Project      string `json:"project"`
	Branch       string `json:"branch"`
	CreateBranch bool   `json:"create_branch"`
	Title        string `json:"title"`
	Note         string `json:"note"`
}

// activeStates are the states of a release still under way; ReleaseStates
// adds the two it ends in.
var (
	activeStates = []string{projections.StateOpen, projections.StateTesting, projections.StateTested,
		projections.StateApproved, projections.StateLive, projections.StateAccepted}
	ReleaseStates = append(slices.Clip(activeStates), projections.StateCompleted, projections.StateCancelled)
)

// Release returns one release, or a *NotFoundError.
func (d *Desk) Release(id string) (projections.Release, error) {
	r, ok := d.Set.Releases.Get(id)
	if !ok {
		return r, &NotFoundError{Message: text.New("no release %q", id)}
	}
	return r, nil
}

// OpenRelease opens a release of a branch, creating the branch from the
// mainline first when asked. A branch has at most one release under way.
func (d *Desk) OpenRelease(ctx context.Context, u UserView, in OpenReleaseInput) (projections.Release, error) {
	if err := d.Writable(); err != nil {
		return projections.Release{}, err
	}
	if in.Project == "" {
		return projections.Release{}, &InvalidError{Field: "project", Reason: text.New("is required")}
	}
	p, _, err := d.project(in.Project)
	if err != nil {
		return projections.Release{}, err
	}
	if err := Authorize(u, p.ID, ActionReleaseOpen); err != nil {
		return projections.Release{}, err
	}
	if err := checkText("title", in.Title, maxTitleRunes, true); err != nil {
		return projections.Release{}, err
	}
	if err := checkText("note", in.Note, maxNoteRunes, false); err != nil {
		return projections.Release{}, err
	}
	if err := runner.ValidateRef(in.Branch); err != nil {
		return projections.Release{}, &InvalidError{Field: "branch", Reason: text.Of(err)}
	}
	if in.Branch == p.Branch {
		return projections.Release{}, &InvalidError{Field: "branch",
			Reason: text.New("%s is the mainline of %s: a release is made on its own branch", in.Branch, p.ID)}
	}
	if err := d.branchFree(p.ID, in.Branch); err != nil {
		return projections.Release{}, err
	}
	opened := catalog.ReleaseOpened{Project: p.ID, Branch: in.Branch, Title: in.Title, Note: in.Note}
	if in.CreateBranch {
		m, err := d.mirror(ctx, p)
		if err != nil {
			return projections.Release{}, err
		}
		if opened.BaseCommit, err = m.CreateBranch(ctx, in.Branch, "refs/heads/"+p.Branch); err != nil {
			return projections.Release{}, gitError("branch", err)
		}
		opened.CreatedBranch = true
	} else if _, err := d.headOf(ctx, p, in.Branch); err != nil {
		return projections.Release{}, err
	}

	var out projections.Release
	err = d.decide(ctx, func() error {
		if err := d.branchFree(p.ID, in.Branch); err != nil {
			return err
		}
		for n := d.Set.Stats().Releases + 1; ; n++ {
			opened.ID = strconv.Itoa(n)
			if _, taken := d.Set.Releases.Get(opened.ID); taken {
				continue
			}
			e, err := catalog.NewEvent(catalog.TypeReleaseOpened, u.Name, opened)
			if err != nil {
				return err
			}
			if _, err := d.writer().at(ctx, catalog.ReleaseStream(opened.ID), events.NoStream, e); err != nil {
				return err
			}
			out, _ = d.Set.Releases.Get(opened.ID)
			return nil
		}
	})
	return out, err
}

// branchFree refuses a second release of a branch under way.
func (d *Desk) branchFree(project, branch string) error {
	page := d.Set.Releases.Board(projections.BoardQuery{Project: project, States: activeStates, Text: branch,
		Limit: projections.MaxBoardLimit})
	for _, r := range page.Releases {
		if r.Branch == branch {
			return &ConflictError{Message: text.New("branch %s of %s already has release %s (%s, %s): "+
				"finish or cancel it first", branch, project, r.ID, r.Title, r.State)}
		}
	}
	return nil
}

// DeployResult is what asking for a deployment returns.
type DeployResult struct {
	Deployment  string `json:"deployment"`
	Release     string `json:"release,omitempty"`
	Project     string `json:"project"`
	Environment string `json:"environment"`
	Commit      string `json:"commit"`
	Version     string `json:"version"`
	Kind        string `json:"kind"`
}

// DeployRelease asks for a deployment of release id to environment env.
// The commit is chosen by the stage: a test stage takes the branch head
// (pinned now), a stage that needs approval only the approved commit, and
// a last stage without approval the tested commit if there is one, else
// the branch head.
func (d *Desk) DeployRelease(ctx context.Context, u UserView, id, envName string) (DeployResult, error) {
	if err := d.Writable(); err != nil {
		return DeployResult{}, err
	}
	r, err := d.Release(id)
	if err != nil {
		return DeployResult{}, err
	}
	p, _, err := d.project(r.Project)
	if err != nil {
		return DeployResult{}, err
	}
	if envName == "" {
		return DeployResult{}, &InvalidError{Field: "env", Reason: text.New("is required")}
	}
	env, last, err := environment(p, envName)
	if err != nil {
		return DeployResult{}, err
	}
	if err := Authorize(u, p.ID, DeployAction(env.Approval)); err != nil {
		return DeployResult{}, err
	}
	// The branch head, fetched before deciding (a slow step that decides
	// nothing); only used where the stage takes the head.
	head := ""
	if !env.Approval {
		if head, err = d.headOf(ctx, p, r.Branch); err != nil {
			return DeployResult{}, err
		}
	}
	var out DeployResult
	err = d.decide(ctx, func() error {
		r, err := d.Release(id)
		if err != nil {
			return err
		}
		commit, err := deployCommit(r, env, last, head)
		if err != nil {
			return err
		}
		if err := d.busy(p.ID, env.Name); err != nil {
			return err
		}
		version, err := runner.NewVersion(d.NowUTC(), commit)
		if err != nil {
			return err
		}
		dep := d.nextDeploymentID()
		req := catalog.Request{Deployment: dep, Kind: catalog.KindDeploy, Project: d.snapshot(p), Environment: env.Name,
			Commit: commit, Version: version, Release: r.ID}
		if err := runner.CheckRequest(req); err != nil {
			return &InvalidError{Field: "project", Reason: text.Of(err)}
		}
		e, err := catalog.NewEvent(catalog.TypeReleaseDeployRequested, u.Name, catalog.ReleaseDeployRequested{
			ID: r.ID, Project: p.ID, Environment: env.Name, Deployment: dep, Commit: commit, Version: version})
		if err != nil {
			return err
		}
		if _, err := d.writer().next(ctx, catalog.ReleaseStream(r.ID), e); err != nil {
			return err
		}
		if err := d.submit(ctx, req, u.Name); err != nil {
			return err
		}
		out = DeployResult{Deployment: dep, Release: r.ID, Project: p.ID, Environment: env.Name, Commit: commit,
			Version: version, Kind: catalog.KindDeploy}
		return nil
	})
	return out, err
}

// deployCommit is the commit release r may send to env now, or why not.
func deployCommit(r projections.Release, env catalog.Environment, last bool, head string) (string, error) {
	switch r.State {
	case projections.StateCompleted, projections.StateCancelled:
		return "", &ConflictError{Message: text.New("release %s is %s: it deploys nothing more", r.ID, r.State)}
	}
	switch {
	case env.Approval:
		// A live release may go to its last stage again (a redeploy of the
		// same approved commit), never back to an earlier approval stage.
		live := last && r.State == projections.StateLive
		if r.ApprovedCommit == "" || (r.State != projections.StateApproved && !live) {
			return "", &ConflictError{Message: text.New("release %s is %s: %s takes only an approved commit; "+
				"it must be tested and approved first", r.ID, r.State, env.Name)}
		}
		return r.ApprovedCommit, nil
	case last:
		if r.State == projections.StateAccepted {
			return "", &ConflictError{Message: text.New("release %s is accepted: complete it, or refuse it to change what runs", r.ID)}
		}
		if r.ApprovedCommit != "" {
			return r.ApprovedCommit, nil
		}
		if r.TestedCommit != "" {
			return r.TestedCommit, nil
		}
		return head, nil
	default:
		if r.State != projections.StateOpen && r.State != projections.StateTesting {
			return "", &ConflictError{Message: text.New("release %s is %s: a test stage takes a release that is open "+
				"or in test; an approver rejects it (or a manager refuses it once live) to send it back for a new commit", r.ID, r.State)}
		}
		return head, nil
	}
}

// decision is one person's decision on a release.
type decision struct {
	action string   // roles table
	typ    string   // the event
	from   []string // states it is allowed in
	field  string   // "note" or "reason"
	needed bool     // the note is required (refusals say why)
}

var (
	decideTestPassed = decision{ActionReleaseTest, catalog.TypeReleaseTestPassed, []string{projections.StateTesting}, "note", false}
	decideTestFailed = decision{ActionReleaseTest, catalog.TypeReleaseTestFailed, []string{projections.StateTesting}, "note", true}
	decideApprove    = decision{ActionReleaseApprove, catalog.TypeReleaseApproved, []string{projections.StateTested}, "note", false}
	decideReject     = decision{ActionReleaseReject, catalog.TypeReleaseRejected,
		[]string{projections.StateTested, projections.StateApproved}, "reason", true}
	decideAccept = decision{ActionReleaseAccept, catalog.TypeReleaseAccepted, []string{projections.StateLive}, "note", false}
	decideRefuse = decision{ActionReleaseRefuse, catalog.TypeReleaseRefused, []string{projections.StateLive}, "reason", true}
	decideCancel = decision{ActionReleaseCancel, catalog.TypeReleaseCancelled, activeStates, "reason", true}
)

// Test records a tester's verdict on what runs on the test stage.
func (d *Desk) Test(ctx context.Context, u UserView, id string, passed bool, note string) (projections.Release, error) {
	if passed {
		return d.decideOn(ctx, u, id, decideTestPassed, note)
	}
	return d.decideOn(ctx, u, id, decideTestFailed, note)
}

// Approve approves the tested commit; Reject sends the release back to work.
func (d *Desk) Approve(ctx context.Context, u UserView, id, note string) (projections.Release, error) {
	return d.decideOn(ctx, u, id, decideApprove, note)
}

func (d *Desk) Reject(ctx context.Context, u UserView, id, reason string) (projections.Release, error) {
	return d.decideOn(ctx, u, id, decideReject, reason)
}

// Accept accepts what runs in production; Refuse sends the release back.
func (d *Desk) Accept(ctx context.Context, u UserView, id, note string) (projections.Release, error) {
	return d.decideOn(ctx, u, id, decideAccept, note)
}

func (d *Desk) Refuse(ctx context.Context, u UserView, id, reason string) (projections.Release, error) {
	return d.decideOn(ctx, u, id, decideRefuse, reason)
}

// CancelRelease cancels a release in any state before completed.
func (d *Desk) CancelRelease(ctx context.Context, u UserView, id, reason string) (projections.Release, error) {
	return d.decideOn(ctx, u, id, decideCancel, reason)
}

// decideOn checks and records one decision.
func (d *Desk) decideOn(ctx context.Context, u UserView, id string, dc decision, note string) (projections.Release, error) {
	if err := checkText(dc.field, note, maxNoteRunes, dc.needed); err != nil {
		return projections.Release{}, err
	}
	var out projections.Release
	err := d.decide(ctx, func() error {
		r, p, err := d.releaseWithProject(id)
		if err != nil {
			return err
		}
		if err := d.checkDecision(u, r, p, dc); err != nil {
			return err
		}
		out, err = d.recordDecision(ctx, u, r, p, dc, note)
		return err
	})
	return out, err
}

// releaseWithProject is release id and its project's configuration.
func (d *Desk) releaseWithProject(id string) (projections.Release, catalog.Project, error) {
	r, err := d.Release(id)
	if err != nil {
		return r, catalog.Project{}, err
	}
	p, _, err := d.project(r.Project)
	return r, p, err
}

// checkDecision tells whether u may take decision dc on release r now: the
// roles table, the states it is allowed in, and separation of duties.
func (d *Desk) checkDecision(u UserView, r projections.Release, p catalog.Project, dc decision) error {
	if err := Authorize(u, r.Project, dc.action); err != nil {
		return err
	}
	if !slices.Contains(dc.from, r.State) {
		return &ConflictError{Message: text.New("release %s is %s: %s needs it %s", r.ID, r.State,
			doingOf(dc.action), orList(dc.from))}
	}
	switch dc.typ {
	case catalog.TypeReleaseTestPassed, catalog.TypeReleaseTestFailed:
		if u.Name == r.Requester && !p.Workflow.AllowSelfTest {
			return &ForbiddenError{Rule: text.New("a tester cannot pass or fail their own release: %s opened "+
				"release %s (project %s does not allow self-tests)", u.Name, r.ID, r.Project)}
		}
	case catalog.TypeReleaseApproved:
		if u.Name == r.Requester {
			return &ForbiddenError{Rule: text.New("nobody approves their own release: %s opened release %s",
				u.Name, r.ID)}
		}
	}
	return nil
}

// recordDecision appends decision dc on release r (checked by
// checkDecision) with the commit it is about, and returns the release.
func (d *Desk) recordDecision(ctx context.Context, u UserView, r projections.Release, p catalog.Project, dc decision, note string) (projections.Release, error) {
	ev := catalog.ReleaseDecision{ID: r.ID, Project: r.Project, Note: note}
	switch dc.typ {
	case catalog.TypeReleaseTestPassed, catalog.TypeReleaseTestFailed:
		ev.Commit, ev.Environment = r.PinnedCommit, r.PinnedEnv
	case catalog.TypeReleaseApproved:
		ev.Commit, ev.Environment = r.TestedCommit, r.TestedEnv
	case catalog.TypeReleaseRejected:
		ev.Commit = cmp.Or(r.ApprovedCommit, r.TestedCommit)
	case catalog.TypeReleaseAccepted, catalog.TypeReleaseRefused:
		_, ev.Commit = liveOf(r, p)
	}
	e, err := catalog.NewEvent(dc.typ, u.Name, ev)
	if err != nil {
		return projections.Release{}, err
	}
	if _, err := d.writer().next(ctx, catalog.ReleaseStream(r.ID), e); err != nil {
		return projections.Release{}, err
	}
	out, _ := d.Set.Releases.Get(r.ID)
	return out, nil
}

// liveOf is the version and commit release r runs on the project's last
// stage (what a manager accepts and completion tags), or "".
func liveOf(r projections.Release, p catalog.Project) (version, commit string) {
	if len(p.Environments) == 0 {
		return "", ""
	}
	last := p.Environments[len(p.Environments)-1].Name
	for _, x := range r.Deployments {
		if x.Environment == last && x.State == projections.DeploySucceeded {
			return x.Version, x.Commit
		}
	}
	return "", ""
}

// doingOf is the words of an action ("approving a release").
func doingOf(action string) text.Text {
	if r := roleRuleOf[action]; r != nil {
		return r.doing
	}
	return text.Plain(action)
}
