package runner

import (
	"strings"

	"releasedesk/events/text"
)

// ruleError is a refusal by one of the runner's validators, given as a
// rule's reason: its text without the package's "runner: " prefix, still
// wrapping what it came from (errors.Is(err, ErrBadPath) holds).
// In another language its words are err's (Text): the translations of the
// runner's sentinels ("runner: bad path") have no prefix to cut.
type ruleError struct{ err error }

func (e ruleError) Error() string   { return strings.TrimPrefix(e.err.Error(), "runner: ") }
func (e ruleError) Unwrap() error   { return e.err }
func (e ruleError) Text() text.Text { return text.Of(e.err) }

// Reason is a refusal of a rule or validator of this package as a rule's
// reason, the field named by the caller: without the package's prefix, in
// every language.
func Reason(err error) text.Text { return text.Of(ruleError{err}) }
