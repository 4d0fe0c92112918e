package i18n

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"releasedesk/events"
	"releasedesk/events/catalog"
	"releasedesk/events/catalog/catalogtest"
	"releasedesk/projections"
)

// TestEveryAuditSummaryRendersInChinese: the audit trail's summary of
// every event type, with every field set and with none, reads Chinese
// through the catalog (each optional part included), formats cleanly (no
// "%!" of a placeholder without its argument), and its English is the
// row's Summary, which the exports write.
func TestEveryAuditSummaryRendersInChinese(t *testing.T) {
	f := events.NewFormatters()
	projections.RegisterAuditFormatters(f)
	zh := Chinese()
	for _, s := range catalog.Specs() {
		full := reflect.ValueOf(catalogtest.Example(s))
		empty := reflect.New(s.Payload).Elem()
		for i := range empty.NumField() {
			if fv := empty.Field(i); fv.Type() == reflect.TypeFor[json.RawMessage]() {
				fv.Set(full.Field(i)) // a raw field is a whole object or none
			}
		}
		for name, v := range map[string]reflect.Value{"every field": full, "no field": empty} {
			data, err := json.Marshal(v.Interface())
			if err != nil {
				t.Fatal(err)
			}
			row := f.Row(events.Envelope{Position: 1, Stream: s.Streams[0] + "d1", Version: 1, Type: s.Type,
				Schema: s.Schema, Time: catalogtest.When, Actor: "alice", Data: data})
			if row.SummaryText == nil {
				t.Errorf("%s, %s: no SummaryText (%q)", s.Type, name, row.Summary)
				continue
			}
			if en := row.SummaryIn(nil); en != row.Summary || row.SummaryText.String() != row.Summary {
				t.Errorf("%s, %s: English %q, Summary %q", s.Type, name, en, row.Summary)
			}
			got := row.SummaryIn(zh)
			if !hasHan(got) && !hasFullWidth(got) || strings.Contains(got, "%!") || got == row.Summary {
				t.Errorf("%s, %s: the Chinese of %q is %q", s.Type, name, row.Summary, got)
			}
		}
	}
}
