package projections

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"releasedesk/events"
	"releasedesk/events/catalog"
)

// RegisterAuditFormatters registers, for every workflow and runner event
// type, a formatter writing a one-line human summary into the audit row
// ("alice approved release 42 at 3f2a1b0", "web1: switched to
// 20261126031500-3f2a1b0 (was 20261125...)") and the columns the generic
// row misses (a release event's release id). It sees one event at a time;
// Audit.Formatters also fills what only the fold knows (the project of a
// step's deployment).
func RegisterAuditFormatters(f *events.Formatters) {
	for _, typ := range catalog.Types() {
		f.Register(typ, formatRow)
	}
}

// formatDecoders are decoders without an intern table: a formatter runs
// on any goroutine (an export, an API request) and keeps nothing.
var formatDecoders = sync.Pool{New: func() any { return &decoder{} }}

func formatRow(e events.Envelope, row *events.AuditRow) {
	d := formatDecoders.Get().(*decoder)
	defer formatDecoders.Put(d)
	p, err := d.decode(&e)
	if err != nil {
		row.Summary = e.Type + " (unreadable data)"
		return
	}
	summarize(&e, p, d, row)
}

// sha7 shortens a commit for a summary.
func sha7(c string) string {
	if len(c) > 7 {
		return c[:7]
	}
	return c
}

func suffix(sep, s string) string {
	if s == "" {
		return ""
	}
	return sep + s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func envName(project, env string) string {
	if project == "" {
		return env
	}
	return project + "/" + env
}

func duration(ms int64) string {
	return (time.Duration(ms) * time.Millisecond).String()
}

func rolesText(admin bool, roles map[string][]string) string {
	var parts []string
	if admin {
		parts = append(parts, "admin")
	}
	projects := make([]string, 0, len(roles))
	for p := range roles {
		projects = append(projects, p)
	}
	sort.Strings(projects)
	for _, p := range projects {
		parts = append(parts, p+": "+strings.Join(roles[p], ", "))
	}
	if len(parts) == 0 {
		return "no roles"
	}
	return strings.Join(parts, "; ")
}

// summarize writes row.Summary (and a few columns) for e.
func summarize(e *events.Envelope, p *payload, d *decoder, row *events.AuditRow) {
	a := e.Actor
	var s string
	switch e.Type {
	case catalog.TypeUserCreated:
		s = fmt.Sprintf("%s created user %s (%s)", a, p.Name, rolesText(p.Admin, p.roles()))
	case catalog.TypeUserRolesChanged:
		s = fmt.Sprintf("%s set the roles of %s: %s", a, p.Name, rolesText(p.Admin, p.roles()))
	case catalog.TypeUserPasswordChanged:
		if a == p.Name {
			s = p.Name + " changed their password"
		} else {
			s = fmt.Sprintf("%s set the password of %s", a, p.Name)
		}
	case catalog.TypeUserDisabled:
		s = fmt.Sprintf("%s disabled user %s%s", a, p.Name, suffix(": ", p.Reason))
	case catalog.TypeUserEnabled:
		s = fmt.Sprintf("%s enabled user %s", a, p.Name)
	case catalog.TypeUserLanguageSet:
		if a == p.Name {
			s = fmt.Sprintf("%s chose %s as their language", a, p.Language)
		} else {
			s = fmt.Sprintf("%s set the language of %s to %s", a, p.Name, p.Language)
		}
	case catalog.TypeLoginSucceeded:
		s = p.Name + " logged in"
	case catalog.TypeLoginFailed:
		s = fmt.Sprintf("failed login as %s%s", p.Name, suffix(": ", p.Reason))
	case catalog.TypeTokenCreated:
		s = fmt.Sprintf("%s created a %s token %q (%s) for %s", a, or(p.Kind, "personal"), p.Name, p.ID, p.User)
		if !p.ExpiresAt.IsZero() {
			s += ", expires " + events.FormatTime(p.ExpiresAt)
		}
	case catalog.TypeTokenRevoked:
		s = fmt.Sprintf("%s revoked token %s of %s", a, p.ID, p.User)
	case catalog.TypeProjectConfigured:
		row.Project = or(p.ID, row.Project)
		s = fmt.Sprintf("%s configured project %s", a, row.Project)
		if n := len(p.Diff); n > 0 {
			s += " (" + plural(n, "change", "changes") + ")"
		}
	case catalog.TypeVersionMarkedBad:
		s = fmt.Sprintf("%s marked %s of %s bad%s", a, p.Version, envName(p.Project, p.Environment), suffix(": ", p.Reason))
	case catalog.TypeRollbackRequested:
		if p.Release != "" {
			row.Release = p.Release
			s = fmt.Sprintf("%s refused release %s and rolled %s back to %s%s", a, p.Release,
				envName(p.Project, p.Environment), p.Version, suffix(": ", p.Reason))
			break
		}
		s = fmt.Sprintf("%s rolled %s back to %s%s", a, envName(p.Project, p.Environment), p.Version, suffix(": ", p.Reason))
	case catalog.TypeReleaseOpened:
		row.Release = p.ID
		s = fmt.Sprintf("%s opened release %s of %s on %s%s", a, p.ID, p.Project, p.Branch, suffix(": ", p.Title))
	case catalog.TypeReleaseDeployRequested:
		row.Release = p.ID
		s = fmt.Sprintf("%s deployed release %s at %s to %s (%s)", a, p.ID, sha7(p.Commit), p.Environment, p.Deployment)
	case catalog.TypeReleaseTestPassed, catalog.TypeReleaseTestFailed, catalog.TypeReleaseApproved, catalog.TypeReleaseRejected,
		catalog.TypeReleaseAccepted, catalog.TypeReleaseRefused, catalog.TypeReleaseCancelled:
		row.Release = p.ID
		verb := map[string]string{catalog.TypeReleaseTestPassed: "passed", catalog.TypeReleaseTestFailed: "failed",
			catalog.TypeReleaseApproved: "approved", catalog.TypeReleaseRejected: "rejected", catalog.TypeReleaseAccepted: "accepted",
			catalog.TypeReleaseRefused: "refused", catalog.TypeReleaseCancelled: "cancelled"}[e.Type]
		s = fmt.Sprintf("%s %s release %s", a, verb, p.ID)
		if p.Environment != "" {
			s += " on " + p.Environment
		}
		if p.Commit != "" {
			s += " at " + sha7(p.Commit)
		}
		s += suffix(": ", or(p.Note, p.Reason))
	case catalog.TypeReleaseCompleted:
		row.Release = p.ID
		s = fmt.Sprintf("%s completed release %s at %s%s", a, p.ID, sha7(p.Commit), suffix(", tagged ", p.Tag))
		if p.FastForwarded {
			s += ", mainline fast-forwarded"
		}
	case catalog.TypeDeployRequested:
		project := ""
		if p.ProjectRaw != nil {
			if pi, err := d.projectOf(p); err == nil {
				project = pi.ID
			}
		}
		row.Project = project
		dep := catalog.StreamID(e.Stream, catalog.DeployPrefix)
		if p.Kind == catalog.KindRollback {
			s = fmt.Sprintf("%s asked to roll %s back to %s (%s)%s", a, envName(project, p.Environment), p.Version, dep, suffix(": ", p.Reason))
		} else {
			s = fmt.Sprintf("%s asked to deploy %s to %s (%s)", a, p.Version, envName(project, p.Environment), dep)
			if p.Release != "" {
				s += " for release " + p.Release
			}
		}
	case catalog.TypeDeployStarted:
		s = fmt.Sprintf("runner %s started deployment %s", or(p.Runner, a), p.Deployment)
	case catalog.TypeDeployResumed:
		s = fmt.Sprintf("%s resumed deployment %s on %s", a, p.Deployment, hostList(p.Hosts))
	case catalog.TypeDeployPlanned:
		hosts := 0
		for _, b := range p.Batches {
			hosts += len(b)
		}
		s = fmt.Sprintf("deployment %s planned: %s in %s", p.Deployment, plural(hosts, "host", "hosts"),
			plural(len(p.Batches), "batch", "batches"))
		if p.Files > 0 {
			s += fmt.Sprintf(", %d files, %s", p.Files, byteSize(p.Bytes))
		}
		if len(p.Skipped) > 0 {
			s += ", already done on " + hostList(p.Skipped)
		}
	case catalog.TypeStepStarted:
		s = fmt.Sprintf("%s%s started", suffix2(p.hostName(), ": "), p.stepName())
		if argv := argvOf(p.Command); len(argv) > 0 {
			s += ": " + clip(strings.Join(argv, " "), 120)
		}
	case catalog.TypeStepOutput:
		n := 0
		if body, ok := stringBody(p.Text); ok {
			n = len(body)
		}
		s = fmt.Sprintf("%s: %s of output", p.stepID(), byteSize(int64(n)))
		if p.Truncated {
			s += " (truncated)"
		}
	case catalog.TypeStepFinished:
		if p.ExitCode == 0 && p.Error == "" {
			s = fmt.Sprintf("%s finished in %s", p.stepID(), duration(p.DurationMS))
		} else {
			s = fmt.Sprintf("%s failed (exit %d) in %s%s", p.stepID(), p.ExitCode, duration(p.DurationMS), suffix(": ", clip(p.Error, 200)))
		}
	case catalog.TypeHostStaged:
		s = fmt.Sprintf("%s: staged %s", p.Host, p.Version)
	case catalog.TypeHostSwitched:
		s = fmt.Sprintf("%s: switched to %s%s", p.Host, p.Version, wrap(" (was ", p.Previous, ")"))
	case catalog.TypeHostFailed:
		s = fmt.Sprintf("%s: failed%s%s", p.Host, suffix(" at ", p.Step), suffix(": ", clip(p.Error, 200)))
	case catalog.TypeHostReverted:
		s = fmt.Sprintf("%s: reverted to %s%s", p.Host, p.Version, wrap(" (from ", p.Previous, ")"))
	case catalog.TypeHostObserved:
		switch {
		case p.Error != "":
			s = fmt.Sprintf("%s: could not be read: %s", p.Host, clip(p.Error, 200))
		case p.Version == "":
			s = p.Host + ": runs no release"
		default:
			s = fmt.Sprintf("%s: runs %s", p.Host, p.Version)
		}
	case catalog.TypeDeploySucceeded, catalog.TypeDeployFailed, catalog.TypeDeployCancelled, catalog.TypeDeployInterrupted:
		state, _ := terminalState(e.Type)
		what := "deployment"
		if p.Kind == catalog.KindRollback {
			what = "rollback"
		}
		s = fmt.Sprintf("%s %s of %s to %s %s", what, p.Deployment, p.Version, envName(p.Project, p.Environment), state)
		if len(p.Switched) > 0 || e.Type == catalog.TypeDeploySucceeded {
			s += " on " + plural(len(p.Switched), "host", "hosts")
		}
		s += " in " + duration(p.DurationMS)
		if len(p.Failed) > 0 {
			s += "; failed: " + hostList(p.Failed)
		}
		if len(p.Reverted) > 0 {
			s += "; reverted: " + hostList(p.Reverted)
		}
		s += suffix(": ", clip(p.Error, 200))
	case catalog.TypeDeployCancelRequested:
		s = fmt.Sprintf("%s asked to cancel deployment %s%s", a, p.Deployment, suffix(": ", p.Reason))
	case catalog.TypeLockAcquired:
		s = fmt.Sprintf("%s locked for deployment %s%s", envName(p.Project, p.Environment), p.Deployment, suffix(" of ", p.Holder))
	case catalog.TypeLockReleased:
		s = fmt.Sprintf("%s unlocked by deployment %s%s", envName(p.Project, p.Environment), p.Deployment, suffix(": ", p.Reason))
	case catalog.TypeLockBroken:
		// One host's lock (host), or every host's; the log's lock named
		// no deployment when nobody held it there.
		s = fmt.Sprintf("%s broke the lock of %s%s%s%s", a, envName(p.Project, p.Environment), suffix(" on host ", p.Host),
			suffix(" held by deployment ", p.Deployment), suffix(": ", p.Reason))
	case catalog.TypeHostKeyTrusted:
		s = fmt.Sprintf("%s trusted the %s key %s of %s", a, p.KeyType, p.Fingerprint, p.Host)
	case catalog.TypeHostKeyRejected:
		s = fmt.Sprintf("refused the %s %s key %s of %s", or(p.Reason, "unknown"), p.KeyType, p.Fingerprint, p.Host)
	case catalog.TypeReleasePruned:
		s = fmt.Sprintf("%s: pruned %s: %s", p.Host, plural(len(p.Versions), "old release", "old releases"), strings.Join(p.Versions, ", "))
	case catalog.TypeDriftChecked:
		total, drifted, unread := 0, 0, 0
		eachElement(p.DriftRaw, func(el []byte) bool {
			total++
			eachMember(el, func(key, v []byte) bool {
				switch string(key) {
				case "drifted":
					if b, _ := boolValue(v); b {
						drifted++
					}
				case "error":
					if body, _ := stringBody(v); len(body) > 0 {
						unread++
					}
				}
				return true
			})
			return true
		})
		s = fmt.Sprintf("drift check of %s: %d of %s drifted", envName(p.Project, p.Environment), drifted, plural(total, "host", "hosts"))
		if unread > 0 {
			s += fmt.Sprintf(", %d unreadable", unread)
		}
	default:
		return
	}
	row.Summary = s
}

func suffix2(s, sep string) string {
	if s == "" {
		return ""
	}
	return s + sep
}

func wrap(pre, s, post string) string {
	if s == "" {
		return ""
	}
	return pre + s + post
}

func hostList(hs []string) string {
	if len(hs) == 0 {
		return "no host"
	}
	if len(hs) > 5 {
		return strings.Join(hs[:5], ", ") + fmt.Sprintf(" and %d more", len(hs)-5)
	}
	return strings.Join(hs, ", ")
}

// clip shortens s to n bytes (at a rune boundary) with an ellipsis, and
// keeps it on one line.
func clip(s string, n int) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i] + " …"
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

func byteSize(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
}
