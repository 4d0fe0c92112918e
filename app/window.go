package app

import (
	"errors"
	"os"
)

// errNoWindow: this binary was built without the desktop tags.
var errNoWindow = errors.New("this binary was built without the desktop window (build tags desktop,production,webkit2_41); use `releasedesk serve`")

// hasDisplay tells whether a window could be shown at all.
func hasDisplay() bool {
	return os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != ""
}
