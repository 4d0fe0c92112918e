package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"releasedesk/app"
	"releasedesk/app/httpapi/apitest"
	"releasedesk/app/notify"
	"releasedesk/app/notify/notifytest"
	"releasedesk/events/catalog"
	"releasedesk/projections"
)

// TestNotifyRetriesAndRestart: through the desk, a receiver that fails
// three times and then takes the message gets it once, after four
// attempts recorded as three notification.failed and a notification.sent;
// a channel that always fails does not hold up another channel's
// messages; and a receiver that is down while the desk stops and opens
// again on the same data directory gets its message once it comes up,
// once, with no other receiver getting a second copy.
func TestNotifyRetriesAndRestart(t *testing.T) {
	quickRetries(t)
	const secret = "hook-secret-42"
	t.Setenv(hookSecretEnv, secret)
	tolerance := notify.DefaultWebhookTolerance
	flaky := notifytest.Webhook(t, secret, tolerance, notifytest.Options{FailFirst: 3})
	broken := notifytest.Webhook(t, secret, tolerance, notifytest.Options{FailFirst: 1 << 30})
	healthy := notifytest.Webhook(t, secret, tolerance, notifytest.Options{})
	downAddr := notifytest.FreeAddr(t)

	e := apitest.New(t, apitest.Options{NoRunner: true})
	repo := apitest.GitRepo(t, nil)
	root := e.Login("root", apitest.RootPassword)
	channel := func(name, url string) string {
		return fmt.Sprintf("  - {name: %s, kind: webhook, url: %q, secret: {from_env: %s}, events: [release.opened]}\n", name, url, hookSecretEnv)
	}
	e.Must(http.StatusCreated, "PUT", "/api/v1/projects/shop", root, apitest.LocalProject("shop", repo, t.TempDir())+"notify:\n"+
		channel("flaky", flaky.Endpoint)+channel("broken", broken.Endpoint)+channel("healthy", healthy.Endpoint)+
		channel("down", "http://"+downAddr+"/hooks/releasedesk"))
	dev := e.AddUser(root, "dev", false, map[string][]string{"shop": {"developer"}})
	open := func(e *apitest.Env, token, branch string) string {
		r := e.Must(http.StatusCreated, "POST", "/api/v1/releases", token,
			map[string]any{"project": "shop", "branch": branch, "create_branch": true, "title": "Release " + branch})
		return apitest.Str(r.Body, "release", "id")
	}

	id := open(e, dev, "feature-1")
	opened := time.Now()
	delivery := func(e *apitest.Env, release, channel string) projections.Delivery {
		for _, d := range e.Desk.Set.Notifications.OfRelease(release) {
			if d.Channel == channel {
				return d
			}
		}
		return projections.Delivery{}
	}
	waitUntil(t, "the healthy channel's message", 10*time.Second, func() bool { return len(healthy.Accepted()) == 1 })
	waitUntil(t, "the flaky channel's message", 10*time.Second, func() bool {
		return delivery(e, id, "flaky").State == projections.DeliverySent
	})

	// The always failing channel holds nobody up: the healthy channel's
	// message came at once, and the next one does while the broken
	// channel is still failing both of its own.
	if late := healthy.Accepted()[0].At.Sub(opened); late > 3*time.Second {
		t.Errorf("the healthy channel got its message %v after the event", late)
	}
	waitUntil(t, "the broken channel failing three times", 10*time.Second, func() bool { return broken.Requests() >= 3 })
	id2 := open(e, dev, "feature-2")
	opened2 := time.Now()
	waitUntil(t, "the healthy channel's second message", 10*time.Second, func() bool { return len(healthy.Accepted()) == 2 })
	if late := healthy.Accepted()[1].At.Sub(opened2); late > 3*time.Second {
		t.Errorf("the healthy channel got its second message %v after the event", late)
	}
	if d := delivery(e, id, "broken"); d.State != projections.DeliveryRetrying || d.Attempts < 3 {
		t.Errorf("the broken channel's delivery: %s after %d attempts, want retrying after at least 3", d.State, d.Attempts)
	}

	// The flaky receiver: four requests, the message taken once, the
	// attempts on record in order.
	d := delivery(e, id, "flaky")
	if n := flaky.Count(d.ID); n != 1 || d.Attempts != 4 {
		t.Errorf("flaky: delivery %s taken %d times after %d attempts, want once after 4", d.ID, n, d.Attempts)
	}
	if got := attemptsOf(t, e, d.ID); fmt.Sprint(got) != "[failed:1 failed:2 failed:3 sent:4]" {
		t.Errorf("flaky: attempts on record %v, want [failed:1 failed:2 failed:3 sent:4]", got)
	}

	// The desk stops while the down receiver has failed twice, opens again
	// on its data directory, and then the receiver comes up on its port.
	waitUntil(t, "the down channel failing twice", 10*time.Second, func() bool { return delivery(e, id, "down").Attempts >= 2 })
	downID, before := delivery(e, id, "down").ID, delivery(e, id, "down").Attempts
	e.Close()
	desk, err := app.OpenDesk(context.Background(), app.DeskConfig{Data: app.DataDir{Path: e.Dir}, Logger: apitest.Logger(), NoRunner: true})
	if err != nil {
		t.Fatal(err)
	}
	desk.Auth.Argon = apitest.CheapArgon
	e2 := apitest.Serve(t, desk, apitest.Options{})
	waitUntil(t, "a failed attempt after the restart", 10*time.Second, func() bool { return delivery(e2, id, "down").Attempts > before })
	down := notifytest.Webhook(t, secret, tolerance, notifytest.Options{Addr: downAddr})
	waitUntil(t, "the down channel's messages", 10*time.Second, func() bool {
		return delivery(e2, id, "down").State == projections.DeliverySent && delivery(e2, id2, "down").State == projections.DeliverySent
	})
	time.Sleep(500 * time.Millisecond) // a few retry rounds: a second copy would come in them
	if n := down.Count(downID); n != 1 {
		t.Errorf("down: delivery %s taken %d times, want once", downID, n)
	}
	if len(down.Accepted()) != 2 {
		t.Errorf("down: %d messages, want one per release", len(down.Accepted()))
	}
	got := attemptsOf(t, e2, downID)
	t.Logf("down: attempts %v, %d before the restart", got, before)
	for i, a := range got {
		want := fmt.Sprintf("failed:%d", i+1)
		if i == len(got)-1 {
			want = fmt.Sprintf("sent:%d", i+1)
		}
		if a != want {
			t.Errorf("down: attempts on record %v: want failures numbered on across the restart, then one sent", got)
			break
		}
	}
	for _, rc := range []*notifytest.Receiver{flaky, healthy} {
		for _, m := range rc.Accepted() {
			if n := rc.Count(m.Delivery); n != 1 {
				t.Errorf("delivery %s taken %d times after the restart", m.Delivery, n)
			}
		}
	}
	if len(healthy.Accepted()) != 2 || len(flaky.Accepted()) != 2 {
		t.Errorf("after the restart healthy holds %d messages and flaky %d, want 2 each", len(healthy.Accepted()), len(flaky.Accepted()))
	}
}

// attemptsOf are a delivery's attempts as the log records them, in order:
// "failed:1", "sent:2".
func attemptsOf(t *testing.T, e *apitest.Env, delivery string) []string {
	t.Helper()
	evs, err := e.Desk.Log.ReadStream(context.Background(), catalog.NotifyStream("shop"), 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		var n catalog.Notification
		if err := json.Unmarshal(ev.Data, &n); err != nil {
			t.Fatal(err)
		}
		if n.Delivery != delivery {
			continue
		}
		word := "sent"
		if ev.Type == catalog.TypeNotificationFailed {
			word = "failed"
		}
		out = append(out, fmt.Sprintf("%s:%d", word, n.Attempt))
	}
	return out
}

// waitUntil polls cond until it holds, failing the test after timeout.
func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
