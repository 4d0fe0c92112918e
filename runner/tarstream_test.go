package runner

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"releasedesk/runner/sshtest"
)

// tarStatsRe reads back TarStats.Line, for ParseTarStats.
var tarStatsRe = regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(tarStatsPrefix) +
	`([0-9]+) bytes \(([0-9]+) files, ([0-9]+) symlinks, ([0-9]+) dirs, ([0-9]+) bytes of file data\)$`)

// ParseTarStats reads the figures of a tar transfer from its step's
// output: what TarStats.Line wrote.
func ParseTarStats(out string) (TarStats, error) {
	m := tarStatsRe.FindStringSubmatch(out)
	if m == nil {
		return TarStats{}, errors.New("tar stats: no tar stream line in the output")
	}
	var n [5]int64
	for i := range n {
		v, err := strconv.ParseInt(m[i+1], 10, 64)
		if err != nil {
			return TarStats{}, fmt.Errorf("tar stats: %w", err)
		}
		n[i] = v
	}
	return TarStats{Bytes: n[0], Files: n[1], Symlinks: n[2], Dirs: n[3], FileBytes: n[4]}, nil
}

// The tar stream refuses every path that would not land inside the
// staging dir, a path under a symlink of the tree, and file types a
// release cannot hold, before a byte of that entry is written.
func TestWriteDeltaTarRefuses(t *testing.T) {
	root := t.TempDir()
	writeTestFile(t, root, "ok/file.txt", "ok\n", 0o644)
	writeTestFile(t, root, "linkdir", "ok", os.ModeSymlink)
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"../outside.txt", "/etc/passwd", "ok/../../x", "./ok/file.txt", "-rf", "ok/\nx",
		"linkdir/file.txt", "fifo", ""} {
		var buf bytes.Buffer
		_, err := writeDeltaTar(&buf, root, []string{"ok/file.txt", p})
		if !errors.Is(err, ErrBadTarEntry) {
			t.Errorf("path %q: err %v, want ErrBadTarEntry", p, err)
		}
	}
	if _, err := writeDeltaTar(io.Discard, "relative/root", []string{"ok/file.txt"}); !errors.Is(err, ErrBadTarEntry) {
		t.Errorf("relative root: %v", err)
	}

	// What it writes: files read-only with their exec bit, symlinks,
	// no directory entries.
	writeTestFile(t, root, "ok/run.sh", "#!/bin/sh\n", 0o755)
	var buf bytes.Buffer
	st, err := writeDeltaTar(&buf, root, []string{"linkdir", "ok", "ok/file.txt", "ok/run.sh"})
	if err != nil {
		t.Fatal(err)
	}
	if st != (TarStats{Files: 2, Symlinks: 1, Dirs: 1, FileBytes: 13}) {
		t.Fatalf("stats %+v", st)
	}
	tr := tar.NewReader(&buf)
	var got []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %c %s %o", hdr.Name, hdr.Typeflag, hdr.Linkname, hdr.Mode))
	}
	want := []string{"linkdir 2 ok 777", "ok/file.txt 0  444", "ok/run.sh 0  555"}
	if !slices.Equal(got, want) {
		t.Fatalf("entries %q, want %q", got, want)
	}
	if line := st.Line(); !strings.HasPrefix(line, tarStatsPrefix) {
		t.Fatal(line)
	}
	st.Bytes = 4096
	if back, err := ParseTarStats("tar: noise\n" + st.Line() + "\n"); err != nil || back != st {
		t.Fatalf("ParseTarStats: %+v %v, want %+v", back, err, st)
	}
}

// Receive is a constant script with the staging, incoming and previous
// dirs, the count of paths to remove, those paths and the validated
// relative dirs as arguments: anything that could lead outside is
// refused.
func TestReceiveCommand(t *testing.T) {
	l := Layout{Path: "/srv/app"}
	v, prev := "20260301120000-abcdef0", "20260301110000-1234567"
	argv, err := l.Receive(v, prev, []string{"REVISION", "old $(touch x).txt"}, []string{"assets/css", "a dir/$(touch x)"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"sh", "-c", receiveScript, "sh", "/srv/app/releases/.20260301120000-abcdef0.partial",
		"/srv/app/releases/.20260301120000-abcdef0.incoming", "/srv/app/releases/20260301110000-1234567", "2",
		"REVISION", "old $(touch x).txt", "assets/css", "a dir/$(touch x)"}
	if !reflect.DeepEqual(argv, want) {
		t.Fatalf("argv %q", argv)
	}
	if argv, err = l.Receive(v, "", nil, []string{"d"}); err != nil || !reflect.DeepEqual(argv[4:], []string{l.Staging(v), l.Incoming(v), "", "0", "d"}) {
		t.Fatalf("fresh: %q %v", argv, err)
	}
	for _, d := range []string{"../x", "/etc", "a/../../b", "-rf", "a/./b", "a\nb", ""} {
		if _, err := l.Receive(v, prev, nil, []string{d}); err == nil {
			t.Errorf("dir %q accepted", d)
		}
		if _, err := l.Receive(v, prev, []string{d}, nil); err == nil {
			t.Errorf("path to remove %q accepted", d)
		}
	}
	for _, bad := range []string{"../v", "20260301120000-abcdef0; rm -rf /", ""} {
		if _, err := l.Receive(bad, "", nil, nil); err == nil {
			t.Errorf("version %q accepted", bad)
		}
	}
	for _, bad := range []string{"../v", v} {
		if _, err := l.Receive(v, bad, nil, nil); err == nil {
			t.Errorf("previous %q accepted", bad)
		}
	}
	if _, err := l.Receive(v, "", []string{"a"}, nil); err == nil {
		t.Error("paths to remove with no previous release accepted")
	}
}

// The receive command never follows a symlink of the staging dir on a
// member's way (GNU tar would): a dir of the delta that is a symlink in
// the previous release, or lies under one, fails the command before
// anything is written through it.
func TestReceiveRefusesSymlinkOnTheWay(t *testing.T) {
	base := runShmDir(t)
	outside := filepath.Join(base, "outside")
	src := filepath.Join(base, "src")
	l := Layout{Path: filepath.Join(base, "app")}
	v, prev := "20260301120000-abcdef0", "20260301110000-1234567"
	pd := l.Release(prev)
	for _, d := range []string{outside, filepath.Join(pd, "deep")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeTestFile(t, pd, "REVISION", "version="+prev+"\n", 0o644)
	writeTestFile(t, src, "trap/f.txt", "payload\n", 0o644)
	writeTestFile(t, src, "deep/trap/g.txt", "payload\n", 0o644)
	if err := os.Symlink(outside, filepath.Join(pd, "trap")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(pd, "deep", "trap")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"trap/f.txt", "deep/trap/g.txt"} {
		var buf bytes.Buffer
		if _, err := writeDeltaTar(&buf, src, []string{p}); err != nil {
			t.Fatal(err)
		}
		argv, err := l.Receive(v, prev, nil, []string{filepath.Dir(p)})
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		code, err := (&LocalExecutor{}).RunStdin(context.Background(), argv, &buf, &out)
		if err != nil || code != 1 || !strings.Contains(out.String(), "leads out of the release") {
			t.Fatalf("%s: exit %d, %v: %s", p, code, err, out.String())
		}
		if ents, _ := os.ReadDir(outside); len(ents) != 0 {
			t.Fatalf("%s: written through the symlink: %v", p, ents)
		}
	}
}

// A previous release that is gone or has no REVISION: Receive exits
// ExitMissing before it touches a staging dir, so the runner stages in
// full instead.
func TestReceiveWithoutPrevious(t *testing.T) {
	base := runShmDir(t)
	l := Layout{Path: filepath.Join(base, "app")}
	v, prev := "20260301120000-abcdef0", "20260301110000-1234567"
	if err := os.MkdirAll(l.Release(prev), 0o755); err != nil { // no REVISION
		t.Fatal(err)
	}
	writeTestFile(t, l.Staging(v), "stale.txt", "from a run that died\n", 0o644)
	argv, err := l.Receive(v, prev, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	code, err := (&LocalExecutor{}).RunStdin(context.Background(), argv, strings.NewReader("not read"), &out)
	if code != ExitMissing || !strings.Contains(out.String(), "missing or incomplete") {
		t.Fatalf("exit %d, %v: %s", code, err, out.String())
	}
	if _, err := os.Stat(filepath.Join(l.Staging(v), "stale.txt")); err != nil {
		t.Fatalf("the staging dir was touched: %v", err)
	}
}

// RunStdin on this machine: the stream reaches the command, a failed read
// fails the run whatever the command says, and a command that exits 0
// without reading its input is no success.
func TestLocalRunStdin(t *testing.T) {
	e := &LocalExecutor{}
	var out bytes.Buffer
	code, err := e.RunStdin(context.Background(), []string{"cat"}, strings.NewReader("streamed\n"), &out)
	if err != nil || code != 0 || out.String() != "streamed\n" {
		t.Fatalf("cat: %d %v %q", code, err, out.String())
	}
	boom := errors.New("boom")
	code, err = e.RunStdin(context.Background(), []string{"cat"}, io.MultiReader(strings.NewReader("part"), &errReader{boom}), io.Discard)
	if !errors.Is(err, boom) || code != -1 {
		t.Fatalf("failed read: %d %v", code, err)
	}
	code, err = e.RunStdin(context.Background(), []string{"true"}, bytes.NewReader(make([]byte, 4<<20)), io.Discard)
	if !errors.Is(err, ErrStdinNotRead) {
		t.Fatalf("unread input: %d %v", code, err)
	}
}

type errReader struct{ err error }

func (r *errReader) Read([]byte) (int, error) { return 0, r.err }

// RunStdin over SSH on the open connection (no new handshake): the stream
// reaches the command, a failed read fails the run, and the host's tar,
// a last line behind the runner's own checks, keeps a hand-made stream's
// "../" and absolute members inside the staging dir.
func TestSSHRunStdin(t *testing.T) {
	c := sshtest.Start(t, 1)
	e := dialHost(t, c, 0, nil)
	var out bytes.Buffer
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB: more than one window
	code, err := e.RunStdin(context.Background(), []string{"sh", "-c", "wc -c"}, bytes.NewReader(data), &out)
	if err != nil || code != 0 || strings.TrimSpace(out.String()) != "1048576" {
		t.Fatalf("wc -c: %d %v %q", code, err, out.String())
	}
	boom := errors.New("boom")
	code, err = e.RunStdin(context.Background(), []string{"cat"}, io.MultiReader(bytes.NewReader(data), &errReader{boom}), io.Discard)
	if !errors.Is(err, boom) || code != -1 {
		t.Fatalf("failed read: %d %v", code, err)
	}

	base := filepath.Dir(c.Hosts[0].Path)
	l := Layout{Path: filepath.Join(base, "app")}
	v := "20260301120000-abcdef0"
	if err := os.MkdirAll(l.Releases(), 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range []string{"../escaped.txt", "sub/../../escaped2.txt", filepath.Join(base, "abs.txt"), "inside.txt"} {
		_ = tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: 2})
		_, _ = tw.Write([]byte("x\n"))
	}
	_ = tw.Close()
	argv, err := l.Receive(v, "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	code, err = e.RunStdin(context.Background(), argv, &buf, &out)
	t.Logf("exit %d, %v: %s", code, err, out.String())
	for _, p := range []string{filepath.Join(l.Path, "releases", "escaped.txt"), filepath.Join(l.Path, "escaped2.txt"),
		filepath.Join(l.Path, "releases", "escaped2.txt"), filepath.Join(base, "abs.txt")} {
		if _, err := os.Lstat(p); err == nil {
			t.Fatalf("%s written outside the staging dir", p)
		}
	}
	if _, err := os.Stat(filepath.Join(l.Staging(v), "inside.txt")); err != nil {
		t.Fatalf("inside.txt: %v", err)
	}
	waitAccepted(t, c, 0, 1)
}
