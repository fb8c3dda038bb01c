package http

import (
	"bytes"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/unicode"
)

// toUTF8 returns body as UTF-8 text. JSON and PostgreSQL hold only UTF-8,
// and SMSCs and gateways still send Latin-1: "Caf\xe9Bar" was acknowledged
// and then stored as "Caf\ufffdBar" in the log, its sender judged in that
// form and the original lost. A body in the charset its Content-Type names
// is decoded from it; a body that names none (or says UTF-8) and is not
// UTF-8 keeps its UTF-8 and reads each byte that is not as Windows-1252,
// which is what such senders write (and what browsers assume of Latin-1).
// The raw payload is then the same text, in UTF-8. A charset this service
// cannot read is a 415, with nothing stored.
func toUTF8(body []byte, contentType string) ([]byte, error) {
	// A UTF-16 byte-order mark says what the body is whatever the label
	// says, as WHATWG decoding has it: without a charset such a body was a
	// 400, a report lost (CXone does not retry a 4xx).
	if bytes.HasPrefix(body, []byte{0xFF, 0xFE}) || bytes.HasPrefix(body, []byte{0xFE, 0xFF}) {
		out, err := unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM).NewDecoder().Bytes(body)
		if err != nil {
			return nil, errorf(http.StatusBadRequest, "body starts with a UTF-16 byte-order mark but is not UTF-16: "+err.Error())
		}
		return out, nil
	}
	if cs := charsetOf(contentType); cs != "" && cs != "utf-8" && cs != "utf8" && cs != "us-ascii" {
		enc, err := htmlindex.Get(cs)
		if err != nil {
			return nil, errorf(http.StatusUnsupportedMediaType, "charset "+quote(cs)+" is not one this service can read: send UTF-8, or name the charset the body is in (ISO-8859-1, windows-1252, ...)")
		}
		name, _ := htmlindex.Name(enc)
		if name == "windows-1252" { // also what "iso-8859-1" and "latin1" name
			return latin1(body, false), nil
		}
		if name != "utf-8" {
			out, err := enc.NewDecoder().Bytes(body)
			if err != nil {
				return nil, errorf(http.StatusBadRequest, "body is not "+cs+": "+err.Error())
			}
			return out, nil
		}
	}
	if utf8.Valid(body) {
		return body, nil
	}
	return latin1(body, true), nil
}

// latin1 decodes body as windows-1252: every byte, or with keepUTF8 only
// those that do not start a valid UTF-8 sequence. The five
// bytes windows-1252 leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) are the
// C1 controls ISO-8859-1 gives them, as the WHATWG decoder does: every byte
// stays a character, and the original can be told from the log.
func latin1(body []byte, keepUTF8 bool) []byte {
	out := make([]byte, 0, len(body)+len(body)/8)
	for len(body) > 0 {
		r, size := utf8.RuneError, 1
		if keepUTF8 {
			r, size = utf8.DecodeRune(body)
		}
		if r == utf8.RuneError && size == 1 {
			if r = charmap.Windows1252.DecodeByte(body[0]); r == utf8.RuneError {
				r = rune(body[0])
			}
		}
		out = utf8.AppendRune(out, r)
		body = body[size:]
	}
	return out
}

// charsetOf is the charset parameter of a Content-Type, in lower case, or "".
func charsetOf(contentType string) string {
	if !strings.Contains(strings.ToLower(contentType), "charset") {
		return ""
	}
	_, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(params["charset"]))
}
