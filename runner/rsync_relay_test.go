package runner

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"releasedesk/events"
	"releasedesk/events/catalog"
	"releasedesk/runner/sshtest"
)

// TestRsyncCommandRelay: an rsync to a remote host has relayShell as its
// remote shell, keeps -s (paths inside the protocol) and names no key,
// known_hosts or control socket: it rides the host's open connection.
func TestRsyncCommandRelay(t *testing.T) {
	got, err := RsyncCommand(RsyncOptions{Source: "/srv/export/app", Dest: "/srv/www/releases/.20240102030405-abcdef0.partial",
		Host: catalog.Host{Addr: "www@10.0.0.5:2222"}, LinkDest: "/srv/www/releases/20240101000000-1234567"})
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
	if _, err := RsyncCommand(RsyncOptions{Source: "/x", Dest: "/srv/a", Host: catalog.Host{Addr: "www@h:bad"}}); err == nil {
		t.Fatal("a bad host address was accepted")
	}

	// Excludes, in rsync's own dialect.
	base := RsyncOptions{Source: "/srv/export/app", Dest: "/srv/www/releases/.20240102030405-abcdef0.partial",
		Host: catalog.Host{Addr: "www@10.0.0.5"}, Exclude: []string{".git", "node_modules", "*.log"}}
	got, err = RsyncCommand(base)
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.Index(got, "--exclude=.git"); i < 0 || !slices.Equal(got[i:i+3], []string{"--exclude=.git", "--exclude=node_modules", "--exclude=*.log"}) {
		t.Fatalf("excludes: %q", got)
	}

	// IPv6.
	o := base
	o.Host.Addr = "www@[fe80::1]:22"
	got, _ = RsyncCommand(o)
	if got[len(got)-1] != "www@[fe80::1]:/srv/www/releases/.20240102030405-abcdef0.partial/" {
		t.Fatalf("IPv6 dest %q", got[len(got)-1])
	}

	// Refused.
	bad := map[string]func(*RsyncOptions){
		"exclude -":       func(o *RsyncOptions) { o.Exclude = []string{"--rsh=touch CANARY"} },
		"exclude +":       func(o *RsyncOptions) { o.Exclude = []string{"+ x"} },
		"exclude newline": func(o *RsyncOptions) { o.Exclude = []string{"a\n- /"} },
		"exclude empty":   func(o *RsyncOptions) { o.Exclude = []string{""} },
		"dest relative":   func(o *RsyncOptions) { o.Dest = "www" },
		"dest dotdot":     func(o *RsyncOptions) { o.Dest = "/srv/../etc" },
		"dest option":     func(o *RsyncOptions) { o.Dest = "/-e" },
		"link-dest":       func(o *RsyncOptions) { o.LinkDest = "../x" },
		"source":          func(o *RsyncOptions) { o.Source = "relative" },
		"host option":     func(o *RsyncOptions) { o.Host.Addr = "www@-oProxyCommand=touch" },
		"host no user":    func(o *RsyncOptions) { o.Host.Addr = "10.0.0.5" },
		"host injection":  func(o *RsyncOptions) { o.Host.Addr = "www@h;touch" },
	}
	for name, mod := range bad {
		o := base
		mod(&o)
		if argv, err := RsyncCommand(o); err == nil {
			t.Errorf("%s: accepted: %q", name, argv)
		}
	}
}

// relayTestDeployment is as much of a deployment as relayRsync needs: a
// runner on an in-memory log, which takes its steps' events.
func relayTestDeployment(t *testing.T) *deployment {
	t.Helper()
	r, err := New(Config{Log: events.NewMemStore(events.Options{}), Workspace: Workspace{Dir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return &deployment{r: r, id: "d-relay", ctx: context.Background(), stepSeen: map[string]int{},
		results: map[string]*hostRun{}, logger: r.logger, red: newRedactor(nil)}
}

// TestRsyncRelayToHost publishes a tree to a real sshd host with real
// rsync whose remote half runs on the host's open connection (relayRsync,
// as a deployment sends a full release), through paths with spaces: a
// full transfer, then a 1% change with --link-dest, then no-op resyncs,
// all over one SSH connection. Both ways of relaying rsync's data: its
// sockets taken over (direct) and relayShell's cat.
func TestRsyncRelayToHost(t *testing.T) {
	withLocalTools(t)
	t.Run("direct", testRsyncRelayToHost)
	t.Run("cat", func(t *testing.T) {
		taken := relayHandoff
		relayHandoff = func(string) (*os.File, *os.File, error) { return nil, nil, errNoHandoff }
		t.Cleanup(func() { relayHandoff = taken })
		testRsyncRelayToHost(t)
	})
}

func testRsyncRelayToHost(t *testing.T) {
	c := sshtest.Start(t, 1)
	ctx := context.Background()
	host := catalog.Host(c.Hosts[0])
	host.Path = c.Hosts[0].Path + "/my app"
	l := Layout{Path: host.Path}
	e := dialHost(t, c, 0, nil)
	d := relayTestDeployment(t)
	run := func(argv []string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		code, err := e.Run(ctx, argv, &out)
		if err != nil || code != 0 {
			t.Fatalf("%s: %d %v: %s", QuoteCommand(argv), code, err, out.String())
		}
		return out.String()
	}
	rsync := func(o RsyncOptions) string {
		t.Helper()
		argv, err := RsyncCommand(o)
		if err != nil {
			t.Fatal(err)
		}
		s := d.beginStep(host.Addr, "transfer", argv)
		exit, err := d.relayRsync(ctx, s, e, argv, time.Minute)
		if err := s.finish(exit, err); err != nil {
			t.Fatalf("rsync: %v: %s", err, s.Output())
		}
		return s.Output()
	}

	// A source tree: 200 files of 8 KiB and an executable, some to exclude.
	src := filepath.Join(fastTempDir(t), "export tree")
	files := map[string]string{}
	for i := range 200 {
		b := make([]byte, 8192)
		_, _ = rand.Read(b)
		files[fmt.Sprintf("dir%d/file %d.bin", i%10, i)] = string(b)
	}
	files["node_modules/x.js"] = "excluded"
	files["debug.log"] = "excluded"
	writeTree(t, src, files)
	writeTestFile(t, src, "bin/run.sh", "#!/bin/sh\n", 0o755)

	opts := RsyncOptions{Source: src, Host: host, Exclude: []string{"node_modules", "*.log"}}
	publish := func(version, linkDest string) RsyncStats {
		t.Helper()
		run(l.Prepare())
		run(l.BeginStaging(version))
		o := opts
		o.Dest, o.LinkDest = l.Staging(version), linkDest
		start := time.Now()
		out := rsync(o)
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("rsync took %s (the relay holding rsync's end?)", took)
		}
		st, err := ParseRsyncStats(out)
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		for _, c := range completeCommands(t, l, version, "r "+version, []string{"VERSION"}, nil) {
			run(c, nil)
		}
		run(l.Switch(version))
		return st
	}

	full := publish(tv1, "")
	if full.FilesTransferred != 201 || full.LiteralData != 200*8192+int64(len("#!/bin/sh\n")) {
		t.Fatalf("full transfer: %+v", full)
	}
	r1 := l.Release(tv1)
	if _, err := os.Stat(filepath.Join(r1, "node_modules")); !os.IsNotExist(err) {
		t.Fatal("excluded dir was sent")
	}
	if _, err := os.Stat(filepath.Join(r1, "debug.log")); !os.IsNotExist(err) {
		t.Fatal("excluded file was sent")
	}
	if readFile(t, filepath.Join(r1, "dir3/file 13.bin")) != files["dir3/file 13.bin"] {
		t.Fatal("content differs")
	}
	assertReadOnly(t, r1)
	if st, err := os.Stat(filepath.Join(r1, "bin/run.sh")); err != nil || st.Mode().Perm() != 0o555 {
		t.Fatalf("executable arrived as %v (%v), want r-xr-xr-x", st.Mode(), err)
	}

	// 1% change: two files rewritten, one new.
	changed := map[string]string{"dir1/file 1.bin": strings.Repeat("x", 8192), "dir2/file 2.bin": strings.Repeat("y", 8192)}
	writeTree(t, src, changed)
	writeTree(t, src, map[string]string{"new.txt": "new"})
	delta := publish(tv2, r1)
	if delta.FilesTransferred != 3 || delta.LiteralData > 2*8192+3 {
		t.Fatalf("1%% change sent %+v", delta)
	}
	if delta.BytesSent > full.BytesSent/10 {
		t.Fatalf("1%% change sent %d bytes of %d", delta.BytesSent, full.BytesSent)
	}
	t.Logf("full: %d files, %d bytes sent; 1%% change: %d files, %d literal bytes, %d bytes sent",
		full.FilesTransferred, full.BytesSent, delta.FilesTransferred, delta.LiteralData, delta.BytesSent)
	r2 := l.Release(tv2)
	if !sameFile(t, filepath.Join(r1, "dir3/file 13.bin"), filepath.Join(r2, "dir3/file 13.bin")) {
		t.Fatal("an unchanged file is not a hard link to the previous release")
	}
	if sameFile(t, filepath.Join(r1, "dir1/file 1.bin"), filepath.Join(r2, "dir1/file 1.bin")) {
		t.Fatal("a changed file shares the previous release's inode")
	}
	if readFile(t, filepath.Join(r1, "dir1/file 1.bin")) != files["dir1/file 1.bin"] {
		t.Fatal("the previous release changed")
	}
	if readFile(t, filepath.Join(r1, "VERSION")) != tv1+"\n" || readFile(t, filepath.Join(r2, "VERSION")) != tv2+"\n" {
		t.Fatal("version files")
	}

	// No-op resyncs: nothing travels.
	for range 3 {
		o := opts
		o.Dest, o.LinkDest = l.Staging(tv2), r2
		run(l.BeginStaging(tv2))
		st, err := ParseRsyncStats(rsync(o))
		if err != nil || st.FilesTransferred != 0 {
			t.Fatalf("no-op resync: %+v %v", st, err)
		}
	}
	run(l.RemoveStaging(tv2))
	// One connection for 5 rsyncs and all commands.
	waitAccepted(t, c, 0, 1)
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
