package cli_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"releasedesk/app/cli"
)

// TestCLIVerbsRefuseBadInput: the scripting verbs given missing, malformed
// or oversized values exit non-zero naming the field, and the log does not
// move (every user signed in first: a login is an event).
func TestCLIVerbsRefuseBadInput(t *testing.T) {
	e := startCLIDemo(t)
	for _, u := range []string{"admin", "dev", "tess", "alice", "max"} {
		e.token(u)
	}
	head := logHead(t, e)
	long := strings.Repeat("x", 4001)
	for _, c := range []struct {
		user string
		args []string
		code int
		says string // in stderr: the field or flag
	}{
		{"dev", []string{"deployment", "list", "--state", "sleeping"}, cli.ExitFailure, "state"},
		{"dev", []string{"deployment", "list", "--limit", "x"}, cli.ExitUsage, "--limit"},
		{"dev", []string{"deployment", "show"}, cli.ExitUsage, "ID"},
		{"dev", []string{"deployment", "cancel", "d1", "--reason", long}, cli.ExitFailure, "reason"},
		{"dev", []string{"deployment", "cancel", "d999", "--reason", "x"}, cli.ExitFailure, "d999"},
		{"tess", []string{"versions", "bad", "--project", "shop", "--env", "test", "--version", "yesterday", "--reason", "x"}, cli.ExitFailure, "version"},
		{"tess", []string{"versions", "bad", "--project", "shop", "--env", "test", "--version", "20260101000000-abcdef1", "--reason", long}, cli.ExitFailure, "reason"},
		{"tess", []string{"versions", "bad", "--project", "shop", "--env", "nowhere", "--version", "20260101000000-abcdef1", "--reason", "x"}, cli.ExitFailure, "env"},
		{"tess", []string{"versions", "bad", "--project", "shop", "--env", "test", "--reason", "x"}, cli.ExitUsage, "--version"},
		{"tess", []string{"hosts", "drift", "--env", "test"}, cli.ExitUsage, "--project"},
		{"tess", []string{"hosts", "drift", "--project", "nope", "--env", "test"}, cli.ExitFailure, "nope"},
		{"dev", []string{"token", "create", "--name", strings.Repeat("n", 200)}, cli.ExitFailure, "name"},
		{"dev", []string{"token", "create", "--name", "a\x01b"}, cli.ExitFailure, "name"},
		{"dev", []string{"token", "create", "--name", "ci", "--days", "99999"}, cli.ExitFailure, "ttl_days"},
		{"dev", []string{"token", "revoke", "t-nosuch"}, cli.ExitFailure, "t-nosuch"},
		{"max", []string{"release", "refuse", "1", "--rollback"}, cli.ExitUsage, "--reason"},
		{"max", []string{"release", "refuse", "1", "--reason", long, "--rollback"}, cli.ExitFailure, "reason"},
		{"max", []string{"release", "refuse", "1", "--reason", "x", "--rollback"}, cli.ExitFailure, "open"},
	} {
		code, _, errOut := e.as(c.user, c.args...)
		if code != c.code || !strings.Contains(errOut, c.says) {
			t.Errorf("%s %v: exit %d (want %d), stderr %q lacks %q", c.user, c.args, code, c.code, errOut, c.says)
		}
	}
	// A new password too short, given on standard input.
	e.T.Setenv("RELEASEDESK_TOKEN", e.token("dev"))
	if code, _, errOut := runIn(t, e.pw["dev"]+"\nshort\n", "password", "--server", e.URL); code != cli.ExitFailure || !strings.Contains(errOut, "password") {
		t.Errorf("a short new password: exit %d %s", code, errOut)
	}
	if now := logHead(t, e); now != head {
		t.Fatalf("refused verbs moved the log from %d to %d", head, now)
	}
}

// logHead is the position of the server's last event, from its health.
func logHead(t *testing.T, e *cliDemo) uint64 {
	t.Helper()
	resp, err := http.Get(e.URL + "/api/v1/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h struct {
		Events struct {
			Head struct {
				Position uint64 `json:"position"`
			} `json:"head"`
		} `json:"events"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil || h.Events.Head.Position == 0 {
		t.Fatalf("health: %+v %v", h, err)
	}
	return h.Events.Head.Position
}
