package runner

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ManifestPath is <Dir>/manifests/<project>/<version>.json, the manifest
// of a version as it was exported: delta staging compares a host's
// previous release with the new one through it. "" for an invalid
// project id, version id or workspace.
func (w Workspace) ManifestPath(project, version string) string {
	if w.validate() != nil || ValidateProjectID(project) != nil || ValidateVersion(version) != nil {
		return ""
	}
	return filepath.Join(w.Dir, "manifests", project, version+".json")
}

// SaveManifest keeps m as the manifest of project's version (written to a
// temporary file, then renamed).
func (w Workspace) SaveManifest(project, version string, m Manifest) error {
	p := w.ManifestPath(project, version)
	if p == "" {
		return errors.New("save manifest: invalid workspace, project or version")
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), "."+version+".*.tmp")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("save manifest: %w", err)
	}
	return nil
}

// LoadManifest reads the kept manifest of project's version; it checks
// the manifest's hash, so a damaged file is never trusted.
func (w Workspace) LoadManifest(project, version string) (Manifest, error) {
	p := w.ManifestPath(project, version)
	if p == "" {
		return Manifest{}, errors.New("load manifest: invalid workspace, project or version")
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return Manifest{}, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return Manifest{}, fmt.Errorf("load manifest %s: %w", p, err)
	}
	if m.computeHash() != m.Hash {
		return Manifest{}, fmt.Errorf("load manifest %s: hash does not match its entries", p)
	}
	return m, nil
}

// maxDeltaRemoveBytes bounds the paths a delta staging removes and the
// directories its tar transfer makes (DeltaPlan.Dirs), together: both
// travel in one remote command line (Layout.Receive; a shell argument has
// 128 KiB at most). A change that large gains little from a delta anyway.
const maxDeltaRemoveBytes = 64 << 10

// DeltaPlan is what a delta staging does to a copy of the previous
// release: Remove these paths (in order), then send these (Send, sorted).
// Dirs are the directories the sent paths need (the directories of Send
// and the parents of its other entries), without those that are a parent
// of another: a tar transfer makes them (Layout.Receive) after
// checking that none leads through a symlink.
type DeltaPlan struct {
	Remove []string
	Send   []string
	Dirs   []string
}

// PlanDelta compares the previous release's manifest with the new one.
// Removed: deployTime (what Finalize writes: REVISION, version files,
// shared paths) first, then every path of old that is gone or differs in
// new (kind, mode, size, content, link target). Sent: every path of new
// that is not in old, differs, or lies at or under a removed path. ok is
// false when a delta cannot be made safely (a path that does not
// validate, or too many to remove): stage in full then.
func PlanDelta(old, new Manifest, deployTime []string) (plan DeltaPlan, ok bool) {
	removed := map[string]bool{}
	size := 0
	under := func(p string) bool {
		for q := p; ; {
			if removed[q] {
				return true
			}
			i := strings.LastIndexByte(q, '/')
			if i < 0 {
				return false
			}
			q = q[:i]
		}
	}
	add := func(p string) bool {
		if ValidateRelPath(p) != nil {
			return false
		}
		if !under(p) {
			removed[p] = true
			plan.Remove = append(plan.Remove, p)
			size += len(p) + 3
		}
		return true
	}
	for _, p := range deployTime {
		if !add(p) {
			return DeltaPlan{}, false
		}
	}
	newer := make(map[string]ManifestEntry, len(new.Entries))
	for _, e := range new.Entries {
		newer[e.Path] = e
	}
	older := make(map[string]ManifestEntry, len(old.Entries))
	for _, e := range old.Entries {
		older[e.Path] = e
		if n, found := newer[e.Path]; !found || compareEntry(n, e) != "" {
			if !add(e.Path) {
				return DeltaPlan{}, false
			}
		}
	}
	if size > maxDeltaRemoveBytes {
		return DeltaPlan{}, false
	}
	dirs := map[string]bool{}
	for _, n := range new.Entries {
		o, found := older[n.Path]
		if !found || compareEntry(n, o) != "" || under(n.Path) {
			if ValidateRelPath(n.Path) != nil {
				return DeltaPlan{}, false
			}
			plan.Send = append(plan.Send, n.Path)
			if n.Mode.IsDir() {
				dirs[n.Path] = true
			} else if i := strings.LastIndexByte(n.Path, '/'); i > 0 {
				dirs[n.Path[:i]] = true
			}
		}
	}
	plan.Dirs = leafDirs(dirs)
	for _, d := range plan.Dirs {
		size += len(d) + 3
	}
	if size > maxDeltaRemoveBytes {
		return DeltaPlan{}, false
	}
	return plan, true
}

// leafDirs returns the paths of set that are no parent of another, sorted.
func leafDirs(set map[string]bool) []string {
	parent := map[string]bool{}
	for d := range set {
		for i := strings.LastIndexByte(d, '/'); i > 0; i = strings.LastIndexByte(d[:i], '/') {
			parent[d[:i]] = true
		}
	}
	var out []string
	for d := range set {
		if !parent[d] {
			out = append(out, d)
		}
	}
	sort.Strings(out)
	return out
}

// deployTimePaths are the paths Finalize writes into a release.
func deployTimePaths(versionFiles, shared []string) []string {
	ps := append([]string{"REVISION"}, versionFiles...)
	for _, s := range shared {
		_, p := SharedKind(s)
		ps = append(ps, p)
	}
	return ps
}

// writeFilesFrom writes paths NUL-separated (rsync --from0 --files-from)
// into a new file in dir and returns its path.
func writeFilesFrom(dir string, paths []string) (string, error) {
	f, err := os.CreateTemp(dir, "files-*")
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, p := range paths {
		b.WriteString(p)
		b.WriteByte(0)
	}
	_, err = f.WriteString(b.String())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}
