package runner

import (
	"os/exec"
	"strings"
	"testing"
)

// runSequenceLocally runs a Sequence argv the way an SSH session does: the
// login shell reads QuoteCommand of it.
func runSequenceLocally(t *testing.T, dir string, argv []string) (string, int) {
	t.Helper()
	cmd := exec.Command("sh", "-c", QuoteCommand(argv))
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

func TestSequenceRoundTrip(t *testing.T) {
	dir := t.TempDir()
	printArgs := `for a do printf '[%s]' "$a"; done`
	var parts []SeqPart
	for _, p := range injectionPayloads {
		parts = append(parts, SeqPart{Name: "echo", Argv: []string{"sh", "-c", printArgs, "sh", p, "-x", p}})
	}
	// A part that prints a line of its own, and one that prints nothing.
	parts = append(parts, SeqPart{Name: "line", Argv: []string{"echo", "a line"}}, SeqPart{Name: "none", Argv: []string{"true"}})
	nonce := newSeqNonce()
	argv, err := Sequence(nonce, parts...)
	if err != nil {
		t.Fatal(err)
	}
	assertScriptIsConstant(t, "Sequence", argv)
	out, code := runSequenceLocally(t, dir, argv)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	res := ParseSequence(nonce, out, len(parts))
	for i, p := range injectionPayloads {
		want := "[" + p + "][-x][" + p + "]"
		if !res[i].Ran || res[i].Exit != 0 || res[i].Output != want {
			t.Errorf("payload %q: got %+v, want output %q", p, res[i], want)
		}
	}
	n := len(injectionPayloads)
	if r := res[n]; !r.Ran || r.Output != "a line\n" {
		t.Errorf("line part: %+v", r)
	}
	if r := res[n+1]; !r.Ran || r.Output != "" {
		t.Errorf("empty part: %+v", r)
	}
	assertNoCanary(t, dir)
}

func TestSequenceStopsAtTheFirstFailure(t *testing.T) {
	dir := t.TempDir()
	nonce := newSeqNonce()
	parts := []SeqPart{
		{Name: "first", Argv: []string{"sh", "-c", "printf 'no newline'"}},
		{Name: "held", Argv: []string{"sh", "-c", "echo held by x; exit 3"}},
		{Name: "never", Argv: []string{"touch", "CANARY"}},
	}
	argv, err := Sequence(nonce, parts...)
	if err != nil {
		t.Fatal(err)
	}
	out, code := runSequenceLocally(t, dir, argv)
	if code != 3 {
		t.Fatalf("exit %d, want 3: %s", code, out)
	}
	res := ParseSequence(nonce, out, len(parts))
	if !res[0].Ran || res[0].Exit != 0 || res[0].Output != "no newline" {
		t.Errorf("first: %+v", res[0])
	}
	if !res[1].Ran || res[1].Exit != 3 || res[1].Output != "held by x\n" {
		t.Errorf("held: %+v", res[1])
	}
	if res[2].Ran || res[2].Output != "" {
		t.Errorf("never: %+v", res[2])
	}
	assertNoCanary(t, dir)
}

func TestSequenceMarkersCannotBeForged(t *testing.T) {
	nonce := newSeqNonce()
	other := newSeqNonce()
	// A host prints a marker of another nonce, and text after the last
	// marker: neither counts.
	out := "x\n" + other + " lock exit 0\ny\n" + nonce + " lock exit 3\nleft over"
	res := ParseSequence(nonce, out, 2)
	if !res[0].Ran || res[0].Exit != 3 || res[0].Output != "x\n"+other+" lock exit 0\ny" {
		t.Errorf("first: %+v", res[0])
	}
	if res[1].Ran || res[1].Output != "left over" {
		t.Errorf("second: %+v", res[1])
	}
	if nonce == other || !seqNonceRe.MatchString(nonce) {
		t.Fatalf("nonces %q %q", nonce, other)
	}
}

func TestSequenceValidation(t *testing.T) {
	good := []string{"true"}
	for _, c := range []struct {
		nonce string
		parts []SeqPart
	}{
		{"rd-x", []SeqPart{{Name: "a", Argv: good}}},
		{"$(touch CANARY)", []SeqPart{{Name: "a", Argv: good}}},
		{newSeqNonce(), nil},
		{newSeqNonce(), []SeqPart{{Name: "a b", Argv: good}}},
		{newSeqNonce(), []SeqPart{{Name: "$(x)", Argv: good}}},
		{newSeqNonce(), []SeqPart{{Name: "a", Argv: nil}}},
		{newSeqNonce(), []SeqPart{{Name: "a", Argv: []string{"-rf"}}}},
	} {
		if argv, err := Sequence(c.nonce, c.parts...); err == nil {
			t.Errorf("Sequence(%q, %v) accepted: %s", c.nonce, c.parts, strings.Join(argv, " "))
		}
	}
}
