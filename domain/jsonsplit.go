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
//
// The members go in a slice, not a map: a report has about ten, which a
// linear search finds faster than a map is built, and plain names can then
// alias the input instead of each becoming a string (the map and the key
// strings were half of splitObject's time).

var errNotSplittable = errors.New("not a JSON object or array")

// object is a JSON object's members in the order they came.
type object []member

type member struct {
	key   []byte // the decoded name
	value json.RawMessage
}

// get returns the value of key. A repeated key yields its last value, as
// encoding/json does.
func (o object) get(key string) (json.RawMessage, bool) {
	for i := len(o) - 1; i >= 0; i-- {
		if string(o[i].key) == key {
			return o[i].value, true
		}
	}
	return nil, false
}

// repeated reports whether key is given more than once.
func (o object) repeated(key string) bool {
	n := 0
	for _, m := range o {
		if string(m.key) == key {
			n++
		}
	}
	return n > 1
}

// splitObject returns the members of the valid JSON object b. Values, and
// names without escapes, alias b.
func splitObject(b []byte) (object, error) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, errNotSplittable
	}
	m := make(object, 0, 12)
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
		m = append(m, member{key: key, value: json.RawMessage(b[i:vend])})
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
// becomes U+FFFD). A plain ASCII name, which is every name a report uses, is
// returned as it stands, aliasing raw.
func decodeKey(raw []byte) ([]byte, error) {
	inner := raw[1 : len(raw)-1]
	plain := true
	for _, c := range inner {
		if c == '\\' || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain {
		return inner, nil
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return []byte(s), err
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
