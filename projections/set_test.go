package projections

import (
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"testing"
	"time"

	"releasedesk/events"
	"releasedesk/events/catalog"
)

// richLog appends every scenario of the flow tests to one log.
func (f *flow) richLog() {
	f.users()
	f.configure("shop")
	_, _, v1 := f.eightSteps("1", "")
	_, _, v2 := f.eightSteps("2", v1)
	c3 := commitOf("release 3")
	f.append("release/3", catalog.TypeReleaseOpened, dev, catalog.ReleaseOpened{ID: "3", Project: "shop", Branch: "b3", Title: "three"})
	v3 := f.versionOf(c3)
	f.deploy(dep{id: "t3", project: "shop", env: "test", commit: c3, version: v3, release: "3", failHost: "www@10.0.0.6:22", previous: v2})
	f.deploy(dep{id: "t3b", project: "shop", env: "test", commit: c3, version: v3, release: "3", previous: v2, prune: []string{v1}})
	f.decision("3", catalog.TypeReleaseTestFailed, tester, "test", c3, "cart empty")
	f.deploy(dep{id: "p3", project: "shop", env: "production", commit: c3, version: v3, actor: approver, previous: v2, interruptAfter: 2})
	f.deploy(dep{id: "p3", project: "shop", env: "production", commit: c3, version: v3, actor: approver, previous: v2,
		noRequest: true, resumeHosts: []string{"www@10.0.1.3:22"}})
	f.append("project/shop", catalog.TypeRollbackRequested, approver, catalog.RollbackRequested{Project: "shop", Environment: "production",
		Version: v2, Commit: commitOf("release 2"), Deployment: "rb1", Reason: "slow"})
	f.deploy(dep{id: "rb1", project: "shop", env: "production", commit: commitOf("release 2"), version: v2, kind: catalog.KindRollback,
		actor: approver, previous: v3, reason: "slow"})
	f.deploy(dep{id: "p3c", project: "shop", env: "production", commit: c3, version: v3, actor: approver, previous: v2,
		failSwitchHost: "www@10.0.1.2:22", revert: true})
	f.append("drift/shop/production", catalog.TypeDriftChecked, "runner", catalog.DriftReport{Project: "shop", Environment: "production",
		Hosts: []catalog.HostDrift{{Host: "www@10.0.1.1:22", Expected: v2, Actual: v2}, {Host: "www@10.0.1.2:22", Expected: v2, Actual: v3, Drifted: true}}})
	f.append("project/shop", catalog.TypeVersionMarkedBad, approver, catalog.VersionMarkedBad{Project: "shop", Environment: "production", Version: v3, Reason: "slow"})
	f.append("release/3", catalog.TypeReleaseCancelled, manager, catalog.ReleaseDecision{ID: "3", Project: "shop", Note: "superseded"})
	f.append("host/10.0.1.1:22", catalog.TypeHostKeyTrusted, admin, catalog.HostKeyEvent{Host: "10.0.1.1:22", KeyType: "ssh-ed25519", Fingerprint: "SHA256:x"})
	f.append("user/"+dev, catalog.TypeLoginFailed, dev, catalog.LoginFailed{Name: dev, Reason: "bad_password"})
	f.append("user/"+dev, catalog.TypeTokenCreated, dev, catalog.TokenEvent{User: dev, ID: "t1", Name: "ci", Kind: "personal"})
	f.configure("shop") // a second configuration: history
	f.notifications()
	c4 := commitOf("q")
	f.append("deploy/q4", catalog.TypeDeployRequested, dev, catalog.Request{Deployment: "q4", Kind: catalog.KindDeploy, Project: f.cfg["shop"],
		Environment: "test", Commit: c4, Version: f.versionOf(c4)})
}

// notifications: a message that failed once then went, one that gave
// up, and a test message.
func (f *flow) notifications() {
	n := catalog.Notification{Delivery: "d1", Position: 9, Trigger: "approval.needed", Project: "shop", Channel: "ops",
		Kind: "dingtalk", Environment: "production", Release: "3", Recipients: []string{approver}, Attempt: 1,
		Status: 503, Excerpt: "busy", Error: "the receiver answered HTTP 503", NextAttempt: f.clock.peek().Add(time.Minute)}
	f.append(catalog.NotifyStream("shop"), catalog.TypeNotificationFailed, "system", n)
	n.Attempt, n.Status, n.Excerpt, n.Error, n.NextAttempt, n.LatencyMS = 2, 200, `{"errcode":0}`, "", time.Time{}, 1500
	f.append(catalog.NotifyStream("shop"), catalog.TypeNotificationSent, "system", n)
	f.append(catalog.NotifyStream("shop"), catalog.TypeNotificationFailed, "system", catalog.Notification{Delivery: "d2", Position: 10,
		Trigger: "deployment.failed", Project: "shop", Channel: "mail", Kind: "email", Release: "3", Attempt: 40, Error: "gave up"})
	f.append(catalog.NotifyStream("shop"), catalog.TypeNotificationSent, admin, catalog.Notification{Delivery: "t1",
		Trigger: catalog.TestTrigger, Project: "shop", Channel: "ops", Kind: "dingtalk", Attempt: 1, Status: 200})
}

// TestIdempotent: applying the log twice, or in overlapping pieces,
// changes nothing; each model alone folds as it does inside a Set.
func TestIdempotent(t *testing.T) {
	f := newMemFlow(t)
	f.richLog()
	s := f.build()
	want := dump(t, s)

	// Twice over.
	if err := f.log.ReadAll(f.ctx, 1, func(e events.Envelope) error { return s.Apply(e) }); err != nil {
		t.Fatal(err)
	}
	sameDump(t, "applied twice", want, dump(t, s))

	// In overlapping pieces, one event at a time.
	s2 := NewSet()
	head := f.log.Head().Position
	for from := uint64(1); from <= head; from += 7 {
		err := f.log.ReadAll(f.ctx, max(from, 10)-9, func(e events.Envelope) error {
			if e.Position > from+6 {
				return errStopRead
			}
			return s2.Apply(e)
		})
		if err != nil && !errors.Is(err, errStopRead) {
			t.Fatal(err)
		}
	}
	sameDump(t, "overlapping pieces", want, dump(t, s2))

	// Each model on its own (its own decoder) equals the Set's.
	alone := NewSet()
	for _, m := range alone.models {
		if err := f.log.ReadAll(f.ctx, 1, func(e events.Envelope) error { return m.Apply(e) }); err != nil {
			t.Fatal(err)
		}
	}
	alone.pos, alone.hash = s.pos, s.hash
	sameDump(t, "models alone", want, dump(t, alone))
}

// TestBuildVersusFollow: a Set kept live by Follow while the log grows
// equals one built afterwards, and WaitFor returns once a position is
// folded.
func TestBuildVersusFollow(t *testing.T) {
	f := newMemFlow(t)
	f.users()
	f.configure("shop")
	live := NewSet()
	if err := live.CatchUp(f.ctx, f.log); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- live.Follow(ctx, f.log) }()

	start := live.Position()
	_, prod, _ := f.eightSteps("1", "")
	last := f.append("release/1", catalog.TypeReleaseCancelled, manager, catalog.ReleaseDecision{ID: "1", Project: "shop"})
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := live.WaitFor(wctx, last.Position); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Follow returned %v", err)
	}

	sameDump(t, "follow", dump(t, f.build()), dump(t, live))
	var releases []string
	err := f.log.ReadAll(f.ctx, start+1, func(e events.Envelope) error {
		if e.Type == catalog.TypeDeploySucceeded {
			c := live.ChangeOf(e)
			releases = append(releases, c.Release+"/"+c.Deployment+"/"+c.Project+"/"+c.Environment)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(releases) != 2 || releases[1] != "1/"+prod+"/shop/production" {
		t.Fatalf("changes: %v", releases)
	}
}

// TestBadgerFollowLive runs the same against the real store, with
// appends racing the fold.
func TestBadgerFollowLive(t *testing.T) {
	f := newBadgerFlow(t, t.TempDir())
	f.users()
	f.configure("shop")
	live, err := Build(f.ctx, f.log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- live.Follow(ctx, f.log) }()
	var last events.Envelope
	for i := range 3 {
		id := string(rune('1' + i))
		f.eightSteps(id, "")
		last = f.append("release/"+id, catalog.TypeReleaseCancelled, manager, catalog.ReleaseDecision{ID: id, Project: "shop"})
	}
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := live.WaitFor(wctx, last.Position); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	sameDump(t, "badger follow", dump(t, f.build()), dump(t, live))
}

// TestCheckpoint: a checkpoint loads into the same state as a rebuild and
// catches up from there; another version, another log or damage make
// Start rebuild instead.
func TestCheckpoint(t *testing.T) {
	f := newMemFlow(t)
	f.richLog()
	s := f.build()
	var buf bytes.Buffer
	if err := s.SaveCheckpoint(&buf); err != nil {
		t.Fatal(err)
	}
	cp := buf.Bytes()

	loaded, err := LoadCheckpoint(bytes.NewReader(cp), HashAt(f.ctx, f.log))
	if err != nil {
		t.Fatal(err)
	}
	sameDump(t, "checkpoint", dump(t, s), dump(t, loaded))
	// Saving the loaded state gives the same bytes.
	var again bytes.Buffer
	if err := loaded.SaveCheckpoint(&again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cp, again.Bytes()) {
		t.Fatal("a loaded checkpoint saves differently")
	}

	// The log grows; Start uses the checkpoint and replays the rest.
	_, _, _ = f.eightSteps("7", "")
	full := f.build()
	started, info, err := Start(f.ctx, f.log, bytes.NewReader(cp))
	if err != nil || !info.FromCheckpoint || info.Discarded != nil || info.Replayed != full.Position()-s.Position() {
		t.Fatalf("Start: %+v, %v", info, err)
	}
	sameDump(t, "checkpoint + catch-up", dump(t, full), dump(t, started))
	// Live events after the catch-up fold the same (the loaded decoder
	// has an empty intern table; the output arena is not written over).
	f.deploy(dep{id: "late", project: "shop", env: "test", commit: commitOf("late"), version: f.versionOf(commitOf("late")), release: "7"})
	if err := started.CatchUp(f.ctx, f.log); err != nil {
		t.Fatal(err)
	}
	sameDump(t, "checkpoint + live", dump(t, f.build()), dump(t, started))

	// Another projection version.
	other := bytes.Clone(cp)
	other[len(checkpointMagic)]++ // the version varint
	_, err = LoadCheckpoint(bytes.NewReader(other), nil)
	if !errors.Is(err, ErrCheckpointCorrupt) { // the CRC covers the version too
		t.Fatalf("edited version: %v", err)
	}
	other = withVersion(t, cp, ProjectionVersion+1)
	if _, err = LoadCheckpoint(bytes.NewReader(other), nil); !errors.Is(err, ErrCheckpointVersion) {
		t.Fatalf("other version: %v", err)
	}
	_, info, err = Start(f.ctx, f.log, bytes.NewReader(other))
	if err != nil || info.FromCheckpoint || !errors.Is(info.Discarded, ErrCheckpointVersion) {
		t.Fatalf("Start with another version: %+v %v", info, err)
	}

	// Another log (same length, other events): the hash differs.
	g := newMemFlow(t)
	g.richLog()
	g.append("release/x", catalog.TypeReleaseOpened, dev, catalog.ReleaseOpened{ID: "x", Project: "shop"})
	if _, err := LoadCheckpoint(bytes.NewReader(cp), HashAt(g.ctx, g.log)); err != nil {
		t.Fatalf("the same events in another log: %v", err) // same clock, same events: same chain
	}
	h := newMemFlow(t)
	h.clock.Now() // shifted clock: every hash differs
	h.richLog()
	rebuilt, info, err := Start(h.ctx, h.log, bytes.NewReader(cp))
	if err != nil || info.FromCheckpoint || !errors.Is(info.Discarded, ErrCheckpointMismatch) {
		t.Fatalf("Start with another log: %+v %v", info, err)
	}
	sameDump(t, "rebuilt", dump(t, h.build()), dump(t, rebuilt))
	// A shorter log than the checkpoint.
	short := newMemFlow(t)
	short.users()
	if _, err := LoadCheckpoint(bytes.NewReader(cp), HashAt(short.ctx, short.log)); !errors.Is(err, ErrCheckpointMismatch) {
		t.Fatalf("shorter log: %v", err)
	}

	// Damage.
	for _, n := range []int{0, 5, len(cp) / 2, len(cp) - 1} {
		broken := bytes.Clone(cp)
		broken[n] ^= 0x40
		if _, err := LoadCheckpoint(bytes.NewReader(broken), nil); !errors.Is(err, ErrCheckpointCorrupt) {
			t.Fatalf("damage at %d: %v", n, err)
		}
	}
	if _, err := LoadCheckpoint(bytes.NewReader(cp[:len(cp)/3]), nil); !errors.Is(err, ErrCheckpointCorrupt) {
		t.Fatalf("truncated: %v", err)
	}

	// The file helper writes atomically.
	path := t.TempDir() + "/projections.ckpt"
	if err := s.SaveCheckpointFile(path); err != nil {
		t.Fatal(err)
	}
}

// withVersion rewrites a checkpoint's version (and its CRC).
func withVersion(t *testing.T, cp []byte, v uint64) []byte {
	t.Helper()
	dec := &cpDecoder{b: cp, i: len(checkpointMagic)}
	dec.uvarint()
	enc := newEncoder(len(cp))
	enc.b = append(enc.b, checkpointMagic...)
	enc.uvarint(v)
	enc.b = append(enc.b, cp[dec.i:len(cp)-4]...)
	var out bytes.Buffer
	out.Write(enc.b)
	sum := crc32.Checksum(enc.b, crcTable)
	out.Write([]byte{byte(sum), byte(sum >> 8), byte(sum >> 16), byte(sum >> 24)})
	return out.Bytes()
}
