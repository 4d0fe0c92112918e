package projections

import (
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"releasedesk/events"
	"releasedesk/events/catalog"
)

// Host is what the log says of one target address.
type Host struct {
	Addr     string    `json:"addr"`                           // as configured: user@host:port (or "local")
	HostPort string    `json:"host_port"`                      // host:port, what its key is recorded under
	Runs     []HostRun `json:"runs" tstype:"HostRun[] | null"` // per project and environment, sorted; null for a host known only by its key
	Key      HostKey   `json:"key,omitzero"`                   // from host/<host:port>; zero if never seen
}

// HostRun is what a host runs for one project environment.
type HostRun struct {
	Project     string    `json:"project"`
	Environment string    `json:"environment"`
	Version     string    `json:"version"`
	Commit      string    `json:"commit,omitempty"`
	Deployment  string    `json:"deployment,omitempty"` // the deployment whose event says so
	Since       time.Time `json:"since"`                // of that event
	Via         string    `json:"via"`                  // switched | reverted | observed
	Error       string    `json:"error,omitempty"`      // the last observation failed: the host could not be read
	Drift       *Drift    `json:"drift,omitempty"`      // the last drift check of this host
}

// Drift is a host's line of the last drift.checked of its environment.
type Drift struct {
	Checked  time.Time `json:"checked"`
	Expected string    `json:"expected"`
	Actual   string    `json:"actual"`
	Drifted  bool      `json:"drifted"`
	Error    string    `json:"error,omitempty"`
}

// EnvDrift is an environment's last drift check: when, by whom, whether
// its schedule ran it, and each host's line, in the report's order.
type EnvDrift struct {
	Checked   time.Time   `json:"checked"`
	By        string      `json:"by"` // who asked; the runner for a scheduled check
	Scheduled bool        `json:"scheduled,omitempty"`
	Hosts     []DriftLine `json:"hosts"`
}

// DriftLine is one host's line of a drift check.
type DriftLine struct {
	Host     string `json:"host"`
	Expected string `json:"expected"` // the version the log says runs there
	Actual   string `json:"actual"`   // what `current` named ("" if none)
	Drifted  bool   `json:"drifted"`
	Error    string `json:"error,omitempty"` // it could not be read
}

// envDrift is an environment's last drift check as kept: the hosts'
// lines live in their runs.
type envDrift struct {
	checked   time.Time
	by        string
	scheduled bool
	hosts     []string
}

// Host key trust states.
const (
	KeyTrusted = "trusted" // an admin trusted the key it offers
	KeyUnknown = "unknown" // it offered a key nobody trusted yet
	KeyChanged = "changed" // it offered another key than the trusted one
)

// HostKey is the trust of a host's SSH key.
type HostKey struct {
	State       string    `json:"state"`                 // KeyTrusted, KeyUnknown, KeyChanged; "" if never seen
	KeyType     string    `json:"key_type,omitempty"`    // of the trusted key
	Fingerprint string    `json:"fingerprint,omitempty"` // of the trusted key (SHA256:...)
	TrustedBy   string    `json:"trusted_by,omitempty"`
	Trusted     time.Time `json:"trusted,omitzero"`
	// The last refused key, while it is not the trusted one.
	OfferedType        string    `json:"offered_type,omitempty"`
	OfferedFingerprint string    `json:"offered_fingerprint,omitempty"`
	OfferedKey         string    `json:"offered_key,omitempty"` // "<type> <base64>", what an admin trusts
	Refused            time.Time `json:"refused,omitzero"`
	Deployment         string    `json:"deployment,omitempty"` // which deployment was refused
}

// Hosts is the read model of hosts: what each runs, and its key.
type Hosts struct {
	base
	runs   map[string]map[envKey]*HostRun // addr -> runs
	keys   map[string]*HostKey            // host:port -> key
	drifts map[envKey]*envDrift           // each environment's last drift check
}

// NewHosts returns an empty model.
func NewHosts() *Hosts {
	return &Hosts{runs: map[string]map[envKey]*HostRun{}, keys: map[string]*HostKey{}, drifts: map[envKey]*envDrift{}}
}

// Apply folds one envelope (see Projection).
func (m *Hosts) Apply(e events.Envelope) error { return applyOne(m, &m.base, e) }

func (m *Hosts) apply(e *events.Envelope, p *payload, d *decoder) error {
	switch e.Type {
	case catalog.TypeHostSwitched, catalog.TypeHostReverted, catalog.TypeHostObserved:
		if p.Host == "" {
			return nil
		}
		r := m.run(p.Host, p.Project, p.Environment)
		if e.Type == catalog.TypeHostObserved && p.Version == "" && p.Error != "" {
			r.Error = p.Error // unreadable: what it runs stays as last known
			return nil
		}
		r.Version, r.Commit, r.Deployment, r.Since, r.Error = p.Version, p.Commit, p.Deployment, e.Time, ""
		r.Via = strings.TrimPrefix(e.Type, "deploy.host_")
	case catalog.TypeDriftChecked:
		return m.drift(e, p, d)
	case catalog.TypeHostKeyTrusted, catalog.TypeHostKeyRejected:
		hp := HostPortOf(p.Host)
		if hp == "" {
			return nil
		}
		k := m.keys[hp]
		if k == nil {
			k = &HostKey{}
			m.keys[d.internString(hp)] = k
		}
		if e.Type == catalog.TypeHostKeyTrusted {
			*k = HostKey{State: KeyTrusted, KeyType: p.KeyType, Fingerprint: p.Fingerprint,
				TrustedBy: d.internString(e.Actor), Trusted: e.Time}
			return nil
		}
		if k.State == KeyTrusted && p.Fingerprint == k.Fingerprint {
			return nil // a refusal of the key since trusted: stale
		}
		k.OfferedType, k.OfferedFingerprint, k.OfferedKey = p.KeyType, p.Fingerprint, p.Key
		k.Refused, k.Deployment = e.Time, p.Deployment
		if p.Reason == KeyChanged || k.State == KeyTrusted || k.State == KeyChanged {
			k.State = KeyChanged
		} else {
			k.State = KeyUnknown
		}
	}
	return nil
}

func (m *Hosts) run(addr, project, env string) *HostRun {
	rs := m.runs[addr]
	if rs == nil {
		rs = map[envKey]*HostRun{}
		m.runs[addr] = rs
	}
	k := envKey{project, env}
	r := rs[k]
	if r == nil {
		r = &HostRun{Project: project, Environment: env}
		rs[k] = r
	}
	return r
}

// drift records each host's line of a drift report.
func (m *Hosts) drift(e *events.Envelope, p *payload, d *decoder) error {
	if p.DriftRaw == nil {
		return nil
	}
	check := &envDrift{checked: e.Time, by: d.internString(e.Actor), scheduled: p.Scheduled}
	ok := eachElement(p.DriftRaw, func(el []byte) bool {
		var host string
		dr := &Drift{Checked: e.Time}
		ok := eachMember(el, func(key, v []byte) bool {
			var ok bool
			switch string(key) {
			case "host":
				host, ok = d.str(v, true)
			case "expected":
				dr.Expected, ok = d.str(v, true)
			case "actual":
				dr.Actual, ok = d.str(v, true)
			case "error":
				dr.Error, ok = d.str(v, false)
			case "drifted":
				dr.Drifted, ok = boolValue(v)
			default:
				ok = true
			}
			return ok
		})
		if ok && host != "" {
			m.run(host, p.Project, p.Environment).Drift = dr
			check.hosts = append(check.hosts, host)
		}
		return ok
	})
	if !ok {
		return ErrMalformed
	}
	m.drifts[envKey{p.Project, p.Environment}] = check
	return nil
}

// LastDrift returns an environment's last drift check; ok is false when
// it was never checked.
func (m *Hosts) LastDrift(project, env string) (EnvDrift, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	k := envKey{project, env}
	c := m.drifts[k]
	if c == nil {
		return EnvDrift{}, false
	}
	out := EnvDrift{Checked: c.checked, By: c.by, Scheduled: c.scheduled, Hosts: make([]DriftLine, 0, len(c.hosts))}
	for _, host := range c.hosts {
		line := DriftLine{Host: host}
		if r := m.runs[host][k]; r != nil && r.Drift != nil {
			line.Expected, line.Actual, line.Drifted, line.Error = r.Drift.Expected, r.Drift.Actual, r.Drift.Drifted, r.Drift.Error
		}
		out.Hosts = append(out.Hosts, line)
	}
	return out, true
}

// HostPortOf returns the host:port of an address ("user@host:port",
// "host:port", "host"; port 22 by default), the form host keys are
// recorded under, or "" for the local target or an unreadable address.
func HostPortOf(addr string) string {
	if addr == "" || addr == catalog.LocalHost {
		return ""
	}
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		addr = addr[i+1:]
	}
	if host, port, err := net.SplitHostPort(addr); err == nil {
		if _, err := strconv.Atoi(port); err != nil || host == "" {
			return ""
		}
		return net.JoinHostPort(host, port)
	}
	host := strings.Trim(addr, "[]")
	if host == "" {
		return ""
	}
	return net.JoinHostPort(host, "22")
}

// Get returns a host by address (as configured, or host:port for a host
// known only by its key).
func (m *Hosts) Get(addr string) (Host, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, hasRuns := m.runs[addr]
	hp := HostPortOf(addr)
	_, hasKey := m.keys[hp]
	if !hasRuns && !hasKey {
		return Host{}, false
	}
	return m.view(addr, hp), true
}

// Key returns the key trust of an address (any form HostPortOf reads).
func (m *Hosts) Key(addr string) (HostKey, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	k, ok := m.keys[HostPortOf(addr)]
	if !ok {
		return HostKey{}, false
	}
	return *k, true
}

// List returns every host that ran something or offered a key, by
// address. A host known only by its key is listed under host:port.
func (m *Hosts) List() []Host {
	m.mu.RLock()
	defer m.mu.RUnlock()
	seen := map[string]bool{}
	var out []Host
	for addr := range m.runs {
		hp := HostPortOf(addr)
		seen[hp] = true
		out = append(out, m.view(addr, hp))
	}
	for hp := range m.keys {
		if !seen[hp] {
			out = append(out, m.view(hp, hp))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr < out[j].Addr })
	return out
}

func (m *Hosts) view(addr, hp string) Host {
	h := Host{Addr: addr, HostPort: hp}
	if k := m.keys[hp]; k != nil {
		h.Key = *k
	}
	for _, r := range m.runs[addr] {
		c := *r
		if r.Drift != nil {
			dr := *r.Drift
			c.Drift = &dr
		}
		h.Runs = append(h.Runs, c)
	}
	sort.Slice(h.Runs, func(i, j int) bool {
		a, b := h.Runs[i], h.Runs[j]
		if a.Project != b.Project {
			return a.Project < b.Project
		}
		return a.Environment < b.Environment
	})
	return h
}
