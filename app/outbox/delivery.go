package outbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"releasedesk/app/notify"
)

// Delivery is one message due to one channel for one event: the Planner
// makes it, the channel's worker sends it until it is settled.
type Delivery struct {
	// ID is stable per (event, channel): DeliveryID.
	ID       string
	Position uint64    // of the event it tells of
	Time     time.Time // of that event: retries end GiveUp after it
	Project  string
	Channel  string // its name in the project's configuration
	Kind     string // notify.KindDingTalk ...
	Trigger  string
	// What the message is about, for the release and project pages.
	Environment, Release, Deployment string
	// Recipients are the users it calls on, by name.
	Recipients []string
	// Send makes one attempt: it reads the channel's secret then (so a
	// rotated one takes effect), writes the message and sends it.
	Send func(ctx context.Context) Result
}

// Result is one attempt's end.
type Result struct {
	Outcome     notify.Outcome
	Fingerprint string // of the secret used, if any
	Err         error  // nil: the receiver took it
	// Final says a retry cannot mend Err (the channel is gone from the
	// configuration, its template does not run): give up now.
	Final bool
}

// DeliveryID is the id of the message an event (by its hash, unique in
// the log) calls for on a project's channel: the same every time it is
// computed, after a restart too, and unguessable from the outside.
func DeliveryID(eventHash, project, channel string) string {
	sum := sha256.Sum256([]byte(eventHash + "\x00" + project + "\x00" + channel))
	return hex.EncodeToString(sum[:16])
}

// key names a channel's worker: channels are a project's.
func (d *Delivery) key() string { return d.Project + "\x00" + d.Channel }
