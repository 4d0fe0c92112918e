package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"releasedesk/events/catalog"
)

// TestRunKeptExport: a project's last export is kept and the next
// deployment starts from it (the same version as is, another updated by
// the tree diff); one changed since it was listed (here a stray file) is
// not trusted and the commit is exported in full. Every release is the
// commit's tree either way.
func TestRunKeptExport(t *testing.T) {
	h := newRunHarness(t, runHarnessOpts{strategy: catalog.StrategyLocal, files: 20})
	hosts := h.targets()
	c1 := h.head()
	v1 := h.versionOf(c1)
	h.mustSucceed(catalog.KindDeploy, c1, v1)
	h.checkHosts(hosts, v1, c1, h.manifestOf(c1))

	c2 := h.commit(map[string]string{"dir0/file000.txt": "changed\n", "newdir/new.txt": "new\n"})
	v2 := h.versionOf(c2)
	id2 := h.mustSucceed(catalog.KindDeploy, c2, v2)
	h.checkHosts(hosts, v2, c2, h.manifestOf(c2))
	if out := h.stepOutput(id2, "", "export"); !strings.Contains(out, "updated the export of "+v1) {
		t.Fatalf("v2 was not updated from v1's export: %q", out)
	}

	// Someone writes into the kept export: it is exported anew.
	kept := h.ws.ExportDir(h.p.ID, v2)
	if err := os.WriteFile(filepath.Join(kept, "stray.txt"), []byte("not in any commit\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c3 := h.commit(map[string]string{"dir1/file001.txt": "changed too\n"})
	v3 := h.versionOf(c3)
	id3 := h.mustSucceed(catalog.KindDeploy, c3, v3)
	h.checkHosts(hosts, v3, c3, h.manifestOf(c3))
	if out := h.stepOutput(id3, "", "export"); !strings.Contains(out, "changed since it was listed") {
		t.Fatalf("a changed kept export was reused: %q", out)
	}
	if _, err := os.Stat(kept); !os.IsNotExist(err) {
		t.Fatalf("the untrusted export is left: %v", err)
	}

	// The same version again (another environment, a redeploy): as is.
	id4 := h.mustSucceed(catalog.KindDeploy, c3, v3)
	if out := h.stepOutput(id4, "", "export"); !strings.Contains(out, "reusing the export of "+v3) {
		t.Fatalf("the same version was not reused: %q", out)
	}
	h.checkHosts(hosts, v3, c3, h.manifestOf(c3))
}
