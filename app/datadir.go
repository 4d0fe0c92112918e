package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sirupsen/logrus"

	"releasedesk/events"
	"releasedesk/events/catalog"
)

// DataDir is one Release Desk's home: events/ (the Badger log), known_hosts
// and workspace/. One process owns it at a time (the event store's lock).
type DataDir struct {
	Path string
}

// EventsPath is where the event log lives.
func (d DataDir) EventsPath() string { return filepath.Join(d.Path, "events") }

// OpenExistingLog opens the log for commands that only read it: a data
// directory with no log is an error, not a new empty store.
func (d DataDir) OpenExistingLog(logger logrus.FieldLogger) (*events.Store, error) {
	if !events.StoreExists(d.EventsPath()) {
		return nil, fmt.Errorf("no event log in %s (wrong --data, or nothing recorded yet)", d.Path)
	}
	store, _, err := d.OpenLog(logger, false)
	return store, err
}

// OpenExistingLogAt opens, for a command that reads it, the log a --store
// names: the database of a postgres:// URL, else the data directory at
// that path (as OpenExistingLog: a directory with no log is an error).
func OpenExistingLogAt(ctx context.Context, store string, logger logrus.FieldLogger) (events.Log, error) {
	if events.IsPostgresURL(store) {
		return openPostgres(ctx, store, logger)
	}
	return DataDir{Path: store}.OpenExistingLog(logger)
}

// OpenCopyTarget opens where `events copy` writes: the database of a
// postgres:// URL, else the log of the data directory at that path,
// created if missing. The copy itself refuses a log that holds events.
func OpenCopyTarget(ctx context.Context, store string, logger logrus.FieldLogger) (events.Importer, error) {
	if events.IsPostgresURL(store) {
		return openPostgres(ctx, store, logger)
	}
	log, _, err := DataDir{Path: store}.OpenLog(logger, false)
	if err != nil {
		return nil, err
	}
	return log, nil
}

// OpenPostgresLog opens (creating its tables) the log of a server on
// PostgreSQL, for the commands that work on it directly (user add).
func OpenPostgresLog(ctx context.Context, dsn string, logger logrus.FieldLogger) (*events.PgStore, error) {
	return openPostgres(ctx, dsn, logger)
}

func openPostgres(ctx context.Context, dsn string, logger logrus.FieldLogger) (*events.PgStore, error) {
	log, err := events.OpenPostgres(ctx, dsn, events.Options{Logger: logger, Upcasters: catalog.Upcasters()})
	if err != nil {
		return nil, fmt.Errorf("open event log: %w", err)
	}
	return log, nil
}

// OpenLog opens the data directory's event log, creating the directory on
// first use. A store that opened but is damaged comes back read-only with
// the damage as problem, so the app can still serve what it can read.
func (d DataDir) OpenLog(logger logrus.FieldLogger, readOnly bool) (log *events.Store, problem error, err error) {
	return d.openLog(events.Options{Logger: logger, ReadOnly: readOnly})
}

// openLog is OpenLog with the store's options; the desk asks for the
// background verification (events.Options.VerifyOnOpen) there, which the
// commands that open the log briefly do not need.
func (d DataDir) openLog(opts events.Options) (log *events.Store, problem error, err error) {
	logger, readOnly := opts.Logger, opts.ReadOnly
	if d.Path == "" {
		return nil, nil, errors.New("data directory: empty path")
	}
	abs, err := filepath.Abs(d.Path)
	if err != nil {
		return nil, nil, fmt.Errorf("data directory %q: %w", d.Path, err)
	}
	d.Path = abs
	if !readOnly {
		if err := os.MkdirAll(d.Path, 0o700); err != nil {
			return nil, nil, fmt.Errorf("data directory %s: %w", d.Path, err)
		}
	}
	if opts.Upcasters == nil {
		opts.Upcasters = catalog.Upcasters()
	}
	store, err := events.Open(d.EventsPath(), opts)
	if err != nil {
		return nil, nil, fmt.Errorf("open event log: %w", err)
	}
	if damage := store.Damage(); damage != nil {
		logger.WithError(damage).Error("event log damaged: serving read-only")
		return store, damage, nil
	}
	return store, nil, nil
}

// CheckpointPath is where the read models' state is saved on close, so the
// next start reads it instead of replaying the whole log.
func (d DataDir) CheckpointPath() string { return filepath.Join(d.Path, "projections.checkpoint") }

// OutboxCheckpointPath is where the outbox notes how far its messages are
// settled, so a restart reads the log from there.
func (d DataDir) OutboxCheckpointPath() string { return filepath.Join(d.Path, "outbox.checkpoint") }

// WorkspacePath holds the runner's git mirrors and exported trees.
func (d DataDir) WorkspacePath() string { return filepath.Join(d.Path, "workspace") }

// KnownHostsPath is the app's own known_hosts: the host keys an admin trusted.
func (d DataDir) KnownHostsPath() string { return filepath.Join(d.Path, "known_hosts") }

// SSHKeyPath is the key the app publishes with when an environment names
// none (its public half is shown to admins to install on the hosts).
func (d DataDir) SSHKeyPath() string { return filepath.Join(d.Path, "ssh", "id_ed25519") }
