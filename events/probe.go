package events

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/badger/v4/table"
	"github.com/dgraph-io/ristretto/v2/z"
)

// probeTables opens every table the MANIFEST names the way Badger is about
// to, but in this goroutine. Badger opens tables in goroutines of its own,
// where a table cut short makes it read past the file and panic: no caller
// can recover that, and the process dies without saying which file is
// damaged. Found here, it is a *DamagedStoreError naming the file. Tables
// the MANIFEST does not name (one a crash cut short while it was being
// written) are not probed: Badger deletes them unopened. A MANIFEST that
// cannot be read, or a table missing, is left for Badger to refuse.
func probeTables(dir string, bo badger.Options) error {
	f, err := os.Open(filepath.Join(dir, "MANIFEST"))
	if err != nil {
		return nil
	}
	defer f.Close()
	m, _, err := badger.ReplayManifestFile(f, bo.ExternalMagicVersion, bo)
	if err != nil {
		return nil
	}
	ids := make([]uint64, 0, len(m.Tables))
	for id := range m.Tables {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		path := table.NewFilename(id, dir)
		if _, err := os.Stat(path); err != nil {
			continue
		}
		if err := probeTable(path, bo.BlockSize, m.Tables[id].Compression); err != nil {
			return &DamagedStoreError{File: filepath.Base(path), Reason: err.Error()}
		}
	}
	return nil
}

// probeTable reads one table's footer and index, with the index's checksum,
// and its first and last keys. Blocks are checked later, in the background
// verification (verify_open.go), so that a start stays quick.
func probeTable(path string, blockSize int, compression options.CompressionType) (err error) {
	mf, err := z.OpenMmapFile(path, os.O_RDONLY, 0)
	if err != nil && !errors.Is(err, z.NewFile) {
		return err
	}
	// Only the mapping is released: Table.DecrRef would delete the file.
	defer mf.Close(-1)
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("unreadable (%v)", p)
		}
	}()
	_, err = table.OpenTable(mf, table.Options{
		ReadOnly:    true,
		BlockSize:   blockSize,
		Compression: compression,
		ChkMode:     options.NoVerification,
	})
	return err
}

// DamagedStoreError says that a file of the store cannot be read (File,
// when known): the database cannot be opened at all, or a verification
// found a block that fails its checksum. It matches ErrChainBroken: what
// the log holds can no longer be shown whole.
type DamagedStoreError struct {
	File   string
	Reason string
}

func (e *DamagedStoreError) Error() string {
	if e.File == "" {
		return "events: the event store is damaged: " + e.Reason
	}
	return fmt.Sprintf("events: the event store is damaged: its file %s cannot be read: %s", e.File, e.Reason)
}

func (e *DamagedStoreError) Is(target error) bool { return target == ErrChainBroken }
