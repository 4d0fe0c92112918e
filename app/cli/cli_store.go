package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"releasedesk/events"
)

// envStore names the event log when --store is not given, so a server's
// scripts set it once for every command.
const envStore = "RELEASEDESK_STORE"

// storeFlag adds the persistent --store. Every command that opens the
// event log reads it through logAddress.
func (c *cli) storeFlag(root *cobra.Command) {
	root.PersistentFlags().StringVar(&c.store, "store", "", "where the event log is: a data directory, or a PostgreSQL "+
		"database (postgres://user@host/db); default $"+envStore+", else --data")
}

// resolveStore settles where the log is, before any command runs. A
// postgres:// address puts the log in PostgreSQL (the data directory, --data,
// still holds everything else); a directory is the data directory itself,
// so --data and --store naming two different ones is refused. An explicit
// --data wins over a directory in the environment variable.
func (c *cli) resolveStore(cmd *cobra.Command) error {
	flags := cmd.Flags()
	store, from := c.store, "--store"
	if !flags.Changed("store") {
		store, from = os.Getenv(envStore), "$"+envStore
	}
	c.store = ""
	switch {
	case store == "":
	case events.IsPostgresURL(store):
		c.store = store
	case !flags.Changed("data"):
		c.dataDir = store
	case from == "--store" && filepath.Clean(store) != filepath.Clean(c.dataDir):
		return usageError{fmt.Errorf("--store %s and --data %s name two data directories: give one", store, c.dataDir)}
	}
	return nil
}

// logAddress is where the log is: the PostgreSQL address, or the data
// directory.
func (c *cli) logAddress() string {
	if c.store != "" {
		return c.store
	}
	return c.dataDir
}

// notOnPostgres refuses a command that cannot work on a log in PostgreSQL
// yet, saying why and what works.
func (c *cli) notOnPostgres(command, why string) error {
	if c.store == "" {
		return nil
	}
	return usageError{fmt.Errorf("%s does not work on a log in PostgreSQL yet (--store %s): %s",
		command, events.RedactURL(c.store), why)}
}

// storeName is an address fit to print: a directory as given, a database
// without its password.
func storeName(addr string) string {
	if events.IsPostgresURL(addr) {
		return events.RedactURL(addr)
	}
	return addr
}
