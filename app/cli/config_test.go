package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"releasedesk/app/cli"
)

// writeConfig writes a --config file and returns its path.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "releasedesk.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestConfigFileFillsWhatIsNotGiven: `store:` in a --config file (or
// $RELEASEDESK_CONFIG) names the log; the environment and the command
// line win over it; one file serves every command (a key of another
// command's is left to it); a key that is no setting, or a value its flag
// refuses, stops the command with the file and the key named.
func TestConfigFileFillsWhatIsNotGiven(t *testing.T) {
	four, two := seed(t, 4), seed(t, 2)
	conf := writeConfig(t, "store: "+four+"\nlog-level: warning\n")
	if st := statsOf(t, "--config", conf); st.Count != 4 {
		t.Fatalf("store: from --config: %+v", st)
	}
	t.Setenv("RELEASEDESK_CONFIG", conf)
	if st := statsOf(t); st.Count != 4 {
		t.Fatalf("store: from $RELEASEDESK_CONFIG: %+v", st)
	}
	if st := statsOf(t, "--store", two); st.Count != 2 {
		t.Fatalf("--store over the file: %+v", st)
	}
	t.Setenv("RELEASEDESK_STORE", two)
	if st := statsOf(t); st.Count != 2 {
		t.Fatalf("$RELEASEDESK_STORE over the file: %+v", st)
	}
	os.Unsetenv("RELEASEDESK_STORE")
	os.Unsetenv("RELEASEDESK_CONFIG")

	// On PostgreSQL: store: and secret-key-file: from the file.
	db := pgURL(t)
	key := filepath.Join(t.TempDir(), "secret.key")
	if err := os.WriteFile(key, []byte(strings.Repeat("k", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	pgConf := writeConfig(t, "store: "+db+"\nsecret-key-file: "+key+"\n")
	code, out, errOut := runClean(t, "user", "add", "--name", "root", "--admin", "--config", pgConf, "--data", t.TempDir())
	if code != cli.ExitOK || !strings.Contains(out, "user root created") {
		t.Fatalf("user add with --config on PostgreSQL: exit %d, %q %q", code, out, errOut)
	}
	if st := statsOf(t, "--config", pgConf); st.Count == 0 {
		t.Fatalf("the database named by the file holds nothing: %+v", st)
	}

	for _, c := range []struct{ body, want string }{
		{"stor: " + four + "\n", `"stor" is not a setting of releasedesk (its settings: `},
		{"store: [" + four + "]\n", "store: is not a single value"},
		{"log-level: loud\n", "--log-level"},
		{"- store\n", "not a YAML mapping of settings"},
	} {
		path := writeConfig(t, c.body)
		code, out, errOut := runClean(t, "events", "stats", "--config", path)
		if code != cli.ExitUsage || !strings.Contains(errOut, c.want) || out != "" {
			t.Errorf("config %q: exit %d, %q %q, want usage error %q", c.body, code, out, errOut, c.want)
		}
	}
	if code, _, errOut := runClean(t, "events", "stats", "--config", filepath.Join(t.TempDir(), "none.yaml")); code != cli.ExitUsage ||
		!strings.Contains(errOut, "--config") {
		t.Errorf("a missing config file: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runClean(t, "serve", "--lease", "1s", "--addr", "127.0.0.1:0", "--config", pgConf, "--data", t.TempDir()); code != cli.ExitUsage ||
		!strings.Contains(errOut, "--lease 1s") {
		t.Errorf("serve --lease 1s: exit %d, %q", code, errOut)
	}
}
