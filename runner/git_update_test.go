package runner

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestMirrorUpdateEqualsExport: an export updated in place by the tree
// diff (Mirror.Update) is the tree a fresh export of the new commit gives,
// through every kind of change: content, mode, deletion of a whole
// directory, directory to file and back, symlink retargeted and turned
// into a file, new nested directories, excluded paths and a directory
// holding only excluded files. The manifest reusing the old hashes for
// untouched files equals a full one.
func TestMirrorUpdateEqualsExport(t *testing.T) {
	repo, _ := newTestRepo(t, map[string]string{
		"a.txt":              "a\n",
		"dir/b.txt":          "b\n",
		"dir/sub/c.txt":      "c\n",
		"exec.sh":            "#!/bin/sh\n",
		"gone/x.txt":         "x\n",
		"gone/y/z.txt":       "z\n",
		"becomes/file.txt":   "f\n",
		"f2d":                "file, then a dir\n",
		"logs/keep.log":      "excluded\n",
		"onlyexcl/x.log":     "excluded\n",
		"same/s.txt":         "unchanged\n",
		"storage/logs/a.txt": "excluded by path\n",
	})
	writeTestFile(t, repo, "link", "a.txt", os.ModeSymlink)
	writeTestFile(t, repo, "link2", "dir/b.txt", os.ModeSymlink)
	c1 := commitAll(t, repo, "links")

	writeTestFile(t, repo, "a.txt", "a changed\n", 0o644)
	writeTestFile(t, repo, "exec.sh", "#!/bin/sh\n", 0o755)
	for _, p := range []string{"gone", "becomes", "f2d", "link2"} {
		if err := os.RemoveAll(filepath.Join(repo, p)); err != nil {
			t.Fatal(err)
		}
	}
	writeTestFile(t, repo, "becomes", "now a file\n", 0o644)
	writeTestFile(t, repo, "f2d/inner.txt", "inner\n", 0o644)
	writeTestFile(t, repo, "link", "dir/b.txt", os.ModeSymlink)
	writeTestFile(t, repo, "link2", "now a file\n", 0o644)
	writeTestFile(t, repo, "new/deep/n.txt", "n\n", 0o644)
	writeTestFile(t, repo, "newlogs/a.log", "excluded\n", 0o644)
	writeTestFile(t, repo, "storage/logs/b.txt", "excluded by path\n", 0o644)
	c2 := commitAll(t, repo, "every kind of change")

	exclude := []string{"*.log", "storage/logs"}
	m := testMirrorIn(t, Workspace{Dir: t.TempDir()}, repo)
	ctx := context.Background()
	ex, _ := CompileExclude(exclude)
	for _, pair := range [][2]string{{c1, c2}, {c2, c1}} {
		from, to := pair[0], pair[1]
		updated := filepath.Join(t.TempDir(), "updated")
		if err := m.Export(ctx, from, updated, exclude); err != nil {
			t.Fatal(err)
		}
		old, err := buildManifest(updated, ex.Match)
		if err != nil {
			t.Fatal(err)
		}
		touched, err := m.Update(ctx, from, to, updated, exclude)
		if err != nil {
			t.Fatal(err)
		}
		fresh := filepath.Join(t.TempDir(), "fresh")
		if err := m.Export(ctx, to, fresh, exclude); err != nil {
			t.Fatal(err)
		}
		want, err := BuildManifest(fresh)
		if err != nil {
			t.Fatal(err)
		}
		got, err := BuildManifest(updated)
		if err != nil {
			t.Fatal(err)
		}
		if got.Hash != want.Hash {
			t.Fatalf("%s..%s: updated tree differs from a fresh export:\n got %+v\nwant %+v", from[:7], to[:7], got.Entries, want.Entries)
		}
		if slices.Contains(touched, "same/s.txt") || slices.Contains(touched, "dir/b.txt") {
			t.Fatalf("untouched files reported touched: %v", touched)
		}
		known := map[string]ManifestEntry{}
		for _, e := range old.Entries {
			known[e.Path] = e
		}
		for _, p := range touched {
			delete(known, p)
		}
		inc, err := buildManifestReusing(updated, ex.Match, known)
		if err != nil {
			t.Fatal(err)
		}
		if inc.Hash != want.Hash {
			t.Fatalf("%s..%s: incremental manifest differs", from[:7], to[:7])
		}
	}
}

// TestMirrorUpdateRefusesSymlinkedDir: a directory of the export replaced
// by a symlink (the export no longer is what Update expects) is never
// written through.
func TestMirrorUpdateRefusesSymlinkedDir(t *testing.T) {
	repo, c1 := newTestRepo(t, map[string]string{"dir/a.txt": "a\n"})
	c2 := commitFiles(t, repo, "change", map[string]string{"dir/a.txt": "changed\n"})
	m := testMirrorIn(t, Workspace{Dir: t.TempDir()}, repo)
	base := t.TempDir()
	dest := filepath.Join(base, "export")
	if err := m.Export(context.Background(), c1, dest, nil); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(base, "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dest, "dir")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dest, "dir")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Update(context.Background(), c1, c2, dest, nil); err == nil {
		t.Fatal("Update wrote through a symlinked directory")
	}
	if ents, _ := os.ReadDir(outside); len(ents) > 0 {
		t.Fatalf("written outside the export: %v", ents)
	}
}
