//go:build !desktop

package window

import (
	"context"
	"io/fs"
)

// Built is false without the desktop tags: tests and vet need no GTK.
const Built = false

// Run refuses: there is no window in this build.
func Run(ctx context.Context, assets fs.FS, d *Desktop) error {
	return ErrNoWindow
}
