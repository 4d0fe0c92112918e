package text

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
)

// upper is a Printer of a pretend language: it translates one format and
// shouts everything it writes, so a test sees which parts went through it.
type upper struct{ catalog map[string]string }

func (u upper) Sprintf(format string, args ...any) string {
	if tr, ok := u.catalog[format]; ok {
		format = tr
	}
	return strings.ToUpper(fmt.Sprintf(format, args...))
}

func TestEnglishIsSprintf(t *testing.T) {
	for _, c := range []struct {
		t    Text
		want string
	}{
		{New("is required"), "is required"},
		{New("50%% of %d", 8), "50% of 8"},
		{New("no release %q", "4"), `no release "4"`},
		{New("%s: %v", New("inner %d", 1), errors.New("plain")), "inner 1: plain"},
		{New("at %[2]s of %[1]s", "a", "b"), "at b of a"},
		{Plain("100% git's words"), "100% git's words"},
		{Text{}, ""},
	} {
		if got := c.t.String(); got != c.want {
			t.Errorf("%#v: %q, want %q", c.t, got, c.want)
		}
		if got := c.t.In(nil); got != c.want {
			t.Errorf("%#v in English: %q, want %q", c.t, got, c.want)
		}
	}
}

func TestInRendersNestedTexts(t *testing.T) {
	p := upper{catalog: map[string]string{"outer %s (%d)": "(%[2]d) outer %[1]s"}}
	inner := Errorf("inner %s", "x")
	got := New("outer %s (%d)", inner, 1234567).In(p)
	// The nested error went through p (upper-cased inside the outer
	// format), and the number kept its English digits.
	if got != "(1234567) OUTER INNER X" {
		t.Fatalf("got %q", got)
	}
	if got := New("%v", Plain("git says")).In(p); got != "GIT SAYS" {
		t.Fatalf("plain: %q", got)
	}
}

func TestErrorfIsFmtErrorf(t *testing.T) {
	base := io.ErrUnexpectedEOF
	for _, c := range []struct {
		format string
		args   []any
	}{
		{"read %s: %w", []any{"x", base}},
		{"%w: and %w", []any{base, io.EOF}},
		{"no wrap %d", []any{3}},
	} {
		got := Errorf(c.format, c.args...)
		want := fmt.Errorf(c.format, c.args...)
		if got.Error() != want.Error() {
			t.Errorf("%q: %q, want %q", c.format, got, want)
		}
		if errors.Is(got, base) != errors.Is(want, base) || errors.Is(got, io.EOF) != errors.Is(want, io.EOF) {
			t.Errorf("%q: wraps differently from fmt.Errorf", c.format)
		}
		if Of(got).String() != want.Error() {
			t.Errorf("%q: Of gives %q", c.format, Of(got))
		}
	}
	if Of(base).String() != base.Error() || Of(nil).String() != "" {
		t.Fatal("Of of a plain error")
	}
}

func TestVerbs(t *testing.T) {
	type v struct {
		arg  int
		verb rune
	}
	for _, c := range []struct {
		format string
		want   []v
	}{
		{"none", nil},
		{"100%% %s", []v{{1, 's'}}},
		{"%q is %d: %w", []v{{1, 'q'}, {2, 'd'}, {3, 'w'}}},
		{"%[3]s %[1]s %s", []v{{3, 's'}, {1, 's'}, {2, 's'}}},
		{"%-8.2f %*d %#x", []v{{1, 'f'}, {2, '*'}, {3, 'd'}, {4, 'x'}}},
		{"%+v%", []v{{1, 'v'}}},
	} {
		var got []v
		for _, x := range Verbs(c.format) {
			got = append(got, v{x.Arg, x.Verb})
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: %v, want %v", c.format, got, c.want)
		}
	}
	if k := Key("a %w b %[1]w"); k != "a %v b %[1]v" {
		t.Fatalf("Key: %q", k)
	}
}

func TestJSONIsTheEnglish(t *testing.T) {
	b, err := New("want %d", 3).MarshalJSON()
	if err != nil || string(b) != `"want 3"` {
		t.Fatalf("%s %v", b, err)
	}
	var back Text
	if err := back.UnmarshalJSON([]byte(`"50% done"`)); err != nil || back.String() != "50% done" {
		t.Fatalf("%q %v", back, err)
	}
}

func TestGlossIsEnglishAsItStands(t *testing.T) {
	g := Gloss("events: disk full (12.0 MiB)", New("the disk is full"))
	if g.String() != "events: disk full (12.0 MiB)" || g.In(nil) != g.String() {
		t.Fatalf("English: %q", g)
	}
	p := upper{catalog: map[string]string{"the disk is full": "disk: full"}}
	if got := g.In(p); got != "DISK: FULL" {
		t.Fatalf("another language: %q", got)
	}
	if got := New("refused: %s", g).String(); got != "refused: events: disk full (12.0 MiB)" {
		t.Fatalf("nested English: %q", got)
	}
}
