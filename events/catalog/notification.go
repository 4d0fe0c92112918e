package catalog

import "time"

// What became of each message the outbox (app/outbox) sent: one event per
// attempt, on notify/<project>. They make delivery auditable ("was the
// approver told, and when?") and let the outbox resume after a restart
// where it stopped, each delivery at its attempt.
const (
	TypeNotificationSent   = "notification.sent"
	TypeNotificationFailed = "notification.failed"
)

// NotifyPrefix names the streams of deliveries: notify/<project>.
const NotifyPrefix = "notify/"

// NotifyStream is the stream of one project's deliveries.
func NotifyStream(project string) string { return NotifyPrefix + project }

// TestTrigger is the trigger of a test message an admin sent from the
// project page: it tells of no event (Position 0).
const TestTrigger = "channel.test"

// Notification is one attempt to deliver one message to one channel. It
// never holds a secret nor a robot's URL (which carries its token): the
// secret's fingerprint tells which one signed it.
type Notification struct {
	// Delivery is stable per (event, channel): the same on every attempt
	// and after a restart, sent to receivers so they drop a duplicate.
	Delivery string `json:"delivery"`
	// Position is the event the message tells of (0 for a test message).
	Position    uint64 `json:"position"`
	Trigger     string `json:"trigger"`
	Project     string `json:"project"`
	Channel     string `json:"channel"`
	Kind        string `json:"kind"`
	Environment string `json:"environment,omitempty"`
	Release     string `json:"release,omitempty"`
	Deployment  string `json:"deployment,omitempty"`
	// Recipients are the users the message called on (mentions, or the
	// mail's addressees), by name.
	Recipients []string `json:"recipients,omitempty"`
	Attempt    int      `json:"attempt"` // 1 for the first
	// Status is the receiver's answer: an HTTP status or an SMTP reply
	// code; 0 when none came (the connection failed).
	Status int `json:"status,omitempty"`
	// Excerpt is the start of the receiver's answer, for a person to read.
	Excerpt string `json:"excerpt,omitempty"`
	// Error says why the attempt failed (failed only).
	Error string `json:"error,omitempty"`
	// NextAttempt is when a failed delivery is tried again; zero: never
	// (it gave up, or the failure is one a retry cannot mend).
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	// SecretFingerprint identifies the signing secret or password used
	// (its hash's start), never the secret.
	SecretFingerprint string `json:"secret_fingerprint,omitempty"`
	// LatencyMS is from the event to the receiver's answer.
	LatencyMS int64 `json:"latency_ms"`
}
