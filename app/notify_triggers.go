package app

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"releasedesk/app/notify"
	"releasedesk/events"
	"releasedesk/events/catalog"
	"releasedesk/projections"
)

// occurrence is one trigger an event sets off, with what its message
// tells and whom it calls on.
type occurrence struct {
	trigger string
	data    notify.TemplateData
	// callOn is the role whose people must act ("" for none), and
	// requesters the people whose release or deployment failed.
	callOn     string
	requesters []string
}

// occurrencesOf derives the triggers of an event from the workflow's
// events and the read models as they were after it (the release's
// timeline entry at its position tells its state then). The models must
// have applied e.
func (d *Desk) occurrencesOf(ctx context.Context, e events.Envelope) []occurrence {
	if !telling[e.Type] {
		// Most events (a deployment's steps and output) tell nothing: this
		// is decided before any read model is asked, since a deployment's
		// record grows with its steps.
		return nil
	}
	switch {
	case catalog.StreamID(e.Stream, catalog.ReleasePrefix) != "":
		return d.releaseOccurrences(e)
	case catalog.StreamID(e.Stream, catalog.DeployPrefix) != "":
		return d.deployOccurrences(e)
	case e.Type == catalog.TypeDriftChecked:
		return d.driftOccurrences(ctx, e)
	}
	return nil
}

// telling are the event types a message can come of.
var telling = map[string]bool{
	catalog.TypeReleaseOpened: true, catalog.TypeReleaseTestPassed: true, catalog.TypeReleaseTestFailed: true,
	catalog.TypeReleaseApproved: true, catalog.TypeReleaseRejected: true, catalog.TypeReleaseRefused: true,
	catalog.TypeReleaseCompleted: true, catalog.TypeDeployStarted: true, catalog.TypeDeployFailed: true,
	catalog.TypeDeployInterrupted: true, catalog.TypeDeploySucceeded: true, catalog.TypeDriftChecked: true,
}

func (d *Desk) releaseOccurrences(e events.Envelope) []occurrence {
	id := catalog.StreamID(e.Stream, catalog.ReleasePrefix)
	r, ok := d.Set.Releases.Get(id)
	if !ok {
		return nil
	}
	entry, _ := timelineAt(d.Set.Releases.Timeline(id), e.Position)
	data := releaseData(r)
	data.Actor, data.Reason = e.Actor, entry.Note
	if entry.Commit != "" {
		data.Commit = entry.Commit
	}
	data.Environment = entry.Environment
	one := func(trigger, callOn string, requesters ...string) []occurrence {
		return []occurrence{{trigger: trigger, data: data, callOn: callOn, requesters: requesters}}
	}
	switch e.Type {
	case catalog.TypeReleaseOpened:
		data.Reason = "" // the opening note is the release's, not a reason
		return one("release.opened", "")
	case catalog.TypeReleaseTestPassed:
		// Next comes an approver, for the first stage that takes only
		// approved commits: a channel kept to production hears of it.
		if env, ok := d.approvalStage(r.Project); ok {
			data.Environment = env
		}
		return one("approval.needed", catalog.RoleApprover)
	case catalog.TypeReleaseTestFailed:
		return one("test.failed", "", r.Requester)
	case catalog.TypeReleaseApproved:
		// The approval is for the stage that takes only approved commits,
		// as approval.needed said: not the test stage the decision event
		// names (where the commit was tested). Before, "approved" told a
		// channel kept to test and not one kept to production.
		if env, ok := d.approvalStage(r.Project); ok {
			data.Environment = env
		}
		return one("approved", "")
	case catalog.TypeReleaseRejected, catalog.TypeReleaseRefused:
		return one("rejected", "", r.Requester)
	case catalog.TypeReleaseCompleted:
		return one("release.completed", "")
	}
	return nil
}

func (d *Desk) deployOccurrences(e events.Envelope) []occurrence {
	dep, ok := d.Set.Deployments.Get(catalog.StreamID(e.Stream, catalog.DeployPrefix))
	if !ok {
		return nil
	}
	data := notify.TemplateData{Project: dep.Project, Environment: dep.Environment, Release: dep.Release,
		Version: dep.Version, Commit: dep.Commit, Actor: dep.RequestedBy, Deployment: dep.ID, Reason: dep.Reason}
	requesters := []string{dep.RequestedBy}
	var release projections.Release
	if dep.Release != "" {
		if r, ok := d.Set.Releases.Get(dep.Release); ok {
			release = r
			rd := releaseData(r)
			data.Title, data.Branch = rd.Title, rd.Branch
			requesters = append(requesters, r.Requester)
		}
	}
	rollback := dep.Kind == catalog.KindRollback
	one := func(trigger, callOn string) occurrence {
		return occurrence{trigger: trigger, data: data, callOn: callOn}
	}
	switch e.Type {
	case catalog.TypeDeployStarted:
		// Once per deployment: a retry or a recovery is deploy.resumed.
		return []occurrence{one("deployment.started", "")}
	case catalog.TypeDeployFailed:
		data.Reason = errorOf(e, dep.Error)
		o := one("deployment.failed", "")
		o.requesters = requesters
		return []occurrence{o}
	case catalog.TypeDeployInterrupted:
		o := one("deployment.interrupted", "")
		o.requesters = requesters
		return []occurrence{o}
	case catalog.TypeDeploySucceeded:
		if rollback {
			return []occurrence{one("rollback.done", "")}
		}
		out := []occurrence{one("deployment.succeeded", "")}
		if release.ID == "" {
			return out
		}
		// What the release waits for now, from its state after this event.
		entry, _ := timelineAt(d.Set.Releases.Timeline(release.ID), e.Position)
		switch entry.State {
		case projections.StateTesting:
			out = append(out, one("test.needed", catalog.RoleTester))
		case projections.StateLive:
			out = append(out, one("acceptance.needed", catalog.RoleManager))
		}
		return out
	}
	return nil
}

// driftOccurrences: drift.found when a check finds a host drifted that the
// previous check of the environment did not (a scheduled check finding
// the same drift every hour says nothing new).
func (d *Desk) driftOccurrences(ctx context.Context, e events.Envelope) []occurrence {
	var rep catalog.DriftReport
	if json.Unmarshal(e.Data, &rep) != nil {
		return nil
	}
	now := driftedHosts(rep)
	if len(now) == 0 {
		return nil
	}
	if e.Version > 1 {
		prev, err := d.Log.ReadStream(ctx, e.Stream, e.Version-1)
		if err == nil && len(prev) > 0 {
			var before catalog.DriftReport
			if json.Unmarshal(prev[0].Data, &before) == nil && slices.Equal(driftedHosts(before), now) {
				return nil
			}
		}
	}
	var lines []string
	for _, h := range rep.Hosts {
		if h.Drifted {
			lines = append(lines, h.Host+": "+h.Actual+" ≠ "+h.Expected)
		}
	}
	data := notify.TemplateData{Project: rep.Project, Environment: rep.Environment, Actor: e.Actor,
		Reason: strings.Join(lines, "; ")}
	if len(rep.Hosts) > 0 {
		data.Version = rep.Hosts[0].Expected
	}
	return []occurrence{{trigger: "drift.found", data: data}}
}

func driftedHosts(rep catalog.DriftReport) []string {
	var out []string
	for _, h := range rep.Hosts {
		if h.Drifted {
			out = append(out, h.Host+"="+h.Actual)
		}
	}
	slices.Sort(out)
	return out
}

// releaseData is what every message about a release tells of it.
func releaseData(r projections.Release) notify.TemplateData {
	data := notify.TemplateData{Project: r.Project, Release: r.ID, Title: r.Title, Branch: r.Branch}
	// The version the release is at: its latest successful deployment's.
	var latest time.Time
	for _, rd := range r.Deployments {
		if rd.State == projections.DeploySucceeded && !rd.Finished.Before(latest) {
			latest, data.Version, data.Commit = rd.Finished, rd.Version, rd.Commit
		}
	}
	return data
}

// timelineAt is a release's timeline entry for the event at position.
func timelineAt(tl []projections.TimelineEntry, position uint64) (projections.TimelineEntry, bool) {
	i, ok := slices.BinarySearchFunc(tl, position, func(t projections.TimelineEntry, p uint64) int {
		switch {
		case t.Position < p:
			return -1
		case t.Position > p:
			return 1
		}
		return 0
	})
	if !ok {
		return projections.TimelineEntry{}, false
	}
	return tl[i], true
}

// approvalStage is the project's first stage that takes only approved
// commits (its last stage when none says so).
func (d *Desk) approvalStage(project string) (string, bool) {
	p, _, err := d.project(project)
	if err != nil || len(p.Environments) == 0 {
		return "", false
	}
	for _, env := range p.Environments {
		if env.Approval {
			return env.Name, true
		}
	}
	return p.Environments[len(p.Environments)-1].Name, true
}

// errorOf is a failed deployment's error as its terminal event says.
func errorOf(e events.Envelope, fallback string) string {
	var f struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(e.Data, &f) == nil && f.Error != "" {
		return f.Error
	}
	return fallback
}
