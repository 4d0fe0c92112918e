package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/sirupsen/logrus"
)

// ListenConfig says where and how the HTTP face listens.
type ListenConfig struct {
	Addr    string // default 127.0.0.1:7788: loopback unless asked otherwise
	TLSCert string
	TLSKey  string
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
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together: give both or neither")
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
