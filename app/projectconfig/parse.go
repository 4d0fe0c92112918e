package projectconfig

import (
	"bytes"
	"mime"
	"strings"
	"time"
	"unicode/utf8"

	"releasedesk/events/catalog"
	"releasedesk/events/text"
)

// MaxSize bounds a configuration document.
const MaxSize = 1 << 20

// Limits of a project configuration.
const (
	maxTitleLen        = 200     // runes
	maxScriptLen       = 8 << 10 // bytes of a hook, the build or the health check
	maxCheckTimeout    = 10 * time.Minute
	maxParallel        = 200
	maxYAMLAliasExpand = 10000 // nodes an alias may expand to, all aliases together
	maxConfigErrors    = 100   // problems listed; then "and N more problems"
)

// Parse reads a project configuration, YAML or JSON, strictly:
// unknown fields, duplicate keys and values of the wrong type are refused,
// each with its path, and the result is validated by Validate. All
// problems are returned together, as Errors.
//
// contentType is "application/json", "application/yaml", "text/yaml" or
// "application/x-yaml" (parameters such as charset are ignored), or "" to
// tell by the content: JSON if it starts with '{', YAML otherwise.
func Parse(data []byte, contentType string) (catalog.Project, error) {
	doc := func(reason text.Text) (catalog.Project, error) {
		return catalog.Project{}, Errors{{Reason: reason}}
	}
	if len(data) > MaxSize {
		return doc(text.New("the document is larger than %d bytes (1 MiB)", MaxSize))
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		return doc(text.New("the document is not valid UTF-8"))
	}
	isJSON, err := detectFormat(data, contentType)
	if err != nil {
		return doc(text.Of(err))
	}
	var root *docNode
	if isJSON {
		root, err = parseJSON(data)
	} else {
		root, err = parseYAML(data)
	}
	if err != nil {
		return doc(text.Of(err))
	}
	var r reader
	p := r.project(root)
	errs := r.errs
	// Validate what could be read, but say nothing more about a value whose
	// reading failed: "id: want a string" needs no "id: required" after it.
	covers := r.coverage()
	for _, fe := range Validate(p) {
		if !covers(fe.Path) {
			errs = append(errs, fe)
		}
	}
	if len(errs) > maxConfigErrors {
		more := len(errs) - maxConfigErrors
		errs = append(errs[:maxConfigErrors:maxConfigErrors], FieldError{Reason: text.New("and %d more problems", more)})
	}
	if len(errs) > 0 {
		return catalog.Project{}, errs
	}
	return p, nil
}

// detectFormat tells JSON from YAML.
func detectFormat(data []byte, contentType string) (isJSON bool, err error) {
	if strings.TrimSpace(contentType) == "" {
		t := bytes.TrimLeft(data, " \t\r\n")
		return len(t) > 0 && t[0] == '{', nil
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false, text.Errorf("content type %q: %v", contentType, err)
	}
	switch mt {
	case "application/json":
		return true, nil
	case "application/yaml", "text/yaml", "application/x-yaml", "text/x-yaml":
		return false, nil
	}
	return false, text.Errorf("content type %q: want application/json or application/yaml", mt)
}
