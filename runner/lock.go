package runner

import (
	"context"
	"errors"
	"fmt"

	"github.com/sirupsen/logrus"

	"releasedesk/events"
	"releasedesk/events/catalog"
)

// The environment lock lives in the event log: stream lock/<project>/<env>
// alternates lock.acquired and lock.released (or lock.broken). Taking it is
// an append of lock.acquired at the version of a stream that is empty or
// whose last event frees it, so of two runners racing for it exactly one
// wins (the other gets events.ErrConcurrency and looks again). The remote
// lock on each host (Layout.Lock: a symlink made atomically to a dir that
// already holds who, which deployment and since when) is the second line:
// it also stops a Release Desk on another machine, which shares no log
// with this one.

// logLock is a held environment lock.
type logLock struct {
	log     Log
	stream  string
	ev      catalog.LockEvent
	version uint64 // the stream version of our lock.acquired
}

// acquireLock takes the environment lock for deployment, waiting (by
// subscription, not polling) while another deployment holds it, until ctx
// ends. A lock already held by this same deployment (a resume after a crash
// that recovery could not clean) is taken over as is.
func (r *Runner) acquireLock(ctx context.Context, p catalog.Project, env, deployment, holder string) (*logLock, error) {
	stream := catalog.LockStream(p.ID, env)
	for {
		last, found, err := r.lastEvent(ctx, stream)
		if err != nil {
			return nil, fmt.Errorf("read lock %s: %w", stream, err)
		}
		var held catalog.LockEvent
		free := !found
		if !free {
			free = last.Type != catalog.TypeLockAcquired
			if !free {
				_ = last.Decode(&held)
			}
		}
		if !free && held.Deployment == deployment {
			return &logLock{log: r.log, stream: stream, ev: held, version: last.Version}, nil
		}
		if free {
			ev := catalog.LockEvent{Project: p.ID, Environment: env, Deployment: deployment, Holder: holder, Since: r.now().UTC()}
			e, err := catalog.NewEvent(catalog.TypeLockAcquired, actorRunner, ev)
			if err != nil {
				return nil, err
			}
			out, err := r.log.Append(ctx, stream, int64(last.Version), e)
			if errors.Is(err, events.ErrConcurrency) {
				continue // someone else moved first: look again
			}
			if err != nil {
				return nil, fmt.Errorf("append lock.acquired: %w", err)
			}
			return &logLock{log: r.log, stream: stream, ev: ev, version: out[0].Version}, nil
		}
		r.logger.WithFields(logrus.Fields{"deploy": deployment, "lock": stream, "holder": held.Deployment}).
			Info("waiting for environment lock")
		if err := r.waitStream(ctx, stream, last.Position+1); err != nil {
			return nil, err
		}
	}
}

// lastEvent is a stream's last event, found by its head rather than by
// reading the stream (an environment's lock stream grows by two events a
// deployment, for good); ok is false for a stream with no event.
func (r *Runner) lastEvent(ctx context.Context, stream string) (e events.Envelope, ok bool, err error) {
	head, err := r.log.StreamHead(ctx, stream)
	if err != nil || head.Version == 0 {
		return events.Envelope{}, false, err
	}
	envs, err := r.log.ReadStream(ctx, stream, head.Version)
	if err != nil {
		return events.Envelope{}, false, err
	}
	if len(envs) == 0 {
		return events.Envelope{}, false, fmt.Errorf("stream %s: its head is version %d, but no event is there", stream, head.Version)
	}
	return envs[len(envs)-1], true, nil // later than the head if one came meanwhile
}

// waitStream returns once an event of stream is appended at or after
// position from, or ctx ends.
func (r *Runner) waitStream(ctx context.Context, stream string, from uint64) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sub := r.log.Subscribe(sctx, from)
	for e := range sub.C {
		if e.Stream == stream {
			return nil
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return fmt.Errorf("wait for %s: %w", stream, sub.Err())
}

// release appends lock.released at the version of our lock.acquired. If
// the stream moved on, an admin broke the lock meanwhile and there is
// nothing of ours to release. It uses a context of its own: a lock must be
// released on every path out, a cancelled one included.
func (l *logLock) release(ctx context.Context, reason string) error {
	ev := l.ev
	ev.Reason = reason
	e, err := catalog.NewEvent(catalog.TypeLockReleased, actorRunner, ev)
	if err != nil {
		return err
	}
	_, err = l.log.Append(context.WithoutCancel(ctx), l.stream, int64(l.version), e)
	if errors.Is(err, events.ErrConcurrency) {
		return nil
	}
	return err
}

// releaseLockOf frees an environment lock if (and only if) deployment holds
// it: recovery uses it for deployments that died holding one.
func (r *Runner) releaseLockOf(ctx context.Context, p catalog.Project, env, deployment, reason string) error {
	stream := catalog.LockStream(p.ID, env)
	last, found, err := r.lastEvent(ctx, stream)
	if err != nil || !found {
		return err
	}
	var held catalog.LockEvent
	if last.Type != catalog.TypeLockAcquired || last.Decode(&held) != nil || held.Deployment != deployment {
		return nil
	}
	l := &logLock{log: r.log, stream: stream, ev: held, version: last.Version}
	return l.release(ctx, reason)
}
