package domain

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
)

// jsonEventID picks a JSON report's event ID, from the most specific source to
// the least: an eventId or id field (eventIDField), the request header, and
// last a hash of the report's content. In a CXone envelope "id" names the
// event, never the message.
func jsonEventID(r *reportFields, messageID, header string, index, n int, raw []byte) (string, error) {
	// An event ID of the wrong type or form (too long, with spaces, not
	// UTF-8) is no event ID: the content names the report instead, so an
	// identical redelivery still dedupes. Only the message ID may refuse a
	// report (design.md), and the raw report keeps what was sent.
	if id := r.eventIDField(messageID); id != "" {
		if id, err := checkID(id, maxEventIDLen); err == nil {
			return id, nil
		}
	}
	if id := headerEventID(header, index, n); id != "" {
		return id, nil
	}
	canonical, err := canonicalJSON(raw)
	if err != nil {
		return "", &ParseError{Index: index, Reason: "invalid JSON: " + err.Error()}
	}
	return contentEventID(canonical), nil
}

// eventIDField is the report's event ID field: an eventId (the payload's,
// then the envelope's) before any "id", and the envelope's "id" (CXone's
// event ID) before the payload's, which gateways use for the message's own
// resource. A tester's two envelopes, evt-a (SENT) and evt-b (DELIVERED),
// with one payload id were stored as one event, the DELIVERED acknowledged
// as a duplicate and lost.
//
// A field that holds one of the message's own IDs (its messageId,
// smppMessageId, externalId or receipted_message_id, in any case) names the
// message, not an event, and is passed over: {"messageId":"X","id":"X"},
// an SMPP receipt's id, or an envelope id equal to the message ID made
// every later report of the message a duplicate, acknowledged and lost,
// header and signed webhook-id notwithstanding.
func (r *reportFields) eventIDField(messageID string) string {
	for _, f := range []struct {
		fields *reportFields
		keys   []string
	}{{r, eventIDKeys[:1]}, {r.envelope, eventIDKeys[:1]}, {r.envelope, eventIDKeys[1:]}, {r, eventIDKeys[1:]}} {
		if f.fields == nil {
			continue
		}
		if id, _, _ := f.fields.text(f.keys, trimID); id != "" && !r.namesMessage(id, messageID) {
			return id
		}
	}
	return ""
}

// namesMessage reports whether id is one of the IDs the report gives its
// message: messageID, or a message-ID field of the report or its envelope.
func (r *reportFields) namesMessage(id, messageID string) bool {
	if strings.EqualFold(id, messageID) {
		return true
	}
	for _, f := range []*reportFields{r, r.envelope} {
		if f == nil {
			continue
		}
		for _, k := range messageIDKeys {
			if v, _, _ := f.text([]string{k}, trimMessageID); v != "" && strings.EqualFold(v, id) {
				return true
			}
		}
	}
	return false
}

// headerEventID derives the event ID from the request header. A header that
// holds a report's message ID names a message, not an event, as an
// event-ID field that does (eventIDField): Parse reads the body again
// without it, or every later report of the message would be a duplicate,
// acknowledged and lost.
//
// The header names the delivery, not a report, so in a batch each report
// adds its index: otherwise the second report of a batch would be taken for
// a duplicate of the first whenever two share a message ID.
// An unusable header ID ("" back) leaves the content to name the report, as
// in jsonEventID.
func headerEventID(header string, index, n int) string {
	id := trimID(header)
	if id == "" {
		return ""
	}
	if n > 1 {
		id += ":" + strconv.Itoa(index)
	}
	id, err := checkID(id, maxEventIDLen)
	if err != nil {
		return ""
	}
	return id
}

// contentEventID names a report by its content, for senders that give no
// event ID. It leaves out when the report arrived, so a redelivery gets the
// same ID and is stored once, while a later report for the same message (a new
// status, a new time) differs in content and gets its own.
func contentEventID(canonical []byte) string {
	sum := sha256.Sum256(canonical)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// receiptEventID names receipt text by its content, without the blanks,
// line ends and NULs around it: a body is read without its trailing
// newline, a string in an array keeps it, and SMSCs pad with NULs, so one
// receipt redelivered in the other wrapper was stored twice.
func receiptEventID(text string) string {
	return contentEventID([]byte(strings.Trim(text, receiptPadding)))
}

// canonicalJSON re-encodes a JSON value with sorted keys, no whitespace and
// numbers in one notation, so a sender that reorders keys or reindents on a
// retry still produces the same content ID.
//
// A receipt text inside (short_message, receipt...) counts without the
// blanks, line ends and NULs around it, as a receipt body does
// (receiptEventID): padded by the SMSC on a redelivery, the same SMPP
// JSON report was stored again.
func canonicalJSON(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if report, ok := v.(map[string]any); ok {
		trimReceipts(report)
		if payload, ok := report["payload"].(map[string]any); ok {
			trimReceipts(payload)
		}
	}
	return json.Marshal(canonicalNumbers(v))
}

// canonicalNumbers writes every number in v one way (CanonicalNumber): a
// retry through another JSON library wrote 0.0089 as 8.9e-3 or 0.00890,
// and each was stored as a new event.
func canonicalNumbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		return json.Number(CanonicalNumber(string(v)))
	case map[string]any:
		for k, e := range v {
			v[k] = canonicalNumbers(e)
		}
	case []any:
		for i, e := range v {
			v[i] = canonicalNumbers(e)
		}
	}
	return v
}

// CanonicalNumber writes a JSON number one way: in plain decimal, without
// an exponent, leading zeros or trailing fractional zeros (8.9e-3, 0.00890
// and 0.0089 all become 0.0089; 1.7e3 and 1700.0 become 1700), or, where
// that would run past 40 zeros, as d.ddde±N (1E+50 and 10e49 become 1e50).
// It is exact (no float), so two different numbers never meet. An exponent
// past what an int holds keeps the text as written.
func CanonicalNumber(s string) string {
	neg := strings.HasPrefix(s, "-")
	mant, exp := strings.TrimPrefix(s, "-"), 0
	if i := strings.IndexAny(mant, "eE"); i >= 0 {
		e, err := strconv.Atoi(strings.TrimPrefix(mant[i+1:], "+"))
		if err != nil || e > 1<<40 || e < -1<<40 {
			return s
		}
		mant, exp = mant[:i], e
	}
	whole, frac, _ := strings.Cut(mant, ".")
	digits := whole + frac
	exp -= len(frac) // the value is digits × 10^exp
	digits = strings.TrimLeft(digits, "0")
	if digits == "" {
		return "0"
	}
	trimmed := strings.TrimRight(digits, "0")
	exp += len(digits) - len(trimmed)
	digits = trimmed
	const maxZeros = 40
	var out string
	switch point := len(digits) + exp; {
	case exp > maxZeros || -point > maxZeros:
		out = digits[:1]
		if len(digits) > 1 {
			out += "." + digits[1:]
		}
		out += "e" + strconv.Itoa(point-1)
	case exp >= 0:
		out = digits + strings.Repeat("0", exp)
	case point > 0:
		out = digits[:point] + "." + digits[point:]
	default:
		out = "0." + strings.Repeat("0", -point) + digits
	}
	if neg {
		out = "-" + out
	}
	return out
}

// trimReceipts trims the receipt texts among report's members.
func trimReceipts(report map[string]any) {
	for _, k := range receiptKeys {
		if text, ok := report[k].(string); ok {
			report[k] = strings.Trim(text, receiptPadding)
		}
	}
}

// receiptPadding is what may surround a receipt's text without making it
// another receipt.
const receiptPadding = " \t\r\n\x00"
