package outbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// checkpoint is where the outbox starts reading the log: every event
// before Position has all its messages settled (sent, or given up).
type checkpoint struct {
	Position uint64 `json:"position"`
}

// readCheckpoint reads the file; ok is false when there is none.
func readCheckpoint(path string) (cp checkpoint, ok bool, err error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return checkpoint{}, false, nil
	}
	if err != nil {
		return checkpoint{}, false, fmt.Errorf("outbox checkpoint: %w", err)
	}
	if err := json.Unmarshal(raw, &cp); err != nil || cp.Position == 0 {
		return checkpoint{}, false, fmt.Errorf("outbox checkpoint %s is not one: %q", filepath.Base(path), raw)
	}
	return cp, true, nil
}

// writeCheckpoint replaces the file whole (a new file renamed over it):
// a crash leaves the old position or the new, never half of one. It is
// not synced: a checkpoint lost with the machine's power only makes the
// outbox read a little more of the log, which tells it the same.
func writeCheckpoint(path string, cp checkpoint) error {
	raw, _ := json.Marshal(cp)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(raw, '\n'), 0o600); err != nil {
		return fmt.Errorf("outbox checkpoint: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("outbox checkpoint: %w", err)
	}
	return nil
}

// CheckpointStore keeps the outbox's position elsewhere than a file: the
// bytes it is given, or none (found false).
type CheckpointStore interface {
	LoadCheckpoint() (data []byte, found bool, err error)
	SaveCheckpoint(data []byte) error
}

// readCheckpoint reads the position from the store or the file.
func (o *Outbox) readCheckpoint() (checkpoint, bool, error) {
	if o.cfg.CheckpointStore == nil {
		return readCheckpoint(o.cfg.Checkpoint)
	}
	raw, found, err := o.cfg.CheckpointStore.LoadCheckpoint()
	if err != nil || !found {
		return checkpoint{}, false, err
	}
	var cp checkpoint
	if err := json.Unmarshal(raw, &cp); err != nil || cp.Position == 0 {
		return checkpoint{}, false, fmt.Errorf("outbox checkpoint in the store is not one: %q", raw)
	}
	return cp, true, nil
}

// writeCheckpoint saves the position to the store or the file.
func (o *Outbox) writeCheckpoint(cp checkpoint) error {
	if o.cfg.CheckpointStore == nil {
		return writeCheckpoint(o.cfg.Checkpoint, cp)
	}
	raw, _ := json.Marshal(cp)
	if err := o.cfg.CheckpointStore.SaveCheckpoint(raw); err != nil {
		return fmt.Errorf("outbox checkpoint: %w", err)
	}
	return nil
}
