package projections

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"time"
)

// The checkpoint's binary encoding: varints, and strings written once and
// then referred to by number (ids, hosts, versions and step names recur
// thousands of times), so a large state is small on disk and loads with
// few allocations. Every model writes and reads itself in a fixed order;
// ProjectionVersion changes whenever that order or a model's meaning does.

// encoder appends to a buffer, which it hands to w (if any) a megabyte
// at a time, keeping a CRC-32C of everything written.
type encoder struct {
	b    []byte
	strs map[string]uint64 // string -> its number
	w    io.Writer
	crc  uint32
	err  error
}

const encoderFlush = 1 << 20

func newEncoder(size int) *encoder {
	return &encoder{b: make([]byte, 0, size), strs: make(map[string]uint64, 1<<14)}
}

// maybeFlush writes the buffer out once it is large.
func (w *encoder) maybeFlush() {
	if len(w.b) >= encoderFlush && w.w != nil {
		w.flush()
	}
}

func (w *encoder) flush() {
	w.crc = crc32.Update(w.crc, crcTable, w.b)
	if w.err == nil {
		_, w.err = w.w.Write(w.b)
	}
	w.b = w.b[:0]
}

func (w *encoder) uvarint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }
func (w *encoder) varint(v int64)   { w.b = binary.AppendVarint(w.b, v) }
func (w *encoder) int(v int)        { w.varint(int64(v)) }

func (w *encoder) bool(v bool) {
	if v {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
}

// String tags: 0 is "", 1 a new string (numbered in order of appearance),
// 2 a string written once and not numbered (long, unique text), 3+n the
// string numbered n.
const (
	strEmpty = iota
	strNew
	strOnce
	strRef
)

// maxShared is the longest string worth numbering; longer ones (errors,
// notes, configurations) rarely recur.
const maxShared = 1024

func (w *encoder) str(s string) {
	w.maybeFlush()
	switch {
	case s == "":
		w.uvarint(strEmpty)
	case len(s) > maxShared:
		w.uvarint(strOnce)
		w.uvarint(uint64(len(s)))
		w.b = append(w.b, s...)
	default:
		if n, ok := w.strs[s]; ok {
			w.uvarint(strRef + n)
			return
		}
		w.strs[s] = uint64(len(w.strs))
		w.uvarint(strNew)
		w.uvarint(uint64(len(s)))
		w.b = append(w.b, s...)
	}
}

// bytes writes raw bytes (nil and empty are told apart).
func (w *encoder) bytes(b []byte) {
	w.maybeFlush()
	if b == nil {
		w.uvarint(0)
		return
	}
	w.uvarint(uint64(len(b)) + 1)
	w.b = append(w.b, b...)
}

// strings writes a list (nil and empty are told apart).
func (w *encoder) strings(ss []string) {
	if ss == nil {
		w.uvarint(0)
		return
	}
	w.uvarint(uint64(len(ss)) + 1)
	for _, s := range ss {
		w.str(s)
	}
}

func (w *encoder) time(t time.Time) {
	if t.IsZero() {
		w.b = append(w.b, 0)
		return
	}
	w.b = append(w.b, 1)
	w.varint(t.UnixNano())
}

// errCodec is a checkpoint that does not decode.
var errCodec = errors.New("bad encoding")

// decoder reads what encoder wrote; the first failure sticks.
type cpDecoder struct {
	b    []byte
	i    int
	err  error
	strs []string
	// arena holds the text of every step output, copied out of b in one
	// allocation so that b itself is not kept alive.
	arena []byte
}

func (r *cpDecoder) fail() {
	if r.err == nil {
		r.err = errCodec
	}
	r.i = len(r.b)
}

func (r *cpDecoder) uvarint() uint64 {
	v, n := binary.Uvarint(r.b[r.i:])
	if n <= 0 {
		r.fail()
		return 0
	}
	r.i += n
	return v
}

func (r *cpDecoder) varint() int64 {
	v, n := binary.Varint(r.b[r.i:])
	if n <= 0 {
		r.fail()
		return 0
	}
	r.i += n
	return v
}

func (r *cpDecoder) int() int { return int(r.varint()) }

// count reads a length and checks it against what is left (each element
// takes at least a byte), so damage cannot make a huge allocation. The
// lengths that tell nil from empty are one more than the elements: hence
// the one over what is left, which the last field of all may reach.
func (r *cpDecoder) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)-r.i)+1 {
		r.fail()
		return 0
	}
	return int(n)
}

func (r *cpDecoder) bool() bool {
	if r.i >= len(r.b) {
		r.fail()
		return false
	}
	v := r.b[r.i]
	r.i++
	return v == 1
}

func (r *cpDecoder) raw(n int) []byte {
	if n < 0 || n > len(r.b)-r.i {
		r.fail()
		return nil
	}
	b := r.b[r.i : r.i+n]
	r.i += n
	return b
}

func (r *cpDecoder) str() string {
	tag := r.uvarint()
	switch tag {
	case strEmpty:
		return ""
	case strNew:
		s := string(r.raw(r.count()))
		r.strs = append(r.strs, s)
		return s
	case strOnce:
		return string(r.raw(r.count()))
	}
	n := tag - strRef
	if n >= uint64(len(r.strs)) {
		r.fail()
		return ""
	}
	return r.strs[n]
}

// bytes reads raw bytes as a fresh slice.
func (r *cpDecoder) bytes() []byte {
	n := r.count()
	if n == 0 {
		return nil
	}
	return append([]byte{}, r.raw(n-1)...)
}

// arenaBytes reads raw bytes into the arena, capped so that an append
// copies instead of writing over the next step's text.
func (r *cpDecoder) arenaBytes() []byte {
	n := r.count()
	if n == 0 {
		return nil
	}
	b := r.raw(n - 1)
	if len(r.arena)+len(b) > cap(r.arena) {
		return append([]byte{}, b...)
	}
	start := len(r.arena)
	r.arena = append(r.arena, b...)
	return r.arena[start:len(r.arena):len(r.arena)]
}

func (r *cpDecoder) strings() []string {
	n := r.count()
	if n == 0 {
		return nil
	}
	out := make([]string, n-1)
	for i := range out {
		out[i] = r.str()
	}
	return out
}

func (r *cpDecoder) time() time.Time {
	if !r.bool() {
		return time.Time{}
	}
	return time.Unix(0, r.varint()).UTC()
}
