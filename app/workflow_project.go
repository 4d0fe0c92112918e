package app

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"releasedesk/app/projectconfig"
	"releasedesk/events"
	"releasedesk/events/catalog"
	"releasedesk/events/text"
	"releasedesk/projections"
	"releasedesk/runner"
)

// ApplyResult is what configuring a project returns.
type ApplyResult struct {
	Project projections.Project `json:"-"`
	Diff    []string            `json:"diff"`
	Changed bool                `json:"changed"`
}

// ApplyProject configures a project from a YAML or JSON document: read and
// validated completely first (a projectconfig.Errors lists every problem, by
// field path), then project.configured with the whole configuration and
// its diff. Applying what is already configured writes nothing. id, when
// not empty, is the project the caller addresses (the URL's): the
// document must name the same one.
func (d *Desk) ApplyProject(ctx context.Context, u UserView, id string, data []byte, contentType string) (ApplyResult, error) {
	if err := d.Writable(); err != nil {
		return ApplyResult{}, err
	}
	p, err := projectconfig.Parse(data, contentType)
	if err != nil {
		return ApplyResult{}, err
	}
	if id != "" && p.ID != id {
		return ApplyResult{}, projectconfig.Errors{{Path: "id", Reason: text.New("the document configures %q, not %q", p.ID, id)}}
	}
	var out ApplyResult
	err = d.decide(ctx, func() error {
		if err := Authorize(u, p.ID, ActionProjectConfigure); err != nil {
			return err
		}
		var old catalog.Project
		if _, ok := d.Set.Projects.Get(p.ID); ok {
			if old, _, err = d.project(p.ID); err != nil {
				return err
			}
		}
		if sameProject(old, p) {
			out.Project, _ = d.Set.Projects.Get(p.ID)
			out.Diff = []string{}
			return nil
		}
		diff := projectconfig.Diff(old, p)
		raw, err := json.Marshal(p)
		if err != nil {
			return err
		}
		if _, err := d.appendNext(ctx, catalog.ProjectStream(p.ID), catalog.TypeProjectConfigured, u.Name,
			catalog.ProjectConfigured{ID: p.ID, Config: raw, Diff: diff}); err != nil {
			return err
		}
		out.Project, _ = d.Set.Projects.Get(p.ID)
		out.Diff, out.Changed = diff, true
		return nil
	})
	return out, err
}

// HostKeyInfo is GET /api/v1/hosts/key: the key a host offers now and
// whether the app trusts it.
type HostKeyInfo struct {
	Addr        string `json:"addr"`
	KeyType     string `json:"key_type"`
	Fingerprint string `json:"fingerprint"`
	Key         string `json:"key"`   // "<type> <base64>": what POST /hosts/trust takes
	State       string `json:"state"` // trusted | unknown | changed
	TrustedBy   string `json:"trusted_by,omitempty"`
	Trusted     string `json:"trusted_fingerprint,omitempty"`
}

// ScanHostKey asks a host for its key (no login) and compares it with the
// trusted one. Any signed-in user may look; trusting is an admin's.
func (d *Desk) ScanHostKey(ctx context.Context, addr string) (HostKeyInfo, error) {
	if d.Archive() {
		return HostKeyInfo{}, &UnavailableError{Code: "read_only", Message: text.New("offline review reaches no host")}
	}
	if addr == "" {
		return HostKeyInfo{}, &InvalidError{Field: "addr", Reason: text.New("is required: user@host:port or host:port")}
	}
	if err := checkHostAddr(addr); err != nil {
		return HostKeyInfo{}, err
	}
	typ, fp, key, err := runner.ScanHostKey(ctx, addr, 10*time.Second)
	if err != nil {
		return HostKeyInfo{}, &UpstreamError{Code: "host_unreachable", Message: text.Of(err)}
	}
	info := HostKeyInfo{Addr: projections.HostPortOf(addr), KeyType: typ, Fingerprint: fp, Key: key, State: projections.KeyUnknown}
	if k, ok := d.Set.Hosts.Key(addr); ok && k.Fingerprint != "" {
		info.TrustedBy, info.Trusted = k.TrustedBy, k.Fingerprint
		info.State = projections.KeyChanged
		if k.Fingerprint == fp {
			info.State = projections.KeyTrusted
		}
	}
	return info, nil
}

// TrustHost records an admin's trust of a host key (host.key_trusted) and
// writes it to the app's known_hosts (on PostgreSQL, also the database's).
func (d *Desk) TrustHost(ctx context.Context, u UserView, addr, key string) (projections.HostKey, error) {
	if err := d.Writable(); err != nil {
		return projections.HostKey{}, err
	}
	if err := Authorize(u, "", ActionHostTrust); err != nil {
		return projections.HostKey{}, err
	}
	if err := checkHostAddr(addr); err != nil {
		return projections.HostKey{}, err
	}
	if key == "" {
		return projections.HostKey{}, &InvalidError{Field: "key", Reason: text.New("is required: the \"<type> <base64>\" key the host offers (GET /api/v1/hosts/key)")}
	}
	err := d.decide(ctx, func() error {
		trust := func() error {
			if err := d.Runner.TrustHostKey(ctx, addr, key, u.Name); err != nil {
				if errors.Is(err, events.ErrReadOnly) {
					return err
				}
				return &InvalidError{Field: "key", Reason: text.Of(err)}
			}
			return nil
		}
		var err error
		if d.state != nil {
			// On PostgreSQL known_hosts lives in the database, for every
			// instance's runner.
			err = d.state.trustKnownHosts(ctx, trust)
		} else {
			err = trust()
		}
		if err != nil {
			return err
		}
		return d.Set.WaitFor(ctx, d.Log.Head().Position)
	})
	if err != nil {
		return projections.HostKey{}, err
	}
	k, _ := d.Set.Hosts.Key(addr)
	return k, nil
}

// checkHostAddr accepts "host:port" or "user@host:port", as the runner's
// key scan and known_hosts do: a host key belongs to the host, whoever
// logs in to it.
func checkHostAddr(addr string) error {
	// A DNS name is at most 253 bytes; with a user and a port, 320 is
	// generous. Longer text is refused before any lookup is tried.
	if len(addr) > maxHostAddrLen {
		return &InvalidError{Field: "addr", Reason: text.New("is longer than %d bytes", maxHostAddrLen)}
	}
	full := addr
	if !strings.Contains(addr, "@") {
		full = "x@" + addr
	}
	if _, _, _, err := runner.ParseHostAddr(full); err != nil {
		reason := text.Of(err)
		if full != addr {
			reason = text.New("bad host address %q: want host:port or user@host:port", addr)
		}
		return &InvalidError{Field: "addr", Reason: reason}
	}
	return nil
}

// maxHostAddrLen bounds a host address given to scan or trust.
const maxHostAddrLen = 320

// sameProject compares two configurations as they are stored (JSON), so an
// empty list and a missing one are the same.
func sameProject(a, b catalog.Project) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}
