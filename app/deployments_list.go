package app

import (
	"slices"
	"strings"
	"unicode/utf8"

	"releasedesk/events/catalog"
	"releasedesk/events/text"
	"releasedesk/projections"
)

// DeploymentStates are the states a deployment can be in, in the order a
// deployment goes through them (the list's state filter takes these).
var DeploymentStates = []string{projections.DeployQueued, projections.DeployRunning, projections.DeploySucceeded,
	projections.DeployFailed, projections.DeployCancelled, projections.DeployInterrupted}

// DeploymentKinds are the kinds of deployment: a release's deploy, or a
// rollback of an environment to a version it ran. (A retry is not a kind:
// it runs the same deployment again, counted in its runs.)
var DeploymentKinds = []string{catalog.KindDeploy, catalog.KindRollback}

// MaxFilterLen bounds a name a list is filtered by: every id, user and
// environment name is far shorter, so a longer one is a mistake or an
// attack, refused before it is compared with anything.
const MaxFilterLen = 128

// DeploymentFilter is what the deployment list is filtered by, as the
// person asked (each field named after its query parameter): empty fields
// select all. States is a comma-separated list.
type DeploymentFilter struct {
	Project     string
	Environment string
	Release     string
	RequestedBy string
	Kind        string
	States      string
	Offset      int
	Limit       int
}

// Deployments lists the deployments the filter selects, newest first and
// without their steps, and how many it selects. A filter that cannot
// select anything sensible (an unknown state or kind, an over-long or
// malformed name) is an *InvalidError naming its field.
func (d *Desk) Deployments(f DeploymentFilter) ([]projections.Deployment, int, error) {
	q, err := f.query()
	if err != nil {
		return nil, 0, err
	}
	list, total := d.Set.Deployments.List(q)
	return list, total, nil
}

func (f DeploymentFilter) query() (projections.DeploymentQuery, error) {
	q := projections.DeploymentQuery{Project: f.Project, Environment: f.Environment, Release: f.Release,
		RequestedBy: f.RequestedBy, Kind: f.Kind, Offset: f.Offset, Limit: f.Limit}
	for _, x := range []struct{ field, value string }{
		{"project", f.Project}, {"env", f.Environment}, {"release", f.Release},
		{"requested_by", f.RequestedBy}, {"kind", f.Kind}, {"state", f.States},
	} {
		if err := checkFilterText(x.field, x.value); err != nil {
			return q, err
		}
	}
	if f.Kind != "" && !slices.Contains(DeploymentKinds, f.Kind) {
		return q, &InvalidError{Field: "kind", Reason: text.New("unknown kind %q: want %s", f.Kind, orList(DeploymentKinds))}
	}
	if f.States != "" {
		for _, s := range strings.Split(f.States, ",") {
			if !slices.Contains(DeploymentStates, s) {
				return q, &InvalidError{Field: "state", Reason: text.New("unknown deployment state %q: want %s",
					s, strings.Join(DeploymentStates, ", "))}
			}
			q.States = append(q.States, s)
		}
	}
	return q, nil
}

// checkFilterText refuses a filter value no name can have: longer than
// MaxFilterLen, not UTF-8, or holding a control character.
func checkFilterText(field, v string) error {
	switch {
	case len(v) > MaxFilterLen:
		return &InvalidError{Field: field, Reason: text.New("%d bytes: at most %d", len(v), MaxFilterLen)}
	case !utf8.ValidString(v):
		return &InvalidError{Field: field, Reason: text.New("is not valid UTF-8")}
	case strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return &InvalidError{Field: field, Reason: text.New("holds a control character")}
	}
	return nil
}
