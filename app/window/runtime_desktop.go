//go:build desktop

package window

import (
	"context"

	"github.com/wailsapp/wails/v2/pkg/runtime"
)

// The one file that calls the Wails runtime: it must only get a context
// Wails made (calling it with another kills the process).

// quitWindow closes the window.
func quitWindow(wailsCtx context.Context) { runtime.Quit(wailsCtx) }

// emitToWindow sends a Wails event to the page.
func emitToWindow(wailsCtx context.Context, name string, data ...any) {
	runtime.EventsEmit(wailsCtx, name, data...)
}

// onWindowEvent calls fn with the data of each Wails event name the page
// emits (Wails calls it in a goroutine of its own, not the UI thread).
func onWindowEvent(wailsCtx context.Context, name string, fn func(data ...any)) {
	runtime.EventsOn(wailsCtx, name, fn)
}
