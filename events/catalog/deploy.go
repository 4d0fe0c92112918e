package catalog

import "time"

// Event types the runner writes (and deploy.requested, the queue entry the
// app writes for it). Each is a constant string (never derived from a Go
// name) with a payload struct below; projections and the audit trail read
// them. Deployment events go to stream deploy/<id>, locks to
// lock/<project>/<env>, host keys to host/<addr>.
const (
	TypeDeployRequested       = "deploy.requested" // written by the app: the queue entry
	TypeDeployStarted         = "deploy.started"   // a runner claimed it (expected version 1)
	TypeDeployPlanned         = "deploy.planned"
	TypeStepStarted           = "step.started"
	TypeStepOutput            = "step.output"
	TypeStepFinished          = "step.finished"
	TypeHostObserved          = "deploy.host_observed" // what a host really runs (recovery, drift)
	TypeHostStaged            = "deploy.host_staged"
	TypeHostSwitched          = "deploy.host_switched"
	TypeHostFailed            = "deploy.host_failed"
	TypeHostReverted          = "deploy.host_reverted"
	TypeDeploySucceeded       = "deploy.succeeded"
	TypeDeployFailed          = "deploy.failed"
	TypeDeployCancelRequested = "deploy.cancel_requested"
	TypeDeployCancelled       = "deploy.cancelled"
	TypeDeployInterrupted     = "deploy.interrupted"
	TypeDeployResumed         = "deploy.resumed" // a retry or resume: run the hosts not yet done
	TypeLockAcquired          = "lock.acquired"
	TypeLockReleased          = "lock.released"
	TypeLockBroken            = "lock.broken"
	TypeHostKeyTrusted        = "host.key_trusted"
	TypeHostKeyRejected       = "host.key_rejected"
	TypeReleasePruned         = "release.pruned"
	TypeDriftChecked          = "drift.checked"
)

// Deployment kinds.
const (
	KindDeploy   = "deploy"
	KindRollback = "rollback"
)

// Request is deploy.requested: everything a runner needs to do the
// deployment, fixed when it was asked for.
type Request struct {
	Deployment  string   `json:"deployment"`
	Kind        string   `json:"kind"` // deploy | rollback
	Project     Project  `json:"project"`
	Environment string   `json:"environment"`
	Commit      string   `json:"commit"`  // 40-hex SHA, resolved before the request
	Version     string   `json:"version"` // YYYYMMDDHHMMSS-<sha7>
	Release     string   `json:"release,omitempty"`
	Reason      string   `json:"reason,omitempty"` // why (rollbacks)
	Hosts       []string `json:"hosts,omitempty"`  // a subset of the environment's hosts; empty: all
}

// Started is deploy.started.
type Started struct {
	Deployment string `json:"deployment"`
	Runner     string `json:"runner"` // which process claimed it (host name and pid)
}

// Planned is deploy.planned: the hosts in their batches and the tree to publish.
type Planned struct {
	Deployment   string     `json:"deployment"`
	Project      string     `json:"project"`
	Environment  string     `json:"environment"`
	Version      string     `json:"version"`
	Commit       string     `json:"commit"`
	Kind         string     `json:"kind"`
	Batches      [][]string `json:"batches"`
	Parallel     int        `json:"parallel"`
	OnFailure    string     `json:"on_failure"`
	ManifestHash string     `json:"manifest_hash,omitempty"`
	Files        int        `json:"files"`
	Bytes        int64      `json:"bytes"`
	Skipped      []string   `json:"skipped,omitempty"` // hosts already at this version (resume)
}

// StepStarted is step.started. Step ids are unique within a deployment.
type StepStarted struct {
	Deployment string   `json:"deployment"`
	Step       string   `json:"step"`           // e.g. "web1:stage"
	Name       string   `json:"name"`           // connect, lock, stage, link, hook.pre_release, check, switch, ...
	Host       string   `json:"host,omitempty"` // empty for local steps
	Command    []string `json:"command,omitempty"`
}

// StepOutput is step.output: a coalesced chunk of a step's output,
// redacted of secrets.
type StepOutput struct {
	Deployment string `json:"deployment"`
	Step       string `json:"step"`
	Host       string `json:"host,omitempty"`
	Text       string `json:"text"`
	Truncated  bool   `json:"truncated,omitempty"` // output beyond the cap was dropped
}

// StepFinished is step.finished.
type StepFinished struct {
	Deployment string `json:"deployment"`
	Step       string `json:"step"`
	Host       string `json:"host,omitempty"`
	ExitCode   int    `json:"exit_code"`
	DurationMS int64  `json:"duration_ms"`
	Error      string `json:"error,omitempty"`
}

// HostEvent is deploy.host_staged, host_switched, host_failed,
// host_reverted and host_observed.
type HostEvent struct {
	Deployment  string `json:"deployment"`
	Project     string `json:"project"`
	Environment string `json:"environment"`
	Host        string `json:"host"`
	Version     string `json:"version,omitempty"`  // what the host runs after this event
	Commit      string `json:"commit,omitempty"`   // the commit of Version
	Previous    string `json:"previous,omitempty"` // what it ran before
	Step        string `json:"step,omitempty"`     // the failing step
	Error       string `json:"error,omitempty"`
}

// Finished is deploy.succeeded, failed, cancelled and interrupted.
type Finished struct {
	Deployment  string   `json:"deployment"`
	Project     string   `json:"project"`
	Environment string   `json:"environment"`
	Version     string   `json:"version"`
	Commit      string   `json:"commit"`
	Kind        string   `json:"kind"`
	Switched    []string `json:"switched,omitempty"` // hosts now on Version
	Failed      []string `json:"failed,omitempty"`
	Reverted    []string `json:"reverted,omitempty"`
	Error       string   `json:"error,omitempty"`
	DurationMS  int64    `json:"duration_ms"`
}

// CancelRequested is deploy.cancel_requested.
type CancelRequested struct {
	Deployment string `json:"deployment"`
	Reason     string `json:"reason,omitempty"`
}

// Resumed is deploy.resumed: a retry of failed hosts, or a resume after an
// interruption; hosts already on the version are not redone.
type Resumed struct {
	Deployment string   `json:"deployment"`
	Hosts      []string `json:"hosts"`
}

// LockEvent is lock.acquired, lock.released and lock.broken.
type LockEvent struct {
	Project     string    `json:"project"`
	Environment string    `json:"environment"`
	Deployment  string    `json:"deployment"`
	Holder      string    `json:"holder"` // who asked for the deployment
	Since       time.Time `json:"since,omitzero"`
	Reason      string    `json:"reason,omitempty"` // lock.broken: why
	// Host is, in lock.broken, the one host whose remote lock an admin
	// broke; "" for every host of the environment (and in the others).
	Host string `json:"host,omitempty"`
}

// HostKeyEvent is host.key_trusted and host.key_rejected.
type HostKeyEvent struct {
	Host        string `json:"host"` // host:port as dialled
	KeyType     string `json:"key_type"`
	Fingerprint string `json:"fingerprint"` // SHA256:...
	Key         string `json:"key,omitempty"`
	Reason      string `json:"reason,omitempty"` // rejected: unknown or changed
	Deployment  string `json:"deployment,omitempty"`
}

// Pruned is release.pruned.
type Pruned struct {
	Deployment  string   `json:"deployment"`
	Project     string   `json:"project"`
	Environment string   `json:"environment"`
	Host        string   `json:"host"`
	Versions    []string `json:"versions"`
}

// DriftReport is drift.checked: what hosts run against what the log says.
type DriftReport struct {
	Project     string      `json:"project"`
	Environment string      `json:"environment"`
	Hosts       []HostDrift `json:"hosts"`
	// Scheduled: the periodic check of the environment's drift_check ran
	// it (by the runner), not a person asking.
	Scheduled bool `json:"scheduled,omitempty"`
}

// HostDrift is one host's line of a drift report.
type HostDrift struct {
	Host     string `json:"host"`
	Expected string `json:"expected"` // version the log says is live
	Actual   string `json:"actual"`   // version `current` points to ("" if none)
	Commit   string `json:"commit,omitempty"`
	Error    string `json:"error,omitempty"`
	Drifted  bool   `json:"drifted"`
}
