package text

import "fmt"

// Error is an error whose message is a Text: Error() is the English, as
// fmt.Errorf would write it, and Text() the format and arguments to render
// it in another language. A %w wraps as with fmt.Errorf.
type Error struct {
	text    Text
	msg     string
	wrapped []error
}

// Errorf is fmt.Errorf that keeps its format and arguments; format must be
// a literal (see the package doc).
func Errorf(format string, args ...any) error {
	f := fmt.Errorf(format, args...)
	e := &Error{text: New(format, args...), msg: f.Error()}
	switch u := f.(type) {
	case interface{ Unwrap() []error }:
		e.wrapped = u.Unwrap()
	case interface{ Unwrap() error }:
		e.wrapped = []error{u.Unwrap()}
	}
	return e
}

func (e *Error) Error() string   { return e.msg }
func (e *Error) Text() Text      { return e.text }
func (e *Error) Unwrap() []error { return e.wrapped }

// Of is the message of err as a Text: its English is err.Error() to the
// byte, and in another language err renders its own Text if it carries one
// (Texter), else reads as its English (the words of git, a host, the Go
// library). Only err itself is asked, not what it wraps: a wrapper's words
// would be lost.
func Of(err error) Text {
	if err == nil {
		return Text{}
	}
	return Text{Format: "%s", Args: []any{err}}
}
