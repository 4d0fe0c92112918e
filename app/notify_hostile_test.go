package app_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"releasedesk/app/httpapi/apitest"
	"releasedesk/app/notify"
)

// Text written to be rendered as markup by the chat vendors: mentions of
// everyone, links, HTML, a heading.
const (
	hostileTitle  = "@all [click](http://evil) <script>alert(1)</script>"
	hostileNote   = "<!channel> <@UEVIL01> @here [here](http://evil/x) <script>alert(2)</script>\n# heading"
	hostileBranch = "@all/!channel_#x"
)

// TestNotifyHostileTextEscaped: a release whose title, note and branch
// are markup reaches each vendor as text. Read as each vendor reads it,
// no message calls on everyone, mentions anyone but the people it calls
// on, links anywhere but back to the release or holds a <script>; the
// words themselves still arrive. The webhook carries the title as data,
// exactly; the mail's HTML escapes it.
func TestNotifyHostileTextEscaped(t *testing.T) {
	quickRetries(t)
	e := apitest.New(t, apitest.Options{})
	e.Desk.SetLinkBase(e.URL)
	rig := startNotifyRig(t)
	repo := apitest.GitRepo(t, nil)
	root := e.Login("root", apitest.RootPassword)
	e.Must(http.StatusCreated, "PUT", "/api/v1/projects/shop", root, localProjectConfig(repo, t.TempDir())+rig.config())
	people := addPeople(e, root, "shop")
	// A handle that is a broadcast: Feishu's at element with user_id
	// "all" calls on the whole group. The contacts refuse it (and the
	// messages would mention no one by it: notify_people.go).
	tester := people["tester"]
	bad := e.Call("PUT", "/api/v1/users/tess/contacts", tester.token,
		map[string]string{"email": tester.email, "mobile": tester.mobile, "feishu": "all", "slack": tester.slackID})
	if bad.Status != http.StatusBadRequest || !strings.Contains(string(bad.Raw), "contacts.feishu") {
		t.Fatalf("a Feishu handle of \"all\": %d %s, want 400 naming contacts.feishu", bad.Status, bad.Raw)
	}

	r := e.Must(http.StatusCreated, "POST", "/api/v1/releases", people["developer"].token, map[string]any{"project": "shop",
		"branch": hostileBranch, "create_branch": true, "title": hostileTitle, "note": hostileNote})
	id := apitest.Str(r.Body, "release", "id")
	apitest.GitCommit(t, repo, hostileBranch, map[string]string{"index.html": "v2\n"}, "change")
	deployAndWait(e, people["developer"].token, id, "test", "succeeded")
	e.Must(http.StatusOK, "POST", "/api/v1/releases/"+id+"/test", people["tester"].token, map[string]any{"passed": false, "note": hostileNote})

	want := []string{"release.opened", "deployment.started", "deployment.succeeded", "test.needed", "test.failed"}
	rig.waitMessages(t, e, len(want), time.Minute)
	link := e.URL + "/#/releases/" + id
	byID := deliveriesByID(e, id)
	for _, ch := range rig.channels() {
		if ch.rc == nil {
			continue
		}
		var got []string
		for _, m := range ch.rc.Accepted() {
			trigger := byID[m.Delivery].Trigger
			got = append(got, trigger)
			what := ch.name + " " + trigger
			onlyLink(t, what, m.Links, link)
			if len(m.Broadcast) != 0 {
				t.Errorf("%s: calls on everyone: %v", what, m.Broadcast)
			}
			if ch.kind == notify.KindWebhook {
				// Data: the title exactly as written, no markup in the raw body.
				if m.Title != hostileTitle || strings.Contains(string(m.Body), "<script>") {
					t.Errorf("%s: title %q, body %s", what, m.Title, m.Body)
				}
				continue
			}
			var wantMentions []string
			if role, ok := calledOn[trigger]; ok && people[role].handle(ch.kind) != "all" {
				wantMentions = []string{people[role].handle(ch.kind)}
			}
			if !slices.Equal(m.Mentions, wantMentions) {
				t.Errorf("%s: mentions %v, want %v", what, m.Mentions, wantMentions)
			}
			shown := strings.Join(bodyStrings(t, m.Body), "\n")
			bad := []string{"<script", "@all", "@here", "<!channel>", "<@UEVIL01>", "](http://evil", "http://evil"}
			if ch.kind != notify.KindSlack {
				bad = append(bad, "# heading") // Slack's mrkdwn has no headings
			}
			for _, bad := range bad {
				if strings.Contains(shown, bad) {
					t.Errorf("%s: %q arrived as written:\n%s", what, bad, shown)
				}
			}
			if strings.Contains(string(m.Body), `"isAtAll":true`) {
				t.Errorf("%s: isAtAll", what)
			}
			// The words arrive, only disarmed.
			for _, words := range []string{"click", "alert(1)", "evil"} {
				if !strings.Contains(m.Title+"\n"+m.Text, words) {
					t.Errorf("%s: %q was lost: %q %q", what, words, m.Title, m.Text)
				}
			}
			if trigger == "test.failed" && (!strings.Contains(m.Text, "heading") || !strings.Contains(m.Text, "UEVIL01")) {
				t.Errorf("%s: the note was lost: %q", what, m.Text)
			}
			if trigger == "release.opened" && !strings.Contains(m.Text, "channel") {
				t.Errorf("%s: the branch was lost: %q", what, m.Text)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s received %v, want %v", ch.name, got, want)
		}
	}
	scriptTag := regexp.MustCompile(`(?i)<script`)
	for _, m := range rig.mail.Mails() {
		what := "mail " + byID[m.Delivery].Trigger
		if m.ParseErr != nil {
			t.Errorf("%s: %v", what, m.ParseErr)
			continue
		}
		onlyLink(t, what, m.Parsed.Links, link)
		if scriptTag.MatchString(m.Parsed.HTML) || !strings.Contains(m.Parsed.HTML, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("%s: the title is not escaped in the HTML:\n%s", what, m.Parsed.HTML)
		}
		// Plain text needs no escaping but an address's "://", which a
		// client would link: the subject is the title as written otherwise.
		if byID[m.Delivery].Trigger == "release.opened" &&
			!strings.HasSuffix(m.Parsed.Subject, "："+strings.ReplaceAll(hostileTitle, "://", "：//")) {
			t.Errorf("%s: subject %q", what, m.Parsed.Subject)
		}
	}
}

// bodyStrings are the strings of a JSON body, keys and values, decoded:
// what a vendor reads.
func bodyStrings(t *testing.T, body []byte) []string {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("the body does not decode: %v", err)
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			out = append(out, v)
		case []any:
			for _, e := range v {
				walk(e)
			}
		case map[string]any:
			for k, e := range v {
				out = append(out, k)
				walk(e)
			}
		}
	}
	walk(v)
	return out
}
