package cli_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"releasedesk/app/cli"
	"releasedesk/app/httpapi/apitest"
	"releasedesk/projections"
)

// TestCLIDeploymentShowCommands: `deployment show` prints each step's
// command, shell-quoted on one line, before what it printed, in --json
// too; a secret's value, which the project also hands a hook as a plain
// variable (so it travels in argv), shows as [redacted] in both, as the
// runner recorded it.
func TestCLIDeploymentShowCommands(t *testing.T) {
	secret := "s3cr3t-cli-" + strings.Repeat("x", 8)
	t.Setenv("RD_CLI_TEST_SECRET", secret)
	e := apitest.New(t, apitest.Options{})
	root := e.Login("root", apitest.RootPassword)
	repo := apitest.GitRepo(t, nil)
	cfg := apitest.LocalProject("shop", repo, t.TempDir()) + `hooks:
  pre_release: echo "hello from $GREETING"; echo "copy is $COPY"
env:
  - {name: API_TOKEN, from_env: RD_CLI_TEST_SECRET, secret: true}
  - {name: COPY, from_env: RD_CLI_TEST_SECRET}
  - {name: GREETING, value: "it's me"}
`
	e.Must(http.StatusCreated, "PUT", "/api/v1/projects/shop", root, cfg)
	r := e.Must(http.StatusCreated, "POST", "/api/v1/releases", root,
		map[string]any{"project": "shop", "branch": "f1", "create_branch": true, "title": "Hooked"})
	d := e.Must(http.StatusAccepted, "POST", "/api/v1/releases/"+apitest.Str(r.Body, "release", "id")+"/deploy", root,
		map[string]string{"env": "test"})
	id := apitest.Str(d.Body, "deployment")
	if got := e.WaitDeployment(root, id, time.Minute); got["state"] != "succeeded" {
		t.Fatalf("deployment: %v", got)
	}

	// The runner recorded the command redacted: no event holds the secret.
	if _, log := e.Export(root); !strings.Contains(string(log), "COPY=[redacted]") || strings.Contains(string(log), secret) {
		t.Fatalf("the log's step.started does not hold the command redacted")
	}

	t.Setenv("RELEASEDESK_TOKEN", root)
	code, out, errOut := runIn(t, "", "deployment", "show", id, "--server", e.URL)
	if code != cli.ExitOK {
		t.Fatalf("deployment show: exit %d\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(out, secret) {
		t.Fatalf("deployment show printed the secret:\n%s", out)
	}
	lines := strings.Split(out, "\n")
	step := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "  step hook.pre_release on ") })
	if step < 0 || !strings.Contains(lines[step], "exit 0 in ") {
		t.Fatalf("no pre_release step line:\n%s", out)
	}
	// The command (its wrapper script spans lines), then the output.
	output := slices.Index(lines[step:], "    hello from it's me") + step
	if output <= step+1 || lines[output+1] != "    copy is [redacted]" {
		t.Fatalf("the hook's output does not follow its command:\n%s", out)
	}
	command := strings.Join(lines[step+1:output], "\n")
	if !strings.HasPrefix(command, "    $ sh -c '") {
		t.Errorf("the step's next line is not its command:\n%s", command)
	}
	for _, want := range []string{" env 'COPY=[redacted]' 'GREETING=it'\\''s me' ",
		` sh -c 'echo "hello from $GREETING"; echo "copy is $COPY"'`} {
		if !strings.Contains(command, want) {
			t.Errorf("the command has no %q:\n%s", want, command)
		}
	}

	code, raw, errOut := runIn(t, "", "deployment", "show", id, "--json", "--server", e.URL)
	var dep projections.Deployment
	if err := json.Unmarshal([]byte(raw), &dep); code != cli.ExitOK || err != nil {
		t.Fatalf("deployment show --json: exit %d %v\n%s", code, err, errOut)
	}
	if strings.Contains(raw, secret) {
		t.Fatalf("deployment show --json printed the secret")
	}
	i := slices.IndexFunc(dep.Steps, func(s projections.Step) bool { return s.Name == "hook.pre_release" })
	if i < 0 || !slices.Contains(dep.Steps[i].Command, "COPY=[redacted]") || dep.Steps[i].Command[len(dep.Steps[i].Command)-1] != `echo "hello from $GREETING"; echo "copy is $COPY"` {
		t.Fatalf("--json: the steps are %+v", dep.Steps)
	}
}
