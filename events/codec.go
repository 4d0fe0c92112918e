package events

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// The stored form of an envelope. JSON would be simpler, but replaying the
// whole log on start-up decodes every event: this layout decodes with three
// allocations and no reflection. Data stays the JSON the caller gave.
//
//	byte     codec version (1)
//	uvarint  position, version, schema, time nanoseconds
//	varint   time seconds since the Unix epoch (UTC)
//	uvarint  lengths of stream, type, actor, correlation id, causation id, data
//	bytes    stream, type, actor, correlation id, causation id (contiguous)
//	bytes    data
//	[32]     prev hash, [32] hash
//
// The names are contiguous so that decoding makes one string and slices the
// five names out of it.
const codecVersion byte = 1

const hashBytes = 32

var errCodec = errors.New("events: malformed stored event")

// encodeEnvelope returns the stored form of e. Both hashes must be 64 hex
// digits: the store only writes hashes it computed.
func encodeEnvelope(e Envelope) ([]byte, error) {
	names := [5]string{e.Stream, e.Type, e.Actor, e.CorrelationID, e.CausationID}
	n := 1 + 6*binary.MaxVarintLen64 + len(e.Data) + 2*hashBytes
	for _, s := range names {
		n += binary.MaxVarintLen64 + len(s)
	}
	b := make([]byte, 0, n)
	b = append(b, codecVersion)
	b = binary.AppendUvarint(b, e.Position)
	b = binary.AppendUvarint(b, e.Version)
	b = binary.AppendUvarint(b, uint64(e.Schema))
	b = binary.AppendUvarint(b, uint64(e.Time.Nanosecond()))
	b = binary.AppendVarint(b, e.Time.Unix())
	for _, s := range names {
		b = binary.AppendUvarint(b, uint64(len(s)))
	}
	b = binary.AppendUvarint(b, uint64(len(e.Data)))
	for _, s := range names {
		b = append(b, s...)
	}
	b = append(b, e.Data...)
	for _, h := range []string{e.PrevHash, e.Hash} {
		if len(h) != 2*hashBytes {
			return nil, fmt.Errorf("events: encode position %d: hash %q is not %d hex digits", e.Position, h, 2*hashBytes)
		}
		var err error
		if b, err = hex.AppendDecode(b, []byte(h)); err != nil {
			return nil, fmt.Errorf("events: encode position %d: hash %q: %w", e.Position, h, err)
		}
	}
	return b, nil
}

// decodeEnvelope parses a stored envelope. b may be reused by the caller
// afterwards: nothing returned points into it.
func decodeEnvelope(b []byte) (Envelope, error) {
	d := decoder{b: b}
	if len(b) == 0 || b[0] != codecVersion {
		return Envelope{}, fmt.Errorf("%w: unknown codec version", errCodec)
	}
	d.b = d.b[1:]
	var e Envelope
	e.Position = d.uvarint()
	e.Version = d.uvarint()
	e.Schema = int(d.uvarint())
	nsec := d.uvarint()
	sec := d.varint()
	var lens [6]uint64
	total := uint64(0)
	for i := range lens {
		lens[i] = d.uvarint()
		total += lens[i]
	}
	if d.err != nil || nsec >= uint64(time.Second) || total+2*hashBytes != uint64(len(d.b)) || total < lens[5] {
		return Envelope{}, fmt.Errorf("%w: bad header", errCodec)
	}
	e.Time = time.Unix(sec, int64(nsec)).UTC()

	nameLen := total - lens[5]
	names := string(d.b[:nameLen])
	fields := [5]*string{&e.Stream, &e.Type, &e.Actor, &e.CorrelationID, &e.CausationID}
	off := uint64(0)
	for i, f := range fields {
		*f = names[off : off+lens[i]]
		off += lens[i]
	}
	e.Data = append([]byte(nil), d.b[nameLen:total]...)
	hashes := hex.EncodeToString(d.b[total:])
	e.PrevHash, e.Hash = hashes[:2*hashBytes], hashes[2*hashBytes:]
	return e, nil
}

// decoder reads varints and remembers the first failure.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCodec
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCodec
		return 0
	}
	d.b = d.b[n:]
	return v
}

// encodeStats is the stored form of the running Stats (without the head,
// which the events themselves give).
func encodeStats(st Stats) []byte {
	b := []byte{codecVersion}
	b = binary.AppendUvarint(b, st.Count)
	b = binary.AppendUvarint(b, st.Bytes)
	b = binary.AppendUvarint(b, st.Streams)
	for _, t := range []time.Time{st.FirstTime, st.LastTime} {
		if t.IsZero() {
			b = append(b, 0)
			continue
		}
		b = append(b, 1)
		b = binary.AppendVarint(b, t.Unix())
		b = binary.AppendUvarint(b, uint64(t.Nanosecond()))
	}
	return b
}

func decodeStats(b []byte) (Stats, error) {
	if len(b) == 0 || b[0] != codecVersion {
		return Stats{}, fmt.Errorf("%w: unknown stats version", errCodec)
	}
	d := decoder{b: b[1:]}
	var st Stats
	st.Count = d.uvarint()
	st.Bytes = d.uvarint()
	st.Streams = d.uvarint()
	for _, t := range []*time.Time{&st.FirstTime, &st.LastTime} {
		if d.err != nil || len(d.b) == 0 {
			return Stats{}, fmt.Errorf("%w: truncated stats", errCodec)
		}
		set := d.b[0]
		d.b = d.b[1:]
		if set == 1 {
			sec := d.varint()
			nsec := d.uvarint()
			*t = time.Unix(sec, int64(nsec)).UTC()
		}
	}
	if d.err != nil {
		return Stats{}, fmt.Errorf("%w: bad stats", errCodec)
	}
	return st, nil
}
