package runner

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"releasedesk/events"
	"releasedesk/events/catalog"
	"releasedesk/events/text"
)

// deployIDRe is what a deployment id may be: it names a stream, a host
// lock's holder and a line of REVISION.
var deployIDRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// envNameIDRe is what the environment a request names may be called
// (validateRequest; CheckEnvVarName is for the names of hook variables):
// the name ends the environment's lock stream (lock/<project>/<env>,
// LockStream), keys the runner's queue of that environment, and travels to
// hooks in RELEASEDESK_ENVIRONMENT. It is the runner's own rule, wider
// than the names a configuration may give (app/projectconfig: lower-case
// letters, digits and '-', at most 32), each of which it takes.
var envNameIDRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// Submit validates req and appends deploy.requested to deploy/<id>, which
// must not exist yet (NoStream): the queue entry a runner claims. (It
// cannot be called Request: that is the payload's type.) Nothing
// is written when it is refused; the error wraps ErrInvalidRequest and
// says what is wrong. Only validated values (ids, a 40-hex SHA, a version
// id, absolute paths) ever reach a host; titles, notes and branch names are
// not part of a request at all.
func Submit(ctx context.Context, log Log, req catalog.Request, actor string) error {
	if req.Kind == "" {
		req.Kind = catalog.KindDeploy
	}
	if err := validateRequest(req); err != nil {
		return &requestError{err}
	}
	e, err := catalog.NewEvent(catalog.TypeDeployRequested, actor, req)
	if err != nil {
		return err
	}
	e.CorrelationID = req.Deployment
	if _, err := log.Append(ctx, catalog.DeployStream(req.Deployment), events.NoStream, e); err != nil {
		if errors.Is(err, events.ErrConcurrency) {
			return &requestError{text.Errorf("deployment %s already exists", req.Deployment)}
		}
		return err
	}
	return nil
}

// requestError is Submit's refusal of a request: it matches
// ErrInvalidRequest and reads "runner: invalid deployment request: " and
// the problem (which it does not wrap, as the "%v" it replaced did not).
type requestError struct{ problem error }

func (e *requestError) Error() string        { return ErrInvalidRequest.Error() + ": " + e.problem.Error() }
func (e *requestError) Is(target error) bool { return target == ErrInvalidRequest }

// RequestProblem is what is wrong with a request Submit refused, without
// the sentence that says it was refused, in every language; any other
// error is its own words.
func RequestProblem(err error) text.Text {
	var re *requestError
	if errors.As(err, &re) {
		return text.Of(re.problem)
	}
	return text.Of(err)
}

// validateRequest checks everything of a request that will reach a shell,
// a host or a path. The project's rules are those of rules.go, the ones
// the app's validation applies to a whole configuration; a refusal names
// the field as the app does, under "project.".
func validateRequest(req catalog.Request) error {
	if !deployIDRe.MatchString(req.Deployment) {
		return text.Errorf("deployment id %q: want [A-Za-z0-9][A-Za-z0-9._-]{0,127}", req.Deployment)
	}
	if req.Kind != catalog.KindDeploy && req.Kind != catalog.KindRollback {
		return text.Errorf("kind %q: want deploy or rollback", req.Kind)
	}
	if err := ValidateCommit(req.Commit); err != nil {
		return err
	}
	if err := ValidateVersion(req.Version); err != nil {
		return err
	}
	if req.Version[15:] != req.Commit[:7] {
		return text.Errorf("version %s does not name commit %s", req.Version, req.Commit)
	}
	p := req.Project
	if err := ValidateProjectID(p.ID); err != nil {
		return err
	}
	if err := CheckStrategy(p.Strategy); err != nil {
		return projectField("strategy", err)
	}
	if err := CheckRepo(p.Repo); err != nil {
		return projectField("repo", err)
	}
	if p.Strategy == catalog.StrategyGit {
		// The git strategy hands the address to each host's git.
		if err := ValidateRepoURL(p.Repo); err != nil {
			return err
		}
	}
	if p.KeepReleases < 0 {
		// Any other count is honoured (see CheckKeepReleases).
		return projectField("keep_releases", CheckKeepReleases(p.KeepReleases))
	}
	for _, f := range p.VersionFiles {
		if err := ValidateRelPath(f); err != nil {
			return text.Errorf("version file: %w", err)
		}
	}
	for i, s := range p.Shared {
		if _, err := CheckSharedPath(s); err != nil {
			return projectField(indexPath("shared", i), err)
		}
	}
	for i, x := range p.Exclude {
		if err := CheckExclude(x); err != nil {
			return projectField(indexPath("exclude", i), err)
		}
	}
	if err := CheckGitBuild(p.Strategy, p.Build); err != nil {
		return projectField("build", err)
	}
	for i, v := range p.Env {
		if err := CheckEnvVarName(v.Name); err != nil {
			return projectField(indexPath("env", i)+".name", err)
		}
		if err := CheckSecretValue(v); err != nil {
			return projectField(indexPath("env", i)+".value", err)
		}
	}
	if !envNameIDRe.MatchString(req.Environment) {
		return text.Errorf("environment %q: want [A-Za-z0-9][A-Za-z0-9._-]{0,62}", req.Environment)
	}
	ei := slices.IndexFunc(p.Environments, func(e catalog.Environment) bool { return e.Name == req.Environment })
	if ei < 0 {
		return text.Errorf("environment %q: not in project %s", req.Environment, p.ID)
	}
	env, envPath := p.Environments[ei], indexPath("environments", ei)
	if err := CheckOnFailure(env.OnFailure); err != nil {
		return projectField(envPath+".on_failure", err)
	}
	if err := CheckHostsRequired(p.Strategy, env.Hosts); err != nil {
		return projectField(envPath+".hosts", err)
	}
	if err := CheckDriftCheck(time.Duration(env.DriftCheck)); err != nil {
		return projectField(envPath+".drift_check", err)
	}
	known, keys := map[string]bool{}, map[string]int{}
	for j, h := range p.Targets(env) {
		if p.Strategy != catalog.StrategyLocal {
			hostPath := indexPath(envPath+".hosts", j)
			key, err := HostKey(h.Addr)
			if err != nil {
				return projectField(hostPath, err)
			}
			if k, err := CheckHostOnce(keys, key, j); err != nil {
				return projectField(hostPath, text.Errorf("%w (also %s.hosts[%d])", err, envPath, k))
			}
		}
		known[h.Addr] = true
		if err := ValidatePath(h.Path); err != nil {
			return text.Errorf("host %s path: %w", h.Addr, err)
		}
	}
	if p.Strategy != catalog.StrategyLocal && env.SSHKey == "" {
		return text.Errorf("environment %s: ssh_key is required for the %s strategy", env.Name, p.Strategy)
	}
	for _, h := range req.Hosts {
		if !known[h] {
			return text.Errorf("host %q is not a host of environment %s", h, env.Name)
		}
	}
	return nil
}

// projectField names the field of the request's project a rule refused,
// as the app names it in a configuration: "project.env[2].name: reason".
func projectField(path string, err error) error {
	return text.Errorf("project.%s: %w", path, err)
}

func indexPath(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// deployment is one run of a deployment: its first run, or a resume.
type deployment struct {
	r         *Runner
	id        string
	req       catalog.Request
	p         catalog.Project
	env       catalog.Environment
	actor     string         // who asked for it: REVISION's who, the locks' holder
	hosts     []catalog.Host // the hosts this run works on
	skipped   []string       // hosts a resume found already done (deploy.planned)
	ctx       context.Context
	logger    logrus.FieldLogger
	red       *redactor
	envVars   []string // the project's env, resolved
	envPlain  []string // envVars but the secret ones: may travel in argv
	envHidden []string // the secret ones: only ever out of band (RunEnv)
	start     time.Time

	mu       sync.Mutex
	stepSeen map[string]int
	results  map[string]*hostRun
	halted   bool         // a failure under the halt policy: start nothing new
	conns    atomic.Int32 // SSH connections of this run open now (open, closeHost)
	export   *exportRef
	exported bool                  // export holds a tree for this run
	privDir  string                // private files of the run (privateDir)
	deltas   map[string]*deltaFrom // by previous version (deltaPlan)
	// abort ends the deployment's context with a cause; emit uses it when
	// the log refuses an event.
	abort context.CancelCauseFunc
}

// newDeployment prepares a run of req over hosts (all targets when nil).
func (r *Runner) newDeployment(ctx context.Context, req catalog.Request, actor string, hosts []string, prior []events.Envelope) (*deployment, error) {
	env, ok := req.Project.Environment(req.Environment)
	if !ok {
		return nil, fmt.Errorf("environment %q: not in project %s", req.Environment, req.Project.ID)
	}
	d := &deployment{
		r: r, id: req.Deployment, req: req, p: req.Project, env: env, actor: actor,
		ctx: ctx, start: time.Now(), stepSeen: map[string]int{}, results: map[string]*hostRun{},
		logger: r.logger.WithFields(logrus.Fields{"deploy": req.Deployment, "project": req.Project.ID, "env": req.Environment}),
	}
	// hosts nil: the request's hosts (all when it names none); a resume
	// names exactly the hosts it redoes, possibly none.
	for _, h := range req.Project.Targets(env) {
		switch {
		case hosts != nil && !slices.Contains(hosts, h.Addr):
		case hosts == nil && len(req.Hosts) > 0 && !slices.Contains(req.Hosts, h.Addr):
		default:
			d.hosts = append(d.hosts, h)
		}
	}
	// Step ids stay unique across runs of the same deployment.
	for _, e := range prior {
		if e.Type == catalog.TypeStepStarted {
			var s catalog.StepStarted
			if e.Decode(&s) == nil {
				base := s.Name
				if s.Host != "" {
					base = s.Host + ":" + s.Name
				}
				d.stepSeen[base]++
			}
		}
	}
	renv, err := resolveEnv(req.Project.Env)
	d.red = newRedactor(renv.Secrets)
	if err != nil {
		return d, err
	}
	d.envVars, d.envPlain, d.envHidden = renv.Pairs, renv.plain(), renv.Hidden
	return d, nil
}

// emit appends one event to the deployment's stream. It never uses the
// deployment's context: what happened is recorded even while cancelling.
func (d *deployment) emit(typ string, data any) error {
	e, err := catalog.NewEvent(typ, actorRunner, data)
	if err != nil {
		d.logger.WithError(err).WithField("type", typ).Error("event not encodable")
		return err
	}
	e.CorrelationID = d.id
	if _, err := d.r.log.Append(context.WithoutCancel(d.ctx), catalog.DeployStream(d.id), events.AnyVersion, e); err != nil {
		d.logger.WithError(err).WithField("type", typ).Error("event not recorded")
		if d.abort != nil {
			d.abort(fmt.Errorf("%w: %s: %w", errCannotRecord, typ, err))
		}
		return err
	}
	return nil
}

// cancelled tells whether a user cancelled the deployment.
func (d *deployment) cancelled() bool {
	return d.ctx.Err() != nil && errors.Is(context.Cause(d.ctx), errCancelRequested)
}

// shutdown tells whether the deployment's context ended for another reason
// than a cancel request: the runner is closing, and the deployment is left
// to recovery.
func (d *deployment) shutdown() bool {
	return d.ctx.Err() != nil && !errors.Is(context.Cause(d.ctx), errCancelRequested)
}

// stopping tells whether no further host may be started.
func (d *deployment) stopping() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.halted || d.ctx.Err() != nil
}

func (d *deployment) halt() {
	if d.policy() == catalog.OnFailureHalt {
		d.mu.Lock()
		d.halted = true
		d.mu.Unlock()
	}
}

func (d *deployment) policy() string {
	if d.env.OnFailure == catalog.OnFailureContinue {
		return catalog.OnFailureContinue
	}
	return catalog.OnFailureHalt
}

// execute runs the deployment to its end and returns the terminal event
// type it wrote ("" when it was left to recovery by a shutdown). The
// environment lock is released on every path out, a panic included.
func (d *deployment) execute() (terminal string) {
	fin := catalog.Finished{Deployment: d.id, Project: d.p.ID, Environment: d.env.Name, Version: d.req.Version,
		Commit: d.req.Commit, Kind: d.req.Kind}
	var lock *logLock
	defer func() {
		p := recover()
		if p != nil {
			d.logger.WithField("panic", fmt.Sprint(p)).WithField("stack", string(debug.Stack())).Error("deployment panicked")
			fin.Error = fmt.Sprintf("runner panic: %v", p)
			terminal = catalog.TypeDeployFailed
			d.cleanup(true)
		}
		d.closeHosts()
		d.releaseExport()
		if d.shutdown() && p == nil {
			// Whatever failed failed because the runner is closing: left
			// to recovery, which reads the hosts and releases the lock.
			terminal = ""
			return
		}
		if lock != nil {
			if err := lock.release(d.ctx, terminalReason(terminal)); err != nil {
				d.logger.WithError(err).Error("environment lock not released")
			}
		}
		fin.DurationMS = time.Since(d.start).Milliseconds()
		fin.Error = d.red.String(fin.Error)
		d.fillHosts(&fin)
		_ = d.emit(terminal, fin)
		d.logger.WithFields(logrus.Fields{"result": terminal, "switched": len(fin.Switched), "failed": len(fin.Failed)}).Info("deployment finished")
	}()

	if d.cancelled() {
		return catalog.TypeDeployCancelled
	}
	var err error
	lock, err = d.r.acquireLock(d.ctx, d.p, d.env.Name, d.id, d.actor)
	if err != nil {
		if d.cancelled() {
			return catalog.TypeDeployCancelled
		}
		fin.Error = "environment lock: " + err.Error()
		return catalog.TypeDeployFailed
	}
	d.logger.Info("deployment running")
	// Connections an earlier deployment left idle fit this one's
	// `parallel` before it plans, and so before it connects anywhere
	// (connpool.go).
	d.r.pool.trim(effectiveParallel(d.env.Parallel))

	planned := catalog.Planned{Deployment: d.id, Project: d.p.ID, Environment: d.env.Name, Version: d.req.Version,
		Commit: d.req.Commit, Kind: d.req.Kind, Parallel: effectiveParallel(d.env.Parallel),
		OnFailure: d.policy(), Skipped: d.skipped, Batches: batchAddrs(planBatches(d.hosts, d.env.Batch))}
	if d.req.Kind == catalog.KindDeploy && len(d.hosts) > 0 {
		m, err := d.ensureExport()
		if err != nil {
			if d.cancelled() {
				return catalog.TypeDeployCancelled
			}
			fin.Error = err.Error()
			return catalog.TypeDeployFailed
		}
		planned.ManifestHash, planned.Files, planned.Bytes = m.Hash, m.Files, m.Bytes
	}
	_ = d.emit(catalog.TypeDeployPlanned, planned)

	for _, batch := range planBatches(d.hosts, d.env.Batch) {
		if d.stopping() {
			break
		}
		d.runBatch(batch)
	}
	d.cleanup(false)

	switch {
	case d.cancelled():
		fin.Error = "cancelled"
		return catalog.TypeDeployCancelled
	case d.shutdown():
		return ""
	case d.anyFailed():
		fin.Error = fmt.Sprintf("%d host(s) failed", len(d.failedHosts()))
		return catalog.TypeDeployFailed
	}
	if err := d.postDeploy(); err != nil {
		fin.Error = err.Error()
		return catalog.TypeDeployFailed
	}
	return catalog.TypeDeploySucceeded
}

// terminalReason is what lock.released says.
func terminalReason(terminal string) string {
	if terminal == "" {
		return "deployment ended"
	}
	return terminal
}

// fillHosts sets the host lists of a terminal event.
func (d *deployment) fillHosts(fin *catalog.Finished) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, h := range d.hosts {
		hr := d.results[h.Addr]
		if hr == nil {
			continue
		}
		if hr.onVersion() {
			fin.Switched = append(fin.Switched, h.Addr)
		}
		if hr.failed {
			fin.Failed = append(fin.Failed, h.Addr)
		}
		if hr.reverted {
			fin.Reverted = append(fin.Reverted, h.Addr)
		}
	}
}

// runBatch stages every host of the batch, then switches those staged.
// Under the halt policy one failure stops everything: nothing more is
// started, and the batch is not switched. Each host is ended (endHost:
// unlocked, its connection closed) as soon as its own work is done: a
// host that failed or has nothing to switch right after its stage, the
// others after their switch; what a halt or a cancel left open, when the
// batch ends. In a batch larger than `parallel`, a staged host waits for
// the switch parked (its connection closed, its lock kept) and is
// connected to again for it (hostwait.go).
func (d *deployment) runBatch(batch []catalog.Host) {
	defer d.endBatch(batch)
	parallel := effectiveParallel(d.env.Parallel)
	parks := d.parks(batch)
	runBounded(d.ctx, batch, parallel, d.stopping, func(h catalog.Host) {
		d.guard(h, func(hr *hostRun) {
			hr.armable = !parks
			d.stageHost(hr)
			switch {
			case !hr.staged || hr.failed || hr.already:
				d.endHost(hr)
			case parks:
				d.park(hr)
			}
		})
	})
	if d.stopping() {
		return
	}
	var ready []catalog.Host
	var armed []*hostRun
	for _, h := range batch {
		if hr := d.result(h); hr.staged && !hr.failed && !hr.already {
			ready = append(ready, h)
			armed = append(armed, hr)
		}
	}
	d.fire(armed) // the cut-over: every armed host of the batch at once (cutover.go)
	runBounded(d.ctx, ready, parallel, d.stopping, func(h catalog.Host) {
		d.guard(h, func(hr *hostRun) {
			switch {
			case hr.armed != nil:
				d.finishArmed(hr)
			case !hr.parked || d.unpark(hr, len(batch)):
				d.switchHost(hr)
			}
			d.endHost(hr)
		})
	})
}

// guard runs one host's part, turning a panic into that host's failure so
// one bad host cannot take the runner down.
func (d *deployment) guard(h catalog.Host, fn func(*hostRun)) {
	hr := d.result(h)
	defer func() {
		if p := recover(); p != nil {
			d.logger.WithFields(logrus.Fields{"host": h.Addr, "panic": fmt.Sprint(p), "stack": string(debug.Stack())}).Error("host run panicked")
			d.fail(hr, "panic", fmt.Errorf("runner panic: %v", p))
		}
	}()
	fn(hr)
}

// result returns the host's run state, created on first use.
func (d *deployment) result(h catalog.Host) *hostRun {
	d.mu.Lock()
	defer d.mu.Unlock()
	hr := d.results[h.Addr]
	if hr == nil {
		hr = &hostRun{host: h, layout: Layout{Path: h.Path}}
		d.results[h.Addr] = hr
	}
	return hr
}

func (d *deployment) anyFailed() bool { return len(d.failedHosts()) > 0 }

func (d *deployment) failedHosts() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, h := range d.hosts {
		if hr := d.results[h.Addr]; hr != nil && hr.failed {
			out = append(out, h.Addr)
		}
	}
	return out
}

// fail records a host's failure (deploy.host_failed) and, under the halt
// policy, stops the deployment from starting anything new. A step ended by
// a cancel or a shutdown is not the host's failure.
func (d *deployment) fail(hr *hostRun, stepName string, err error) {
	if d.ctx.Err() != nil {
		return
	}
	d.mu.Lock()
	already := hr.failed
	hr.failed = true
	d.mu.Unlock()
	if already {
		return
	}
	msg := d.red.String(err.Error())
	now := hr.previous // what the host runs now
	if hr.switched {
		now = d.req.Version
	}
	_ = d.emit(catalog.TypeHostFailed, catalog.HostEvent{Deployment: d.id, Project: d.p.ID, Environment: d.env.Name,
		Host: hr.host.Addr, Version: now, Previous: hr.previous, Step: stepName, Error: msg})
	d.logger.WithFields(logrus.Fields{"host": hr.host.Addr, "step": stepName}).WithError(errors.New(msg)).Warn("host failed")
	d.halt()
}

// postDeploy runs the post_deploy hook on this machine once every host is
// switched.
func (d *deployment) postDeploy() error {
	if d.p.Hooks.PostDeploy == "" {
		return nil
	}
	dir := d.r.cfg.Workspace.Dir
	if d.exported {
		dir = d.export.dir
	}
	return d.localHook("hook.post_deploy", d.p.Hooks.PostDeploy, dir)
}

// localHook runs a configured script with `sh -c` in dir on this machine.
func (d *deployment) localHook(name, script, dir string) error {
	ex := &LocalExecutor{Dir: dir, Env: d.hookEnv("")}
	_, _, err := d.run(d.ctx, "", name, ex, []string{"sh", "-c", script}, 0)
	return err
}

// hookEnv is the environment of hooks and checks: the project's variables
// and the deployment's own, all validated values. Local hooks get it all
// in their process environment.
func (d *deployment) hookEnv(previous string) []string {
	return append(append([]string(nil), d.envVars...), d.ownEnv(previous)...)
}

// remoteEnv splits the environment of a hook or check on a host: plain
// goes in the command's argv (env(1)), hidden (the secrets) out of band
// with Executor.RunEnv, so no secret is ever in a host's process list.
func (d *deployment) remoteEnv(previous string) (plain, hidden []string) {
	plain = append(append([]string(nil), d.envPlain...), d.ownEnv(previous)...)
	return plain, d.envHidden
}

// ownEnv is the deployment's own variables.
func (d *deployment) ownEnv(previous string) []string {
	env := []string{
		"RELEASEDESK_DEPLOYMENT=" + d.id,
		"RELEASEDESK_PROJECT=" + d.p.ID,
		"RELEASEDESK_ENVIRONMENT=" + d.env.Name,
		"RELEASEDESK_VERSION=" + d.req.Version,
		"RELEASEDESK_COMMIT=" + d.req.Commit,
		"RELEASEDESK_KIND=" + d.req.Kind,
	}
	if previous != "" {
		env = append(env, "RELEASEDESK_PREVIOUS="+previous)
	}
	return env
}

// ensureExport exports the commit into the workspace, runs pre_deploy and
// the build there and lists it, once per deployment run (a rollback only
// calls it when a host lost the release and needs it staged again).
func (d *deployment) ensureExport() (Manifest, error) {
	d.mu.Lock()
	if d.export == nil {
		d.export = d.r.acquireExport(d.p, d.req.Version)
	}
	ref := d.export
	d.mu.Unlock()
	m, err := ref.ensure(d)
	if err == nil {
		d.mu.Lock()
		d.exported = true
		d.mu.Unlock()
	}
	return m, err
}

func (d *deployment) releaseExport() {
	d.mu.Lock()
	ref := d.export
	d.export = nil
	d.mu.Unlock()
	if ref != nil {
		d.r.releaseExport(ref)
	}
}

// exportRef is one exported tree in the workspace, shared by the
// deployments that need the same project version at once (two
// environments). When the last lets it go, a pure export (see
// exportIsPure) is kept as the project's one kept export (Runner.kept),
// anything else removed: the project's next deployment reuses it, as is
// for the same version, or updated in place by the tree diff for another
// (Mirror.Update), instead of writing every file again.
type exportRef struct {
	key  string
	p    catalog.Project
	ver  string
	dir  string
	refs int // guarded by Runner.mu

	mu       sync.Mutex
	done     bool
	err      error  // why making it failed: not tried again by every host
	by       string // the deployment that made it (or tried)
	manifest Manifest
	commit   string // the commit exported
	stamp    string // treeStamp right after the manifest; "" when it may not be kept
}

func (r *Runner) acquireExport(p catalog.Project, version string) *exportRef {
	key := p.ID + "/" + version
	r.mu.Lock()
	defer r.mu.Unlock()
	ref := r.exports[key]
	if ref == nil {
		ref = &exportRef{key: key, p: p, ver: version, dir: r.cfg.Workspace.ExportDir(p.ID, version)}
		r.exports[key] = ref
	}
	ref.refs++
	return ref
}

func (r *Runner) releaseExport(ref *exportRef) {
	r.mu.Lock()
	ref.refs--
	last := ref.refs == 0
	if last {
		delete(r.exports, ref.key)
	}
	r.mu.Unlock()
	if !last {
		return
	}
	ref.mu.Lock()
	keep := ref.done && ref.err == nil && ref.stamp != ""
	k := &keptExport{project: ref.p.ID, version: ref.ver, commit: ref.commit, dir: ref.dir,
		exclude: excludeKey(ref.p.Exclude), manifest: ref.manifest, stamp: ref.stamp, by: ref.by}
	ref.mu.Unlock()
	if keep {
		r.mu.Lock()
		old := r.kept[ref.p.ID]
		r.kept[ref.p.ID] = k
		r.mu.Unlock()
		if old != nil && old.dir != k.dir {
			r.removeExportDir(old.dir)
		}
		return
	}
	r.removeExportDir(ref.dir)
}

// removeExportDir removes an export's tree.
func (r *Runner) removeExportDir(dir string) {
	if dir == "" {
		return
	}
	if err := removeTree(dir); err != nil {
		r.logger.WithError(err).WithField("export", dir).Warn("export not removed")
	}
}

// keptExport is the export a project's last deployment left in the
// workspace (see exportRef).
type keptExport struct {
	project, version, commit string
	dir                      string
	exclude                  string // excludeKey of the exclude it was made with
	manifest                 Manifest
	stamp                    string // treeStamp when it was listed
	by                       string // the deployment that made it
}

// takeKept hands over the project's kept export, if any: the caller owns
// its tree from then on.
func (r *Runner) takeKept(project string) *keptExport {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := r.kept[project]
	delete(r.kept, project)
	return k
}

// sweepExports removes the project's export trees nobody uses (a runner
// that died left them): neither one being made or used now nor the kept
// one.
func (r *Runner) sweepExports(project string) {
	parent := filepath.Dir(r.cfg.Workspace.ExportDir(project, "00000000000000-0000000"))
	ents, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	r.mu.Lock()
	used := map[string]bool{}
	for _, x := range r.exports {
		used[x.dir] = true
	}
	if k := r.kept[project]; k != nil {
		used[k.dir] = true
	}
	r.mu.Unlock()
	for _, e := range ents {
		if dir := filepath.Join(parent, e.Name()); !used[dir] && ValidateVersion(e.Name()) == nil {
			r.removeExportDir(dir)
		}
	}
}

// excludeKey tells exclude lists apart: an export is reused only with the
// exclude it was made with.
func excludeKey(exclude []string) string { return strings.Join(exclude, "\x00") }

// ensure makes the tree once; later callers reuse it.
func (x *exportRef) ensure(d *deployment) (Manifest, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.err != nil && x.by == d.id {
		return Manifest{}, x.err
	}
	if x.done {
		if x.by != d.id {
			s := d.beginStep("", "export", nil)
			s.note("reusing the tree exported by deployment %s", x.by)
			_ = s.finish(0, nil)
		}
		return x.manifest, nil
	}
	if x.dir == "" {
		return Manifest{}, errors.New("export: invalid workspace, project or version")
	}
	m, err := d.exportTree(x)
	if err != nil {
		x.err, x.by = err, d.id
		return Manifest{}, err
	}
	x.done, x.by, x.manifest, x.commit = true, d.id, m, d.req.Commit
	return m, nil
}

// exportTree: fetch (only if the mirror lacks the commit), export, the
// pre_deploy hook and the build in the exported tree, then its manifest.
// A pure export starts from the project's kept export when it is still
// as it was listed: the same version is used as is, another is updated in
// place by the tree diff, and only what changed is hashed again.
func (d *deployment) exportTree(x *exportRef) (Manifest, error) {
	dir := x.dir
	s := d.beginStep("", "fetch", nil)
	m, err := OpenMirror(d.ctx, d.r.cfg.Workspace, d.p)
	if err == nil && !m.HasCommit(d.req.Commit) {
		s.note("fetching %s", d.p.Repo)
		err = m.Fetch(d.ctx)
		if err == nil && !m.HasCommit(d.req.Commit) {
			err = fmt.Errorf("commit %s is not in %s", d.req.Commit, d.p.Repo)
		}
	} else if err == nil {
		s.note("commit %s already in the mirror", d.req.Commit)
	}
	if err := s.finish(exitOf(err), err); err != nil {
		return Manifest{}, err
	}

	s = d.beginStep("", "export", nil)
	m.Note = func(msg string) { s.note("%s", msg) }
	d.r.sweepExports(d.p.ID)
	kept, known := d.fromKept(s, m, dir)
	if kept == nil {
		// A tree left by a process that died is stale: nobody here uses it.
		err = removeTree(dir)
		if err == nil {
			err = os.MkdirAll(dir, 0o755)
		}
		if err == nil {
			err = m.Export(d.ctx, d.req.Commit, dir, d.p.Exclude)
		}
	}
	if err := s.finish(exitOf(err), err); err != nil {
		return Manifest{}, err
	}
	if d.p.Hooks.PreDeploy != "" {
		if err := d.localHook("hook.pre_deploy", d.p.Hooks.PreDeploy, dir); err != nil {
			return Manifest{}, err
		}
	}
	if d.p.Build != "" {
		if err := d.localHook("build", d.p.Build, dir); err != nil {
			return Manifest{}, err
		}
	}
	s = d.beginStep("", "manifest", nil)
	// What the build made is listed too, except what Exclude leaves out:
	// the transfer leaves it out the same way (RsyncPatterns).
	ex, err := CompileExclude(d.p.Exclude)
	var man Manifest
	switch {
	case err != nil:
	case kept != nil && kept.version == d.req.Version:
		man = kept.manifest
		s.note("listed when deployment %s exported it", kept.by)
	default:
		man, err = buildManifestReusing(dir, ex.Match, known)
	}
	if err == nil {
		s.note("%d files, %d bytes, %s", man.Files, man.Bytes, man.Hash)
		// Kept per version: a later deployment stages only what changed
		// since (PlanDelta), trusting that every host holding this version
		// holds exactly this tree. That holds only when the export is a
		// pure function of the commit: a build or a pre_deploy hook may
		// give another tree on a re-export (a rollback re-staging a pruned
		// version), so such an export keeps no manifest and drops one kept
		// earlier for the version, and the next deployment stages in full.
		if d.exportIsPure() {
			if serr := d.r.cfg.Workspace.SaveManifest(d.p.ID, d.req.Version, man); serr != nil {
				d.logger.WithError(serr).Warn("manifest not kept: the next deployment stages in full")
			}
			// What the tree is now, to know at its reuse that nothing
			// changed it (a post_deploy hook, a person).
			if st, serr := treeStamp(dir); serr == nil {
				x.stamp = st
			}
		} else if rerr := os.Remove(d.r.cfg.Workspace.ManifestPath(d.p.ID, d.req.Version)); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			d.logger.WithError(rerr).Warn("stale manifest not removed")
		}
	}
	if err := s.finish(exitOf(err), err); err != nil {
		return Manifest{}, err
	}
	return man, nil
}

// fromKept makes dir the export of the deployment's commit from the
// project's kept export, when the export is pure, the kept one was made
// with the same exclude and is unchanged since it was listed: as is (the
// same version), or updated by the tree diff. It returns the kept export
// used, nil when dir must be exported in full, and known: the kept
// manifest's entries whose files the update left untouched.
func (d *deployment) fromKept(s *step, m *Mirror, dir string) (*keptExport, map[string]ManifestEntry) {
	k := d.r.takeKept(d.p.ID)
	if k == nil {
		return nil, nil
	}
	drop := func(why string) (*keptExport, map[string]ManifestEntry) {
		if why != "" {
			s.note("the export of %s kept from deployment %s is not reused: %s", k.version, k.by, why)
		}
		if k.dir != dir {
			d.r.removeExportDir(k.dir)
		}
		return nil, nil
	}
	switch {
	case !d.exportIsPure():
		return drop("")
	case k.exclude != excludeKey(d.p.Exclude):
		return drop("the exclude list changed")
	case ValidateCommit(k.commit) != nil:
		return drop("no commit")
	}
	if st, err := treeStamp(k.dir); err != nil || st != k.stamp {
		return drop("it changed since it was listed")
	}
	if k.version == d.req.Version && k.dir == dir {
		if k.commit != d.req.Commit {
			return drop("another commit")
		}
		s.note("reusing the export of %s kept from deployment %s", k.version, k.by)
		return k, nil
	}
	fail := func(err error) (*keptExport, map[string]ManifestEntry) {
		s.note("updating the kept export failed (%v): exporting in full", err)
		_ = removeTree(dir)
		return drop("")
	}
	if err := removeTree(dir); err != nil {
		return drop(err.Error())
	}
	if err := os.Rename(k.dir, dir); err != nil {
		return drop(err.Error())
	}
	k.dir = dir
	touched, err := m.Update(d.ctx, k.commit, d.req.Commit, dir, d.p.Exclude)
	if err != nil {
		return fail(err)
	}
	known := make(map[string]ManifestEntry, len(k.manifest.Entries))
	for _, e := range k.manifest.Entries {
		known[e.Path] = e
	}
	for _, p := range touched {
		delete(known, p)
	}
	s.note("updated the export of %s kept from deployment %s: %d paths changed", k.version, k.by, len(touched))
	return k, known
}

// exitOf is the exit code a step without a command reports.
func exitOf(err error) int {
	if err != nil {
		return -1
	}
	return 0
}

// exportIsPure tells whether the exported tree depends on the commit alone
// (no build command, no pre_deploy hook), so that exporting the same
// version again always gives the same tree.
func (d *deployment) exportIsPure() bool {
	return d.p.Build == "" && d.p.Hooks.PreDeploy == ""
}
