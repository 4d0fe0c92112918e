package projections

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"releasedesk/events"
	"releasedesk/events/catalog"
	"releasedesk/events/text"
)

// RegisterAuditFormatters registers, for every workflow and runner event
// type, a formatter writing a one-line human summary into the audit row
// ("alice approved release 42 at 3f2a1b0", "web1: switched to
// 20261126031500-3f2a1b0 (was 20261125...)") and the columns the generic
// row misses (a release event's release id). The summary is a text.Text
// (row.SummaryText: the API's audit listing writes it in the reader's
// language) and its English (row.Summary: what the exports write, byte for
// byte what it always was). It sees one event at a time;
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
		s := text.New("%s (unreadable data)", e.Type)
		row.SummaryText, row.Summary = &s, s.String()
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

// nothing is an optional part left out: it reads "" in every language.
var nothing text.Text

// colon is ": s" after a sentence (a reason, a note, an error), or nothing
// when s is empty.
func colon(s string) text.Text {
	if s == "" {
		return nothing
	}
	return text.New(": %s", s)
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

// hostsText is "1 host" or "n hosts".
func hostsText(n int) text.Text {
	if n == 1 {
		return text.New("1 host")
	}
	return text.New("%d hosts", n)
}

// rolesText is a user's roles: role codes, which read the same in every
// language, or "no roles".
func rolesText(admin bool, roles map[string][]string) text.Text {
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
		return text.New("no roles")
	}
	return text.Plain(strings.Join(parts, "; "))
}

// tokenText is token.created's sentence: a kind (session | personal) is
// a word of its own in Chinese, so each has its sentence.
func tokenText(actor, kind, name, id, user string, expires text.Text) text.Text {
	switch kind {
	case "", "personal":
		return text.New("%s created a personal token %q (%s) for %s%s", actor, name, id, user, expires)
	case "session":
		return text.New("%s created a session token %q (%s) for %s%s", actor, name, id, user, expires)
	}
	return text.New("%s created a %s token %q (%s) for %s%s", actor, kind, name, id, user, expires)
}

// keyRefusedText is host.key_rejected's sentence, one for each reason
// (unknown | changed).
func keyRefusedText(reason, keyType, fingerprint, host string) text.Text {
	switch reason {
	case "", "unknown":
		return text.New("refused the unknown %s key %s of %s", keyType, fingerprint, host)
	case "changed":
		return text.New("refused the changed %s key %s of %s", keyType, fingerprint, host)
	}
	return text.New("refused the %s %s key %s of %s", reason, keyType, fingerprint, host)
}

// decisionText is a release decision (test passed or failed, approved,
// rejected, accepted, refused, cancelled) with its optional parts: where,
// at which commit, and the note or reason.
func decisionText(typ, actor, release string, on, at, note text.Text) text.Text {
	switch typ {
	case catalog.TypeReleaseTestPassed:
		return text.New("%s passed release %s%s%s%s", actor, release, on, at, note)
	case catalog.TypeReleaseTestFailed:
		return text.New("%s failed release %s%s%s%s", actor, release, on, at, note)
	case catalog.TypeReleaseApproved:
		return text.New("%s approved release %s%s%s%s", actor, release, on, at, note)
	case catalog.TypeReleaseRejected:
		return text.New("%s rejected release %s%s%s%s", actor, release, on, at, note)
	case catalog.TypeReleaseAccepted:
		return text.New("%s accepted release %s%s%s%s", actor, release, on, at, note)
	case catalog.TypeReleaseRefused:
		return text.New("%s refused release %s%s%s%s", actor, release, on, at, note)
	}
	return text.New("%s cancelled release %s%s%s%s", actor, release, on, at, note)
}

// endText is how a deployment or a rollback ended (the head of its
// summary).
func endText(typ string, rollback bool, dep, version, env string) text.Text {
	switch {
	case typ == catalog.TypeDeploySucceeded && rollback:
		return text.New("rollback %s of %s to %s succeeded", dep, version, env)
	case typ == catalog.TypeDeploySucceeded:
		return text.New("deployment %s of %s to %s succeeded", dep, version, env)
	case typ == catalog.TypeDeployFailed && rollback:
		return text.New("rollback %s of %s to %s failed", dep, version, env)
	case typ == catalog.TypeDeployFailed:
		return text.New("deployment %s of %s to %s failed", dep, version, env)
	case typ == catalog.TypeDeployCancelled && rollback:
		return text.New("rollback %s of %s to %s cancelled", dep, version, env)
	case typ == catalog.TypeDeployCancelled:
		return text.New("deployment %s of %s to %s cancelled", dep, version, env)
	case rollback:
		return text.New("rollback %s of %s to %s interrupted", dep, version, env)
	}
	return text.New("deployment %s of %s to %s interrupted", dep, version, env)
}

// summarize writes row.Summary, and row.SummaryText (the same sentence
// for another language), and a few columns for e.
func summarize(e *events.Envelope, p *payload, d *decoder, row *events.AuditRow) {
	a := e.Actor
	var s text.Text
	switch e.Type {
	case catalog.TypeUserCreated:
		s = text.New("%s created user %s (%s)", a, p.Name, rolesText(p.Admin, p.roles()))
	case catalog.TypeUserRolesChanged:
		s = text.New("%s set the roles of %s: %s", a, p.Name, rolesText(p.Admin, p.roles()))
	case catalog.TypeUserPasswordChanged:
		if a == p.Name {
			s = text.New("%s changed their password", p.Name)
		} else {
			s = text.New("%s set the password of %s", a, p.Name)
		}
	case catalog.TypeUserDisabled:
		s = text.New("%s disabled user %s%s", a, p.Name, colon(p.Reason))
	case catalog.TypeUserEnabled:
		s = text.New("%s enabled user %s", a, p.Name)
	case catalog.TypeUserLanguageSet:
		if a == p.Name {
			s = text.New("%s chose %s as their language", a, p.Language)
		} else {
			s = text.New("%s set the language of %s to %s", a, p.Name, p.Language)
		}
	case catalog.TypeUserContactsSet:
		// The handles themselves are personal: the trail says who changed
		// them, not what they are.
		if a == p.Name {
			s = text.New("%s changed their contact handles", a)
		} else {
			s = text.New("%s changed the contact handles of %s", a, p.Name)
		}
	case catalog.TypeLoginSucceeded:
		s = text.New("%s logged in", p.Name)
	case catalog.TypeLoginFailed:
		s = text.New("failed login as %s%s", p.Name, colon(p.Reason))
	case catalog.TypeTokenCreated:
		expires := nothing
		if !p.ExpiresAt.IsZero() {
			expires = text.New(", expires %s", events.FormatTime(p.ExpiresAt))
		}
		s = tokenText(a, p.Kind, p.Name, p.ID, p.User, expires)
	case catalog.TypeTokenRevoked:
		s = text.New("%s revoked token %s of %s", a, p.ID, p.User)
	case catalog.TypeProjectConfigured:
		row.Project = or(p.ID, row.Project)
		changes := nothing
		switch n := len(p.Diff); {
		case n == 1:
			changes = text.New(" (1 change)")
		case n > 1:
			changes = text.New(" (%d changes)", n)
		}
		s = text.New("%s configured project %s%s", a, row.Project, changes)
	case catalog.TypeVersionMarkedBad:
		s = text.New("%s marked %s of %s bad%s", a, p.Version, envName(p.Project, p.Environment), colon(p.Reason))
	case catalog.TypeRollbackRequested:
		if p.Release != "" {
			row.Release = p.Release
			s = text.New("%s refused release %s and rolled %s back to %s%s", a, p.Release,
				envName(p.Project, p.Environment), p.Version, colon(p.Reason))
			break
		}
		s = text.New("%s rolled %s back to %s%s", a, envName(p.Project, p.Environment), p.Version, colon(p.Reason))
	case catalog.TypeReleaseOpened:
		row.Release = p.ID
		s = text.New("%s opened release %s of %s on %s%s", a, p.ID, p.Project, p.Branch, colon(p.Title))
	case catalog.TypeReleaseDeployRequested:
		row.Release = p.ID
		s = text.New("%s deployed release %s at %s to %s (%s)", a, p.ID, sha7(p.Commit), p.Environment, p.Deployment)
	case catalog.TypeReleaseTestPassed, catalog.TypeReleaseTestFailed, catalog.TypeReleaseApproved, catalog.TypeReleaseRejected,
		catalog.TypeReleaseAccepted, catalog.TypeReleaseRefused, catalog.TypeReleaseCancelled:
		row.Release = p.ID
		on, at := nothing, nothing
		if p.Environment != "" {
			on = text.New(" on %s", p.Environment)
		}
		if p.Commit != "" {
			at = text.New(" at %s", sha7(p.Commit))
		}
		s = decisionText(e.Type, a, p.ID, on, at, colon(or(p.Note, p.Reason)))
	case catalog.TypeReleaseCompleted:
		row.Release = p.ID
		tagged, ff := nothing, nothing
		if p.Tag != "" {
			tagged = text.New(", tagged %s", p.Tag)
		}
		if p.FastForwarded {
			ff = text.New(", mainline fast-forwarded")
		}
		s = text.New("%s completed release %s at %s%s%s", a, p.ID, sha7(p.Commit), tagged, ff)
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
			s = text.New("%s asked to roll %s back to %s (%s)%s", a, envName(project, p.Environment), p.Version, dep, colon(p.Reason))
		} else {
			forRelease := nothing
			if p.Release != "" {
				forRelease = text.New(" for release %s", p.Release)
			}
			s = text.New("%s asked to deploy %s to %s (%s)%s", a, p.Version, envName(project, p.Environment), dep, forRelease)
		}
	case catalog.TypeDeployStarted:
		s = text.New("runner %s started deployment %s", or(p.Runner, a), p.Deployment)
	case catalog.TypeDeployResumed:
		s = text.New("%s resumed deployment %s on %s", a, p.Deployment, hostList(p.Hosts))
	case catalog.TypeDeployPlanned:
		hosts := 0
		for _, b := range p.Batches {
			hosts += len(b)
		}
		batches := text.New("1 batch")
		if n := len(p.Batches); n != 1 {
			batches = text.New("%d batches", n)
		}
		files, skipped := nothing, nothing
		if p.Files > 0 {
			files = text.New(", %d files, %s", p.Files, byteSize(p.Bytes))
		}
		if len(p.Skipped) > 0 {
			skipped = text.New(", already done on %s", hostList(p.Skipped))
		}
		s = text.New("deployment %s planned: %s in %s%s%s", p.Deployment, hostsText(hosts), batches, files, skipped)
	case catalog.TypeStepStarted:
		command := nothing
		if argv := argvOf(p.Command); len(argv) > 0 {
			command = text.New(": %s", clip(strings.Join(argv, " "), 120))
		}
		if host := p.hostName(); host != "" {
			s = text.New("%s: %s started%s", host, p.stepName(), command)
		} else {
			s = text.New("%s started%s", p.stepName(), command)
		}
	case catalog.TypeStepOutput:
		n := 0
		if body, ok := stringBody(p.Text); ok {
			n = len(body)
		}
		truncated := nothing
		if p.Truncated {
			truncated = text.New(" (truncated)")
		}
		s = text.New("%s: %s of output%s", p.stepID(), byteSize(int64(n)), truncated)
	case catalog.TypeStepFinished:
		if p.ExitCode == 0 && p.Error == "" {
			s = text.New("%s finished in %s", p.stepID(), duration(p.DurationMS))
		} else {
			s = text.New("%s failed (exit %d) in %s%s", p.stepID(), p.ExitCode, duration(p.DurationMS), colon(clip(p.Error, 200)))
		}
	case catalog.TypeHostStaged:
		s = text.New("%s: staged %s", p.Host, p.Version)
	case catalog.TypeHostSwitched:
		was := nothing
		if p.Previous != "" {
			was = text.New(" (was %s)", p.Previous)
		}
		s = text.New("%s: switched to %s%s", p.Host, p.Version, was)
	case catalog.TypeHostFailed:
		if p.Step != "" {
			s = text.New("%s: failed at %s%s", p.Host, p.Step, colon(clip(p.Error, 200)))
		} else {
			s = text.New("%s: failed%s", p.Host, colon(clip(p.Error, 200)))
		}
	case catalog.TypeHostReverted:
		from := nothing
		if p.Previous != "" {
			from = text.New(" (from %s)", p.Previous)
		}
		s = text.New("%s: reverted to %s%s", p.Host, p.Version, from)
	case catalog.TypeHostObserved:
		switch {
		case p.Error != "":
			s = text.New("%s: could not be read: %s", p.Host, clip(p.Error, 200))
		case p.Version == "":
			s = text.New("%s: runs no release", p.Host)
		default:
			s = text.New("%s: runs %s", p.Host, p.Version)
		}
	case catalog.TypeDeploySucceeded, catalog.TypeDeployFailed, catalog.TypeDeployCancelled, catalog.TypeDeployInterrupted:
		head := endText(e.Type, p.Kind == catalog.KindRollback, p.Deployment, p.Version, envName(p.Project, p.Environment))
		failed, reverted := nothing, nothing
		if len(p.Failed) > 0 {
			failed = text.New("; failed: %s", hostList(p.Failed))
		}
		if len(p.Reverted) > 0 {
			reverted = text.New("; reverted: %s", hostList(p.Reverted))
		}
		why := colon(clip(p.Error, 200))
		if len(p.Switched) > 0 || e.Type == catalog.TypeDeploySucceeded {
			s = text.New("%s on %s in %s%s%s%s", head, hostsText(len(p.Switched)), duration(p.DurationMS), failed, reverted, why)
		} else {
			s = text.New("%s in %s%s%s%s", head, duration(p.DurationMS), failed, reverted, why)
		}
	case catalog.TypeDeployCancelRequested:
		s = text.New("%s asked to cancel deployment %s%s", a, p.Deployment, colon(p.Reason))
	case catalog.TypeLockAcquired:
		holder := nothing
		if p.Holder != "" {
			holder = text.New(" of %s", p.Holder)
		}
		s = text.New("%s locked for deployment %s%s", envName(p.Project, p.Environment), p.Deployment, holder)
	case catalog.TypeLockReleased:
		s = text.New("%s unlocked by deployment %s%s", envName(p.Project, p.Environment), p.Deployment, colon(p.Reason))
	case catalog.TypeLockBroken:
		// One host's lock (host), or every host's; the log's lock named
		// no deployment when nobody held it there.
		host, held := nothing, nothing
		if p.Host != "" {
			host = text.New(" on host %s", p.Host)
		}
		if p.Deployment != "" {
			held = text.New(" held by deployment %s", p.Deployment)
		}
		s = text.New("%s broke the lock of %s%s%s%s", a, envName(p.Project, p.Environment), host, held, colon(p.Reason))
	case catalog.TypeHostKeyTrusted:
		s = text.New("%s trusted the %s key %s of %s", a, p.KeyType, p.Fingerprint, p.Host)
	case catalog.TypeHostKeyRejected:
		s = keyRefusedText(p.Reason, p.KeyType, p.Fingerprint, p.Host)
	case catalog.TypeReleasePruned:
		old := text.New("1 old release")
		if n := len(p.Versions); n != 1 {
			old = text.New("%d old releases", n)
		}
		s = text.New("%s: pruned %s: %s", p.Host, old, strings.Join(p.Versions, ", "))
	case catalog.TypeNotificationSent, catalog.TypeNotificationFailed:
		s = notificationText(e.Type, p)
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
		unreadable := nothing
		if unread > 0 {
			unreadable = text.New(", %d unreadable", unread)
		}
		s = text.New("drift check of %s: %d of %s drifted%s", envName(p.Project, p.Environment), drifted, hostsText(total), unreadable)
	default:
		return
	}
	row.SummaryText, row.Summary = &s, s.String()
}

// notificationText says what became of one attempt at a message.
func notificationText(typ string, p *payload) text.Text {
	n, ok := p.notification()
	if !ok {
		return text.New("a message (unreadable data)")
	}
	about := text.New("%s message to %s/%s (%s)", n.Trigger, n.Project, n.Channel, n.Kind)
	switch {
	case typ == catalog.TypeNotificationSent:
		return text.New("%s delivered, attempt %d", about, n.Attempt)
	case n.NextAttempt.IsZero():
		return text.New("%s not delivered, attempt %d, given up: %s", about, n.Attempt, n.Error)
	}
	return text.New("%s not delivered, attempt %d, trying again: %s", about, n.Attempt, n.Error)
}

// hostList is hosts by name, the first five and how many more.
func hostList(hs []string) text.Text {
	if len(hs) == 0 {
		return text.New("no host")
	}
	if len(hs) > 5 {
		return text.New("%s and %d more", strings.Join(hs[:5], ", "), len(hs)-5)
	}
	return text.Plain(strings.Join(hs, ", "))
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
