//go:build unix

package events

import (
	"fmt"
	"os"
)

// syncDir makes a directory's new entries durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("events: sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("events: sync %s: %w", dir, err)
	}
	return nil
}
