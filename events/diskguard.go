package events

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// defaultMinFreeBytes is the free space the store keeps in reserve on the
// data directory's file system. Badger writes its write-ahead log, its value
// log and its new tables through memory maps of files it sizes with
// ftruncate: a page the file system cannot back when it is touched kills
// the process with SIGBUS instead of failing a write. So the store refuses
// appends well before the disk is full. The reserve covers what Badger may
// still write without asking once an append is accepted: the memtable's
// flush to a table (badgerMemTableSize) and as much again for compaction.
// A new write-ahead log (2 x badgerMemTableSize) is preallocated as soon as
// it appears; until that succeeds appends are refused too.
const defaultMinFreeBytes = 2 * badgerMemTableSize

// diskGuard measures the data directory's free space before each group
// commit and keeps Badger's write-ahead logs backed by real blocks.
type diskGuard struct {
	dir     string // Badger's directory
	reserve uint64
	log     logrus.FieldLogger

	mu       sync.Mutex
	low      error  // the last check's refusal, nil when there was room
	nextMem  int    // the lowest memtable file id not yet preallocated
	unbacked string // a write-ahead log whose preallocation failed, "" if none
	refusals atomic.Uint64
	last     atomic.Pointer[diskReading] // the last check's, for recent
}

// diskReading is what a check found, and when.
type diskReading struct {
	at  time.Time
	err error
}

// diskReadingFresh is how old a check Problem may answer with. The API
// asks Problem for nearly every request (whether a running deployment
// is stalled), hundreds a second under load: measuring the file system
// each time, under the guard's lock that the group commit also takes,
// made requests queue on each other and on the commits. A second is
// nothing to a person reading "the disk is full", and appends still
// check before each commit.
const diskReadingFresh = time.Second

func newDiskGuard(dir string, reserve uint64, log logrus.FieldLogger) *diskGuard {
	g := &diskGuard{dir: dir, reserve: reserve, log: log}
	g.nextMem = g.lowestMemFid()
	g.mu.Lock()
	g.preallocateLocked()
	g.mu.Unlock()
	return g
}

// DiskFullError is what Append returns while the data directory's file
// system has less free space than the store keeps in reserve. It matches
// ErrDiskFull. Appends are accepted again as soon as space is freed.
type DiskFullError struct {
	Dir     string
	Free    uint64
	Reserve uint64
}

func (e *DiskFullError) Error() string {
	return fmt.Sprintf("events: the data directory's disk is full: %s free on the file system of %s, "+
		"less than the %s the event log keeps in reserve; writes are refused until space is freed",
		mebibytes(e.Free), e.Dir, mebibytes(e.Reserve))
}

func (e *DiskFullError) Is(target error) bool { return target == ErrDiskFull }

func mebibytes(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// check measures the free space now and returns a *DiskFullError when it is
// below the reserve. A file system that cannot be measured is not refused:
// the guard protects against a known danger, not an unknown one.
func (g *diskGuard) check() error {
	free, err := freeBytes(g.dir)
	if err != nil {
		g.last.Store(&diskReading{at: time.Now()})
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	defer func() { g.last.Store(&diskReading{at: time.Now(), err: g.low}) }()
	g.preallocateLocked()
	was := g.low
	g.low = nil
	if free < g.reserve || g.unbacked != "" {
		g.low = &DiskFullError{Dir: filepath.Dir(g.dir), Free: free, Reserve: g.reserve}
	}
	switch {
	case g.low != nil && was == nil:
		g.log.WithError(g.low).Error("data disk nearly full: appends refused")
	case g.low == nil && was != nil:
		g.log.WithField("free", mebibytes(free)).Info("data disk has room again: appends accepted")
	}
	return g.low
}

// recent is check's answer, from the last check when it is younger than
// diskReadingFresh.
func (g *diskGuard) recent() error {
	if r := g.last.Load(); r != nil && time.Since(r.at) < diskReadingFresh {
		return r.err
	}
	return g.check()
}

// memFile names Badger's write-ahead log file of a memtable (memtable.go:
// fid with five digits, ".mem").
func (g *diskGuard) memFile(fid int) string {
	return filepath.Join(g.dir, fmt.Sprintf("%05d.mem", fid))
}

// lowestMemFid finds the oldest memtable file, where preallocation starts.
func (g *diskGuard) lowestMemFid() int {
	entries, _ := os.ReadDir(g.dir)
	lowest := -1
	for _, e := range entries {
		num, ok := strings.CutSuffix(e.Name(), ".mem")
		if fid, err := strconv.Atoi(num); ok && err == nil && (lowest < 0 || fid < lowest) {
			lowest = fid
		}
	}
	return max(lowest, 0)
}

// preallocateLocked gives every write-ahead log file created since the last call
// its blocks, so that writing the memtable never needs the file system to
// find space: an append accepted while there was room cannot fault later
// because another program took the rest. Badger numbers memtables in
// sequence, so one stat per commit finds a new one.
//
// check calls it before every group commit: a memtable turned over by the
// last commit gets its blocks before the next one writes it. A file it
// cannot allocate is tried again at the next call; meanwhile check refuses
// appends, since writing that file could fault. The caller holds g.mu.
func (g *diskGuard) preallocateLocked() {
	for {
		path := g.memFile(g.nextMem)
		if _, err := os.Stat(path); err != nil {
			g.unbacked = ""
			return
		}
		if err := allocateFile(path); err != nil {
			if g.unbacked != path {
				g.log.WithError(err).WithField("file", filepath.Base(path)).Warn("write-ahead log not preallocated: appends refused until it is")
			}
			g.unbacked = path
			return
		}
		g.nextMem++
	}
}

// refused counts an append refused by the guard; Refusals reads the count.
func (g *diskGuard) refused() { g.refusals.Add(1) }
