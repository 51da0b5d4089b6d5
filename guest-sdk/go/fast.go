package rpool

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// Fast paths for the commonest calls: arguments that are plain numbers,
// booleans and simple strings, and results of those types. encoding/json
// costs a few microseconds a call, more than a tiny task itself, so these
// cover what a map over millions of numbers needs, and give up (returning
// false) on anything else, which then takes the encoding/json path. On what
// they accept, they produce exactly what encoding/json would.

// fastArgs decodes text, a JSON array, into dst as decodeArgs does, if every
// element is a scalar and every dst a *int64, *int, *float64, *bool or
// *string; false means it could not (the input may still be valid).
func fastArgs(text []byte, dst []any) bool {
	i := skipSpace(text, 0)
	if i == len(text) || text[i] != '[' {
		return false
	}
	i++
	for n, d := range dst {
		i = skipSpace(text, i)
		if n > 0 {
			if i == len(text) || text[i] != ',' {
				return false
			}
			i = skipSpace(text, i+1)
		}
		end, ok := fastValue(text, i, d)
		if !ok {
			return false
		}
		i = end
	}
	i = skipSpace(text, i)
	if i == len(text) || text[i] != ']' {
		return false
	}
	return skipSpace(text, i+1) == len(text)
}

// fastValue decodes the JSON scalar at text[i:] into dst, returning the
// index after it.
func fastValue(text []byte, i int, dst any) (int, bool) {
	switch p := dst.(type) {
	case *int64:
		end, integral := numberEnd(text, i)
		if end == i || !integral {
			return 0, false
		}
		v, err := strconv.ParseInt(string(text[i:end]), 10, 64)
		if err != nil {
			return 0, false
		}
		*p = v
		return end, true
	case *int:
		end, integral := numberEnd(text, i)
		if end == i || !integral {
			return 0, false
		}
		v, err := strconv.ParseInt(string(text[i:end]), 10, strconv.IntSize)
		if err != nil {
			return 0, false
		}
		*p = int(v)
		return end, true
	case *float64:
		end, _ := numberEnd(text, i)
		if end == i {
			return 0, false
		}
		v, err := strconv.ParseFloat(string(text[i:end]), 64)
		if err != nil {
			return 0, false
		}
		*p = v
		return end, true
	case *bool:
		switch {
		case hasWord(text, i, "true"):
			*p = true
			return i + 4, true
		case hasWord(text, i, "false"):
			*p = false
			return i + 5, true
		}
		return 0, false
	case *string:
		// Only strings without escapes, control characters or invalid
		// UTF-8, which need no decoding.
		if i == len(text) || text[i] != '"' {
			return 0, false
		}
		for j := i + 1; j < len(text); j++ {
			switch c := text[j]; {
			case c == '"':
				if !utf8.Valid(text[i+1 : j]) {
					return 0, false
				}
				*p = string(text[i+1 : j])
				return j + 1, true
			case c == '\\' || c < 0x20:
				return 0, false
			}
		}
		return 0, false
	}
	return 0, false
}

// numberEnd is the end of the JSON number at text[i:] (i itself if there is
// none), by the JSON grammar `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]?
// [0-9]+)?`, and whether it is an integer (no fraction, no exponent).
func numberEnd(text []byte, i int) (end int, integral bool) {
	start, j := i, i
	digits := func() bool {
		k := j
		for j < len(text) && text[j] >= '0' && text[j] <= '9' {
			j++
		}
		return j > k
	}
	if j < len(text) && text[j] == '-' {
		j++
	}
	switch {
	case j < len(text) && text[j] == '0':
		j++
	case !digits():
		return start, false
	}
	integral = true
	if j < len(text) && text[j] == '.' {
		j++
		if !digits() {
			return start, false
		}
		integral = false
	}
	if j < len(text) && (text[j] == 'e' || text[j] == 'E') {
		j++
		if j < len(text) && (text[j] == '+' || text[j] == '-') {
			j++
		}
		if !digits() {
			return start, false
		}
		integral = false
	}
	return j, integral
}

// hasWord reports whether text[i:] starts with word.
func hasWord(text []byte, i int, word string) bool {
	return len(text)-i >= len(word) && string(text[i:i+len(word)]) == word
}

// skipSpace skips JSON whitespace from text[i].
func skipSpace(text []byte, i int) int {
	for i < len(text) && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r') {
		i++
	}
	return i
}

// fastOutput appends v's JSON text to buf if v is an integer, a finite
// float64, a boolean or a string of printable ASCII without `"` or `\`;
// false means it did not.
func fastOutput(buf []byte, v any) ([]byte, bool) {
	switch v := v.(type) {
	case float64:
		// encoding/json's format: the shortest text that reads back the same,
		// with an exponent only for very small or large numbers, as e-7
		// rather than e-07. NaN and infinities are not JSON: its error.
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return buf, false
		}
		format := byte('f')
		if abs := math.Abs(v); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
			format = 'e'
		}
		buf = strconv.AppendFloat(buf, v, format, -1, 64)
		if n := len(buf); format == 'e' && n >= 4 && buf[n-4] == 'e' && buf[n-3] == '-' && buf[n-2] == '0' {
			buf[n-2] = buf[n-1]
			buf = buf[:n-1]
		}
		return buf, true
	case int64:
		return strconv.AppendInt(buf, v, 10), true
	case int:
		return strconv.AppendInt(buf, int64(v), 10), true
	case int32:
		return strconv.AppendInt(buf, int64(v), 10), true
	case bool:
		return strconv.AppendBool(buf, v), true
	case string:
		for i := 0; i < len(v); i++ {
			if c := v[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
				return buf, false
			}
		}
		buf = append(buf, '"')
		buf = append(buf, v...)
		return append(buf, '"'), true
	}
	return buf, false
}
