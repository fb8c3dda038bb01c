package cxone

import (
	"html"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// unit is one character of a text as a reader of its escapes sees it: what
// it stands for, and the span of the text it was read from.
type unit struct {
	start, end int // s[start:end] spelled it
	text       string
	// alt is another reading, or "": a + is a space in a form body, and
	// \xE4 is the character U+00E4 in JavaScript, Python or Java but the
	// byte 0xE4 in C or a Python bytes literal.
	alt string
}

// escapeStarts are the bytes that may begin an escape; a text without them
// reads as itself, and the plain forms have already been looked for in it.
const escapeStarts = `\%&+`

// readUnits reads s into units. Every byte of s belongs to exactly one
// unit, in order.
func readUnits(s string) []unit {
	us := make([]unit, 0, len(s))
	for i := 0; i < len(s); {
		u := readUnit(s, i)
		us = append(us, u)
		i = u.end
	}
	return us
}

// readUnit reads the unit at s[i]: a JSON or JavaScript backslash escape
// (\uXXXX, a surrogate pair of them, \xHH, \n, \" ...), a percent escape
// (%HH, or JavaScript's escape() %uXXXX), an HTML character reference
// (named, decimal or hexadecimal), a + (also read as a space), or else one
// byte as itself.
func readUnit(s string, i int) unit {
	switch s[i] {
	case '\\':
		if u, ok := backslashUnit(s, i); ok {
			return u
		}
	case '%':
		if i+1 < len(s) && (s[i+1] == 'u' || s[i+1] == 'U') {
			if r, ok := hexAt(s, i+2, 4); ok {
				return unit{start: i, end: i + 6, text: string(rune(r))}
			}
		}
		if b, ok := hexAt(s, i+1, 2); ok {
			return unit{start: i, end: i + 3, text: string([]byte{byte(b)})}
		}
	case '&':
		if u, ok := entityUnit(s, i); ok {
			return u
		}
	case '+':
		return unit{start: i, end: i + 1, text: "+", alt: " "}
	}
	return unit{start: i, end: i + 1, text: s[i : i+1]}
}

// backslashEscapes are the one-letter escapes of JSON, plus \' (JavaScript,
// Python).
var backslashEscapes = map[byte]string{
	'"': `"`, '\\': `\`, '/': "/", '\'': "'", 'b': "\b", 'f': "\f", 'n': "\n", 'r': "\r", 't': "\t",
}

func backslashUnit(s string, i int) (unit, bool) {
	if i+1 >= len(s) {
		return unit{}, false
	}
	if v, ok := backslashEscapes[s[i+1]]; ok {
		return unit{start: i, end: i + 2, text: v}, true
	}
	switch s[i+1] {
	case 'u':
		r, ok := hexAt(s, i+2, 4)
		if !ok {
			return unit{}, false
		}
		if utf16.IsSurrogate(rune(r)) && strings.HasPrefix(s[i+6:], `\u`) {
			if r2, ok := hexAt(s, i+8, 4); ok {
				if pair := utf16.DecodeRune(rune(r), rune(r2)); pair != utf8.RuneError {
					return unit{start: i, end: i + 12, text: string(pair)}, true
				}
			}
		}
		// A lone surrogate reads as U+FFFD, as Go's JSON decoder reads it.
		return unit{start: i, end: i + 6, text: string(rune(r))}, true
	case 'x':
		b, ok := hexAt(s, i+2, 2)
		if !ok {
			return unit{}, false
		}
		u := unit{start: i, end: i + 4, text: string(rune(b))}
		if b >= utf8.RuneSelf {
			u.alt = string([]byte{byte(b)})
		}
		return u, true
	}
	return unit{}, false
}

// entityUnit reads an HTML character reference: &name; or a decimal or
// hexadecimal one, whose semicolon HTML lets a page leave out.
func entityUnit(s string, i int) (unit, bool) {
	j := i + 1
	switch {
	case j < len(s) && s[j] == '#':
		j++
		digit := isDigit
		if j < len(s) && (s[j] == 'x' || s[j] == 'X') {
			j++
			digit = isHex
		}
		from := j
		for j < len(s) && j-from < 8 && digit(s[j]) {
			j++
		}
		if j == from {
			return unit{}, false
		}
	default:
		from := j
		for j < len(s) && j-from < 32 && (isAlpha(s[j]) || (j > from && isDigit(s[j]))) {
			j++
		}
		if j == from || j >= len(s) || s[j] != ';' {
			return unit{}, false
		}
	}
	if j < len(s) && s[j] == ';' {
		j++
	}
	ref := s[i:j]
	text := html.UnescapeString(ref)
	// Unchanged, it is no reference HTML knows; read in part (&notit; is
	// ¬ and "it;"), it left its semicolon behind.
	if text == ref || len(text) > 1 && strings.HasSuffix(text, ";") {
		return unit{}, false
	}
	return unit{start: i, end: j, text: text}, true
}

// hexAt reads n hexadecimal digits at s[i:].
func hexAt(s string, i, n int) (uint64, bool) {
	if i < 0 || i+n > len(s) {
		return 0, false
	}
	for k := i; k < i+n; k++ {
		if !isHex(s[k]) {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(s[i:i+n], 16, 32)
	return v, err == nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isAlpha(c byte) bool { return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }
func isHex(c byte) bool   { return isDigit(c) || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F') }

// redactDecoded replaces every span of s whose units read as secret,
// starting and ending at unit boundaries; a short secret only where the
// characters read around it are not part of a word.
//
// echoForms lists the shapes a whole secret takes under one encoder, but
// encoders differ character by character: .NET writes + as \u002B,
// JavaScript's encodeURIComponent leaves ' alone, an error page may write
// any character as &#43; or &#x2B;, and a text may mix escaped and literal
// characters. Reading the text one escape at a time, as its reader would,
// covers them all without listing them.
func redactDecoded(s, secret string, short bool) string {
	if secret == "" || !strings.ContainsAny(s, escapeStarts) {
		return s
	}
	us := readUnits(s)
	var b strings.Builder
	written := 0
	for k := 0; k < len(us); k++ {
		last, ok := readsAs(us, k, secret, short)
		if !ok {
			continue
		}
		b.WriteString(s[written:us[k].start])
		b.WriteString(redacted)
		written = us[last].end
		k = last
	}
	if written == 0 {
		return s
	}
	b.WriteString(s[written:])
	return b.String()
}

// readsAs reports whether the units from us[k] on read as secret, and the
// last unit of the first such reading. A unit with two readings is tried
// both ways, so the search keeps the set of lengths of secret read so far.
func readsAs(us []unit, k int, secret string, short bool) (int, bool) {
	if short && k > 0 && endsInWord(us[k-1]) {
		return 0, false
	}
	read := []int{0}
	for j := k; j < len(us) && len(read) > 0; j++ {
		var next []int
		for _, n := range read {
			for _, t := range [2]string{us[j].text, us[j].alt} {
				if t == "" || !strings.HasPrefix(secret[n:], t) {
					continue
				}
				switch m := n + len(t); {
				case m < len(secret):
					next = append(next, m)
				case !short || j+1 == len(us) || !startsWord(us[j+1]):
					return j, true
				}
			}
		}
		read = next
	}
	return 0, false
}

func endsInWord(u unit) bool { return wordByteAt(u.text, len(u.text)-1) }
func startsWord(u unit) bool { return wordByteAt(u.text, 0) }
