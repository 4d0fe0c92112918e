package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"releasedesk/events/text"
)

// AuditRow is one line of the CSV audit view. The events package knows no
// event type, so it fills what any event carries plus a few conventional data
// keys; packages that own event types register Formatters for the rest.
type AuditRow struct {
	Position    uint64    `json:"position"`
	Time        time.Time `json:"time"`
	Actor       string    `json:"actor"`
	Action      string    `json:"action"`
	Project     string    `json:"project,omitempty"`
	Environment string    `json:"environment,omitempty"`
	Release     string    `json:"release,omitempty"`
	Version     string    `json:"version,omitempty"`
	Commit      string    `json:"commit,omitempty"`
	Host        string    `json:"host,omitempty"`
	Summary     string    `json:"summary"`
	// SummaryText is Summary as a format and its arguments, for a reader
	// of another language (the API's audit listing); Summary is its
	// English, which the exports keep. Nil when no formatter wrote one. A
	// pointer keeps rows comparable with ==.
	SummaryText *text.Text `json:"-"`
}

// SummaryIn is the row's summary in p's language (nil: English, Summary
// itself).
func (r *AuditRow) SummaryIn(p text.Printer) string {
	if p == nil || r.SummaryText == nil {
		return r.Summary
	}
	return r.SummaryText.In(p)
}

// Formatter adjusts the default row of one event type, typically to write a
// human Summary ("approved release 42 of shop for production").
type Formatter func(e Envelope, row *AuditRow)

// Formatters maps event types to their Formatter. It is safe for concurrent
// use; types are registered at start-up by the packages that define them.
type Formatters struct {
	mu sync.RWMutex
	m  map[string]Formatter
}

// NewFormatters returns an empty registry: every event gets the default row.
func NewFormatters() *Formatters { return &Formatters{m: map[string]Formatter{}} }

// Register sets the formatter of typ. Like sql.Register it panics on a
// programming error (empty type, nil function, a type registered twice),
// because two packages claiming one type is a bug to catch at start-up.
func (f *Formatters) Register(typ string, fn Formatter) {
	if typ == "" || fn == nil {
		panic("events: Formatters.Register needs a type and a function")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, dup := f.m[typ]; dup {
		panic(fmt.Sprintf("events: formatter for %q registered twice", typ))
	}
	f.m[typ] = fn
}

// Row returns the audit row of e: Position, Time, Actor, Action = Type and
// Summary = Type, the generic columns from top-level data keys (project,
// environment or env, release, version, commit, host) when present, then
// whatever the type's registered formatter changes. A nil *Formatters gives
// the default row.
func (f *Formatters) Row(e Envelope) AuditRow {
	var row AuditRow
	f.fill(e, &row)
	return row
}

func (f *Formatters) fill(e Envelope, row *AuditRow) {
	*row = AuditRow{
		Position: e.Position,
		Time:     e.Time,
		Actor:    e.Actor,
		Action:   e.Type,
		Summary:  e.Type,
	}
	fillDataKeys(e.Data, row)
	if f == nil {
		return
	}
	f.mu.RLock()
	fn := f.m[e.Type]
	f.mu.RUnlock()
	if fn != nil {
		fn(e, row)
	}
}

// fillDataKeys sets the generic columns from the conventional top-level data
// keys. It scans the object's top level by hand instead of json.Unmarshal:
// the export reads every event once, and a full reflective decode of data it
// mostly skips was most of a million-row export's time. Keys match exactly
// (json.Unmarshal would also accept "Project"); for a repeated key the last
// wins, as with encoding/json. Data that is not an object leaves them empty.
func fillDataKeys(data []byte, row *AuditRow) {
	var env string
	scanTopLevel(data, func(key, val []byte) {
		switch string(key) { // no allocation: the compiler compares in place
		case "project":
			row.Project = scalarText(val)
		case "environment":
			row.Environment = scalarText(val)
		case "env":
			env = scalarText(val)
		case "release":
			row.Release = scalarText(val)
		case "version":
			row.Version = scalarText(val)
		case "commit":
			row.Commit = scalarText(val)
		case "host":
			row.Host = scalarText(val)
		}
	})
	if row.Environment == "" {
		row.Environment = env
	}
}

// scanTopLevel calls fn with each key and raw value of a JSON object's top
// level. It trusts its input to be valid JSON (stored data is validated on
// append) and stops quietly at anything unexpected.
func scanTopLevel(data []byte, fn func(key, val []byte)) {
	i := SkipJSONSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return
	}
	i++
	for {
		i = SkipJSONSpace(data, i)
		if i >= len(data) || data[i] != '"' {
			return // '}' or malformed
		}
		end := SkipJSONValue(data, i)
		if end < 0 {
			return
		}
		key := data[i+1 : end-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			var k string
			if json.Unmarshal(data[i:end], &k) != nil {
				return
			}
			key = []byte(k)
		}
		i = SkipJSONSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return
		}
		i = SkipJSONSpace(data, i+1)
		end = SkipJSONValue(data, i)
		if end < 0 {
			return
		}
		fn(key, data[i:end])
		i = SkipJSONSpace(data, end)
		if i >= len(data) || data[i] != ',' {
			return
		}
		i++
	}
}

// scalarText renders a JSON string, number or boolean as cell text; null,
// objects and arrays give "" (they are not one value a column can show).
func scalarText(raw []byte) string {
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '"':
		if bytes.IndexByte(raw, '\\') < 0 {
			return string(raw[1 : len(raw)-1]) // no escapes: the bytes are the text
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return ""
		}
		return s
	case '{', '[', 'n':
		return ""
	default:
		return string(raw)
	}
}
