package notify

import (
	"net/mail"
	"regexp"
	"slices"
	"strings"

	"releasedesk/events/text"
)

// Email security: how the connection to the SMTP server is protected.
const (
	SecurityStartTLS = "starttls" // the default, on port 587
	SecurityTLS      = "tls"      // implicit TLS, usually port 465
	SecurityNone     = "none"     // only to a server on this machine
)

// DefaultEmailPort is the submission port, used when a channel says none.
const DefaultEmailPort = 587

// DefaultEmailTLSPort is implicit TLS's port (RFC 8314), the default for
// security tls.
const DefaultEmailTLSPort = 465

var hostNameRe = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$`)

// CheckEmailHost checks the SMTP server's name or address (no port: that
// is email.port).
func CheckEmailHost(host string) error {
	switch {
	case host == "":
		return text.Errorf("required: the SMTP server")
	case IsLoopback(host):
		return nil
	case !hostNameRe.MatchString(host) && !isIPLiteral(host):
		return text.Errorf("%q: want a host name or an address, without a port", host)
	}
	return nil
}

func isIPLiteral(host string) bool {
	return strings.Count(host, ":") >= 2 && strings.Trim(host, "0123456789abcdefABCDEF:.") == ""
}

// CheckEmailPort checks the SMTP port; 0 is the default, 587.
func CheckEmailPort(port int) error {
	if port < 0 || port > 65535 {
		return text.Errorf("%d: want 1 to 65535 (0: the default, %d, or %d for tls)", port, DefaultEmailPort, DefaultEmailTLSPort)
	}
	return nil
}

// CheckEmailSecurity checks how the connection is protected: starttls
// (empty), tls, or none, which only a server on this machine may use (the
// password and the mail would cross the network in the clear).
func CheckEmailSecurity(security, host string) error {
	switch security {
	case "", SecurityStartTLS, SecurityTLS:
		return nil
	case SecurityNone:
		if host != "" && !IsLoopback(host) {
			return text.Errorf("none only to a server on this machine (localhost, 127.0.0.1, ::1): use starttls or tls")
		}
		return nil
	}
	return text.Errorf("unknown security %q: want starttls, tls or none", security)
}

// CheckEmailFrom checks the sender: "Name <address>" or an address.
func CheckEmailFrom(from string) error {
	if from == "" {
		return text.Errorf("required: the sender, such as \"Release Desk <releasedesk@example.com>\"")
	}
	if _, err := mail.ParseAddress(from); err != nil {
		return text.Errorf("%q is not an email address: %v", from, err)
	}
	return nil
}

var recipientUserRe = regexp.MustCompile(`^[a-z][a-z0-9._-]{1,31}$`)

// CheckRecipient checks one recipient of an email channel:
// "role:<developer|tester|approver|manager>" (the project's people of that
// role), "user:<name>" (a user's address) or an email address.
func CheckRecipient(to string) error {
	if role, ok := strings.CutPrefix(to, "role:"); ok {
		if !slices.Contains(Roles, role) {
			return text.Errorf("unknown role %q: want role:developer, role:tester, role:approver or role:manager", role)
		}
		return nil
	}
	if name, ok := strings.CutPrefix(to, "user:"); ok {
		if !recipientUserRe.MatchString(name) {
			return text.Errorf("%q is not a user name", name)
		}
		return nil
	}
	if _, err := mail.ParseAddress(to); err != nil {
		return text.Errorf("%q: want role:ROLE, user:NAME or an email address", to)
	}
	return nil
}
