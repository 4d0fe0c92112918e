package projections

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"time"

	"releasedesk/events"
	"releasedesk/events/catalog"
)

// Audit is the read model behind the audit view: one row per event. A
// row's text (its summary above all) is mostly unique, and a million rows
// of it would cost hundreds of megabytes, so the model keeps only what
// queries filter on, in columns (time, actor, type, project: 18 bytes an
// event), and renders the rows of the page asked for from the log itself.
// What only the fold knows (the project, environment and release of a
// step's deployment) it keeps per deployment and release, and fills in.
type Audit struct {
	base
	first    uint64 // position of index 0
	times    column[int64]
	actors   column[uint32]
	types    column[uint16]
	projects column[uint32]
	actorT   nameTable
	typeT    nameTable
	projectT nameTable
	deploys  map[string]*auditDeploy // deployment -> context
	releases map[string]uint32       // release -> project
	lastID   string                  // the deployment of the last deploy event
	lastDep  *auditDeploy

	fmtOnce sync.Once
	fmts    *events.Formatters
}

// auditDeploy is what a deployment's rows take from its request.
type auditDeploy struct {
	project                             uint32
	env, release, version, commit, kind string
}

// nameTable numbers the distinct values of a column; 0 is "".
type nameTable struct {
	names []string
	ids   map[string]uint32
	// recent holds the last few values looked up: a run of a
	// deployment's events cycles through a few types and one actor, and a
	// comparison is cheaper than hashing.
	recent [4]uint32
	next   int
}

func (t *nameTable) id(s string, d *decoder) uint32 {
	if s == "" {
		return 0
	}
	for _, id := range t.recent {
		if id != 0 && t.names[id] == s {
			return id
		}
	}
	if id, ok := t.ids[s]; ok {
		t.recent[t.next] = id
		t.next = (t.next + 1) % len(t.recent)
		return id
	}
	if t.ids == nil {
		t.ids = map[string]uint32{}
		t.names = []string{""}
	}
	if d != nil {
		s = d.internString(s)
	}
	id := uint32(len(t.names))
	t.names = append(t.names, s)
	t.ids[s] = id
	return id
}

// idBytes is id for a view of an event's data: no string is made unless
// the value is new.
func (t *nameTable) idBytes(b []byte) uint32 {
	if len(b) == 0 {
		return 0
	}
	for _, id := range t.recent {
		if id != 0 && t.names[id] == string(b) {
			return id
		}
	}
	if id, ok := t.ids[string(b)]; ok {
		t.recent[t.next] = id
		t.next = (t.next + 1) % len(t.recent)
		return id
	}
	return t.id(string(b), nil)
}

func (t *nameTable) lookup(s string) (uint32, bool) {
	if s == "" {
		return 0, true
	}
	id, ok := t.ids[s]
	return id, ok
}

func (t *nameTable) name(id uint32) string {
	if int(id) < len(t.names) {
		return t.names[id]
	}
	return ""
}

// NewAudit returns an empty model.
func NewAudit() *Audit {
	return &Audit{deploys: map[string]*auditDeploy{}, releases: map[string]uint32{}}
}

// Apply folds one envelope (see Projection).
func (m *Audit) Apply(e events.Envelope) error { return applyOne(m, &m.base, e) }

func (m *Audit) apply(e *events.Envelope, p *payload, d *decoder) error {
	if m.times.len() == 0 && m.first == 0 {
		m.first = e.Position
	}
	// The log has no gaps; should a caller skip positions anyway, they get
	// empty rows that no filter matches, so index = position - first holds.
	for uint64(m.times.len())+m.first < e.Position {
		m.times.add(m.lastTime())
		m.actors.add(0)
		m.types.add(0)
		m.projects.add(0)
	}
	var project uint32
	switch {
	case strings.HasPrefix(e.Stream, catalog.DeployPrefix):
		id := e.Stream[len(catalog.DeployPrefix):]
		ad := m.lastDep
		if id != m.lastID {
			ad = m.deploys[id]
		}
		if ad == nil && e.Type == catalog.TypeDeployRequested {
			ad = &auditDeploy{env: p.Environment, release: p.Release, version: p.Version, commit: p.Commit, kind: p.Kind}
			if p.ProjectRaw != nil {
				if pi, err := d.projectOf(p); err == nil {
					ad.project = m.projectT.id(pi.ID, d)
				}
			}
			m.deploys[d.internString(id)] = ad
		}
		if ad != nil {
			project = ad.project
			if id != m.lastID {
				m.lastID, m.lastDep = d.internString(id), ad
			}
		}
	case strings.HasPrefix(e.Stream, catalog.ReleasePrefix):
		id := e.Stream[len(catalog.ReleasePrefix):]
		pid, ok := m.releases[id]
		if !ok && e.Type == catalog.TypeReleaseOpened {
			pid = m.projectT.id(p.Project, d)
			m.releases[d.internString(id)] = pid
		}
		project = pid
	case strings.HasPrefix(e.Stream, catalog.ProjectPrefix):
		project = m.projectT.id(e.Stream[len(catalog.ProjectPrefix):], d)
	case strings.HasPrefix(e.Stream, catalog.LockPrefix), strings.HasPrefix(e.Stream, catalog.DriftPrefix):
		rest := e.Stream[strings.IndexByte(e.Stream, '/')+1:]
		if i := strings.IndexByte(rest, '/'); i > 0 {
			rest = rest[:i]
		}
		project = m.projectT.id(rest, d)
	default:
		project = m.projectT.id(p.Project, d)
	}
	m.times.add(e.Time.UnixNano())
	m.actors.add(m.actorT.id(e.Actor, d))
	m.types.add(uint16(m.typeT.id(e.Type, d)))
	m.projects.add(project)
	return nil
}

func (m *Audit) lastTime() int64 {
	if n := m.times.len(); n > 0 {
		return m.times.at(n - 1)
	}
	return 0
}

// AuditQuery selects audit rows. Zero values select everything, newest
// first, 100 rows.
type AuditQuery struct {
	Project string    // the event's project (a step's is its deployment's)
	Actor   string    // exactly
	Type    string    // a prefix of the event type: "release." or "deploy.host_switched"
	Since   time.Time // inclusive
	Until   time.Time // exclusive
	Oldest  bool      // oldest first
	Offset  int
	Limit   int // 0: DefaultAuditLimit; at most MaxAuditLimit
}

// Audit page sizes.
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 1000
)

// AuditPage is one page of audit rows and the number of matching events.
type AuditPage struct {
	Total  int               `json:"total"`
	Offset int               `json:"offset"`
	Limit  int               `json:"limit"`
	Rows   []events.AuditRow `json:"rows"`
}

// matcher is a query compiled against the tables.
type matcher struct {
	none           bool
	project, actor uint32
	anyProject     bool
	anyActor       bool
	types          []bool // by type id; nil: any
	lo, hi         int    // index range from Since and Until
}

// compile turns q into index tests; callers hold the read lock.
func (m *Audit) compile(q AuditQuery) matcher {
	mt := matcher{anyProject: q.Project == "", anyActor: q.Actor == "", lo: 0, hi: m.times.len()}
	var ok bool
	if !mt.anyProject {
		if mt.project, ok = m.projectT.lookup(q.Project); !ok {
			mt.none = true
		}
	}
	if !mt.anyActor {
		if mt.actor, ok = m.actorT.lookup(q.Actor); !ok {
			mt.none = true
		}
	}
	if q.Type != "" {
		mt.types = make([]bool, len(m.typeT.names))
		any := false
		for id, name := range m.typeT.names {
			if name != "" && strings.HasPrefix(name, q.Type) {
				mt.types[id], any = true, true
			}
		}
		mt.none = mt.none || !any
	}
	// Times never go back in position order (the store clamps its clock),
	// so a time range is an index range.
	if !q.Since.IsZero() {
		since := q.Since.UnixNano()
		mt.lo = sort.Search(m.times.len(), func(i int) bool { return m.times.at(i) >= since })
	}
	if !q.Until.IsZero() {
		until := q.Until.UnixNano()
		mt.hi = sort.Search(m.times.len(), func(i int) bool { return m.times.at(i) >= until })
	}
	return mt
}

func (m *Audit) match(mt *matcher, i int) bool {
	typ := m.types.at(i)
	return typ != 0 && (mt.types == nil || mt.types[typ]) &&
		(mt.anyProject || m.projects.at(i) == mt.project) &&
		(mt.anyActor || m.actors.at(i) == mt.actor)
}

// Positions returns the positions of the query's page, in the page's
// order, and how many events match in all.
func (m *Audit) Positions(q AuditQuery) (positions []uint64, total int) {
	offset, limit := pageBounds(q.Offset, q.Limit, DefaultAuditLimit, MaxAuditLimit)
	m.mu.RLock()
	defer m.mu.RUnlock()
	mt := m.compile(q)
	if mt.none || mt.lo >= mt.hi {
		return nil, 0
	}
	take := func(i int) {
		if m.match(&mt, i) {
			if total >= offset && len(positions) < limit {
				positions = append(positions, m.first+uint64(i))
			}
			total++
		}
	}
	if q.Oldest {
		for i := mt.lo; i < mt.hi; i++ {
			take(i)
		}
	} else {
		for i := mt.hi - 1; i >= mt.lo; i-- {
			take(i)
		}
	}
	return positions, total
}

// Filter returns a predicate for events.ExportCSV / ExportJSONL that keeps
// the events q matches (paging aside): the export of a filtered view.
func (m *Audit) Filter(q AuditQuery) func(events.Envelope) bool {
	m.mu.RLock()
	mt := m.compile(q)
	m.mu.RUnlock()
	return func(e events.Envelope) bool {
		if mt.none {
			return false
		}
		m.mu.RLock()
		defer m.mu.RUnlock()
		if e.Position < m.first {
			return false
		}
		i := int(e.Position - m.first)
		if i >= m.times.len() {
			return false // applied after the filter was made: outside its view
		}
		return i >= mt.lo && i < mt.hi && m.match(&mt, i)
	}
}

// errStopRead ends a ReadAll early.
var errStopRead = errors.New("stop")

// Query answers an audit query: the positions from the index, the rows
// rendered from r (the log the model was built from).
func (m *Audit) Query(ctx context.Context, r events.Reader, q AuditQuery) (AuditPage, error) {
	positions, total := m.Positions(q)
	offset, limit := pageBounds(q.Offset, q.Limit, DefaultAuditLimit, MaxAuditLimit)
	page := AuditPage{Total: total, Offset: offset, Limit: limit, Rows: make([]events.AuditRow, len(positions))}
	if len(positions) == 0 {
		return page, nil
	}
	envs, err := readPositions(ctx, r, positions)
	if err != nil {
		return page, err
	}
	f := m.Formatters()
	for i, pos := range positions {
		e, ok := envs[pos]
		if !ok {
			return page, errors.New("projections: audit: the log has no event at a position the index holds")
		}
		page.Rows[i] = f.Row(e)
	}
	return page, nil
}

// readPositions reads the events at the given positions. A read of the log
// fetches a chunk of events at a time, so nearby positions share one read:
// it seeks anew only across a gap wider than readGap.
func readPositions(ctx context.Context, r events.Reader, positions []uint64) (map[uint64]events.Envelope, error) {
	const readGap = 1024
	want := append([]uint64(nil), positions...)
	sort.Slice(want, func(i, j int) bool { return want[i] < want[j] })
	out := make(map[uint64]events.Envelope, len(want))
	for i := 0; i < len(want); {
		err := r.ReadAll(ctx, want[i], func(e events.Envelope) error {
			for i < len(want) && want[i] < e.Position {
				i++ // not in the log: reported by the caller
			}
			if i == len(want) {
				return errStopRead
			}
			if e.Position == want[i] {
				out[e.Position] = e
				i++
				if i == len(want) {
					return errStopRead
				}
			}
			if want[i]-e.Position > readGap {
				return errStopRead
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStopRead) {
			return nil, err
		}
		if err == nil {
			break // the log ended
		}
	}
	return out, nil
}

// Formatters returns formatters for events.ExportCSV and Row: this
// package's summaries, plus what the fold knows of each event (a step's
// deployment's project, environment, release, version and commit).
func (m *Audit) Formatters() *events.Formatters {
	m.fmtOnce.Do(func() {
		m.fmts = events.NewFormatters()
		for _, typ := range catalog.Types() {
			m.fmts.Register(typ, func(e events.Envelope, row *events.AuditRow) {
				formatRow(e, row)
				m.fillContext(e, row)
			})
		}
	})
	return m.fmts
}

// Row returns the audit row of e (see Formatters).
func (m *Audit) Row(e events.Envelope) events.AuditRow {
	row := m.Formatters().Row(e)
	return row
}

// fillContext fills empty columns from what the fold knows of e's stream.
func (m *Audit) fillContext(e events.Envelope, row *events.AuditRow) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	switch {
	case strings.HasPrefix(e.Stream, catalog.DeployPrefix):
		ad := m.deploys[e.Stream[len(catalog.DeployPrefix):]]
		if ad == nil {
			return
		}
		fill(&row.Project, m.projectT.name(ad.project))
		fill(&row.Environment, ad.env)
		fill(&row.Release, ad.release)
		switch e.Type {
		case catalog.TypeHostReverted, catalog.TypeHostObserved, catalog.TypeReleasePruned:
			// Their version is another one than the deployment's, or none.
		default:
			fill(&row.Version, ad.version)
			fill(&row.Commit, ad.commit)
		}
	case strings.HasPrefix(e.Stream, catalog.ReleasePrefix):
		fill(&row.Release, e.Stream[len(catalog.ReleasePrefix):])
		if pid, ok := m.releases[row.Release]; ok {
			fill(&row.Project, m.projectT.name(pid))
		}
	case strings.HasPrefix(e.Stream, catalog.ProjectPrefix):
		fill(&row.Project, e.Stream[len(catalog.ProjectPrefix):])
	}
}

func fill(dst *string, v string) {
	if *dst == "" {
		*dst = v
	}
}

// Len is the number of events indexed.
func (m *Audit) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.times.len()
}
