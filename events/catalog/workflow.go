package catalog

import (
	"encoding/json"
	"time"
)

// The workflow's event types: what people decide. The app writes them.
//
// Streams: user/<name>, project/<id>, release/<id>. Credentials (password
// and token hashes) are not events: they live in the app's credential store,
// so an exported audit log never carries them; the events record only that
// a password was set or a token created or revoked.
const (
	TypeUserCreated         = "user.created"
	TypeUserRolesChanged    = "user.roles_changed"
	TypeUserPasswordChanged = "user.password_changed"
	TypeUserDisabled        = "user.disabled"
	TypeUserEnabled         = "user.enabled"
	TypeUserLanguageSet     = "user.language_set" // the language the UI shows the user
	TypeUserContactsSet     = "user.contacts_set" // the handles notifications reach the user by
	TypeLoginSucceeded      = "user.login_succeeded"
	TypeLoginFailed         = "user.login_failed"
	TypeTokenCreated        = "token.created"
	TypeTokenRevoked        = "token.revoked"

	TypeProjectConfigured = "project.configured"
	TypeVersionMarkedBad  = "version.marked_bad"

	TypeReleaseOpened          = "release.opened"
	TypeReleaseDeployRequested = "release.deploy_requested"
	TypeReleaseTestPassed      = "release.test_passed"
	TypeReleaseTestFailed      = "release.test_failed"
	TypeReleaseApproved        = "release.approved"
	TypeReleaseRejected        = "release.rejected"
	TypeReleaseAccepted        = "release.accepted"
	TypeReleaseRefused         = "release.refused"
	TypeReleaseCompleted       = "release.completed"
	TypeReleaseCancelled       = "release.cancelled"
	TypeRollbackRequested      = "rollback.requested" // on project/<id>: who rolled which environment back, and why
)

// Roles per project; admin is global.
const (
	RoleDeveloper = "developer"
	RoleTester    = "tester"
	RoleApprover  = "approver"
	RoleManager   = "manager"
)

// UserCreated is user.created.
type UserCreated struct {
	Name  string              `json:"name"`
	Admin bool                `json:"admin"`
	Roles map[string][]string `json:"roles,omitempty"` // project -> roles
}

// UserRolesChanged is user.roles_changed: the whole new grant.
type UserRolesChanged struct {
	Name  string              `json:"name"`
	Admin bool                `json:"admin"`
	Roles map[string][]string `json:"roles,omitempty"`
}

// UserRef is user.password_changed, user.disabled, user.enabled and
// user.login_succeeded.
type UserRef struct {
	Name   string `json:"name"`
	Reason string `json:"reason,omitempty"`
}

// UserLanguageSet is user.language_set: the UI's language the user chose
// (a BCP 47 tag the UI has: "en", "zh-CN").
type UserLanguageSet struct {
	Name     string `json:"name"`
	Language string `json:"language"`
}

// UserContactsSet is user.contacts_set: the whole set of the user's
// contact handles after the change (an empty handle was cleared).
type UserContactsSet struct {
	Name     string   `json:"name"`
	Contacts Contacts `json:"contacts"`
}

// Contacts are the handles a notification reaches a person by: an email
// address, a mobile number (DingTalk and WeCom mention people by it), a
// Feishu open id, user id or email, and a Slack member id.
type Contacts struct {
	Email  string `json:"email,omitempty"`
	Mobile string `json:"mobile,omitempty"`
	Feishu string `json:"feishu,omitempty"`
	Slack  string `json:"slack,omitempty"`
}

// LoginFailed is user.login_failed. Name is what was typed (it may name no user).
type LoginFailed struct {
	Name   string `json:"name"`
	Reason string `json:"reason"` // bad_password, unknown_user, disabled, locked
}

// TokenEvent is token.created and token.revoked.
type TokenEvent struct {
	User      string    `json:"user"`
	ID        string    `json:"id"`
	Name      string    `json:"name,omitempty"`
	Kind      string    `json:"kind"` // session | personal
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// ProjectConfigured is project.configured: the whole configuration (the
// Project as JSON) and a readable diff against the previous one.
type ProjectConfigured struct {
	ID     string          `json:"id"`
	Config json.RawMessage `json:"config"`
	Diff   []string        `json:"diff,omitempty"` // "+ environments[1].hosts[0]: web2:22" lines
}

// VersionMarkedBad is version.marked_bad.
type VersionMarkedBad struct {
	Project     string `json:"project"`
	Environment string `json:"environment"`
	Version     string `json:"version"`
	Reason      string `json:"reason"`
}

// RollbackRequested is rollback.requested: the people's side of a rollback
// deployment (the runner writes the deploy.* events).
type RollbackRequested struct {
	Project     string `json:"project"`
	Environment string `json:"environment"`
	Version     string `json:"version"`
	Commit      string `json:"commit"`
	Deployment  string `json:"deployment"`
	Reason      string `json:"reason"`
	// Release is the live release whose refusal asked for this rollback
	// (a manager's "refuse and roll back"); empty for a plain rollback.
	Release string `json:"release,omitempty"`
}

// ReleaseOpened is release.opened.
type ReleaseOpened struct {
	ID            string `json:"id"`
	Project       string `json:"project"`
	Branch        string `json:"branch"`
	Title         string `json:"title"`
	Note          string `json:"note,omitempty"`
	CreatedBranch bool   `json:"created_branch,omitempty"`
	BaseCommit    string `json:"base_commit,omitempty"` // the mainline commit a created branch started from
}

// ReleaseDeployRequested is release.deploy_requested: the release's side of
// a deployment; the branch head was pinned to Commit.
type ReleaseDeployRequested struct {
	ID          string `json:"id"`
	Project     string `json:"project"`
	Environment string `json:"environment"`
	Deployment  string `json:"deployment"`
	Commit      string `json:"commit"`
	Version     string `json:"version"`
}

// ReleaseDecision is release.test_passed, test_failed, approved, rejected,
// accepted, refused and cancelled: who decided, on which commit, and why.
type ReleaseDecision struct {
	ID          string `json:"id"`
	Project     string `json:"project"`
	Environment string `json:"environment,omitempty"` // test decisions: the stage tested
	Commit      string `json:"commit,omitempty"`
	Note        string `json:"note,omitempty"`
}

// ReleaseCompleted is release.completed.
type ReleaseCompleted struct {
	ID            string `json:"id"`
	Project       string `json:"project"`
	Commit        string `json:"commit"`
	Tag           string `json:"tag"`
	FastForwarded bool   `json:"fast_forwarded,omitempty"`
}
