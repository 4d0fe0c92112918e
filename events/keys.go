package events

import (
	"encoding/binary"
	"fmt"
)

// Badger key layout. Every read the log needs is one range scan:
//
//	'g' pos(8, big-endian)                  -> encoded envelope (codec.go)
//	's' stream 0x00 version(8, big-endian)  -> pos(8, big-endian)
//	'm' name                                -> store metadata
//
// Big-endian numbers sort like the numbers, so the global log is the 'g'
// range in order and a stream is the range under its 's' prefix; the last
// key of that range is the stream's version, which Append's expectation and
// StreamHead find with one reverse seek (streamEnd). A stream name never
// holds a control byte (ValidateStream), so the 0x00 after it cannot be
// part of a longer name: "release/1" never sees "release/10".
const (
	prefixEvent  byte = 'g'
	prefixStream byte = 's'
	prefixMeta   byte = 'm'
)

// metaStatsKey holds the running Stats, written in every commit's
// transaction so that it always matches the events beside it.
var metaStatsKey = []byte{prefixMeta, 's', 't', 'a', 't', 's'}

// eventPrefix is the range of all events.
var eventPrefix = []byte{prefixEvent}

func eventKey(position uint64) []byte {
	k := make([]byte, 9)
	k[0] = prefixEvent
	binary.BigEndian.PutUint64(k[1:], position)
	return k
}

// eventKeyPosition reads the position back out of an event key.
func eventKeyPosition(k []byte) (uint64, error) {
	if len(k) != 9 || k[0] != prefixEvent {
		return 0, fmt.Errorf("events: malformed event key %x", k)
	}
	return binary.BigEndian.Uint64(k[1:]), nil
}

// streamPrefix is the range of one stream's index.
func streamPrefix(stream string) []byte {
	k := make([]byte, 0, len(stream)+10)
	k = append(k, prefixStream)
	k = append(k, stream...)
	return append(k, 0)
}

func streamKey(stream string, version uint64) []byte {
	return binary.BigEndian.AppendUint64(streamPrefix(stream), version)
}

// streamKeyVersion reads the version back out of a stream index key.
func streamKeyVersion(k []byte) (uint64, error) {
	if len(k) < 10 || k[0] != prefixStream || k[len(k)-9] != 0 {
		return 0, fmt.Errorf("events: malformed stream key %x", k)
	}
	return binary.BigEndian.Uint64(k[len(k)-8:]), nil
}

// positionValue encodes the position a stream index entry points to.
func positionValue(position uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, position)
}

func decodePositionValue(v []byte) (uint64, error) {
	if len(v) != 8 {
		return 0, fmt.Errorf("events: malformed stream index value %x", v)
	}
	return binary.BigEndian.Uint64(v), nil
}
