package runner

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// injectionPayloads are the texts an attacker would try in a branch, a
// path, a note or a hook argument. Tests use them everywhere input meets a
// command.
var injectionPayloads = []string{
	"$(touch CANARY)",
	"`touch CANARY`",
	"; touch CANARY",
	"| touch CANARY",
	"&& touch CANARY",
	"x\ntouch CANARY\n",
	"x\rtouch CANARY",
	`it's "quoted" 'twice'`,
	`back\slash\\ \'`,
	"'; touch CANARY; '",
	`"; touch CANARY; "`,
	"*",
	"~",
	"~root",
	"-rf",
	"--upload-pack=touch CANARY",
	"ext::sh -c touch% CANARY",
	"../..",
	"../../../etc/passwd",
	"héllo wörld ✓ 日本",
	"",
	" ",
	"a b\tc",
	"$HOME ${IFS} $((1+1))",
	"!$ !! ^x^y",
	"=cmd",
	"#comment",
	"{a,b}",
	"> CANARY",
	"< /etc/passwd",
	"\x01\x7f",
}

func TestQuoteRoundTripThroughShell(t *testing.T) {
	dir := t.TempDir()
	for _, p := range injectionPayloads {
		cmd := exec.Command("sh", "-c", "sh -c 'printf %s \"$1\"' sh "+Quote(p))
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("payload %q: %v: %s", p, err, out)
			continue
		}
		if string(out) != p {
			t.Errorf("payload %q came back as %q (quoted %s)", p, out, Quote(p))
		}
	}
	assertNoCanary(t, dir)
}

func TestQuoteCommandRoundTrip(t *testing.T) {
	dir := t.TempDir()
	argv := append([]string{"sh", "-c", `for a in "$@"; do printf '[%s]' "$a"; done`, "sh"}, injectionPayloads...)
	// Through bash too: the login shell of most hosts.
	for _, shell := range []string{"sh", "bash"} {
		if _, err := exec.LookPath(shell); err != nil {
			continue
		}
		cmd := exec.Command(shell, "-c", QuoteCommand(argv))
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v: %s", shell, err, out)
		}
		var want strings.Builder
		for _, p := range injectionPayloads {
			want.WriteString("[" + p + "]")
		}
		if string(out) != want.String() {
			t.Errorf("%s: got %q\nwant %q", shell, out, want.String())
		}
	}
	assertNoCanary(t, dir)
}

func TestQuoteForms(t *testing.T) {
	for in, want := range map[string]string{
		"":                "''",
		"abc":             "abc",
		"/a/b-c_d.e:f@g":  "/a/b-c_d.e:f@g",
		"--link-dest=/x":  "--link-dest=/x",
		"=x":              "'=x'",
		"a b":             "'a b'",
		"it's":            `'it'\''s'`,
		"$(x)":            "'$(x)'",
		"~":               "'~'",
		"a\nb":            "'a\nb'",
		"*":               "'*'",
		"ext::sh -c x%20": "'ext::sh -c x%20'",
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
	for _, c := range []struct {
		argv []string
		want string
	}{
		{[]string{"rm", "-rf", "a b", ""}, "rm -rf 'a b' ''"},
		{[]string{"env", "A=1", "sh"}, "env A=1 sh"},
		{[]string{"A=1", "x"}, "'A=1' x"},
		{[]string{"time", "x"}, "'time' x"},
		{[]string{"if"}, "'if'"},
	} {
		if got := QuoteCommand(c.argv); got != c.want {
			t.Errorf("QuoteCommand(%q) = %s, want %s", c.argv, got, c.want)
		}
	}
	// In command position, a keyword or an assignment is run as a program.
	out, err := exec.Command("bash", "-c", QuoteCommand([]string{"if", "x"})+" 2>&1; true").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "if: command not found") {
		t.Errorf("keyword as a command: %v %q", err, out)
	}
}

func TestExecutorsRefuseNUL(t *testing.T) {
	_, err := (&LocalExecutor{}).Run(context.Background(), []string{"echo", "a\x00b"}, nil)
	if err == nil || !strings.Contains(err.Error(), "NUL") {
		t.Fatalf("NUL accepted: %v", err)
	}
	if _, err := (&LocalExecutor{}).Run(context.Background(), nil, nil); err == nil {
		t.Fatal("empty argv accepted")
	}
}

// assertNoCanary fails if a payload managed to create a CANARY file in dir
// or in the working directory.
func assertNoCanary(t *testing.T, dirs ...string) {
	t.Helper()
	wd, _ := os.Getwd()
	for _, d := range append(dirs, wd) {
		matches, _ := filepath.Glob(filepath.Join(d, "*CANARY*"))
		if len(matches) > 0 {
			t.Fatalf("an injection ran: %v", matches)
		}
	}
}
