package window

import (
	"errors"
	"os"
)

// ErrNoWindow: this binary was built without the desktop tags.
var ErrNoWindow = errors.New("this binary was built without the desktop window (build tags desktop,production,webkit2_41); use `releasedesk serve`")

// EventName is the Wails event the desktop window's page listens to: the
// same messages as the live stream (/api/v1/stream), kind and message,
// since a Wails AssetServer response cannot stream.
const EventName = "releasedesk:event"

// HasDisplay tells whether a window could be shown at all.
func HasDisplay() bool {
	return os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != ""
}
