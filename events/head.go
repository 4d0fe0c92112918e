package events

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
)

// The head record is a small file beside Badger naming the last position
// and hash the store acknowledged. It is synced after every group commit, on
// its own, so that a log that lost its tail (a disk or file system that
// dropped acknowledged writes, a restored backup of the database alone) is
// noticed: the events no longer reach the record.
//
// The file has two fixed slots written alternately, each with a sequence
// number and a CRC. A torn write can damage only the slot being written; the
// other still holds the previous head. A slot:
//
//	[8]  magic "RDHEAD01"
//	[8]  sequence (big-endian)
//	[8]  position (big-endian)
//	[32] hash
//	[4]  CRC-32C of the above
//	[4]  zero
const (
	headFileName = "HEAD"
	headSlotSize = 64
	headMagic    = "RDHEAD01"
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// headFile writes the head record. Only the writer goroutine uses it.
type headFile struct {
	f   *os.File
	seq uint64
}

// errNoHead means the file holds no valid slot.
var errNoHead = errors.New("events: no valid head record")

// readHeadRecord reads the newest valid slot of the head file at path. A
// missing or empty file gives errNoHead wrapped with fs.ErrNotExist.
func readHeadRecord(path string) (Head, uint64, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(b) == 0) {
		return Head{}, 0, fmt.Errorf("%w: %w", errNoHead, fs.ErrNotExist)
	}
	if err != nil {
		return Head{}, 0, fmt.Errorf("events: read head record: %w", err)
	}
	var best Head
	var bestSeq uint64
	found := false
	for off := 0; off+headSlotSize <= len(b); off += headSlotSize {
		h, seq, ok := decodeHeadSlot(b[off : off+headSlotSize])
		if ok && (!found || seq > bestSeq) {
			best, bestSeq, found = h, seq, true
		}
	}
	if !found {
		return Head{}, 0, fmt.Errorf("%w in %d bytes", errNoHead, len(b))
	}
	return best, bestSeq, nil
}

func decodeHeadSlot(s []byte) (Head, uint64, bool) {
	if !bytes.Equal(s[:8], []byte(headMagic)) {
		return Head{}, 0, false
	}
	if crc32.Checksum(s[:56], crcTable) != binary.BigEndian.Uint32(s[56:60]) {
		return Head{}, 0, false
	}
	seq := binary.BigEndian.Uint64(s[8:16])
	pos := binary.BigEndian.Uint64(s[16:24])
	return Head{Position: pos, Hash: hex.EncodeToString(s[24:56])}, seq, true
}

func encodeHeadSlot(h Head, seq uint64) ([]byte, error) {
	hash, err := hex.DecodeString(h.Hash)
	if err != nil || len(hash) != hashBytes {
		return nil, fmt.Errorf("events: head hash %q is not %d hex digits", h.Hash, 2*hashBytes)
	}
	s := make([]byte, headSlotSize)
	copy(s, headMagic)
	binary.BigEndian.PutUint64(s[8:], seq)
	binary.BigEndian.PutUint64(s[16:], h.Position)
	copy(s[24:], hash)
	binary.BigEndian.PutUint32(s[56:], crc32.Checksum(s[:56], crcTable))
	return s, nil
}

// openHeadFile opens (creating if needed) the head file for writing. seq is
// the sequence of the newest valid slot, 0 if none.
func openHeadFile(path string, seq uint64) (*headFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("events: open head record: %w", err)
	}
	return &headFile{f: f, seq: seq}, nil
}

// write records h in the slot not holding the newest record and syncs it.
func (h *headFile) write(head Head) error {
	slot, err := encodeHeadSlot(head, h.seq+1)
	if err != nil {
		return err
	}
	off := int64((h.seq+1)%2) * headSlotSize
	if _, err := h.f.WriteAt(slot, off); err != nil {
		return fmt.Errorf("events: write head record: %w", err)
	}
	if err := syncData(h.f); err != nil {
		return fmt.Errorf("events: sync head record: %w", err)
	}
	h.seq++
	return nil
}

func (h *headFile) close() error { return h.f.Close() }
