package window

import (
	"net"
	"net/url"
	"strings"

	"releasedesk/app"
	"releasedesk/events/text"
)

// ServerURL reads the address of a team's desk the window is to join: an
// https URL, or plain http to this machine alone (a password sent in clear
// across a network is one anybody on it can read). Only scheme, host and
// port count: it returns them in one spelling ("https://desk.example.com",
// "http://127.0.0.1:7788"), so a server is remembered and pinned once
// however it was typed.
func ServerURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", &app.InvalidError{Field: "url", Reason: text.New("give the address of the server, such as https://desk.example.com")}
	}
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw // people type a name; TLS is what is expected
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return "", &app.InvalidError{Field: "url", Reason: text.New("%q is not an address such as https://desk.example.com", raw)}
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.Trim(u.Path, "/") != "" {
		return "", &app.InvalidError{Field: "url", Reason: text.New("want only the server's address, without a path, a query or a user: %q", raw)}
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname())
	if host == "" {
		return "", &app.InvalidError{Field: "url", Reason: text.New("%q names no host", raw)}
	}
	switch scheme {
	case "https":
	case "http":
		if !isLoopbackName(host) {
			return "", &app.InvalidError{Field: "url", Reason: text.New("plain http is only for this machine (localhost): use https://%s", u.Host)}
		}
	default:
		return "", &app.InvalidError{Field: "url", Reason: text.New("want https:// (or http:// to this machine), not %s://", scheme)}
	}
	hostport := host
	if strings.Contains(host, ":") {
		hostport = "[" + host + "]"
	}
	if port := u.Port(); port != "" && !(scheme == "https" && port == "443") && !(scheme == "http" && port == "80") {
		hostport = net.JoinHostPort(host, port)
	}
	return scheme + "://" + hostport, nil
}

// isLoopbackName: localhost or a loopback address, which never leave this
// machine.
func isLoopbackName(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
