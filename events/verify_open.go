package events

import (
	"context"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"
)

// Open checks only the end of the log against its head record, so that a
// start stays quick on a long log. Damage in the middle (a byte flipped in
// a table on disk) would go unnoticed until someone ran a verification, and
// the app would keep appending to a log that no longer proves its past.
// With Options.VerifyOnOpen the store verifies everything once in the
// background: every table block's checksum, then the hash chain from the
// first event to the head record. Until that ends the writer holds appends
// back; if it fails, the store turns read-only and Problem says why. Reads
// are served all along.

// startVerification runs the background verification of an open store.
func (s *Store) startVerification() {
	ctx, cancel := context.WithCancel(context.Background())
	s.verified = make(chan struct{})
	s.stopVerify = cancel
	go func() {
		defer close(s.verified)
		defer cancel()
		start := time.Now()
		err := s.verifyStored(ctx)
		if ctx.Err() != nil {
			return // closed meanwhile: the next open verifies again
		}
		if err == nil {
			s.log.WithFields(logrus.Fields{"position": s.Head().Position, "took": time.Since(start).Round(time.Millisecond)}).Info("event log verified")
			return
		}
		refusal := error(&readOnlyError{reason: err.Error()})
		s.lateDamage.Store(&refusal)
		s.log.WithError(err).Error("event log damaged: writes refused, reads served")
	}()
}

// verifyStored is the verification itself. Badger's readers may panic on a
// damaged block; that is damage too, not a crash.
func (s *Store) verifyStored(ctx context.Context) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &DamagedStoreError{Reason: fmt.Sprintf("reading it failed (%v)", p)}
		}
	}()
	if err := s.db.VerifyChecksum(); err != nil {
		return &DamagedStoreError{Reason: err.Error()}
	}
	rep, err := Verify(ctx, s)
	if err != nil {
		return err
	}
	return rep.Err()
}

// awaitVerification blocks the writer until the background verification
// has ended (at once without one) and returns why appends are refused
// after it, or nil.
func (s *Store) awaitVerification() error {
	if s.verified != nil {
		select {
		case <-s.verified:
		case <-s.stop:
			return ErrClosed
		}
	}
	if p := s.lateDamage.Load(); p != nil {
		return *p
	}
	return nil
}

// Problem says why the store refuses appends now, or nil: damage found at
// open or by the background verification, a failed commit, or too little
// free space on the data directory's disk (measured within the last
// second: diskReadingFresh).
func (s *Store) Problem() error {
	if s.refused != nil {
		return s.refused
	}
	if p := s.lateDamage.Load(); p != nil {
		return *p
	}
	if p := s.broken.Load(); p != nil {
		return *p
	}
	if s.guard != nil {
		return s.guard.recent()
	}
	return nil
}

// DiskRefusals counts the appends refused so far because the data disk was
// nearly full. A caller that sees it grow knows that something could not be
// recorded, even if the disk had room again before it looked.
func (s *Store) DiskRefusals() uint64 {
	if s.guard == nil {
		return 0
	}
	return s.guard.refusals.Load()
}

// Verifying tells whether the background verification is still running.
func (s *Store) Verifying() bool {
	if s.verified == nil {
		return false
	}
	select {
	case <-s.verified:
		return false
	default:
		return true
	}
}
