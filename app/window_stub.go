//go:build !desktop

package app

import (
	"context"
	"io/fs"
	"net/http"
)

// windowBuilt is false without the desktop tags: tests and vet need no GTK.
const windowBuilt = false

func runWindow(ctx context.Context, assets fs.FS, h http.Handler, desk *Desk) error {
	return errNoWindow
}
