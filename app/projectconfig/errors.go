package projectconfig

import (
	"releasedesk/events/text"
	"strings"
)

// FieldError is one problem, named by its path in the document:
// "keep_releases", "environments[1].hosts[0]", "env[2].from_file". An
// empty Path is the document as a whole (size, syntax, content type).
// Reason is a text.Text: JSON carries its English, and the HTTP API
// renders it in the reader's language.
type FieldError struct {
	Path   string    `json:"path"`
	Reason text.Text `json:"reason" tstype:"string"`
}

func (e FieldError) String() string { return e.Text().String() }

// Text is String as a text: "path: reason", or the reason alone.
func (e FieldError) Text() text.Text {
	if e.Path == "" {
		return e.Reason
	}
	return text.New("%s: %s", e.Path, e.Reason)
}

// Errors is every problem found in a configuration. It is the only
// error Parse returns: a refused configuration is always the
// client's to fix (an HTTP 400). Use errors.As to get at the list.
type Errors []FieldError

// Error lists all problems, one per line, "path: reason".
func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, fe := range e {
		lines[i] = fe.String()
	}
	return strings.Join(lines, "\n")
}

func (e *Errors) add(path string, reason text.Text) {
	*e = append(*e, FieldError{Path: path, Reason: reason})
}
