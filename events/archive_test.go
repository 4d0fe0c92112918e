package events

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// exportLines exports a 100-event log and returns the file's lines (line 1
// is the header, line k+1 holds position k) and the log.
func exportLines(t *testing.T, opts ExportOptions) ([]string, *MemStore) {
	t.Helper()
	l := NewMemStore(Options{Now: tickClock()})
	t.Cleanup(func() { l.Close() })
	appendSample(t, l, 100)
	path := exportTo(t, l, filepath.Join(t.TempDir(), "src.jsonl"), opts)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n"), l
}

func writeLines(t *testing.T, lines []string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tampered.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// unchanged fails the test if the file at path changed since snap was taken.
func snapshotFile(t *testing.T, path string) func() {
	t.Helper()
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		after, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		fi2, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(before, after) || !fi.ModTime().Equal(fi2.ModTime()) || fi.Mode() != fi2.Mode() {
			t.Fatal("the archive file was modified")
		}
	}
}

func TestVerifyArchiveTampered(t *testing.T) {
	cases := []struct {
		name    string
		tamper  func(l []string) []string
		wantPos uint64
		kind    string
	}{
		{"one byte of data", func(l []string) []string {
			if !strings.Contains(l[42], "step 41") {
				t.Fatalf("line 43 lacks its note: %s", l[42])
			}
			l[42] = strings.Replace(l[42], "step 41", "stEp 41", 1)
			return l
		}, 42, KindEdited},
		{"actor", func(l []string) []string {
			l[7] = strings.Replace(l[7], `"actor":"alice <ops>"`, `"actor":"alice"`, 1)
			return l
		}, 7, KindEdited},
		{"line deleted", func(l []string) []string { return append(l[:42:42], l[43:]...) }, 42, KindMissing},
		{"first event deleted", func(l []string) []string { return append(l[:1:1], l[2:]...) }, 1, KindMissing},
		{"lines swapped", func(l []string) []string {
			l[42], l[43] = l[43], l[42]
			return l
		}, 42, KindReordered},
		{"tail dropped", func(l []string) []string { return l[:len(l)-3] }, 98, KindLostTail},
		{"all events dropped", func(l []string) []string { return l[:1] }, 1, KindLostTail},
		{"header head changed", func(l []string) []string {
			l[0] = strings.Replace(l[0], `"last_hash":"`, `"last_hash":"00`, 1)
			return l
		}, 100, KindLostTail},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lines, _ := exportLines(t, ExportOptions{})
			path := writeLines(t, tc.tamper(lines))
			unchanged := snapshotFile(t, path)
			defer unchanged()

			rep, err := VerifyArchive(path)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() || rep.Problem.Position != tc.wantPos || rep.Problem.Kind != tc.kind {
				t.Fatalf("got %+v, want %s at %d", rep.Problem, tc.kind, tc.wantPos)
			}

			arch, rep2, err := OpenArchive(path, OpenArchiveOptions{})
			if arch != nil || !errors.Is(err, ErrChainBroken) {
				t.Fatalf("OpenArchive: %v, %v", arch, err)
			}
			var p *Problem
			if !errors.As(err, &p) || *p != *rep.Problem || rep2.Problem == nil || *rep2.Problem != *rep.Problem {
				t.Fatalf("OpenArchive error %v, report %+v", err, rep2)
			}
			t.Log(err)
		})
	}
}

func TestVerifyArchiveFilteredTampered(t *testing.T) {
	keep := ExportOptions{Filter: func(e Envelope) bool { return e.Position%2 == 0 }}
	t.Run("sound", func(t *testing.T) {
		lines, _ := exportLines(t, keep)
		if rep, err := VerifyArchive(writeLines(t, lines)); err != nil || !rep.OK() {
			t.Fatalf("%v %+v", err, rep.Problem)
		}
	})
	t.Run("edited", func(t *testing.T) {
		lines, _ := exportLines(t, keep)
		lines[5] = strings.Replace(lines[5], "step", "stEp", 1) // position 10
		rep, err := VerifyArchive(writeLines(t, lines))
		if err != nil || rep.OK() || rep.Problem.Position != 10 || rep.Problem.Kind != KindEdited {
			t.Fatalf("%v %+v", err, rep.Problem)
		}
	})
	t.Run("line deleted", func(t *testing.T) {
		lines, _ := exportLines(t, keep)
		lines = append(lines[:5:5], lines[6:]...)
		rep, err := VerifyArchive(writeLines(t, lines))
		if err != nil || rep.OK() || rep.Problem.Kind != KindMissing {
			t.Fatalf("%v %+v", err, rep.Problem)
		}
	})
}

func TestReadArchiveBadInput(t *testing.T) {
	lines, _ := exportLines(t, ExportOptions{})
	whole := strings.Join(lines, "\n") + "\n"
	with := func(i int, s string) string {
		l := append([]string(nil), lines...)
		l[i] = s
		return strings.Join(l, "\n") + "\n"
	}
	cases := []struct {
		name    string
		content string
		want    []string // substrings of the error
	}{
		{"corrupt json", with(4, lines[4][:40]+"}"), []string{"line 5", "bad event"}},
		{"truncated", whole[:len(whole)-30], []string{"line 101", "truncated"}},
		{"empty", "", []string{"empty file"}},
		{"missing header", strings.Join(lines[1:], "\n") + "\n", []string{"line 1", "missing header"}},
		{"header not an object", with(0, `[1,2]`), []string{"line 1", "bad JSON"}},
		{"unknown format", with(0, strings.Replace(lines[0], ArchiveFormat, "other-events", 1)), []string{"line 1", `unknown format "other-events"`}},
		{"unknown version", with(0, strings.Replace(lines[0], `"format_version":1`, `"format_version":2`, 1)), []string{"line 1", "format version 2"}},
		{"unknown header field", with(0, strings.Replace(lines[0], `{`, `{"signed_by":"x",`, 1)), []string{"line 1", `unknown field "signed_by"`}},
		{"unknown event field", with(9, strings.Replace(lines[9], `{`, `{"extra":1,`, 1)), []string{"line 10", `unknown field "extra"`}},
		{"blank line", with(9, ""), []string{"line 10", "empty line"}},
		{"two values", with(9, lines[9]+" {}"), []string{"line 10", "more than one JSON value"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.jsonl")
			if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			unchanged := snapshotFile(t, path)
			defer unchanged()
			_, err := VerifyArchive(path)
			checkBadArchive(t, err, tc.want)
			arch, _, err := OpenArchive(path, OpenArchiveOptions{})
			if arch != nil {
				t.Fatal("OpenArchive served a bad file")
			}
			checkBadArchive(t, err, tc.want)
		})
	}
}

func checkBadArchive(t *testing.T, err error, want []string) {
	t.Helper()
	if !errors.Is(err, ErrBadArchive) {
		t.Fatalf("got %v, want ErrBadArchive", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("error %q lacks %q", err, w)
		}
	}
}

func TestOpenArchiveNotAFile(t *testing.T) {
	dir := t.TempDir()
	_, err := VerifyArchive(dir)
	checkBadArchive(t, err, []string{"directory"})
	_, _, err = OpenArchive(dir, OpenArchiveOptions{})
	checkBadArchive(t, err, []string{"directory"})

	_, err = VerifyArchive(filepath.Join(dir, "absent.jsonl"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v, want not-exist", err)
	}
}

func TestOpenArchiveReadOnly(t *testing.T) {
	lines, _ := exportLines(t, ExportOptions{})
	path := writeLines(t, lines)
	unchanged := snapshotFile(t, path)
	defer unchanged()
	arch, _, err := OpenArchive(path, OpenArchiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer arch.Close()
	ev, _ := NewEvent("release.noted", "mallory", map[string]any{})
	if _, err := arch.Append(context.Background(), "release/42", AnyVersion, ev); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Append on an archive: %v", err)
	}
	if arch.Head().Position != 100 {
		t.Fatalf("head %+v", arch.Head())
	}
}
