package projections

import (
	"encoding/json"
	"fmt"
	"time"

	"releasedesk/events"
	"releasedesk/events/catalog"
)

// payload is the union of every field the models read from any event's
// data, filled by one walk of the JSON per envelope and shared by all
// models (Set.Apply decodes once, not once per model). Keys mean the same
// in every event type that has them, except a few whose JSON type tells
// them apart: "project" is an id, or in deploy.requested the project's
// configuration; "hosts" is a list of addresses, or in drift.checked a
// list of reports; "name" is a user, token or step name.
type payload struct {
	ID, User, Name, Deployment, Step, Host                string
	Project, Environment, Version, Commit, Previous, Kind string
	Release, Reason, Runner, OnFailure, ManifestHash      string
	Holder, KeyType, Fingerprint, Key, Error, Note        string
	Branch, Title, Tag, BaseCommit, Language              string

	Admin, Truncated, CreatedBranch, FastForwarded, Scheduled bool

	ExitCode, DurationMS, Parallel, Files, Bytes int64

	Switched, Failed, Reverted, Skipped, Hosts, Versions, Diff []string
	Batches                                                    [][]string

	// Command is step.started's argv as its JSON text, interned: one
	// string per distinct command instead of a slice per step, and no
	// decoding until someone looks (argvOf).
	Command string

	ExpiresAt, Since time.Time

	// StepView, HostView and NameView are a step event's step, host and step
	// name, left as views into the event's data (step events are most of
	// a log, and Deployments numbers these itself): see stepID, hostName.
	StepView, HostView, NameView []byte

	// Raw values decoded only by the few models that need them.
	Text        []byte // step.output's text, still a JSON string
	ProjectRaw  []byte // deploy.requested's project snapshot
	ConfigRaw   []byte // project.configured's config
	RolesRaw    []byte // user roles
	ContactsRaw []byte // user.contacts_set's contacts
	DriftRaw    []byte // drift.checked's host reports
	// NotificationRaw is a notification event's whole data: only the
	// Notifications model reads it, and few events are notifications.
	NotificationRaw []byte

	project *projectInfo // ProjectRaw or ConfigRaw parsed, on first use
}

// decoder fills payloads. It interns the strings that name things (ids,
// hosts, versions, step names), which recur across many events, so the
// fold neither allocates them again nor keeps a copy per event. It is not
// safe for concurrent use: each Set and each stand-alone model owns one.
type decoder struct {
	strs map[string]string
	p    payload
}

// maxInterned bounds the intern table: past it the table starts afresh
// (strings already handed out stay shared; only new ones are deduplicated
// against the new table), so a long-lived Set does not grow a map of every
// id it ever saw.
const maxInterned = 1 << 16

func newDecoder() *decoder { return &decoder{strs: make(map[string]string, 1024)} }

// intern returns the one copy of b's text. A decoder made without a
// table (the audit formatters' pooled ones) copies instead.
func (d *decoder) intern(b []byte) string {
	if d.strs == nil {
		return string(b)
	}
	if s, ok := d.strs[string(b)]; ok { // no allocation for the lookup
		return s
	}
	s := string(b)
	d.remember(s)
	return s
}

func (d *decoder) remember(s string) {
	if len(d.strs) >= maxInterned {
		d.strs = make(map[string]string, maxInterned) // sized: no growing again
	}
	d.strs[s] = s
}

// internString is intern for a string already made (the envelope's actor).
func (d *decoder) internString(s string) string {
	if d.strs == nil {
		return s
	}
	if v, ok := d.strs[s]; ok {
		return v
	}
	s = string([]byte(s)) // detach from the envelope's shared name block
	d.remember(s)
	return s
}

// str decodes a JSON string value, interned or not.
func (d *decoder) str(v []byte, intern bool) (string, bool) {
	if isNull(v) {
		return "", true
	}
	body, ok := stringBody(v)
	if !ok {
		return "", false
	}
	if hasEscape(body) {
		buf, ok := appendUnquoted(nil, body)
		if !ok {
			return "", false
		}
		body = buf
	}
	if len(body) == 0 {
		return "", true
	}
	if intern {
		return d.intern(body), true
	}
	return string(body), true
}

// view returns a JSON string's text without copying it when it has no
// escapes.
func view(v []byte) ([]byte, bool) {
	if isNull(v) {
		return nil, true
	}
	body, ok := stringBody(v)
	if !ok || !hasEscape(body) {
		return body, ok
	}
	return appendUnquoted(nil, body)
}

// stepID is the step's id however it was decoded.
func (p *payload) stepID() string {
	if p.Step != "" {
		return p.Step
	}
	return string(p.StepView)
}

// stepName is the step's name however it was decoded.
func (p *payload) stepName() string {
	if p.Name != "" {
		return p.Name
	}
	return string(p.NameView)
}

// hostName is the host however it was decoded.
func (p *payload) hostName() string {
	if p.Host != "" {
		return p.Host
	}
	return string(p.HostView)
}

// argv checks a list of strings and returns its JSON text, interned.
func (d *decoder) argv(v []byte) (string, bool) {
	if isNull(v) {
		return "", true
	}
	ok := eachElement(v, func(el []byte) bool {
		_, ok := stringBody(el)
		return ok
	})
	if !ok || len(v) <= 2 {
		return "", ok
	}
	return d.intern(v), true
}

// argvOf decodes what argv kept.
func argvOf(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	if json.Unmarshal([]byte(s), &out) != nil {
		return nil
	}
	return out
}

func (d *decoder) strs1(v []byte) ([]string, bool) {
	var out []string
	ok := eachElement(v, func(el []byte) bool {
		s, ok := d.str(el, true)
		if !ok {
			return false
		}
		out = append(out, s)
		return true
	})
	return out, ok
}

// decode fills d.p from e's data and returns it. The payload is valid until
// the next call.
func (d *decoder) decode(e *events.Envelope) (*payload, error) {
	d.p = payload{}
	p := &d.p
	var bad string
	// A step event's deployment is its stream's id, which every model
	// uses: not decoding it spares an intern per event on the hot path.
	stepEvent := len(e.Type) > 5 && e.Type[:5] == "step."
	if e.Type == catalog.TypeNotificationSent || e.Type == catalog.TypeNotificationFailed {
		p.NotificationRaw = e.Data
	}
	views := stepEvent
	ok := eachMember(e.Data, func(key, v []byte) bool {
		var ok bool
		switch string(key) {
		case "id":
			p.ID, ok = d.str(v, true)
		case "user":
			p.User, ok = d.str(v, true)
		case "name":
			if views {
				p.NameView, ok = view(v)
			} else {
				p.Name, ok = d.str(v, true)
			}
		case "deployment":
			if stepEvent {
				_, ok = stringBody(v)
			} else {
				p.Deployment, ok = d.str(v, true)
			}
		case "step":
			if views {
				p.StepView, ok = view(v)
			} else {
				p.Step, ok = d.str(v, true)
			}
		case "host":
			if views {
				p.HostView, ok = view(v)
			} else {
				p.Host, ok = d.str(v, true)
			}
		case "project":
			if len(v) > 0 && v[0] == '{' {
				p.ProjectRaw, ok = v, true
			} else {
				p.Project, ok = d.str(v, true)
			}
		case "environment":
			p.Environment, ok = d.str(v, true)
		case "version":
			p.Version, ok = d.str(v, true)
		case "commit":
			p.Commit, ok = d.str(v, true)
		case "previous":
			p.Previous, ok = d.str(v, true)
		case "kind":
			p.Kind, ok = d.str(v, true)
		case "release":
			p.Release, ok = d.str(v, true)
		case "reason":
			p.Reason, ok = d.str(v, false)
		case "runner":
			p.Runner, ok = d.str(v, true)
		case "on_failure":
			p.OnFailure, ok = d.str(v, true)
		case "manifest_hash":
			p.ManifestHash, ok = d.str(v, false)
		case "holder":
			p.Holder, ok = d.str(v, true)
		case "key_type":
			p.KeyType, ok = d.str(v, true)
		case "fingerprint":
			p.Fingerprint, ok = d.str(v, true)
		case "key":
			p.Key, ok = d.str(v, false)
		case "error":
			p.Error, ok = d.str(v, false)
		case "note":
			p.Note, ok = d.str(v, false)
		case "branch":
			p.Branch, ok = d.str(v, true)
		case "title":
			p.Title, ok = d.str(v, false)
		case "tag":
			p.Tag, ok = d.str(v, false)
		case "base_commit":
			p.BaseCommit, ok = d.str(v, true)
		case "language":
			p.Language, ok = d.str(v, true)
		case "admin":
			p.Admin, ok = boolValue(v)
		case "truncated":
			p.Truncated, ok = boolValue(v)
		case "created_branch":
			p.CreatedBranch, ok = boolValue(v)
		case "fast_forwarded":
			p.FastForwarded, ok = boolValue(v)
		case "scheduled":
			p.Scheduled, ok = boolValue(v)
		case "exit_code":
			p.ExitCode, ok = int64Value(v)
		case "duration_ms":
			p.DurationMS, ok = int64Value(v)
		case "parallel":
			p.Parallel, ok = int64Value(v)
		case "files":
			p.Files, ok = int64Value(v)
		case "bytes":
			p.Bytes, ok = int64Value(v)
		case "command":
			p.Command, ok = d.argv(v)
		case "switched":
			p.Switched, ok = d.strs1(v)
		case "failed":
			p.Failed, ok = d.strs1(v)
		case "reverted":
			p.Reverted, ok = d.strs1(v)
		case "skipped":
			p.Skipped, ok = d.strs1(v)
		case "versions":
			p.Versions, ok = d.strs1(v)
		case "diff":
			p.Diff, ok = d.strs1(v)
		case "hosts":
			if i := events.SkipJSONSpace(v, 0); i+1 < len(v) && v[i] == '[' && v[events.SkipJSONSpace(v, i+1)] == '{' {
				p.DriftRaw, ok = v, true
			} else {
				p.Hosts, ok = d.strs1(v)
			}
		case "batches":
			ok = eachElement(v, func(el []byte) bool {
				b, ok := d.strs1(el)
				if ok {
					if b == nil {
						b = []string{}
					}
					p.Batches = append(p.Batches, b)
				}
				return ok
			})
		case "text":
			_, ok = stringBody(v)
			p.Text = v
		case "config":
			p.ConfigRaw, ok = v, true
		case "roles":
			p.RolesRaw, ok = v, true
		case "contacts":
			p.ContactsRaw, ok = v, true
		case "expires_at":
			p.ExpiresAt, ok = timeValue(v)
		case "since":
			p.Since, ok = timeValue(v)
		default:
			ok = true // a field no model reads
		}
		if !ok && bad == "" {
			bad = string(key) // reported; the other fields are still read
		}
		return true
	})
	if bad != "" {
		return p, fmt.Errorf("%w: %s at position %d: field %q", ErrMalformed, e.Type, e.Position, bad)
	}
	if !ok {
		return p, fmt.Errorf("%w: %s at position %d: not a JSON object", ErrMalformed, e.Type, e.Position)
	}
	return p, nil
}

func timeValue(v []byte) (time.Time, bool) {
	if isNull(v) {
		return time.Time{}, true
	}
	body, ok := stringBody(v)
	if !ok {
		return time.Time{}, false
	}
	if len(body) == 0 {
		return time.Time{}, true
	}
	t, err := time.Parse(time.RFC3339Nano, string(body))
	return t.UTC(), err == nil
}

// roles decodes RolesRaw (project -> roles).
func (p *payload) roles() map[string][]string {
	if len(p.RolesRaw) == 0 || isNull(p.RolesRaw) {
		return nil
	}
	var m map[string][]string
	if json.Unmarshal(p.RolesRaw, &m) != nil {
		return nil
	}
	return m
}

// contacts decodes user.contacts_set's contacts (none when absent or bad).
func (p *payload) contacts() catalog.Contacts {
	var c catalog.Contacts
	if len(p.ContactsRaw) > 0 && !isNull(p.ContactsRaw) {
		_ = json.Unmarshal(p.ContactsRaw, &c)
	}
	return c
}

// projectInfo is what the models need of a project's configuration (the
// vocabulary's Project as JSON): from project.configured, or from the snapshot a
// deploy.requested carries.
type projectInfo struct {
	ID           string
	Title        string
	Repo         string
	Branch       string
	Strategy     string
	KeepReleases int
	Environments []Environment
}

// env returns the named environment and its index.
func (pi *projectInfo) env(name string) (Environment, int, bool) {
	for i, e := range pi.Environments {
		if e.Name == name {
			return e, i, true
		}
	}
	return Environment{}, -1, false
}

// projectOf parses the project configuration the payload carries
// (project.configured's config or deploy.requested's snapshot), once.
func (d *decoder) projectOf(p *payload) (*projectInfo, error) {
	if p.project != nil {
		return p.project, nil
	}
	raw := p.ConfigRaw
	if raw == nil {
		raw = p.ProjectRaw
	}
	if raw == nil {
		return nil, fmt.Errorf("%w: no project configuration", ErrMalformed)
	}
	pi := &projectInfo{}
	var bad string
	ok := eachMember(raw, func(key, v []byte) bool {
		var ok bool
		switch string(key) {
		case "id":
			pi.ID, ok = d.str(v, true)
		case "title":
			pi.Title, ok = d.str(v, false)
		case "repo":
			pi.Repo, ok = d.str(v, false)
		case "branch":
			pi.Branch, ok = d.str(v, true)
		case "strategy":
			pi.Strategy, ok = d.str(v, true)
		case "keep_releases":
			var n int64
			n, ok = int64Value(v)
			pi.KeepReleases = int(n)
		case "environments":
			ok = eachElement(v, func(el []byte) bool {
				env, ok := d.environment(el)
				pi.Environments = append(pi.Environments, env)
				return ok
			})
		default:
			ok = true
		}
		if !ok {
			bad = string(key)
		}
		return ok
	})
	if !ok || bad != "" {
		return nil, fmt.Errorf("%w: project configuration: field %q", ErrMalformed, bad)
	}
	if pi.Strategy == "local" {
		// The local strategy has one target, whatever hosts say
		// (catalog.Project.Targets).
		for i := range pi.Environments {
			pi.Environments[i].Hosts = []string{catalog.LocalHost}
		}
	}
	p.project = pi
	return pi, nil
}

// environment reads one configured environment.
func (d *decoder) environment(raw []byte) (Environment, bool) {
	var env Environment
	ok := eachMember(raw, func(key, v []byte) bool {
		var ok bool
		switch string(key) {
		case "name":
			env.Name, ok = d.str(v, true)
		case "path":
			env.Path, ok = d.str(v, true)
		case "approval":
			env.Approval, ok = boolValue(v)
		case "hosts":
			ok = eachElement(v, func(h []byte) bool {
				addr, ok := d.hostAddr(h)
				if ok && addr != "" {
					env.Hosts = append(env.Hosts, addr)
				}
				return ok
			})
		default:
			ok = true
		}
		return ok
	})
	return env, ok
}

// hostAddr reads a configured host: "user@host:port" or {addr, path}.
func (d *decoder) hostAddr(v []byte) (string, bool) {
	if len(v) > 0 && v[0] == '{' {
		var addr string
		ok := eachMember(v, func(key, v []byte) bool {
			if string(key) != "addr" {
				return true
			}
			var ok bool
			addr, ok = d.str(v, true)
			return ok
		})
		return addr, ok
	}
	return d.str(v, true)
}
