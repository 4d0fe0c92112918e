package cli_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"releasedesk/app/cli"
	"releasedesk/app/httpapi"
	"releasedesk/app/httpapi/apitest"
)

// `releasedesk open FILE.jsonl` serves the file read-only; a bad call or a
// tampered file exits with its code.
func TestOpenCommand(t *testing.T) {
	e := apitest.New(t, apitest.Options{NoRunner: true})
	root := e.Login("root", apitest.RootPassword)
	file, exported := e.Export(root)
	var out, errOut apitest.Buffer
	if code := cli.Main(context.Background(), apitest.Assets(), []string{"open"}, strings.NewReader(""), &out, &errOut); code != cli.ExitUsage {
		t.Fatalf("open without a file: exit %d, want %d (%s)", code, cli.ExitUsage, errOut.String())
	}
	tampered := filepath.Join(t.TempDir(), "bad.jsonl")
	if err := os.WriteFile(tampered, []byte(strings.Replace(string(exported), `"root"`, `"toor"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if code := cli.Main(context.Background(), apitest.Assets(), []string{"open", tampered}, strings.NewReader(""), &out, &errOut); code != cli.ExitVerify {
		t.Fatalf("open a tampered file: exit %d, want %d (%s)", code, cli.ExitVerify, errOut.String())
	}

	// The window without one to show: exit 4, saying why.
	var winOut, winErr apitest.Buffer
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	if code := cli.Main(context.Background(), apitest.Assets(), []string{"open", "--window", file}, strings.NewReader(""), &winOut, &winErr); code != 4 ||
		!strings.Contains(winErr.String(), "--window") {
		t.Fatalf("open --window with no window: exit %d: %s", code, winErr.String())
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
	// Without the review link's secret nothing is read; with it, all is.
	c := httpapi.Client{Base: strings.TrimSuffix(url, "/")}
	var refusal *httpapi.Error
	if _, err := c.Call(ctx, "GET", "/api/v1/releases", nil, nil, nil); !errors.As(err, &refusal) || refusal.Code != "review_secret_required" {
		t.Fatalf("GET releases without the review secret: %v", err)
	}
	m := apitest.ReviewLine.FindStringSubmatch(serveOut.String())
	if m == nil || !strings.HasPrefix(m[1], url+"#/review/rdv_") {
		t.Fatalf("open printed no review link: %q", serveOut.String())
	}
	_, secret, _ := strings.Cut(m[1], "#/review/")
	var session httpapi.ReviewResponse
	if _, err := c.Call(ctx, "POST", "/api/v1/review", nil, httpapi.ReviewRequest{Secret: secret}, &session); err != nil {
		t.Fatal(err)
	}
	c.Token = session.Token
	if _, err := c.Call(ctx, "GET", "/api/v1/releases", nil, nil, nil); err != nil {
		t.Fatalf("GET releases in offline review: %v", err)
	}
	cancel()
	if code := <-done; code != cli.ExitOK {
		t.Fatalf("open ended with %d: %s", code, errOut.String())
	}
}
