package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/crypto/ssh"

	"releasedesk/events"
	"releasedesk/events/catalog"
)

// hostRun is one host's part of a deployment run. Its fields are written
// by the host's own goroutine; others read them after runBounded returned
// (or under deployment.mu for failed).
type hostRun struct {
	host   catalog.Host
	layout Layout
	ex     Executor // the host's connection while it is open; nil before and after (endHost)

	locked     bool   // the remote lock is ours
	previous   string // the version `current` pointed to before this run
	prevCommit string
	releases   []string // the host's releases when prepare took its lock (for prune)
	staging    bool     // a staging dir may exist that is not renamed yet
	staged     bool
	switching  bool         // a switch was sent: if it did not answer, read current to know
	switched   bool         // switched by this run
	armable    bool         // its switch may wait at a gate (canArm)
	armed      *armedSwitch // its switch session, waiting at its gate or fired (cutover.go)
	parked     bool         // staged, its connection closed until its batch's switch (hostwait.go); still locked
	already    bool         // already on the version when this run came
	failed     bool
	reverted   bool
}

// onVersion tells whether the host runs the deployment's version now.
func (hr *hostRun) onVersion() bool { return hr.already || (hr.switched && !hr.reverted) }

// DefaultCheckTimeout bounds a health check whose timeout is not set.
const DefaultCheckTimeout = 10 * time.Second

// stageHost brings one host to "ready to switch": connect, lock, prepare,
// read current, then the release (reused if complete, else staged,
// finalized, hooked and checked, then sealed by a rename).
func (d *deployment) stageHost(hr *hostRun) {
	if !d.connect(hr) {
		return
	}
	release, ok := d.prepare(hr)
	if !ok {
		return
	}
	if hr.previous == d.req.Version {
		// Done by an earlier run of this deployment (a resume), or a
		// rollback to what already runs: nothing to redo.
		d.disarm(hr)
		hr.already = true
		_ = d.emit(catalog.TypeHostObserved, d.hostEvent(hr, d.req.Version, d.req.Commit, ""))
		return
	}
	reuse, ok := d.findRelease(hr, release)
	if !ok {
		return
	}
	if !reuse {
		d.disarm(hr) // its release is to be made first
		if !d.stage(hr) {
			return
		}
	} else if d.req.Kind == catalog.KindDeploy && !d.check(hr) {
		return
	}
	if hr.armed == nil && d.canArm(hr) {
		d.arm(hr)
	}
	hr.staged = true
	_ = d.emit(catalog.TypeHostStaged, d.hostEvent(hr, d.req.Version, d.req.Commit, hr.previous))
}

// hostEvent fills a HostEvent of this deployment.
func (d *deployment) hostEvent(hr *hostRun, version, commit, previous string) catalog.HostEvent {
	return catalog.HostEvent{Deployment: d.id, Project: d.p.ID, Environment: d.env.Name, Host: hr.host.Addr,
		Version: version, Commit: commit, Previous: previous}
}

// connect opens the host's one connection for this run (Runner.dial:
// strict host keys, SSHTimeout). An unknown or changed host key is
// recorded (host.key_rejected) and nothing runs there.
func (d *deployment) connect(hr *hostRun) bool {
	s := d.beginStep(hr.host.Addr, "connect", nil)
	if err := d.open(d.ctx, s, hr); err != nil {
		d.fail(hr, "connect", err)
		return false
	}
	if d.p.Strategy == catalog.StrategyLocal {
		s.note("local target %s", hr.host.Path)
	}
	_ = s.finish(0, nil)
	return true
}

// open gives the host its connection within step s (connect, reconnect):
// one kept idle since an earlier deployment when it is still good (noted
// in the step, for the audit trail), else a new dial; either way the
// oldest idle connections make room so that this run's connections and
// the idle ones stay within `parallel` (connpool.go). A refused host key
// is recorded (rejectKey) and finishes s with the error.
func (d *deployment) open(ctx context.Context, s *step, hr *hostRun) error {
	// The connection counts from before it exists: hosts connecting at
	// once each see the others, and the idle ones make room for all.
	remote := d.p.Strategy != catalog.StrategyLocal
	if remote {
		d.conns.Add(1)
	}
	room := func() { d.r.pool.trim(effectiveParallel(d.env.Parallel) - int(d.conns.Load())) }
	ex, reused, err := d.r.dialFor(ctx, d.p, d.env, hr.host, room)
	if err != nil {
		if remote {
			d.conns.Add(-1)
		}
		d.rejectKey(err)
		return s.finish(-1, err)
	}
	if reused {
		room() // idle connections to hosts of later batches wait beyond `parallel` otherwise
		s.note("releasedesk: the connection kept open since an earlier deployment (host key and SSH key unchanged)")
	}
	hr.ex = ex
	return nil
}

// rejectKey appends host.key_rejected to host/<host:port> for a refused
// host key, with the fingerprint an admin compares before trusting it.
func (d *deployment) rejectKey(err error) {
	var ev catalog.HostKeyEvent
	var unknown *UnknownHostKeyError
	var changed *ChangedHostKeyError
	switch {
	case errors.As(err, &unknown):
		ev = catalog.HostKeyEvent{Host: unknown.Host, KeyType: unknown.KeyType, Fingerprint: unknown.Fingerprint, Key: unknown.Key, Reason: "unknown"}
	case errors.As(err, &changed):
		ev = catalog.HostKeyEvent{Host: changed.Host, KeyType: changed.KeyType, Fingerprint: changed.Fingerprint, Key: changed.Key, Reason: "changed"}
	default:
		return
	}
	ev.Deployment = d.id
	e, err := catalog.NewEvent(catalog.TypeHostKeyRejected, actorRunner, ev)
	if err == nil {
		e.CorrelationID = d.id
		_, err = d.r.log.Append(context.WithoutCancel(d.ctx), catalog.HostStream(ev.Host), events.AnyVersion, e)
	}
	if err != nil {
		d.logger.WithError(err).WithField("host", ev.Host).Error("host key rejection not recorded")
	}
}

// TrustHostKey trusts key ("<type> <base64>", as a host.key_rejected
// event or ScanHostKey gives it) for addr ("host:port" or
// "user@host:port"), an admin's explicit decision: host.key_trusted with
// the fingerprint (by actor) is appended to host/<host:port> first, so no
// trust is ever unrecorded, then the key is written to the app's
// known_hosts, replacing one of the same type for that host.
func (r *Runner) TrustHostKey(ctx context.Context, addr, key, actor string) error {
	hp, err := hostPort(addr)
	if err != nil {
		return err
	}
	pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(key))
	if err != nil {
		return fmt.Errorf("trust host key: %w", err)
	}
	ev := catalog.HostKeyEvent{Host: hp, KeyType: pk.Type(), Fingerprint: ssh.FingerprintSHA256(pk), Key: authorizedKeyString(pk)}
	e, err := catalog.NewEvent(catalog.TypeHostKeyTrusted, actor, ev)
	if err != nil {
		return err
	}
	if _, err := r.log.Append(ctx, catalog.HostStream(hp), events.AnyVersion, e); err != nil {
		return err
	}
	if err := TrustHostKey(r.cfg.KnownHostsPath, hp, ev.Key); err != nil {
		return fmt.Errorf("trust host key: %w", err)
	}
	r.logger.WithFields(logrus.Fields{"host": hp, "fingerprint": ev.Fingerprint, "actor": actor}).Info("host key trusted")
	return nil
}

// safeNameRe is what of a user name may be written on a host (the lock's
// holder, REVISION's who).
var safeNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// safeName returns name if it is plain enough to write on a host, else a
// placeholder: free text never reaches a host.
func safeName(name string) string {
	if safeNameRe.MatchString(name) {
		return name
	}
	return "unnamed"
}

// prepare is a host's first session: take its lock (Layout.Lock), make
// the layout's directories, read what `current` points to and look for
// releases/<version>, all in one Sequence recorded as the step "prepare"
// (one session instead of four: a deployment to many hosts is bound by
// CPU). A lock left by an earlier run of this same deployment (a crash)
// is taken over; anybody else's fails the host, naming the holder. release
// is releases/<version>'s REVISION, or missing when it does not exist.
func (d *deployment) prepare(hr *hostRun) (release releaseInfo, ok bool) {
	l := hr.layout
	info := LockInfo{Deployment: d.id, Holder: safeName(d.actor), Since: d.r.now()}
	lock, lockErr := l.Lock(info)
	prep, prepErr := l.Prepare()
	cur, curErr := l.ReadCurrent()
	rel, relErr := l.ReleaseInfo(d.req.Version)
	list, listErr := l.ListReleases()
	// The release is last: its "missing" answer stops the sequence.
	cmds := []seqCmd{
		{name: "lock", argv: lock, buildErr: lockErr, ok: []int{ExitLockHeld}},
		{name: "prepare", argv: prep, buildErr: prepErr},
		{name: "current", argv: cur, buildErr: curErr},
		{name: "releases", argv: list, buildErr: listErr},
		{name: "release", argv: rel, buildErr: relErr, ok: []int{ExitMissing}},
	}
	var res []SeqResult
	var part string
	var err error
	if d.req.Kind == catalog.KindRollback && d.canArm(hr) {
		// A rollback's release is most likely on the host: its switch
		// waits in the same session, at a gate after these (cutover.go).
		post, _, _ := d.switchParts(hr, switchOpts{gated: true})
		res, _, part, err, hr.armed = d.openGated(hr, "prepare", cmds, post, nil)
	} else {
		res, _, part, err = d.sequence(hr, "prepare", cmds)
	}
	if len(res) > 0 {
		d.noteStaleLock(hr, res[0].Output)
	}
	switch {
	case len(res) > 0 && res[0].Ran && res[0].Exit == 0:
		hr.locked = true // taken: cleanup releases it, whatever fails next
	case len(res) > 0 && !res[0].Ran && lockErr == nil && hr.ex != nil:
		// Maybe taken: a cancel or a dropped session cut the lock command
		// short, and the host may hold the lock for this deployment. Left
		// alone, it would stop every later deployment of the environment
		// until an admin breaks it; Unlock removes only this deployment's
		// lock, so cleanup tries.
		hr.locked = true
	}
	if err != nil {
		d.fail(hr, part, err)
		return releaseInfo{}, false
	}
	if res[0].Exit == ExitLockHeld {
		held := ParseLockInfo(res[0].Output)
		if held.Deployment == "" {
			err := fmt.Errorf("host %s is locked by an unknown holder: %s names none (an older Release Desk "+
				"died while taking it, or one is taking it now); it is removed once older than %s, or break the lock",
				hr.host.Addr, hr.layout.LockDir(), InfolessLockAge)
			d.fail(hr, "lock", err)
			return releaseInfo{}, false
		}
		if held.Deployment != d.id {
			err := fmt.Errorf("host %s is locked by deployment %s (%s, since %s)", hr.host.Addr,
				held.Deployment, held.Holder, held.Since.Format(time.RFC3339))
			d.fail(hr, "lock", err)
			return releaseInfo{}, false
		}
		// Ours, from an earlier run of this deployment: the sequence
		// stopped at the lock, so run the rest now.
		hr.locked = true
		res, _, part, err = d.sequence(hr, "prepare", []seqCmd{
			{name: "prepare", argv: prep},
			{name: "current", argv: cur},
			{name: "releases", argv: list},
			{name: "release", argv: rel, ok: []int{ExitMissing}},
		})
		if err != nil {
			d.fail(hr, part, err)
			return releaseInfo{}, false
		}
		res = append([]SeqResult{{Ran: true}}, res...)
	}
	hr.locked = true
	var rev string
	hr.previous, rev = ParseCurrent(res[2].Output)
	hr.prevCommit = ParseRevision(rev).Commit
	hr.releases = ParseReleases(res[3].Output)
	if res[4].Exit == ExitMissing {
		return releaseInfo{missing: true}, true
	}
	return releaseInfo{revision: res[4].Output}, true
}

// releaseInfo is what ReleaseInfo said of releases/<version>.
type releaseInfo struct {
	missing  bool
	revision string // its REVISION
}

// noteStaleLock logs a warning when Lock or Unlock removed an older-style
// lock dir that named no holder (see InfolessLockAge).
func (d *deployment) noteStaleLock(hr *hostRun, out string) {
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, StaleLockNote) {
			d.logger.WithFields(logrus.Fields{"host": hr.host.Addr, "lock": hr.layout.LockDir()}).
				Warn("removed an info-less host lock left by an older version")
			return
		}
	}
}

// findRelease tells whether releases/<version> already exists complete on
// the host with the right commit (a rollback, or a resume): then it is
// reused as is. One with another commit in REVISION is removed.
func (d *deployment) findRelease(hr *hostRun, rel releaseInfo) (reuse, ok bool) {
	if rel.missing {
		return false, true
	}
	if ParseRevision(rel.revision).Commit == d.req.Commit {
		return true, true
	}
	argv, err := hr.layout.Remove(d.req.Version)
	if _, _, err := d.command(d.ctx, hr, "clean", argv, err); err != nil {
		d.fail(hr, "clean", err)
		return false, false
	}
	return false, true
}

// stage builds releases/<version> on the host: an empty staging dir, the
// tree (rsync from the export, or git on the host), REVISION, version
// files and shared links, the pre_release hook and the health check while
// it is still the staging dir, then read-only and renamed. So a dir named
// releases/<version> is always complete and checked.
func (d *deployment) stage(hr *hostRun) bool {
	l := hr.layout
	v := d.req.Version
	if d.p.Strategy != catalog.StrategyGit {
		if _, err := d.ensureExport(); err != nil {
			d.fail(hr, "export", err)
			return false
		}
	}
	hr.staging = true
	if !d.fill(hr) {
		return false
	}
	rev := Revision{Version: v, Commit: d.req.Commit, Deployment: d.id, Who: safeName(d.actor)}.String() +
		"when=" + d.r.now().UTC().Format(time.RFC3339) + "\n"
	// Hooks and checks run between the files and the seal, in the
	// staging dir: a release that fails them never gets its name.
	cmds, err := l.Finalize(v, rev, d.p.VersionFiles, d.p.Shared)
	seal, serr := l.Seal(v)
	if err == nil {
		err = serr
	}
	parts := make([]seqCmd, 0, len(cmds)+len(seal))
	for _, c := range cmds {
		parts = append(parts, seqCmd{name: "finalize", argv: c, buildErr: err})
	}
	if len(parts) == 0 {
		parts = append(parts, seqCmd{name: "finalize", buildErr: err})
	}
	sealParts := make([]seqCmd, 0, len(seal))
	for _, c := range seal {
		sealParts = append(sealParts, seqCmd{name: "seal", argv: c})
	}
	hooked := d.p.Hooks.PreRelease != "" || d.p.HealthCheck.Command != ""
	if !hooked {
		// Nothing runs between the files and the seal: one session.
		parts = append(parts, sealParts...)
	}
	if _, _, part, err := d.sequence(hr, "finalize", parts); err != nil {
		d.fail(hr, part, err)
		return false
	}
	if !hooked {
		hr.staging = false
		return true
	}
	if d.p.Hooks.PreRelease != "" {
		plain, hidden := d.remoteEnv(hr.previous)
		argv, err := l.Hook(v, d.p.Hooks.PreRelease, plain)
		if _, _, err := d.commandEnv(d.ctx, hr, "hook.pre_release", argv, hidden, err); err != nil {
			d.fail(hr, "hook.pre_release", err)
			return false
		}
	}
	if !d.check(hr) {
		return false
	}
	if _, _, part, err := d.sequence(hr, "seal", sealParts); err != nil {
		d.fail(hr, part, err)
		return false
	}
	hr.staging = false
	return true
}

// fill makes the staging dir and puts the release's tree in it. Where
// the files go as a tar stream, that is one session (receive): only a
// delta's paths while the staging dir is made from the host's previous
// release, or the whole tree into an empty staging dir. Else a staging
// step makes the dir (from the previous release, or empty) and rsync or
// git fills it (transfer).
func (d *deployment) fill(hr *hostRun) bool {
	plan := d.deltaPlan(hr)
	if plan != nil && (d.p.Strategy == catalog.StrategyRsync || d.r.tarWhy != "") {
		switch d.receive(hr, plan, hr.previous, "") {
		case received:
			return true
		case receiveFailed:
			return false
		}
		plan = nil // the previous release is gone or incomplete: in full
	}
	if plan == nil && d.p.Strategy != catalog.StrategyGit {
		// The whole release as a tar stream: where this runner sends no
		// rsync, or where the host has nothing for rsync's --link-dest
		// (the tar stream sends the same tree faster there:
		// BenchmarkDeploy, 1.6 s against 3.1 s to one host, 18 s against
		// 28 s to 20), unless rsync was asked for.
		why := d.r.tarWhy
		if why == "" && d.p.Strategy == catalog.StrategyRsync && hr.previous == "" && d.r.cfg.Transfer != TransferRsync {
			why = noLinkDest
		}
		if why != "" {
			whole, err := d.wholeTreePlan()
			switch {
			case err == nil:
				return d.receive(hr, whole, "", why) == received
			case d.r.tarWhy != "": // no rsync to fall back on
				s := d.beginStep(hr.host.Addr, "transfer", nil)
				d.fail(hr, "transfer", s.finish(-1, fmt.Errorf("%w: install rsync on this machine (%s)", err, why)))
				return false
			}
			// rsync takes what a tar stream cannot
		}
	}
	l := hr.layout
	v := d.req.Version
	if plan != nil {
		argv, err := l.BeginDeltaStaging(v, hr.previous, plan.Remove)
		_, exit, err := d.command(d.ctx, hr, "staging", argv, err, ExitMissing)
		if err != nil {
			d.fail(hr, "staging", err)
			return false
		}
		if exit == ExitMissing {
			plan = nil // the previous release is gone or incomplete: in full
		}
	}
	if plan == nil {
		argv, err := l.BeginStaging(v)
		if _, _, err := d.command(d.ctx, hr, "staging", argv, err); err != nil {
			d.fail(hr, "staging", err)
			return false
		}
	}
	return d.transfer(hr, plan)
}

// check runs the health check, if one is configured.
func (d *deployment) check(hr *hostRun) bool {
	hc := d.p.HealthCheck
	if hc.Command == "" {
		return true
	}
	timeout := time.Duration(hc.Timeout)
	if timeout <= 0 {
		timeout = DefaultCheckTimeout
	}
	plain, hidden := d.remoteEnv(hr.previous)
	argv, err := hr.layout.Check(d.req.Version, hc.Command, timeout, plain)
	_, exit, err := d.commandEnv(d.ctx, hr, "check", argv, hidden, err)
	if err != nil {
		if exit == ExitTimeout {
			err = fmt.Errorf("health check timed out after %s: %w", timeout, err)
		}
		d.fail(hr, "check", err)
		return false
	}
	return true
}

// deltaPlan tells how to stage the release from the host's previous one
// (only the changed paths sent), or nil to stage it in full: the git
// strategy, no previous release (or one whose REVISION named no commit),
// or no kept manifest of it. The plan from one previous version is made
// once a run and shared by every host coming from it: reading and
// checking a kept manifest, then comparing its entries, costs tens of
// milliseconds of CPU for a tree of thousands of files.
func (d *deployment) deltaPlan(hr *hostRun) *DeltaPlan {
	if d.p.Strategy == catalog.StrategyGit || hr.previous == "" || hr.prevCommit == "" || hr.previous == d.req.Version ||
		ValidateVersion(hr.previous) != nil {
		return nil
	}
	d.mu.Lock()
	from := d.deltas[hr.previous]
	if from == nil {
		from = &deltaFrom{}
		if d.deltas == nil {
			d.deltas = map[string]*deltaFrom{}
		}
		d.deltas[hr.previous] = from
	}
	d.mu.Unlock()
	from.once.Do(func() {
		cur, err := d.ensureExport()
		if err != nil {
			return
		}
		old, err := d.r.cfg.Workspace.LoadManifest(d.p.ID, hr.previous)
		if err != nil {
			return
		}
		if plan, ok := PlanDelta(old, cur, deployTimePaths(d.p.VersionFiles, d.p.Shared)); ok {
			from.plan = &plan
		}
	})
	return from.plan
}

// deltaFrom is the delta plan from one previous version (deltaPlan); nil
// when there is none. The plan is only read once made.
type deltaFrom struct {
	once sync.Once
	plan *DeltaPlan
}

// transfer fills the staging dir the staging step made: rsync from the
// export (--link-dest to the release `current` points to, so unchanged
// files become hard links; or, with a delta plan, only its paths into a
// staging dir already made of the previous release), or the host's git
// mirror.
func (d *deployment) transfer(hr *hostRun, plan *DeltaPlan) bool {
	l := hr.layout
	v := d.req.Version
	if d.p.Strategy == catalog.StrategyGit {
		argv, err := l.GitFetch(d.p.Repo, d.req.Commit)
		if _, _, err := d.command(d.ctx, hr, "git.fetch", argv, err); err != nil {
			d.fail(hr, "git.fetch", err)
			return false
		}
		argv, err = l.GitArchive(d.req.Commit, v, d.p.Exclude)
		if _, _, err := d.command(d.ctx, hr, "git.archive", argv, err); err != nil {
			d.fail(hr, "git.archive", err)
			return false
		}
		return true
	}
	// The export already left out what Exclude names (and so does its
	// manifest, for files a build made); rsync gets the same list in its
	// own dialect, so the transfer can never differ from the manifest.
	ex, err := CompileExclude(d.p.Exclude)
	if err != nil {
		d.fail(hr, "transfer", err)
		return false
	}
	opts := RsyncOptions{Source: d.export.dir, Dest: l.Staging(v), Host: hr.host, Exclude: ex.RsyncPatterns()}
	if plan != nil {
		dir, err := d.privateDir()
		if err == nil {
			opts.FilesFrom, err = writeFilesFrom(dir, plan.Send)
		}
		if err != nil {
			d.fail(hr, "transfer", err)
			return false
		}
		defer os.Remove(opts.FilesFrom)
	} else if hr.previous != "" {
		opts.LinkDest = l.Release(hr.previous)
	}
	// To a remote host, rsync's remote half runs on the host's open
	// connection (relayRsync): no second handshake, no second connection.
	conn, _ := hr.ex.(*SSHExecutor)
	relay := d.p.Strategy != catalog.StrategyLocal
	if !relay {
		opts.Host = catalog.Host{Addr: catalog.LocalHost, Path: hr.host.Path}
	}
	argv, err := RsyncCommand(opts)
	if err == nil && relay && conn == nil {
		err = fmt.Errorf("transfer to %s: no SSH connection", hr.host.Addr)
	}
	var s *step
	switch {
	case err != nil:
		s = d.beginStep(hr.host.Addr, "transfer", nil)
		err = s.finish(-1, err)
	case relay:
		s = d.beginStep(hr.host.Addr, "transfer", argv)
		exit, rerr := d.relayRsync(d.ctx, s, conn, argv, d.r.cfg.StepTimeout)
		if err = s.finish(exit, rerr); err != nil {
			err = d.explainTransfer(hr, s.Output(), err)
		}
	default:
		s, _, err = d.run(d.ctx, hr.host.Addr, "transfer", &LocalExecutor{}, argv, d.r.cfg.StepTimeout)
		if err != nil {
			err = d.explainTransfer(hr, s.Output(), err)
		}
	}
	if err != nil {
		d.fail(hr, "transfer", err)
		return false
	}
	if st, err := ParseRsyncStats(s.Output()); err == nil {
		d.logger.WithFields(logrus.Fields{"host": hr.host.Addr, "files": st.Files, "transferred": st.FilesTransferred,
			"literal_bytes": st.LiteralData, "bytes_sent": st.BytesSent}).Info("release transferred")
	}
	return true
}

// receiveResult is what receive did.
type receiveResult int

const (
	received        receiveResult = iota
	receiveFailed                 // the host failed (recorded)
	previousMissing               // nothing done: the previous release is gone or incomplete
)

// receive stages the release in one session (Layout.Receive): a plan's
// paths of the export go as a tar stream over the host's open connection
// (RunStdin: no second handshake, no rsync) while, with previous set, the
// staging dir is made of the previous release, or else into a fresh
// staging dir. The stream is built here from the export (writeDeltaTar:
// only regular files, symlinks, directories; every path inside the tree),
// and the bytes the host's tar took are recorded as the step's last
// output line (TarStats.Line). A stream cut short (cancel, connection
// lost, a local read error) fails the step whatever tar says; why, when
// set, is why the whole tree goes as a stream.
func (d *deployment) receive(hr *hostRun, plan *DeltaPlan, previous, why string) receiveResult {
	var remove []string
	if previous != "" {
		remove = plan.Remove
	}
	argv, err := hr.layout.Receive(d.req.Version, previous, remove, plan.Dirs)
	if err != nil {
		s := d.beginStep(hr.host.Addr, "transfer", nil)
		d.fail(hr, "transfer", s.finish(-1, err))
		return receiveFailed
	}
	s := d.beginStep(hr.host.Addr, "transfer", argv)
	if why != "" {
		s.note("releasedesk: the whole release sent as a tar stream, not by rsync: %s", why)
	}
	pr, pw := io.Pipe()
	var st TarStats
	made := make(chan error, 1)
	go func() {
		var err error
		st, err = writeDeltaTar(pw, d.export.dir, plan.Send)
		pw.CloseWithError(err) // nil: EOF
		made <- err
	}()
	in := &countingReader{r: pr}
	exit, err := d.runIn(d.ctx, s, hr.ex, argv, nil, in, d.r.cfg.StepTimeout)
	// The host stopped reading (or never started): end the writer.
	pr.CloseWithError(errors.New("the transfer ended"))
	merr := <-made
	if previous != "" && exit == ExitMissing && d.ctx.Err() == nil {
		// Refused before reading a byte: the stream's end says nothing.
		_ = s.finish(exit, nil, ExitMissing)
		return previousMissing
	}
	if err == nil && merr != nil {
		err = merr // RunStdin saw it as a read error already; say what it was
	}
	if err == nil && exit == 0 {
		st.Bytes = in.n
		s.note("%s", st.Line())
	}
	if err = s.finish(exit, err); err != nil {
		d.fail(hr, "transfer", d.explainTransfer(hr, s.Output(), err))
		return receiveFailed
	}
	d.logger.WithFields(logrus.Fields{"host": hr.host.Addr, "files": st.Files, "symlinks": st.Symlinks,
		"file_bytes": st.FileBytes, "bytes_sent": st.Bytes}).Info("release transferred")
	return received
}

// wholeTreePlan is the plan that sends the whole export into a fresh
// staging dir (receive): a delta from nothing. The host's
// tree is the rsync path's (the same manifest); what it gives up is
// rsync's hard links to the previous release for unchanged files, which a
// later delta from a kept manifest has again.
func (d *deployment) wholeTreePlan() (*DeltaPlan, error) {
	cur, err := d.ensureExport()
	if err != nil {
		return nil, err
	}
	plan, ok := PlanDelta(Manifest{}, cur, nil)
	if !ok {
		return nil, errors.New("the tree cannot go as a tar stream (a path the host could not take, " +
			"or more directories than one command line holds)")
	}
	return &plan, nil
}

// noLinkDest is why a whole release goes as a tar stream on a desk with
// rsync.
const noLinkDest = "no earlier release on the host for rsync to link against"

// probeTimeout bounds the probe of a host after a failed transfer.
const probeTimeout = 5 * time.Second

// explainTransfer makes a failed rsync say why: rsync's own first error
// line ("rsync: [receiver] write failed on ...: No space left on device")
// rather than its closing summary, and, when the host no longer answers
// on its connection (probed with `true`), that the host went away.
func (d *deployment) explainTransfer(hr *hostRun, out string, err error) error {
	var se *stepError
	if errors.As(err, &se) {
		if line := firstTransferError(out); line != "" {
			e := *se
			e.Last = line
			err = &e
		}
	}
	if d.ctx.Err() != nil || d.p.Strategy == catalog.StrategyLocal || hr.ex == nil {
		return err
	}
	ctx, cancel := context.WithTimeout(d.ctx, probeTimeout)
	defer cancel()
	if _, _, perr := d.run(ctx, hr.host.Addr, "probe", hr.ex, []string{"true"}, 0); perr != nil {
		return fmt.Errorf("connection to %s lost during the transfer: %w", hr.host.Addr, err)
	}
	return err
}

// firstTransferError is the first line of rsync's or tar's output that
// reports an error ("rsync: ...", "rsync error: ...", "tar: ..." other
// than tar's closing summary), without the trailing newline; "" if there
// is none.
// A DiskFullNote line, which says why tar could not write, is added to it.
func firstTransferError(out string) string {
	first, full := "", ""
	for line := range strings.SplitSeq(out, "\n") {
		line = strings.TrimSpace(line)
		if first == "" && (strings.HasPrefix(line, "rsync: ") || strings.HasPrefix(line, "rsync error: ") ||
			(strings.HasPrefix(line, "tar: ") && !strings.HasPrefix(line, "tar: Exiting with failure status"))) {
			first = line
		}
		if full == "" && strings.HasPrefix(line, DiskFullNote) {
			full = line
		}
	}
	if first != "" && full != "" {
		return first + "; " + full
	}
	return first + full
}

// privateDir is the deployment's private directory (0700) of rsync's
// files-from lists (a local delta).
func (d *deployment) privateDir() (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.privDir == "" {
		dir, err := os.MkdirTemp("", "rd-run-")
		if err != nil {
			return "", err
		}
		d.privDir = dir
	}
	return d.privDir, nil
}

// switchHost points the host's `current` at the release, then runs
// post_release, prunes old releases and releases the host lock, in one
// session (switchParts): the host's part ends with the switch's answer.
func (d *deployment) switchHost(hr *hostRun) {
	cmds, hidden, remove := d.switchParts(hr, switchOpts{prune: true})
	hr.switching = true
	res, s, part, err := d.sequenceEnv(d.ctx, hr, "switch", cmds, hidden)
	d.switchAnswer(hr, s, cmds, res, part, err, remove)
}

// switchParts are the commands of a host's switch session: the switch,
// post_release, the prune (when prune is set: from prepare's list, taken
// under the same lock) and the unlock, with the hook's secrets for
// RunEnv. A failed hook stops the session before the unlock, so that the
// host is switched back under its lock (tidy); a failed prune only
// leaves the unlock to tidy.
func (d *deployment) switchParts(hr *hostRun, o switchOpts) (cmds []seqCmd, hidden, remove []string) {
	l := hr.layout
	argv, err := l.Switch(d.req.Version)
	cmds = []seqCmd{{name: "switch", argv: argv, buildErr: err}}
	if d.p.Hooks.PostRelease != "" {
		previous := hr.previous
		if o.gated {
			previous = "" // armedEnv sends it with go
		}
		var plain []string
		plain, hidden = d.remoteEnv(previous)
		argv, err := l.Hook(d.req.Version, d.p.Hooks.PostRelease, plain)
		cmds = append(cmds, seqCmd{name: "hook.post_release", argv: argv, buildErr: err})
	}
	if o.prune {
		if remove = d.pruneSet(hr); len(remove) > 0 {
			if argv, err := l.Remove(remove...); err == nil {
				cmds = append(cmds, seqCmd{name: "prune", argv: argv})
			} else {
				remove = nil
			}
		}
	}
	if hr.locked || o.gated {
		if argv, err := l.Unlock(d.id); err == nil {
			cmds = append(cmds, seqCmd{name: "unlock", argv: argv})
		}
	}
	return cmds, hidden, remove
}

// switchOpts shape switchParts: prune (prepare's list is known), gated (a
// session opened before prepare read the host: the unlock is always
// there, and the hook's variables that depend on the host come with go).
type switchOpts struct{ prune, gated bool }

// switchAnswer reads what a switch session (switchParts) did: the host is
// switched, or failed at its switch or hook; a prune that ran is
// recorded, an unlock that ran frees the lock.
func (d *deployment) switchAnswer(hr *hostRun, s *step, cmds []seqCmd, res []SeqResult, part string, err error, remove []string) {
	if len(res) == 0 || !res[0].Ran || res[0].Exit != 0 {
		if err == nil {
			err = errors.New("switch: no exit status reported")
		}
		d.fail(hr, "switch", err)
		return
	}
	if !hr.switched { // finishArmed may have said so as soon as it was
		hr.switched = true
		_ = d.emit(catalog.TypeHostSwitched, d.hostEvent(hr, d.req.Version, d.req.Commit, hr.previous))
	}
	for i, c := range cmds[1:] {
		r := res[i+1]
		ok := r.Ran && r.Exit == 0
		switch c.name {
		case "hook.post_release":
			if !ok {
				d.fail(hr, c.name, err)
				return
			}
		case "prune":
			if ok {
				_ = d.emit(catalog.TypeReleasePruned, catalog.Pruned{Deployment: d.id, Project: d.p.ID,
					Environment: d.env.Name, Host: hr.host.Addr, Versions: remove})
			}
		case "unlock":
			if ok {
				hr.locked = false
				d.noteStaleLock(hr, r.Output)
			}
		}
		if !ok {
			// What did not run is left to tidy (the unlock); the
			// step says which part stopped it.
			d.logger.WithFields(logrus.Fields{"host": hr.host.Addr, "part": part, "step": s.id}).WithError(err).
				Warn("switch done, its tail not")
			return
		}
	}
}
