package events

import (
	"fmt"
	"os"
	"testing"

	"releasedesk/events/pgtest"
)

// TestMain lets this test binary also be the child process that some tests
// start (and kill): the crash test's appender, the lock and read-only
// checks, the replay whose peak RSS a benchmark reads. Running them here
// instead of as tests keeps a normal run free of tests that only skip.
func TestMain(m *testing.M) {
	switch {
	case os.Getenv("RD_CRASH_DIR") != "":
		crashChild(os.Getenv("RD_CRASH_DIR"))
	case os.Getenv("RD_STORE_CHILD") != "":
		storeChild(os.Getenv("RD_STORE_CHILD"), os.Getenv("RD_STORE_DIR"))
	case os.Getenv("RD_REPLAY_DIR") != "":
		replayChild(os.Getenv("RD_REPLAY_DIR"))
	default:
		os.Exit(pgtest.Main(m))
	}
	os.Exit(0)
}

// childMust ends a child process with the error on stderr, where the parent
// test shows it.
func childMust(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(1)
	}
}
