package projections

import (
	"testing"

	"releasedesk/events/catalog"
)

// TestNotificationsModel: each delivery shows its last attempt's state,
// per release in the order first tried and per channel newest first.
func TestNotificationsModel(t *testing.T) {
	f := newMemFlow(t)
	f.richLog()
	s := f.build()
	got := s.Notifications.OfRelease("3")
	if len(got) != 2 {
		t.Fatalf("release 3 has %d messages, want 2: %+v", len(got), got)
	}
	if d := got[0]; d.ID != "d1" || d.State != DeliverySent || d.Attempts != 2 || d.Error != "" || d.Status != 200 ||
		d.LatencyMS != 1500 || len(d.Recipients) != 1 || d.Recipients[0] != approver || d.First.After(d.Last) || d.First.Equal(d.Last) {
		t.Errorf("the message sent on its second attempt: %+v", d)
	}
	if d := got[1]; d.ID != "d2" || d.State != DeliveryFailed || d.Error != "gave up" {
		t.Errorf("the message given up: %+v", d)
	}
	ops := s.Notifications.OfChannel("shop", "ops")
	if len(ops) != 2 || ops[0].ID != "t1" || ops[0].Trigger != catalog.TestTrigger || ops[0].By != admin || ops[1].ID != "d1" {
		t.Errorf("channel ops, newest first: %+v", ops)
	}
	if len(s.Notifications.OfRelease("nope")) != 0 {
		t.Error("a release with no message has some")
	}
}

// TestNotificationsKeepsRecentPerChannel: a channel keeps its latest
// deliveries only; those of no release go with them.
func TestNotificationsKeepsRecentPerChannel(t *testing.T) {
	m := NewNotifications()
	f := newMemFlow(t)
	for i := range recentPerChannel + 5 {
		e := f.append(catalog.NotifyStream("shop"), catalog.TypeNotificationSent, "system", catalog.Notification{
			Delivery: string(rune('a' + i)), Trigger: "drift.found", Project: "shop", Channel: "ops", Kind: "slack", Attempt: 1})
		if err := m.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(m.OfChannel("shop", "ops")); n != recentPerChannel {
		t.Fatalf("%d kept, want %d", n, recentPerChannel)
	}
	if len(m.byID) != recentPerChannel {
		t.Fatalf("%d indexed, want %d", len(m.byID), recentPerChannel)
	}
}
