package runner

import (
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

	"releasedesk/events/catalog"
	"releasedesk/runner/sshtest"
)

func TestRsyncCommandArgv(t *testing.T) {
	o := RsyncOptions{
		Source:         "/srv/export/app",
		Dest:           "/srv/www/releases/.20240102030405-abcdef0.partial",
		Host:           catalog.Host{Addr: "www@10.0.0.5:2222"},
		KeyPath:        "/keys/deploy key",
		KnownHostsPath: "/data/known_hosts",
		ControlPath:    "/tmp/rd/cm-0123456789abcdef",
		LinkDest:       "/srv/www/releases/20240101000000-1234567",
		Exclude:        []string{".git", "node_modules", "*.log"},
	}
	got, err := RsyncCommand(o)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"rsync", "-a", "--checksum", "--no-times", "--delete", "--stats", "--chmod=Fa-w", "-s",
		"--link-dest=/srv/www/releases/20240101000000-1234567",
		"--exclude=.git", "--exclude=node_modules", "--exclude=*.log",
		"-e", "ssh -F none -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/data/known_hosts" +
			" -o GlobalKnownHostsFile=/dev/null -o UpdateHostKeys=no -o IdentitiesOnly=yes" +
			" -o KexAlgorithms=curve25519-sha256 -o ConnectTimeout=10" +
			" -o ServerAliveInterval=15 -o ServerAliveCountMax=3 -o ControlMaster=auto" +
			" -o ControlPath=/tmp/rd/cm-0123456789abcdef -o ControlPersist=60 -i '/keys/deploy key' -p 2222",
		"--", "/srv/export/app/", "www@10.0.0.5:/srv/www/releases/.20240102030405-abcdef0.partial/",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("RsyncCommand:\n got %q\nwant %q", got, want)
	}

	// Spaces in -o values: double quotes for ssh inside single quotes for rsync.
	o.KnownHostsPath = "/my data/known_hosts"
	got, _ = RsyncCommand(o)
	if e := got[slices.Index(got, "-e")+1]; !strings.Contains(e, ` -o 'UserKnownHostsFile="/my data/known_hosts"' `) {
		t.Fatalf("-e with a spaced known_hosts: %s", e)
	}

	// Local destination: no ssh at all.
	got, err = RsyncCommand(RsyncOptions{Source: "/x/", Dest: "/srv/www/releases/a", Host: catalog.Host{Addr: catalog.LocalHost}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"rsync", "-a", "--checksum", "--no-times", "--delete", "--stats", "--chmod=Fa-w", "--", "/x/", "/srv/www/releases/a/"}; !slices.Equal(got, want) {
		t.Fatalf("local: %q", got)
	}

	// IPv6.
	o.Host.Addr = "www@[fe80::1]:22"
	got, _ = RsyncCommand(o)
	if got[len(got)-1] != "www@[fe80::1]:/srv/www/releases/.20240102030405-abcdef0.partial/" {
		t.Fatalf("IPv6 dest %q", got[len(got)-1])
	}

	// Refused.
	base := o
	base.Host.Addr = "www@10.0.0.5"
	bad := map[string]func(*RsyncOptions){
		"exclude -":        func(o *RsyncOptions) { o.Exclude = []string{"--rsh=touch CANARY"} },
		"exclude +":        func(o *RsyncOptions) { o.Exclude = []string{"+ x"} },
		"exclude newline":  func(o *RsyncOptions) { o.Exclude = []string{"a\n- /"} },
		"exclude empty":    func(o *RsyncOptions) { o.Exclude = []string{""} },
		"dest relative":    func(o *RsyncOptions) { o.Dest = "www" },
		"dest dotdot":      func(o *RsyncOptions) { o.Dest = "/srv/../etc" },
		"dest option":      func(o *RsyncOptions) { o.Dest = "/-e" },
		"link-dest":        func(o *RsyncOptions) { o.LinkDest = "../x" },
		"source":           func(o *RsyncOptions) { o.Source = "relative" },
		"key quote":        func(o *RsyncOptions) { o.KeyPath = "/k'ey" },
		"key percent":      func(o *RsyncOptions) { o.KeyPath = "/k%d" },
		"known dquote":     func(o *RsyncOptions) { o.KnownHostsPath = `/k"h` },
		"control long":     func(o *RsyncOptions) { o.ControlPath = "/" + strings.Repeat("c", 100) },
		"control empty":    func(o *RsyncOptions) { o.ControlPath = "" },
		"host option":      func(o *RsyncOptions) { o.Host.Addr = "www@-oProxyCommand=touch" },
		"host no user":     func(o *RsyncOptions) { o.Host.Addr = "10.0.0.5" },
		"host injection":   func(o *RsyncOptions) { o.Host.Addr = "www@h;touch" },
		"key newline":      func(o *RsyncOptions) { o.KeyPath = "/key\n-oProxyCommand=x" },
		"key relative":     func(o *RsyncOptions) { o.KeyPath = "key" },
		"known backslash":  func(o *RsyncOptions) { o.KnownHostsPath = `/a\b` },
		"control relative": func(o *RsyncOptions) { o.ControlPath = "cm" },
	}
	for name, mod := range bad {
		o := base
		mod(&o)
		if argv, err := RsyncCommand(o); err == nil {
			t.Errorf("%s: accepted: %q", name, argv)
		}
	}
	if cp := ControlPath("/tmp/rd", "d-1", "www@h:22"); len(cp) > maxControlPath || cp == ControlPath("/tmp/rd", "d-2", "www@h:22") {
		t.Fatalf("ControlPath %q", cp)
	}
	argv, err := ControlMasterCommand(base)
	if err != nil || !slices.Equal(argv[len(argv)-6:], []string{"-O", "exit", "-l", "www", "--", "10.0.0.5"}) {
		t.Fatalf("ControlMasterCommand %q %v", argv, err)
	}
}

func TestParseRsyncStats(t *testing.T) {
	out := `
Number of files: 5,012 (reg: 5,000, dir: 12)
Number of created files: 5,012 (reg: 5,000, dir: 12)
Number of deleted files: 0
Number of regular files transferred: 50
Total file size: 52,428,800 bytes
Total transferred file size: 524,288 bytes
Literal data: 524,288 bytes
Matched data: 0 bytes
File list size: 131,072
File list generation time: 0.001 seconds
File list transfer time: 0.000 seconds
Total bytes sent: 700,123
Total bytes received: 1,234

sent 700,123 bytes  received 1,234 bytes  1,402,714.00 bytes/sec
total size is 52,428,800  speedup is 74.75
`
	s, err := ParseRsyncStats(out)
	if err != nil {
		t.Fatal(err)
	}
	want := RsyncStats{Files: 5012, FilesTransferred: 50, TotalFileSize: 52428800, LiteralData: 524288, BytesSent: 700123, BytesReceived: 1234}
	if s != want {
		t.Fatalf("%+v\nwant %+v", s, want)
	}
	if _, err := ParseRsyncStats("rsync: connection unexpectedly closed"); err == nil {
		t.Fatal("no stats accepted")
	}
}

// TestRsyncToHost publishes a tree to a real sshd host with real rsync and
// ssh, through paths with spaces: a full transfer, then a 1% change with
// --link-dest, over one multiplexed connection.
func TestRsyncToHost(t *testing.T) {
	c := sshtest.Start(t, 1)
	ctx := context.Background()
	// Key, known_hosts and control socket in a dir with a space.
	keys := filepath.Join(c.Dir, "my keys")
	if err := os.Mkdir(keys, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"id_ed25519", "known_hosts"} {
		b, err := os.ReadFile(filepath.Join(c.Dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(keys, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	host := catalog.Host(c.Hosts[0])
	host.Path = c.Hosts[0].Path + "/my app"
	l := Layout{Path: host.Path}
	e := dialHost(t, c, 0, &Dialer{KnownHostsPath: filepath.Join(keys, "known_hosts")})
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

	// A source tree: 200 files of 8 KiB, some to exclude.
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

	opts := RsyncOptions{
		Source: src, Host: host,
		KeyPath:        filepath.Join(keys, "id_ed25519"),
		KnownHostsPath: filepath.Join(keys, "known_hosts"),
		ControlPath:    ControlPath(keys, "d-1", host.Addr),
		Exclude:        []string{"node_modules", "*.log"},
	}
	t.Cleanup(func() { _ = CloseControlMaster(context.Background(), opts) })
	publish := func(version, linkDest string) RsyncStats {
		t.Helper()
		run(l.Prepare())
		run(l.BeginStaging(version))
		o := opts
		o.Dest, o.LinkDest = l.Staging(version), linkDest
		argv, err := RsyncCommand(o)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		start := time.Now()
		code, err := (&LocalExecutor{}).Run(ctx, argv, &out)
		if err != nil || code != 0 {
			t.Fatalf("rsync: %d %v: %s", code, err, out.String())
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("rsync took %s (an ssh master holding its output?)", took)
		}
		st, err := ParseRsyncStats(out.String())
		if err != nil {
			t.Fatalf("%v: %s", err, out.String())
		}
		cmds, err := l.Finalize(version, "r "+version, []string{"VERSION"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cmds {
			run(c, nil)
		}
		run(l.Switch(version))
		return st
	}

	full := publish(tv1, "")
	if full.FilesTransferred != 200 || full.LiteralData != 200*8192 {
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

	// A no-op resync and more: still the same ssh master.
	for range 3 {
		o := opts
		o.Dest, o.LinkDest = l.Staging(tv2), r2
		run(l.BeginStaging(tv2))
		argv, _ := RsyncCommand(o)
		if code, err := (&LocalExecutor{}).Run(ctx, argv, nil); code != 0 || err != nil {
			t.Fatal(code, err)
		}
	}
	run(l.RemoveStaging(tv2))
	// One goph connection + one ssh master, for 5 rsyncs and all commands.
	waitAccepted(t, c, 0, 2)

	if _, err := os.Stat(opts.ControlPath); err != nil {
		t.Fatalf("no control socket: %v", err)
	}
	if err := CloseControlMaster(ctx, opts); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if _, err := os.Stat(opts.ControlPath); os.IsNotExist(err) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := os.Stat(opts.ControlPath); !os.IsNotExist(err) {
		t.Fatal("control socket left after CloseControlMaster")
	}
	if err := CloseControlMaster(ctx, opts); err != nil {
		t.Fatalf("closing a closed master: %v", err)
	}
}

// TestRsyncLocal publishes with the local strategy (no SSH).
func TestRsyncLocal(t *testing.T) {
	root := fastTempDir(t)
	src := filepath.Join(root, "src")
	writeTree(t, src, map[string]string{"a": "A", "b/c": "C"})
	l := Layout{Path: filepath.Join(root, "www")}
	var prev string
	for _, v := range []string{tv1, tv2} {
		ok(t)(l.BeginStaging(v))
		o := RsyncOptions{Source: src, Dest: l.Staging(v), Host: catalog.Host{Addr: catalog.LocalHost}, LinkDest: prev}
		out := ok(t)(RsyncCommand(o))
		st, err := ParseRsyncStats(out)
		if err != nil {
			t.Fatal(err)
		}
		if prev != "" && st.FilesTransferred != 0 {
			t.Fatalf("unchanged local resync transferred %d files", st.FilesTransferred)
		}
		cmds, _ := l.Finalize(v, "r", nil, nil)
		for _, c := range cmds {
			ok(t)(c, nil)
		}
		prev = l.Release(v)
	}
	if !sameFile(t, filepath.Join(l.Release(tv1), "b/c"), filepath.Join(l.Release(tv2), "b/c")) {
		t.Fatal("local link-dest did not hard-link")
	}
	if err := CloseControlMaster(context.Background(), RsyncOptions{Host: catalog.Host{Addr: catalog.LocalHost}}); err != nil {
		t.Fatal(err)
	}
}
