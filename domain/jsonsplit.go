package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// The parser needs a report's top-level members as raw JSON, and the body is
// validated once (json.Valid) before any of this runs. Splitting valid JSON
// by hand is a single pass with no allocation per value, where
// encoding/json's Unmarshal into map[string]json.RawMessage validates the
// input again and copies every value: profiles showed that as most of the
// parser's time, and the parser as a fifth of the service's CPU.

var errNotSplittable = errors.New("not a JSON object or array")

// splitObject returns the members of the valid JSON object b. Values alias
// b. A repeated key keeps its last value, as encoding/json does.
func splitObject(b []byte) (map[string]json.RawMessage, error) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, errNotSplittable
	}
	m := make(map[string]json.RawMessage, 12)
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return m, nil
	}
	for i < len(b) {
		if b[i] != '"' {
			return nil, errNotSplittable
		}
		end := skipString(b, i)
		key, err := decodeKey(b[i:end])
		if err != nil {
			return nil, err
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return nil, errNotSplittable
		}
		i = skipSpace(b, i+1)
		vend := skipValue(b, i)
		m[key] = json.RawMessage(b[i:vend])
		i = skipSpace(b, vend)
		if i >= len(b) {
			break
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return m, nil
		default:
			return nil, errNotSplittable
		}
	}
	return nil, errNotSplittable
}

// splitArray returns the elements of the valid JSON array b. Elements alias b.
func splitArray(b []byte) ([]json.RawMessage, error) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return nil, errNotSplittable
	}
	var out []json.RawMessage
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return out, nil
	}
	for i < len(b) {
		end := skipValue(b, i)
		out = append(out, json.RawMessage(b[i:end]))
		i = skipSpace(b, end)
		if i >= len(b) {
			break
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case ']':
			return out, nil
		default:
			return nil, errNotSplittable
		}
	}
	return nil, errNotSplittable
}

// decodeKey decodes a member name as encoding/json does (invalid UTF-8
// becomes U+FFFD), taking the quick way for plain names.
func decodeKey(raw []byte) (string, error) {
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner), nil
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(b)
}

// skipValue returns the index after the value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = skipString(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	}
	// A number or a literal runs to the next delimiter.
	if j := bytes.IndexAny(b[i:], ",}] \t\r\n"); j >= 0 {
		return i + j
	}
	return len(b)
}
