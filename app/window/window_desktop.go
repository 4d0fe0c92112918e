//go:build desktop

package window

import (
	"context"
	"io/fs"

	"github.com/wailsapp/wails/v2"
	"github.com/wailsapp/wails/v2/pkg/options"
	"github.com/wailsapp/wails/v2/pkg/options/assetserver"
)

// Built is true in desktop builds.
const Built = true

// Run opens the Wails window. The page's /api requests are not files
// in assets, so Wails hands them to d: the same handler as `serve` over
// this computer's desk, or the proxy to the server the window joined.
// It returns when the window is closed.
func Run(ctx context.Context, assets fs.FS, d *Desktop) error {
	return wails.Run(&options.App{
		Title:     "Release Desk",
		Width:     1280,
		Height:    800,
		MinWidth:  800,
		MinHeight: 500,
		AssetServer: &assetserver.Options{
			Assets:  assets,
			Handler: d,
		},
		BackgroundColour: &options.RGBA{R: 246, G: 247, B: 249, A: 255},
		OnStartup: func(wctx context.Context) {
			// Close the window when the process is asked to stop.
			go func() {
				<-ctx.Done()
				quitWindow(wctx)
			}()
			// Live updates reach the page as Wails events: the same
			// messages as /api/v1/stream, which a Wails response cannot
			// carry, from this computer's desk or the server's stream.
			d.attach(func(kind string, msg any) { emitToWindow(wctx, EventName, kind, msg) })
			// Desktop notifications the page asks for (something new
			// waits for its user), shown one at a time off the UI thread.
			notes := newNotifier(showDesktopNote, d.log)
			go notes.run(ctx)
			onWindowEvent(wctx, NotifyEventName, notes.offer)
		},
	})
}
