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

	"github.com/jackc/pgx/v5"

	"releasedesk/app"
	"releasedesk/app/cli"
	"releasedesk/app/httpapi/apitest"
	"releasedesk/events"
	"releasedesk/events/catalog/catalogtest"
	"releasedesk/events/pgtest"
)

// The commands that open the log take --store (or $RELEASEDESK_STORE): a
// data directory or a PostgreSQL database. These tests run them on a real
// PostgreSQL (events/pgtest).

// secret is a password put in every database address: the server trusts
// loopback logins, so it is never checked, and no output may show it.
const secret = "pa55-w0rd-never-printed"

// pgURL is a fresh database's address, with a password in it.
func pgURL(t *testing.T) string {
	return strings.Replace(pgtest.Database(t), "postgres@", "postgres:"+secret+"@", 1)
}

// generatedDataDir is a data directory holding a generated log of about n
// events (releases, deployments, rollbacks).
func generatedDataDir(t *testing.T, n int) string {
	t.Helper()
	data := t.TempDir()
	store, _, err := app.DataDir{Path: data}.OpenLog(apitest.Logger(), false)
	if err != nil {
		t.Fatal(err)
	}
	if err := catalogtest.Generate(n).WriteTo(context.Background(), store); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	return data
}

// runClean is run that also fails the test if the output shows the password.
func runClean(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	code, out, errOut := run(t, context.Background(), args...)
	if strings.Contains(out+errOut, secret) {
		t.Fatalf("%v printed a database password:\n%s\n%s", args, out, errOut)
	}
	return code, out, errOut
}

func statsOf(t *testing.T, args ...string) events.Stats {
	t.Helper()
	code, out, errOut := runClean(t, append([]string{"events", "stats", "--json"}, args...)...)
	var st events.Stats
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
		t.Fatalf("stats %v: exit %d, %q %q", args, code, out, errOut)
	}
	return st
}

// exportedEvents is a JSONL export without its header (which says when).
func exportedEvents(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := runClean(t, append([]string{"events", "export", "--format", "jsonl"}, args...)...)
	if code != 0 {
		t.Fatalf("export %v: exit %d, %s", args, code, errOut)
	}
	_, rest, _ := strings.Cut(out, "\n")
	return rest
}

func TestEventsCopyToPostgresAndBack(t *testing.T) {
	data := generatedDataDir(t, 600)
	db := pgURL(t)
	want := statsOf(t, "--data", data)

	code, out, errOut := runClean(t, "events", "copy", "--from", data, "--to", db)
	if code != 0 || !strings.Contains(out, "copied "+itoa(want.Count)+" events") || !strings.Contains(out, "chain verified on both sides") {
		t.Fatalf("copy to PostgreSQL: exit %d, %q %q", code, out, errOut)
	}
	if !strings.Contains(out, events.RedactURL(db)) {
		t.Errorf("the copy's report %q does not name the database", out)
	}

	// verify, stats and export read the database with --store, or with
	// the environment variable.
	if code, out, errOut = runClean(t, "events", "verify", "--store", db); code != 0 || !strings.Contains(out, "ok: "+itoa(want.Count)+" events") ||
		!strings.Contains(out, want.Head.Hash) {
		t.Fatalf("verify --store: exit %d, %q %q", code, out, errOut)
	}
	if got := statsOf(t, "--store", db); got.Count != want.Count || got.Bytes != want.Bytes || got.Streams != want.Streams ||
		got.Head != want.Head || !got.FirstTime.Equal(want.FirstTime) || !got.LastTime.Equal(want.LastTime) {
		t.Fatalf("stats in PostgreSQL %+v, in the data directory %+v", got, want)
	}
	if exportedEvents(t, "--store", db) != exportedEvents(t, "--data", data) {
		t.Fatal("the export of the copy differs from the original's")
	}
	t.Setenv("RELEASEDESK_STORE", db)
	if code, out, _ = runClean(t, "events", "verify"); code != 0 || !strings.Contains(out, "ok: "+itoa(want.Count)+" events") {
		t.Fatalf("verify with $RELEASEDESK_STORE: exit %d, %q", code, out)
	}

	// And back into a new data directory: the same log, which the app's
	// own commands (--data, or --store naming the directory) read.
	back := filepath.Join(t.TempDir(), "restored")
	if code, out, errOut = runClean(t, "events", "copy", "--from", db, "--to", back); code != 0 {
		t.Fatalf("copy back: exit %d, %q %q", code, out, errOut)
	}
	if got := statsOf(t, "--store", back); got.Count != want.Count || got.Head != want.Head || got.Bytes != want.Bytes {
		t.Fatalf("stats after the way back %+v, want %+v", got, want)
	}
	t.Setenv("RELEASEDESK_STORE", "")
	if code, out, _ = runClean(t, "events", "verify", "--data", back); code != 0 || !strings.Contains(out, "ok: "+itoa(want.Count)+" events") {
		t.Fatalf("verify the restored directory: exit %d, %q", code, out)
	}
	if exportedEvents(t, "--data", back) != exportedEvents(t, "--data", data) {
		t.Fatal("the log back from PostgreSQL differs from the original")
	}

	// A copy into a log that holds events is refused, naming it.
	code, _, errOut = runClean(t, "events", "copy", "--from", data, "--to", db)
	if code != cli.ExitFailure || !strings.Contains(errOut, "already holds a log") || !strings.Contains(errOut, events.RedactURL(db)) {
		t.Fatalf("copy into a database with a log: exit %d, %q", code, errOut)
	}
	code, _, errOut = runClean(t, "events", "copy", "--from", db, "--to", back)
	if code != cli.ExitFailure || !strings.Contains(errOut, "already holds a log") || !strings.Contains(errOut, back) {
		t.Fatalf("copy into a data directory with a log: exit %d, %q", code, errOut)
	}
	if got := statsOf(t, "--data", back); got.Count != want.Count {
		t.Fatalf("a refused copy changed the target: %+v", got)
	}
}

func TestEventsCopyOfAnEditedDatabaseStopsAtThePosition(t *testing.T) {
	data := seed(t, 30)
	db := pgURL(t)
	if code, _, errOut := runClean(t, "events", "copy", "--from", data, "--to", db); code != 0 {
		t.Fatalf("copy: %d %s", code, errOut)
	}
	// Someone with access to the database edits an event.
	conn, err := pgx.Connect(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(context.Background(), `UPDATE rd_events SET actor = 'mallory' WHERE position = 17`); err != nil {
		t.Fatal(err)
	}
	conn.Close(context.Background())

	code, _, errOut := runClean(t, "events", "verify", "--store", db)
	if code != cli.ExitVerify || !strings.Contains(errOut, "position 17") {
		t.Fatalf("verify an edited database: exit %d, %q", code, errOut)
	}
	target := filepath.Join(t.TempDir(), "copy")
	code, _, errOut = runClean(t, "events", "copy", "--from", db, "--to", target)
	if code != cli.ExitVerify || !strings.Contains(errOut, "position 17") || !strings.Contains(errOut, "nothing was copied") {
		t.Fatalf("copy of an edited database: exit %d, %q", code, errOut)
	}
	if st := statsOf(t, "--data", target); st.Count != 0 || st.Head.Position != 0 {
		t.Fatalf("the refused copy left %+v", st)
	}
}

// TestServerCommandsOnPostgres: serve and demo on a PostgreSQL store need
// the secret key file and refuse without it (or with a short one) before
// anything is written, saying why; user add works on the database (also
// named by $RELEASEDESK_STORE), the demo too, and serve answers with the
// users they made; the window still refuses the store.
func TestServerCommandsOnPostgres(t *testing.T) {
	db := pgURL(t)
	short := filepath.Join(t.TempDir(), "short.key")
	if err := os.WriteFile(short, []byte("too short"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--addr", "127.0.0.1:0"}, "needs --secret-key-file"},
		{[]string{"demo"}, "needs --secret-key-file"},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--secret-key-file", short}, "holds 9 bytes, at least 32"},
	} {
		data := t.TempDir()
		code, _, errOut := runClean(t, append(c.args, "--store", db, "--data", data)...)
		if code != cli.ExitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%v --store postgres: exit %d, %q, want %q", c.args, code, errOut, c.want)
		}
		if entries, _ := filepath.Glob(filepath.Join(data, "*")); len(entries) != 0 {
			t.Errorf("%v wrote %v before refusing", c.args, entries)
		}
	}
	t.Setenv("RELEASEDESK_SECRET_KEY_FILE", short)
	if code, _, errOut := runClean(t, "demo", "--store", db, "--data", t.TempDir()); code != cli.ExitUsage ||
		!strings.Contains(errOut, "at least 32") {
		t.Errorf("demo with a short $RELEASEDESK_SECRET_KEY_FILE: exit %d, %q", code, errOut)
	}

	// user add, from the environment variable's store.
	t.Setenv("RELEASEDESK_STORE", db)
	code, out, errOut := runClean(t, "user", "add", "--name", "root", "--admin", "--data", t.TempDir())
	if code != cli.ExitOK || !strings.Contains(out, "user root created (admin)") || !strings.Contains(out, "password: ") {
		t.Fatalf("user add on PostgreSQL: exit %d, %q %q", code, out, errOut)
	}
	if code, _, errOut := runClean(t, "user", "add", "--name", "root", "--data", t.TempDir()); code == cli.ExitOK ||
		!strings.Contains(errOut, "user root already exists") {
		t.Errorf("user add of root again: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runClean(t, "--data", t.TempDir()); code != cli.ExitUsage || !strings.Contains(errOut, "the window is one person's desk") {
		t.Errorf("the window on PostgreSQL: exit %d, %q", code, errOut)
	}

	// The demo on another database, then served from it.
	demoDB := pgURL(t)
	key := filepath.Join(t.TempDir(), "releasedesk.key")
	if err := os.WriteFile(key, bytes.Repeat([]byte("0123456789abcdef"), 2), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("RELEASEDESK_SECRET_KEY_FILE", key)
	data := t.TempDir()
	code, out, errOut = runClean(t, "demo", "--store", demoDB, "--data", data, "--log-level", "warning")
	if code != cli.ExitOK || !strings.Contains(out, "release 1 is open on branch spring-sale") {
		t.Fatalf("demo on PostgreSQL: exit %d\n%s\n%s", code, out, errOut)
	}
	pw, err := readDemoPasswords(filepath.Join(data, "demo", "passwords.txt"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var sout, serr apitest.Buffer
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(ctx, apitest.Assets(), []string{"serve", "--addr", "127.0.0.1:0", "--store", demoDB, "--data", t.TempDir()},
			strings.NewReader(""), &sout, &serr)
	}()
	url := apitest.WaitForURL(t, &sout)
	if strings.Contains(sout.String(), secret) || !strings.Contains(sout.String(), "this instance's cache") {
		t.Errorf("serve on PostgreSQL said %q", sout.String())
	}
	caller := apitest.Login(t, strings.TrimSuffix(url, "/"), "dev", pw["dev"])
	if got := apitest.Str(caller.Must(http.StatusOK, "GET", "/api/v1/releases/1", nil).Body, "release", "title"); got == "" {
		t.Fatal("the demo's release is not served")
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d: %s", code, serr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop after cancel")
	}
}

func TestStoreNamesTheDataDirectory(t *testing.T) {
	data := seed(t, 4)
	if st := statsOf(t, "--store", data); st.Count != 4 {
		t.Fatalf("--store DIR: %+v", st)
	}
	t.Setenv("RELEASEDESK_STORE", data)
	if st := statsOf(t); st.Count != 4 {
		t.Fatalf("$RELEASEDESK_STORE=DIR: %+v", st)
	}
	// An explicit --data wins over the environment variable...
	other := seed(t, 2)
	if st := statsOf(t, "--data", other); st.Count != 2 {
		t.Fatalf("--data over $RELEASEDESK_STORE: %+v", st)
	}
	// ...but --store and --data naming two directories is a mistake.
	code, _, errOut := runClean(t, "events", "stats", "--store", data, "--data", other)
	if code != cli.ExitUsage || !strings.Contains(errOut, "--store") || !strings.Contains(errOut, "--data") {
		t.Fatalf("--store and --data apart: exit %d, %q", code, errOut)
	}
	code, _, errOut = runClean(t, "events", "copy", "--from", data, "--to", data+"/")
	if code != cli.ExitUsage || !strings.Contains(errOut, "--from and --to") {
		t.Fatalf("copy onto itself: exit %d, %q", code, errOut)
	}
	code, _, errOut = runClean(t, "events", "copy", "--to", other)
	if code != cli.ExitUsage || !strings.Contains(errOut, "--from") {
		t.Fatalf("copy without --from: exit %d, %q", code, errOut)
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
