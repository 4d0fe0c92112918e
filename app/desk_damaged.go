package app

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/sirupsen/logrus"

	"releasedesk/events"
	"releasedesk/events/text"
	"releasedesk/projections"
)

// openDamagedDesk serves a data directory whose event log cannot be opened
// at all (a table damaged on disk): the read models come from the last
// checkpoint, as they were when the app last stopped cleanly, and nothing
// may be written. Health and every refused write say what is wrong; the
// routes that read the log itself (audit, export, the live stream) answer
// 503 with the same reason. Without a usable checkpoint the views are
// empty and only health speaks. No runner starts: hosts are left as they
// are until the store is repaired or restored.
func openDamagedDesk(d *Desk, cfg DeskConfig, damage error) (*Desk, error) {
	abs, err := filepath.Abs(cfg.Data.Path)
	if err != nil {
		return nil, err
	}
	data := DataDir{Path: abs}
	set, saved := loadSavedViews(data.CheckpointPath(), cfg.Logger)
	d.Set = set
	d.Log = events.NewUnavailable(set.Head(), damage)
	d.ReadOnly = text.Errorf("%w; %s", problemError{damage}, saved)
	creds, err := OpenCredentials(data.CredentialsPath())
	if err != nil {
		return nil, err
	}
	d.Auth = &Auth{Log: d.Log, Set: set, Creds: creds, Now: d.Now}
	d.KnownHostsPath = data.KnownHostsPath()
	cfg.Logger.WithError(damage).WithField("position", set.Position()).Error("event log cannot be opened: serving the saved views read-only")
	return d, nil
}

// loadSavedViews reads the checkpoint without checking it against the log
// (there is no log to check it against) and says what is served.
func loadSavedViews(path string, logger logrus.FieldLogger) (*projections.Set, text.Text) {
	f, err := os.Open(path)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			logger.WithError(err).Warn("checkpoint unreadable")
		}
		return projections.NewSet(), text.New("no saved views to serve: nothing but health is available")
	}
	defer f.Close()
	set, err := projections.LoadCheckpoint(f, nil)
	if err != nil {
		logger.WithError(err).Warn("checkpoint refused")
		return projections.NewSet(), text.New("the saved views are unusable: nothing but health is available")
	}
	return set, text.New("serving read-only the views saved at position %d, when the app last stopped", set.Position())
}
