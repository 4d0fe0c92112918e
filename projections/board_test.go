package projections

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"releasedesk/events"
	"releasedesk/events/catalog"
)

// TestBoard10000 fills the board with 10,000 releases over 5 projects in
// various states and checks filters, text search, both orders and paging,
// and that queries stay fast.
func TestBoard10000(t *testing.T) {
	const n = 10000
	f := newMemFlow(t)
	projects := []string{"shop", "blog", "api", "admin", "docs"}
	batch := make([]events.Event, 0, 3)
	want := map[string]int{} // "project/state" -> count
	for i := range n {
		id := fmt.Sprint(i + 1)
		p := projects[i%len(projects)]
		title := fmt.Sprintf("Release %d: %s", i+1, []string{"Checkout", "Search", "Login", "Invoices"}[i%4])
		if i%1000 == 7 {
			title = "Hotfix ÉCLAIR " + id
		}
		batch = batch[:0]
		e, _ := events.NewEvent(catalog.TypeReleaseOpened, dev, catalog.ReleaseOpened{ID: id, Project: p, Branch: "feature/" + id, Title: title})
		batch = append(batch, e)
		state := StateOpen
		switch i % 3 {
		case 1:
			e, _ = events.NewEvent(catalog.TypeReleaseCancelled, manager, catalog.ReleaseDecision{ID: id, Project: p})
			batch, state = append(batch, e), StateCancelled
		case 2:
			e, _ = events.NewEvent(catalog.TypeReleaseTestPassed, tester, catalog.ReleaseDecision{ID: id, Project: p, Commit: commitOf(id)})
			batch, state = append(batch, e), StateTested
		}
		if _, err := f.log.Append(f.ctx, "release/"+id, events.NoStream, batch...); err != nil {
			t.Fatal(err)
		}
		want[p+"/"+state]++
	}
	// Touch a few old releases: they move to the front of the by-update order.
	for _, id := range []string{"3", "1", "2"} {
		f.append("release/"+id, catalog.TypeReleaseApproved, approver, catalog.ReleaseDecision{ID: id, Project: "x"})
	}
	s := f.build()

	start := time.Now()
	queries := 0
	q := func(bq BoardQuery) BoardPage { queries++; return s.Releases.Board(bq) }

	all := q(BoardQuery{})
	if all.Total != n || len(all.Releases) != DefaultBoardLimit || all.Releases[0].ID != fmt.Sprint(n) {
		t.Fatalf("all: total %d, %d rows, first %s", all.Total, len(all.Releases), all.Releases[0].ID)
	}
	for _, p := range projects {
		for _, st := range []string{StateOpen, StateCancelled, StateTested} {
			page := q(BoardQuery{Project: p, States: []string{st}, Limit: 5})
			w := want[p+"/"+st]
			if p == "api" && st == StateTested {
				w-- // release 3 was approved
			}
			if p == "shop" && st == StateOpen {
				w-- // release 1
			}
			if p == "blog" && st == StateCancelled {
				w-- // release 2
			}
			if page.Total != w {
				t.Fatalf("%s %s: total %d, want %d", p, st, page.Total, w)
			}
			for _, r := range page.Releases {
				if r.Project != p || r.State != st {
					t.Fatalf("%s %s: got %s %s", p, st, r.Project, r.State)
				}
			}
		}
	}
	if page := q(BoardQuery{States: []string{StateApproved}}); page.Total != 3 {
		t.Fatalf("approved: %d", page.Total)
	}
	// Pages tile the result exactly, newest first.
	var ids []string
	for off := 0; ; off += 333 {
		page := q(BoardQuery{Project: "api", Offset: off, Limit: 333})
		for _, r := range page.Releases {
			ids = append(ids, r.ID)
		}
		if off+333 >= page.Total {
			break
		}
	}
	if len(ids) != n/5 || ids[0] != "10000" && ids[0] != fmt.Sprint(n-2) {
		t.Fatalf("api pages: %d ids, first %s", len(ids), ids[0])
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("release %s on two pages", id)
		}
		seen[id] = true
	}
	// Oldest first.
	if page := q(BoardQuery{Oldest: true, Limit: 2}); page.Releases[0].ID != "1" || page.Releases[1].ID != "2" {
		t.Fatalf("oldest: %v", page.Releases)
	}
	// Text search: case-insensitive, title or branch.
	page := q(BoardQuery{Text: "éclair", Limit: 100})
	if page.Total != 10 || !strings.HasPrefix(page.Releases[0].Title, "Hotfix ÉCLAIR") {
		t.Fatalf("search éclair: %d", page.Total)
	}
	if page := q(BoardQuery{Text: "FEATURE/4242"}); page.Total != 1 || page.Releases[0].ID != "4242" {
		t.Fatalf("search branch: %+v", page)
	}
	if page := q(BoardQuery{Text: "invoices", Project: "blog", States: []string{StateOpen, StateTested}}); page.Total == 0 {
		t.Fatal("search with filters found nothing")
	} else {
		for _, r := range page.Releases {
			if !strings.Contains(r.Title, "Invoices") || r.Project != "blog" || r.State == StateCancelled {
				t.Fatalf("search with filters: %+v", r)
			}
		}
	}
	// By update: the three touched releases come first.
	byUpd := q(BoardQuery{Sort: SortUpdated, Limit: 3})
	if got := []string{byUpd.Releases[0].ID, byUpd.Releases[1].ID, byUpd.Releases[2].ID}; !slices.Equal(got, []string{"2", "1", "3"}) {
		t.Fatalf("by update: %v", got)
	}
	if page := q(BoardQuery{Sort: SortUpdated, Oldest: true, Limit: 1}); page.Releases[0].ID != "4" {
		t.Fatalf("least recently updated: %s", page.Releases[0].ID)
	}
	// Beyond the end, and a limit above the cap.
	if page := q(BoardQuery{Offset: n + 5}); page.Total != n || len(page.Releases) != 0 {
		t.Fatalf("beyond the end: %+v", page.Total)
	}
	if page := q(BoardQuery{Limit: 5000}); len(page.Releases) != MaxBoardLimit {
		t.Fatalf("limit cap: %d", len(page.Releases))
	}
	if c := s.Releases.Counts("shop"); c[StateApproved] != 1 {
		t.Fatalf("counts: %v", c)
	}
	per := time.Since(start) / time.Duration(queries)
	t.Logf("%d board queries over %d releases: %v each", queries, n, per)
	if per > 20*time.Millisecond {
		t.Errorf("board queries take %v each", per)
	}
}
