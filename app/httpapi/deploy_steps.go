package httpapi

import (
	"bytes"
	"errors"
	"slices"

	"releasedesk/projections"
)

// stepFragments are a running deployment's steps as its last document
// showed them, each with its JSON: a step unchanged since is copied from
// there, not encoded again. Most steps of a running deployment are done
// (the hosts of the batches before), the others change a little at a
// time, so a document of a thousand steps costs the encoding of the few
// that changed.
type stepFragments struct {
	steps []projections.Step
	json  [][]byte
}

// stepsNull is where the steps go in a view encoded without them: a
// key's quotes are never escaped, a string's always are, so this is the
// view's own "steps" (no other object in it has that key).
var stepsNull = []byte(`"steps":null`)

// encode returns v as writeJSON writes it, byte for byte, and keeps its
// steps for the next one.
func (f *stepFragments) encode(v DeploymentView) ([]byte, error) {
	steps := v.Steps
	v.Steps = nil
	head, err := encodeJSON(v)
	if err != nil || steps == nil {
		return head, err
	}
	at := bytes.Index(head, stepsNull)
	if at < 0 {
		return nil, errors.New("deployment document: no steps in the encoded view")
	}
	frags := make([][]byte, len(steps))
	size := len(head) + len(steps)
	var scratch bytes.Buffer
	for i := range steps {
		if i < len(f.steps) && sameStep(&f.steps[i], &steps[i]) {
			frags[i] = f.json[i]
		} else {
			scratch.Reset()
			if err := encodeInto(&scratch, &steps[i]); err != nil {
				return nil, err
			}
			frags[i] = bytes.Clone(bytes.TrimSuffix(scratch.Bytes(), []byte("\n")))
		}
		size += len(frags[i])
	}
	doc := make([]byte, 0, size)
	doc = append(doc, head[:at]...)
	doc = append(doc, `"steps":[`...)
	for i, b := range frags {
		if i > 0 {
			doc = append(doc, ',')
		}
		doc = append(doc, b...)
	}
	doc = append(doc, ']')
	doc = append(doc, head[at+len(stepsNull):]...)
	f.steps, f.json = steps, frags
	return doc, nil
}

// sameStep says whether two views of a step are the same in every field
// (TestSameStepSeesEveryField keeps it so when Step grows one).
func sameStep(a, b *projections.Step) bool {
	// Times by ==, not Equal: the same instant in another location
	// is written differently.
	return a.ID == b.ID && a.Name == b.Name && a.Host == b.Host && slices.Equal(a.Command, b.Command) &&
		(a.Command == nil) == (b.Command == nil) && a.Started == b.Started && a.Finished == b.Finished &&
		a.ExitCode == b.ExitCode && a.DurationMS == b.DurationMS && a.Error == b.Error && a.Output == b.Output &&
		a.Truncated == b.Truncated
}
