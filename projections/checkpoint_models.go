package projections

import (
	"releasedesk/events/catalog"
	"sort"
	"strings"
)

// Each model's checkpoint encoding. encode and decode mirror each other
// field by field; maps are written in sorted order so that equal states
// give equal files.

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (w *encoder) environments(envs []Environment) {
	if envs == nil {
		w.uvarint(0)
		return
	}
	w.uvarint(uint64(len(envs)) + 1)
	for _, e := range envs {
		w.str(e.Name)
		w.str(e.Path)
		w.bool(e.Approval)
		w.strings(e.Hosts)
	}
}

func (r *cpDecoder) environments() []Environment {
	n := r.count()
	if n == 0 {
		return nil
	}
	out := make([]Environment, n-1)
	for i := range out {
		out[i] = Environment{Name: r.str(), Path: r.str(), Approval: r.bool(), Hosts: r.strings()}
	}
	return out
}

// Projects.

func (m *Projects) encode(w *encoder) {
	w.uvarint(uint64(len(m.byID)))
	for _, id := range sortedKeys(m.byID) {
		st := m.byID[id]
		c := &st.cur
		w.str(id)
		w.str(c.Title)
		w.str(c.Repo)
		w.str(c.Branch)
		w.str(c.Strategy)
		w.int(c.KeepReleases)
		w.environments(c.Environments)
		w.bytes(c.Config)
		w.time(c.Created)
		w.str(c.CreatedBy)
		w.time(c.Updated)
		w.str(c.UpdatedBy)
		w.uvarint(c.Position)
		w.uvarint(uint64(len(st.history)))
		for _, h := range st.history {
			w.uvarint(h.Position)
			w.time(h.Time)
			w.str(h.Actor)
			w.strings(h.Diff)
		}
	}
}

func (m *Projects) decode(r *cpDecoder) {
	for n := r.count(); n > 0; n-- {
		st := &projectState{}
		c := &st.cur
		c.ID, c.Title, c.Repo, c.Branch, c.Strategy = r.str(), r.str(), r.str(), r.str(), r.str()
		c.KeepReleases = r.int()
		c.Environments = r.environments()
		c.Config = r.bytes()
		c.Created, c.CreatedBy, c.Updated, c.UpdatedBy = r.time(), r.str(), r.time(), r.str()
		c.Position = r.uvarint()
		for k := r.count(); k > 0; k-- {
			st.history = append(st.history, ProjectChange{Position: r.uvarint(), Time: r.time(), Actor: r.str(), Diff: r.strings()})
		}
		m.byID[c.ID] = st
	}
}

// Users.

func (w *encoder) roles(roles map[string][]string) {
	if roles == nil {
		w.uvarint(0)
		return
	}
	w.uvarint(uint64(len(roles)) + 1)
	for _, p := range sortedKeys(roles) {
		w.str(p)
		w.strings(roles[p])
	}
}

func (r *cpDecoder) roles() map[string][]string {
	n := r.count()
	if n == 0 {
		return nil
	}
	out := make(map[string][]string, n-1)
	for range n - 1 {
		p := r.str()
		out[p] = r.strings()
	}
	return out
}

func (m *Users) encode(w *encoder) {
	w.uvarint(uint64(len(m.byName)))
	for _, name := range sortedKeys(m.byName) {
		u := m.byName[name]
		w.str(u.Name)
		w.bool(u.Admin)
		w.roles(u.Roles)
		w.bool(u.Disabled)
		w.time(u.Created)
		w.str(u.CreatedBy)
		w.time(u.PasswordChanged)
		w.time(u.LastLogin)
		w.int(u.FailedLogins)
		w.time(u.LastFailure)
		w.uvarint(uint64(len(u.Tokens)))
		for _, t := range u.Tokens {
			w.str(t.ID)
			w.str(t.Name)
			w.str(t.Kind)
			w.time(t.Created)
			w.time(t.ExpiresAt)
			w.bool(t.Revoked)
			w.time(t.RevokedAt)
			w.str(t.RevokedBy)
		}
		w.str(u.Language)
		w.str(u.Contacts.Email)
		w.str(u.Contacts.Mobile)
		w.str(u.Contacts.Feishu)
		w.str(u.Contacts.Slack)
	}
}

func (m *Users) decode(r *cpDecoder) {
	for n := r.count(); n > 0; n-- {
		u := &User{Name: r.str(), Admin: r.bool(), Roles: r.roles(), Disabled: r.bool(), Created: r.time(),
			CreatedBy: r.str(), PasswordChanged: r.time(), LastLogin: r.time(), FailedLogins: r.int(),
			LastFailure: r.time()}
		for k := r.count(); k > 0; k-- {
			t := Token{ID: r.str(), Name: r.str(), Kind: r.str(), Created: r.time(), ExpiresAt: r.time(),
				Revoked: r.bool(), RevokedAt: r.time(), RevokedBy: r.str()}
			u.Tokens = append(u.Tokens, t)
			m.tokenOf[t.ID] = u.Name
		}
		u.Language = r.str()
		u.Contacts = catalog.Contacts{Email: r.str(), Mobile: r.str(), Feishu: r.str(), Slack: r.str()}
		m.byName[u.Name] = u
	}
}

// Releases.

func (m *Releases) encode(w *encoder) {
	w.uvarint(uint64(len(m.order)))
	for _, rs := range m.order {
		r := &rs.r
		w.str(r.ID)
		w.str(r.Project)
		w.str(r.Branch)
		w.str(r.Title)
		w.str(r.Note)
		w.str(r.State)
		w.str(r.PinnedCommit)
		w.str(r.PinnedEnv)
		w.str(r.TestedCommit)
		w.str(r.TestedEnv)
		w.str(r.ApprovedCommit)
		w.str(r.Requester)
		w.str(r.Tester)
		w.str(r.Approver)
		w.str(r.Manager)
		w.str(r.Tag)
		w.time(r.Created)
		w.time(r.Updated)
		w.uvarint(r.Position)
		w.uvarint(rs.upd)
		if r.Deployments == nil {
			w.uvarint(0)
		} else {
			w.uvarint(uint64(len(r.Deployments)) + 1)
		}
		for _, d := range r.Deployments {
			w.str(d.Environment)
			w.str(d.Deployment)
			w.str(d.Commit)
			w.str(d.Version)
			w.str(d.State)
			w.time(d.Requested)
			w.time(d.Finished)
		}
		w.uvarint(uint64(len(rs.timeline)))
		for _, t := range rs.timeline {
			w.uvarint(t.Position)
			w.time(t.Time)
			w.str(t.Actor)
			w.str(t.Action)
			w.str(t.Note)
			w.str(t.Commit)
			w.str(t.Environment)
			w.str(t.Deployment)
			w.str(t.State)
		}
	}
	w.uvarint(uint64(len(m.links)))
	for _, dep := range sortedKeys(m.links) {
		l := m.links[dep]
		w.str(dep)
		w.str(l.rs.r.ID)
		w.str(l.env)
		w.str(l.commit)
		w.str(l.version)
		w.str(l.kind)
		w.bool(l.staged)
		w.bool(l.last)
		w.bool(l.approval)
		w.bool(l.entry)
		w.int(l.deployIndex)
	}
	w.uvarint(uint64(len(m.stages)))
	for _, p := range sortedKeys(m.stages) {
		w.str(p)
		w.environments(m.stages[p])
	}
}

func (m *Releases) decode(r *cpDecoder) {
	n := r.count()
	m.order = make([]*releaseState, 0, n)
	for ; n > 0 && r.err == nil; n-- {
		rs := &releaseState{}
		x := &rs.r
		x.ID, x.Project, x.Branch, x.Title, x.Note, x.State = r.str(), r.str(), r.str(), r.str(), r.str(), r.str()
		x.PinnedCommit, x.PinnedEnv, x.TestedCommit, x.TestedEnv = r.str(), r.str(), r.str(), r.str()
		x.ApprovedCommit, x.Requester, x.Tester, x.Approver, x.Manager, x.Tag = r.str(), r.str(), r.str(), r.str(), r.str(), r.str()
		x.Created, x.Updated = r.time(), r.time()
		x.Position, rs.upd = r.uvarint(), r.uvarint()
		if k := r.count(); k > 0 {
			x.Deployments = make([]ReleaseDeployment, k-1)
			for i := range x.Deployments {
				x.Deployments[i] = ReleaseDeployment{Environment: r.str(), Deployment: r.str(), Commit: r.str(),
					Version: r.str(), State: r.str(), Requested: r.time(), Finished: r.time()}
			}
		}
		k := r.count()
		rs.timeline = make([]TimelineEntry, k)
		for i := range rs.timeline {
			rs.timeline[i] = TimelineEntry{Position: r.uvarint(), Time: r.time(), Actor: r.str(), Action: r.str(),
				Note: r.str(), Commit: r.str(), Environment: r.str(), Deployment: r.str(), State: r.str()}
		}
		rs.search = searchKey(x.Title, x.Branch)
		m.byID[x.ID] = rs
		m.order = append(m.order, rs)
		m.byProject[x.Project] = append(m.byProject[x.Project], rs)
	}
	// The by-update list, from each release's last update position.
	byUpd := make([]*releaseState, len(m.order))
	copy(byUpd, m.order)
	sort.Slice(byUpd, func(i, j int) bool { return byUpd[i].upd < byUpd[j].upd })
	for _, rs := range byUpd {
		rs.prev = m.tail
		if m.tail != nil {
			m.tail.next = rs
		} else {
			m.head = rs
		}
		m.tail = rs
	}
	for n := r.count(); n > 0 && r.err == nil; n-- {
		dep, rel := r.str(), r.str()
		l := &relLink{env: r.str(), commit: r.str(), version: r.str(), kind: r.str(), staged: r.bool(),
			last: r.bool(), approval: r.bool(), entry: r.bool(), deployIndex: r.int()}
		if l.rs = m.byID[rel]; l.rs == nil {
			r.fail()
			return
		}
		m.links[dep] = l
	}
	for n := r.count(); n > 0; n-- {
		p := r.str()
		m.stages[p] = r.environments()
	}
}

// Deployments.

func (m *Deployments) encode(w *encoder) {
	total := 0
	for _, ds := range m.order {
		for _, out := range ds.outs {
			total += len(out)
		}
	}
	w.uvarint(uint64(total)) // the output arena's size
	w.uvarint(uint64(len(m.order)))
	for _, ds := range m.order {
		d := &ds.d
		w.str(d.ID)
		w.str(d.Kind)
		w.str(d.Project)
		w.str(d.Environment)
		w.str(d.Commit)
		w.str(d.Version)
		w.str(d.Release)
		w.str(d.RequestedBy)
		w.str(d.Reason)
		w.strings(d.OnlyHosts)
		w.str(d.State)
		w.str(d.Runner)
		w.int(d.Runs)
		w.bool(d.CancelRequested)
		w.str(d.CancelRequestedBy)
		w.str(d.CancelReason)
		w.str(d.ResumedBy)
		w.time(d.Resumed)
		pl := &d.Plan
		if pl.Batches == nil {
			w.uvarint(0)
		} else {
			w.uvarint(uint64(len(pl.Batches)) + 1)
		}
		for _, b := range pl.Batches {
			w.strings(b)
		}
		w.int(pl.Parallel)
		w.str(pl.OnFailure)
		w.str(pl.ManifestHash)
		w.int(pl.Files)
		w.varint(pl.Bytes)
		w.strings(pl.Skipped)
		w.uvarint(uint64(len(d.Hosts)))
		for _, h := range d.Hosts {
			w.str(h.Host)
			w.str(h.State)
			w.str(h.Step)
			w.str(h.Version)
			w.str(h.Commit)
			w.str(h.Previous)
			w.str(h.Error)
			w.str(h.FailedStep)
			w.time(h.Staged)
			w.time(h.Switched)
			w.time(h.Updated)
		}
		w.str(d.Error)
		w.strings(d.Switched)
		w.strings(d.Failed)
		w.strings(d.Reverted)
		w.time(d.Requested)
		w.time(d.Started)
		w.time(d.Planned)
		w.time(d.Finished)
		w.varint(d.DurationMS)
		w.uvarint(d.Position)
		w.uvarint(uint64(len(ds.steps)))
		for i := range ds.steps {
			s := &ds.steps[i]
			w.str(m.names.name(s.id))
			w.str(m.names.name(s.name))
			w.str(m.names.name(s.host))
			w.str(at(ds.cmds, s.cmd))
			w.varint(s.started)
			w.varint(s.finished)
			w.varint(int64(s.exit))
			w.bool(s.truncated)
			w.varint(s.durationMS)
			w.str(at(ds.errs, s.err))
			if s.out == 0 {
				w.bytes(nil)
			} else {
				w.bytes(ds.outs[s.out-1])
			}
		}
	}
}

func (m *Deployments) decode(r *cpDecoder) {
	arena := r.uvarint()
	if arena > uint64(len(r.b)) {
		r.fail()
		return
	}
	r.arena = make([]byte, 0, arena)
	n := r.count()
	m.order = make([]*deployState, 0, n)
	for ; n > 0 && r.err == nil; n-- {
		ds := &deployState{}
		d := &ds.d
		d.ID, d.Kind, d.Project, d.Environment, d.Commit, d.Version = r.str(), r.str(), r.str(), r.str(), r.str(), r.str()
		d.Release, d.RequestedBy, d.Reason = r.str(), r.str(), r.str()
		d.OnlyHosts = r.strings()
		d.State, d.Runner, d.Runs = r.str(), r.str(), r.int()
		d.CancelRequested, d.CancelRequestedBy, d.CancelReason = r.bool(), r.str(), r.str()
		d.ResumedBy, d.Resumed = r.str(), r.time()
		if k := r.count(); k > 0 {
			d.Plan.Batches = make([][]string, k-1)
			for i := range d.Plan.Batches {
				d.Plan.Batches[i] = r.strings()
			}
		}
		d.Plan.Parallel, d.Plan.OnFailure, d.Plan.ManifestHash = r.int(), r.str(), r.str()
		d.Plan.Files, d.Plan.Bytes, d.Plan.Skipped = r.int(), r.varint(), r.strings()
		if k := r.count(); k > 0 {
			d.Hosts = make([]HostProgress, k)
			for i := range d.Hosts {
				d.Hosts[i] = HostProgress{Host: r.str(), State: r.str(), Step: r.str(), Version: r.str(),
					Commit: r.str(), Previous: r.str(), Error: r.str(), FailedStep: r.str(),
					Staged: r.time(), Switched: r.time(), Updated: r.time()}
			}
		}
		d.Error = r.str()
		d.Switched, d.Failed, d.Reverted = r.strings(), r.strings(), r.strings()
		d.Requested, d.Started, d.Planned, d.Finished = r.time(), r.time(), r.time(), r.time()
		d.DurationMS, d.Position = r.varint(), r.uvarint()
		if k := r.count(); k > 0 {
			ds.steps = make([]step, k)
			for i := range ds.steps {
				s := step{id: m.names.id(r.str(), nil), name: m.names.id(r.str(), nil), host: m.names.id(r.str(), nil)}
				s.cmd = ds.cmdIndex(r.str())
				s.started, s.finished, s.exit, s.truncated = r.varint(), r.varint(), int32(r.varint()), r.bool()
				s.durationMS = r.varint()
				s.err = ds.errIndex(r.str())
				if out := r.arenaBytes(); out != nil {
					ds.outs = append(ds.outs, out)
					s.out = uint32(len(ds.outs))
				}
				ds.steps[i] = s
			}
		}
		m.byID[d.ID] = ds
		m.order = append(m.order, ds)
	}
}

// Versions.

func envKeys[V any](m map[envKey]V) []envKey {
	keys := make([]envKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].project != keys[j].project {
			return keys[i].project < keys[j].project
		}
		return keys[i].env < keys[j].env
	})
	return keys
}

func (m *Versions) encode(w *encoder) {
	keys := envKeys(m.envs)
	w.uvarint(uint64(len(keys)))
	for _, k := range keys {
		ev := m.envs[k]
		w.str(k.project)
		w.str(k.env)
		w.uvarint(uint64(len(ev.timeline)))
		for _, x := range ev.timeline {
			w.str(x.version)
			w.str(x.commit)
			w.str(x.release)
			w.str(x.deployment)
			w.str(x.by)
			w.str(x.kind)
			w.time(x.at)
			w.uvarint(x.position)
			w.str(x.outcome)
			w.strings(x.hosts)
		}
		w.int(ev.current)
		w.uvarint(uint64(len(ev.live)))
		for _, h := range sortedKeys(ev.live) {
			hv := ev.live[h]
			w.str(hv.Host)
			w.str(hv.Version)
			w.str(hv.Commit)
			w.str(hv.Deployment)
			w.time(hv.Since)
		}
		w.uvarint(uint64(len(ev.kept)))
		for _, h := range sortedKeys(ev.kept) {
			w.str(h)
			w.strings(sortedKeys(ev.kept[h]))
		}
		w.strings(ev.cfgHosts)
		w.strings(ev.reqHosts)
	}
	w.uvarint(uint64(len(m.deps)))
	for _, id := range sortedKeys(m.deps) {
		dep := m.deps[id]
		w.str(id)
		w.str(dep.env.project)
		w.str(dep.env.env)
		w.str(dep.version)
		w.str(dep.commit)
		w.str(dep.release)
		w.str(dep.by)
		w.str(dep.kind)
		w.strings(dep.on)
		w.int(dep.entry)
	}
	bad := make([]badKey, 0, len(m.bad))
	for k := range m.bad {
		bad = append(bad, k)
	}
	sort.Slice(bad, func(i, j int) bool {
		a, b := bad[i], bad[j]
		return strings.Join([]string{a.project, a.env, a.version}, "\x00") < strings.Join([]string{b.project, b.env, b.version}, "\x00")
	})
	w.uvarint(uint64(len(bad)))
	for _, k := range bad {
		b := m.bad[k]
		w.str(k.project)
		w.str(k.env)
		w.str(k.version)
		w.str(b.by)
		w.time(b.at)
		w.str(b.reason)
	}
}

func (m *Versions) decode(r *cpDecoder) {
	for n := r.count(); n > 0 && r.err == nil; n-- {
		ev := m.env(r.str(), r.str())
		if k := r.count(); k > 0 {
			ev.timeline = make([]versionEntry, k)
			for i := range ev.timeline {
				ev.timeline[i] = versionEntry{version: r.str(), commit: r.str(), release: r.str(), deployment: r.str(),
					by: r.str(), kind: r.str(), at: r.time(), position: r.uvarint(), outcome: r.str(), hosts: r.strings()}
			}
		}
		ev.current = r.int()
		for k := r.count(); k > 0; k-- {
			hv := HostVersion{Host: r.str(), Version: r.str(), Commit: r.str(), Deployment: r.str(), Since: r.time()}
			ev.live[hv.Host] = hv
		}
		for k := r.count(); k > 0; k-- {
			h := r.str()
			set := map[string]struct{}{}
			for _, v := range r.strings() {
				set[v] = struct{}{}
			}
			ev.kept[h] = set
		}
		ev.cfgHosts, ev.reqHosts = r.strings(), r.strings()
		if ev.current >= len(ev.timeline) {
			r.fail()
		}
	}
	for n := r.count(); n > 0 && r.err == nil; n-- {
		id := r.str()
		dep := &vdep{id: id, env: m.env(r.str(), r.str()), version: r.str(), commit: r.str(), release: r.str(),
			by: r.str(), kind: r.str(), on: r.strings(), entry: r.int()}
		if dep.entry >= len(dep.env.timeline) {
			r.fail()
		}
		m.deps[id] = dep
	}
	for n := r.count(); n > 0; n-- {
		k := badKey{r.str(), r.str(), r.str()}
		m.bad[k] = badMark{by: r.str(), at: r.time(), reason: r.str()}
	}
}

// Hosts.

func (m *Hosts) encode(w *encoder) {
	w.uvarint(uint64(len(m.runs)))
	for _, addr := range sortedKeys(m.runs) {
		runs := m.runs[addr]
		w.str(addr)
		keys := envKeys(runs)
		w.uvarint(uint64(len(keys)))
		for _, k := range keys {
			hr := runs[k]
			w.str(hr.Project)
			w.str(hr.Environment)
			w.str(hr.Version)
			w.str(hr.Commit)
			w.str(hr.Deployment)
			w.time(hr.Since)
			w.str(hr.Via)
			w.str(hr.Error)
			w.bool(hr.Drift != nil)
			if dr := hr.Drift; dr != nil {
				w.time(dr.Checked)
				w.str(dr.Expected)
				w.str(dr.Actual)
				w.bool(dr.Drifted)
				w.str(dr.Error)
			}
		}
	}
	w.uvarint(uint64(len(m.keys)))
	for _, hp := range sortedKeys(m.keys) {
		k := m.keys[hp]
		w.str(hp)
		w.str(k.State)
		w.str(k.KeyType)
		w.str(k.Fingerprint)
		w.str(k.TrustedBy)
		w.time(k.Trusted)
		w.str(k.OfferedType)
		w.str(k.OfferedFingerprint)
		w.str(k.OfferedKey)
		w.time(k.Refused)
		w.str(k.Deployment)
	}
	keys := envKeys(m.drifts)
	w.uvarint(uint64(len(keys)))
	for _, k := range keys {
		c := m.drifts[k]
		w.str(k.project)
		w.str(k.env)
		w.time(c.checked)
		w.str(c.by)
		w.bool(c.scheduled)
		w.strings(c.hosts)
	}
}

func (m *Hosts) decode(r *cpDecoder) {
	for n := r.count(); n > 0 && r.err == nil; n-- {
		addr := r.str()
		for k := r.count(); k > 0; k-- {
			hr := m.run(addr, r.str(), r.str())
			hr.Version, hr.Commit, hr.Deployment, hr.Since = r.str(), r.str(), r.str(), r.time()
			hr.Via, hr.Error = r.str(), r.str()
			if r.bool() {
				hr.Drift = &Drift{Checked: r.time(), Expected: r.str(), Actual: r.str(), Drifted: r.bool(), Error: r.str()}
			}
		}
	}
	for n := r.count(); n > 0; n-- {
		hp := r.str()
		m.keys[hp] = &HostKey{State: r.str(), KeyType: r.str(), Fingerprint: r.str(), TrustedBy: r.str(),
			Trusted: r.time(), OfferedType: r.str(), OfferedFingerprint: r.str(), OfferedKey: r.str(),
			Refused: r.time(), Deployment: r.str()}
	}
	for n := r.count(); n > 0 && r.err == nil; n-- {
		k := envKey{r.str(), r.str()}
		m.drifts[k] = &envDrift{checked: r.time(), by: r.str(), scheduled: r.bool(), hosts: r.strings()}
	}
}

// Audit.

func (t *nameTable) encode(w *encoder) { w.strings(t.names) }

func (t *nameTable) decode(r *cpDecoder) {
	t.names = r.strings()
	if t.names == nil {
		return
	}
	t.ids = make(map[string]uint32, len(t.names))
	for i, s := range t.names {
		if i > 0 {
			t.ids[s] = uint32(i)
		}
	}
}

func (m *Audit) encode(w *encoder) {
	w.uvarint(m.first)
	n := m.times.len()
	w.uvarint(uint64(n))
	prev := int64(0)
	for i := range n {
		t := m.times.at(i)
		w.varint(t - prev) // times grow: small deltas
		prev = t
	}
	for i := range n {
		w.uvarint(uint64(m.actors.at(i)))
		w.uvarint(uint64(m.types.at(i)))
		w.uvarint(uint64(m.projects.at(i)))
	}
	m.actorT.encode(w)
	m.typeT.encode(w)
	m.projectT.encode(w)
	w.uvarint(uint64(len(m.deploys)))
	for _, id := range sortedKeys(m.deploys) {
		ad := m.deploys[id]
		w.str(id)
		w.uvarint(uint64(ad.project))
		w.str(ad.env)
		w.str(ad.release)
		w.str(ad.version)
		w.str(ad.commit)
		w.str(ad.kind)
	}
	w.uvarint(uint64(len(m.releases)))
	for _, id := range sortedKeys(m.releases) {
		w.str(id)
		w.uvarint(uint64(m.releases[id]))
	}
}

func (m *Audit) decode(r *cpDecoder) {
	m.first = r.uvarint()
	n := r.count()
	m.times.resize(n)
	m.actors.resize(n)
	m.types.resize(n)
	m.projects.resize(n)
	prev := int64(0)
	for i := range n {
		prev += r.varint()
		m.times.set(i, prev)
	}
	for i := range n {
		m.actors.set(i, uint32(r.uvarint()))
		m.types.set(i, uint16(r.uvarint()))
		m.projects.set(i, uint32(r.uvarint()))
	}
	m.actorT.decode(r)
	m.typeT.decode(r)
	m.projectT.decode(r)
	for n := r.count(); n > 0; n-- {
		id := r.str()
		m.deploys[id] = &auditDeploy{project: uint32(r.uvarint()), env: r.str(), release: r.str(), version: r.str(),
			commit: r.str(), kind: r.str()}
	}
	for n := r.count(); n > 0; n-- {
		id := r.str()
		m.releases[id] = uint32(r.uvarint())
	}
}

// Queue.

func (m *Queue) encode(w *encoder) {
	w.uvarint(uint64(len(m.waiting)))
	for _, q := range m.waiting {
		w.str(q.Deployment)
		w.str(q.Project)
		w.str(q.Environment)
		w.str(q.Kind)
		w.str(q.Version)
		w.str(q.Commit)
		w.str(q.Release)
		w.str(q.RequestedBy)
		w.time(q.Requested)
		w.uvarint(q.Position)
	}
	keys := envKeys(m.locks)
	w.uvarint(uint64(len(keys)))
	for _, k := range keys {
		l := m.locks[k]
		w.str(l.Project)
		w.str(l.Environment)
		w.str(l.Deployment)
		w.str(l.Holder)
		w.time(l.Since)
	}
}

func (m *Queue) decode(r *cpDecoder) {
	for n := r.count(); n > 0; n-- {
		m.waiting = append(m.waiting, QueueEntry{Deployment: r.str(), Project: r.str(), Environment: r.str(),
			Kind: r.str(), Version: r.str(), Commit: r.str(), Release: r.str(), RequestedBy: r.str(),
			Requested: r.time(), Position: r.uvarint()})
	}
	for n := r.count(); n > 0; n-- {
		l := EnvLock{Project: r.str(), Environment: r.str(), Deployment: r.str(), Holder: r.str(), Since: r.time()}
		m.locks[envKey{l.Project, l.Environment}] = l
	}
}
