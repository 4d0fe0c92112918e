package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"releasedesk/app/httpapi"
	"releasedesk/app/httpapi/apitest"
)

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:7788": true, "127.0.0.2:1": true, "[::1]:7788": true, "localhost:7788": true, "LocalHost:1": true,
		":7788": false, "0.0.0.0:7788": false, "[::]:7788": false, "192.168.1.5:7788": false, "desk.example.com:443": false,
	} {
		if got := httpapi.IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

// TestPlainHTTPBeyondLoopback: serving plain HTTP on every interface is
// refused unless asked for with InsecureHTTP (--insecure-http); then
// health warns of it, for the UI's banner.
func TestPlainHTTPBeyondLoopback(t *testing.T) {
	err := httpapi.ListenAndServe(context.Background(), httpapi.ListenConfig{Addr: "0.0.0.0:0"}, http.NotFoundHandler(), apitest.Logger(), nil)
	if err == nil || !strings.Contains(err.Error(), "--insecure-http") || !strings.Contains(err.Error(), "--tls-cert") {
		t.Fatalf("plain HTTP on 0.0.0.0: %v", err)
	}
	e := apitest.New(t, apitest.Options{NoRunner: true})
	srv := httpapi.NewServer(httpapi.ServerConfig{Desk: e.Desk, Assets: apitest.Assets(), Logger: apitest.Logger(), InsecureHTTP: true})
	ctx, cancel := context.WithCancel(context.Background())
	urls, done := make(chan string, 1), make(chan error, 1)
	go func() {
		done <- httpapi.ListenAndServe(ctx, httpapi.ListenConfig{Addr: "0.0.0.0:0", InsecureHTTP: true}, srv, apitest.Logger(),
			func(url string) { urls <- url })
	}()
	var url string
	select {
	case url = <-urls:
	case err := <-done:
		t.Fatalf("with --insecure-http: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no URL")
	}
	port := url[strings.LastIndex(url, ":")+1:]
	c := httpapi.Client{Base: "http://127.0.0.1:" + port}
	var health httpapi.HealthResponse
	if _, err := c.Call(ctx, "GET", "/api/v1/health", nil, nil, &health); err != nil {
		t.Fatal(err)
	}
	if len(health.Warnings) == 0 || health.Warnings[0].Code != "insecure_http" {
		t.Fatalf("health with --insecure-http: %+v", health.Warnings)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
