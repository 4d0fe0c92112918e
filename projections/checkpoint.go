package projections

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"time"

	"releasedesk/events"
)

// ProjectionVersion names the meaning of the models' state. Change it
// whenever a fold changes what it makes of an event or the checkpoint
// encoding changes: a checkpoint of another version is discarded and the
// models are rebuilt from the log.
const ProjectionVersion = 6

// checkpointMagic starts a checkpoint file.
var checkpointMagic = []byte("RDPROJ\x00\x01")

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// SaveCheckpoint writes the whole state of s, with its position and that
// event's hash, to w: magic, ProjectionVersion, position, hash, every
// model, then a CRC-32C of all of it. Applying waits meanwhile (queries
// do not): about half a second for the state of a million events.
func (s *Set) SaveCheckpoint(w io.Writer) error {
	s.applying.Lock() // no batch is applied meanwhile; queries go on
	s.mu.RLock()
	for _, m := range s.models {
		m.rlock()
	}
	enc := newEncoder(encoderFlush + 64<<10)
	enc.w = w
	enc.b = append(enc.b, checkpointMagic...)
	enc.uvarint(ProjectionVersion)
	enc.uvarint(s.pos)
	enc.str(s.hash)
	enc.uvarint(s.skipped)
	s.Projects.encode(enc)
	s.Users.encode(enc)
	s.Releases.encode(enc)
	s.Deployments.encode(enc)
	s.Versions.encode(enc)
	s.Hosts.encode(enc)
	s.Audit.encode(enc)
	s.Queue.encode(enc)
	s.Notifications.encode(enc)
	for i := len(s.models) - 1; i >= 0; i-- {
		s.models[i].runlock()
	}
	s.mu.RUnlock()
	s.applying.Unlock()
	enc.flush()
	enc.b = binary.LittleEndian.AppendUint32(enc.b, enc.crc)
	enc.flush()
	if enc.err != nil {
		return fmt.Errorf("projections: save checkpoint: %w", enc.err)
	}
	return nil
}

// SaveCheckpointFile writes the checkpoint to path atomically: a
// temporary file in the same directory, synced, then renamed over path.
func (s *Set) SaveCheckpointFile(path string) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("projections: save checkpoint: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename there is nothing to remove
	if err := s.SaveCheckpoint(f); err != nil {
		f.Close()
		return fmt.Errorf("projections: save checkpoint: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("projections: save checkpoint: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("projections: save checkpoint: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("projections: save checkpoint: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// LoadCheckpoint reads a checkpoint written by SaveCheckpoint. hashAt
// returns the hash of the log's event at a position (HashAt makes one
// from a Reader); the checkpoint is refused with ErrCheckpointMismatch
// unless it matches what the checkpoint recorded, so a checkpoint never
// outlives the log it was made from. A nil hashAt skips that check (for
// tests). Other refusals: ErrCheckpointVersion, ErrCheckpointCorrupt.
// After a refusal, Build from the log.
func LoadCheckpoint(r io.Reader, hashAt func(position uint64) (string, error)) (*Set, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCheckpointCorrupt, err)
	}
	if len(b) < len(checkpointMagic)+4 || !bytes.Equal(b[:len(checkpointMagic)], checkpointMagic) {
		return nil, fmt.Errorf("%w: not a checkpoint", ErrCheckpointCorrupt)
	}
	body := b[:len(b)-4]
	if crc32.Checksum(body, crcTable) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return nil, fmt.Errorf("%w: checksum", ErrCheckpointCorrupt)
	}
	dec := &cpDecoder{b: body, i: len(checkpointMagic)}
	if v := dec.uvarint(); v != ProjectionVersion {
		return nil, fmt.Errorf("%w: version %d, this program's is %d", ErrCheckpointVersion, v, ProjectionVersion)
	}
	s := NewSet()
	s.pos = dec.uvarint()
	s.hash = dec.str()
	s.skipped = dec.uvarint()
	if dec.err != nil {
		return nil, fmt.Errorf("%w: header", ErrCheckpointCorrupt)
	}
	if hashAt != nil && s.pos > 0 {
		h, err := hashAt(s.pos)
		if err != nil {
			return nil, fmt.Errorf("%w: position %d: %v", ErrCheckpointMismatch, s.pos, err)
		}
		if h != s.hash {
			return nil, fmt.Errorf("%w: the log's event %d has another hash", ErrCheckpointMismatch, s.pos)
		}
	}
	s.Projects.decode(dec)
	s.Users.decode(dec)
	s.Releases.decode(dec)
	s.Deployments.decode(dec)
	s.Versions.decode(dec)
	s.Hosts.decode(dec)
	s.Audit.decode(dec)
	s.Queue.decode(dec)
	s.Notifications.decode(dec)
	if dec.err != nil || dec.i != len(body) {
		return nil, fmt.Errorf("%w: state", ErrCheckpointCorrupt)
	}
	for _, m := range s.models {
		m.setPosition(s.pos)
	}
	return s, nil
}

// HashAt returns a function giving the hash of r's event at a position,
// for LoadCheckpoint.
func HashAt(ctx context.Context, r events.Reader) func(uint64) (string, error) {
	return func(pos uint64) (string, error) {
		var hash string
		err := r.ReadAll(ctx, pos, func(e events.Envelope) error {
			if e.Position == pos {
				hash = e.Hash
			}
			return errStopRead
		})
		if err != nil && !errors.Is(err, errStopRead) {
			return "", err
		}
		if hash == "" {
			return "", fmt.Errorf("no event at position %d (the log ends at %d)", pos, r.Head().Position)
		}
		return hash, nil
	}
}

// Started tells how Start got its Set. As JSON, Took is in nanoseconds and
// Discarded, an error, shows only whether there was one: send its text
// apart.
type Started struct {
	FromCheckpoint bool `json:"from_checkpoint"`
	// Discarded is why a checkpoint given was not used (nil if it was, or
	// if none was given).
	Discarded  error         `json:"discarded,omitempty"`
	Checkpoint uint64        `json:"checkpoint"` // the checkpoint's position, if used
	Replayed   uint64        `json:"replayed"`   // events applied from the log
	Took       time.Duration `json:"took"`
}

// Start makes the Set the app starts with: from the checkpoint (nil for
// none) when it loads and matches r, caught up with the events after it;
// else rebuilt from the whole log. A discarded checkpoint is not an
// error: Started says why.
func Start(ctx context.Context, r events.Reader, checkpoint io.Reader) (*Set, Started, error) {
	t0 := time.Now()
	var st Started
	if checkpoint != nil {
		s, err := LoadCheckpoint(checkpoint, HashAt(ctx, r))
		if err == nil {
			st.FromCheckpoint, st.Checkpoint = true, s.Position()
			if err := s.CatchUp(ctx, r); err != nil {
				return nil, st, err
			}
			st.Replayed = s.Position() - st.Checkpoint
			st.Took = time.Since(t0)
			return s, st, nil
		}
		st.Discarded = err
	}
	s, err := Build(ctx, r)
	if err != nil {
		return nil, st, err
	}
	st.Replayed, st.Took = s.Position(), time.Since(t0)
	return s, st, nil
}
