package cli_test

import (
	"encoding/json"
	"strings"
	"testing"

	"releasedesk/app"
	"releasedesk/app/cli"
)

// TestCLIContacts: contacts prints one's handles; flags set those given and
// keep the others, an empty one clears; an admin sets another's with
// --user, anyone else is refused; a bad handle is refused naming it.
func TestCLIContacts(t *testing.T) {
	e := startCLIDemo(t)
	if out := e.Must("tess", "contacts"); !strings.Contains(out, "contacts of tess") || !strings.Contains(out, "email   -") {
		t.Fatalf("no handles yet: %q", out)
	}
	out := e.Must("tess", "contacts", "--email", "tess@example.com", "--mobile", "+8613800138000")
	if !strings.Contains(out, "tess@example.com") || !strings.Contains(out, "+8613800138000") || !strings.Contains(out, "slack   -") {
		t.Fatalf("set email and mobile: %q", out)
	}
	// Another flag alone keeps what is set; an empty value clears.
	e.Must("tess", "contacts", "--slack", "U012AB3CD")
	var u app.UserView
	if err := json.Unmarshal([]byte(e.Must("tess", "contacts", "--mobile", "", "--json")), &u); err != nil {
		t.Fatal(err)
	}
	if u.Contacts == nil || *u.Contacts != (app.Contacts{Email: "tess@example.com", Slack: "U012AB3CD"}) {
		t.Fatalf("after clearing the mobile: %+v", u.Contacts)
	}
	if out := e.Must("admin", "contacts", "--user", "tess", "--feishu", "ou_84aad35d084aa403a838cf73ee18467"); !strings.Contains(out, "contacts of tess") ||
		!strings.Contains(out, "ou_84aad35d084aa403a838cf73ee18467") || !strings.Contains(out, "tess@example.com") {
		t.Fatalf("an admin sets tess's feishu: %q", out)
	}
	if code, _, errOut := e.as("dev", "contacts", "--user", "tess", "--email", "dev@example.com"); code != cli.ExitFailure || errOut == "" {
		t.Fatalf("dev sets tess's contacts: exit %d %s", code, errOut)
	}
	if code, _, errOut := e.as("tess", "contacts", "--slack", "tess"); code != cli.ExitFailure || !strings.Contains(errOut, "contacts.slack") {
		t.Fatalf("a bad slack id: exit %d %s", code, errOut)
	}
	if out := e.Must("tess", "contacts"); !strings.Contains(out, "U012AB3CD") {
		t.Fatalf("a refused change changed something: %q", out)
	}
}
