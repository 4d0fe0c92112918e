package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"releasedesk/app/httpapi"
	"releasedesk/app/httpapi/apitest"
	"releasedesk/events"
	"releasedesk/events/catalog"
)

// The upgrade fixture (testdata/upgrade): a data directory after a full
// release flow, written by the build of commit ff62f15, before the event
// vocabulary moved into one package (make.sh says how it was made), and
// the answers that build gave to a reader's token. Old logs must open and
// read the same with every later build, whatever moves in the code: keep
// this test for every change of the vocabulary, and never remake the
// fixture with a newer build.
var upgradeAnswers = []struct{ file, path string }{
	{"releases.json", "/api/v1/releases"},
	{"versions-test.json", "/api/v1/projects/shop/environments/test/versions"},
	{"versions-production.json", "/api/v1/projects/shop/environments/production/versions"},
	{"verify.json", "/api/v1/audit/verify"},
	{"audit.json", "/api/v1/audit?limit=1000"},
	{"audit.csv", "/api/v1/audit/export?format=csv"},
}

func TestUpgradeFixture(t *testing.T) {
	fixture := filepath.Join("testdata", "upgrade")
	token, err := os.ReadFile(filepath.Join(fixture, "token"))
	if err != nil {
		t.Fatal(err)
	}
	for _, start := range []struct {
		name       string
		checkpoint bool
	}{
		{"from its checkpoint", true},
		{"rebuilt from the log", false},
	} {
		t.Run(start.name, func(t *testing.T) {
			data := t.TempDir()
			untarGz(t, filepath.Join(fixture, "data.tar.gz"), data)
			if !start.checkpoint {
				if err := os.Remove(filepath.Join(data, "projections.checkpoint")); err != nil {
					t.Fatal(err)
				}
			}
			if out, err := exec.Command(sharedBinary(t), "events", "verify", "--data", data).CombinedOutput(); err != nil {
				t.Fatalf("events verify: %v\n%s", err, out)
			}
			app := startApp(t, data)
			reader := &apitest.Caller{T: t, Client: httpapi.Client{Base: app.URL, Token: strings.TrimSpace(string(token))}}
			for _, a := range upgradeAnswers {
				want, err := os.ReadFile(filepath.Join(fixture, a.file))
				if err != nil {
					t.Fatal(err)
				}
				got := reader.Must(http.StatusOK, "GET", a.path, nil).Raw
				if !sameAnswer(t, a.file, want, got) {
					t.Errorf("GET %s differs from %s of the old build:\n%s", a.path, a.file, firstDifference(want, got))
				}
			}
		})
	}
}

// TestUpgradeFixtureFitsTheVocabulary reads the old build's log with this
// build's vocabulary: every event is of a known type, at a schema it
// upcasts to the current one, on a stream its type goes to, and its data
// decodes strictly (no unknown field) into the type's payload.
func TestUpgradeFixtureFitsTheVocabulary(t *testing.T) {
	data := t.TempDir()
	untarGz(t, filepath.Join("testdata", "upgrade", "data.tar.gz"), data)
	store, err := events.Open(filepath.Join(data, "events"), events.Options{ReadOnly: true, Upcasters: catalog.Upcasters()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	seen := map[string]int{}
	err = store.ReadAll(context.Background(), 1, func(e events.Envelope) error {
		s, ok := catalog.SpecOf(e.Type)
		if !ok {
			t.Errorf("position %d: %s is not in the vocabulary", e.Position, e.Type)
			return nil
		}
		seen[e.Type]++
		if e.Schema != s.Schema {
			t.Errorf("position %d: %s read at schema %d, want %d", e.Position, e.Type, e.Schema, s.Schema)
		}
		if !slices.ContainsFunc(s.Streams, func(p string) bool { return strings.HasPrefix(e.Stream, p) }) {
			t.Errorf("position %d: %s on stream %s, not one of %v", e.Position, e.Type, e.Stream, s.Streams)
		}
		dec := json.NewDecoder(bytes.NewReader(e.Data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(reflect.New(s.Payload).Interface()); err != nil {
			t.Errorf("position %d: %s data does not fit %s: %v", e.Position, e.Type, s.Payload.Name(), err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) < 40 {
		t.Errorf("the fixture holds %d event types; it was made with 43", len(seen))
	}
}

// sameAnswer compares two JSON documents by value (the fixture's were
// pretty-printed with sorted keys), anything else byte for byte.
func sameAnswer(t *testing.T, name string, want, got []byte) bool {
	t.Helper()
	if filepath.Ext(name) != ".json" {
		return bytes.Equal(want, got)
	}
	var w, g any
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: the answer is not JSON: %v", name, err)
	}
	return reflect.DeepEqual(w, g)
}

// firstDifference shows where two answers part, as indented JSON where
// they are JSON.
func firstDifference(want, got []byte) string {
	pretty := func(b []byte) []string {
		var v any
		if json.Unmarshal(b, &v) == nil {
			b, _ = json.MarshalIndent(v, "", "  ")
		}
		return strings.Split(string(b), "\n")
	}
	w, g := pretty(want), pretty(got)
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + strconv.Itoa(i+1) + ":\n  want " + wl + "\n  got  " + gl
		}
	}
	return "(no line differs)"
}

// untarGz unpacks a .tar.gz of regular files and directories into dir.
func untarGz(t *testing.T, archive, dir string) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(p, dir+string(filepath.Separator)) {
			t.Fatalf("%s: %q leaves the directory", archive, h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, 0o700)
		case tar.TypeReg:
			var out *os.File
			if out, err = os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, os.FileMode(h.Mode)&0o777); err == nil {
				_, err = io.Copy(out, tr)
				if cerr := out.Close(); err == nil {
					err = cerr
				}
			}
		default:
			t.Fatalf("%s: %q is neither a file nor a directory", archive, h.Name)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}
