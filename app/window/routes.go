package window

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"releasedesk/app"
	"releasedesk/app/httpapi"
	"releasedesk/events/text"
)

// The window's own routes, for its sign-in screen (never served by
// `serve`: only the window's asset server reaches Desktop):
//
//	GET  /window/state    where the window is, and the servers it joined
//	POST /window/connect  {url, fingerprint?}: probe url and join it when
//	                      trusted, or when fingerprint is the unknown
//	                      certificate its user confirmed (then pinned)
//	POST /window/local    back to this computer's desk
//	POST /window/forget   {url}: drop a server from the list, and its pin

// WindowState is GET /window/state.
type WindowState struct {
	// Mode: "local" (this computer), "server", or "none" (a certificate
	// waits for its user's word: Pending says which).
	Mode     string         `json:"mode"`
	Server   string         `json:"server,omitempty"` // the server's URL in mode "server"
	Joinable bool           `json:"joinable"`         // false: offline review stays local
	Language string         `json:"language,omitempty"`
	Pending  *Probe         `json:"pending,omitempty"`
	Recent   []RecentServer `json:"recent"`
}

// RecentServer is a server the window joined, for the sign-in screen.
type RecentServer struct {
	URL      string    `json:"url"`
	Pinned   bool      `json:"pinned"` // trusted by a confirmed fingerprint
	LastUsed time.Time `json:"last_used"`
}

// ConnectAnswer is POST /window/connect's answer: joined, or why not
// (the probe: a certificate to confirm, one changed, no answer).
type ConnectAnswer struct {
	Joined bool        `json:"joined"`
	Probe  Probe       `json:"probe"`
	State  WindowState `json:"state"`
}

// maxWindowBody bounds the window routes' requests: a URL and a fingerprint.
const maxWindowBody = 8 << 10

func (d *Desktop) serveWindow(w http.ResponseWriter, r *http.Request) {
	// At debug, as the API's requests are: the desktop smoke test reads it.
	d.log.WithFields(map[string]any{"method": r.Method, "path": r.URL.Path}).Debug("window request")
	var err error
	switch r.Method + " " + r.URL.Path {
	case "GET /window/state":
		err = d.answerState(w, r)
	case "POST /window/connect":
		err = d.connect(w, r)
	case "POST /window/local":
		err = d.chooseLocal(w, r)
	case "POST /window/forget":
		err = d.forget(w, r)
	default:
		err = &app.NotFoundError{Message: text.New("no window route %s %s", r.Method, r.URL.Path)}
	}
	if err != nil {
		httpapi.WriteError(w, r, err)
	}
}

func (d *Desktop) state() (WindowState, error) {
	s := WindowState{Mode: "none", Joinable: d.opts.Joinable, Language: d.opts.Language, Recent: []RecentServer{}}
	d.mu.Lock()
	switch {
	case d.remote != nil:
		s.Mode, s.Server = "server", d.remote.url
	case d.local != nil && d.stop != nil:
		s.Mode = "local"
	}
	s.Pending = d.pending
	d.mu.Unlock()
	if d.opts.Joinable {
		servers, err := d.opts.Book.Recent()
		if err != nil {
			return s, err
		}
		for _, k := range servers {
			s.Recent = append(s.Recent, RecentServer{URL: k.URL, Pinned: k.Pin != "", LastUsed: k.LastUsed})
		}
	}
	return s, nil
}

func (d *Desktop) answerState(w http.ResponseWriter, r *http.Request) error {
	s, err := d.state()
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, s)
	return nil
}

// connectRequest is POST /window/connect's body.
type connectRequest struct {
	URL         string `json:"url"`
	Fingerprint string `json:"fingerprint"`
}

func (d *Desktop) connect(w http.ResponseWriter, r *http.Request) error {
	if !d.opts.Joinable {
		return &app.ForbiddenError{Rule: text.New("an archive under offline review stays on this computer")}
	}
	var req connectRequest
	if err := readWindowBody(w, r, &req); err != nil {
		return err
	}
	u, err := ServerURL(req.URL)
	if err != nil {
		return err
	}
	p := d.probe(u)
	if p.State == Confirm && req.Fingerprint != "" && req.Fingerprint == p.Fingerprint {
		// Its user compared the fingerprint with the server's and said yes:
		// this certificate, and no other, is trusted from now on.
		if p = probeServer(d.ctx, u, p.Fingerprint, d.opts.Roots); p.State == Trusted {
			p.Pinned = p.Fingerprint
		}
	}
	answer := ConnectAnswer{Probe: p}
	if p.State == Trusted {
		if err := d.join(p); err != nil {
			return err
		}
		answer.Joined = true
	} else if p.State == Changed {
		d.logChanged(p)
	}
	if answer.State, err = d.state(); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, answer)
	return nil
}

func (d *Desktop) chooseLocal(w http.ResponseWriter, r *http.Request) error {
	if err := d.useLocal(); err != nil {
		return &app.UnavailableError{Code: "local_unavailable",
			Message: text.New("this computer's desk cannot be opened: %s", err.Error())}
	}
	return d.answerState(w, r)
}

// forgetRequest is POST /window/forget's body.
type forgetRequest struct {
	URL string `json:"url"`
}

func (d *Desktop) forget(w http.ResponseWriter, r *http.Request) error {
	var req forgetRequest
	if err := readWindowBody(w, r, &req); err != nil {
		return err
	}
	u, err := ServerURL(req.URL)
	if err != nil {
		return err
	}
	if err := d.opts.Book.Forget(u); err != nil {
		return err
	}
	return d.answerState(w, r)
}

func readWindowBody(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxWindowBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return &app.InvalidError{Field: "body", Reason: text.New("want a JSON object: %s", err.Error())}
	}
	return nil
}

// logChanged says a refused certificate in the log too: the person may
// not be the one who can act on it.
func (d *Desktop) logChanged(p Probe) {
	d.log.WithFields(map[string]any{"server": p.URL, "pinned": p.Pinned, "shown": p.Fingerprint}).
		Warn("the server's certificate changed: refused")
}
