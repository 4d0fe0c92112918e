//go:build desktop

package window

import (
	"runtime"

	"github.com/gen2brain/beeep"
)

func init() {
	// The name the desktop shows beside each notification.
	beeep.AppName = "Release Desk"
}

// showDesktopNote shows a notification on this machine's desktop: on Linux
// through the freedesktop notification daemon on the session bus (beeep
// falls back to notify-send, then kdialog), on macOS and Windows through
// theirs. It blocks until the daemon answered; notifier calls it off the
// UI thread.
func showDesktopNote(n desktopNote) error {
	body := n.Body
	if runtime.GOOS != "windows" && runtime.GOOS != "darwin" {
		body = escapeMarkup(body) // freedesktop daemons read the body as markup
	}
	return beeep.Notify(n.Title, body, "")
}
