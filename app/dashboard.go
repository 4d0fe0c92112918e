package app

import (
	"slices"
	"sort"
	"time"

	"releasedesk/projections"
)

// DashboardEnv is one environment of one project as the morning's first
// look shows it: what runs there, since when, put there by whom from
// which release, how the last deployment ended, and which hosts disagree
// or could not be read.
type DashboardEnv struct {
	Project      string `json:"project"`
	ProjectTitle string `json:"project_title,omitempty"`
	Environment  string `json:"environment"`
	Approval     bool   `json:"approval,omitempty"` // a stage that needs approval
	Hosts        int    `json:"hosts"`              // configured
	// What runs: the version of the last deployment that succeeded, and
	// its timeline entry (who, when, from which release, deploy or rollback).
	Current       string    `json:"current,omitempty"`
	CurrentCommit string    `json:"current_commit,omitempty"`
	Since         time.Time `json:"since,omitzero"`
	By            string    `json:"by,omitempty"`
	Release       string    `json:"release,omitempty"`
	Kind          string    `json:"kind,omitempty"` // deploy | rollback
	// Mixed: the hosts do not all run the current version.
	Mixed bool `json:"mixed,omitempty"`
	// The last deployment to it, whatever its outcome.
	LastDeployment string    `json:"last_deployment,omitempty"`
	LastState      string    `json:"last_state,omitempty"`
	LastAt         time.Time `json:"last_at,omitzero"`
	// Hosts whose last drift check found another version than recorded,
	// and hosts the last check or observation could not read.
	Drifted     []string `json:"drifted" tstype:"string[] | null"`
	Unreachable []string `json:"unreachable" tstype:"string[] | null"`
	Link        string   `json:"link"` // the versions timeline: "#/versions/shop/production"
}

// Dashboard is every project's every environment, projects by id and
// environments in stage order.
func (d *Desk) Dashboard() []DashboardEnv {
	projects := d.Set.Projects.List()
	sort.Slice(projects, func(i, j int) bool { return projects[i].ID < projects[j].ID })
	unobserved := d.unobservedHosts()
	out := []DashboardEnv{}
	for _, p := range projects {
		for _, env := range p.Environments {
			row := DashboardEnv{Project: p.ID, ProjectTitle: p.Title, Environment: env.Name, Approval: env.Approval,
				Hosts: len(env.Hosts), Link: "#/versions/" + p.ID + "/" + env.Name}
			if v, ok := d.Set.Versions.Env(p.ID, env.Name); ok {
				row.Current, row.Mixed = v.Current, v.Mixed
				for _, e := range v.Timeline {
					if e.Current {
						row.CurrentCommit, row.Since, row.By, row.Release, row.Kind = e.Commit, e.At, e.By, e.Release, e.Kind
					}
				}
			}
			if last, _ := d.Set.Deployments.List(projections.DeploymentQuery{Project: p.ID, Environment: env.Name, Limit: 1}); len(last) > 0 {
				row.LastDeployment, row.LastState, row.LastAt = last[0].ID, last[0].State, last[0].Requested
			}
			row.Drifted, row.Unreachable = d.hostTroubles(p.ID, env.Name, unobserved[p.ID+"/"+env.Name])
			out = append(out, row)
		}
	}
	return out
}

// hostTroubles are an environment's hosts whose last drift check found
// another version, and those it or their last observation could not read.
// The drift is the environment's last check (Hosts.LastDrift), the one the
// versions screen shows.
func (d *Desk) hostTroubles(project, env string, unobserved []string) (drifted, unreachable []string) {
	last, _ := d.Set.Hosts.LastDrift(project, env)
	for _, line := range last.Hosts {
		if line.Drifted {
			drifted = append(drifted, line.Host)
		}
		if line.Error != "" && !slices.Contains(unobserved, line.Host) {
			unreachable = append(unreachable, line.Host)
		}
	}
	unreachable = append(unreachable, unobserved...)
	sort.Strings(drifted)
	sort.Strings(unreachable)
	return drifted, unreachable
}

// unobservedHosts are, per "project/environment", the hosts whose last
// observation (after a crash) could not read them.
func (d *Desk) unobservedHosts() map[string][]string {
	out := map[string][]string{}
	for _, h := range d.Set.Hosts.List() {
		for _, run := range h.Runs {
			if run.Error != "" {
				key := run.Project + "/" + run.Environment
				out[key] = append(out[key], h.Addr)
			}
		}
	}
	return out
}
