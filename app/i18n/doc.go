// Package i18n writes the server's own sentences (refusals, warnings) in
// the reader's language. The sentences are text.Text (events/text): an
// English format and its arguments. zh-CN.json maps each English format to
// its Chinese one, a file a translator can read; it is loaded into
// golang.org/x/text's catalog at start, and the language a request asks
// for (Accept-Language, which the UI sets to its user's choice) picks the
// printer. English is the formats themselves: nothing to look up.
//
// The coverage test (coverage_test.go) reads every format given to
// text.New and text.Errorf in the source and fails for one without a
// translation, for a translation whose placeholders differ from the
// English, and for a translation no code uses any more: see
// docs/translating.md.
package i18n
