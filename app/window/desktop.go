package window

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sirupsen/logrus"

	"releasedesk/app"
	"releasedesk/app/httpapi"
	"releasedesk/events/text"
)

// Desktop is what the window's page talks to: the desk of this computer
// (today's local mode, the default) or a team's server the window joined,
// and the window's own routes (/window/..., desktop.go's handlers) to
// choose between them. Only the window's asset server reaches it; `serve`
// never does, so no browser can switch a desk's window to another server.
//
// On a server nothing local is opened: no data directory, so no lock on
// this computer's desk, which another process (`releasedesk serve`) may
// hold. Joining closes the local desk; choosing "this computer" opens it.
type Desktop struct {
	opts DesktopOptions
	ctx  context.Context
	log  logrus.FieldLogger
	emit atomic.Pointer[func(kind string, msg any)]

	mu      sync.Mutex
	local   *LocalDesk  // open while on this computer (or kept open)
	remote  *remoteDesk // set while on a server
	pending *Probe      // --server's probe that waits for its user (a certificate to confirm)
	stop    func()      // stops the live feed of the current desk
}

// LocalDesk is this computer's desk as the window uses it.
type LocalDesk struct {
	Handler http.Handler
	// Follow sends emit each change applied after the call until ctx ends.
	Follow func(ctx context.Context, emit func(kind string, msg any)) error
	Close  func()
}

// LocalDeskOf is desk and the handler over it (httpapi.NewServer's).
func LocalDeskOf(desk *app.Desk, h http.Handler) *LocalDesk {
	return &LocalDesk{
		Handler: h,
		Follow: func(ctx context.Context, emit func(string, any)) error {
			return httpapi.FollowChanges(ctx, desk, func(kind string, m httpapi.StreamMessage) { emit(kind, m) })
		},
		Close: desk.Close,
	}
}

// DesktopOptions configure the window's desks.
type DesktopOptions struct {
	// OpenLocal opens this computer's desk.
	OpenLocal func(ctx context.Context) (*LocalDesk, error)
	// KeepLocal: the local desk, once open, stays open when the window
	// joins a server (it is served beside the window too).
	KeepLocal bool
	// Joinable: the window may join a server (offline review stays local).
	Joinable bool
	// Book remembers the servers joined and their pinned certificates.
	Book *ServerBook
	// Server, when set, is joined at the start instead of opening the
	// local desk (`releasedesk --server URL`).
	Server string
	// Roots are the CAs trusted (nil: the system's; tests set their own).
	Roots *x509.CertPool
	// Language is this machine's (Language()), for the page on a server,
	// whose health does not know it.
	Language string
	Logger   logrus.FieldLogger
}

// NewDesktop starts on opts.Server when set, else on this computer. ctx
// bounds the live feeds.
func NewDesktop(ctx context.Context, opts DesktopOptions) (*Desktop, error) {
	if opts.Logger == nil {
		opts.Logger = logrus.StandardLogger()
	}
	d := &Desktop{opts: opts, ctx: ctx, log: opts.Logger}
	if opts.Server == "" {
		return d, d.useLocal()
	}
	u, err := ServerURL(opts.Server)
	if err != nil {
		return nil, err
	}
	p := d.probe(u)
	switch p.State {
	case Trusted:
		return d, d.join(p)
	case Unreachable:
		return nil, &app.UpstreamError{Code: "server_unreachable", Message: text.New("%s does not answer as a Release Desk: %s", u, p.Reason)}
	}
	if p.State == Changed {
		d.logChanged(p)
	}
	d.pending = &p // the page asks its user (confirm), or says it is refused (changed)
	return d, nil
}

// attach gives the desks the window's event sender (at the window's start).
func (d *Desktop) attach(emit func(kind string, msg any)) { d.emit.Store(&emit) }

func (d *Desktop) send(kind string, msg any) {
	if emit := d.emit.Load(); emit != nil {
		(*emit)(kind, msg)
	}
}

// Close stops the live feed and closes the local desk.
func (d *Desktop) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopFeed()
	d.remote = nil
	if d.local != nil {
		d.local.Close()
		d.local = nil
	}
}

// ServeHTTP: the window's routes, else the current desk.
func (d *Desktop) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/window/") {
		d.serveWindow(w, r)
		return
	}
	d.mu.Lock()
	var h http.Handler
	switch {
	case d.remote != nil:
		h = d.remote
	case d.local != nil:
		h = d.local.Handler
	}
	d.mu.Unlock()
	if h == nil {
		// Neither yet (a certificate to confirm): the page shows its
		// sign-in screen, where the choice is.
		httpapi.WriteError(w, r, &app.UnauthorizedError{Reason: text.New("the window is on no desk yet: choose this computer or a server")})
		return
	}
	h.ServeHTTP(w, r)
}

func (d *Desktop) probe(url string) Probe {
	pin, err := d.opts.Book.Pin(url)
	if err != nil {
		d.log.WithError(err).Warn("the window's list of servers cannot be read")
	}
	return probeServer(d.ctx, url, pin, d.opts.Roots)
}

// join switches to the server p found trusted, pinning p.Pinned (the
// certificate its user confirmed, or the one pinned before).
func (d *Desktop) join(p Probe) error {
	r, err := newRemoteDesk(p.URL, p.Pinned, d.opts.Roots, d.log)
	if err != nil {
		return err
	}
	if err := d.opts.Book.Joined(p.URL, p.Pinned); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopFeed()
	if d.local != nil && !d.opts.KeepLocal {
		d.local.Close() // its lock goes: `releasedesk serve` may open it meanwhile
		d.local = nil
	}
	d.remote, d.pending = r, nil
	ctx, cancel := context.WithCancel(d.ctx)
	d.stop = cancel
	go r.follow(ctx, func(kind string, msg json.RawMessage) { d.send(kind, msg) })
	d.log.WithField("server", p.URL).Info("the window joined a server")
	return nil
}

// useLocal switches to this computer's desk, opening it if need be.
func (d *Desktop) useLocal() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.remote == nil && d.local != nil && d.stop != nil {
		return nil // there already
	}
	if d.local == nil {
		l, err := d.opts.OpenLocal(d.ctx)
		if err != nil {
			return err
		}
		d.local = l
	}
	d.stopFeed()
	d.remote, d.pending = nil, nil
	ctx, cancel := context.WithCancel(d.ctx)
	d.stop = cancel
	follow := d.local.Follow
	go func() {
		if err := follow(ctx, d.send); err != nil {
			d.log.WithError(err).Warn("live updates to the window stopped")
		}
	}()
	return nil
}

// stopFeed stops the current desk's live feed (d.mu held), and lets go of
// the connections to the server the window is leaving, if any.
func (d *Desktop) stopFeed() {
	if d.stop != nil {
		d.stop()
		d.stop = nil
	}
	if d.remote != nil {
		d.remote.client.CloseIdleConnections()
	}
}
