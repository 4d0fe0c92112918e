package window

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// The servers the window has joined, newest first, and the certificate
// each self-signed one was trusted with: a small JSON file in the user's
// configuration directory (servers.json, 0600), the window's own, never
// the desk's data. A pin is what makes a self-signed certificate trusted
// after its user confirmed its fingerprint once, as ssh's known_hosts does.

// maxRecentServers is how many servers the sign-in screen offers.
const maxRecentServers = 8

// KnownServer is one server the window joined.
type KnownServer struct {
	URL string `json:"url"` // as ServerURL spells it
	// Pin is the SHA-256 fingerprint of the self-signed certificate its
	// user confirmed ("" for a server whose certificate a trusted CA signed).
	Pin      string    `json:"pin,omitempty"`
	LastUsed time.Time `json:"last_used"`
}

// ServerBook reads and writes servers.json.
type ServerBook struct {
	path string
	now  func() time.Time
	mu   sync.Mutex
}

// DefaultServerBookPath is servers.json in the user's configuration
// directory (~/.config/releasedesk on Linux).
func DefaultServerBookPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "releasedesk", "servers.json"), nil
}

// NewServerBook is the book kept at path (created on the first write).
func NewServerBook(path string) *ServerBook {
	return &ServerBook{path: path, now: time.Now}
}

type serverFile struct {
	Servers []KnownServer `json:"servers"`
}

// Recent is the servers joined, the most recent first.
func (b *ServerBook) Recent() ([]KnownServer, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.read()
}

// Pin is the fingerprint pinned for url ("" when none is).
func (b *ServerBook) Pin(url string) (string, error) {
	servers, err := b.Recent()
	if err != nil {
		return "", err
	}
	for _, s := range servers {
		if s.URL == url {
			return s.Pin, nil
		}
	}
	return "", nil
}

// Joined records that the window joined url now, with the pin it was
// trusted by ("" keeps none: a CA vouches for it). A server pinned once
// keeps its pin: only Forget drops it.
func (b *ServerBook) Joined(url, pin string) error {
	return b.update(func(servers []KnownServer) []KnownServer {
		entry := KnownServer{URL: url, Pin: pin}
		if i := slices.IndexFunc(servers, func(s KnownServer) bool { return s.URL == url }); i >= 0 {
			if entry.Pin == "" {
				entry.Pin = servers[i].Pin
			}
			servers = slices.Delete(servers, i, i+1)
		}
		entry.LastUsed = b.now().UTC()
		servers = append([]KnownServer{entry}, servers...)
		// The oldest fall off, unless pinned: a pin forgotten quietly would
		// turn a refused certificate into a question again.
		for len(servers) > maxRecentServers {
			oldest := -1
			for i, s := range servers {
				if s.Pin == "" {
					oldest = i
				}
			}
			if oldest < 0 {
				break
			}
			servers = slices.Delete(servers, oldest, oldest+1)
		}
		return servers
	})
}

// Forget drops url and its pin: the next join asks about its certificate
// again (after its administrator replaced it, say).
func (b *ServerBook) Forget(url string) error {
	return b.update(func(servers []KnownServer) []KnownServer {
		return slices.DeleteFunc(servers, func(s KnownServer) bool { return s.URL == url })
	})
}

func (b *ServerBook) update(change func([]KnownServer) []KnownServer) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	servers, err := b.read()
	if err != nil {
		return err
	}
	return b.write(change(servers))
}

func (b *ServerBook) read() ([]KnownServer, error) {
	data, err := os.ReadFile(b.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var f serverFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", b.path, err)
	}
	return f.Servers, nil
}

// write replaces the file whole (a temporary file renamed over it), so a
// crash never leaves half a list of pins.
func (b *ServerBook) write(servers []KnownServer) error {
	if err := os.MkdirAll(filepath.Dir(b.path), 0o700); err != nil {
		return err
	}
	data, err := json.MarshalIndent(serverFile{Servers: servers}, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(b.path), ".servers-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), b.path)
}
