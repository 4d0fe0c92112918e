package window

import (
	"errors"
	"os"

	"github.com/jeandeaual/go-locale"
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

// Language is the language of this machine's user interface (a BCP 47
// tag such as "zh-CN"; "" when the system names none): the window's page
// has no browser languages of its own to start from.
func Language() string {
	tag, err := locale.GetLocale()
	if err != nil {
		return ""
	}
	return tag
}
