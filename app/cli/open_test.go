package cli_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"releasedesk/app/cli"
	"releasedesk/app/httpapi/apitest"
)

// `releasedesk open FILE.jsonl` serves the file read-only; a bad call or a
// tampered file exits with its code.
func TestOpenCommand(t *testing.T) {
	e := apitest.New(t, apitest.Options{NoRunner: true})
	root := e.Login("root", apitest.RootPassword)
	export := e.Must(http.StatusOK, "GET", "/api/v1/audit/export?format=jsonl", root, nil)
	file := filepath.Join(t.TempDir(), "log.jsonl")
	if err := os.WriteFile(file, export.Raw, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut apitest.Buffer
	if code := cli.Main(context.Background(), apitest.Assets(), []string{"open"}, strings.NewReader(""), &out, &errOut); code != cli.ExitUsage {
		t.Fatalf("open without a file: exit %d, want %d (%s)", code, cli.ExitUsage, errOut.String())
	}
	tampered := filepath.Join(t.TempDir(), "bad.jsonl")
	if err := os.WriteFile(tampered, []byte(strings.Replace(string(export.Raw), `"root"`, `"toor"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if code := cli.Main(context.Background(), apitest.Assets(), []string{"open", tampered}, strings.NewReader(""), &out, &errOut); code != cli.ExitVerify {
		t.Fatalf("open a tampered file: exit %d, want %d (%s)", code, cli.ExitVerify, errOut.String())
	}

	ctx, cancel := context.WithCancel(context.Background())
	var serveOut apitest.Buffer
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(ctx, apitest.Assets(), []string{"open", "--addr", "127.0.0.1:0", file}, strings.NewReader(""), &serveOut, &errOut)
	}()
	url := apitest.WaitForURL(t, &serveOut)
	if !strings.Contains(serveOut.String(), "offline review") {
		t.Fatalf("open does not say it is read-only: %q", serveOut.String())
	}
	res, err := http.Get(url + "api/v1/releases")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET releases in offline review: %d", res.StatusCode)
	}
	cancel()
	if code := <-done; code != cli.ExitOK {
		t.Fatalf("open ended with %d: %s", code, errOut.String())
	}
}
