package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"releasedesk/events"
	"releasedesk/projections"
)

// A desk on PostgreSQL (DeskConfig.Store) keeps in the database, beside
// the log, everything another instance needs: the credentials
// (credentials_state.go), the ssh key sealed with the operator's
// SecretKey (sshkey_state.go), known_hosts, and the checkpoints of the
// read models and of the outbox. The data directory it is given is only
// this instance's cache: the git mirrors of its workspace, and the copies
// of the ssh key and of known_hosts the runner reads as files, written
// again from the database at every start (under PgCacheDir, so a data
// directory that also holds a desk of its own keeps its files).

// PgCacheDir is the cache's directory in the data directory.
const PgCacheDir = "postgres-cache"

// stateRefreshEvery is how often an instance reads again what another
// instance may have changed: known_hosts, and the credentials (which
// are also read on a miss, stateCredentials).
const stateRefreshEvery = 3 * time.Second

// commandLockKey keys the advisory lock under which the instances of a
// server decide workflow commands one at a time ("RDCM"; decide).
const commandLockKey = 0x5244434d

// currentWait bounds how long a request waits for its instance's read
// models to reach what the database holds (Current).
const currentWait = 2 * time.Second

// Current waits until the read models hold every event the database held
// when it was called, whichever instance wrote it, or currentWait passed:
// a request that follows a write made through another instance (the load
// balancer sent them apart) reads that write. The HTTP API calls it before
// each route. On a data directory this process is the only writer, and
// its read models already hold what it wrote: nothing to wait for.
func (d *Desk) Current(ctx context.Context) {
	if d.state != nil {
		reachDatabaseHead(ctx, d.Log, d.Set, currentWait)
	}
}

// deskState is a desk's link to the database's state.
type deskState struct {
	st  StateStore
	pg  *events.PgStore // the log and the state: its locks (startLeadingOutbox)
	key *SecretKey

	knownHostsPath string
	khMu           sync.Mutex // this instance's writes of its known_hosts copy
	knownHosts     []byte     // the value last written to the copy
}

// ErrNoSecretKey is a desk on PostgreSQL asked to start without the key
// that seals its secrets.
var ErrNoSecretKey = fmt.Errorf("a server on PostgreSQL needs %s: its ssh private key is kept in the database "+
	"sealed with that key, so a copy of the database alone gives nobody the key to the hosts", SecretKeyFlag)

// openPgLog opens the log of a desk on PostgreSQL, refusing to start
// without the secret key before anything is opened.
func openPgLog(ctx context.Context, cfg DeskConfig) (*events.PgStore, error) {
	if cfg.SecretKey == nil {
		return nil, ErrNoSecretKey
	}
	return openPostgres(ctx, cfg.Store, cfg.Logger)
}

// checkpoint returns the read models' saved state, or nil.
func (s *deskState) checkpoint(ctx context.Context) io.Reader {
	ctx, cancel := context.WithTimeout(ctx, stateTimeout)
	defer cancel()
	b, found, err := s.st.LoadState(ctx, stateCheckpoint)
	if err != nil || !found {
		return nil
	}
	return bytes.NewReader(b)
}

// saveCheckpoint stores the read models' state. The last instance to
// stop wins; any instance's checkpoint serves all, as it is checked
// against the log at load.
func (s *deskState) saveCheckpoint(set *projections.Set) error {
	var buf bytes.Buffer
	if err := set.SaveCheckpoint(&buf); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
	defer cancel()
	return s.st.SaveState(ctx, stateCheckpoint, buf.Bytes())
}

// pullKnownHosts writes the database's known_hosts to this instance's
// copy when it changed.
func (s *deskState) pullKnownHosts(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, stateTimeout)
	defer cancel()
	b, found, err := s.st.LoadState(ctx, stateKnownHosts)
	if err != nil {
		return err
	}
	s.khMu.Lock()
	defer s.khMu.Unlock()
	if !found || bytes.Equal(b, s.knownHosts) {
		return nil
	}
	return s.writeKnownHosts(b)
}

// writeKnownHosts replaces the copy; the caller holds khMu.
func (s *deskState) writeKnownHosts(b []byte) error {
	if err := writeFileAtomic(s.knownHostsPath, b); err != nil {
		return fmt.Errorf("known_hosts: %w", err)
	}
	s.knownHosts = bytes.Clone(b)
	return nil
}

// trustKnownHosts runs trust (which changes this instance's copy of
// known_hosts) on the database's known_hosts as it is now, under its
// row's lock, and stores the copy it leaves: two instances trusting keys
// at once both keep theirs.
func (s *deskState) trustKnownHosts(ctx context.Context, trust func() error) error {
	s.khMu.Lock()
	defer s.khMu.Unlock()
	return s.st.UpdateState(ctx, stateKnownHosts, func(old []byte, found bool) ([]byte, error) {
		if found && !bytes.Equal(old, s.knownHosts) {
			if err := s.writeKnownHosts(old); err != nil {
				return nil, err
			}
		}
		if err := trust(); err != nil {
			return nil, err
		}
		b, err := os.ReadFile(s.knownHostsPath)
		if err != nil {
			return nil, fmt.Errorf("known_hosts: %w", err)
		}
		s.knownHosts = b
		return b, nil
	})
}

// keepFresh reads, every stateRefreshEvery, what other instances may
// have changed: known_hosts (so the runner here trusts what an admin
// trusted there) and the credentials.
func (d *Desk) keepFresh(ctx context.Context) {
	t := time.NewTicker(stateRefreshEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := d.state.pullKnownHosts(ctx); err != nil && ctx.Err() == nil {
			d.Logger.WithError(err).Warn("reading known_hosts from the database")
		}
		d.Auth.Creds.freshen(time.Now())
	}
}

// outboxState keeps the outbox's position in the database.
type outboxState struct{ st StateStore }

func (o outboxState) LoadCheckpoint() ([]byte, bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
	defer cancel()
	return o.st.LoadState(ctx, stateOutbox)
}

func (o outboxState) SaveCheckpoint(b []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
	defer cancel()
	return o.st.SaveState(ctx, stateOutbox, b)
}

// pgCache is the cache directory of a desk on PostgreSQL in data.
func pgCache(data string) (DataDir, error) {
	if data == "" {
		return DataDir{}, fmt.Errorf("a server on PostgreSQL needs a data directory for its cache (--data)")
	}
	abs, err := filepath.Abs(data)
	if err != nil {
		return DataDir{}, fmt.Errorf("data directory %q: %w", data, err)
	}
	dir := DataDir{Path: filepath.Join(abs, PgCacheDir)}
	if err := os.MkdirAll(dir.Path, 0o700); err != nil {
		return DataDir{}, fmt.Errorf("data directory %s: %w", dir.Path, err)
	}
	return dir, nil
}
