package httpapi

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"releasedesk/events/text"
	"strconv"
	"strings"
)

// The desk listens on loopback, and that is not a wall: through DNS
// rebinding a hostile page reaches 127.0.0.1 under its own name, and the
// browser then treats the desk as that page's origin. So every request,
// static files included, must name the desk itself in its Host header, and
// every write must come from one of the desk's own pages (Origin, or else
// Referer). Requests with neither header (scripts, the CLI) carry no
// browser's ambient authority and pass as before.

// Names the Wails window uses for its own pages: wails://wails on Linux and
// macOS, http://wails.localhost on Windows (wails/v2's desktop frontends).
var windowHosts = map[string]bool{"": true, "wails": true, "wails.localhost": true}

// loopbackNames answer on the port the request arrived on.
var loopbackNames = map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true}

// HostPolicy says which names the desk answers to beyond loopback and the
// address a request arrived on.
type HostPolicy struct {
	// PublicNames are names people reach the desk by (--public-name, and the
	// names in the TLS certificate). A name without a port is allowed on any
	// port, since a proxy in front may forward it with or without one.
	PublicNames []string
}

// hostGuard checks Host and, on writes, Origin.
type hostGuard struct {
	anyPort map[string]bool // bare names, lower case
	exact   map[string]bool // "name:port", lower case
}

func newHostGuard(p HostPolicy) *hostGuard {
	g := &hostGuard{anyPort: map[string]bool{}, exact: map[string]bool{}}
	for _, n := range p.PublicNames {
		n = strings.ToLower(strings.TrimSpace(n))
		if host, port, err := net.SplitHostPort(n); err == nil {
			g.exact[net.JoinHostPort(host, port)] = true
		} else if n != "" {
			g.anyPort[strings.Trim(n, "[]")] = true
		}
	}
	return g
}

// allows reports whether hostport (a Host header, or an Origin's host)
// names this desk for a request that arrived on local (nil: not over the
// network, i.e. the Wails window's asset server).
func (g *hostGuard) allows(hostport string, local net.Addr) bool {
	hostport = strings.ToLower(hostport)
	if local == nil {
		return windowHosts[hostport]
	}
	name, port, err := net.SplitHostPort(hostport)
	if err != nil { // no port
		name, port = strings.Trim(hostport, "[]"), ""
	}
	if g.anyPort[name] || g.exact[net.JoinHostPort(name, port)] {
		return true
	}
	la, ok := local.(*net.TCPAddr)
	if !ok || port == "" {
		return false
	}
	if port != fmt.Sprint(la.Port) {
		return false
	}
	// The address the request arrived on is the desk's own: an IP in the
	// Host header cannot be rebound.
	if ip := net.ParseIP(name); ip != nil && ip.Equal(la.IP) {
		return true
	}
	return loopbackNames[name]
}

// fromWindow reports whether r came through the Wails window's asset
// server: every request over the network carries its connection's local
// address, which Wails' in-process requests never have.
func fromWindow(r *http.Request) bool {
	_, network := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	return !network
}

// wrap refuses requests whose Host is not the desk's (421) and writes whose
// Origin or Referer is not one of the desk's own pages (403).
func (g *hostGuard) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		if !g.allows(withDefaultPort(r.Host, r.TLS != nil, local), local) {
			writeRefusal(w, r, refusal(http.StatusMisdirectedRequest, "misdirected_request",
				text.New("this desk does not answer to the name %q; if people reach it by that name, "+
					"start it with --public-name %s", r.Host, hostName(r.Host))))
			return
		}
		if isWrite(r.Method) {
			if from, ok := writeSource(r); ok && !g.allowsOrigin(from, local) {
				writeRefusal(w, r, refusal(http.StatusForbidden, "foreign_origin",
					text.New("a write from %q is refused: only the desk's own pages may change it", from)))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// allowsOrigin checks an Origin (or a Referer's origin).
func (g *hostGuard) allowsOrigin(origin string, local net.Addr) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "wails") {
		return false // "null" (a sandboxed frame, a file), or not a web origin
	}
	host := u.Host
	if u.Port() == "" && local != nil {
		host = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
	}
	return g.allows(host, local)
}

// withDefaultPort gives a Host header without a port the scheme's default
// (a desk on port 80 or 443 is named without one), except for the window,
// whose names carry none.
func withDefaultPort(host string, tls bool, local net.Addr) string {
	if local == nil || host == "" {
		return host
	}
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	if tls {
		return net.JoinHostPort(strings.Trim(host, "[]"), "443")
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), "80")
}

// CheckPublicNames refuses a --public-name that is not a host name or an
// address, with an optional port: a URL or a path would never match a
// Host header, and the desk would refuse the people it was meant for.
func CheckPublicNames(names []string) error {
	for _, n := range names {
		host, port := n, ""
		if h, p, err := net.SplitHostPort(n); err == nil {
			host, port = h, p
		}
		if port != "" {
			if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
				return fmt.Errorf("--public-name %q: the port must be a number from 1 to 65535", n)
			}
		}
		if net.ParseIP(strings.Trim(host, "[]")) != nil {
			continue
		}
		if !hostNameRe.MatchString(host) {
			return fmt.Errorf("--public-name %q: want a host name or an address, with an optional :port "+
				"(desk.example.com, 10.0.0.5:7788), not a URL", n)
		}
	}
	return nil
}

// hostNameRe is a DNS name: labels of letters, digits and hyphens.
var hostNameRe = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)

// writeSource is where a write says it comes from: Origin, else Referer.
func writeSource(r *http.Request) (string, bool) {
	if o := r.Header.Get("Origin"); o != "" {
		return o, true
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		return ref, true
	}
	return "", false
}

func isWrite(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// hostName is a Host header without its port, for the hint.
func hostName(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}
