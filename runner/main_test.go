package runner

import (
	"fmt"
	"os"
	"testing"
)

// TestMain lets this test binary also be a child process that tests start
// and kill: the runner of the crash-recovery test (RD_RUNNER_CHILD names
// its spec file), and a runner running local commands (RD_EXEC_CHILD
// names their directory). Dispatching here rather than in a skipping test
// keeps a normal run free of tests that only skip.
func TestMain(m *testing.M) {
	if spec := os.Getenv("RD_RUNNER_CHILD"); spec != "" {
		if err := runnerChild(spec); err != nil {
			fmt.Fprintln(os.Stderr, "runner child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if dir := os.Getenv("RD_EXEC_CHILD"); dir != "" {
		if err := execChild(dir); err != nil {
			fmt.Fprintln(os.Stderr, "exec child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	hidden, err := hideLocalTools()
	if err != nil {
		fmt.Fprintln(os.Stderr, "runner tests:", err)
		os.Exit(1)
	}
	code := m.Run()
	if hidden != "" {
		_ = os.RemoveAll(hidden)
	}
	os.Exit(code)
}
