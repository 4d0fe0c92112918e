package projections

import (
	"bytes"
	"encoding/csv"
	"slices"
	"strings"
	"testing"
	"time"

	"releasedesk/events"
	"releasedesk/events/catalog"
)

func TestAuditQueries(t *testing.T) {
	f := newMemFlow(t)
	f.richLog()
	f.configure("blog")
	f.append("release/b1", catalog.TypeReleaseOpened, dev, catalog.ReleaseOpened{ID: "b1", Project: "blog", Branch: "x", Title: "blog one"})
	s := f.build()
	head := f.log.Head().Position
	if s.Audit.Len() != int(head) {
		t.Fatalf("%d rows for %d events", s.Audit.Len(), head)
	}

	// Everything, newest first, paged.
	page, err := s.Audit.Query(f.ctx, f.log, AuditQuery{Limit: 10})
	if err != nil || page.Total != int(head) || len(page.Rows) != 10 || page.Rows[0].Position != head || page.Rows[9].Position != head-9 {
		t.Fatalf("all: %d rows, total %d, %v", len(page.Rows), page.Total, err)
	}
	page, _ = s.Audit.Query(f.ctx, f.log, AuditQuery{Limit: 10, Offset: 10, Oldest: true})
	if page.Rows[0].Position != 11 {
		t.Fatalf("oldest, second page starts at %d", page.Rows[0].Position)
	}

	// By project: every shop event, steps included (through their deployment).
	var shop, blog, none int
	_ = f.log.ReadAll(f.ctx, 1, func(e events.Envelope) error {
		switch {
		case strings.Contains(e.Stream, "blog") || e.Stream == "release/b1":
			blog++
		case strings.HasPrefix(e.Stream, "user/") || strings.HasPrefix(e.Stream, "host/"):
			none++
		default:
			shop++
		}
		return nil
	})
	if _, total := s.Audit.Positions(AuditQuery{Project: "shop"}); total != shop {
		t.Fatalf("shop: %d, want %d", total, shop)
	}
	if _, total := s.Audit.Positions(AuditQuery{Project: "blog"}); total != blog {
		t.Fatalf("blog: %d, want %d", total, blog)
	}
	if _, total := s.Audit.Positions(AuditQuery{Project: "nope"}); total != 0 {
		t.Fatal("unknown project matched")
	}

	// By actor and type prefix.
	rows, _ := s.Audit.Query(f.ctx, f.log, AuditQuery{Actor: approver, Type: "release."})
	for _, r := range rows.Rows {
		if r.Actor != approver || !strings.HasPrefix(r.Action, "release.") {
			t.Fatalf("actor+type: %+v", r)
		}
	}
	if rows.Total != 4 { // two approvals, two production deploy requests
		t.Fatalf("carol's release events: %d", rows.Total)
	}
	if _, total := s.Audit.Positions(AuditQuery{Type: "step."}); total < 100 {
		t.Fatalf("step events: %d", total)
	}

	// Since and until: an index range.
	var mid events.Envelope
	_ = f.log.ReadAll(f.ctx, head/2, func(e events.Envelope) error { mid = e; return errStopRead })
	_, after := s.Audit.Positions(AuditQuery{Since: mid.Time})
	_, before := s.Audit.Positions(AuditQuery{Until: mid.Time})
	if after+before != int(head) || uint64(before) != mid.Position-1 {
		t.Fatalf("since/until split %d+%d of %d at %d", after, before, head, mid.Position)
	}
	pos, total := s.Audit.Positions(AuditQuery{Since: mid.Time, Until: mid.Time.Add(3 * time.Second), Oldest: true})
	if total != 3 || pos[0] != mid.Position {
		t.Fatalf("a 3 s window: %v (%d)", pos, total)
	}

	// A filtered CSV export through the model's formatters and filter.
	var buf bytes.Buffer
	n, err := events.ExportCSV(f.ctx, f.log, &buf, s.Audit.Formatters(), s.Audit.Filter(AuditQuery{Project: "shop", Type: "deploy.host_"}))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil || n == 0 || len(recs) != int(n)+1 {
		t.Fatalf("csv: %d rows, %v", n, err)
	}
	for _, r := range recs[1:] {
		if r[4] != "shop" || !strings.HasPrefix(r[3], "deploy.host_") || r[5] == "" || r[9] == "" || !strings.HasPrefix(r[10], r[9]+": ") {
			t.Fatalf("csv row: %v", r)
		}
	}
}

// TestAuditSummaries: every event type of the flow has its own summary,
// and the package formatters work through events.Formatters.
func TestAuditSummaries(t *testing.T) {
	f := newMemFlow(t)
	f.richLog()
	f.append("deploy/q4", catalog.TypeDeployCancelRequested, dev, catalog.CancelRequested{Deployment: "q4", Reason: "wrong commit"})
	f.append("lock/shop/test", catalog.TypeLockBroken, admin, catalog.LockEvent{Project: "shop", Environment: "test", Deployment: "zz", Reason: "stale"})
	f.append("user/"+tester, catalog.TypeUserRolesChanged, admin, catalog.UserRolesChanged{Name: tester, Roles: map[string][]string{"shop": {catalog.RoleTester}, "blog": {catalog.RoleTester, catalog.RoleApprover}}})
	f.append("user/"+tester, catalog.TypeUserPasswordChanged, tester, catalog.UserRef{Name: tester})
	f.append("user/"+tester, catalog.TypeUserDisabled, admin, catalog.UserRef{Name: tester, Reason: "left"})
	f.append("user/"+tester, catalog.TypeUserEnabled, admin, catalog.UserRef{Name: tester})
	f.append("user/"+tester, catalog.TypeUserLanguageSet, tester, catalog.UserLanguageSet{Name: tester, Language: "zh-CN"})
	f.append("user/"+tester, catalog.TypeUserContactsSet, admin, catalog.UserContactsSet{Name: tester, Contacts: catalog.Contacts{Email: "bob@example.com"}})
	f.append("user/"+tester, catalog.TypeLoginSucceeded, tester, catalog.UserRef{Name: tester})
	f.append("user/"+dev, catalog.TypeTokenRevoked, admin, catalog.TokenEvent{User: dev, ID: "t1"})
	f.append("host/10.0.1.9:22", catalog.TypeHostKeyRejected, "runner", catalog.HostKeyEvent{Host: "10.0.1.9:22", KeyType: "ssh-rsa", Fingerprint: "SHA256:zz", Reason: "unknown"})
	f.append("release/3", catalog.TypeReleaseRefused, manager, catalog.ReleaseDecision{ID: "3", Project: "shop", Note: "no"})
	f.append("release/3", catalog.TypeReleaseRejected, approver, catalog.ReleaseDecision{ID: "3", Project: "shop", Note: "no"})

	fm := events.NewFormatters()
	RegisterAuditFormatters(fm)
	seen := map[string]string{}
	err := f.log.ReadAll(f.ctx, 1, func(e events.Envelope) error {
		row := fm.Row(e)
		if row.Summary == "" || row.Summary == e.Type || strings.Contains(row.Summary, "%!") || strings.Contains(row.Summary, "\n") {
			t.Errorf("position %d %s: summary %q", e.Position, e.Type, row.Summary)
		}
		seen[e.Type] = row.Summary
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range catalog.Types() {
		if _, ok := seen[typ]; !ok && !slices.Contains([]string{catalog.TypeDeployCancelled}, typ) {
			t.Errorf("no %s in the log", typ)
		}
	}
	for typ, want := range map[string]string{
		catalog.TypeUserRolesChanged:    "root set the roles of bob: blog: tester, approver; shop: tester",
		catalog.TypeUserLanguageSet:     "bob chose zh-CN as their language",
		catalog.TypeUserContactsSet:     "root changed the contact handles of bob",
		catalog.TypeUserPasswordChanged: "bob changed their password",
		catalog.TypeLoginFailed:         "failed login as alice: bad_password",
		catalog.TypeTokenCreated:        `alice created a personal token "ci" (t1) for alice`,
		catalog.TypeHostKeyRejected:     "refused the unknown ssh-rsa key SHA256:zz of 10.0.1.9:22",
		catalog.TypeLockBroken:          "root broke the lock of shop/test held by deployment zz: stale",
		catalog.TypeReleaseCancelled:    "dave cancelled release 3: superseded",
	} {
		if seen[typ] != want {
			t.Errorf("%s: %q, want %q", typ, seen[typ], want)
		}
	}
	t.Logf("examples:\n%s\n%s\n%s", seen[catalog.TypeHostSwitched], seen[catalog.TypeDeploySucceeded], seen[catalog.TypeStepFinished])
}

// TestAuditLockBrokenNamesTheHost: breaking one host's lock says which
// host, and a lock the log did not hold names no deployment.
func TestAuditLockBrokenNamesTheHost(t *testing.T) {
	for _, c := range []struct {
		ev   catalog.LockEvent
		want string
	}{
		{catalog.LockEvent{Project: "shop", Environment: "test", Deployment: "d7", Reason: "stale", Host: "www@10.0.0.5:22"},
			"root broke the lock of shop/test on host www@10.0.0.5:22 held by deployment d7: stale"},
		{catalog.LockEvent{Project: "shop", Environment: "test", Reason: "left by another desk", Host: "www@10.0.0.5:22"},
			"root broke the lock of shop/test on host www@10.0.0.5:22: left by another desk"},
		{catalog.LockEvent{Project: "shop", Environment: "test", Reason: "stale"},
			"root broke the lock of shop/test: stale"},
	} {
		ev, err := catalog.NewEvent(catalog.TypeLockBroken, "root", c.ev)
		if err != nil {
			t.Fatal(err)
		}
		var row events.AuditRow
		formatRow(events.Envelope{Position: 1, Stream: "lock/shop/test", Version: 1, Type: ev.Type, Schema: ev.Schema,
			Actor: "root", Data: ev.Data}, &row)
		if row.Summary != c.want {
			t.Errorf("summary %q, want %q", row.Summary, c.want)
		}
	}
}
