package runner

import (
	"fmt"
	"time"

	"releasedesk/events/catalog"
)

// A batch larger than `parallel` (the default `batch: 0` is one batch of
// every host) is staged `parallel` hosts at a time, and every host of it
// then waits for the batch's switch. Waiting connected would hold as many
// connections as the batch has hosts, so in such a batch each host is
// parked once staged: its connection is closed, its remote lock kept (its
// staged release must be neither pruned nor raced until its switch). The
// switch phase, `parallel` hosts at a time, connects to each again (the
// same dial as connect), checks that the lock still names this deployment
// and only then switches it. Such a host costs two handshakes; a batch no
// larger than `parallel` is switched on the connection it was staged on,
// as before. A parked host that is never switched (a halt, a cancel) is
// connected to again by cleanup, to be unlocked; after a crash, recovery
// removes its lock like any other of the dead deployment.

// parks tells whether the hosts of batch wait for its switch without
// their connection: more hosts than `parallel` would be connected at
// once otherwise. The local strategy has no connection to spare.
func (d *deployment) parks(batch []catalog.Host) bool {
	return d.p.Strategy != catalog.StrategyLocal && len(batch) > effectiveParallel(d.env.Parallel)
}

// park closes a staged host's connection until its switch; it stays
// locked by this deployment.
func (d *deployment) park(hr *hostRun) {
	d.closeHost(hr)
	hr.parked = true
}

// unpark connects again to a parked host for its switch and checks that
// its lock is still this deployment's. It fails the host, with nothing
// switched, when either does not hold.
func (d *deployment) unpark(hr *hostRun, batchSize int) bool {
	why := fmt.Sprintf("the host waited for the switch of its batch (%d hosts, parallel %d) without its connection; "+
		"connecting again to switch it", batchSize, effectiveParallel(d.env.Parallel))
	if err := d.reconnect(d.ctx, hr, why); err != nil {
		d.fail(hr, "reconnect", err)
		return false
	}
	return d.checkLock(hr)
}

// checkLock makes sure the host lock still names this deployment
// (Layout.CheckLock). If it was broken, or someone else holds it now, the
// staged release may have been pruned or replaced meanwhile: the host
// fails, naming the holder, and the lock is no longer counted as ours.
func (d *deployment) checkLock(hr *hostRun) bool {
	argv, err := hr.layout.CheckLock(d.id)
	s, exit, err := d.command(d.ctx, hr, "lock.check", argv, err, ExitLockHeld)
	if err != nil {
		d.fail(hr, "lock.check", err)
		return false
	}
	if exit == 0 {
		return true
	}
	hr.locked = false
	held := ParseLockInfo(s.Output())
	if held.Deployment == "" {
		err = fmt.Errorf("host %s is no longer locked by this deployment: its lock was removed (broken) after its stage, "+
			"so its staged release may have changed; it is not switched", hr.host.Addr)
	} else {
		err = fmt.Errorf("host %s is locked by deployment %s (%s, since %s) now, not by this deployment: its lock changed "+
			"hands after its stage; it is not switched", hr.host.Addr, held.Deployment, held.Holder, held.Since.Format(time.RFC3339))
	}
	d.fail(hr, "lock.check", err)
	return false
}
