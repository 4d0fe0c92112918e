package catalog_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"releasedesk/events"
	"releasedesk/events/catalog"
	"releasedesk/events/catalog/catalogtest"
)

// TestVocabularyConformance: every event type of the vocabulary encodes
// at its schema, decodes strictly back into the same payload with every
// field kept, and upcasts from schema 1 to its current schema. The read
// models' side (each type folded and summarised in the audit trail) is
// projections' TestVocabularyFolded.
func TestVocabularyConformance(t *testing.T) {
	up := catalog.Upcasters()
	for _, s := range catalog.Specs() {
		t.Run(s.Type, func(t *testing.T) {
			if s.Schema < 1 || len(s.Streams) == 0 || s.Payload.Kind() != reflect.Struct {
				t.Fatalf("spec %+v: want schema >= 1, a stream and a struct payload", s)
			}
			ex := catalogtest.Example(s)
			e, err := catalog.NewEvent(s.Type, "alice", ex)
			if err != nil {
				t.Fatal(err)
			}
			if e.Type != s.Type || e.Schema != s.Schema || e.Actor != "alice" {
				t.Fatalf("event %s schema %d actor %q", e.Type, e.Schema, e.Actor)
			}
			// Every field is in the JSON (examples set them all, so
			// omitempty drops none), under its own name.
			var keys map[string]json.RawMessage
			if err := json.Unmarshal(e.Data, &keys); err != nil {
				t.Fatal(err)
			}
			for i := range s.Payload.NumField() {
				key, _, _ := strings.Cut(s.Payload.Field(i).Tag.Get("json"), ",")
				if key == "" || key == "-" {
					t.Errorf("field %s has no JSON name", s.Payload.Field(i).Name)
				} else if _, ok := keys[key]; !ok {
					t.Errorf("field %s is not in the data as %q: %s", s.Payload.Field(i).Name, key, e.Data)
				}
			}
			if len(keys) != s.Payload.NumField() {
				t.Errorf("%d keys in the data, %d fields in %s", len(keys), s.Payload.NumField(), s.Payload.Name())
			}
			// Strictly back into the payload, equal to what went in.
			back := reflect.New(s.Payload)
			dec := json.NewDecoder(bytes.NewReader(e.Data))
			dec.DisallowUnknownFields()
			if err := dec.Decode(back.Interface()); err != nil {
				t.Fatalf("decode %s: %v", e.Data, err)
			}
			if !reflect.DeepEqual(back.Elem().Interface(), ex) {
				t.Errorf("round trip:\n got  %+v\n want %+v", back.Elem().Interface(), ex)
			}
			// From the first schema to the current one.
			old := events.Envelope{Position: 1, Type: s.Type, Schema: 1, Data: e.Data}
			lifted, err := up.Upcast(old)
			if err != nil {
				t.Fatal(err)
			}
			if lifted.Schema != s.Schema {
				t.Errorf("an event at schema 1 upcasts to schema %d, want %d: a step is missing", lifted.Schema, s.Schema)
			}
		})
	}
}

// TestEveryTypeConstantIsListed: a Type* constant of this package that
// is not in the vocabulary's list would be written by nobody's rules.
func TestEveryTypeConstantIsListed(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(node ast.Node) bool {
			vs, ok := node.(*ast.ValueSpec)
			if !ok {
				return true
			}
			for i, id := range vs.Names {
				if !strings.HasPrefix(id.Name, "Type") || i >= len(vs.Values) {
					continue
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok {
					continue
				}
				typ, _ := strconv.Unquote(lit.Value)
				n++
				if _, ok := catalog.SpecOf(typ); !ok {
					t.Errorf("%s = %q is not in the vocabulary's list (catalog.go)", id.Name, typ)
				}
			}
			return true
		})
	}
	if n != len(catalog.Types()) {
		t.Errorf("%d Type constants, %d types listed", n, len(catalog.Types()))
	}
}

func TestNewEventRefusesWhatTheVocabularyDoesNotSay(t *testing.T) {
	for _, c := range []struct {
		name, typ string
		data      any
		field     string
	}{
		{"unknown type", "release.teleported", catalog.ReleaseDecision{}, "type"},
		{"other payload", catalog.TypeReleaseApproved, catalog.ReleaseOpened{}, "data"},
		{"a map", catalog.TypeReleaseApproved, map[string]any{"id": "1"}, "data"},
		{"nothing", catalog.TypeReleaseApproved, nil, "data"},
	} {
		_, err := catalog.NewEvent(c.typ, "alice", c.data)
		var ie *events.InvalidEventError
		if !errors.As(err, &ie) || ie.Field != c.field {
			t.Errorf("%s: %v, want an invalid %s", c.name, err, c.field)
		}
	}
	if _, err := catalog.NewEvent(catalog.TypeReleaseApproved, "alice", &catalog.ReleaseDecision{ID: "1"}); err != nil {
		t.Errorf("a pointer to the payload: %v", err)
	}
}

func TestStreams(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{catalog.UserStream("alice"), "user/alice"},
		{catalog.ProjectStream("shop"), "project/shop"},
		{catalog.ReleaseStream("42"), "release/42"},
		{catalog.DeployStream("d7"), "deploy/d7"},
		{catalog.LockStream("shop", "production"), "lock/shop/production"},
		{catalog.HostStream("web1:22"), "host/web1:22"},
		{catalog.DriftStream("shop", "test"), "drift/shop/test"},
		{catalog.StreamID("deploy/d7", catalog.DeployPrefix), "d7"},
		{catalog.StreamID("deploy/", catalog.DeployPrefix), ""},
		{catalog.StreamID("release/1", catalog.DeployPrefix), ""},
	} {
		if c.got != c.want {
			t.Errorf("%q, want %q", c.got, c.want)
		}
	}
}
