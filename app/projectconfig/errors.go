package projectconfig

import (
	"fmt"
	"strings"
)

// FieldError is one problem, named by its path in the document:
// "keep_releases", "environments[1].hosts[0]", "env[2].from_file". An
// empty Path is the document as a whole (size, syntax, content type).
type FieldError struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

func (e FieldError) String() string {
	if e.Path == "" {
		return e.Reason
	}
	return e.Path + ": " + e.Reason
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

func (e *Errors) add(path, format string, args ...any) {
	*e = append(*e, FieldError{Path: path, Reason: fmt.Sprintf(format, args...)})
}
