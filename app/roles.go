package app

import (
	"slices"
	"strings"

	"releasedesk/events/catalog"
	"releasedesk/events/text"
)

// Actions a person may take. What each role may do is the one table below,
// roleTable; Can reads it and nothing else decides who may do what.
// (Separation of duties, such as nobody approving their own release, is a
// workflow rule on top of this table: it depends on the release, not on
// the roles.)
const (
	ActionReleaseOpen           = "release.open"
	ActionReleaseDeploy         = "release.deploy"          // to a stage without approval
	ActionReleaseDeployApproved = "release.deploy_approved" // to a stage that needs approval
	ActionReleaseTest           = "release.test"            // pass or fail
	ActionReleaseApprove        = "release.approve"
	ActionReleaseReject         = "release.reject"
	ActionReleaseAccept         = "release.accept"
	ActionReleaseRefuse         = "release.refuse"
	ActionReleaseRefuseRollback = "release.refuse_rollback" // refuse and roll production back to the version before
	ActionReleaseComplete       = "release.complete"
	ActionReleaseCancel         = "release.cancel"
	ActionRollback              = "environment.rollback"          // a stage without approval
	ActionRollbackApproved      = "environment.rollback_approved" // a stage that needs approval
	ActionVersionMarkBad        = "version.mark_bad"
	ActionDeploymentCancel      = "deployment.cancel"
	ActionDeploymentRetry       = "deployment.retry"
	ActionDriftCheck            = "environment.drift_check" // read what each host runs, now
	ActionProjectConfigure      = "project.configure"
	ActionUserManage            = "user.manage"
	ActionHostTrust             = "host.trust"
	ActionLockBreak             = "lock.break"
	ActionChannelTest           = "channel.test" // send a test message to a notification channel, now
	ActionAuditRead             = "audit.read"
	ActionAuditExport           = "audit.export"
)

// ProjectRoles are the per-project roles, in their usual order; admin is global.
var ProjectRoles = []string{catalog.RoleDeveloper, catalog.RoleTester, catalog.RoleApprover, catalog.RoleManager}

// RoleAdmin names the global role in rules and views.
const RoleAdmin = "admin"

// roleScope says what an action is checked against.
type roleScope int

const (
	scopeProject    roleScope = iota // the roles the user holds on the action's project
	scopeAnyProject                  // the roles the user holds on any project (global actions)
	scopeSignedIn                    // any signed-in, enabled user
)

// roleRule is one row of the table: who, besides admins (who may do
// everything), may take an action, and how a refusal reads.
type roleRule struct {
	action string
	doing  text.Text // "approving a release": the words of a refusal
	scope  roleScope // scopeProject unless said
	roles  []string  // per-project roles allowed; none: admins only
}

// roleTable is who may do what. Deploying and rolling back are split by
// the stage: a stage that needs approval is the approvers' (the workflow
// also holds it to the approved commit); a stage without approval is its
// deployers' (developers), and approvers may roll it back too.
var roleTable = []roleRule{
	{action: ActionReleaseOpen, doing: text.New("opening a release"), roles: []string{catalog.RoleDeveloper, catalog.RoleManager}},
	{action: ActionReleaseDeploy, doing: text.New("deploying to a stage without approval"), roles: []string{catalog.RoleDeveloper}},
	{action: ActionReleaseDeployApproved, doing: text.New("deploying to a stage that needs approval"), roles: []string{catalog.RoleApprover}},
	{action: ActionReleaseTest, doing: text.New("passing or failing a release's test"), roles: []string{catalog.RoleTester}},
	{action: ActionReleaseApprove, doing: text.New("approving a release"), roles: []string{catalog.RoleApprover}},
	{action: ActionReleaseReject, doing: text.New("rejecting a release"), roles: []string{catalog.RoleApprover}},
	{action: ActionReleaseAccept, doing: text.New("accepting a release"), roles: []string{catalog.RoleManager}},
	{action: ActionReleaseRefuse, doing: text.New("refusing a release"), roles: []string{catalog.RoleManager}},
	{action: ActionReleaseRefuseRollback, doing: text.New("rolling production back with a refusal"), roles: []string{catalog.RoleManager}},
	{action: ActionReleaseComplete, doing: text.New("completing a release"), roles: []string{catalog.RoleDeveloper, catalog.RoleManager}},
	{action: ActionReleaseCancel, doing: text.New("cancelling a release"), roles: []string{catalog.RoleDeveloper, catalog.RoleManager}},
	{action: ActionRollback, doing: text.New("rolling back a stage without approval"), roles: []string{catalog.RoleDeveloper, catalog.RoleApprover}},
	{action: ActionRollbackApproved, doing: text.New("rolling back a stage that needs approval"), roles: []string{catalog.RoleApprover}},
	{action: ActionVersionMarkBad, doing: text.New("marking a version bad"), roles: []string{catalog.RoleTester, catalog.RoleApprover, catalog.RoleManager}},
	{action: ActionDeploymentCancel, doing: text.New("cancelling a deployment"), roles: []string{catalog.RoleDeveloper, catalog.RoleApprover}},
	{action: ActionDeploymentRetry, doing: text.New("retrying a deployment"), roles: []string{catalog.RoleDeveloper, catalog.RoleApprover}},
	{action: ActionDriftCheck, doing: text.New("checking an environment's hosts for drift"), roles: ProjectRoles},
	{action: ActionProjectConfigure, doing: text.New("configuring a project")},
	{action: ActionChannelTest, doing: text.New("sending a test message to a channel")},
	{action: ActionUserManage, doing: text.New("managing users"), scope: scopeAnyProject},
	{action: ActionHostTrust, doing: text.New("trusting a host key"), scope: scopeAnyProject},
	{action: ActionLockBreak, doing: text.New("breaking a deploy lock"), scope: scopeAnyProject},
	{action: ActionAuditRead, doing: text.New("reading the audit log"), scope: scopeSignedIn},
	{action: ActionAuditExport, doing: text.New("exporting the audit log"), scope: scopeAnyProject, roles: []string{catalog.RoleManager}},
}

var roleRuleOf = func() map[string]*roleRule {
	m := make(map[string]*roleRule, len(roleTable))
	for i := range roleTable {
		m[roleTable[i].action] = &roleTable[i]
	}
	return m
}()

// DeployAction is the action deploying to a stage takes.
func DeployAction(needsApproval bool) string {
	if needsApproval {
		return ActionReleaseDeployApproved
	}
	return ActionReleaseDeploy
}

// RollbackAction is the action rolling a stage back takes.
func RollbackAction(needsApproval bool) string {
	if needsApproval {
		return ActionRollbackApproved
	}
	return ActionRollback
}

// Can tells whether u may take action on project (ignored by global
// actions). When it may not, rule says why in words, e.g. "approving a
// release needs the approver role on project blog". Admins may do
// everything; a disabled or anonymous user nothing.
func Can(u UserView, project, action string) (ok bool, rule string) {
	ok, words := canDo(u, project, action)
	return ok, words.String()
}

// canDo is Can with the rule as a text, for a refusal to carry.
func canDo(u UserView, project, action string) (ok bool, rule text.Text) {
	r := roleRuleOf[action]
	switch {
	case r == nil:
		return false, text.New("unknown action %q", action)
	case u.Name == "":
		return false, text.New("%s needs a signed-in user", r.doing)
	case u.Disabled:
		return false, text.New("user %s is disabled", u.Name)
	case r.scope == scopeProject && project == "":
		return false, text.New("%s needs a project", r.doing)
	case u.Admin || r.scope == scopeSignedIn:
		return true, text.Text{}
	}
	switch r.scope {
	case scopeProject:
		for _, role := range r.roles {
			if slices.Contains(u.Roles[project], role) {
				return true, text.Text{}
			}
		}
	case scopeAnyProject:
		for _, held := range u.Roles {
			for _, role := range r.roles {
				if slices.Contains(held, role) {
					return true, text.Text{}
				}
			}
		}
	}
	switch {
	case len(r.roles) == 0:
		return false, text.New("%s needs the admin role", r.doing)
	case r.scope == scopeAnyProject:
		return false, text.New("%s needs the %s role on some project, or admin", r.doing, orList(r.roles))
	default:
		return false, text.New("%s needs the %s role on project %s", r.doing, orList(r.roles), project)
	}
}

// Authorize is Can as an error: nil, or a *ForbiddenError carrying the rule.
func Authorize(u UserView, project, action string) error {
	if ok, rule := canDo(u, project, action); !ok {
		return &ForbiddenError{Rule: rule}
	}
	return nil
}

// Permissions lists the actions u may take on project (a page greys out
// the others).
func Permissions(u UserView, project string) []string {
	var out []string
	for _, r := range roleTable {
		if ok, _ := Can(u, project, r.action); ok {
			out = append(out, r.action)
		}
	}
	return out
}

// orList writes "a", "a or b", "a, b or c".
func orList(words []string) text.Text {
	if len(words) <= 1 {
		return text.Plain(strings.Join(words, ""))
	}
	return text.New("%s or %s", strings.Join(words[:len(words)-1], ", "), words[len(words)-1])
}

// isProjectRole tells whether role is a per-project role.
func isProjectRole(role string) bool { return slices.Contains(ProjectRoles, role) }
