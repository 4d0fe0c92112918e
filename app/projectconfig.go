package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"releasedesk/events/catalog"
	"releasedesk/runner"
)

// Project configuration (DESIGN.md section 5): a YAML or JSON document read
// strictly into a catalog.Project, then validated completely, so that one
// answer lists every problem, each named by its path in the document
// ("environments[1].hosts[0]"). Nothing here runs or touches anything: a
// configuration is only data until the runner publishes with it, and the
// runner's own checks (runner.Submit) are a second line, not the first.

// MaxProjectConfigSize bounds a configuration document.
const MaxProjectConfigSize = 1 << 20

// Limits of a project configuration.
const (
	maxTitleLen        = 200     // runes
	maxScriptLen       = 8 << 10 // bytes of a hook, the build or the health check
	maxCheckTimeout    = 10 * time.Minute
	minKeepReleases    = 2 // 1 would leave nothing to roll back to
	maxKeepReleases    = 100
	maxParallel        = 200
	maxYAMLAliasExpand = 10000 // nodes an alias may expand to, all aliases together
	maxConfigErrors    = 100   // problems listed; then "and N more problems"
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

// ConfigErrors is every problem found in a configuration. It is the only
// error ParseProjectConfig returns: a refused configuration is always the
// client's to fix (an HTTP 400). Use errors.As to get at the list.
type ConfigErrors []FieldError

// Error lists all problems, one per line, "path: reason".
func (e ConfigErrors) Error() string {
	lines := make([]string, len(e))
	for i, fe := range e {
		lines[i] = fe.String()
	}
	return strings.Join(lines, "\n")
}

func (e *ConfigErrors) add(path, format string, args ...any) {
	*e = append(*e, FieldError{Path: path, Reason: fmt.Sprintf(format, args...)})
}

// ParseProjectConfig reads a project configuration, YAML or JSON, strictly:
// unknown fields, duplicate keys and values of the wrong type are refused,
// each with its path, and the result is validated by ValidateProject. All
// problems are returned together, as ConfigErrors.
//
// contentType is "application/json", "application/yaml", "text/yaml" or
// "application/x-yaml" (parameters such as charset are ignored), or "" to
// tell by the content: JSON if it starts with '{', YAML otherwise.
func ParseProjectConfig(data []byte, contentType string) (catalog.Project, error) {
	doc := func(format string, args ...any) (catalog.Project, error) {
		return catalog.Project{}, ConfigErrors{{Reason: fmt.Sprintf(format, args...)}}
	}
	if len(data) > MaxProjectConfigSize {
		return doc("the document is larger than %d bytes (1 MiB)", MaxProjectConfigSize)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		return doc("the document is not valid UTF-8")
	}
	isJSON, err := pcFormat(data, contentType)
	if err != nil {
		return doc("%v", err)
	}
	var root *cnode
	if isJSON {
		root, err = pcParseJSON(data)
	} else {
		root, err = pcParseYAML(data)
	}
	if err != nil {
		return doc("%v", err)
	}
	var r pcReader
	p := r.project(root)
	errs := r.errs
	// Validate what could be read, but say nothing more about a value whose
	// reading failed: "id: want a string" needs no "id: required" after it.
	covers := r.coverage()
	for _, fe := range ValidateProject(p) {
		if !covers(fe.Path) {
			errs = append(errs, fe)
		}
	}
	if len(errs) > maxConfigErrors {
		more := len(errs) - maxConfigErrors
		errs = append(errs[:maxConfigErrors:maxConfigErrors], FieldError{Reason: fmt.Sprintf("and %d more problems", more)})
	}
	if len(errs) > 0 {
		return catalog.Project{}, errs
	}
	return p, nil
}

// pcFormat tells JSON from YAML.
func pcFormat(data []byte, contentType string) (isJSON bool, err error) {
	if strings.TrimSpace(contentType) == "" {
		t := bytes.TrimLeft(data, " \t\r\n")
		return len(t) > 0 && t[0] == '{', nil
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false, fmt.Errorf("content type %q: %v", contentType, err)
	}
	switch mt {
	case "application/json":
		return true, nil
	case "application/yaml", "text/yaml", "application/x-yaml", "text/x-yaml":
		return false, nil
	}
	return false, fmt.Errorf("content type %q: want application/json or application/yaml", mt)
}

// ---------------------------------------------------------------------------
// The document tree: YAML and JSON are both read into it first, so that one
// reader, which knows the paths, checks keys and types for both.

type ckind int

const (
	cNull ckind = iota
	cString
	cInt
	cFloat
	cBool
	cMap
	cSeq
	cOther // a YAML timestamp and the like
)

type cnode struct {
	kind  ckind
	text  string // a scalar as written (YAML) or its value (JSON)
	ival  int64  // cInt
	bval  bool   // cBool
	loose bool   // a plain YAML scalar: reads as a string where one is wanted
	line  int
	keys  []string
	kline []int
	vals  []*cnode // cMap, with keys
	items []*cnode // cSeq
}

func (n *cnode) describe() string {
	switch n.kind {
	case cNull:
		return "null"
	case cString:
		return "the string " + pcQuote(n.text)
	case cInt, cFloat:
		return "the number " + n.text
	case cBool:
		return n.text
	case cMap:
		return "a mapping"
	case cSeq:
		return "a list"
	}
	return pcQuote(n.text)
}

func pcQuote(s string) string {
	if utf8.RuneCountInString(s) > 40 {
		r := []rune(s)
		s = string(r[:40]) + "..."
	}
	return strconv.Quote(s)
}

func pcParseYAML(data []byte) (*cnode, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the document is empty")
		}
		return nil, fmt.Errorf("YAML syntax: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, fmt.Errorf("YAML syntax: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		}
		return nil, fmt.Errorf("line %d: a second YAML document: one configuration per document", more.Line)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, errors.New("the document is empty")
	}
	budget := maxYAMLAliasExpand
	return pcYAMLToTree(doc.Content[0], &budget, 0)
}

func pcYAMLToTree(n *yaml.Node, budget *int, inAlias int) (*cnode, error) {
	if inAlias > 0 {
		if *budget--; *budget < 0 {
			return nil, fmt.Errorf("line %d: YAML aliases expand to too much", n.Line)
		}
	}
	c := &cnode{line: n.Line}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, fmt.Errorf("line %d: unknown YAML alias", n.Line)
		}
		return pcYAMLToTree(n.Alias, budget, inAlias+1)
	case yaml.MappingNode:
		c.kind = cMap
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.AliasNode && k.Alias != nil {
				k = k.Alias
			}
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: a mapping key must be a plain name", k.Line)
			}
			if k.ShortTag() == "!!merge" {
				return nil, fmt.Errorf("line %d: YAML merge keys (<<) are not supported", k.Line)
			}
			vc, err := pcYAMLToTree(v, budget, inAlias)
			if err != nil {
				return nil, err
			}
			c.keys = append(c.keys, k.Value)
			c.kline = append(c.kline, k.Line)
			c.vals = append(c.vals, vc)
		}
	case yaml.SequenceNode:
		c.kind = cSeq
		for _, it := range n.Content {
			ic, err := pcYAMLToTree(it, budget, inAlias)
			if err != nil {
				return nil, err
			}
			c.items = append(c.items, ic)
		}
	case yaml.ScalarNode:
		c.text = n.Value
		plain := n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0
		c.loose = plain
		switch tag := n.ShortTag(); tag {
		case "!!str":
			c.kind = cString
		case "!!null":
			c.kind = cNull
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return nil, fmt.Errorf("line %d: %v", n.Line, err)
			}
			c.kind, c.bval = cBool, b
		case "!!int":
			c.kind = cInt
			if err := n.Decode(&c.ival); err != nil {
				c.kind = cFloat // out of range: refused as "want an integer"
			}
		case "!!float":
			c.kind = cFloat
		case "!!timestamp":
			c.kind = cOther
		default:
			return nil, fmt.Errorf("line %d: YAML tag %s is not supported", n.Line, tag)
		}
	default:
		return nil, fmt.Errorf("line %d: unexpected YAML node", n.Line)
	}
	return c, nil
}

func pcParseJSON(data []byte) (*cnode, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var newlines []int64 // offsets of the document's newlines
	for i, b := range data {
		if b == '\n' {
			newlines = append(newlines, int64(i))
		}
	}
	lineAt := func(off int64) int {
		n, _ := slices.BinarySearch(newlines, off)
		return n + 1
	}
	syntax := func(err error) error {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return fmt.Errorf("JSON syntax: line %d: %v", lineAt(se.Offset), se)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return errors.New("JSON syntax: unexpected end of the document")
		}
		return fmt.Errorf("JSON syntax: %v", err)
	}
	var value func(tok json.Token) (*cnode, error)
	value = func(tok json.Token) (*cnode, error) {
		c := &cnode{line: lineAt(dec.InputOffset())}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				c.kind = cMap
				for dec.More() {
					kt, err := dec.Token()
					if err != nil {
						return nil, syntax(err)
					}
					key, ok := kt.(string)
					if !ok {
						return nil, fmt.Errorf("JSON syntax: line %d: want a key", c.line)
					}
					kline := lineAt(dec.InputOffset())
					vt, err := dec.Token()
					if err != nil {
						return nil, syntax(err)
					}
					v, err := value(vt)
					if err != nil {
						return nil, err
					}
					c.keys = append(c.keys, key)
					c.kline = append(c.kline, kline)
					c.vals = append(c.vals, v)
				}
			case '[':
				c.kind = cSeq
				for dec.More() {
					it, err := dec.Token()
					if err != nil {
						return nil, syntax(err)
					}
					v, err := value(it)
					if err != nil {
						return nil, err
					}
					c.items = append(c.items, v)
				}
			default:
				return nil, fmt.Errorf("JSON syntax: line %d: unexpected %q", c.line, rune(t))
			}
			if _, err := dec.Token(); err != nil { // the closing delimiter
				return nil, syntax(err)
			}
		case string:
			c.kind, c.text = cString, t
		case json.Number:
			c.text = t.String()
			if v, err := strconv.ParseInt(c.text, 10, 64); err == nil {
				c.kind, c.ival = cInt, v
			} else {
				c.kind = cFloat
			}
		case bool:
			c.kind, c.bval, c.text = cBool, t, strconv.FormatBool(t)
		case nil:
			c.kind = cNull
		}
		return c, nil
	}
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the document is empty")
		}
		return nil, syntax(err)
	}
	root, err := value(tok)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("JSON syntax: line %d: data after the end of the document", lineAt(dec.InputOffset()))
	}
	return root, nil
}

// ---------------------------------------------------------------------------
// The reader: the tree into a catalog.Project, keys and types checked.

type pcReader struct {
	errs ConfigErrors
	// guessed are the paths an unknown key was probably meant for: what
	// validation says of them ("hosts: required" after "hostz: unknown
	// field (did you mean "hosts"?)") would only repeat it.
	guessed []string
}

func (r *pcReader) fail(path string, line int, format string, args ...any) {
	pcReason := fmt.Sprintf(format, args...)
	if line > 0 {
		pcReason += fmt.Sprintf(" (line %d)", line)
	}
	r.errs = append(r.errs, FieldError{Path: path, Reason: pcReason})
}

// coverage returns a test of whether reading already failed at a path, at
// a path above it or at one below it.
func (r *pcReader) coverage() func(path string) bool {
	exact := map[string]bool{}     // paths that failed (or were guessed at)
	ancestors := map[string]bool{} // paths above those
	for _, fe := range r.errs {
		exact[fe.Path] = true
		for _, a := range pcAncestors(fe.Path) {
			ancestors[a] = true
		}
	}
	for _, g := range r.guessed {
		exact[g] = true
	}
	return func(path string) bool {
		if exact[""] || exact[path] || ancestors[path] {
			return true
		}
		for _, a := range pcAncestors(path) {
			if exact[a] {
				return true
			}
		}
		return false
	}
}

// pcAncestors are the paths above path: "a", "a.b" for "a.b[2]".
func pcAncestors(path string) []string {
	var out []string
	for i := 1; i < len(path); i++ {
		if path[i] == '.' || path[i] == '[' {
			out = append(out, path[:i])
		}
	}
	return out
}

var pcPlainKeyRe = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func pcField(path, key string) string {
	if !pcPlainKeyRe.MatchString(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func pcIndex(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// fields walks a mapping: each known key to fn, unknown and duplicate keys
// refused. A null is an absent mapping.
func (r *pcReader) fields(n *cnode, path string, known []string, fn func(key string, v *cnode, p string)) {
	if n.kind == cNull {
		return
	}
	if n.kind != cMap {
		r.fail(path, n.line, "want a mapping of %s, got %s", strings.Join(known, ", "), n.describe())
		return
	}
	seen := map[string]int{}
	for i, k := range n.keys {
		p := pcField(path, k)
		if first, dup := seen[k]; dup {
			r.fail(p, n.kline[i], "duplicate key (first at line %d)", first)
			continue
		}
		seen[k] = n.kline[i]
		if !slices.Contains(known, k) {
			if s := pcSuggest(k, known); s != "" {
				r.fail(p, n.kline[i], "unknown field (did you mean %q?)", s)
				if !slices.Contains(n.keys, s) {
					r.guessed = append(r.guessed, pcField(path, s))
				}
			} else {
				r.fail(p, n.kline[i], "unknown field; known fields: %s", strings.Join(known, ", "))
			}
			continue
		}
		fn(k, n.vals[i], p)
	}
}

// pcSuggest is the known name closest to an unknown key, if it is close.
func pcSuggest(key string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := pcEditDistance(strings.ToLower(key), k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func pcEditDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

func (r *pcReader) str(n *cnode, path string) string {
	switch {
	case n.kind == cNull:
		return ""
	case n.kind == cString, n.loose && n.kind != cMap && n.kind != cSeq:
		return n.text
	}
	r.fail(path, n.line, "want a string, got %s", n.describe())
	return ""
}

func (r *pcReader) integer(n *cnode, path string) int {
	switch n.kind {
	case cNull:
		return 0
	case cInt:
		if n.ival < math.MinInt32 || n.ival > math.MaxInt32 {
			r.fail(path, n.line, "the number %s is out of range", n.text)
			return 0
		}
		return int(n.ival)
	}
	r.fail(path, n.line, "want an integer, got %s", n.describe())
	return 0
}

func (r *pcReader) boolean(n *cnode, path string) bool {
	switch n.kind {
	case cNull:
		return false
	case cBool:
		return n.bval
	}
	r.fail(path, n.line, "want true or false, got %s", n.describe())
	return false
}

func (r *pcReader) duration(n *cnode, path string) catalog.Duration {
	if n.kind == cNull {
		return 0
	}
	if n.kind != cString && !(n.loose && n.kind == cOther) {
		r.fail(path, n.line, "want a duration such as \"10s\" or \"1m30s\", got %s", n.describe())
		return 0
	}
	d, err := time.ParseDuration(n.text)
	if err != nil {
		r.fail(path, n.line, "want a duration such as \"10s\" or \"1m30s\", got %s", n.describe())
		return 0
	}
	return catalog.Duration(d)
}

func (r *pcReader) list(n *cnode, path string, fn func(it *cnode, p string)) {
	switch n.kind {
	case cNull:
		return
	case cSeq:
		for i, it := range n.items {
			fn(it, pcIndex(path, i))
		}
		return
	}
	r.fail(path, n.line, "want a list, got %s", n.describe())
}

func (r *pcReader) strList(n *cnode, path string) []string {
	var out []string
	r.list(n, path, func(it *cnode, p string) {
		if it.kind == cNull {
			r.fail(p, it.line, "want a string, got null")
			return
		}
		out = append(out, r.str(it, p))
	})
	return out
}

// The fields of each part of a configuration, in their canonical order.
var (
	projectFields     = []string{"id", "title", "repo", "branch", "strategy", "build", "exclude", "shared", "version_files", "keep_releases", "hooks", "health_check", "env", "environments", "workflow"}
	workflowFields    = []string{"fast_forward", "allow_self_test"}
	hooksFields       = []string{"pre_deploy", "post_deploy", "pre_release", "post_release"}
	healthCheckFields = []string{"command", "timeout"}
	envVarFields      = []string{"name", "value", "from_file", "from_env", "secret"}
	environmentFields = []string{"name", "path", "hosts", "ssh_key", "parallel", "batch", "on_failure", "approval"}
	hostFields        = []string{"addr", "path"}
)

func (r *pcReader) project(n *cnode) catalog.Project {
	var p catalog.Project
	if n.kind == cNull {
		r.fail("", 0, "the document is empty")
		return p
	}
	r.fields(n, "", projectFields, func(k string, v *cnode, path string) {
		switch k {
		case "id":
			p.ID = r.str(v, path)
		case "title":
			p.Title = r.str(v, path)
		case "repo":
			p.Repo = r.str(v, path)
		case "branch":
			p.Branch = r.str(v, path)
		case "strategy":
			p.Strategy = r.str(v, path)
		case "build":
			p.Build = r.str(v, path)
		case "exclude":
			p.Exclude = r.strList(v, path)
		case "shared":
			p.Shared = r.strList(v, path)
		case "version_files":
			p.VersionFiles = r.strList(v, path)
		case "keep_releases":
			p.KeepReleases = r.integer(v, path)
		case "hooks":
			r.fields(v, path, hooksFields, func(k string, v *cnode, path string) {
				s := r.str(v, path)
				switch k {
				case "pre_deploy":
					p.Hooks.PreDeploy = s
				case "post_deploy":
					p.Hooks.PostDeploy = s
				case "pre_release":
					p.Hooks.PreRelease = s
				case "post_release":
					p.Hooks.PostRelease = s
				}
			})
		case "health_check":
			r.fields(v, path, healthCheckFields, func(k string, v *cnode, path string) {
				switch k {
				case "command":
					p.HealthCheck.Command = r.str(v, path)
				case "timeout":
					p.HealthCheck.Timeout = r.duration(v, path)
				}
			})
		case "env":
			r.list(v, path, func(it *cnode, path string) {
				p.Env = append(p.Env, r.envVar(it, path))
			})
		case "environments":
			r.list(v, path, func(it *cnode, path string) {
				p.Environments = append(p.Environments, r.environment(it, path))
			})
		case "workflow":
			r.fields(v, path, workflowFields, func(k string, v *cnode, path string) {
				switch k {
				case "fast_forward":
					p.Workflow.FastForward = r.boolean(v, path)
				case "allow_self_test":
					p.Workflow.AllowSelfTest = r.boolean(v, path)
				}
			})
		}
	})
	return p
}

func (r *pcReader) envVar(n *cnode, path string) catalog.EnvVar {
	var v catalog.EnvVar
	if n.kind != cMap {
		r.fail(path, n.line, "want a mapping of %s, got %s", strings.Join(envVarFields, ", "), n.describe())
		return v
	}
	r.fields(n, path, envVarFields, func(k string, n *cnode, path string) {
		switch k {
		case "name":
			v.Name = r.str(n, path)
		case "value":
			v.Value = r.str(n, path)
		case "from_file":
			v.FromFile = r.str(n, path)
		case "from_env":
			v.FromEnv = r.str(n, path)
		case "secret":
			v.Secret = r.boolean(n, path)
		}
	})
	return v
}

func (r *pcReader) environment(n *cnode, path string) catalog.Environment {
	var e catalog.Environment
	if n.kind != cMap {
		r.fail(path, n.line, "want a mapping of %s, got %s", strings.Join(environmentFields, ", "), n.describe())
		return e
	}
	r.fields(n, path, environmentFields, func(k string, n *cnode, path string) {
		switch k {
		case "name":
			e.Name = r.str(n, path)
		case "path":
			e.Path = r.str(n, path)
		case "hosts":
			r.list(n, path, func(it *cnode, path string) {
				e.Hosts = append(e.Hosts, r.host(it, path))
			})
		case "ssh_key":
			e.SSHKey = r.str(n, path)
		case "parallel":
			e.Parallel = r.integer(n, path)
		case "batch":
			e.Batch = r.integer(n, path)
		case "on_failure":
			e.OnFailure = r.str(n, path)
		case "approval":
			e.Approval = r.boolean(n, path)
		}
	})
	return e
}

// host reads "user@host:port" or {addr, path}.
func (r *pcReader) host(n *cnode, path string) catalog.Host {
	var h catalog.Host
	switch {
	case n.kind == cMap:
		r.fields(n, path, hostFields, func(k string, n *cnode, path string) {
			switch k {
			case "addr":
				h.Addr = r.str(n, path)
			case "path":
				h.Path = r.str(n, path)
			}
		})
	case n.kind == cString, n.loose && n.kind != cSeq && n.kind != cNull:
		h.Addr = n.text
	default:
		r.fail(path, n.line, "want \"user@host:port\" or {addr, path}, got %s", n.describe())
	}
	return h
}

// ---------------------------------------------------------------------------
// Validation.

var (
	pcEnvironmentNameRe = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)
	pcEnvVarNameRe      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// repoOptionWords are refused anywhere in a repository address, as the
// runner refuses them: git or ssh would read them as options.
var pcRepoOptionWords = []string{"--upload-pack", "--receive-pack", "--exec", "-oProxyCommand", "ProxyCommand="}

// ValidateProject checks a whole configuration and returns every problem it
// finds (nil if none), each named by its path. It reuses the runner's
// validators, so what it accepts the runner accepts too (runner.Submit
// checks again), with one exception: an environment of the rsync or git
// strategy may leave ssh_key unset here, and the app must give the runner
// a key before it submits a deployment.
func ValidateProject(p catalog.Project) ConfigErrors {
	var errs ConfigErrors
	add := errs.add

	switch {
	case p.ID == "":
		add("id", "required")
	default:
		if err := runner.ValidateProjectID(p.ID); err != nil {
			add("id", "%s", pcReason(err))
		}
	}
	if msg := pcOneLine(p.Title); msg != "" {
		add("title", "%s", msg)
	} else if n := utf8.RuneCountInString(p.Title); n > maxTitleLen {
		add("title", "%d characters: at most %d", n, maxTitleLen)
	}

	if p.Repo == "" {
		add("repo", "required: a local absolute path or a git URL")
	} else if err := runner.ValidateRepoURL(p.Repo); err != nil {
		add("repo", "%s", pcReason(err))
	} else if msg := pcRepoExtra(p.Repo); msg != "" {
		add("repo", "%s", msg)
	}

	if p.Branch == "" {
		add("branch", "required: the mainline branch")
	} else if err := runner.ValidateRef(p.Branch); err != nil {
		add("branch", "%s", pcReason(err))
	}

	strategyOK := false
	switch p.Strategy {
	case catalog.StrategyRsync, catalog.StrategyGit, catalog.StrategyLocal:
		strategyOK = true
	case "":
		add("strategy", "required: want rsync, git or local")
	default:
		add("strategy", "unknown strategy %q: want rsync, git or local", p.Strategy)
	}

	if msg := pcScript(p.Build); msg != "" {
		add("build", "%s", msg)
	} else if p.Strategy == catalog.StrategyGit && strings.TrimSpace(p.Build) != "" {
		add("build", "the git strategy cannot publish a build: each host extracts the commit from its own "+
			"git mirror, so nothing built here reaches it; use the rsync strategy, or build on the hosts in a pre_release hook")
	}

	seen := map[string]int{}
	for i, x := range p.Exclude {
		path := pcIndex("exclude", i)
		if err := runner.ValidateExclude(x); err != nil {
			add(path, "%s: no leading '-' or '+', no control character", pcReason(err))
		} else if _, err := runner.CompileExclude([]string{x}); err != nil {
			add(path, "%s", pcReason(err))
		} else if j, dup := seen[x]; dup {
			add(path, "%q is listed twice (also exclude[%d])", x, j)
		} else {
			seen[x] = i
		}
	}

	seen = map[string]int{}
	for i, s := range p.Shared {
		path := pcIndex("shared", i)
		_, sp := runner.SharedKind(s)
		if err := runner.ValidateRelPath(sp); err != nil {
			add(path, "%s", pcReason(err))
		} else if j, dup := seen[sp]; dup {
			add(path, "%q is listed twice (also shared[%d])", sp, j)
		} else {
			seen[sp] = i
		}
	}

	seen = map[string]int{}
	for i, f := range p.VersionFiles {
		path := pcIndex("version_files", i)
		if err := runner.ValidateRelPath(f); err != nil {
			add(path, "%s", pcReason(err))
		} else if j, dup := seen[f]; dup {
			add(path, "%q is listed twice (also version_files[%d])", f, j)
		} else {
			seen[f] = i
		}
	}

	if k := p.KeepReleases; k != 0 && (k < minKeepReleases || k > maxKeepReleases) {
		add("keep_releases", "%d: want %d to %d (0: the default, %d); fewer than 2 leaves nothing to roll back to",
			k, minKeepReleases, maxKeepReleases, catalog.DefaultKeepReleases)
	}

	for _, h := range []struct{ name, text string }{
		{"pre_deploy", p.Hooks.PreDeploy}, {"post_deploy", p.Hooks.PostDeploy},
		{"pre_release", p.Hooks.PreRelease}, {"post_release", p.Hooks.PostRelease},
	} {
		if msg := pcScript(h.text); msg != "" {
			add("hooks."+h.name, "%s", msg)
		}
	}
	if msg := pcScript(p.HealthCheck.Command); msg != "" {
		add("health_check.command", "%s", msg)
	}
	if t := time.Duration(p.HealthCheck.Timeout); t < 0 || t > maxCheckTimeout {
		add("health_check.timeout", "%s: want at most %s (0: the default, %s)", t, maxCheckTimeout, runner.DefaultCheckTimeout)
	}

	seen = map[string]int{}
	for i, v := range p.Env {
		pcValidateEnvVar(&errs, v, pcIndex("env", i), seen, i)
	}

	pcValidateEnvironments(&errs, p, strategyOK)
	return errs
}

func pcValidateEnvVar(errs *ConfigErrors, v catalog.EnvVar, path string, seen map[string]int, i int) {
	add := errs.add
	switch {
	case v.Name == "":
		add(path+".name", "required")
	case !pcEnvVarNameRe.MatchString(v.Name):
		add(path+".name", "%q: want letters, digits and _, not starting with a digit", v.Name)
	default:
		if j, dup := seen[v.Name]; dup {
			add(path+".name", "%q is defined twice (also env[%d])", v.Name, j)
		} else {
			seen[v.Name] = i
		}
	}
	set := 0
	for _, s := range []string{v.Value, v.FromFile, v.FromEnv} {
		if s != "" {
			set++
		}
	}
	if set != 1 {
		add(path, "set exactly one of value, from_file, from_env")
	}
	if v.Value != "" {
		if v.Secret {
			add(path+".value", "a secret must not be written in the configuration (it would stay in the event log): use from_file or from_env")
		} else if err := runner.ValidateEnv([]string{"X=" + v.Value}); err != nil {
			add(path+".value", "holds a NUL byte")
		}
	}
	if v.FromFile != "" {
		if err := runner.ValidatePath(v.FromFile); err != nil {
			add(path+".from_file", "%s", pcReason(err))
		}
	}
	if v.FromEnv != "" && !pcEnvVarNameRe.MatchString(v.FromEnv) {
		add(path+".from_env", "%q: want the name of a variable of the app's environment", v.FromEnv)
	}
}

func pcValidateEnvironments(errs *ConfigErrors, p catalog.Project, strategyOK bool) {
	add := errs.add
	if len(p.Environments) == 0 {
		add("environments", "at least one environment is required")
		return
	}
	names := map[string]int{}
	// targets: a normalized host address (or "" for this machine) and a
	// path, to the environment that publishes there.
	type target struct{ addr, path string }
	targets := map[target]string{}
	for i, e := range p.Environments {
		path := pcIndex("environments", i)
		switch {
		case e.Name == "":
			add(path+".name", "required")
		case !pcEnvironmentNameRe.MatchString(e.Name):
			add(path+".name", "%q: want lower-case letters, digits and '-', starting with a letter, at most 32", e.Name)
		default:
			if j, dup := names[e.Name]; dup {
				add(path+".name", "duplicate environment %q (also environments[%d])", e.Name, j)
			} else {
				names[e.Name] = i
			}
		}
		envPathOK := false
		if e.Path == "" {
			add(path+".path", "required: the absolute deploy path")
		} else if err := runner.ValidatePath(e.Path); err != nil {
			add(path+".path", "%s", pcReason(err))
		} else {
			envPathOK = true
		}
		if e.SSHKey != "" {
			if err := runner.ValidatePath(e.SSHKey); err != nil {
				add(path+".ssh_key", "%s", pcReason(err))
			}
		}
		if e.Parallel < 0 || e.Parallel > maxParallel {
			add(path+".parallel", "%d: want 1 to %d (0: the default, %d)", e.Parallel, maxParallel, runner.DefaultParallel)
		}
		if e.Batch < 0 {
			add(path+".batch", "%d: must not be negative (0: all hosts in one batch)", e.Batch)
		}
		switch e.OnFailure {
		case "", catalog.OnFailureHalt, catalog.OnFailureContinue:
		default:
			add(path+".on_failure", "%q: want halt or continue", e.OnFailure)
		}

		claim := func(t target, at, what string) {
			if other, dup := targets[t]; dup && other != e.Name {
				add(at, "%s is also a target of environment %q: two environments must not publish to the same place", what, other)
				return
			}
			targets[t] = e.Name
		}
		if p.Strategy == catalog.StrategyLocal {
			if len(e.Hosts) > 0 {
				add(path+".hosts", "the local strategy publishes to path on this machine: it has no hosts (remove them, or use rsync or git)")
			} else if envPathOK {
				claim(target{"", e.Path}, path+".path", fmt.Sprintf("%s on this machine", e.Path))
			}
			continue
		}
		if strategyOK && len(e.Hosts) == 0 {
			add(path+".hosts", "at least one host is required for the %s strategy (\"user@host:port\" or {addr, path})", p.Strategy)
		}
		addrs := map[string]int{}
		for j, h := range e.Hosts {
			hpath := pcIndex(path+".hosts", j)
			norm := ""
			if h.Addr == "" {
				add(hpath, "required: \"user@host:port\"")
			} else if user, host, port, err := runner.ParseHostAddr(h.Addr); err != nil {
				add(hpath, "%s", pcReason(err))
			} else {
				norm = user + "@" + net.JoinHostPort(host, strconv.Itoa(port))
			}
			hostPathOK := h.Path == ""
			if h.Path != "" {
				if err := runner.ValidatePath(h.Path); err != nil {
					add(hpath+".path", "%s", pcReason(err))
				} else {
					hostPathOK = true
				}
			}
			if norm == "" {
				continue
			}
			// The runner deploys each address of an environment once (its
			// steps, state and lock are per address), whatever the path.
			if k, dup := addrs[norm]; dup {
				add(hpath, "host %s is listed twice (also %s.hosts[%d])", norm, path, k)
				continue
			}
			addrs[norm] = j
			eff := h.Path
			if eff == "" {
				eff = e.Path
			}
			if hostPathOK && (h.Path != "" || envPathOK) {
				claim(target{norm, eff}, hpath, fmt.Sprintf("%s at %s", norm, eff))
			}
		}
	}
}

// pcRepoExtra is what the runner refuses in a repository address beyond
// runner.ValidateRepoURL.
func pcRepoExtra(repo string) string {
	for _, w := range pcRepoOptionWords {
		if strings.Contains(repo, w) {
			return fmt.Sprintf("contains %q: git would read it as an option", w)
		}
	}
	if rest, ok := strings.CutPrefix(repo, "file://"); ok && !strings.HasPrefix(rest, "/") {
		return "a file URL needs an absolute path and no host (file:///srv/git/x.git)"
	}
	if !strings.HasPrefix(repo, "/") && !strings.Contains(repo, "://") && strings.HasSuffix(repo, ":") {
		return "no path after ':' (user@host:path)"
	}
	return ""
}

// pcScript checks configured shell text: any text, but no NUL and at most
// 8 KiB.
func pcScript(s string) string {
	switch {
	case strings.IndexByte(s, 0) >= 0:
		return "holds a NUL byte"
	case len(s) > maxScriptLen:
		return fmt.Sprintf("%d bytes: at most %d (8 KiB); put a longer script in the repository and call it", len(s), maxScriptLen)
	}
	return ""
}

// pcOneLine checks a text shown on one line.
func pcOneLine(s string) string {
	if !utf8.ValidString(s) {
		return "not valid UTF-8"
	}
	for _, c := range s {
		if unicode.IsControl(c) {
			return "holds a control character (a newline?): one line of text"
		}
	}
	return ""
}

// pcReason is a runner error without its package prefix.
func pcReason(err error) string {
	return strings.TrimPrefix(err.Error(), "runner: ")
}
