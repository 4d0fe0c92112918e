package httpapi

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
)

// ListenConfig says where and how the HTTP face listens.
type ListenConfig struct {
	Addr    string // default 127.0.0.1:7788: loopback unless asked otherwise
	TLSCert string
	TLSKey  string
	// InsecureHTTP allows plain HTTP on an address beyond loopback
	// (--insecure-http): only on purpose, e.g. behind a proxy that
	// terminates TLS on the same machine.
	InsecureHTTP bool
}

// Check refuses a half TLS pair, and plain HTTP beyond loopback unless
// asked for on purpose.
func (cfg ListenConfig) Check() error {
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together: give both or neither")
	}
	if cfg.Plain() && !cfg.InsecureHTTP {
		return fmt.Errorf("--addr %s: plain HTTP beyond loopback would carry passwords and tokens readable; "+
			"give --tls-cert and --tls-key, or --insecure-http if a proxy on this machine terminates TLS", cfg.Addr)
	}
	return nil
}

// Plain reports whether cfg serves plain HTTP beyond loopback: refused
// unless InsecureHTTP, and warned of in health when allowed.
func (cfg ListenConfig) Plain() bool {
	return cfg.TLSCert == "" && !IsLoopback(cfg.Addr)
}

// IsLoopback reports whether addr ("host:port") listens on loopback only.
// An empty host, 0.0.0.0 and :: listen on every interface.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// CertNames are the DNS names and IP addresses a TLS certificate was made
// for: the desk answers to them (guard.go). "" gives none.
func CertNames(certFile string) ([]string, error) {
	if certFile == "" {
		return nil, nil
	}
	data, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert: %w", err)
	}
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, fmt.Errorf("--tls-cert %s: no PEM certificate in it", certFile)
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert %s: %w", certFile, err)
		}
		names := slices.Clone(cert.DNSNames)
		for _, ip := range cert.IPAddresses {
			names = append(names, ip.String())
		}
		return names, nil // the leaf comes first
	}
}

// DefaultAddr keeps the API on loopback unless the user asks for more.
const DefaultAddr = "127.0.0.1:7788"

// ListenAndServe serves h until ctx ends, then drains for up to 5 s.
// ready, when set, receives the URL once the socket is bound, so callers
// (make run, tests) learn the real port of ":0".
func ListenAndServe(ctx context.Context, cfg ListenConfig, h http.Handler, logger logrus.FieldLogger, ready func(url string)) error {
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if err := cfg.Check(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	// Requests live in a context that ends when shutdown begins, so long
	// requests (the live stream) end at once instead of holding the drain.
	reqCtx, endRequests := context.WithCancel(context.Background())
	defer endRequests()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return reqCtx },
	}
	srv.RegisterOnShutdown(endRequests)
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	url := fmt.Sprintf("%s://%s", scheme, ln.Addr().String())
	logger.WithField("url", url).Info("serving")
	if ready != nil {
		ready(url)
	}
	errc := make(chan error, 1)
	go func() {
		if cfg.TLSCert != "" {
			errc <- srv.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
