package httpapi

import (
	"bytes"
	"context"
	"sync"

	"releasedesk/app"
	"releasedesk/events/text"
	"releasedesk/projections"
)

// deployDocCache keeps the last encoded view of the deployments being
// watched. A deployment to a hundred hosts is a large document (every
// step, its command and its output: a megabyte or more), and while it
// runs everyone watching its page asks for it again after each batch of
// events: building and encoding it once per change instead of once per
// request is what keeps the API quick under that load. An entry is good
// while the deployment's revision (the position of its last event) is
// the same.
//
// While a deployment runs its revision changes many times a second, so
// most asks find the kept document out of date. Then one of them builds
// the new one and the others wait for it: one build at a time per
// deployment, however many ask (50 building the same document at once
// took all the machine had). The build is incremental (stepFragments):
// what did not change since the last one is not encoded again.
//
// Freshness: an answer is never older than the deployment was when it
// was asked for. The UI relies on it: a page seeds a deployment's output
// from the document, then appends what the live stream brings after the
// stream's position at its ask (lib/deployview.ts, OutputStore.seed).
type deployDocCache struct {
	mu      sync.Mutex
	entries map[string]*deployDocEntry
}

// deployDocEntry is one deployment's kept document and its build.
type deployDocEntry struct {
	rev uint64 // of doc
	doc []byte // nil until the first build ends
	// building is closed when the build under way ends; nil when none is.
	building chan struct{}
	// steps are the last build's steps, encoded, while the deployment
	// runs; only the build under way uses them.
	steps stepFragments
}

// deployDocCacheSize bounds the cache: the deployments open on screens
// at one time, with room to spare.
const deployDocCacheSize = 32

// deploymentBuild builds one deployment's document, from steps (the last
// build's, which it updates), and says which revision it shows.
type deploymentBuild func(steps *stepFragments) (rev uint64, doc []byte, err error)

// get returns the document of id at revision want or later: the kept one,
// the one being built, or one it builds.
func (c *deployDocCache) get(ctx context.Context, id string, want uint64, build deploymentBuild) ([]byte, error) {
	for {
		c.mu.Lock()
		e := c.entry(id)
		if e.doc != nil && e.rev >= want {
			doc := e.doc
			c.mu.Unlock()
			return doc, nil
		}
		if wait := e.building; wait != nil {
			// That build may have begun before want: if it shows an
			// older revision, the loop builds again (or waits for a
			// build begun after this ask).
			c.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		e.building = make(chan struct{})
		c.mu.Unlock()
		// The build reads the deployment after want was read: it shows
		// want or later.
		return c.build(e, build)
	}
}

// build runs a build of e's document, keeps what it made, and lets those
// waiting for it go, even if it panics.
func (c *deployDocCache) build(e *deployDocEntry, build deploymentBuild) (doc []byte, err error) {
	var rev uint64
	defer func() {
		c.mu.Lock()
		if err == nil && doc != nil && (e.doc == nil || rev >= e.rev) {
			e.rev, e.doc = rev, doc
		}
		close(e.building)
		e.building = nil
		c.mu.Unlock()
	}()
	rev, doc, err = build(&e.steps) // the builder's alone while building is set
	return doc, err
}

// entry is id's entry, made if need be, dropping an idle other entry
// when full (a screen that still watches it builds it again on its next
// ask). c.mu is held.
func (c *deployDocCache) entry(id string) *deployDocEntry {
	if e, ok := c.entries[id]; ok {
		return e
	}
	if c.entries == nil {
		c.entries = map[string]*deployDocEntry{}
	}
	if len(c.entries) >= deployDocCacheSize {
		for k, e := range c.entries {
			if e.building == nil {
				delete(c.entries, k)
				break
			}
		}
	}
	e := &deployDocEntry{}
	c.entries[id] = e
	return e
}

// deploymentDoc is GET /api/v1/deployments/{id}'s body: the kept document
// when the deployment has not changed since, else one built for its
// revision now. A view with a problem to show (stalled, in lang's
// language) is built for the request and never kept.
func (s *Server) deploymentDoc(ctx context.Context, id string, lang text.Printer) ([]byte, error) {
	d := s.cfg.Desk
	if problem := d.Problem(); problem != nil {
		dep, err := d.Deployment(id)
		if err != nil {
			return nil, err
		}
		return encodeJSON(viewDeployment(dep, stalledBy(problem, lang)))
	}
	want, ok := d.Set.Deployments.Revision(id)
	if !ok {
		_, err := d.Deployment(id) // its not-found error
		return nil, err
	}
	return s.deployDocs.get(ctx, id, want, func(steps *stepFragments) (uint64, []byte, error) {
		dep, rev, ok := d.Set.Deployments.GetRevision(id)
		if !ok {
			_, err := d.Deployment(id)
			return 0, nil, err
		}
		doc, err := steps.encode(viewDeployment(dep, ""))
		if dep.State != projections.DeployQueued && dep.State != projections.DeployRunning {
			*steps = stepFragments{} // it changes no more: its kept document is all it needs
		}
		return rev, doc, err
	})
}

// encodeJSON is v as writeJSON writes it.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := encodeInto(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// encodeInto appends v to buf as writeJSON writes it (a newline after).
func encodeInto(buf *bytes.Buffer, v any) error {
	return jsonEncoder(buf).Encode(v)
}

// DeploymentView is a deployment as the API shows it: the read model, and
// while the log refuses writes, why a deployment shown queued or running
// is not moving (its runner stopped at the first event it could not record).
type DeploymentView struct {
	projections.Deployment `tstype:",extends"`
	Stalled                string `json:"stalled,omitempty"`
}

// viewDeployment makes the view; problem is Desk.Problem in words
// (stalledBy), asked once per answer rather than once per deployment.
func viewDeployment(dep projections.Deployment, problem string) DeploymentView {
	v := DeploymentView{Deployment: dep}
	if problem != "" && (dep.State == projections.DeployQueued || dep.State == projections.DeployRunning) {
		v.Stalled = problem
	}
	return v
}

// stalledBy is why the log refuses writes, in lang's language ("" if it
// does not).
func stalledBy(problem error, lang text.Printer) string {
	if problem == nil {
		return ""
	}
	return app.ProblemText(problem).In(lang)
}
