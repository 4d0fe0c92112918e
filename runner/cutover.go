package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"releasedesk/events/catalog"
)

// The two-phase cut-over. Each host of a batch is staged first (its
// release complete, sealed and checked), and its switch session is then
// opened at once and left waiting at its gate (seqScript): the commands
// to switch, run post_release, prune and unlock are on the host, loaded,
// waiting for one line. When every host of the batch is staged, the
// runner writes "go" to all of them in one pass: the hosts switch within
// a few milliseconds of each other instead of one session setup after
// another (1.9 s between the first and the last of 100 hosts before).
// A rollback to a release still on the host goes further: its prepare
// (lock, current, the release) and its switch are one session, gated in
// the middle, so the host costs one session in all.
//
// Safety is the sequential path's: the gate opens only on "go", which is
// written only when the batch's stage went well and the deployment is
// not stopping; anything else (a halt, a cancel, the connection lost,
// this process dying) closes the session's stdin, and the script stops
// at the gate having changed nothing; past the gate, the script's
// watcher kills what runs when stdin closes, as for every command. The
// lock stays held until the unlock at the session's end, and a host that
// did not get there is tidied as before (tidy). A batch that parks its
// hosts (more hosts than `parallel`) and the local strategy keep the
// sequential switch: a waiting session needs an open connection.

// armedSwitch is a host's switch session, open and waiting at its gate.
type armedSwitch struct {
	nonce  string
	argv   []string
	post   []seqCmd // after the gate: switchParts
	remove []string // what post prunes
	out    *gateOutput
	ctl    *io.PipeWriter
	cancel context.CancelCauseFunc
	ended  chan struct{} // closed when the session ended; exit and err are set then
	exit   int
	err    error
	fired  bool
	timer  *time.Timer // bounds the session after go
}

// errGateTimeout ends a gated session that took longer than StepTimeout
// before its gate, or after its go.
var errGateTimeout = errors.New("runner: step timeout")

// canArm tells whether the host's switch can wait at a gate: an SSH host
// (not the local strategy) of a batch that does not park its hosts.
func (d *deployment) canArm(hr *hostRun) bool {
	_, ssh := hr.ex.(*SSHExecutor)
	return ssh && hr.armable
}

// armedEnv is what go carries for the hook: its secrets and the
// variables that depend on what prepare read.
func (d *deployment) armedEnv(hr *hostRun) []string {
	env := append([]string(nil), d.envHidden...)
	if d.p.Hooks.PostRelease != "" && hr.previous != "" {
		env = append(env, "RELEASEDESK_PREVIOUS="+hr.previous)
	}
	return env
}

// openGated runs pre, the gate, then post in one session on the host's
// connection, and returns once the gate is ready or the session ended.
// pre makes the step preName, as sequence would (its results, the part
// that failed, the error); the armed session is returned when the gate
// is ready, else nil (pre failed or stopped at an answer, or the session
// ended). A post that cannot be built runs pre alone.
func (d *deployment) openGated(hr *hostRun, preName string, pre, post []seqCmd, remove []string) ([]SeqResult, *step, string, error, *armedSwitch) {
	nonce := newSeqNonce()
	parts := make([]SeqPart, 0, len(pre)+1+len(post))
	ungated := func() ([]SeqResult, *step, string, error, *armedSwitch) {
		if len(pre) == 0 {
			return nil, nil, "", nil, nil
		}
		res, s, failed, err := d.sequence(hr, preName, pre)
		return res, s, failed, err, nil
	}
	for _, c := range pre {
		if c.buildErr != nil {
			return ungated()
		}
		parts = append(parts, SeqPart{Name: c.name, Argv: c.argv})
	}
	parts = append(parts, SeqPart{Name: GatePart})
	for _, c := range post {
		if c.buildErr != nil {
			return ungated()
		}
		parts = append(parts, SeqPart{Name: c.name, Argv: c.argv})
	}
	argv, err := Sequence(nonce, parts...)
	if err != nil {
		return ungated()
	}
	var s *step
	if preName != "" {
		s = d.beginStep(hr.host.Addr, preName, argv)
	}
	ctx, cancel := context.WithCancelCause(d.ctx)
	pr, pw := io.Pipe()
	a := &armedSwitch{nonce: nonce, argv: argv, post: post, remove: remove, out: newGateOutput(nonce), ctl: pw,
		cancel: cancel, ended: make(chan struct{})}
	timer := time.AfterFunc(d.r.cfg.StepTimeout, func() { cancel(errGateTimeout) })
	ex := hr.ex.(*SSHExecutor)
	go func() {
		a.exit, a.err = ex.RunGated(ctx, argv, pr, a.out)
		a.err = d.gateError(ctx, preName, a.err)
		_ = pr.Close()
		cancel(nil)
		close(a.ended)
	}()
	select {
	case <-a.out.ready:
		timer.Stop()
	case <-a.ended:
		timer.Stop()
	}
	preOut := a.out.preText()
	if s != nil {
		_, _ = s.Write([]byte(preOut))
	}
	res := ParseSequence(nonce, preOut, len(pre))
	select {
	case <-a.out.ready:
		if s != nil {
			_ = s.finish(0, nil)
		}
		return res, s, "", nil, a
	default:
	}
	<-a.ended
	failed, err := seqOutcome(pre, res, a.exit, a.err)
	passed := true // every part before the gate ran and said 0, yet no gate
	for _, r := range res {
		passed = passed && r.Ran && r.Exit == 0
	}
	if failed == "" && err == nil && passed {
		failed, err = GatePart, fmt.Errorf("%s: the session ended at its gate (exit status %d)", preName, a.exit)
	}
	if s != nil {
		err = s.finish(a.exit, err, a.exit)
	}
	return res, s, failed, err, nil
}

// gateError says why a gated session ended early, as runIn does for a
// step: its time ran out, or a user cancelled the deployment.
func (d *deployment) gateError(ctx context.Context, name string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(context.Cause(ctx), errGateTimeout):
		return fmt.Errorf("%s: no answer within %s: %w", name, d.r.cfg.StepTimeout, err)
	case errors.Is(context.Cause(d.ctx), errCancelRequested):
		return fmt.Errorf("%s: %w", name, errCancelRequested)
	}
	return err
}

// arm opens the switch session of a host just staged, waiting at its gate
// for the batch's cut-over. A host whose session cannot wait (it ended:
// the connection went away) is switched the sequential way.
func (d *deployment) arm(hr *hostRun) {
	post, _, remove := d.switchParts(hr, switchOpts{prune: true, gated: true})
	_, _, _, _, a := d.openGated(hr, "", nil, post, remove)
	hr.armed = a
}

// fire opens the gates of the batch's armed hosts, all in one pass.
func (d *deployment) fire(hosts []*hostRun) {
	var wg sync.WaitGroup
	for _, hr := range hosts {
		a := hr.armed
		if a == nil || a.fired {
			continue
		}
		block, err := envBlock(d.armedEnv(hr))
		if err != nil {
			continue // never fired: the session stops at its gate (disarm)
		}
		a.fired = true
		hr.switching = true
		a.timer = time.AfterFunc(d.r.cfg.StepTimeout, func() { a.cancel(errGateTimeout) })
		wg.Go(func() { _, _ = a.ctl.Write(append([]byte("go\n"), block...)) })
	}
	wg.Wait()
}

// finishArmed follows a fired host's switch session to its end, as the
// step "switch": the host counts as switched as soon as its switch
// reports (not when the hook and the unlock after it are done), then the
// rest is read as switchHost reads it.
func (d *deployment) finishArmed(hr *hostRun) {
	a := hr.armed
	hr.armed = nil
	s := d.beginStep(hr.host.Addr, "switch", a.argv)
	a.out.attach(s)
	n := 1 + len(a.post) // the gate, then post
	var res []SeqResult
	for done := false; !done; {
		select {
		case <-a.ended:
			done = true
		case <-a.out.changed:
		}
		res = ParseSequence(a.nonce, a.out.postText(), n)
		if !hr.switched && res[0].Ran && res[0].Exit == 0 && res[1].Ran && res[1].Exit == 0 {
			hr.switched = true
			_ = d.emit(catalog.TypeHostSwitched, d.hostEvent(hr, d.req.Version, d.req.Commit, hr.previous))
		}
	}
	_ = a.ctl.Close()
	if a.timer != nil {
		a.timer.Stop()
	}
	if !res[0].Ran || res[0].Exit != 0 {
		// The gate never opened: nothing after it ran.
		hr.switching = false
		err := s.finish(a.exit, fmt.Errorf("switch: the session ended before its cut-over: %w", orExit(a.err, a.exit)))
		d.fail(hr, "switch", err)
		return
	}
	failed, err := seqOutcome(a.post, res[1:], a.exit, a.err)
	err = s.finish(a.exit, err, a.exit)
	d.switchAnswer(hr, s, a.post, res[1:], failed, err, a.remove)
}

// orExit is err, or an error naming a non-zero exit status.
func orExit(err error, exit int) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("exit status %d", exit)
}

// disarm ends a host's armed session before it is tidied: one never fired
// stops at its gate (its stdin closed) having changed nothing; one fired
// but not followed yet (a halt stopped the batch's loop) is followed to
// its end, so that what it did is known and recorded.
func (d *deployment) disarm(hr *hostRun) {
	a := hr.armed
	if a == nil {
		return
	}
	if a.fired {
		d.finishArmed(hr)
		return
	}
	hr.armed = nil
	_ = a.ctl.CloseWithError(errors.New("the cut-over was called off"))
	select {
	case <-a.ended:
	case <-time.After(cleanupTimeout):
		a.cancel(errGateTimeout)
		<-a.ended
	}
}

// gateOutput is a gated session's output: what came before the gate's
// "ready" marker, then what came after it, which goes to the switch step
// once one is attached (finishArmed).
type gateOutput struct {
	mu      sync.Mutex
	marker  []byte
	pre     bytes.Buffer
	post    bytes.Buffer // kept whole (up to maxCaptured) to be parsed
	passed  bool
	to      io.Writer
	ready   chan struct{} // closed at the marker
	changed chan struct{} // pinged on every write after it
}

func newGateOutput(nonce string) *gateOutput {
	return &gateOutput{marker: []byte("\n" + nonce + " " + GatePart + " ready\n"),
		ready: make(chan struct{}), changed: make(chan struct{}, 1)}
}

func (g *gateOutput) Write(p []byte) (int, error) {
	n := len(p)
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.passed {
		g.pre.Write(p)
		i := bytes.Index(g.pre.Bytes(), g.marker)
		if i < 0 {
			return len(p), nil
		}
		cut := i + len(g.marker)
		g.post.Write(g.pre.Bytes()[cut:])
		g.pre.Truncate(i)
		g.passed = true
		close(g.ready)
		p = g.post.Bytes()
		if len(p) == 0 {
			return n, nil
		}
	} else if room := maxCaptured - g.post.Len(); room > 0 {
		g.post.Write(p[:min(room, len(p))])
	}
	if g.to != nil && len(p) > 0 {
		_, _ = g.to.Write(p)
	}
	select {
	case g.changed <- struct{}{}:
	default:
	}
	return n, nil
}

// attach sends what came after the gate, so far and from now on, to w.
func (g *gateOutput) attach(w io.Writer) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.to = w
	if g.post.Len() > 0 {
		_, _ = w.Write(g.post.Bytes())
	}
}

func (g *gateOutput) preText() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.pre.String()
}

func (g *gateOutput) postText() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.post.String()
}
