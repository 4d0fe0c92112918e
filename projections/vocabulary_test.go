package projections

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"releasedesk/events"
	"releasedesk/events/catalog"
	"releasedesk/events/catalog/catalogtest"
)

// notFolded are the payload fields no read model reads, with why. A new
// field of the vocabulary fails TestVocabularyFolded until payload.go
// reads it or it is named here.
var notFolded = map[string]string{}

// TestVocabularyFolded holds the read models to the vocabulary: for every
// event type, an example with every field set decodes without error in
// the models' one-pass decoder, each field the models read comes out as
// the typed payload has it, and the audit trail writes a summary of its
// own for it. (The vocabulary's own conformance is events/catalog's.)
func TestVocabularyFolded(t *testing.T) {
	for _, s := range catalog.Specs() {
		t.Run(s.Type, func(t *testing.T) {
			ex := catalogtest.Example(s)
			ev, err := catalog.NewEvent(s.Type, "alice", ex)
			if err != nil {
				t.Fatal(err)
			}
			e := events.Envelope{Position: 1, Stream: s.Streams[0] + "x", Version: 1, Type: s.Type, Schema: s.Schema,
				Time: catalogtest.When, Actor: "alice", Data: ev.Data}
			d := newDecoder()
			p, err := d.decode(&e)
			if err != nil {
				t.Fatalf("decode %s: %v", e.Data, err)
			}
			exv := reflect.ValueOf(ex)
			for i := range s.Payload.NumField() {
				f := s.Payload.Field(i)
				key, _, _ := strings.Cut(f.Tag.Get("json"), ",")
				want := exv.Field(i)
				got, ok := foldedField(p, s.Type, key, f.Name)
				if !ok {
					if _, why := notFolded[s.Payload.Name()+"."+key]; !why {
						t.Errorf("%s.%s (%q) is read by no model: read it in payload.go or name it in notFolded",
							s.Payload.Name(), f.Name, key)
					}
					continue
				}
				if !sameValue(got, want) {
					t.Errorf("%s: the models read %v, the payload has %v", key, got.Interface(), want.Interface())
				}
			}
			var row events.AuditRow
			formatRow(e, &row)
			if row.Summary == "" || row.Summary == e.Type || strings.Contains(row.Summary, "(unreadable data)") ||
				strings.Contains(row.Summary, "%!") || strings.Contains(row.Summary, "\n") {
				t.Errorf("audit summary %q", row.Summary)
			}
		})
	}
}

// foldedField is the decoder's value of one JSON key, where the decoder
// keeps it under another name or form than the payload's field.
func foldedField(p *payload, typ, key, field string) (reflect.Value, bool) {
	step := strings.HasPrefix(typ, "step.")
	switch {
	case step && key == "step":
		return reflect.ValueOf(string(p.StepView)), true
	case step && key == "host":
		return reflect.ValueOf(string(p.HostView)), true
	case step && key == "name":
		return reflect.ValueOf(string(p.NameView)), true
	case step && key == "deployment":
		return reflect.Value{}, true // the stream's id: not decoded, on purpose (hot path)
	case key == "command":
		return reflect.ValueOf(argvOf(p.Command)), true
	case key == "text":
		var s string
		_ = json.Unmarshal(p.Text, &s)
		return reflect.ValueOf(s), true
	case key == "roles":
		return reflect.ValueOf(p.roles()), true
	case key == "contacts":
		return reflect.ValueOf(p.contacts()), true
	case typ == catalog.TypeDeployRequested && key == "project", key == "config":
		return reflect.Value{}, true // kept raw, read by projectOf: TestVocabularyProjectSnapshot
	case typ == catalog.TypeDriftChecked && key == "hosts":
		return reflect.Value{}, true // kept raw, read by the hosts model and the summary
	case typ == catalog.TypeNotificationSent, typ == catalog.TypeNotificationFailed:
		n, ok := p.notification() // kept whole, read by the notifications model
		if !ok {
			return reflect.ValueOf("(unreadable)"), true
		}
		return reflect.ValueOf(n).FieldByName(field), true
	}
	v := reflect.ValueOf(*p).FieldByName(field)
	return v, v.IsValid()
}

// sameValue compares a decoded value with the payload's, numbers by value
// whatever their width.
func sameValue(got, want reflect.Value) bool {
	if !got.IsValid() {
		return true // deliberately not decoded (foldedField says why)
	}
	switch want.Kind() {
	case reflect.Int, reflect.Int64:
		return got.CanInt() && got.Int() == want.Int()
	}
	return reflect.DeepEqual(got.Interface(), want.Interface())
}

// The project configuration a deploy.requested or a project.configured
// carries: the models read its id, title, repository, branch, strategy,
// keep_releases and each environment's name, path, approval and hosts.
func TestVocabularyProjectSnapshot(t *testing.T) {
	for _, typ := range []string{catalog.TypeDeployRequested, catalog.TypeProjectConfigured} {
		s, _ := catalog.SpecOf(typ)
		ev, err := catalog.NewEvent(typ, "alice", catalogtest.Example(s))
		if err != nil {
			t.Fatal(err)
		}
		d := newDecoder()
		p, err := d.decode(&events.Envelope{Position: 1, Type: typ, Data: ev.Data})
		if err != nil {
			t.Fatal(err)
		}
		pi, err := d.projectOf(p)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		want := projectInfo{ID: "id-1", Title: "title-1", Repo: "repo-1", Branch: "branch-1", Strategy: "strategy-1",
			KeepReleases: 7, Environments: []Environment{{Name: "name-1", Path: "path-1", Approval: true, Hosts: []string{"addr-1"}}}}
		if !reflect.DeepEqual(*pi, want) {
			t.Errorf("%s: the models read %+v, want %+v", typ, *pi, want)
		}
	}
}

// A configured host is "user@host:port" or {addr, path}: the models read
// both (old configurations, and the hosts a person wrote, are strings).
func TestProjectConfigHostForms(t *testing.T) {
	cfg := `{"id":"shop","strategy":"rsync","environments":[{"name":"test","path":"/srv",` +
		`"hosts":["www@10.0.0.5:22",{"addr":"www@10.0.0.6:22","path":"/srv/other"}]}]}`
	d := newDecoder()
	p := &payload{ConfigRaw: []byte(cfg)}
	pi, err := d.projectOf(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := pi.Environments[0].Hosts; !reflect.DeepEqual(got, []string{"www@10.0.0.5:22", "www@10.0.0.6:22"}) {
		t.Errorf("hosts %q", got)
	}
}
