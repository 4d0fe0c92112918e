package events

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/sirupsen/logrus"
)

// Options configure a Store or a MemStore. The zero value is usable.
type Options struct {
	// Upcasters lifts old event schemas on ReadStream, ReadAll and Subscribe.
	// Nil means events are returned as stored.
	Upcasters *Upcasters
	// Now stamps appended events. Nil means time.Now. Tests inject a clock so
	// that hashes are reproducible.
	Now func() time.Time
	// Logger receives the store's own log lines and Badger's warnings. Nil
	// discards them.
	Logger logrus.FieldLogger
	// ReadOnly opens the store for review only: Badger is opened read-only,
	// nothing in the directory is written and Append returns ErrReadOnly.
	ReadOnly bool
	// MaxBatch is the most events the writer gathers from concurrent Appends
	// into one transaction and one fsync (group commit). 1 disables grouping;
	// 0 means defaultMaxBatch. One Append is never split, so a single Append
	// larger than MaxBatch is committed alone.
	MaxBatch int
	// MinFreeBytes is the free space kept in reserve on the data
	// directory's file system: below it appends fail with *DiskFullError
	// (diskguard.go). 0 means defaultMinFreeBytes.
	MinFreeBytes uint64
	// VerifyOnOpen verifies the whole store in the background after Open
	// and holds appends back until it has (verify_open.go).
	VerifyOnOpen bool
}

// defaultMaxBatch bounds one group commit. It is a latency bound more than a
// size bound: the byte budget (see commit.go) keeps a group inside Badger's
// transaction limit whatever this says.
const defaultMaxBatch = 4096

// withDefaults fills the zero fields so the rest of the package never checks
// for nil.
func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		o.Logger = l
	}
	if o.MinFreeBytes == 0 {
		o.MinFreeBytes = defaultMinFreeBytes
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = defaultMaxBatch
	}
	return o
}

// Badger sizing for a desktop app. Badger's defaults are for servers (64 MiB
// x 5 memtables, a 256 MiB block cache, 1 GiB value log files); with these a
// replay of a million events peaks well under the 300 MB budget.
const (
	badgerMemTableSize = 16 << 20
	badgerNumMemtables = 2
	badgerBlockCache   = 16 << 20
	badgerIndexCache   = 8 << 20
	badgerVLogFileSize = 64 << 20
	// badgerValueThreshold keeps typical events (a few hundred bytes) inside
	// the LSM tree, where a replay reads them sequentially, and sends large
	// ones (command output) to the value log. It also bounds what one event
	// costs a transaction, so that MaxEventsPerAppend events of any size
	// always fit in one (16 MiB memtables allow about 2.4 MB per transaction).
	badgerValueThreshold = 1 << 10
)

func badgerOptions(dir string, o Options) badger.Options {
	return badger.DefaultOptions(dir).
		WithSyncWrites(true).
		WithReadOnly(o.ReadOnly).
		WithMemTableSize(badgerMemTableSize).
		WithNumMemtables(badgerNumMemtables).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(8).
		WithBlockCacheSize(badgerBlockCache).
		WithIndexCacheSize(badgerIndexCache).
		WithValueLogFileSize(badgerVLogFileSize).
		WithValueThreshold(badgerValueThreshold).
		WithNumCompactors(2).
		WithNumGoroutines(2).
		WithMetricsEnabled(false).
		// One writer goroutine serialises all writes: Badger's conflict
		// tracking would only cost memory.
		WithDetectConflicts(false).
		WithLogger(badgerLogger{o.Logger.WithField("component", "badger")})
}

// badgerLogger passes Badger's warnings and errors to logrus with the text
// in a field, so the message stays constant; its info and debug lines are
// dropped.
type badgerLogger struct{ log logrus.FieldLogger }

func (l badgerLogger) Errorf(format string, args ...any) {
	l.log.WithField("detail", strings.TrimSpace(fmt.Sprintf(format, args...))).Error("badger error")
}

func (l badgerLogger) Warningf(format string, args ...any) {
	l.log.WithField("detail", strings.TrimSpace(fmt.Sprintf(format, args...))).Warn("badger warning")
}

func (badgerLogger) Infof(string, ...any)  {}
func (badgerLogger) Debugf(string, ...any) {}
