package projectconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"releasedesk/events/text"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// The document tree: YAML and JSON are both read into it first, so that one
// reader, which knows the paths, checks keys and types for both.

type nodeKind int

const (
	nodeNull nodeKind = iota
	nodeString
	nodeInt
	nodeFloat
	nodeBool
	nodeMap
	nodeSeq
	nodeOther // a YAML timestamp and the like
)

type docNode struct {
	kind  nodeKind
	text  string // a scalar as written (YAML) or its value (JSON)
	ival  int64  // cInt
	bval  bool   // cBool
	loose bool   // a plain YAML scalar: reads as a string where one is wanted
	line  int
	keys  []string
	kline []int
	vals  []*docNode // cMap, with keys
	items []*docNode // cSeq
}

func (n *docNode) describe() text.Text {
	switch n.kind {
	case nodeNull:
		return text.New("null")
	case nodeString:
		return text.New("the string %s", quoteValue(n.text))
	case nodeInt, nodeFloat:
		return text.New("the number %s", n.text)
	case nodeBool:
		return text.Plain(n.text)
	case nodeMap:
		return text.New("a mapping")
	case nodeSeq:
		return text.New("a list")
	}
	return text.Plain(quoteValue(n.text))
}

func quoteValue(s string) string {
	if utf8.RuneCountInString(s) > 40 {
		r := []rune(s)
		s = string(r[:40]) + "..."
	}
	return strconv.Quote(s)
}

func parseYAML(data []byte) (*docNode, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, text.Errorf("the document is empty")
		}
		return nil, text.Errorf("YAML syntax: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, text.Errorf("YAML syntax: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		}
		return nil, text.Errorf("line %d: a second YAML document: one configuration per document", more.Line)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, text.Errorf("the document is empty")
	}
	budget := maxYAMLAliasExpand
	return yamlToTree(doc.Content[0], &budget, 0)
}

func yamlToTree(n *yaml.Node, budget *int, inAlias int) (*docNode, error) {
	if inAlias > 0 {
		if *budget--; *budget < 0 {
			return nil, text.Errorf("line %d: YAML aliases expand to too much", n.Line)
		}
	}
	c := &docNode{line: n.Line}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, text.Errorf("line %d: unknown YAML alias", n.Line)
		}
		return yamlToTree(n.Alias, budget, inAlias+1)
	case yaml.MappingNode:
		c.kind = nodeMap
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.AliasNode && k.Alias != nil {
				k = k.Alias
			}
			if k.Kind != yaml.ScalarNode {
				return nil, text.Errorf("line %d: a mapping key must be a plain name", k.Line)
			}
			if k.ShortTag() == "!!merge" {
				return nil, text.Errorf("line %d: YAML merge keys (<<) are not supported", k.Line)
			}
			vc, err := yamlToTree(v, budget, inAlias)
			if err != nil {
				return nil, err
			}
			c.keys = append(c.keys, k.Value)
			c.kline = append(c.kline, k.Line)
			c.vals = append(c.vals, vc)
		}
	case yaml.SequenceNode:
		c.kind = nodeSeq
		for _, it := range n.Content {
			ic, err := yamlToTree(it, budget, inAlias)
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
			c.kind = nodeString
		case "!!null":
			c.kind = nodeNull
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return nil, text.Errorf("line %d: %v", n.Line, err)
			}
			c.kind, c.bval = nodeBool, b
		case "!!int":
			c.kind = nodeInt
			if err := n.Decode(&c.ival); err != nil {
				c.kind = nodeFloat // out of range: refused as "want an integer"
			}
		case "!!float":
			c.kind = nodeFloat
		case "!!timestamp":
			c.kind = nodeOther
		default:
			return nil, text.Errorf("line %d: YAML tag %s is not supported", n.Line, tag)
		}
	default:
		return nil, text.Errorf("line %d: unexpected YAML node", n.Line)
	}
	return c, nil
}

func parseJSON(data []byte) (*docNode, error) {
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
			return text.Errorf("JSON syntax: line %d: %v", lineAt(se.Offset), se)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return text.Errorf("JSON syntax: unexpected end of the document")
		}
		return text.Errorf("JSON syntax: %v", err)
	}
	var value func(tok json.Token) (*docNode, error)
	value = func(tok json.Token) (*docNode, error) {
		c := &docNode{line: lineAt(dec.InputOffset())}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				c.kind = nodeMap
				for dec.More() {
					kt, err := dec.Token()
					if err != nil {
						return nil, syntax(err)
					}
					key, ok := kt.(string)
					if !ok {
						return nil, text.Errorf("JSON syntax: line %d: want a key", c.line)
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
				c.kind = nodeSeq
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
				return nil, text.Errorf("JSON syntax: line %d: unexpected %q", c.line, rune(t))
			}
			if _, err := dec.Token(); err != nil { // the closing delimiter
				return nil, syntax(err)
			}
		case string:
			c.kind, c.text = nodeString, t
		case json.Number:
			c.text = t.String()
			if v, err := strconv.ParseInt(c.text, 10, 64); err == nil {
				c.kind, c.ival = nodeInt, v
			} else {
				c.kind = nodeFloat
			}
		case bool:
			c.kind, c.bval, c.text = nodeBool, t, strconv.FormatBool(t)
		case nil:
			c.kind = nodeNull
		}
		return c, nil
	}
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, text.Errorf("the document is empty")
		}
		return nil, syntax(err)
	}
	root, err := value(tok)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, text.Errorf("JSON syntax: line %d: data after the end of the document", lineAt(dec.InputOffset()))
	}
	return root, nil
}
