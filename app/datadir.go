package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sirupsen/logrus"

	"releasedesk/events"
)

// DefaultDataDir is $XDG_DATA_HOME/releasedesk, else ~/.local/share/releasedesk.
func DefaultDataDir() string {
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "releasedesk")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "releasedesk")
	}
	return "releasedesk-data"
}

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

// OpenLog opens the data directory's event log, creating the directory on
// first use. A store that opened but is damaged comes back read-only with
// the damage as problem, so the app can still serve what it can read.
func (d DataDir) OpenLog(logger logrus.FieldLogger, readOnly bool) (log *events.Store, problem error, err error) {
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
	store, err := events.Open(d.EventsPath(), events.Options{Logger: logger, ReadOnly: readOnly})
	if err != nil {
		return nil, nil, fmt.Errorf("open event log: %w", err)
	}
	if damage := store.Damage(); damage != nil {
		logger.WithError(damage).Error("event log damaged: serving read-only")
		return store, damage, nil
	}
	return store, nil, nil
}
