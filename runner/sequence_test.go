package runner

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
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

// runSequenceWith is runSequenceLocally in a process group of its own
// (past a gate, EOF on stdin kills the group), with stdin written to it
// and then kept open until it exits, unless closeIn.
func runSequenceWith(t *testing.T, dir string, argv []string, stdin string, closeIn bool) (string, int) {
	t.Helper()
	cmd := exec.Command("sh", "-c", QuoteCommand(argv))
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	_, _ = in.Write([]byte(stdin))
	if closeIn {
		_ = in.Close()
	}
	err = cmd.Wait()
	_ = in.Close()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), code
}

// TestSequenceGate: the parts after a gate run only on "go", with the
// variables sent after it; anything else stops the sequence at the gate
// with nothing after it run.
func TestSequenceGate(t *testing.T) {
	parts := []SeqPart{
		{Name: "before", Argv: []string{"sh", "-c", `echo "before: $SECRET"`}},
		{Name: GatePart},
		{Name: "after", Argv: []string{"sh", "-c", `printf 'after: %s' "$SECRET" && touch CANARY-after`}},
	}
	block, err := envBlock([]string{"SECRET=two\nlines"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, stdin string
		code        int
	}{{"go", "go\n" + string(block), 0}, {"EOF", "", 1}, {"another word", "stop\n" + string(block), 1}, {"go without its variables", "go\n", 1}} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			nonce := newSeqNonce()
			argv, err := Sequence(nonce, parts...)
			if err != nil {
				t.Fatal(err)
			}
			out, code := runSequenceWith(t, dir, argv, c.stdin, c.code != 0)
			if code != c.code {
				t.Fatalf("exit %d, want %d: %s", code, c.code, out)
			}
			if !strings.Contains(out, "\n"+nonce+" gate ready\n") {
				t.Fatalf("no ready marker: %q", out)
			}
			pre, post, _ := strings.Cut(out, "\n"+nonce+" gate ready\n")
			if res := ParseSequence(nonce, pre, 1); !res[0].Ran || res[0].Output != "before: \n" {
				t.Fatalf("the part before the gate: %+v (the variables come only with go)", res[0])
			}
			res := ParseSequence(nonce, post, 2)
			_, statErr := os.Stat(filepath.Join(dir, "CANARY-after"))
			if c.code != 0 {
				if !res[0].Ran || res[0].Exit != 1 || res[1].Ran || statErr == nil {
					t.Fatalf("stopped gate: %+v, CANARY-after made: %v", res, statErr == nil)
				}
				return
			}
			if !res[0].Ran || res[0].Exit != 0 || !res[1].Ran || res[1].Output != "after: two\nlines" || statErr != nil {
				t.Fatalf("opened gate: %+v, CANARY-after: %v", res, statErr)
			}
		})
	}
	if _, err := Sequence(newSeqNonce(), SeqPart{Name: GatePart}, SeqPart{Name: GatePart}); err == nil {
		t.Fatal("two gates accepted")
	}
	if _, err := Sequence(newSeqNonce(), SeqPart{Name: GatePart, Argv: []string{"true"}}); err == nil {
		t.Fatal("a gate with a command accepted")
	}
}

// TestSequenceGateWatchesStdin: past the gate, stdin closing (the run's
// context ended, the connection dropped) kills what runs.
func TestSequenceGateWatchesStdin(t *testing.T) {
	argv, err := Sequence(newSeqNonce(), SeqPart{Name: GatePart}, SeqPart{Name: "hang", Argv: []string{"sleep", "30"}})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", QuoteCommand(argv))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	_, _ = in.Write([]byte("go\n\n"))
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	_ = in.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		t.Logf("ended %s after its stdin closed", time.Since(start).Round(time.Millisecond))
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		t.Fatal("the part past the gate still runs after stdin closed")
	}
}
