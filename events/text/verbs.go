package text

import (
	"strconv"
	"strings"
)

// Verb is one directive of a format: the argument it formats (1-based) and
// its verb letter. A width or precision given as '*' takes an argument too,
// listed with verb '*'.
type Verb struct {
	Arg  int
	Verb rune
	at   int // byte offset of the verb letter
}

// Verbs lists the directives of a format in order, as fmt reads them
// (flags, [n] indexes, '*' widths and precisions; "%%" is none).
func Verbs(format string) []Verb {
	var out []Verb
	next := 1
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		i++
		for i < len(format) && strings.IndexByte("+-# 0", format[i]) >= 0 {
			i++
		}
		// index, width, '.', index, precision, index: each part optional.
		index := func() {
			if i < len(format) && format[i] == '[' {
				if j := strings.IndexByte(format[i:], ']'); j > 0 {
					if n, err := strconv.Atoi(format[i+1 : i+j]); err == nil {
						next = n
					}
					i += j + 1
				}
			}
		}
		number := func() {
			index()
			if i < len(format) && format[i] == '*' {
				out = append(out, Verb{Arg: next, Verb: '*', at: i})
				next++
				i++
				return
			}
			for i < len(format) && format[i] >= '0' && format[i] <= '9' {
				i++
			}
		}
		number()
		if i < len(format) && format[i] == '.' {
			i++
			number()
		}
		index()
		if i >= len(format) {
			break
		}
		if format[i] == '%' {
			continue
		}
		out = append(out, Verb{Arg: next, Verb: rune(format[i]), at: i})
		next++
	}
	return out
}

// Key is format as a catalog knows it and as fmt.Sprintf takes it: a %w
// (which only Errorf understands) reads %v.
func Key(format string) string {
	if !strings.Contains(format, "w") {
		return format
	}
	b := []byte(format)
	for _, v := range Verbs(format) {
		if v.Verb == 'w' {
			b[v.at] = 'v'
		}
	}
	return string(b)
}
