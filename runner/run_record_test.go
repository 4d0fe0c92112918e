package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"releasedesk/events"
	"releasedesk/events/catalog"
)

// refusingLog is a Log that starts refusing every append once a given event
// type has been written: a log that cannot record at an exact step of a
// deployment, which no real fault produces on cue.
type refusingLog struct {
	Log
	after   string
	refuse  atomic.Bool
	refused atomic.Int64
}

var errDiskFull = errors.New("no space left on device")

func (l *refusingLog) Append(ctx context.Context, stream string, expected int64, evs ...events.Event) ([]events.Envelope, error) {
	if l.refuse.Load() {
		l.refused.Add(1)
		return nil, errDiskFull
	}
	envs, err := l.Log.Append(ctx, stream, expected, evs...)
	for _, e := range evs {
		if e.Type == l.after {
			l.refuse.Store(true)
		}
	}
	return envs, err
}

// TestRunStopsWhenTheLogRefuses: once the log refuses an event, the runner
// changes no host: the staged release is never switched to, current stays
// on the previous version, and the deployment is left to recovery, which
// marks it interrupted once the log works again.
func TestRunStopsWhenTheLogRefuses(t *testing.T) {
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyLocal})
	v1Commit := h.head()
	v1 := h.versionOf(v1Commit)
	h.mustSucceed(catalog.KindDeploy, v1Commit, v1)

	v2Commit := h.commit(map[string]string{"dir0/file000.txt": "changed\n"})
	v2 := h.versionOf(v2Commit)
	flaky := &refusingLog{Log: h.log, after: catalog.TypeHostStaged}
	r := h.newRunner(func(c *Config) { c.Log = flaky })
	id := h.submit(catalog.KindDeploy, v2Commit, v2)
	err := r.Run(context.Background(), id)
	if err == nil || !errors.Is(err, errCannotRecord) || !strings.Contains(err.Error(), "left to recovery") {
		t.Fatalf("Run = %v, want it stopped and left to recovery because the log refused", err)
	}
	if flaky.refused.Load() == 0 {
		t.Fatal("the log never refused: the test did not reach its fault")
	}
	if got := h.ofType(id, catalog.TypeHostSwitched); len(got) != 0 {
		t.Fatalf("a host was switched after the log refused: %v", got)
	}
	target := h.targets()[0].Path
	cur, err := os.Readlink(filepath.Join(target, "current"))
	if err != nil || filepath.Base(cur) != v1 {
		t.Fatalf("current = %q (%v), want it still on %s", cur, err, v1)
	}
	h.checkComplete(h.targets()[0], h.manifestOf(v1Commit))

	// The log works again: recovery on a new runner marks it interrupted.
	rec := h.newRunner(nil)
	if err := rec.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	if term := h.terminal(id); term != catalog.TypeDeployInterrupted {
		t.Fatalf("after recovery the deployment ended %q, want %s:\n%s", term, catalog.TypeDeployInterrupted, h.describe(id))
	}
	h.checkLockFree()
}
