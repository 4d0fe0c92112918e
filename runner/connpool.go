package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"sync"
	"time"
)

// A host's connection outlives its deployment for a short, bounded idle
// time (Config.IdleConnTimeout): the next deployment to the same host
// (above all a rollback right after a bad deploy, when every second
// counts) starts on it without a handshake, which costs more than half a
// second when twenty hosts share this machine, and a network round trip
// or more on a real fleet.
//
// What may be reused, and when:
//   - only a connection made with the same key file to the same
//     user@host:port, while the app's known_hosts and the key file are
//     byte for byte what they were at its dial (stamp): a host key an
//     admin removed or replaced since, or a new key file, means a new dial
//     under the checks of the day;
//   - only one that answers a keepalive at once (a host that went away
//     while it idled is dialled again, not found dead at the first
//     command);
//   - never more than `parallel` of the deployment that let them go, and
//     each connect of a deployment (a new dial or a kept connection)
//     closes the oldest idle ones so that its own connections, counted
//     from before they exist, plus the idle ones stay within its
//     `parallel`: the peak of connections open at once is today's.
//
// Each idle connection is closed when its time is up, when the runner
// closes, or when it is evicted; its keepalive keeps running meanwhile.

// DefaultIdleConnTimeout is Config.IdleConnTimeout's default.
const DefaultIdleConnTimeout = time.Minute

// idleCheckTimeout bounds the keepalive that vets an idle connection
// before its reuse.
const idleCheckTimeout = 2 * time.Second

// connPool holds idle connections, oldest first.
type connPool struct {
	mu      sync.Mutex
	timeout time.Duration // <= 0: nothing is kept
	idle    []*idleConn
	closed  bool
}

type idleConn struct {
	ex    *SSHExecutor
	timer *time.Timer
}

// poolKey names what a connection was made for.
func poolKey(addr, keyPath string) string { return addr + "\x00" + keyPath }

// dialStamp fingerprints what a dial's trust rests on: the known_hosts and
// the key file, as they are now. "" when either cannot be read (then
// nothing is reused).
func dialStamp(knownHosts, keyPath string) string {
	h := sha256.New()
	for _, p := range []string{knownHosts, keyPath} {
		b, err := os.ReadFile(p)
		if err != nil {
			return ""
		}
		h.Write([]byte(p))
		h.Write([]byte{0})
		h.Write(b)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// take returns an idle connection made for key under stamp that still
// answers, or nil. One made under another stamp is closed.
func (p *connPool) take(ctx context.Context, key, stamp string) *SSHExecutor {
	p.mu.Lock()
	var found *SSHExecutor
	for i, ic := range p.idle {
		if ic.ex.poolKey != key {
			continue
		}
		ic.timer.Stop()
		p.idle = append(p.idle[:i], p.idle[i+1:]...)
		found = ic.ex
		break
	}
	p.mu.Unlock()
	if found == nil {
		return nil
	}
	if stamp == "" || found.poolStamp != stamp || !found.answers(ctx, idleCheckTimeout) {
		_ = found.Close()
		return nil
	}
	return found
}

// put keeps ex idle for the pool's timeout, closing it instead when the
// pool keeps nothing or is closed. limit (the `parallel` of the deployment
// that lets it go) bounds the idle connections: the oldest go first.
func (p *connPool) put(ex *SSHExecutor, limit int) {
	p.mu.Lock()
	if p.closed || p.timeout <= 0 || ex.poolStamp == "" || ex.isClosed() {
		p.mu.Unlock()
		_ = ex.Close()
		return
	}
	ic := &idleConn{ex: ex}
	ic.timer = time.AfterFunc(p.timeout, func() { p.expire(ic) })
	p.idle = append(p.idle, ic)
	evicted := p.trimLocked(max(limit, 1))
	p.mu.Unlock()
	closeAll(evicted)
}

// trim closes the oldest idle connections until at most limit are left.
func (p *connPool) trim(limit int) {
	p.mu.Lock()
	evicted := p.trimLocked(max(limit, 0))
	p.mu.Unlock()
	closeAll(evicted)
}

func (p *connPool) trimLocked(limit int) []*SSHExecutor {
	var out []*SSHExecutor
	for len(p.idle) > limit {
		ic := p.idle[0]
		ic.timer.Stop()
		p.idle = p.idle[1:]
		out = append(out, ic.ex)
	}
	return out
}

// expire closes ic when its idle time is up (unless it was taken).
func (p *connPool) expire(ic *idleConn) {
	p.mu.Lock()
	for i, x := range p.idle {
		if x == ic {
			p.idle = append(p.idle[:i], p.idle[i+1:]...)
			p.mu.Unlock()
			_ = ic.ex.Close()
			return
		}
	}
	p.mu.Unlock()
}

// idleCount is how many connections are idle.
func (p *connPool) idleCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

// close closes every idle connection and keeps nothing from now on.
func (p *connPool) close() {
	p.mu.Lock()
	p.closed = true
	evicted := p.trimLocked(0)
	p.mu.Unlock()
	closeAll(evicted)
}

// closeAll hangs every connection up at once, then closes them one by
// one (each Close waits for its reader: see SSHExecutor.Close).
func closeAll(exs []*SSHExecutor) {
	for _, ex := range exs {
		ex.hangUp()
	}
	for _, ex := range exs {
		_ = ex.Close()
	}
}

// CloseIdleConnections closes the connections kept idle after
// deployments (see connpool.go); later deployments dial again.
func (r *Runner) CloseIdleConnections() { r.pool.trim(0) }

// IdleConnections is how many connections are kept idle now.
func (r *Runner) IdleConnections() int { return r.pool.idleCount() }
