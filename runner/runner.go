package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"releasedesk/events"
	"releasedesk/events/catalog"
	"releasedesk/events/text"
)

// Log is what the runner needs of the event log. It is declared here, at
// the consumer; *events.Store and *events.MemStore satisfy it.
type Log interface {
	Append(ctx context.Context, stream string, expectedVersion int64, evs ...events.Event) ([]events.Envelope, error)
	ReadStream(ctx context.Context, stream string, fromVersion uint64) ([]events.Envelope, error)
	StreamHead(ctx context.Context, stream string) (events.StreamHead, error)
	ReadAll(ctx context.Context, fromPosition uint64, fn func(events.Envelope) error) error
	Subscribe(ctx context.Context, fromPosition uint64) *events.Subscription
}

// Config configures a Runner. Log and Workspace are required.
type Config struct {
	Log            Log
	Workspace      Workspace
	KnownHostsPath string // the app's known_hosts: strict host key checking
	// BeforeDial, when set, runs before each SSH connection: a server on
	// PostgreSQL writes the database's known_hosts to KnownHostsPath, so
	// a key an admin trusted on another instance a moment ago is known.
	BeforeDial func(ctx context.Context) error
	// Name is the runner's identity in deploy.started; default hostname:pid.
	Name   string
	Now    func() time.Time // REVISION and lock times; default time.Now
	Logger logrus.FieldLogger
	// OutputInterval: at most one step.output per step per interval (250 ms).
	OutputInterval time.Duration
	// OutputChunk: at most this many bytes per step.output (64 KiB).
	OutputChunk int
	// OutputCap: per step (1 MiB); beyond it a visible marker
	// "[output truncated: N bytes dropped]" with Truncated set.
	OutputCap int
	// SSHTimeout bounds connect + handshake (10 s).
	SSHTimeout time.Duration
	// StepTimeout bounds any one remote step (10 min), so that a hung
	// host is reported, not waited on forever.
	StepTimeout time.Duration
	// Leases, set when other runners share the log (instances of a server
	// on PostgreSQL), hold each deployment run here (lease.go); nil: this
	// process alone runs the log's deployments.
	Leases Leases
	// LeaseTTL is how long a lease lasts unrenewed (DefaultLeaseTTL).
	LeaseTTL time.Duration
	// Transfer chooses how files reach a host (transfer_path.go): auto
	// (the default: rsync where this machine has it and it can link
	// against an earlier release, else the Go-native tar stream), rsync
	// or tar.
	Transfer Transfer
	// IdleConnTimeout is how long a host's connection is kept open after
	// its deployment, for the next one to start without a handshake
	// (connpool.go; DefaultIdleConnTimeout). Negative: none is kept.
	IdleConnTimeout time.Duration
}

// Defaults of Config.
const (
	DefaultStepTimeout = 10 * time.Minute
	// cleanupTimeout bounds the clean-up of one host at the end of its
	// work or after a cancel or a failure (connecting again, staging
	// removal, switching back, unlocking): it runs on a fresh context
	// since the deployment's own may have ended.
	cleanupTimeout = time.Minute
)

// actorRunner is the actor of the events the runner writes on its own.
const actorRunner = "runner"

// Errors of the runner. Callers test them with errors.Is.
var (
	// ErrClaimed: another runner (or an earlier call) already claimed the deployment.
	ErrClaimed = errors.New("runner: deployment already claimed")
	// ErrNotFound: no deploy.requested for that id.
	ErrNotFound = errors.New("runner: no such deployment")
	// ErrInvalidRequest: Request refused a deployment before writing anything.
	ErrInvalidRequest = errors.New("runner: invalid deployment request")
	// ErrNotResumable: Resume of a deployment that did not fail or was not interrupted.
	ErrNotResumable = text.Errorf("runner: deployment cannot be resumed")
	// ErrFinished: the deployment already ended.
	ErrFinished = text.Errorf("runner: deployment already finished")
	// ErrClosed: the runner was closed.
	ErrClosed = errors.New("runner: closed")
)

// errCancelRequested is the cancel cause of a deployment's context when a
// user cancelled it (as opposed to the runner shutting down).
var errCancelRequested = errors.New("runner: cancel requested")

// errCannotRecord ends a deployment whose events the log refused (a full
// disk, a damaged store): the runner never changes a host it cannot record
// changing, so the deployment stops and is left to recovery.
var errCannotRecord = errors.New("runner: the event log refused an event")

// Runner executes deployments and reports them as events.
type Runner struct {
	cfg    Config
	log    Log
	logger logrus.FieldLogger
	now    func() time.Time
	st     *state

	tarWhy    string     // why files go as tar streams where rsync would run ("": rsync)
	pool      *connPool  // hosts' connections idle after their deployment
	catchMu   sync.Mutex // one catchUp at a time
	recoverMu sync.Mutex // one Recover at a time (Start's, watchLeases')

	mu       sync.Mutex
	running  map[string]context.CancelCauseFunc // deployments running here
	queues   map[string]*envQueue               // Start's per-environment queues
	enqueued map[string]bool                    // ids ever queued by Start
	exports  map[string]*exportRef              // shared exported trees
	kept     map[string]*keptExport             // per project: the export its last deployment left
	closed   bool
	started  bool
	stop     context.CancelFunc // ends Start's loop and its deployments
	base     context.Context
	wg       sync.WaitGroup // Start's goroutines and the deployments they run
	runWG    sync.WaitGroup // every Run/Resume, for Close
}

// New checks cfg and returns a runner. It starts nothing: call Start, or
// Run for one deployment.
func New(cfg Config) (*Runner, error) {
	if cfg.Log == nil {
		return nil, errors.New("runner: Config.Log is required")
	}
	if err := cfg.Workspace.validate(); err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	if cfg.Name == "" {
		host, _ := os.Hostname()
		cfg.Name = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		cfg.Logger = l
	}
	if cfg.OutputInterval <= 0 {
		cfg.OutputInterval = DefaultOutputInterval
	}
	if cfg.OutputChunk <= 0 {
		cfg.OutputChunk = DefaultOutputChunk
	}
	if cfg.OutputCap <= 0 {
		cfg.OutputCap = DefaultOutputCap
	}
	if cfg.SSHTimeout <= 0 {
		cfg.SSHTimeout = DefaultSSHTimeout
	}
	if cfg.StepTimeout <= 0 {
		cfg.StepTimeout = DefaultStepTimeout
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.IdleConnTimeout == 0 {
		cfg.IdleConnTimeout = DefaultIdleConnTimeout
	}
	if _, err := ParseTransfer(string(cfg.Transfer)); err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	base, stop := context.WithCancel(context.Background())
	return &Runner{
		cfg: cfg, log: cfg.Log, now: cfg.Now, tarWhy: tarReason(cfg.Transfer, defaultLookPath),
		logger:  cfg.Logger.WithField("component", "runner"),
		st:      newState(),
		running: map[string]context.CancelCauseFunc{},
		queues:  map[string]*envQueue{}, enqueued: map[string]bool{},
		exports: map[string]*exportRef{}, kept: map[string]*keptExport{},
		base: base, stop: stop, pool: &connPool{timeout: cfg.IdleConnTimeout},
	}, nil
}

// catchUp folds every event the state has not seen yet. Each public method
// that reads the state calls it first, so the state is current whether or
// not Start is following the log.
func (r *Runner) catchUp(ctx context.Context) error {
	r.catchMu.Lock()
	defer r.catchMu.Unlock()
	return r.log.ReadAll(ctx, r.st.position()+1, func(e events.Envelope) error {
		r.st.apply(e)
		return nil
	})
}

// Start replays the log into the runner's state, recovers deployments a
// previous process left unfinished (Recover), then follows the log: every
// deploy.requested not yet started is claimed and run. Deployments of one
// project and environment run one at a time in request order; different
// environments run in parallel. It returns once following has begun; Close
// stops it.
func (r *Runner) Start(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	if r.started {
		r.mu.Unlock()
		return errors.New("runner: already started")
	}
	r.started = true
	r.mu.Unlock()
	if err := r.catchUp(ctx); err != nil {
		return fmt.Errorf("runner: replay: %w", err)
	}
	if err := r.Recover(ctx); err != nil {
		return err
	}
	// Follow from here; queue what was requested before. (Other calls may
	// fold the log meanwhile: a request is queued once, whoever sees it.)
	from := r.st.position() + 1
	sub := r.log.Subscribe(r.base, from)
	for _, id := range r.st.queued() {
		r.enqueue(id)
	}
	r.wg.Add(1)
	go r.follow(sub)
	if r.cfg.Leases != nil {
		r.wg.Add(1)
		go r.watchLeases(r.base)
	}
	r.logger.WithFields(logrus.Fields{"runner": r.cfg.Name, "position": from - 1}).Info("runner started")
	return nil
}

// follow applies each new event and reacts to the ones that concern the
// runner: a new request is queued, a cancel request reaches a deployment
// running here (it may have been written by another process).
func (r *Runner) follow(sub *events.Subscription) {
	defer r.wg.Done()
	for e := range sub.C {
		// apply may find e already folded by a catchUp: react anyway, the
		// subscription delivers each event once.
		r.st.apply(e)
		switch e.Type {
		case catalog.TypeDeployRequested:
			r.enqueue(catalog.StreamID(e.Stream, catalog.DeployPrefix))
		case catalog.TypeDeployCancelRequested:
			r.cancelLocal(catalog.StreamID(e.Stream, catalog.DeployPrefix))
		}
	}
	if err := sub.Err(); err != nil && !errors.Is(err, context.Canceled) {
		r.logger.WithError(err).Error("runner stopped following the log")
	}
}

// envQueue runs one environment's deployments one after the other.
type envQueue struct {
	ids     []string
	working bool
}

// enqueue adds a requested deployment to its environment's queue and makes
// sure a worker drains it.
func (r *Runner) enqueue(id string) {
	d, ok := r.st.deploy(id)
	if !ok || d.Started {
		return
	}
	key := d.Request.Project.ID + "/" + d.Request.Environment
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.enqueued[id] {
		return
	}
	r.enqueued[id] = true
	q := r.queues[key]
	if q == nil {
		q = &envQueue{}
		r.queues[key] = q
	}
	q.ids = append(q.ids, id)
	if q.working {
		return
	}
	q.working = true
	r.wg.Add(1)
	go r.drain(q)
}

func (r *Runner) drain(q *envQueue) {
	defer r.wg.Done()
	for {
		r.mu.Lock()
		if len(q.ids) == 0 || r.closed {
			q.working = false
			r.mu.Unlock()
			return
		}
		id := q.ids[0]
		q.ids = q.ids[1:]
		r.mu.Unlock()
		err := r.Run(r.base, id)
		switch {
		case err == nil, errors.Is(err, ErrClaimed):
		case r.base.Err() != nil:
			return
		default:
			r.logger.WithField("deploy", id).WithError(err).Error("deployment ended with an error")
		}
	}
}

// Close stops following the log and ends the deployments running here
// without a terminal event: their steps are killed and they are left to
// the next start's recovery (deploy.interrupted). It waits for them.
func (r *Runner) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	r.stop()
	r.wg.Wait()
	r.runWG.Wait()
	r.pool.close()
	return nil
}

// register records a deployment running here; it fails if the runner is
// closed or already runs it.
func (r *Runner) register(id string, cancel context.CancelCauseFunc) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	if r.running[id] != nil {
		return ErrClaimed
	}
	r.running[id] = cancel
	r.runWG.Add(1)
	return nil
}

func (r *Runner) unregister(id string) {
	r.mu.Lock()
	delete(r.running, id)
	r.mu.Unlock()
	r.runWG.Done()
}

// cancelLocal cancels a deployment if it runs in this process.
func (r *Runner) cancelLocal(id string) bool {
	r.mu.Lock()
	cancel := r.running[id]
	r.mu.Unlock()
	if cancel != nil {
		cancel(errCancelRequested)
	}
	return cancel != nil
}

// isRunningHere tells whether this process runs the deployment.
func (r *Runner) isRunningHere(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.running[id] != nil
}

// Run claims deployment id and executes it synchronously to its terminal
// event. Claiming is an append of deploy.started at the version the stream
// had when read (1 for a fresh request): of two runners racing for one
// deployment, one gets events.ErrConcurrency and returns ErrClaimed without
// doing anything. If ctx ends (or the runner closes) the deployment stops
// without a terminal event and is left to recovery; Cancel ends it in
// deploy.cancelled.
func (r *Runner) Run(ctx context.Context, id string) error {
	envs, err := r.log.ReadStream(ctx, catalog.DeployStream(id), 1)
	if err != nil {
		return err
	}
	req, actor, err := requestOf(id, envs)
	if err != nil {
		return err
	}
	for _, e := range envs {
		if e.Type == catalog.TypeDeployStarted {
			return fmt.Errorf("%w: %s", ErrClaimed, id)
		}
	}
	return r.execute(ctx, req, actor, nil, nil, envs, func(ctx context.Context) (uint64, error) {
		e, err := catalog.NewEvent(catalog.TypeDeployStarted, actorRunner, catalog.Started{Deployment: id, Runner: r.cfg.Name})
		if err != nil {
			return 0, err
		}
		e.CorrelationID = id
		out, err := r.log.Append(ctx, catalog.DeployStream(id), int64(len(envs)), e)
		if err != nil {
			return 0, err
		}
		return out[0].Version, nil
	})
}

// requestOf decodes the deploy.requested that opens a deployment stream.
func requestOf(id string, envs []events.Envelope) (catalog.Request, string, error) {
	if len(envs) == 0 || envs[0].Type != catalog.TypeDeployRequested {
		return catalog.Request{}, "", fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	var req catalog.Request
	if err := envs[0].Decode(&req); err != nil {
		return catalog.Request{}, "", err
	}
	return req, envs[0].Actor, nil
}

// execute claims (with the claim function: deploy.started or
// deploy.resumed at an expected version) and runs one run of a deployment
// over hosts (nil: the request's). It is registered for Cancel and Close
// before the claim, so a cancel request written right after the claim is
// never missed.
func (r *Runner) execute(ctx context.Context, req catalog.Request, actor string, hosts, skipped []string, prior []events.Envelope,
	claim func(context.Context) (uint64, error)) error {
	id := req.Deployment
	dctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(r.base, func() { cancel(ErrClosed) })
	defer stop()
	if err := r.register(id, cancel); err != nil {
		return fmt.Errorf("%w: %s", err, id)
	}
	defer r.unregister(id)
	// The lease first: a runner that dies between the claim and the lease
	// would leave a deployment nobody holds and everybody may take over.
	leased, err := r.takeLease(ctx, id)
	if err != nil {
		return err
	}
	if !leased {
		return fmt.Errorf("%w: %s", ErrClaimed, id)
	}
	hold, stopHolding := context.WithCancel(dctx)
	go r.holdLease(hold, id, func() { cancel(errLeaseLost) })
	defer func() {
		stopHolding() // first: a renewal after the release would read as the lease lost
		r.releaseLease(id)
	}()

	claimed, err := claim(ctx)
	if errors.Is(err, events.ErrConcurrency) {
		return fmt.Errorf("%w: %s", ErrClaimed, id)
	}
	if err != nil {
		return err
	}
	// A cancel requested before the claim (the deployment was queued) or
	// between it and the registration above.
	if later, err := r.log.ReadStream(ctx, catalog.DeployStream(id), 1); err == nil {
		for _, e := range later {
			if e.Type == catalog.TypeDeployCancelRequested && (e.Version > claimed || !hasRunBefore(later, e.Version)) {
				cancel(errCancelRequested)
			}
		}
	}
	// Submit validated the request, but the log may hold one that did not
	// pass through it (an older version, another writer): check again, so
	// that nothing unchecked ever reaches a host.
	var d *deployment
	if err = validateRequest(req); err != nil {
		err = fmt.Errorf("%w: %v", ErrInvalidRequest, err)
	} else {
		d, err = r.newDeployment(dctx, req, actor, hosts, prior)
	}
	if err != nil {
		// The request cannot run at all (an unreadable secret, say): it
		// fails before touching anything, and says why.
		fin := catalog.Finished{Deployment: id, Project: req.Project.ID, Environment: req.Environment, Version: req.Version,
			Commit: req.Commit, Kind: req.Kind, Error: err.Error()}
		if d != nil {
			fin.Error = d.red.String(fin.Error)
		}
		ev, _ := catalog.NewEvent(catalog.TypeDeployFailed, actorRunner, fin)
		ev.CorrelationID = id
		_, aerr := r.log.Append(context.WithoutCancel(ctx), catalog.DeployStream(id), events.AnyVersion, ev)
		return errors.Join(err, aerr)
	}
	d.skipped = skipped
	d.abort = cancel
	if d.execute() == "" {
		return fmt.Errorf("runner: deployment %s stopped, left to recovery: %w", id, context.Cause(dctx))
	}
	return nil
}

// hasRunBefore tells whether a deploy.started or deploy.resumed comes
// before stream version v: a cancel request written during an earlier run
// does not cancel this one.
func hasRunBefore(envs []events.Envelope, v uint64) bool {
	for _, e := range envs {
		if e.Version < v && (e.Type == catalog.TypeDeployStarted || e.Type == catalog.TypeDeployResumed) {
			return true
		}
	}
	return false
}

// foldDeploy folds one deployment's stream.
func foldDeploy(envs []events.Envelope) (*deployState, bool) {
	st := newState()
	for _, e := range envs {
		st.apply(e)
	}
	if len(envs) == 0 {
		return nil, false
	}
	d, ok := st.deploys[catalog.StreamID(envs[0].Stream, catalog.DeployPrefix)]
	return d, ok
}

// Wait returns the deployment's terminal event type (deploy.succeeded,
// failed, cancelled or interrupted) once its current run has one, waiting
// for it by subscription.
func (r *Runner) Wait(ctx context.Context, id string) (string, error) {
	stream := catalog.DeployStream(id)
	envs, err := r.log.ReadStream(ctx, stream, 1)
	if err != nil {
		return "", err
	}
	if _, _, err := requestOf(id, envs); err != nil {
		return "", err
	}
	last, running := "", true
	note := func(e events.Envelope) {
		switch {
		case e.Type == catalog.TypeDeployStarted || e.Type == catalog.TypeDeployResumed:
			last, running = "", true
		case isTerminal(e.Type):
			last, running = e.Type, false
		}
	}
	for _, e := range envs {
		note(e)
	}
	if !running {
		return last, nil
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sub := r.log.Subscribe(sctx, envs[len(envs)-1].Position+1)
	for e := range sub.C {
		if e.Stream != stream {
			continue
		}
		note(e)
		if !running {
			return last, nil
		}
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("wait for %s: %w", id, sub.Err())
}

// Cancel asks for a deployment to end: deploy.cancel_requested (by actor,
// with reason), then, if it runs in this process, its context is cancelled
// with that cause. Running steps are killed, staging is removed, hosts it
// switched are switched back, locks are released, and it ends in
// deploy.cancelled. A queued deployment ends cancelled when claimed.
func (r *Runner) Cancel(ctx context.Context, id, actor, reason string) error {
	stream := catalog.DeployStream(id)
	envs, err := r.log.ReadStream(ctx, stream, 1)
	if err != nil {
		return err
	}
	if _, _, err := requestOf(id, envs); err != nil {
		return err
	}
	if ds, ok := foldDeploy(envs); ok && !ds.Running && ds.Terminal != "" {
		return text.Errorf("%w: %s is %s", ErrFinished, id, ds.State())
	}
	e, err := catalog.NewEvent(catalog.TypeDeployCancelRequested, actor, catalog.CancelRequested{Deployment: id, Reason: reason})
	if err != nil {
		return err
	}
	e.CorrelationID = id
	if _, err := r.log.Append(ctx, stream, events.AnyVersion, e); err != nil {
		return err
	}
	r.cancelLocal(id)
	return nil
}
