package events

import (
	"context"
	"errors"
	"fmt"
)

// Kinds of chain problem Verify reports. They are strings, not an enum type,
// because they travel as they are into JSON reports and CLI output.
const (
	// KindEdited: an event's hash does not match its content.
	KindEdited = "edited"
	// KindMissing: a position is absent; the events after it skip it.
	KindMissing = "missing"
	// KindReordered: an event sits where another was expected, or links to
	// the wrong predecessor although its own hash is right.
	KindReordered = "reordered"
	// KindLostTail: the log ends before the head record says it reaches, or
	// the event at that position is not the one the head record names.
	KindLostTail = "lost_tail"
)

// Problem is the first place a chain fails to verify. It is also an error
// (matching ErrChainBroken), so callers can errors.As a Report's Err into it.
type Problem struct {
	Position uint64 `json:"position"`
	Kind     string `json:"kind"`
	Reason   string `json:"reason"`
}

func (p *Problem) Error() string {
	return fmt.Sprintf("events: chain broken at position %d: %s (%s)", p.Position, p.Kind, p.Reason)
}

// Is lets errors.Is(err, ErrChainBroken) hold for a Problem.
func (p *Problem) Is(target error) bool { return target == ErrChainBroken }

// Report is the outcome of walking a chain. Count and Head describe the
// prefix that verified: all of the log when Problem is nil.
type Report struct {
	Count   uint64   `json:"count"`
	Head    Head     `json:"head"`
	Problem *Problem `json:"problem,omitempty"`
}

// OK reports whether the whole chain verified.
func (r Report) OK() bool { return r.Problem == nil }

// Err is nil for a sound chain, else an error that matches ErrChainBroken and
// reads like "chain broken at position 42: edited (its hash does not match
// its content)". errors.As gives the *Problem.
func (r Report) Err() error {
	if r.Problem == nil {
		return nil
	}
	p := *r.Problem
	return &p
}

// Verify walks r's raw events from position 1 and names the first position
// where the hash chain breaks. Positions must run 1, 2, 3… with no gap; each
// PrevHash must be the previous Hash (GenesisHash first); each Hash must be
// the event's ComputeHash; and the log must reach the separately kept
// DurableHead with the same hash there. A broken chain is a Report with a
// Problem, not an error: the error is only for failing to read (or ctx).
func Verify(ctx context.Context, r RawReader) (Report, error) {
	return verifyChain(ctx, r, false, "the head record")
}

// errStopWalk ends a ReadRaw walk early; it never escapes this package.
var errStopWalk = errors.New("events: stop walk")

// chainWalker holds the state of one walk. sparse is for filtered exports:
// positions need only increase, and links are checked only between events
// whose positions are consecutive.
type chainWalker struct {
	sparse   bool
	headName string // what DurableHead is, for messages
	durable  Head
	rep      Report
	next     uint64 // position expected next (dense mode)
	prevHash string
	// gap is set once a dense walk finds a position higher than expected. The
	// walk then reads on: if a skipped position turns up later the events
	// were reordered, otherwise they are missing.
	gap      *Problem
	gapFound uint64
}

// verifyChain is Verify with the options archives need: sparse for a
// filtered export, and headName to say what the durable head is.
func verifyChain(ctx context.Context, r RawReader, sparse bool, headName string) (Report, error) {
	durable, err := r.DurableHead()
	if err != nil {
		return Report{}, fmt.Errorf("events: verify: read durable head: %w", err)
	}
	w := &chainWalker{sparse: sparse, headName: headName, durable: durable, next: 1, prevHash: GenesisHash}
	w.rep.Head = Head{Position: 0, Hash: GenesisHash}
	n := 0
	err = r.ReadRaw(ctx, 1, func(e Envelope) error {
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		return w.step(e)
	})
	if err != nil && !errors.Is(err, errStopWalk) {
		return w.rep, fmt.Errorf("events: verify: %w", err)
	}
	if w.gap != nil {
		w.rep.Problem = w.gap
	}
	if w.rep.Problem == nil {
		w.checkTail()
	}
	return w.rep, nil
}

// step checks one event. It returns errStopWalk once the verdict is known.
func (w *chainWalker) step(e Envelope) error {
	if w.gap != nil {
		// Only looking for a skipped position now.
		if e.Position >= w.gap.Position && e.Position < w.gapFound {
			w.gap.Kind = KindReordered
			w.gap.Reason = fmt.Sprintf("position %d expected, %d found; %d comes later in the log", w.gap.Position, w.gapFound, e.Position)
			return errStopWalk
		}
		return nil
	}
	last := w.rep.Head.Position
	switch {
	case !w.sparse && e.Position > w.next:
		w.gap = &Problem{Position: w.next, Kind: KindMissing,
			Reason: fmt.Sprintf("position %d expected, %d found", w.next, e.Position)}
		w.gapFound = e.Position
		return nil
	case !w.sparse && e.Position < w.next:
		return w.fail(w.next, KindReordered, fmt.Sprintf("position %d expected, %d found", w.next, e.Position))
	case w.sparse && e.Position <= last:
		return w.fail(e.Position, KindReordered, fmt.Sprintf("position %d follows position %d", e.Position, last))
	}
	if got := e.ComputeHash(); got != e.Hash {
		return w.fail(e.Position, KindEdited, "its hash does not match its content")
	}
	linked := !w.sparse || e.Position == last+1
	if linked && e.PrevHash != w.prevHash {
		return w.fail(e.Position, KindReordered, fmt.Sprintf(
			"it links to a predecessor with hash %s, but position %d has hash %s; an event was moved or replaced",
			short(e.PrevHash), last, short(w.prevHash)))
	}
	if e.Position == w.durable.Position && w.durable.Hash != "" && e.Hash != w.durable.Hash {
		return w.fail(e.Position, KindLostTail, fmt.Sprintf(
			"%s names hash %s at position %d, the log has %s; the tail was lost and rewritten",
			w.headName, short(w.durable.Hash), e.Position, short(e.Hash)))
	}
	w.rep.Count++
	w.rep.Head = Head{Position: e.Position, Hash: e.Hash}
	w.prevHash = e.Hash
	w.next = e.Position + 1
	return nil
}

// checkTail runs after a clean walk: the log must reach the durable head.
func (w *chainWalker) checkTail() {
	last := w.rep.Head.Position
	if w.durable.Position <= last {
		return
	}
	if w.sparse {
		// A filtered export need not hold the head's event; nothing to say.
		return
	}
	ends := fmt.Sprintf("it ends at position %d", last)
	if last == 0 {
		ends = "it holds no event"
	}
	w.rep.Problem = &Problem{Position: last + 1, Kind: KindLostTail, Reason: fmt.Sprintf(
		"%s says the log reaches position %d, hash %s, but %s",
		w.headName, w.durable.Position, short(w.durable.Hash), ends)}
}

func (w *chainWalker) fail(pos uint64, kind, reason string) error {
	w.rep.Problem = &Problem{Position: pos, Kind: kind, Reason: reason}
	return errStopWalk
}

// short abbreviates a hash for messages; the full hashes are in the log.
func short(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	if h == "" {
		return `""`
	}
	return h
}
