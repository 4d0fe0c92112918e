package cli_test

import (
	"os"
	"testing"

	"releasedesk/events/pgtest"
)

// TestMain stops the PostgreSQL the store tests start (events/pgtest).
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
