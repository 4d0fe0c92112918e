package projections

// The runner's event types, as runner/events.go writes them. Projections
// import nothing of the runner, so the names are repeated here and the
// payloads are read from their JSON (payload.go); contract_test.go checks
// the JSON field names against the runner's source.
const (
	typeDeployRequested       = "deploy.requested"
	typeDeployStarted         = "deploy.started"
	typeDeployPlanned         = "deploy.planned"
	typeStepStarted           = "step.started"
	typeStepOutput            = "step.output"
	typeStepFinished          = "step.finished"
	typeHostObserved          = "deploy.host_observed"
	typeHostStaged            = "deploy.host_staged"
	typeHostSwitched          = "deploy.host_switched"
	typeHostFailed            = "deploy.host_failed"
	typeHostReverted          = "deploy.host_reverted"
	typeDeploySucceeded       = "deploy.succeeded"
	typeDeployFailed          = "deploy.failed"
	typeDeployCancelRequested = "deploy.cancel_requested"
	typeDeployCancelled       = "deploy.cancelled"
	typeDeployInterrupted     = "deploy.interrupted"
	typeDeployResumed         = "deploy.resumed"
	typeLockAcquired          = "lock.acquired"
	typeLockReleased          = "lock.released"
	typeLockBroken            = "lock.broken"
	typeHostKeyTrusted        = "host.key_trusted"
	typeHostKeyRejected       = "host.key_rejected"
	typeReleasePruned         = "release.pruned"
	typeDriftChecked          = "drift.checked"
)

// Deployment kinds (runner.KindDeploy, runner.KindRollback).
const (
	KindDeploy   = "deploy"
	KindRollback = "rollback"
)

// Deployment states (DESIGN.md section 5).
const (
	DeployQueued      = "queued"
	DeployRunning     = "running"
	DeploySucceeded   = "succeeded"
	DeployFailed      = "failed"
	DeployCancelled   = "cancelled"
	DeployInterrupted = "interrupted"
)

// Per-host states of a deployment.
const (
	HostPending  = "pending"
	HostStaging  = "staging"
	HostStaged   = "staged"
	HostSwitched = "switched"
	HostFailed   = "failed"
	HostReverted = "reverted"
	HostObserved = "observed"
)

// localHost is the one target of the local strategy (runner.LocalHost).
const localHost = "local"

// terminalState maps a terminal deploy event type to its state word.
func terminalState(typ string) (string, bool) {
	switch typ {
	case typeDeploySucceeded:
		return DeploySucceeded, true
	case typeDeployFailed:
		return DeployFailed, true
	case typeDeployCancelled:
		return DeployCancelled, true
	case typeDeployInterrupted:
		return DeployInterrupted, true
	}
	return "", false
}

// Stream prefixes (DESIGN.md section 2).
const (
	streamDeploy  = "deploy/"
	streamRelease = "release/"
	streamProject = "project/"
	streamUser    = "user/"
	streamLock    = "lock/"
	streamHost    = "host/"
	streamDrift   = "drift/"
)

// streamID returns the part of stream after prefix, or "".
func streamID(stream, prefix string) string {
	if len(stream) > len(prefix) && stream[:len(prefix)] == prefix {
		return stream[len(prefix):]
	}
	return ""
}
