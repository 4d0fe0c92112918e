package runner

import "strings"

// Quote returns arg as one POSIX sh word that the shell reads back as
// exactly arg, whatever bytes it holds (newlines, quotes, `$(...)`, a
// leading '-'): it is the one quoting function for anything that reaches a
// shell, locally or on a host. A word of harmless characters is returned as
// is, for readable commands in events; anything else is single-quoted:
//
//	it's   ->  'it'\''s'
//	(empty) -> ''
//
// A NUL byte cannot travel in argv or in a shell word: the executors refuse
// a command that holds one (ErrNUL) rather than let it be cut short.
func Quote(arg string) string {
	if arg == "" {
		return "''"
	}
	if isBareWord(arg) {
		return arg
	}
	return "'" + strings.ReplaceAll(arg, "'", `'\''`) + "'"
}

// QuoteCommand quotes each argument with Quote and joins them with spaces:
// the command line an SSH session hands to the login shell. The command
// name is also quoted where the shell would read a bare word as something
// else: a reserved word (if, time, ...) or an assignment (A=b).
func QuoteCommand(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		if i == 0 && (shellKeywords[a] || strings.Contains(a, "=")) {
			b.WriteString("'" + strings.ReplaceAll(a, "'", `'\''`) + "'")
			continue
		}
		b.WriteString(Quote(a))
	}
	return b.String()
}

// shellKeywords are the bare words sh, bash, ksh or zsh read as syntax in
// command position.
var shellKeywords = map[string]bool{
	"case": true, "do": true, "done": true, "elif": true, "else": true, "esac": true, "fi": true,
	"for": true, "if": true, "in": true, "then": true, "until": true, "while": true, "select": true,
	"function": true, "time": true, "coproc": true, "repeat": true, "foreach": true, "end": true,
	"nocorrect": true, "noglob": true,
}

// isBareWord reports whether s means itself to sh, bash and zsh without
// quotes: letters, digits and _ . / - : @ , + =, where '=' is not first
// (zsh expands a leading '=cmd').
func isBareWord(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '_', c == '.', c == '/', c == '-', c == ':', c == '@', c == ',', c == '+':
		case c == '=' && i > 0:
		default:
			return false
		}
	}
	return true
}
