package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"releasedesk/events"
	"releasedesk/events/catalog"
)

func TestRunDrift(t *testing.T) {
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyRsync, hosts: 2, files: 10})
	hosts := h.targets()
	c1 := h.head()
	v1 := h.versionOf(c1)
	h.mustSucceed(catalog.KindDeploy, c1, v1)
	c2 := h.commit(map[string]string{"a.txt": "2"})
	v2 := h.versionOf(c2)
	h.mustSucceed(catalog.KindDeploy, c2, v2)

	rep, err := h.r.Drift(context.Background(), h.p, "prod")
	if err != nil {
		t.Fatal(err)
	}
	for _, hd := range rep.Hosts {
		if hd.Drifted || hd.Expected != v2 || hd.Actual != v2 || hd.Commit != c2 {
			t.Fatalf("no drift expected: %+v", hd)
		}
	}
	// Someone switches host 1 back by hand.
	cur := filepath.Join(hosts[1].Path, "current")
	tmp := cur + ".tmp"
	if err := os.Symlink("releases/"+v1, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, cur); err != nil {
		t.Fatal(err)
	}
	rep, err = h.r.Drift(context.Background(), h.p, "prod")
	if err != nil {
		t.Fatal(err)
	}
	if hd := rep.Hosts[1]; !hd.Drifted || hd.Expected != v2 || hd.Actual != v1 || hd.Commit != c1 {
		t.Fatalf("drift not seen: %+v", hd)
	}
	if rep.Hosts[0].Drifted {
		t.Fatalf("host 0: %+v", rep.Hosts[0])
	}
	envs, err := h.log.ReadStream(context.Background(), catalog.DriftStream(h.p.ID, "prod"), 1)
	if err != nil || len(envs) != 2 || envs[1].Type != catalog.TypeDriftChecked {
		t.Fatalf("drift events %v %v", envs, err)
	}
	var logged catalog.DriftReport
	_ = envs[1].Decode(&logged)
	if !logged.Hosts[1].Drifted {
		t.Fatalf("drift.checked %+v", logged)
	}
	// An unreachable host is reported, not counted as drifted.
	h.cluster.Kill(0)
	rep, err = h.r.Drift(context.Background(), h.p, "prod")
	if err != nil {
		t.Fatal(err)
	}
	if hd := rep.Hosts[0]; hd.Drifted || hd.Error == "" {
		t.Fatalf("unreachable host: %+v", hd)
	}
}

// TestRunDriftAsDecidedVersion: a check names its actor and whether it is
// scheduled, and one decided on a drift stream that moved on since (another
// desk checked meanwhile) is not recorded.
func TestRunDriftAsDecidedVersion(t *testing.T) {
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyLocal, files: 5})
	ctx := context.Background()
	stream := catalog.DriftStream(h.p.ID, "prod")
	if _, err := h.r.DriftAs(ctx, h.p, "prod", DriftRequest{Actor: "tess", After: 0}); err != nil {
		t.Fatal(err)
	}
	// Decided on the empty stream, but tess's check came first.
	if _, err := h.r.DriftAs(ctx, h.p, "prod", DriftRequest{Scheduled: true, After: 0}); !errors.Is(err, events.ErrConcurrency) {
		t.Fatalf("a check decided on a stale version: %v", err)
	}
	if _, err := h.r.DriftAs(ctx, h.p, "prod", DriftRequest{Scheduled: true, After: 1}); err != nil {
		t.Fatal(err)
	}
	envs, err := h.log.ReadStream(ctx, stream, 1)
	if err != nil || len(envs) != 2 {
		t.Fatalf("drift stream: %d events, %v", len(envs), err)
	}
	var first, second catalog.DriftReport
	if envs[0].Decode(&first) != nil || envs[1].Decode(&second) != nil || envs[0].Actor != "tess" || first.Scheduled ||
		envs[1].Actor != actorRunner || !second.Scheduled {
		t.Fatalf("drift.checked by %s %+v, by %s %+v", envs[0].Actor, first, envs[1].Actor, second)
	}
}
