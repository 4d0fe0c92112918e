package window

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// How the window trusts a server's certificate: one a CA of the system's
// signed for the server's name, or else one whose SHA-256 fingerprint
// (of the leaf's DER) its user confirmed on first use and the window
// pinned. A pinned server must keep showing that certificate: another is
// refused, even one a CA signed, since the window cannot tell a renewal
// from someone in the middle; its user forgets the server to ask again.

// Fingerprint is the SHA-256 of a certificate's DER, in lower-case hex.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}

// UnknownCertError: no trusted CA signed the server's certificate and no
// pin vouches for it; its user may confirm Fingerprint.
type UnknownCertError struct {
	Fingerprint string
	Reason      error // why the system's CAs refused it
}

func (e *UnknownCertError) Error() string {
	return fmt.Sprintf("the server's certificate (SHA-256 %s) is not trusted: %v", e.Fingerprint, e.Reason)
}

// CertChangedError: the server shows another certificate than the one
// pinned for it.
type CertChangedError struct {
	Pinned, Shown string
}

func (e *CertChangedError) Error() string {
	return fmt.Sprintf("the server's certificate changed: pinned SHA-256 %s, shown %s", e.Pinned, e.Shown)
}

// trustConfig checks each connection to host: against pin when one is
// set, else against roots (nil: the system's).
func trustConfig(host, pin string, roots *x509.CertPool) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		ServerName: host,
		// The default check would refuse a self-signed certificate before
		// the pin could be compared: VerifyConnection does the whole check.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyPeer(cs.PeerCertificates, host, pin, roots)
		},
	}
}

func verifyPeer(certs []*x509.Certificate, host, pin string, roots *x509.CertPool) error {
	if len(certs) == 0 {
		return errors.New("the server sent no certificate")
	}
	leaf := certs[0]
	shown := Fingerprint(leaf)
	if pin != "" {
		if shown != pin {
			return &CertChangedError{Pinned: pin, Shown: shown}
		}
		return nil
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: roots, Intermediates: inter}); err != nil {
		return &UnknownCertError{Fingerprint: shown, Reason: err}
	}
	return nil
}

// serverClient is an HTTP client to base that trusts its certificate as
// above. Its transport has no overall timeout: the live stream stays open.
func serverClient(base *url.URL, pin string, roots *x509.CertPool) *http.Client {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	if base.Scheme == "https" {
		tr.TLSClientConfig = trustConfig(base.Hostname(), pin, roots)
	}
	return &http.Client{
		Transport: tr,
		// A desk never redirects its API; following one would carry the
		// bearer token elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// TrustState is what a probe found.
type TrustState string

const (
	Trusted     TrustState = "trusted"     // a CA or the pin vouches for it: the window may join
	Confirm     TrustState = "confirm"     // self-signed and unknown: its user may confirm Fingerprint
	Changed     TrustState = "changed"     // not the pinned certificate: refused
	Unreachable TrustState = "unreachable" // no answer, or not a Release Desk
)

// Probe is what the window learnt of a server before joining it.
type Probe struct {
	URL         string     `json:"url"`
	State       TrustState `json:"state"`
	Fingerprint string     `json:"fingerprint,omitempty"` // the certificate shown (confirm, changed, or trusted over TLS)
	Pinned      string     `json:"pinned,omitempty"`      // the certificate pinned (changed, or trusted by a pin)
	Reason      string     `json:"reason,omitempty"`      // unreachable: why; confirm: why no CA vouches
	Version     string     `json:"version,omitempty"`     // the server's Release Desk version
}

// probeTimeout bounds a probe: a person waits on it.
const probeTimeout = 10 * time.Second

// probeServer asks url's health with pin (or the CAs) for trust, and says
// whether the window may join it.
func probeServer(ctx context.Context, serverURL, pin string, roots *x509.CertPool) Probe {
	p := Probe{URL: serverURL, Pinned: pin}
	base, err := url.Parse(serverURL)
	if err != nil {
		p.State, p.Reason = Unreachable, err.Error()
		return p
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	client := serverClient(base, pin, roots)
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, serverURL+"/api/v1/health", nil)
	if err != nil {
		p.State, p.Reason = Unreachable, err.Error()
		return p
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	var unknown *UnknownCertError
	var changed *CertChangedError
	switch {
	case errors.As(err, &unknown):
		p.State, p.Fingerprint, p.Reason = Confirm, unknown.Fingerprint, unknown.Reason.Error()
		return p
	case errors.As(err, &changed):
		p.State, p.Fingerprint, p.Pinned = Changed, changed.Shown, changed.Pinned
		return p
	case err != nil:
		p.State, p.Reason = Unreachable, err.Error()
		return p
	}
	defer resp.Body.Close()
	if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		p.Fingerprint = Fingerprint(resp.TLS.PeerCertificates[0])
	}
	// Health answers whether or not the desk is healthy; what matters is
	// that a Release Desk answered, not some other web server.
	var h struct {
		Version *string `json:"version"`
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err := json.Unmarshal(body, &h); err != nil || h.Version == nil {
		p.State, p.Reason = Unreachable, fmt.Sprintf("%s answered %s, not as a Release Desk does", serverURL, resp.Status)
		return p
	}
	p.State, p.Version = Trusted, *h.Version
	return p
}
