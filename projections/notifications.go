package projections

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"releasedesk/events"
	"releasedesk/events/catalog"
)

// Delivery states: what became of a message to one channel, after its
// last attempt.
const (
	DeliverySent     = "sent"     // the receiver took it
	DeliveryRetrying = "retrying" // it failed and is tried again at NextAttempt
	DeliveryFailed   = "failed"   // it failed and is not tried again
)

// Delivery is one message to one channel, as its attempts left it: the
// release page's "who was told what", the project page's channel state.
type Delivery struct {
	ID          string    `json:"id"`
	Position    uint64    `json:"position"` // of the event it told of; 0: a test message
	Trigger     string    `json:"trigger"`
	Project     string    `json:"project"`
	Channel     string    `json:"channel"`
	Kind        string    `json:"kind"`
	Environment string    `json:"environment,omitempty"`
	Release     string    `json:"release,omitempty"`
	Deployment  string    `json:"deployment,omitempty"`
	Recipients  []string  `json:"recipients" tstype:"string[] | null"`
	State       string    `json:"state"` // DeliverySent, DeliveryRetrying, DeliveryFailed
	Attempts    int       `json:"attempts"`
	Status      int       `json:"status,omitempty"` // the last answer's HTTP status or SMTP code
	Excerpt     string    `json:"excerpt,omitempty"`
	Error       string    `json:"error,omitempty"` // the last failure's
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	First       time.Time `json:"first"` // the first attempt
	Last        time.Time `json:"last"`  // the last attempt
	// By is who sent a test message; the system for the others.
	By        string `json:"by"`
	LatencyMS int64  `json:"latency_ms"` // from the event to the answer that settled it
	// Fingerprint is the last attempt's secret's fingerprint.
	Fingerprint string `json:"secret_fingerprint,omitempty"`
}

// recentPerChannel is how many deliveries each channel keeps for its
// page: its state, not its history (the audit trail has that).
const recentPerChannel = 20

// Notifications is the read model of the messages sent: per release and
// per channel.
type Notifications struct {
	base
	byID      map[string]*Delivery
	byRelease map[string][]*Delivery // in the order of their first attempt
	byChannel map[string][]*Delivery // project/channel -> the last recentPerChannel
}

// NewNotifications returns an empty model.
func NewNotifications() *Notifications {
	return &Notifications{byID: map[string]*Delivery{}, byRelease: map[string][]*Delivery{}, byChannel: map[string][]*Delivery{}}
}

// Apply folds one envelope (see Projection).
func (m *Notifications) Apply(e events.Envelope) error { return applyOne(m, &m.base, e) }

func (m *Notifications) apply(e *events.Envelope, p *payload, _ *decoder) error {
	if e.Type != catalog.TypeNotificationSent && e.Type != catalog.TypeNotificationFailed {
		return nil
	}
	n, ok := p.notification()
	if !ok || n.Delivery == "" {
		return nil
	}
	d := m.byID[n.Delivery]
	if d == nil {
		d = &Delivery{ID: n.Delivery, Position: n.Position, Trigger: n.Trigger, Project: n.Project, Channel: n.Channel,
			Kind: n.Kind, Environment: n.Environment, Release: n.Release, Deployment: n.Deployment, First: e.Time, By: e.Actor}
		m.byID[d.ID] = d
		if d.Release != "" {
			m.byRelease[d.Release] = append(m.byRelease[d.Release], d)
		}
		key := channelKey(d.Project, d.Channel)
		recent := append(m.byChannel[key], d)
		if len(recent) > recentPerChannel {
			gone := recent[0]
			recent = slices.Delete(recent, 0, 1)
			if gone.Release == "" {
				delete(m.byID, gone.ID) // kept only by its channel
			}
		}
		m.byChannel[key] = recent
	}
	d.Recipients, d.Attempts, d.Status, d.Excerpt, d.Last = n.Recipients, n.Attempt, n.Status, n.Excerpt, e.Time
	d.Error, d.NextAttempt, d.LatencyMS, d.Fingerprint = n.Error, n.NextAttempt, n.LatencyMS, n.SecretFingerprint
	switch {
	case e.Type == catalog.TypeNotificationSent:
		d.State, d.Error = DeliverySent, ""
	case n.NextAttempt.IsZero():
		d.State = DeliveryFailed
	default:
		d.State = DeliveryRetrying
	}
	return nil
}

func channelKey(project, channel string) string { return project + "/" + channel }

// OfRelease is the messages about a release, in the order they were first
// tried.
func (m *Notifications) OfRelease(id string) []Delivery {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return copies(m.byRelease[id])
}

// OfChannel is a channel's latest messages, newest first.
func (m *Notifications) OfChannel(project, channel string) []Delivery {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := copies(m.byChannel[channelKey(project, channel)])
	slices.Reverse(out)
	return out
}

func copies(ds []*Delivery) []Delivery {
	out := make([]Delivery, len(ds))
	for i, d := range ds {
		out[i] = *d
		out[i].Recipients = slices.Clone(d.Recipients)
	}
	return out
}

// notification decodes a notification event's data, kept whole.
func (p *payload) notification() (catalog.Notification, bool) {
	var n catalog.Notification
	if len(p.NotificationRaw) == 0 || json.Unmarshal(p.NotificationRaw, &n) != nil {
		return n, false
	}
	return n, true
}

// The checkpoint keeps the model as JSON: a few deliveries per release,
// too few for the binary encoding to matter.

type notificationsState struct {
	Deliveries []*Delivery `json:"deliveries"` // every one kept, in first-attempt order
}

func (m *Notifications) encode(w *encoder) {
	all := make([]*Delivery, 0, len(m.byID))
	for _, d := range m.byID {
		all = append(all, d)
	}
	slices.SortFunc(all, func(a, b *Delivery) int {
		if c := a.First.Compare(b.First); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	raw, _ := json.Marshal(notificationsState{Deliveries: all})
	w.bytes(raw)
}

func (m *Notifications) decode(r *cpDecoder) {
	raw := r.bytes()
	var st notificationsState
	if r.err != nil || json.Unmarshal(raw, &st) != nil {
		r.fail()
		return
	}
	for _, d := range st.Deliveries {
		m.byID[d.ID] = d
		if d.Release != "" {
			m.byRelease[d.Release] = append(m.byRelease[d.Release], d)
		}
		key := channelKey(d.Project, d.Channel)
		m.byChannel[key] = append(m.byChannel[key], d)
	}
	for key, ds := range m.byChannel {
		if len(ds) <= recentPerChannel {
			continue
		}
		for _, gone := range ds[:len(ds)-recentPerChannel] {
			if gone.Release == "" {
				delete(m.byID, gone.ID)
			}
		}
		m.byChannel[key] = ds[len(ds)-recentPerChannel:]
	}
}
