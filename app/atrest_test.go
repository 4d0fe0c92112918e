package app_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"releasedesk/app"
	"releasedesk/app/httpapi/apitest"
)

// TestFilesAtRest: a data directory the desk makes is 0700 and its
// secrets (publishing key, credentials, checkpoint) 0600; one loosened
// afterwards is reported, each part with the command that closes it.
func TestFilesAtRest(t *testing.T) {
	data := app.DataDir{Path: filepath.Join(t.TempDir(), "desk")}
	desk, err := app.OpenDesk(context.Background(), app.DeskConfig{Data: data, Logger: apitest.Logger(), NoRunner: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := desk.Auth.CreateUser(context.Background(), app.SystemActor, "root", apitest.RootPassword, true, nil); err != nil {
		t.Fatal(err)
	}
	if len(desk.OpenToOthers) != 0 {
		t.Errorf("a new data directory is reported open: %v", desk.OpenToOthers)
	}
	desk.Close() // writes the checkpoint
	for path, want := range map[string]os.FileMode{
		data.Path: 0o700, data.SSHKeyPath(): 0o600, data.CredentialsPath(): 0o600, data.CheckpointPath(): 0o600,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(path), err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %04o, want %04o", filepath.Base(path), got, want)
		}
	}
	if got := data.OpenToOthers(); len(got) != 0 {
		t.Fatalf("after close: %v", got)
	}

	if err := os.Chmod(data.Path, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(data.CheckpointPath(), 0o644); err != nil {
		t.Fatal(err)
	}
	got := data.OpenToOthers()
	if len(got) != 2 || got[0].Path != data.Path || got[1].Path != data.CheckpointPath() {
		t.Fatalf("loosened: %v", got)
	}
	if line := got[0].String(); !strings.Contains(line, "mode 0755") || !strings.Contains(line, "chmod 0700 "+data.Path) {
		t.Errorf("the log's line: %s", line)
	}
	if brief := got[1].Brief(); strings.Contains(brief, data.Path) || !strings.Contains(brief, "checkpoint") {
		t.Errorf("health's line names the path or not the file: %s", brief)
	}
	// Reported at open too, for health to show.
	desk, err = app.OpenDesk(context.Background(), app.DeskConfig{Data: data, Logger: apitest.Logger(), NoRunner: true})
	if err != nil {
		t.Fatal(err)
	}
	defer desk.Close()
	if len(desk.OpenToOthers) != 2 || desk.OpenToOthers[0].Path != data.Path {
		t.Fatalf("open did not report the data directory: %v", desk.OpenToOthers)
	}
}
