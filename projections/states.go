package projections

import "releasedesk/events/catalog"

// The states the read models give releases, deployments and hosts: words
// the models derive from the events, not words the events carry.

// Release states (DESIGN.md section 5).
const (
	StateOpen      = "open"
	StateTesting   = "testing"
	StateTested    = "tested"
	StateApproved  = "approved"
	StateLive      = "live"
	StateAccepted  = "accepted"
	StateCompleted = "completed"
	StateCancelled = "cancelled"
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

// terminalState maps a terminal deploy event type to its state word.
func terminalState(typ string) (string, bool) {
	switch typ {
	case catalog.TypeDeploySucceeded:
		return DeploySucceeded, true
	case catalog.TypeDeployFailed:
		return DeployFailed, true
	case catalog.TypeDeployCancelled:
		return DeployCancelled, true
	case catalog.TypeDeployInterrupted:
		return DeployInterrupted, true
	}
	return "", false
}
