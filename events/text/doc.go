// Package text keeps a sentence meant for a person as a format and its
// arguments (Text), so that it can be written in the reader's language
// where it leaves the program, not where it is made. Its English is
// fmt.Sprintf of the two, byte for byte what the code said before it kept
// formats; another language looks the English format up in a catalog keyed
// by it (golang.org/x/text/message's model) and formats the translation
// with the same arguments, nested Texts rendered in that language too.
//
// It sits under events although it has nothing to do with the log: it is
// the only package below both runner and app (events imports nothing of
// ours), and both make sentences a reader meets: a configuration rule of
// runner/rules.go is the reason of the app's refusal. It imports nothing of
// ours and no catalog: which languages exist and how one is chosen is the
// app's business (app/i18n), which hands a Printer to Text.In.
//
// Every format given to New or Errorf is a literal: the coverage test of
// app/i18n reads them from the source and fails for one without a
// translation. Plain wraps words that are not ours to translate (a git
// error, a host's answer, a name).
package text
