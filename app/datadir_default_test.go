package app

import "testing"

// TestDataDirFor checks every system's default data directory, on any
// system: the decision is a pure function of GOOS, environment and home.
func TestDataDirFor(t *testing.T) {
	cases := []struct {
		name, goos string
		env        map[string]string
		home, want string
	}{
		{"linux xdg", "linux", map[string]string{"XDG_DATA_HOME": "/data/x"}, "/home/ann", "/data/x/releasedesk"},
		{"linux home", "linux", nil, "/home/ann", "/home/ann/.local/share/releasedesk"},
		{"linux nothing", "linux", nil, "", "releasedesk-data"},
		{"freebsd as linux", "freebsd", nil, "/home/ann", "/home/ann/.local/share/releasedesk"},
		{"macos", "darwin", nil, "/Users/ann", "/Users/ann/Library/Application Support/Release Desk"},
		{"macos ignores xdg", "darwin", map[string]string{"XDG_DATA_HOME": "/data/x"}, "/Users/ann", "/Users/ann/Library/Application Support/Release Desk"},
		{"macos nothing", "darwin", nil, "", "releasedesk-data"},
		{"windows localappdata", "windows", map[string]string{"LocalAppData": `C:\Users\ann\AppData\Local`}, `C:\Users\ann`, `C:\Users\ann\AppData\Local\Release Desk`},
		{"windows trailing slash", "windows", map[string]string{"LocalAppData": `D:\Local\`}, `C:\Users\ann`, `D:\Local\Release Desk`},
		{"windows home only", "windows", nil, `C:\Users\ann`, `C:\Users\ann\AppData\Local\Release Desk`},
		{"windows ignores xdg", "windows", map[string]string{"XDG_DATA_HOME": "/data/x"}, `C:\Users\ann`, `C:\Users\ann\AppData\Local\Release Desk`},
		{"windows nothing", "windows", nil, "", "releasedesk-data"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			getenv := func(k string) string { return c.env[k] }
			if got := dataDirFor(c.goos, getenv, c.home); got != c.want {
				t.Errorf("dataDirFor(%s) = %q, want %q", c.goos, got, c.want)
			}
		})
	}
}
