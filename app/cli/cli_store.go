package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"releasedesk/app"
	"releasedesk/events"
)

// envStore names the event log when --store is not given, so a server's
// scripts set it once for every command.
const envStore = "RELEASEDESK_STORE"

// envSecretKey names the secret key file when --secret-key-file is not
// given.
const envSecretKey = "RELEASEDESK_SECRET_KEY_FILE"

// secretKeyFlag adds --secret-key-file to a command that opens a desk.
func (c *cli) secretKeyFlag(cmd *cobra.Command) {
	cmd.Flags().StringVar(&c.secretKeyFile, "secret-key-file", "", "on a PostgreSQL --store: the file of at least 32 random "+
		"bytes that seals the server's ssh key in the database (head -c 32 /dev/urandom); default $"+envSecretKey)
}

// deskConfig is what a command opens the desk with: the data directory,
// or, on a PostgreSQL store, the database with the secret key (its file
// read, and refused with the reason, before anything is opened).
func (c *cli) deskConfig(cmd *cobra.Command) (app.DeskConfig, error) {
	cfg := app.DeskConfig{Data: app.DataDir{Path: c.dataDir}, Logger: c.logger}
	if c.store == "" {
		return cfg, nil
	}
	path := c.secretKeyFile
	if f := cmd.Flags().Lookup("secret-key-file"); f == nil || !f.Changed {
		path = os.Getenv(envSecretKey)
	}
	if path == "" {
		return cfg, usageError{app.ErrNoSecretKey}
	}
	key, err := app.LoadSecretKey(path)
	if err != nil {
		return cfg, usageError{err}
	}
	cfg.Store, cfg.SecretKey = c.store, key
	return cfg, nil
}

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
