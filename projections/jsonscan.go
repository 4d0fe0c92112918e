package projections

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"releasedesk/events"
)

// A small JSON reader for the fold's hot path. Stored event data is valid,
// compact JSON (events.CanonicalData checks it on append), so these helpers
// walk it in place instead of decoding it reflectively: a replay reads a
// million payloads, and encoding/json's reflection was most of that time.
// Anything they do not understand makes them report false; callers then
// skip the payload (or fall back to encoding/json where noted).

// eachMember calls fn with each key and raw value of the JSON object in
// data, until fn returns false. It reports whether data was an object it
// could walk to its end. Keys with escapes are compared unescaped.
func eachMember(data []byte, fn func(key, val []byte) bool) bool {
	i := events.SkipJSONSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	i = events.SkipJSONSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return true
	}
	var keyBuf []byte
	for {
		if i >= len(data) || data[i] != '"' {
			return false
		}
		end := events.SkipJSONValue(data, i)
		if end < 0 {
			return false
		}
		key := data[i+1 : end-1]
		if hasEscape(key) {
			var ok bool
			if keyBuf, ok = appendUnquoted(keyBuf[:0], key); !ok {
				return false
			}
			key = keyBuf
		}
		i = events.SkipJSONSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return false
		}
		i = events.SkipJSONSpace(data, i+1)
		end = events.SkipJSONValue(data, i)
		if end < 0 {
			return false
		}
		if !fn(key, data[i:end]) {
			return true
		}
		i = events.SkipJSONSpace(data, end)
		if i >= len(data) {
			return false
		}
		switch data[i] {
		case '}':
			return true
		case ',':
			i = events.SkipJSONSpace(data, i+1)
		default:
			return false
		}
	}
}

// eachElement calls fn with each raw element of the JSON array in data. It
// reports whether data was an array it could walk (null counts as empty).
func eachElement(data []byte, fn func(val []byte) bool) bool {
	i := events.SkipJSONSpace(data, 0)
	if isNull(data[i:]) {
		return true
	}
	if i >= len(data) || data[i] != '[' {
		return false
	}
	i = events.SkipJSONSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return true
	}
	for {
		end := events.SkipJSONValue(data, i)
		if end < 0 {
			return false
		}
		if !fn(data[i:end]) {
			return true
		}
		i = events.SkipJSONSpace(data, end)
		if i >= len(data) {
			return false
		}
		switch data[i] {
		case ']':
			return true
		case ',':
			i = events.SkipJSONSpace(data, i+1)
		default:
			return false
		}
	}
}

func isNull(v []byte) bool { return len(v) == 4 && string(v) == "null" }

func hasEscape(b []byte) bool {
	for _, c := range b {
		if c == '\\' {
			return true
		}
	}
	return false
}

// stringBody returns the bytes between a JSON string's quotes (still
// escaped) and whether v is a string.
func stringBody(v []byte) ([]byte, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return nil, false
	}
	return v[1 : len(v)-1], true
}

// appendString appends the text of JSON string v to dst. null appends
// nothing; anything else reports false.
func appendString(dst, v []byte) ([]byte, bool) {
	if isNull(v) {
		return dst, true
	}
	body, ok := stringBody(v)
	if !ok {
		return dst, false
	}
	if !hasEscape(body) {
		return append(dst, body...), true
	}
	return appendUnquoted(dst, body)
}

// appendUnquoted appends the unescaped form of a string body.
func appendUnquoted(dst, body []byte) ([]byte, bool) {
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c != '\\' {
			// Copy the run up to the next escape at once.
			j := i + 1
			for j < len(body) && body[j] != '\\' {
				j++
			}
			dst = append(dst, body[i:j]...)
			i = j - 1
			continue
		}
		i++
		if i >= len(body) {
			return dst, false
		}
		switch body[i] {
		case '"', '\\', '/':
			dst = append(dst, body[i])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(body[i+1:])
			if !ok {
				return dst, false
			}
			i += 4
			if utf16.IsSurrogate(r) {
				if i+6 < len(body) && body[i+1] == '\\' && body[i+2] == 'u' {
					if r2, ok := hex4(body[i+3:]); ok {
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							dst = utf8.AppendRune(dst, dec)
							i += 6
							continue
						}
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
		default:
			return dst, false
		}
	}
	return dst, true
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// int64Value parses a JSON integer (null is 0).
func int64Value(v []byte) (int64, bool) {
	if isNull(v) {
		return 0, true
	}
	if len(v) == 0 {
		return 0, false
	}
	neg := v[0] == '-'
	d := v
	if neg {
		d = v[1:]
	}
	if len(d) == 0 || len(d) > 18 {
		n, err := strconv.ParseInt(string(v), 10, 64)
		return n, err == nil
	}
	var n int64
	for _, c := range d {
		if c < '0' || c > '9' {
			// A float or an exponent: not what our payloads hold, but valid JSON.
			f, err := strconv.ParseFloat(string(v), 64)
			return int64(f), err == nil
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// boolValue parses true, false or null.
func boolValue(v []byte) (bool, bool) {
	switch string(v) {
	case "true":
		return true, true
	case "false", "null":
		return false, true
	}
	return false, false
}
