package app_test

import (
	"os"
	"testing"

	"releasedesk/events/pgtest"
)

// TestMain stops the PostgreSQL the desk's tests on it start (events/pgtest).
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
