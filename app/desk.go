package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"releasedesk/app/outbox"
	"releasedesk/events"
	"releasedesk/events/catalog"
	"releasedesk/events/text"
	"releasedesk/projections"
	"releasedesk/runner"
)

// Desk is the running product: the event log, every read model kept live
// over it, the people side and the runner. The HTTP API and the command
// line call its methods; nothing else decides or writes.
//
// Every workflow command is decided on the read models and appended with
// the stream's expected version. Commands are also serialised within the
// process (cmdMu), so two people acting at once are decided one after the
// other: the second sees the first's event and gets a clear refusal, and
// the expected version still guards against any other writer.
type Desk struct {
	Log    events.Log
	Set    *projections.Set
	Auth   *Auth
	Runner *runner.Runner // nil when read-only; started unless DeskConfig.NoRunner
	// ReadOnly says why writes are refused (an archive, a damaged store);
	// nil when the desk is writable.
	ReadOnly  error
	Workspace runner.Workspace
	// DefaultSSHKey is used by environments that name no ssh_key.
	DefaultSSHKey string
	Now           func() time.Time
	Logger        logrus.FieldLogger
	// KnownHostsPath is the app's known_hosts (strict host key checking).
	KnownHostsPath string
	// OpenToOthers is what of the data directory other accounts could
	// read, found at open (DataDir.OpenToOthers); health reports it.
	OpenToOthers []OpenFile

	cmdMu sync.Mutex // one workflow decision at a time

	mirrorMu sync.Mutex
	mirrors  map[string]*runner.Mirror // project -> its mirror

	runCtx     context.Context // ends on Close: background work (retries)
	stop       context.CancelFunc
	wg         sync.WaitGroup
	closeOnce  sync.Once
	checkpoint string         // where Close saves the projections' state ("" never)
	linkBase   linkBaseHolder // where people reach the desk: SetLinkBase
	outboxMu   sync.Mutex
	outbox     *outbox.Outbox // delivers the projects' messages; nil when read-only or another instance sends
	archive    string         // the archive under offline review, if any
	state      *deskState     // on PostgreSQL: what lives beside the log (desk_state.go)
}

// EnvTransfer names how the runner sends files to hosts: auto (the
// default: rsync where this machine has it, else a tar stream over SSH),
// rsync, or tar.
const EnvTransfer = "RELEASEDESK_TRANSFER"

// DeskConfig says what OpenDesk opens.
type DeskConfig struct {
	Data    DataDir
	Archive string // a JSONL export to review read-only instead of Data's log
	Logger  logrus.FieldLogger
	// NoRunner keeps deployments queued instead of running them (tests of
	// the API alone), and runs no scheduled drift check; the default runs
	// them in this process.
	NoRunner bool
	// Store, when set, is the PostgreSQL address of the log: the desk
	// keeps everything another instance needs in that database, Data is
	// only this instance's cache (desk_state.go), and SecretKey, which
	// seals its secrets there, is required.
	Store     string
	SecretKey *SecretKey
	// LeaseTTL is how long a runner's hold on a deployment lasts
	// unrenewed on PostgreSQL (runner.DefaultLeaseTTL).
	LeaseTTL time.Duration
}

// OpenDesk opens the data directory (or an archive), rebuilds the read
// models (from a checkpoint when one matches), keeps them live, and starts
// the runner in the background, which first recovers deployments a crash
// interrupted.
func OpenDesk(ctx context.Context, cfg DeskConfig) (*Desk, error) {
	if cfg.Logger == nil {
		l := logrus.New()
		l.SetOutput(os.Stderr)
		cfg.Logger = l
	}
	d := &Desk{Now: time.Now, Logger: cfg.Logger, mirrors: map[string]*runner.Mirror{}}
	if cfg.Archive != "" {
		store, report, err := events.OpenArchive(cfg.Archive, events.OpenArchiveOptions{Upcasters: catalog.Upcasters()})
		if errors.Is(err, events.ErrChainBroken) {
			return nil, &BrokenChainError{What: text.New("archive %s", cfg.Archive), Err: err}
		}
		if err != nil {
			return nil, fmt.Errorf("open archive %s: %w", cfg.Archive, err)
		}
		if !report.OK() {
			_ = store.Close()
			return nil, &BrokenChainError{What: text.New("archive %s", cfg.Archive), Err: report.Err()}
		}
		d.archive = cfg.Archive
		d.Log, d.ReadOnly = store, text.Errorf("offline review of %s: read-only", filepath.Base(cfg.Archive))
		set, err := projections.Build(ctx, store)
		if err != nil {
			_ = store.Close()
			return nil, err
		}
		d.Set = set
		d.Auth = &Auth{Log: store, Set: set, Creds: emptyCredentials(), Now: d.Now}
		return d, nil
	}

	var store events.Log
	var problem error
	var data DataDir
	var checkpoint io.Reader
	if cfg.Store != "" {
		cache, err := pgCache(cfg.Data.Path)
		if err != nil {
			return nil, err
		}
		pg, err := openPgLog(ctx, cfg)
		if err != nil {
			return nil, err
		}
		store, data = pg, cache
		d.state = &deskState{st: pg, pg: pg, key: cfg.SecretKey, knownHostsPath: data.KnownHostsPath()}
		checkpoint = d.state.checkpoint(ctx)
	} else {
		// The open checks only the log's end, to start quickly; the whole
		// log is verified in the background, and writes wait for that.
		badger, p, err := cfg.Data.openLog(events.Options{Logger: cfg.Logger, VerifyOnOpen: true})
		if damaged := (*events.DamagedStoreError)(nil); errors.As(err, &damaged) {
			return openDamagedDesk(d, cfg, err)
		}
		if err != nil {
			return nil, err
		}
		store, problem = badger, p
		abs, _ := filepath.Abs(cfg.Data.Path)
		data = DataDir{Path: abs}
		d.checkpoint = data.CheckpointPath()
		if f, err := os.Open(d.checkpoint); err == nil {
			defer f.Close()
			checkpoint = f
		}
	}
	d.Log, d.ReadOnly = store, problem
	set, started, err := startSet(ctx, store, checkpoint)
	if err != nil {
		_ = store.Close()
		if damaged := (*events.DamagedStoreError)(nil); errors.As(err, &damaged) {
			return openDamagedDesk(d, cfg, err)
		}
		return nil, err
	}
	cfg.Logger.WithFields(logrus.Fields{"from_checkpoint": started.FromCheckpoint, "replayed": started.Replayed, "position": set.Position()}).Info("read models ready")
	d.Set = set
	var creds *Credentials
	if d.state != nil {
		creds, err = OpenStateCredentials(ctx, d.state.st)
	} else {
		creds, err = OpenCredentials(data.CredentialsPath())
	}
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	d.Auth = &Auth{Log: store, Set: set, Creds: creds, Now: d.Now}
	d.Workspace = runner.Workspace{Dir: data.WorkspacePath()}
	d.KnownHostsPath = data.KnownHostsPath()

	runCtx, stop := context.WithCancel(context.Background())
	d.runCtx, d.stop = runCtx, stop
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if err := set.Follow(runCtx, store); err != nil && !errors.Is(err, context.Canceled) {
			cfg.Logger.WithError(err).Error("read models stopped following the log")
		}
	}()
	if problem != nil {
		return d, nil
	}
	if d.state != nil {
		d.DefaultSSHKey, err = ensureStateSSHKey(ctx, d.state.st, d.state.key, data.SSHKeyPath())
		if err == nil {
			err = d.state.pullKnownHosts(ctx)
		}
	} else {
		d.DefaultSSHKey, err = ensureSSHKey(data.SSHKeyPath())
	}
	if err != nil {
		d.Close()
		return nil, err
	}
	if err := os.MkdirAll(d.Workspace.Dir, 0o700); err != nil {
		d.Close()
		return nil, fmt.Errorf("workspace: %w", err)
	}
	d.OpenToOthers = data.OpenToOthers()
	for _, w := range d.OpenToOthers {
		cfg.Logger.Warn(w.String())
	}
	// How files reach hosts: rsync where this machine has it, else (or
	// when $RELEASEDESK_TRANSFER says tar) the Go-native tar stream.
	transfer, err := runner.ParseTransfer(os.Getenv(EnvTransfer))
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("$%s: %w", EnvTransfer, err)
	}
	rc := runner.Config{Log: store, Workspace: d.Workspace, KnownHostsPath: d.KnownHostsPath,
		Now: d.Now, Logger: cfg.Logger, Transfer: transfer}
	if d.state != nil {
		// Other instances run deployments from the same log: each holds
		// what it runs with a lease, and takes over a dead one's.
		rc.Leases, rc.LeaseTTL = d.state.pg, cfg.LeaseTTL
		rc.BeforeDial = d.state.pullKnownHosts
	}
	r, err := runner.New(rc)
	if err != nil {
		d.Close()
		return nil, err
	}
	d.Runner = r
	if d.state != nil {
		d.startLeadingOutbox(runCtx, d.state.pg, outbox.Config{CheckpointStore: outboxState{d.state.st}}, cfg.Logger)
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.keepFresh(runCtx)
		}()
	} else {
		d.startOutbox(runCtx, outbox.Config{Checkpoint: data.OutboxCheckpointPath()}, cfg.Logger)
	}
	if cfg.NoRunner {
		return d, nil
	}
	// The runner replays the log and recovers interrupted deployments in
	// the background: the API is ready as soon as the read models are, and
	// deployments asked for meanwhile wait in the queue.
	d.wg.Add(3)
	go func() {
		defer d.wg.Done()
		if err := r.Start(runCtx); err != nil && runCtx.Err() == nil {
			cfg.Logger.WithError(err).Error("the runner did not start: deployments stay queued")
		}
	}()
	go func() {
		defer d.wg.Done()
		d.watchLog(runCtx)
	}()
	go func() {
		defer d.wg.Done()
		d.scheduleDrift(runCtx)
	}()
	return d, nil
}

// startSet loads the checkpoint (nil: none) when it matches the log,
// else rebuilds.
func startSet(ctx context.Context, store events.Reader, checkpoint io.Reader) (*projections.Set, projections.Started, error) {
	return projections.Start(ctx, store, checkpoint)
}

// Problem says why the desk refuses writes now, or nil: it was opened
// read-only (an archive, a damaged store), or its log refuses appends since
// (damage found by the background verification, a data disk too full).
func (d *Desk) Problem() error {
	if d.ReadOnly != nil {
		return d.ReadOnly
	}
	if p, ok := d.Log.(interface{ Problem() error }); ok {
		return p.Problem()
	}
	return nil
}

// Writable returns why the desk refuses writes (an *UnavailableError), or
// nil.
func (d *Desk) Writable() error {
	p := d.Problem()
	switch {
	case p == nil:
		return nil
	case errors.Is(p, events.ErrDiskFull):
		return &UnavailableError{Code: "disk_full", Message: ProblemText(p)}
	}
	return &UnavailableError{Code: "read_only", Message: ProblemText(p)}
}

// Archive tells whether the desk serves an archive (offline review).
func (d *Desk) Archive() bool { return d.archive != "" }

// Close stops the runner (running deployments are left to recovery),
// saves a checkpoint of the read models and closes the log.
func (d *Desk) Close() {
	d.closeOnce.Do(func() {
		// Stop the background work first (the runner's start-up may still
		// be replaying), then the runner and its deployments.
		if d.stop != nil {
			d.stop()
		}
		d.wg.Wait()
		if d.Runner != nil {
			_ = d.Runner.Close()
		}
		if d.ReadOnly == nil && d.Set != nil && d.Set.Position() > 0 {
			var err error
			switch {
			case d.state != nil:
				err = d.state.saveCheckpoint(d.Set)
			case d.checkpoint != "":
				err = d.Set.SaveCheckpointFile(d.checkpoint)
			}
			if err != nil {
				d.Logger.WithError(err).Warn("saving the read models' checkpoint")
			}
		}
		_ = d.Log.Close()
	})
}

// NowUTC is the desk's clock, in UTC.
func (d *Desk) NowUTC() time.Time { return d.Now().UTC() }
