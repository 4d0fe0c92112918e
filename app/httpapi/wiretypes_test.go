package httpapi

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gzuidhof/tygo/config"
	"github.com/gzuidhof/tygo/tygo"
)

// unmapped is how tygo writes a type of another package that tygo.yaml
// does not map: the field would be typed unknown in the frontend.
var unmapped = regexp.MustCompile(`unknown /\* \w+\.\w+ \*/`)

// TestWireTypes holds the frontend's generated types of the API's JSON
// (frontend/src/lib/wire/) to the Go types they come from: it runs the
// generator as `make wire` does (tygo.yaml at the repository root), into a
// temporary directory, and fails, naming the file, where the committed
// output differs. Changing a wire type without `make wire` fails here.
func TestWireTypes(t *testing.T) {
	root := filepath.Join("..", "..")
	cfgPath := filepath.Join(root, "tygo.yaml")
	if _, err := os.Stat(cfgPath); err != nil {
		t.Fatal(err)
	}
	cfg := config.ReadFromFilepath(cfgPath) // as `go tool tygo generate` reads it

	// Each package's file, as committed, and where it is generated now.
	tmp := t.TempDir()
	committed := map[string]string{} // generated path -> committed path
	generates := map[string]bool{}   // committed paths
	dirs := map[string]bool{}
	for _, pc := range cfg.Packages {
		if !strings.HasSuffix(pc.OutputPath, ".ts") {
			t.Fatalf("tygo.yaml: %s: output_path %q: want a .ts file", pc.Path, pc.OutputPath)
		}
		dst := filepath.Join(tmp, strings.ReplaceAll(pc.Path, "/", "_")+".ts")
		committed[dst] = pc.OutputPath
		generates[filepath.ToSlash(pc.OutputPath)] = true
		dirs[filepath.Dir(pc.OutputPath)] = true
		pc.OutputPath = dst
	}
	if err := tygo.New(&cfg).Generate(); err != nil {
		t.Fatalf("tygo: %v", err)
	}

	for dst, path := range committed {
		got, err := os.ReadFile(dst)
		if err != nil {
			t.Fatalf("tygo wrote no %s: %v", path, err)
		}
		for _, m := range unmapped.FindAll(got, -1) {
			t.Errorf("%s: %s: map that type in tygo.yaml (and import its file in the frontmatter)", path, m)
		}
		want, err := os.ReadFile(filepath.Join(root, path))
		if err != nil {
			t.Errorf("%s: %v; run `make wire` and commit it", path, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: %s; run `make wire` and commit it", path, firstDifference(want, got))
		}
	}

	// A file no package generates any more (a package dropped from
	// tygo.yaml) must go too.
	for dir := range dirs {
		entries, err := os.ReadDir(filepath.Join(root, dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if path := filepath.ToSlash(filepath.Join(dir, e.Name())); !generates[path] {
				t.Errorf("%s: no package of tygo.yaml generates it; run `make wire`", path)
			}
		}
	}
}

// firstDifference says where committed and generated first differ.
func firstDifference(committed, generated []byte) string {
	c, g := strings.Split(string(committed), "\n"), strings.Split(string(generated), "\n")
	for i := 0; i < max(len(c), len(g)); i++ {
		line := func(ls []string) string {
			if i < len(ls) {
				return fmt.Sprintf("%q", ls[i])
			}
			return "(end of file)"
		}
		if a, b := line(c), line(g); a != b {
			return fmt.Sprintf("line %d is %s, the Go types give %s", i+1, a, b)
		}
	}
	return "they differ"
}
