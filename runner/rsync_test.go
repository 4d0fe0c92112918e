package runner

import (
	"path/filepath"
	"slices"
	"testing"

	"releasedesk/events/catalog"
)

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

// TestRsyncLocal publishes with the local strategy (no SSH).
func TestRsyncLocal(t *testing.T) {
	withLocalTools(t)
	got, err := RsyncCommand(RsyncOptions{Source: "/x/", Dest: "/srv/www/releases/a", Host: catalog.Host{Addr: catalog.LocalHost}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"rsync", "-a", "--checksum", "--no-times", "--delete", "--stats", "--chmod=Fa-w", "--", "/x/", "/srv/www/releases/a/"}; !slices.Equal(got, want) {
		t.Fatalf("local: %q", got)
	}

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
		finalizeAndSeal(t, l, v, "r", nil, nil)
		prev = l.Release(v)
	}
	if !sameFile(t, filepath.Join(l.Release(tv1), "b/c"), filepath.Join(l.Release(tv2), "b/c")) {
		t.Fatal("local link-dest did not hard-link")
	}
}
