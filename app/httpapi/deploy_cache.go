package httpapi

import (
	"bytes"
	"encoding/json"
	"sync"

	"releasedesk/app"
	"releasedesk/events/text"
	"releasedesk/projections"
)

// deployDocCache keeps the last encoded view of the deployments being
// watched. A deployment to a hundred hosts is a large document (every
// step, with its output), and while it runs everyone watching its page
// asks for it again after each batch of events: building and encoding it
// once per change instead of once per request is what keeps the API quick
// under that load. An entry is good while the deployment's revision (the
// position of its last event) is the same.
type deployDocCache struct {
	mu      sync.Mutex
	entries map[string]deployDoc
}

type deployDoc struct {
	rev uint64
	doc []byte
}

// deployDocCacheSize bounds the cache: the deployments open on screens
// at one time, with room to spare.
const deployDocCacheSize = 32

// get returns the encoded view of deployment id at rev, if kept.
func (c *deployDocCache) get(id string, rev uint64) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	if !ok || e.rev != rev {
		return nil, false
	}
	return e.doc, true
}

// put keeps doc as the view of id at rev, dropping an arbitrary other entry
// when full (a screen that still watches it puts it back on its next ask).
func (c *deployDocCache) put(id string, rev uint64, doc []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]deployDoc{}
	}
	if _, ok := c.entries[id]; !ok && len(c.entries) >= deployDocCacheSize {
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	c.entries[id] = deployDoc{rev: rev, doc: doc}
}

// deploymentDoc is GET /api/v1/deployments/{id}'s body: from the cache when
// the deployment has not changed, else built, encoded and kept. A view with
// a problem to show (stalled, in lang's language) is never kept.
func (s *Server) deploymentDoc(id string, lang text.Printer) ([]byte, error) {
	d := s.cfg.Desk
	rev, ok := d.Set.Deployments.Revision(id)
	problem := d.Problem()
	if ok && problem == nil {
		if doc, ok := s.deployDocs.get(id, rev); ok {
			return doc, nil
		}
	}
	dep, err := d.Deployment(id)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // as writeJSON
	if err := enc.Encode(viewDeployment(dep, stalledBy(problem, lang))); err != nil {
		return nil, err
	}
	doc := buf.Bytes()
	if ok && problem == nil {
		s.deployDocs.put(id, rev, doc)
	}
	return doc, nil
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
