package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"releasedesk/projections"
	"releasedesk/runner"
)

// printSteps writes each step of a deployment as a person reads a
// terminal session: the step, where it ran and how it ended, the exact
// command it ran (one shell-quoted line, as the runner recorded it, its
// secrets already [redacted]), then what the command printed.
func printSteps(w io.Writer, steps []projections.Step) {
	for _, s := range steps {
		where := s.Host
		if where == "" {
			where = "(app)"
		}
		fmt.Fprintf(w, "  step %s on %s: %s\n", s.Name, where, stepOutcome(s))
		if len(s.Command) > 0 {
			fmt.Fprintf(w, "    $ %s\n", terminalSafe(runner.QuoteCommand(s.Command)))
		}
		if s.Output != "" {
			out := strings.TrimSuffix(terminalSafe(s.Output), "\n")
			fmt.Fprintf(w, "    %s\n", strings.ReplaceAll(out, "\n", "\n    "))
		}
		if s.Truncated {
			fmt.Fprintln(w, "    (output truncated: the whole of it is in the log)")
		}
	}
}

// stepOutcome is "exit 0 in 1.2s", "running", or the step's error.
func stepOutcome(s projections.Step) string {
	if s.Finished.IsZero() {
		return "running"
	}
	out := fmt.Sprintf("exit %d in %s", s.ExitCode, (time.Duration(s.DurationMS) * time.Millisecond).Round(time.Millisecond))
	if s.Error != "" {
		out += ": " + oneLine(s.Error)
	}
	return out
}

// terminalSafe shows control characters other than newline and tab as
// escapes: a host's output (or a script) must not drive the terminal
// that reads it.
func terminalSafe(s string) string {
	if !strings.ContainsFunc(s, isTerminalControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if isTerminalControl(r) {
			fmt.Fprintf(&b, "\\x%02x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isTerminalControl(r rune) bool {
	return (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x80 && r < 0xa0)
}
