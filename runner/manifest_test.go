package runner

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BuildManifest lists dir whole (buildManifest with nothing ignored).
func BuildManifest(dir string) (Manifest, error) {
	return buildManifest(dir, nil)
}

// manifestTree writes a small tree: files (one empty, one executable),
// nested directories, an empty directory and symlinks.
func manifestTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range map[string]string{
		"index.php": "<?php echo 1;", "empty": "", "a/b/c.txt": "c", "a-b": "dash",
		"ünï/日本.txt": "x", "with space.txt": "s",
	} {
		writeTestFile(t, dir, p, c, 0o644)
	}
	writeTestFile(t, dir, "bin/run", "#!/bin/sh\n", 0o755)
	writeTestFile(t, dir, "link", "index.php", fs.ModeSymlink)
	writeTestFile(t, dir, "a/up", "../index.php", fs.ModeSymlink)
	if err := os.Mkdir(filepath.Join(dir, "cache"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func mustManifest(t *testing.T, dir string) Manifest {
	t.Helper()
	m, err := BuildManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestBuildManifest(t *testing.T) {
	dir := manifestTree(t)
	m := mustManifest(t, dir)
	var paths []string
	for _, e := range m.Entries {
		paths = append(paths, e.Path)
	}
	want := "a a-b a/b a/b/c.txt a/up bin bin/run cache empty index.php link with space.txt ünï ünï/日本.txt"
	if got := strings.Join(paths, " "); got != want {
		t.Fatalf("paths:\n got %s\nwant %s", got, want)
	}
	if m.Files != 7 || m.Bytes != int64(len("<?php echo 1;")+1+len("dash")+1+1+len("#!/bin/sh\n")) {
		t.Errorf("Files %d Bytes %d", m.Files, m.Bytes)
	}
	byPath := map[string]ManifestEntry{}
	for _, e := range m.Entries {
		byPath[e.Path] = e
	}
	if e := byPath["empty"]; e.SHA256 != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" || e.Mode != 0o644 {
		t.Errorf("empty: %+v", e)
	}
	if e := byPath["bin/run"]; e.Mode != 0o755 {
		t.Errorf("bin/run: %+v", e)
	}
	if e := byPath["a/up"]; e.Mode != fs.ModeSymlink|0o777 || e.Link != "../index.php" || e.SHA256 != "" {
		t.Errorf("a/up: %+v", e)
	}
	if e := byPath["cache"]; e.Mode != fs.ModeDir|0o755 {
		t.Errorf("cache: %+v", e)
	}
	// Stable: again, and for a copy elsewhere made read-only (write bits
	// do not count).
	if again := mustManifest(t, dir); again.Hash != m.Hash {
		t.Error("hash changed between two builds")
	}
	cp := t.TempDir()
	if err := os.CopyFS(cp, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(cp, "link")) // CopyFS copies symlinks as files
	os.Symlink("index.php", filepath.Join(cp, "link"))
	os.Remove(filepath.Join(cp, "a/up"))
	os.Symlink("../index.php", filepath.Join(cp, "a/up"))
	os.Chmod(filepath.Join(cp, "bin/run"), 0o555)
	os.Chmod(filepath.Join(cp, "index.php"), 0o444)
	if c := mustManifest(t, cp); c.Hash != m.Hash {
		t.Errorf("copy hashes differently:\n%v\n%v", c.Entries, m.Entries)
	}
	if _, err := BuildManifest(filepath.Join(dir, "index.php")); err == nil {
		t.Error("manifest of a file: no error")
	}
	if _, err := BuildManifest(filepath.Join(dir, "missing")); err == nil {
		t.Error("manifest of nothing: no error")
	}
}

func TestManifestHashChanges(t *testing.T) {
	for name, change := range map[string]func(dir string){
		"one byte":       func(d string) { os.WriteFile(filepath.Join(d, "a/b/c.txt"), []byte("C"), 0o644) },
		"executable bit": func(d string) { os.Chmod(filepath.Join(d, "index.php"), 0o755) },
		"symlink target": func(d string) { os.Remove(filepath.Join(d, "link")); os.Symlink("empty", filepath.Join(d, "link")) },
		"renamed":        func(d string) { os.Rename(filepath.Join(d, "empty"), filepath.Join(d, "empty2")) },
		"new empty dir":  func(d string) { os.Mkdir(filepath.Join(d, "new"), 0o755) },
		"file to link":   func(d string) { os.Remove(filepath.Join(d, "empty")); os.Symlink("x", filepath.Join(d, "empty")) },
		"grown":          func(d string) { os.WriteFile(filepath.Join(d, "empty"), []byte{0}, 0o644) },
	} {
		dir := manifestTree(t)
		before := mustManifest(t, dir)
		change(dir)
		after := mustManifest(t, dir)
		if after.Hash == before.Hash {
			t.Errorf("%s: hash did not change", name)
		}
		if err := before.Verify(dir, nil); !errors.Is(err, ErrManifestMismatch) {
			t.Errorf("%s: Verify = %v", name, err)
		}
	}
}

func TestManifestVerify(t *testing.T) {
	dir := manifestTree(t)
	m := mustManifest(t, dir)
	if err := m.Verify(dir, nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		change func(d string)
		path   string
		msg    string
	}{
		{"content", func(d string) { os.WriteFile(filepath.Join(d, "a/b/c.txt"), []byte("X"), 0o644) }, "a/b/c.txt", "content differs"},
		{"size", func(d string) { os.WriteFile(filepath.Join(d, "index.php"), []byte("<?php"), 0o644) }, "index.php", "size 5, want 13"},
		{"missing", func(d string) { os.Remove(filepath.Join(d, "empty")) }, "empty", "missing"},
		{"unexpected", func(d string) { os.WriteFile(filepath.Join(d, "a/evil.php"), nil, 0o644) }, "a/evil.php", "unexpected file"},
		{"kind", func(d string) {
			os.Remove(filepath.Join(d, "link"))
			os.WriteFile(filepath.Join(d, "link"), []byte("index.php"), 0o644)
		}, "link", "is a file, want a symlink"},
		{"mode", func(d string) { os.Chmod(filepath.Join(d, "bin/run"), 0o644) }, "bin/run", "mode"},
		{"link", func(d string) {
			os.Remove(filepath.Join(d, "a/up"))
			os.Symlink("/etc/passwd", filepath.Join(d, "a/up"))
		}, "a/up", `links to "/etc/passwd"`},
		{"dir gone", func(d string) { os.Remove(filepath.Join(d, "cache")) }, "cache", "missing"},
	} {
		d := copyManifestTree(t, dir)
		if err := m.Verify(d, nil); err != nil {
			t.Fatalf("%s: copy does not verify: %v", tc.name, err)
		}
		tc.change(d)
		err := m.Verify(d, nil)
		var me *ManifestError
		if !errors.As(err, &me) || me.Path != tc.path || !strings.Contains(err.Error(), tc.msg) || !errors.Is(err, ErrManifestMismatch) {
			t.Errorf("%s: Verify = %v; want path %q and %q", tc.name, err, tc.path, tc.msg)
		}
	}
	// Several differences: the first in path order, and the count.
	d := copyManifestTree(t, dir)
	os.WriteFile(filepath.Join(d, "index.php"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(d, "a/b/c.txt"), []byte("cc"), 0o644)
	var me *ManifestError
	if err := m.Verify(d, nil); !errors.As(err, &me) || me.Path != "a/b/c.txt" || me.Count != 2 || !strings.Contains(err.Error(), "and 1 more") {
		t.Errorf("two differences: %v", err)
	}
}

// copyManifestTree copies manifestTree's dir into a new temp dir, its
// symlinks and executable made again as manifestTree makes them, so that
// the copy verifies against dir's manifest.
func copyManifestTree(t *testing.T, dir string) string {
	t.Helper()
	d := t.TempDir()
	if err := os.CopyFS(d, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(d, "link"))
	os.Symlink("index.php", filepath.Join(d, "link"))
	os.Remove(filepath.Join(d, "a/up"))
	os.Symlink("../index.php", filepath.Join(d, "a/up"))
	os.Chmod(filepath.Join(d, "bin/run"), 0o755)
	return d
}

func TestManifestVerifyIgnore(t *testing.T) {
	dir := manifestTree(t)
	m := mustManifest(t, dir)
	// What a deployment does: REVISION and a version file written, a
	// shared directory linked in place of one of the tree's.
	os.WriteFile(filepath.Join(dir, "REVISION"), []byte("v1"), 0o644)
	os.WriteFile(filepath.Join(dir, "index.php"), []byte("changed by the version file"), 0o644)
	os.RemoveAll(filepath.Join(dir, "a"))
	os.Symlink("../../shared/a", filepath.Join(dir, "a"))
	ignore := func(p string) bool { return p == "REVISION" || p == "index.php" || p == "a" }
	if err := m.Verify(dir, ignore); err != nil {
		t.Fatalf("Verify with ignore: %v", err)
	}
	if err := m.Verify(dir, nil); err == nil {
		t.Fatal("Verify without ignore: no error")
	}
	// An ignored directory is skipped whole on both sides.
	dir2 := manifestTree(t)
	m2 := mustManifest(t, dir2)
	os.WriteFile(filepath.Join(dir2, "a/b/extra"), nil, 0o644)
	os.Remove(filepath.Join(dir2, "a/b/c.txt"))
	if err := m2.Verify(dir2, func(p string) bool { return p == "a/b" }); err != nil {
		t.Fatalf("ignored directory: %v", err)
	}
}

func TestManifestRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	if err := mkfifo(filepath.Join(dir, "fifo")); err != nil {
		t.Skip("no fifo here:", err)
	}
	if _, err := BuildManifest(dir); err == nil || !strings.Contains(err.Error(), "unsupported file type") {
		t.Fatalf("BuildManifest with a fifo = %v", err)
	}
}
