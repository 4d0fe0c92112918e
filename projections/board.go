package projections

import (
	"slices"
	"strings"
)

// Board orders.
const (
	SortCreated = "created" // by release.opened (the default)
	SortUpdated = "updated" // by the last event that changed the release
)

// BoardQuery selects a page of the release board. Zero values select
// everything, newest first, 50 rows.
type BoardQuery struct {
	Project string
	States  []string // any of these states; empty: all
	Text    string   // case-insensitive substring of the title or the branch
	Sort    string   // SortCreated or SortUpdated
	Oldest  bool     // oldest first instead of newest first
	Offset  int
	Limit   int // 0: DefaultBoardLimit; at most MaxBoardLimit
}

// Board page sizes.
const (
	DefaultBoardLimit = 50
	MaxBoardLimit     = 1000
)

// BoardPage is one page of the board and the number of matching releases.
type BoardPage struct {
	Total    int       `json:"total"`
	Offset   int       `json:"offset"`
	Limit    int       `json:"limit"`
	Releases []Release `json:"releases"`
}

// Board answers a board query. The releases are kept in both orders, so
// a query walks them once, counting matches and copying only its page.
func (m *Releases) Board(q BoardQuery) BoardPage {
	offset, limit := pageBounds(q.Offset, q.Limit, DefaultBoardLimit, MaxBoardLimit)
	text := strings.ToLower(strings.TrimSpace(q.Text))
	page := BoardPage{Offset: offset, Limit: limit, Releases: []Release{}}

	m.mu.RLock()
	defer m.mu.RUnlock()
	visit := func(rs *releaseState) {
		switch {
		case q.Project != "" && rs.r.Project != q.Project,
			len(q.States) > 0 && !slices.Contains(q.States, rs.r.State),
			text != "" && !strings.Contains(rs.search, text):
			return
		}
		if page.Total >= offset && len(page.Releases) < limit {
			page.Releases = append(page.Releases, rs.r.clone())
		}
		page.Total++
	}
	if q.Sort == SortUpdated {
		if q.Oldest {
			for rs := m.head; rs != nil; rs = rs.next {
				visit(rs)
			}
		} else {
			for rs := m.tail; rs != nil; rs = rs.prev {
				visit(rs)
			}
		}
		return page
	}
	list := m.order
	if q.Project != "" {
		list = m.byProject[q.Project]
	}
	if q.Oldest {
		for _, rs := range list {
			visit(rs)
		}
	} else {
		for i := len(list) - 1; i >= 0; i-- {
			visit(list[i])
		}
	}
	return page
}

// Counts returns how many releases are in each state, for a project or
// (with "") for all.
func (m *Releases) Counts(project string) map[string]int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	list := m.order
	if project != "" {
		list = m.byProject[project]
	}
	out := map[string]int{}
	for _, rs := range list {
		out[rs.r.State]++
	}
	return out
}
