//go:build desktop

package app

import (
	"context"

	"github.com/wailsapp/wails/v2/pkg/runtime"
)

// quitWindow is the one place that calls the Wails runtime: it must only get
// a context Wails made (calling it with another kills the process).
func quitWindow(wailsCtx context.Context) { runtime.Quit(wailsCtx) }
