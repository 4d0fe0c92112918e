package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"releasedesk/app"
	"releasedesk/app/cli"
	"releasedesk/app/httpapi/apitest"
	"releasedesk/events"
)

// run runs the CLI in-process and returns its exit code and output.
func run(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(ctx, apitest.Assets(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// seed writes n events into a fresh data directory and closes it.
func seed(t *testing.T, n int) string {
	t.Helper()
	data := t.TempDir()
	store, _, err := app.DataDir{Path: data}.OpenLog(apitest.Logger(), false)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		ev, _ := events.NewEvent("release.opened", "alice", map[string]any{"project": "blog", "release": i, "title": "fix, \"quoted\" <b>"})
		if _, err := store.Append(context.Background(), "release/1", events.AnyVersion, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	return data
}

func TestVersionCommand(t *testing.T) {
	code, out, _ := run(t, context.Background(), "version")
	if code != cli.ExitOK || strings.TrimSpace(out) != "releasedesk "+app.Version {
		t.Fatalf("code %d out %q", code, out)
	}
}

func TestUsageErrorsExit2AndNameTheFlag(t *testing.T) {
	data := seed(t, 1)
	for _, args := range [][]string{
		{"events", "export", "--format", "xml", "--data", data},
		{"serve", "--no-such-flag"},
		{"--log-level", "loud", "version"},
		{"serve", "--public-name", "https://desk.example.com", "--data", data},
		{"serve", "--tls-cert", "c.pem", "--addr", "127.0.0.1:0", "--data", data},
		{"open", "--addr", "0.0.0.0:0", filepath.Join(data, "none.jsonl")},
		// The window joins a server over https (plain http to loopback only),
		// and beside it serves no local desk.
		{"--server", "http://desk.example.com", "--data", data},
		{"--server", "https://desk.example.com/releases", "--data", data},
		{"--server", "https://desk.example.com", "--serve-addr", "127.0.0.1:0", "--data", data},
	} {
		code, _, errOut := run(t, context.Background(), args...)
		if code != cli.ExitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, code, cli.ExitUsage, errOut)
		}
		flag := ""
		for _, a := range args {
			if strings.HasPrefix(a, "--") && a != "--data" {
				flag = a
				break
			}
		}
		if !strings.Contains(errOut, flag) {
			t.Errorf("%v: error %q does not name %s", args, errOut, flag)
		}
	}
}

func TestEventsStatsVerifyExportRoundTrip(t *testing.T) {
	data := seed(t, 25)
	ctx := context.Background()

	code, out, errOut := run(t, ctx, "events", "stats", "--json", "--data", data)
	var st events.Stats
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.Count != 25 || st.Head.Position != 25 {
		t.Fatalf("stats: code %d out %q err %q", code, out, errOut)
	}
	if code, out, _ = run(t, ctx, "events", "verify", "--data", data); code != 0 || !strings.Contains(out, "ok: 25 events") {
		t.Fatalf("verify: code %d out %q", code, out)
	}

	file := filepath.Join(t.TempDir(), "log.jsonl")
	if code, _, errOut = run(t, ctx, "events", "export", "--format", "jsonl", "--out", file, "--data", data); code != 0 {
		t.Fatalf("export: %d %s", code, errOut)
	}
	if code, _, errOut = run(t, ctx, "events", "export", "--format", "jsonl", "--out", file, "--data", data); code == 0 || !strings.Contains(errOut, "exists") {
		t.Fatalf("export over an existing file must refuse: %d %s", code, errOut)
	}
	if code, out, _ = run(t, ctx, "events", "verify", "--archive", file); code != 0 || !strings.Contains(out, "ok: 25 events") {
		t.Fatalf("verify archive: %d %q", code, out)
	}

	// Edit one event's data in the export: verify must fail with exit 3 and name position 7.
	raw, _ := os.ReadFile(file)
	lines := strings.Split(string(raw), "\n")
	lines[7] = strings.Replace(lines[7], `"release":6`, `"release":9`, 1) // line 0 is the header
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = run(t, ctx, "events", "verify", "--archive", file)
	if code != cli.ExitVerify || !strings.Contains(errOut, "position 7") {
		t.Fatalf("tampered archive: exit %d, err %q", code, errOut)
	}

	code, out, _ = run(t, ctx, "events", "export", "--format", "csv", "--data", data)
	rows := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(rows) != 26 || !strings.HasPrefix(rows[0], "position,time,actor,action,project,environment,release,version,commit,host,summary") {
		t.Fatalf("csv: code %d, %d rows, header %q", code, len(rows), rows[0])
	}
}

func TestSecondOwnerIsToldWhoHoldsTheDataDir(t *testing.T) {
	data := seed(t, 1)
	store, _, err := app.DataDir{Path: data}.OpenLog(apitest.Logger(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	code, _, errOut := run(t, context.Background(), "events", "stats", "--data", data)
	if code != cli.ExitFailure || !strings.Contains(errOut, "in use by pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("exit %d, err %q", code, errOut)
	}
}

func TestServeAnswersAndStopsOnCancel(t *testing.T) {
	data := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb apitest.Buffer
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(ctx, apitest.Assets(), []string{"serve", "--addr", "127.0.0.1:0", "--data", data}, strings.NewReader(""), &out, &errb)
	}()
	url := apitest.WaitForURL(t, &out)
	resp, err := http.Get(url + "api/v1/health")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("health: %v %v", err, resp)
	}
	resp.Body.Close()
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d: %s", code, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop after cancel")
	}
}

func TestReadCommandsRefuseAMissingLog(t *testing.T) {
	data := filepath.Join(t.TempDir(), "nothing-here")
	for _, args := range [][]string{{"events", "verify"}, {"events", "stats"}, {"events", "export"}} {
		code, _, errOut := run(t, context.Background(), append(args, "--data", data)...)
		if code != cli.ExitFailure || !strings.Contains(errOut, "no event log in "+data) {
			t.Errorf("%v: exit %d, err %q", args, code, errOut)
		}
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Fatalf("a read command created %s", data)
	}
}
