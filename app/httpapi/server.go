package httpapi

import (
	"io/fs"
	"net/http"
	"time"

	"github.com/sirupsen/logrus"

	"releasedesk/app"
	"releasedesk/events"
	"releasedesk/events/text"
)

// ServerConfig is what the HTTP face needs: a log to read, the embedded
// frontend, and where to log.
type ServerConfig struct {
	// Desk is the running product behind the API. Without it (tests of
	// the HTTP face alone) only health and the UI are served.
	Desk *app.Desk
	Log  events.Log // Desk's log when Desk is set
	// Problem, when set, says why the log is served read-only; with a Desk,
	// health asks Desk.Problem instead, which follows the log's state.
	Problem error
	Assets  fs.FS // the built frontend (frontend/dist); may lack index.html in dev trees
	Logger  logrus.FieldLogger
	Now     func() time.Time
	// Heartbeat is how often an idle live stream sends a comment; 0:
	// defaultHeartbeat.
	Heartbeat time.Duration
	// Hosts are the names the desk answers to beyond loopback and the
	// address a request arrived on (guard.go).
	Hosts HostPolicy
	// InsecureHTTP: serving plain HTTP beyond loopback on purpose
	// (--insecure-http); health warns of it, and so does the UI.
	InsecureHTTP bool
	// WindowLanguage is the language of the machine the desktop window
	// runs on (window.Language), told to the window's page in health: a
	// browser has languages of its own, the window's page has none.
	WindowLanguage string
}

// Server is the JSON API plus the embedded UI, one http.Handler for both the
// browser and the Wails window.
type Server struct {
	cfg        ServerConfig
	log        logrus.FieldLogger
	handler    http.Handler
	deployDocs deployDocCache // encoded deployment views (deploy_cache.go)
	tickets    *ticketBook    // the live stream's one-time tickets (tickets.go)
	review     *reviewGate    // offline review's secret and session; nil unless serving an archive
	logins     *addressThrottle
}

// NewServer builds the handler tree.
func NewServer(cfg ServerConfig) *Server {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = logrus.StandardLogger()
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = defaultHeartbeat
	}
	if cfg.Desk != nil {
		cfg.Log = cfg.Desk.Log
	}
	s := &Server{cfg: cfg, log: cfg.Logger, tickets: newTicketBook(cfg.Now), logins: newAddressThrottle(cfg.Now)}
	if cfg.Desk != nil && cfg.Desk.Archive() {
		s.review = newReviewGate()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/health", s.handleHealth)
	if cfg.Desk != nil {
		s.routes(mux)
	}
	mux.HandleFunc("/api/", s.handleUnknownAPI)
	mux.Handle("/", newStaticHandler(cfg.Assets))
	s.handler = withRequestLog(s.log, newHostGuard(cfg.Hosts).wrap(withSecurityHeaders(mux)))
	return s
}

// ServeHTTP makes Server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func (s *Server) handleUnknownAPI(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, errNotFound(text.New("no API route %s %s", r.Method, r.URL.Path)))
}

// contentSecurityPolicy lets the UI run only its own files: no inline or
// foreign script, requests only to the desk, never inside a frame. The
// built page has no inline script or style (Vite emits files), and its
// icon is a data: URL.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// withSecurityHeaders keeps the UI from being framed, sniffed or fed
// foreign script; the API is loopback by default but may be exposed with TLS.
func withSecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		next.ServeHTTP(w, r)
	})
}

// statusRecorder remembers the status a handler wrote, for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// Flush keeps streaming responses (SSE) working through the recorder.
func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// withRequestLog logs each request at debug level: cheap when off, and the
// desktop smoke test reads it to prove the window's page reached this handler.
func withRequestLog(log logrus.FieldLogger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		fields := logrus.Fields{
			"method": r.Method, "path": r.URL.Path, "status": rec.status,
			"ms": time.Since(start).Milliseconds(),
		}
		if lang := r.Header.Get("Accept-Language"); lang != "" {
			fields["lang"] = lang[:min(len(lang), 35)] // the page's language; bounded, it is the client's text
		}
		log.WithFields(fields).Debug("request")
	})
}
