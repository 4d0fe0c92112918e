package projections

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"releasedesk/events"
	"releasedesk/events/catalog"
)

// TestStringDecoding compares the scanner's strings with encoding/json's
// over escapes, HTML escaping (as stored data has it), surrogate pairs and
// random text.
func TestStringDecoding(t *testing.T) {
	cases := []string{
		"", "plain", "a\nb\tc\r\"q\" \\ /", "<script>&</script>", "é ✓ 日本 😀", "\u2028\u2029", "\x00\x01\x1f",
		`\u0041 literally`, "[output truncated: 5 bytes dropped]",
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		var b strings.Builder
		for range r.IntN(40) {
			switch r.IntN(5) {
			case 0:
				b.WriteRune(rune(r.IntN(0x80)))
			case 1:
				b.WriteRune(rune(0x80 + r.IntN(0x800)))
			case 2:
				b.WriteRune(rune(0x10000 + r.IntN(0x1000)))
			default:
				b.WriteString("ab<>&\"\\")
			}
		}
		cases = append(cases, b.String())
	}
	d := newDecoder()
	for _, c := range cases {
		raw, _ := json.Marshal(c)
		canon, err := events.CanonicalData(raw)
		if err != nil {
			t.Fatal(err)
		}
		var want string
		if err := json.Unmarshal(canon, &want); err != nil {
			t.Fatal(err)
		}
		got, ok := d.str(canon, false)
		if !ok || got != want {
			t.Fatalf("%q: got %q (%v), want %q", canon, got, ok, want)
		}
		app, ok := appendString([]byte("x"), canon)
		if !ok || string(app) != "x"+want {
			t.Fatalf("appendString %q: %q", canon, app)
		}
	}
	// A lone surrogate becomes U+FFFD, as encoding/json makes it.
	for _, raw := range []string{`"\ud83d"`, `"\ud83dx"`, `"\ude00\ud83d"`} {
		var want string
		_ = json.Unmarshal([]byte(raw), &want)
		got, _ := d.str([]byte(raw), false)
		if got != want || !utf8.ValidString(got) {
			t.Fatalf("%s: %q, want %q", raw, got, want)
		}
	}
}

func TestPayloadDecoding(t *testing.T) {
	d := newDecoder()
	e := events.Envelope{Type: catalog.TypeDeployPlanned, Data: []byte(`{ "deployment" : "d1", "batches":[["a","b"],[]],"parallel":4,` +
		`"bytes":-12,"files":1e3,"unknown":{"x":[1,2,{"y":"}"}]},"skipped":null,"truncated":true,"project":"p"}`)}
	p, err := d.decode(&e)
	if err != nil {
		t.Fatal(err)
	}
	if p.Deployment != "d1" || len(p.Batches) != 2 || p.Batches[0][1] != "b" || len(p.Batches[1]) != 0 || p.Parallel != 4 ||
		p.Bytes != -12 || p.Files != 1000 || p.Skipped != nil || !p.Truncated || p.Project != "p" {
		t.Fatalf("payload: %+v", p)
	}
	for _, bad := range []string{`[1]`, `{"deployment":1}`, `{"truncated":"yes"}`, `{"a":1`, `{"a" 1}`, `{"hosts":"x"}`, `nope`} {
		e.Data = []byte(bad)
		if _, err := d.decode(&e); err == nil {
			t.Errorf("%s decoded", bad)
		}
	}
	// Interning: equal ids are one string.
	e.Data = []byte(`{"deployment":"same"}`)
	p1, _ := d.decode(&e)
	a := p1.Deployment
	p2, _ := d.decode(&e)
	if a != p2.Deployment || strings.Clone(a) != "same" {
		t.Fatal("intern")
	}
	if HostPortOf("www@10.0.0.5:22") != "10.0.0.5:22" || HostPortOf("web1") != "web1:22" ||
		HostPortOf("deploy@[::1]:2222") != "[::1]:2222" || HostPortOf("local") != "" {
		t.Fatal("HostPortOf")
	}
}
