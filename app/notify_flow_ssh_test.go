package app_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"releasedesk/app/httpapi/apitest"
	"releasedesk/app/notify"
	"releasedesk/events/catalog"
	"releasedesk/projections"
	"releasedesk/runner/sshtest"
)

// flowTriggers are the messages of the eight steps with a failed test
// before the pass, in the order each channel must receive them.
var flowTriggers = []string{
	"release.opened",
	"deployment.started", "deployment.succeeded", "test.needed", // deploy to test
	"test.failed",
	"deployment.started", "deployment.succeeded", "test.needed", // the fix, to test again
	"approval.needed", // the test passed
	"approved",
	"deployment.started", "deployment.succeeded", "acceptance.needed", // production
	"release.completed", // accepted (no message), then completed
}

// flowEnvironments are the environments flowTriggers' messages are
// about: a deployment's, the test stage for a verdict on a test, the
// stage that takes only approved commits for an approval.
var flowEnvironments = []string{
	"",
	"test", "test", "test",
	"test",
	"test", "test", "test",
	"production",
	"production",
	"production", "production", "production",
	"",
}

// calledOn is the role a trigger's message calls on: the people who must
// act, or the requester of what failed.
var calledOn = map[string]string{
	"test.needed": "tester", "approval.needed": "approver", "acceptance.needed": "manager", "test.failed": "developer",
}

// triggerWords are words the title of each trigger's default message
// starts with, in each language.
var triggerWords = map[string]map[string]string{
	"release.opened":       {"en": "New release", "zh-CN": "新发布单"},
	"deployment.started":   {"en": "Deploying", "zh-CN": "开始部署"},
	"deployment.succeeded": {"en": "Deployed:", "zh-CN": "部署成功"},
	"test.needed":          {"en": "Ready for testing", "zh-CN": "待测试"},
	"test.failed":          {"en": "Test failed", "zh-CN": "测试未通过"},
	"approval.needed":      {"en": "Approval needed", "zh-CN": "待审批"},
	"approved":             {"en": "Approved:", "zh-CN": "审批通过"},
	"acceptance.needed":    {"en": "Acceptance needed", "zh-CN": "待验收"},
	"release.completed":    {"en": "Release completed", "zh-CN": "发布完成"},
}

// TestNotifyEightStepsOverSSH runs the eight steps of a release onto real
// sshd hosts (test and production) with a failed test among them, for a
// project with one channel of each kind listening for every trigger, and
// checks what each real receiver got: the expected messages in order, in
// the channel's language, calling on the right people by the handle its
// vendor uses, leading back to the release, each once, and each attempt
// recorded as notification.sent.
func TestNotifyEightStepsOverSSH(t *testing.T) {
	quickRetries(t)
	c := sshtest.Start(t, 2)
	e := apitest.New(t, apitest.Options{})
	e.Desk.SetLinkBase(e.URL)
	rig := startNotifyRig(t)
	repo := apitest.GitRepo(t, nil)
	root := e.Login("root", apitest.RootPassword)
	e.Must(http.StatusCreated, "PUT", "/api/v1/projects/shop", root, sshProjectConfig(repo, c, []int{0}, []int{1})+rig.config())
	e.As(root).TrustHosts(c)
	people := addPeople(e, root, "shop")
	dev, tess, alice, max := people["developer"].token, people["tester"].token, people["approver"].token, people["manager"].token

	// 1. Open; 2. a commit; 3. deploy it to test; the tester fails it.
	r := e.Must(http.StatusCreated, "POST", "/api/v1/releases", dev,
		map[string]any{"project": "shop", "branch": "feature-1", "create_branch": true, "title": "Faster checkout"})
	id := apitest.Str(r.Body, "release", "id")
	apitest.GitCommit(t, repo, "feature-1", map[string]string{"index.html": "v2\n"}, "faster checkout")
	deployAndWait(e, dev, id, "test", "succeeded")
	e.Must(http.StatusOK, "POST", "/api/v1/releases/"+id+"/test", tess, map[string]any{"passed": false, "note": "the pay button is gone"})
	// The fix goes to test; 4. the tester passes it; 5. approval;
	// 6. production; 7. acceptance; 8. completion.
	apitest.GitCommit(t, repo, "feature-1", map[string]string{"index.html": "v3\n"}, "bring the pay button back")
	deployAndWait(e, dev, id, "test", "succeeded")
	e.Must(http.StatusOK, "POST", "/api/v1/releases/"+id+"/test", tess, map[string]any{"passed": true, "note": "works"})
	e.Must(http.StatusOK, "POST", "/api/v1/releases/"+id+"/approve", alice, map[string]any{"note": "go"})
	deployAndWait(e, alice, id, "production", "succeeded")
	e.Must(http.StatusOK, "POST", "/api/v1/releases/"+id+"/accept", max, map[string]any{"note": "fine"})
	if r := e.Must(http.StatusOK, "POST", "/api/v1/releases/"+id+"/complete", max, nil); apitest.Str(r.Body, "release", "state") != "completed" {
		t.Fatalf("complete: %s", r.Raw)
	}

	rig.waitMessages(t, e, len(flowTriggers), 2*time.Minute)
	link := e.URL + "/#/releases/" + id
	byID := deliveriesByID(e, id)
	total := 0
	for _, ch := range rig.channels() {
		var got []string // the triggers, in the order received
		if ch.kind == notify.KindEmail {
			got = checkFlowMails(t, rig, byID, people, link)
		} else {
			got = checkFlowChat(t, ch, byID, people, link)
		}
		total += len(got)
		if !slices.Equal(got, flowTriggers) {
			t.Errorf("%s received\n  %v\nwant\n  %v", ch.name, got, flowTriggers)
		}
		var envs []string
		for _, d := range e.Desk.Set.Notifications.OfChannel("shop", ch.name) {
			envs = append(envs, d.Environment)
		}
		slices.Reverse(envs) // OfChannel is newest first
		if !slices.Equal(envs, flowEnvironments) {
			t.Errorf("%s: the messages are about\n  %q\nwant\n  %q", ch.name, envs, flowEnvironments)
		}
	}

	// Every delivery settled at its first attempt, each recorded as sent
	// (and none failed) on the project's notify stream.
	if len(byID) != total {
		t.Errorf("the desk records %d deliveries of release %s, the receivers got %d messages", len(byID), id, total)
	}
	for _, d := range byID {
		if d.State != projections.DeliverySent || d.Attempts != 1 || d.Release != id {
			t.Errorf("delivery %s (%s to %s): %s after %d attempts", d.ID, d.Trigger, d.Channel, d.State, d.Attempts)
		}
		if !sameSet(d.Recipients, wantRecipients(d, people)) {
			t.Errorf("delivery %s (%s to %s): recipients %v, want %v", d.ID, d.Trigger, d.Channel, d.Recipients, wantRecipients(d, people))
		}
	}
	evs, err := e.Desk.Log.ReadStream(context.Background(), catalog.NotifyStream("shop"), 0)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, ev := range evs {
		kinds[ev.Type]++
	}
	if kinds[catalog.TypeNotificationSent] != total || len(evs) != total {
		t.Errorf("notify/shop holds %v, want %d notification.sent and nothing else", kinds, total)
	}
	t.Logf("the eight steps with a failed test sent %d messages: %d triggers to each of %d channels",
		total, len(flowTriggers), len(rig.channels()))
}

// wantRecipients are the users a delivery should name: the people its
// trigger calls on, or for the mail channel its addressees that are users.
func wantRecipients(d projections.Delivery, people map[string]person) []string {
	if d.Kind == notify.KindEmail {
		return []string{people["approver"].name, people["manager"].name}
	}
	if role, ok := calledOn[d.Trigger]; ok {
		return []string{people[role].name}
	}
	return nil
}

// checkFlowChat checks one chat or webhook channel's messages and returns
// their triggers in the order received.
func checkFlowChat(t *testing.T, ch rigChannel, byID map[string]projections.Delivery, people map[string]person, link string) []string {
	t.Helper()
	var got []string
	for i, m := range ch.rc.Accepted() {
		d, ok := byID[m.Delivery]
		what := ch.name + " message " + m.Delivery
		if !ok || d.Channel != ch.name {
			t.Errorf("%s: no delivery of the release to %s has that id (%+v)", what, ch.name, d)
			continue
		}
		got = append(got, d.Trigger)
		what = ch.name + " " + d.Trigger
		if n := ch.rc.Count(m.Delivery); n != 1 {
			t.Errorf("%s: received %d times", what, n)
		}
		onlyLink(t, what, m.Links, link)
		if len(m.Broadcast) != 0 {
			t.Errorf("%s: calls on everyone: %v", what, m.Broadcast)
		}
		if ch.kind == notify.KindWebhook {
			// Data, not words: the event says what happened.
			if m.Event != d.Trigger || m.Title != "Faster checkout" {
				t.Errorf("%s: event %q about %q", what, m.Event, m.Title)
			}
			continue
		}
		// The channel's language: the trigger's words, and for English
		// not a word of Chinese.
		if words := triggerWords[d.Trigger][ch.language]; !strings.HasPrefix(m.Title, words) {
			t.Errorf("%s: title %q, want it to start with %q", what, m.Title, words)
		}
		if ch.language == "en" && han.MatchString(m.Text) {
			t.Errorf("%s: Chinese in an English message: %q", what, m.Text)
		}
		if ch.language == "zh-CN" && !han.MatchString(m.Text) {
			t.Errorf("%s: no Chinese in a zh-CN message: %q", what, m.Text)
		}
		if ch.kind == notify.KindFeishu && m.Language != "en_us" {
			t.Errorf("%s: filed under %q, want en_us", what, m.Language)
		}
		// The people it calls on, by the vendor's handle.
		var want []string
		if role, ok := calledOn[d.Trigger]; ok {
			want = []string{people[role].handle(ch.kind)}
		}
		if !slices.Equal(m.Mentions, want) {
			t.Errorf("%s: mentions %v, want %v", what, m.Mentions, want)
		}
		if i > 0 && m.At.Before(ch.rc.Accepted()[i-1].At) {
			t.Errorf("%s: received before the message ahead of it", what)
		}
	}
	return got
}

// checkFlowMails checks the mail channel's messages and returns their
// triggers in the order received.
func checkFlowMails(t *testing.T, rig *notifyRig, byID map[string]projections.Delivery, people map[string]person, link string) []string {
	t.Helper()
	var got []string
	wantTo := []string{people["approver"].email, people["manager"].email}
	for _, m := range rig.mail.Mails() {
		d, ok := byID[m.Delivery]
		if !ok || d.Channel != "mail" {
			t.Errorf("mail %s: no delivery of the release to mail has that id", m.Delivery)
			continue
		}
		got = append(got, d.Trigger)
		what := "mail " + d.Trigger
		if m.ParseErr != nil {
			t.Errorf("%s: %v", what, m.ParseErr)
			continue
		}
		if n := rig.mail.Count(m.Delivery); n != 1 {
			t.Errorf("%s: received %d times", what, n)
		}
		if !m.TLS || !sameSet(m.To, wantTo) {
			t.Errorf("%s: to %v (over TLS: %v), want %v over TLS", what, m.To, m.TLS, wantTo)
		}
		if words := triggerWords[d.Trigger]["zh-CN"]; !strings.HasPrefix(m.Parsed.Subject, words) {
			t.Errorf("%s: subject %q, want it to start with %q", what, m.Parsed.Subject, words)
		}
		if !strings.Contains(m.Parsed.Text, link) || !strings.Contains(m.Parsed.HTML, `lang="zh-CN"`) {
			t.Errorf("%s: the text lacks the link %s or the HTML its language:\n%s\n%s", what, link, m.Parsed.Text, m.Parsed.HTML)
		}
		onlyLink(t, what, m.Parsed.Links, link)
		if !strings.HasPrefix(m.Parsed.MessageID, "<") || !strings.Contains(m.Parsed.MessageID, m.Delivery) {
			t.Errorf("%s: Message-ID %q, want one of delivery %s", what, m.Parsed.MessageID, m.Delivery)
		}
	}
	return got
}
