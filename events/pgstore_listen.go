package events

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgChannel is the NOTIFY channel a commit announces its head on.
const pgChannel = "rd_events"

// pgPollEvery is how often the head is read even without a notification:
// a notification lost with a dropped connection delays a subscriber by at
// most this much, never forever.
const pgPollEvery = time.Second

// listen follows the other instances' commits until Close: LISTEN on its
// own connection (a notification names the new head), and a poll of
// rd_head behind it. Either way the subscriptions read the new events
// themselves, by position, so nothing is missed or seen twice.
func (s *PgStore) listen() {
	defer close(s.listenDone)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.stop
		cancel()
	}()
	notes := make(chan Head, 1)
	go s.listenLoop(ctx, notes)
	poll := time.NewTicker(pgPollEvery)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case h := <-notes:
			s.seen(pgHead{tip: chainTip{head: h}})
		case <-poll.C:
			if h, err := s.readHead(ctx); err == nil {
				s.seen(h)
			}
		}
	}
}

// listenLoop keeps a LISTEN connection, connecting again after a failure.
func (s *PgStore) listenLoop(ctx context.Context, notes chan Head) {
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, notes)
		if ctx.Err() != nil {
			return
		}
		s.log.WithError(err).Warn("listening for other instances' commits: connecting again in a second")
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (s *PgStore) listenOnce(ctx context.Context, notes chan Head) error {
	conn, err := pgx.Connect(ctx, s.dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+pgChannel); err != nil {
		return err
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		h, ok := parseNotifyPayload(n.Payload)
		if !ok {
			continue
		}
		select {
		case notes <- h:
		default:
			// One is waiting already: the poll or the next one catches up.
			select {
			case <-notes:
			default:
			}
			notes <- h
		}
	}
}
