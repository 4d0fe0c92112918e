package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"releasedesk/events/catalog"

	"github.com/sirupsen/logrus"
)

// A host's part of a run ends as soon as its work in its batch does
// (switched, post_release and prune done; or failed; or nothing to do):
// endHost releases its remote lock and closes its connection right then,
// so the connections open at once follow `parallel`, not the number of
// hosts. Nothing on the normal path connects twice, except a host of a
// batch larger than `parallel`, which waits for its switch without its
// connection (hostwait.go).
//
// Only a revert after the host's batch has ended (a cancel, or a later
// failure under the halt policy) needs the host again: cleanup connects
// once more (Runner.dial: the same strict host keys and time bound),
// takes the lock again in this deployment's name, and switches back only
// if `current` still names this run's version: between the two, another
// Release Desk (one sharing no log with this one) may have taken the host,
// and its work is never undone. A crash anywhere in between leaves at
// most a lock naming this deployment, which recovery removes.

// reverting tells whether this run switches back every host it switched:
// a cancel, or a failure under the halt policy.
func (d *deployment) reverting() bool {
	return d.cancelled() || (d.policy() == catalog.OnFailureHalt && d.anyFailed())
}

// hostContext bounds the clean-up of one host. It is not the deployment's
// context, which a cancel has ended.
func (d *deployment) hostContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(d.ctx), cleanupTimeout)
}

// endHost ends the host's part of the run once its work is done: it is
// tidied (tidy: switched back if the run is reverting already, staging
// removed, unlocked) on its open connection, which is then closed. Under
// a shutdown it is only closed: recovery reads and unlocks the host.
func (d *deployment) endHost(hr *hostRun) {
	if hr.ex == nil {
		return
	}
	if !d.shutdown() {
		ctx, cancel := d.hostContext()
		defer cancel()
		d.tidy(ctx, hr, d.reverting())
	}
	d.closeHost(hr)
}

// endBatch ends the hosts of a batch that still hold a connection: those
// staged whose switch a halt or a cancel stopped, or whose goroutine
// panicked.
func (d *deployment) endBatch(batch []catalog.Host) {
	var open []*hostRun
	d.mu.Lock()
	for _, h := range batch {
		if hr := d.results[h.Addr]; hr != nil && hr.ex != nil {
			open = append(open, hr)
		}
	}
	d.mu.Unlock()
	d.eachHost(open, d.endHost)
}

// cleanup ends the run on every host it touched: under a cancel, a halt or
// a panic, hosts switched by this run are switched back (a failed host
// always is), unfinished staging dirs are removed, and remote locks are
// released. Most hosts were ended with their batch (endHost); one that
// must still be switched back is connected to again. At most `parallel`
// hosts are tidied at once. A shutdown leaves everything to recovery.
func (d *deployment) cleanup(panicked bool) {
	if d.shutdown() {
		return
	}
	revertAll := panicked || d.reverting()
	d.mu.Lock()
	var hrs []*hostRun
	for _, h := range d.hosts {
		if hr := d.results[h.Addr]; hr != nil && (hr.ex != nil || hr.owed(revertAll)) {
			hrs = append(hrs, hr)
		}
	}
	d.mu.Unlock()
	d.eachHost(hrs, func(hr *hostRun) {
		ctx, cancel := d.hostContext()
		defer cancel()
		d.tidy(ctx, hr, revertAll)
		d.closeHost(hr)
	})
}

// eachHost calls fn for each of hrs, at most `parallel` at once, whatever
// the deployment's context says (ending a host must happen under a cancel
// too). A panic ends only that host's call.
func (d *deployment) eachHost(hrs []*hostRun, fn func(*hostRun)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, effectiveParallel(d.env.Parallel))
	for _, hr := range hrs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			defer func() {
				if p := recover(); p != nil {
					d.logger.WithFields(logrus.Fields{"host": hr.host.Addr, "panic": fmt.Sprint(p)}).Error("host clean-up panicked")
				}
			}()
			fn(hr)
		}()
	}
	wg.Wait()
}

// owed tells whether something is left to do on the host: a switch cut
// short to settle, a switch to undo (revertAll, or the host failed), a
// staging dir or a lock of this run.
func (hr *hostRun) owed(revertAll bool) bool {
	return hr.unsure() || hr.mustRevert(revertAll) || hr.staging || hr.locked
}

// unsure: a switch was sent but did not answer.
func (hr *hostRun) unsure() bool { return hr.switching && !hr.switched }

// mustRevert: the host runs this run's version because of it, and the run
// (revertAll) or the host failed.
func (hr *hostRun) mustRevert(revertAll bool) bool {
	return hr.switched && !hr.reverted && (revertAll || hr.failed)
}

// tidy leaves the host as this run must leave it: a switch cut short is
// settled, a switched host switched back if it must be, the staging dir
// removed, the lock released.
func (d *deployment) tidy(ctx context.Context, hr *hostRun, revertAll bool) {
	d.disarm(hr)
	if hr.ex == nil {
		d.tidyClosed(ctx, hr, revertAll)
		return
	}
	if hr.unsure() {
		d.settleSwitch(ctx, hr)
	}
	if hr.mustRevert(revertAll) {
		d.revert(ctx, hr)
	}
	d.release(ctx, hr)
}

// tidyClosed is tidy for a host whose connection endHost closed: it is
// connected to again only if something is left to do there. A switch to
// undo or to settle first takes the lock again and reads `current`
// (relock): the host is switched back only if it still runs this run's
// version, and left alone if someone else holds its lock now.
func (d *deployment) tidyClosed(ctx context.Context, hr *hostRun, revertAll bool) {
	if !hr.owed(revertAll) {
		return
	}
	if !hr.unsure() && !hr.staging && !hr.locked && hr.previous == "" {
		d.revert(ctx, hr) // it only notes that there is nothing to go back to
		return
	}
	why := "the connection was closed when the host's batch ended; connecting again to tidy up"
	if hr.parked {
		why = "the connection was closed while the host waited for its batch's switch, and it was not switched; connecting again to tidy up"
	}
	if d.reconnect(ctx, hr, why) != nil {
		return
	}
	if hr.unsure() || hr.mustRevert(revertAll) {
		cur, ok := d.relock(ctx, hr)
		switch {
		case !ok && !hr.locked:
			return // someone else's lock, or no answer: leave the host alone
		case !ok:
			// The lock is ours but current is unread: undo nothing blind.
		case hr.unsure() && cur.version == d.req.Version:
			hr.switched = true
			_ = d.emit(catalog.TypeHostSwitched, d.hostEvent(hr, d.req.Version, d.req.Commit, hr.previous))
		}
		if ok && hr.mustRevert(revertAll) && cur.version != d.req.Version {
			s := d.beginStep(hr.host.Addr, "revert", nil)
			s.note("current names %q now, not %s: it changed after this deployment let the host go, and is left as it is",
				cur.version, d.req.Version)
			_ = s.finish(-1, errors.New("current changed since the switch: not switched back"))
			hr.switched = false // what the host runs now is not this run's doing
			_ = d.emit(catalog.TypeHostObserved, d.hostEvent(hr, cur.version, cur.commit, ""))
		}
		if ok && hr.mustRevert(revertAll) {
			d.revert(ctx, hr)
		}
	}
	d.release(ctx, hr)
}

// release removes the host's unfinished staging dir and releases its lock,
// when they are this run's.
func (d *deployment) release(ctx context.Context, hr *hostRun) {
	if hr.staging {
		argv, err := hr.layout.RemoveStaging(d.req.Version)
		if _, _, err := d.command(ctx, hr, "clean", argv, err); err == nil {
			hr.staging = false
		}
	}
	if hr.locked {
		argv, err := hr.layout.Unlock(d.id)
		if s, _, err := d.command(ctx, hr, "unlock", argv, err); err == nil {
			hr.locked = false
			d.noteStaleLock(hr, s.Output())
		}
	}
}

// reconnect opens a new connection to a host whose connection was closed
// (endHost, or park while it waited for its switch): the same dial as
// connect (strict host keys against known_hosts, SSHTimeout), within ctx.
// The step "reconnect" says why, for the audit trail.
func (d *deployment) reconnect(ctx context.Context, hr *hostRun, why string) error {
	s := d.beginStep(hr.host.Addr, "reconnect", nil)
	s.note("%s", why)
	if err := d.open(ctx, s, hr); err != nil {
		return err
	}
	hr.parked = false
	_ = s.finish(0, nil)
	return nil
}

// hostCurrent is what a host's `current` names: a version and its commit.
type hostCurrent struct{ version, commit string }

// relock takes the host's lock again in this deployment's name and reads
// what `current` names, in one session. A lock still held by this
// deployment (its release failed) is ours; anybody else's makes it say
// no, naming the holder, and the host is left alone.
func (d *deployment) relock(ctx context.Context, hr *hostRun) (hostCurrent, bool) {
	info := LockInfo{Deployment: d.id, Holder: safeName(d.actor), Since: d.r.now()}
	lock, lockErr := hr.layout.Lock(info)
	readArgv, readErr := hr.layout.ReadCurrent()
	read := seqCmd{name: "current", argv: readArgv, buildErr: readErr}
	res, s, _, err := d.sequenceCtx(ctx, hr, "relock", []seqCmd{
		{name: "lock", argv: lock, buildErr: lockErr, ok: []int{ExitLockHeld}},
		read,
	})
	if len(res) > 0 {
		d.noteStaleLock(hr, res[0].Output)
	}
	if len(res) > 0 && res[0].Ran && res[0].Exit == 0 {
		hr.locked = true
	}
	if err != nil {
		return hostCurrent{}, false
	}
	if res[0].Exit == ExitLockHeld {
		if held := ParseLockInfo(res[0].Output); held.Deployment != d.id {
			s.note("host %s is locked by deployment %q (%s) now: it is not switched back", hr.host.Addr, held.Deployment, held.Holder)
			return hostCurrent{}, false
		}
		hr.locked = true // ours still: its release failed
		res, _, _, err = d.sequenceCtx(ctx, hr, "relock", []seqCmd{read})
		if err != nil {
			return hostCurrent{}, false
		}
		res = append([]SeqResult{{Ran: true}}, res...)
	}
	v, rev := ParseCurrent(res[1].Output)
	return hostCurrent{version: v, commit: ParseRevision(rev).Commit}, true
}

// settleSwitch finds out whether a switch that was cut short (cancelled,
// timed out, connection lost) happened: the rename is atomic, so current
// names either release. One that happened counts as switched, and is
// reverted like the others.
func (d *deployment) settleSwitch(ctx context.Context, hr *hostRun) {
	argv, err := hr.layout.ReadCurrent()
	s, _, err := d.command(ctx, hr, "current", argv, err)
	if err != nil {
		return
	}
	if v, _ := ParseCurrent(s.Output()); v == d.req.Version {
		hr.switched = true
		_ = d.emit(catalog.TypeHostSwitched, d.hostEvent(hr, d.req.Version, d.req.Commit, hr.previous))
	}
}

// revert switches a host back to the release it ran before this run, and
// runs post_release there (the app must reload the old code too). A host
// that had no release before stays on the new one: there is nothing to go
// back to, and `current` is never removed.
func (d *deployment) revert(ctx context.Context, hr *hostRun) {
	if hr.previous == "" {
		s := d.beginStep(hr.host.Addr, "revert", nil)
		s.note("no earlier release on this host: it stays on %s", d.req.Version)
		_ = s.finish(-1, errors.New("nothing to switch back to"))
		return
	}
	argv, err := hr.layout.Switch(hr.previous)
	if _, _, err := d.command(ctx, hr, "revert", argv, err); err != nil {
		return
	}
	hr.reverted = true
	_ = d.emit(catalog.TypeHostReverted, d.hostEvent(hr, hr.previous, hr.prevCommit, d.req.Version))
	if d.p.Hooks.PostRelease != "" {
		plain, hidden := d.remoteEnv(d.req.Version)
		argv, err := hr.layout.Hook(hr.previous, d.p.Hooks.PostRelease, plain)
		_, _, _ = d.commandEnv(ctx, hr, "hook.post_release", argv, hidden, err)
	}
}

// closeHost lets the host's connection go, its armed session ended first:
// kept idle for the next deployment (connpool.go), or closed under a
// shutdown. One that died meanwhile is found out before any reuse (the
// pool's keepalive check).
func (d *deployment) closeHost(hr *hostRun) {
	if hr.ex == nil {
		return
	}
	d.disarm(hr) // its session ends before its connection goes
	ex := hr.ex
	hr.ex = nil
	ssh, ok := ex.(*SSHExecutor)
	if !ok {
		_ = ex.Close()
		return
	}
	d.conns.Add(-1)
	if d.shutdown() {
		_ = ssh.Close()
		return
	}
	d.r.pool.put(ssh, effectiveParallel(d.env.Parallel))
}

// closeHosts closes whatever connection of the run is still open (after a
// shutdown or a panic; normally none), and removes the run's private
// directory (privateDir).
func (d *deployment) closeHosts() {
	d.mu.Lock()
	hrs := make([]*hostRun, 0, len(d.results))
	for _, hr := range d.results {
		hrs = append(hrs, hr)
	}
	dir := d.privDir
	d.mu.Unlock()
	var wg sync.WaitGroup
	for _, hr := range hrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.closeHost(hr)
		}()
	}
	wg.Wait()
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
}
