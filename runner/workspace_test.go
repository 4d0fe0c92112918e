package runner

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func mkfifo(p string) error { return syscall.Mkfifo(p, 0o644) }

func TestValidateProjectID(t *testing.T) {
	for _, ok := range []string{"blog", "a", "0", "my-shop_2", strings.Repeat("a", 63)} {
		if err := ValidateProjectID(ok); err != nil {
			t.Errorf("ValidateProjectID(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Blog", "-blog", "_blog", "../x", "a/b", "a.b", "a b", "a\n",
		strings.Repeat("a", 64), "$(id)", "ümlaut", "."} {
		if err := ValidateProjectID(bad); err == nil {
			t.Errorf("ValidateProjectID(%q) accepted", bad)
		}
	}
}

func TestWorkspacePaths(t *testing.T) {
	w := Workspace{Dir: filepath.Join(string(filepath.Separator)+"data", "workspace")}
	if got, want := w.MirrorDir("blog"), filepath.Join(w.Dir, "mirrors", "blog.git"); got != want {
		t.Errorf("MirrorDir = %s, want %s", got, want)
	}
	if got, want := w.ExportDir("blog", "20261126103000-abc1234"), filepath.Join(w.Dir, "exports", "blog", "20261126103000-abc1234"); got != want {
		t.Errorf("ExportDir = %s, want %s", got, want)
	}
	for _, got := range []string{
		w.MirrorDir("../etc"), w.MirrorDir(""), w.ExportDir("blog", "../x"), w.ExportDir("blog", "latest"),
		w.ExportDir("../x", "20261126103000-abc1234"), Workspace{Dir: "rel"}.MirrorDir("blog"), Workspace{}.ExportDir("blog", "20261126103000-abc1234"),
	} {
		if got != "" {
			t.Errorf("invalid input gave path %q", got)
		}
	}
}

// TestRemoveTree removes an export the way the runner does,
// removeTree(ExportDir(...)).
func TestRemoveTree(t *testing.T) {
	w := Workspace{Dir: t.TempDir()}
	const v = "20261126103000-abc1234"
	dir := w.ExportDir("blog", v)
	// What a build may leave: read-only directories and files.
	writeTestFile(t, dir, "pkg/mod/x/y.go", "package y", 0o444)
	os.Chmod(filepath.Join(dir, "pkg/mod/x"), 0o555)
	os.Chmod(filepath.Join(dir, "pkg/mod"), 0o555)
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "keep"), nil, 0o644)
	os.Symlink(outside, filepath.Join(dir, "link"))
	if err := removeTree(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Errorf("export still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(outside, "keep")); err != nil {
		t.Errorf("removal followed a symlink: %v", err)
	}
	if err := removeTree(dir); err != nil {
		t.Errorf("removing a missing export: %v", err)
	}
	// An invalid name gives no dir, and removeTree refuses that.
	for _, bad := range [][2]string{{"../x", v}, {"blog", "../../x"}, {"blog", ""}} {
		if err := removeTree(w.ExportDir(bad[0], bad[1])); err == nil {
			t.Errorf("removing export (%q, %q) accepted", bad[0], bad[1])
		}
	}
	if err := removeTree((Workspace{Dir: "rel"}).ExportDir("blog", v)); err == nil {
		t.Error("relative workspace accepted")
	}
}
