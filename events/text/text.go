package text

import (
	"encoding/json"
	"fmt"
)

// Text is a sentence as a format and its arguments. Its zero value is the
// empty sentence.
type Text struct {
	Format string
	Args   []any
}

// New keeps format and args for rendering later; format must be a literal
// (see the package doc).
func New(format string, args ...any) Text { return Text{Format: format, Args: args} }

// Plain is a text that is not ours to translate: it reads the same in
// every language.
func Plain(s string) Text { return Text{Format: "%s", Args: []any{s}} }

// IsZero reports whether t says nothing.
func (t Text) IsZero() bool { return t.Format == "" && len(t.Args) == 0 }

// String is the English: fmt.Sprintf of the format and the arguments (a
// %w, which Errorf allows, reads as %v).
func (t Text) String() string {
	return fmt.Sprintf(Key(t.Format), t.Args...)
}

// Printer writes a format in one language: it looks the format up in its
// catalog and formats what it finds (or the format itself) with args.
// app/i18n makes them from golang.org/x/text/message.
type Printer interface {
	Sprintf(format string, args ...any) string
}

// In renders t with p; a nil p is English (String). Arguments that are
// Texts, or carry one (Texter: the errors of Errorf, the app's refusals),
// are rendered with p first.
func (t Text) In(p Printer) string {
	if p == nil {
		return t.String()
	}
	args := make([]any, len(t.Args))
	for i, a := range t.Args {
		args[i] = arg(a, p)
	}
	return p.Sprintf(Key(t.Format), args...)
}

// Texter is what carries a Text: the errors of Errorf, and any error that
// wants its message rendered in the reader's language when it is an
// argument of another Text.
type Texter interface {
	Text() Text
}

// arg prepares one argument for p: nested texts rendered in its language,
// numbers kept as English writes them (x/text's printer would group their
// digits, and ours are counts, positions, line numbers and limits that
// should read the same in every language).
func arg(a any, p Printer) any {
	switch v := a.(type) {
	case Text:
		return v.In(p)
	case Texter:
		return v.Text().In(p)
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		return verbatim{v}
	}
	return a
}

// verbatim formats a number as fmt does, whatever the printer.
type verbatim struct{ v any }

func (n verbatim) Format(f fmt.State, verb rune) { fmt.Fprintf(f, fmt.FormatString(f, verb), n.v) }

// MarshalJSON writes the English, so a Text in a JSON answer reads as the
// string it replaced; app/httpapi renders it in the reader's language
// before it is sent.
func (t Text) MarshalJSON() ([]byte, error) { return json.Marshal(t.String()) }

// UnmarshalJSON reads a string (a client reading an answer back) as Plain.
func (t *Text) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*t = Plain(s)
	return nil
}

// Gloss is words whose English is english as it stands (a library's or
// another package's own sentence) and which other languages read as gist:
// a translatable sentence that says what english means, with the names
// and positions worth keeping. gist's English is never shown.
func Gloss(english string, gist Text) Text {
	return Text{Format: "%s", Args: []any{glossed{english, gist}}}
}

type glossed struct {
	english string
	gist    Text
}

func (g glossed) String() string { return g.english }
func (g glossed) Text() Text     { return g.gist }
