package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"releasedesk/app/notify"
	"releasedesk/events"
	"releasedesk/events/catalog"
)

// Planner says which messages an event calls for: one Delivery per
// channel it goes to, none for most events. The outbox calls it in the
// log's order, once per event per run (again after a restart for the
// events after the checkpoint), so it must be deterministic in what it
// delivers and its ids.
type Planner interface {
	Plan(ctx context.Context, e events.Envelope) ([]Delivery, error)
}

// Config says what an Outbox follows and how it sends.
type Config struct {
	Log     events.Log
	Planner Planner
	// Checkpoint is the file the outbox keeps its position in; with none
	// ("") it starts at the log's end each time it runs.
	Checkpoint string
	// CheckpointStore, when set, keeps the position instead of a file (a
	// server on PostgreSQL keeps it in the database).
	CheckpointStore CheckpointStore
	// Actor records the attempts (the app's system actor).
	Actor  string
	Now    func() time.Time
	Logger logrus.FieldLogger
	Retry  Retry
	// Limits is each kind's rate limit; nil: notify.RateLimit.
	Limits func(kind string) []notify.Limit
	// AttemptTimeout bounds one attempt; 0: 15 s.
	AttemptTimeout time.Duration
	// CheckpointEvery is how often a moved position is saved; 0: 1 s.
	CheckpointEvery time.Duration
}

// Outbox follows the log and delivers what its Planner plans.
type Outbox struct {
	cfg Config

	mu        sync.Mutex
	workers   map[string]*worker
	unsettled map[uint64]int // event position -> its deliveries not yet settled
	scanned   uint64         // the last position planned
	saved     uint64         // the checkpoint last written
	ctx       context.Context
	wg        sync.WaitGroup
}

// New makes an outbox; Run runs it.
func New(cfg Config) *Outbox {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = logrus.StandardLogger()
	}
	if cfg.Limits == nil {
		cfg.Limits = notify.RateLimit
	}
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = 15 * time.Second
	}
	if cfg.CheckpointEvery <= 0 {
		cfg.CheckpointEvery = time.Second
	}
	cfg.Retry = cfg.Retry.withDefaults()
	cfg.Logger = cfg.Logger.WithField("component", "outbox")
	return &Outbox{cfg: cfg, workers: map[string]*worker{}, unsettled: map[uint64]int{}}
}

// Run delivers until ctx ends: first the messages still due from before
// (from the checkpoint on), then each new event's as it is appended. It
// returns ctx's error, or why it could not follow the log, after saving
// its position.
func (o *Outbox) Run(ctx context.Context) error {
	o.ctx = ctx
	defer o.wg.Wait()
	from, err := o.start()
	if err != nil {
		return err
	}
	head := o.cfg.Log.Head().Position
	due, err := o.catchUp(ctx, from, head)
	if err != nil {
		return err
	}
	o.mu.Lock()
	o.scanned = max(head, from-1)
	o.mu.Unlock()
	for _, p := range due {
		o.dispatch(p)
	}
	o.saveCheckpoint()
	o.cfg.Logger.WithFields(logrus.Fields{"from": from, "head": head, "due": len(due)}).Info("outbox following the log")
	return o.follow(ctx, o.scanned+1)
}

// start is the first position to read: the checkpoint's, or the log's
// end when there is none (the past was never the outbox's to tell).
func (o *Outbox) start() (uint64, error) {
	head := o.cfg.Log.Head().Position
	if o.cfg.Checkpoint == "" && o.cfg.CheckpointStore == nil {
		return head + 1, nil
	}
	cp, ok, err := o.readCheckpoint()
	if err != nil {
		o.cfg.Logger.WithError(err).Warn("starting at the log's end")
		return head + 1, nil
	}
	if !ok {
		return head + 1, nil
	}
	if cp.Position > head+1 {
		o.cfg.Logger.WithFields(logrus.Fields{"checkpoint": cp.Position, "head": head}).Warn("the checkpoint is past the log's end: starting at the end")
		return head + 1, nil
	}
	return cp.Position, nil
}

var errPastHead = errors.New("past the head")

// catchUp reads from..head: the deliveries its events call for, brought
// to their recorded attempt by the notification events after them.
func (o *Outbox) catchUp(ctx context.Context, from, head uint64) ([]*pending, error) {
	if from > head {
		return nil, nil
	}
	byID := map[string]*pending{}
	var order []*pending
	err := o.cfg.Log.ReadAll(ctx, from, func(e events.Envelope) error {
		if e.Position > head {
			return errPastHead
		}
		if isOutcome(e.Type) {
			restore(byID, e)
			return nil
		}
		ds, err := o.plan(ctx, e)
		if err != nil {
			return err
		}
		for _, d := range ds {
			p := &pending{Delivery: d, due: o.cfg.Now()}
			if _, dup := byID[d.ID]; !dup {
				byID[d.ID] = p
				order = append(order, p)
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errPastHead) {
		return nil, err
	}
	due := order[:0]
	for _, p := range order {
		if byID[p.ID] != nil {
			due = append(due, p)
		}
	}
	return due, nil
}

func isOutcome(typ string) bool {
	return typ == catalog.TypeNotificationSent || typ == catalog.TypeNotificationFailed
}

// restore applies a recorded attempt to its delivery: sent or given up
// settles it (removed), a failure sets its attempts and next try.
func restore(byID map[string]*pending, e events.Envelope) {
	var n catalog.Notification
	if json.Unmarshal(e.Data, &n) != nil {
		return
	}
	p := byID[n.Delivery]
	if p == nil {
		return
	}
	if e.Type == catalog.TypeNotificationSent || n.NextAttempt.IsZero() {
		byID[n.Delivery] = nil
		return
	}
	p.attempts, p.due = n.Attempt, n.NextAttempt
}

// plan asks the planner, and drops (with a warning) an event it cannot
// plan: one bad event must not stop every later message.
func (o *Outbox) plan(ctx context.Context, e events.Envelope) ([]Delivery, error) {
	ds, err := o.cfg.Planner.Plan(ctx, e)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		o.cfg.Logger.WithError(err).WithFields(logrus.Fields{"position": e.Position, "type": e.Type}).Warn("no message for this event: it could not be planned")
		return nil, nil
	}
	return ds, nil
}

// follow plans each new event as the log commits it.
func (o *Outbox) follow(ctx context.Context, from uint64) error {
	sub := o.cfg.Log.Subscribe(ctx, from)
	tick := time.NewTicker(o.cfg.CheckpointEvery)
	defer tick.Stop()
	defer o.saveCheckpoint()
	for {
		select {
		case <-tick.C:
			o.saveCheckpoint()
		case e, ok := <-sub.C:
			if !ok {
				return sub.Err()
			}
			var ds []Delivery
			if !isOutcome(e.Type) {
				var err error
				if ds, err = o.plan(ctx, e); err != nil {
					return err
				}
			}
			now := o.cfg.Now()
			o.mu.Lock()
			o.scanned = e.Position
			o.mu.Unlock()
			for _, d := range ds {
				o.dispatch(&pending{Delivery: d, due: now})
			}
		}
	}
}

// dispatch hands a delivery to its channel's worker, starting it first.
func (o *Outbox) dispatch(p *pending) {
	o.mu.Lock()
	o.unsettled[p.Position]++
	w := o.workers[p.key()]
	if w == nil {
		w = newWorker(o, p.Kind)
		o.workers[p.key()] = w
		o.wg.Add(1)
		go func() {
			defer o.wg.Done()
			w.run(o.ctx)
		}()
	}
	o.mu.Unlock()
	w.add(p)
}

// settle marks one of an event's deliveries done.
func (o *Outbox) settle(position uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.unsettled[position]--; o.unsettled[position] <= 0 {
		delete(o.unsettled, position)
	}
}

// position is where a restart must read from: the oldest event with a
// delivery not settled, else just after the last one planned.
func (o *Outbox) position() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	pos := o.scanned + 1
	for p := range o.unsettled {
		pos = min(pos, p)
	}
	return pos
}

func (o *Outbox) saveCheckpoint() {
	if o.cfg.Checkpoint == "" && o.cfg.CheckpointStore == nil {
		return
	}
	pos := o.position()
	if pos == o.saved {
		return
	}
	if err := o.writeCheckpoint(checkpoint{Position: pos}); err != nil {
		o.cfg.Logger.WithError(err).Warn("the outbox could not save its position")
		return
	}
	o.saved = pos
}

// Pending counts the messages not yet settled, for tests and health.
func (o *Outbox) Pending() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, c := range o.unsettled {
		n += c
	}
	return n
}
