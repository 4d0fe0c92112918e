package runner

import (
	"bufio"
	"slices"
	"strings"
	"testing"

	"releasedesk/events/catalog"
)

// TestRsyncCommandRelay: a relayed rsync has relayShell as its remote
// shell, keeps -s (paths inside the protocol) and names no key, known_hosts
// or control socket: it rides the host's open connection.
func TestRsyncCommandRelay(t *testing.T) {
	got, err := RsyncCommand(RsyncOptions{Source: "/srv/export/app", Dest: "/srv/www/releases/.20240102030405-abcdef0.partial",
		Host: catalog.Host{Addr: "www@10.0.0.5:2222"}, Relay: true, LinkDest: "/srv/www/releases/20240101000000-1234567"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"rsync", "-a", "--checksum", "--no-times", "--delete", "--stats", "--chmod=Fa-w", "-s",
		"--link-dest=/srv/www/releases/20240101000000-1234567",
		"-e", relayShell,
		"--", "/srv/export/app/", "www@10.0.0.5:/srv/www/releases/.20240102030405-abcdef0.partial/",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("RsyncCommand:\n got %q\nwant %q", got, want)
	}
	if _, err := RsyncCommand(RsyncOptions{Source: "/x", Dest: "/srv/a", Host: catalog.Host{Addr: "www@h:bad"}, Relay: true}); err == nil {
		t.Fatal("a bad host address was accepted")
	}
}

// TestRelayWords: what the relay script writes is read back word for word
// within its bounds, and the remote half is only ever `rsync --server`
// with rsync's own option words, quoted; anything a shell would read
// otherwise is refused, never re-quoted.
func TestRelayWords(t *testing.T) {
	read := func(s string) ([]string, error) { return readRelayWords(bufio.NewReader(strings.NewReader(s))) }
	words, err := read("5\x00-l\x00www\x0010.0.0.5\x00rsync\x00--server\x00DATA")
	if err != nil || !slices.Equal(words, []string{"-l", "www", "10.0.0.5", "rsync", "--server"}) {
		t.Fatalf("read %q %v", words, err)
	}
	for name, in := range map[string]string{
		"empty":       "",
		"cut":         "3\x00a\x00b",
		"count":       "x\x00",
		"negative":    "-1\x00",
		"too many":    "65\x00",
		"a long word": "1\x00" + strings.Repeat("a", maxRelayWordLen+1) + "\x00",
	} {
		if w, err := read(in); err == nil {
			t.Errorf("%s: read %q", name, w)
		}
	}

	cmd, err := relayCommand([]string{"-l", "www", "10.0.0.5", "rsync", "--server", "-slogDprce.iLsfxCIvu"})
	if err != nil || cmd != "rsync --server -slogDprce.iLsfxCIvu" {
		t.Fatalf("relayCommand: %q %v", cmd, err)
	}
	if cmd, err := relayCommand([]string{"h", "rsync", "--server", "-e.LsfxC", "."}); err != nil || cmd != "rsync --server -e.LsfxC ." {
		t.Fatalf("relayCommand without -l: %q %v", cmd, err)
	}
	for name, words := range map[string][]string{
		"no words":   nil,
		"not rsync":  {"h", "sh", "--server"},
		"no server":  {"h", "rsync", "-a"},
		"substitute": {"h", "rsync", "--server", "$(id)"},
		"escaped":    {"h", "rsync", "--server", ".", `/srv/a\ b/`},
		"separator":  {"h", "rsync", "--server", "-a;id"},
		"empty word": {"h", "rsync", "--server", ""},
		"newline":    {"h", "rsync", "--server", "-a\nid"},
		"only -l":    {"-l", "www"},
	} {
		if cmd, err := relayCommand(words); err == nil {
			t.Errorf("%s: relayCommand %q", name, cmd)
		}
	}
}
