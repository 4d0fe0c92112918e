package app

import (
	"errors"
	"slices"
	"testing"
)

// The role table, written out again by hand: every action, who besides an
// admin may take it on project blog, and the rule a refusal names.
var wantRoleTable = []struct {
	action  string
	allowed []string // roles on blog (for global actions: on any project)
	global  bool
	anyone  bool // any signed-in user
	rule    string
}{
	{action: "release.open", allowed: []string{"developer", "manager"},
		rule: "opening a release needs the developer or manager role on project blog"},
	{action: "release.deploy", allowed: []string{"developer"},
		rule: "deploying to a stage without approval needs the developer role on project blog"},
	{action: "release.deploy_approved", allowed: []string{"approver"},
		rule: "deploying to a stage that needs approval needs the approver role on project blog"},
	{action: "release.test", allowed: []string{"tester"},
		rule: "passing or failing a release's test needs the tester role on project blog"},
	{action: "release.approve", allowed: []string{"approver"},
		rule: "approving a release needs the approver role on project blog"},
	{action: "release.reject", allowed: []string{"approver"},
		rule: "rejecting a release needs the approver role on project blog"},
	{action: "release.accept", allowed: []string{"manager"},
		rule: "accepting a release needs the manager role on project blog"},
	{action: "release.refuse", allowed: []string{"manager"},
		rule: "refusing a release needs the manager role on project blog"},
	{action: "release.refuse_rollback", allowed: []string{"manager"},
		rule: "rolling production back with a refusal needs the manager role on project blog"},
	{action: "release.complete", allowed: []string{"developer", "manager"},
		rule: "completing a release needs the developer or manager role on project blog"},
	{action: "release.cancel", allowed: []string{"developer", "manager"},
		rule: "cancelling a release needs the developer or manager role on project blog"},
	{action: "environment.rollback", allowed: []string{"developer", "approver"},
		rule: "rolling back a stage without approval needs the developer or approver role on project blog"},
	{action: "environment.rollback_approved", allowed: []string{"approver"},
		rule: "rolling back a stage that needs approval needs the approver role on project blog"},
	{action: "version.mark_bad", allowed: []string{"tester", "approver", "manager"},
		rule: "marking a version bad needs the tester, approver or manager role on project blog"},
	{action: "deployment.cancel", allowed: []string{"developer", "approver"},
		rule: "cancelling a deployment needs the developer or approver role on project blog"},
	{action: "deployment.retry", allowed: []string{"developer", "approver"},
		rule: "retrying a deployment needs the developer or approver role on project blog"},
	{action: "environment.drift_check", allowed: []string{"developer", "tester", "approver", "manager"},
		rule: "checking an environment's hosts for drift needs the developer, tester, approver or manager role on project blog"},
	{action: "project.configure", rule: "configuring a project needs the admin role"},
	{action: "channel.test", rule: "sending a test message to a channel needs the admin role"},
	{action: "user.manage", global: true, rule: "managing users needs the admin role"},
	{action: "host.trust", global: true, rule: "trusting a host key needs the admin role"},
	{action: "lock.break", global: true, rule: "breaking a deploy lock needs the admin role"},
	{action: "audit.read", global: true, anyone: true},
	{action: "audit.export", allowed: []string{"manager"}, global: true,
		rule: "exporting the audit log needs the manager role on some project, or admin"},
}

func TestRoleTableRowByRow(t *testing.T) {
	all := []string{"developer", "tester", "approver", "manager"}
	type subject struct {
		name string
		user UserView
		// allowed tells whether this subject may take the row's action.
		allowed func(allowed []string, global, anyone bool) bool
	}
	subjects := []subject{
		{"admin", UserView{Name: "root", Admin: true}, func([]string, bool, bool) bool { return true }},
		{"no roles", UserView{Name: "nobody", Roles: map[string][]string{}}, func(_ []string, _, anyone bool) bool { return anyone }},
		{"every role on another project", UserView{Name: "shopper", Roles: map[string][]string{"shop": all}},
			func(allowed []string, global, anyone bool) bool { return anyone || global && len(allowed) > 0 }},
		{"every role on blog", UserView{Name: "all", Roles: map[string][]string{"blog": all}},
			func(allowed []string, _, anyone bool) bool { return anyone || len(allowed) > 0 }},
	}
	for _, role := range all {
		subjects = append(subjects, subject{role, UserView{Name: role + "1", Roles: map[string][]string{"blog": {role}, "shop": {"developer"}}},
			func(allowed []string, _, anyone bool) bool { return anyone || slices.Contains(allowed, role) }})
	}

	var covered []string
	for _, row := range wantRoleTable {
		covered = append(covered, row.action)
		t.Run(row.action, func(t *testing.T) {
			for _, s := range subjects {
				ok, rule := Can(s.user, "blog", row.action)
				want := s.allowed(row.allowed, row.global, row.anyone)
				switch {
				case ok != want:
					t.Errorf("%s: Can = %v (%q), want %v", s.name, ok, rule, want)
				case ok && rule != "":
					t.Errorf("%s: allowed with a rule %q", s.name, rule)
				case !ok && rule != row.rule:
					t.Errorf("%s: refused with %q, want %q", s.name, rule, row.rule)
				}
				err := Authorize(s.user, "blog", row.action)
				var fe *ForbiddenError
				if want != (err == nil) || !want && (!errors.As(err, &fe) || fe.Rule.String() != row.rule || !errors.Is(err, ErrForbidden)) {
					t.Errorf("%s: Authorize = %v", s.name, err)
				}
				if slices.Contains(Permissions(s.user, "blog"), row.action) != want {
					t.Errorf("%s: Permissions disagrees with Can", s.name)
				}
			}
		})
	}
	if !slices.Equal(covered, tableActions()) {
		t.Fatalf("the test covers %v, the table has %v", covered, tableActions())
	}
}

// tableActions lists every action of roleTable, in its order.
func tableActions() []string {
	out := make([]string, len(roleTable))
	for i, r := range roleTable {
		out[i] = r.action
	}
	return out
}

func TestCanRefusesWithoutAUser(t *testing.T) {
	admin := UserView{Name: "root", Admin: true}
	for _, c := range []struct {
		user            UserView
		project, action string
		rule            string
	}{
		{UserView{}, "blog", ActionAuditRead, "reading the audit log needs a signed-in user"},
		{UserView{Admin: true}, "blog", ActionReleaseApprove, "approving a release needs a signed-in user"},
		{UserView{Name: "root", Admin: true, Disabled: true}, "blog", ActionAuditRead, "user root is disabled"},
		{admin, "blog", "release.bless", `unknown action "release.bless"`},
		{admin, "", ActionReleaseOpen, "opening a release needs a project"},
	} {
		if ok, rule := Can(c.user, c.project, c.action); ok || rule != c.rule {
			t.Errorf("Can(%+v, %q, %s) = %v %q, want refused %q", c.user, c.project, c.action, ok, rule, c.rule)
		}
	}
	if ok, _ := Can(admin, "", ActionUserManage); !ok {
		t.Error("a global action needs no project")
	}
}

func TestStageActions(t *testing.T) {
	if DeployAction(false) != ActionReleaseDeploy || DeployAction(true) != ActionReleaseDeployApproved ||
		RollbackAction(false) != ActionRollback || RollbackAction(true) != ActionRollbackApproved {
		t.Fatal("stage actions")
	}
	dev := UserView{Name: "dev", Roles: map[string][]string{"blog": {"developer"}}}
	want := []string{ActionReleaseOpen, ActionReleaseDeploy, ActionReleaseComplete, ActionReleaseCancel,
		ActionRollback, ActionDeploymentCancel, ActionDeploymentRetry, ActionDriftCheck, ActionAuditRead}
	if got := Permissions(dev, "blog"); !slices.Equal(got, want) {
		t.Fatalf("developer may %v, want %v", got, want)
	}
}
