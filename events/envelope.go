package events

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Expected-version values for Append besides a concrete version.
const (
	// AnyVersion appends whatever the stream's version is.
	AnyVersion int64 = -1
	// NoStream appends only if the stream does not exist yet.
	NoStream int64 = 0
)

// Limits that keep one append inside one Badger transaction and one event
// readable in a browser.
const (
	MaxEventsPerAppend = 1000
	MaxDataBytes       = 256 << 10
	maxNameBytes       = 512
)

// Event is what a caller appends. The store fills in the rest of the Envelope.
type Event struct {
	Type          string          // noun.past_tense, a constant string
	Schema        int             // payload schema; 0 means 1
	Data          json.RawMessage // a JSON value; nil means {}
	Actor         string          // user name, or "runner" / "system"
	CorrelationID string
	CausationID   string
}

// NewEvent marshals data into an Event of the given type (schema 1).
func NewEvent(typ, actor string, data any) (Event, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return Event{}, &InvalidEventError{Field: "data", Reason: err.Error()}
	}
	return Event{Type: typ, Schema: 1, Data: raw, Actor: actor}, nil
}

// Envelope is one event as stored: its place in the log, its payload and its
// link in the hash chain. Hash = sha256(PrevHash || CanonicalBytes()).
type Envelope struct {
	Position      uint64          `json:"position"`
	Stream        string          `json:"stream"`
	Version       uint64          `json:"version"`
	Type          string          `json:"type"`
	Schema        int             `json:"schema"`
	Time          time.Time       `json:"time"`
	Actor         string          `json:"actor"`
	CorrelationID string          `json:"correlation_id,omitempty"`
	CausationID   string          `json:"causation_id,omitempty"`
	Data          json.RawMessage `json:"data"`
	PrevHash      string          `json:"prev_hash"`
	Hash          string          `json:"hash"`
}

// Decode unmarshals the event's data into v.
func (e Envelope) Decode(v any) error {
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("events: decode %s at position %d: %w", e.Type, e.Position, err)
	}
	return nil
}

// CanonicalBytes is the exact byte string the hash covers: every field but
// the two hashes, each length-prefixed, in a fixed order. It never depends on
// a JSON encoder's choices, so an export re-read gives the same bytes.
func (e Envelope) CanonicalBytes() []byte {
	var b bytes.Buffer
	b.Grow(96 + len(e.Stream) + len(e.Type) + len(e.Actor) + len(e.Data))
	var n [8]byte
	putU64 := func(v uint64) { binary.BigEndian.PutUint64(n[:], v); b.Write(n[:]) }
	putStr := func(s string) {
		b.Write(binary.AppendUvarint(nil, uint64(len(s))))
		b.WriteString(s)
	}
	putU64(e.Position)
	putStr(e.Stream)
	putU64(e.Version)
	putStr(e.Type)
	putU64(uint64(int64(e.Schema)))
	putStr(FormatTime(e.Time))
	putStr(e.Actor)
	putStr(e.CorrelationID)
	putStr(e.CausationID)
	b.Write(binary.AppendUvarint(nil, uint64(len(e.Data))))
	b.Write(e.Data)
	return b.Bytes()
}

// ComputeHash returns the hex hash this envelope must carry given its PrevHash.
// A PrevHash that is not 64 hex digits is hashed as given, so a damaged link
// still yields a (wrong) hash instead of a panic.
func (e Envelope) ComputeHash() string {
	h := sha256.New()
	if prev, err := hex.DecodeString(e.PrevHash); err == nil && len(prev) == sha256.Size {
		h.Write(prev)
	} else {
		h.Write([]byte(e.PrevHash))
	}
	h.Write(e.CanonicalBytes())
	return hex.EncodeToString(h.Sum(nil))
}

// GenesisHash is the PrevHash of position 1.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// FormatTime is the one textual form of an event time: UTC, RFC 3339 with
// nanoseconds. It is what the hash covers and what exports print.
func FormatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// normalizeTime strips the monotonic reading and the zone so that a time
// survives a JSON round trip unchanged.
func normalizeTime(t time.Time) time.Time { return t.UTC().Round(0) }

// CanonicalData validates a JSON payload and returns its one stored form:
// compact, with HTML-significant characters escaped exactly as encoding/json
// escapes them, so that marshalling an Envelope never changes Data's bytes.
func CanonicalData(raw json.RawMessage) (json.RawMessage, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return json.RawMessage(`{}`), nil
	}
	if !utf8.Valid(raw) {
		return nil, &InvalidEventError{Field: "data", Reason: "not valid UTF-8"}
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return nil, &InvalidEventError{Field: "data", Reason: "not valid JSON: " + err.Error()}
	}
	var escaped bytes.Buffer
	json.HTMLEscape(&escaped, compact.Bytes())
	if escaped.Len() > MaxDataBytes {
		return nil, &InvalidEventError{Field: "data", Reason: fmt.Sprintf("%d bytes, more than the %d allowed", escaped.Len(), MaxDataBytes)}
	}
	return escaped.Bytes(), nil
}

// ValidateStream checks a stream name: non-empty, UTF-8, no control bytes.
func ValidateStream(stream string) error {
	return validateName("stream", stream, true)
}

func validateName(field, s string, required bool) error {
	switch {
	case s == "" && required:
		return &InvalidEventError{Field: field, Reason: "must not be empty"}
	case len(s) > maxNameBytes:
		return &InvalidEventError{Field: field, Reason: fmt.Sprintf("longer than %d bytes", maxNameBytes)}
	case !utf8.ValidString(s):
		return &InvalidEventError{Field: field, Reason: "not valid UTF-8"}
	case strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0:
		return &InvalidEventError{Field: field, Reason: "contains a control character"}
	}
	return nil
}

// prepare validates an event for stream and returns it with canonical data.
// Every store calls it, so the rules are one.
func prepare(stream string, ev Event) (Event, error) {
	if err := ValidateStream(stream); err != nil {
		return Event{}, err
	}
	if err := validateName("type", ev.Type, true); err != nil {
		return Event{}, err
	}
	for field, v := range map[string]string{"actor": ev.Actor, "correlation_id": ev.CorrelationID, "causation_id": ev.CausationID} {
		if err := validateName(field, v, false); err != nil {
			return Event{}, err
		}
	}
	if ev.Schema == 0 {
		ev.Schema = 1
	}
	if ev.Schema < 0 {
		return Event{}, &InvalidEventError{Field: "schema", Reason: "must be positive"}
	}
	data, err := CanonicalData(ev.Data)
	if err != nil {
		return Event{}, err
	}
	ev.Data = data
	return ev, nil
}
