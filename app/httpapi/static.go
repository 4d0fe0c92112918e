package httpapi

import (
	"errors"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// newStaticHandler serves the built frontend. Paths that name no file get
// index.html, so the single-page app can own its routes. fs.FS refuses
// "..", so a path can never leave the embedded tree.
func newStaticHandler(assets fs.FS) http.Handler {
	if assets == nil {
		return http.HandlerFunc(serveNotBuilt)
	}
	if _, err := fs.Stat(assets, "index.html"); err != nil {
		return http.HandlerFunc(serveNotBuilt)
	}
	files := http.FileServerFS(assets)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if name != "" && name != "index.html" {
			if _, err := fs.Stat(assets, name); errors.Is(err, fs.ErrNotExist) && path.Ext(name) == "" {
				serveIndex(w, r, assets)
				return
			}
			if strings.HasPrefix(name, "assets/") {
				// Vite puts a content hash in every asset name.
				w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
			}
		}
		files.ServeHTTP(w, r)
	})
}

func serveIndex(w http.ResponseWriter, r *http.Request, assets fs.FS) {
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeFileFS(w, r, assets, "index.html")
}

func serveNotBuilt(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte("Release Desk: the frontend is not built into this binary. Run `make build`.\n"))
}
