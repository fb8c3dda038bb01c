package domain

import (
	"strings"
	"time"
	"unicode"
)

// Receipt is an SMPP delivery receipt: the text an SMSC puts in a
// deliver_sm's short_message, such as (on one line)
//
//	id:0123456789 sub:001 dlvrd:001 submit date:2401011200
//	done date:2401011201 stat:DELIVRD err:000 text:Hello
//
// Its layout is a convention from SMPP 3.4 appendix B, not a standard, so
// fields are read by name, in any order, and any of them may be missing.
type Receipt struct {
	ID         string            // as given (hex or decimal), trimmed
	Sub        string            // messages submitted
	Dlvrd      string            // messages delivered
	SubmitDate time.Time         // UTC; zero when missing, all zeros or unreadable
	DoneDate   time.Time         // UTC; zero when missing, all zeros or unreadable
	Stat       string            // as given: "DELIVRD", "UNDELIV", ...
	Err        string            // as given: "000", ...
	Text       string            // the first characters of the message
	Extra      map[string]string // vendor fields, keyed in lower case; nil when none
}

// ParseReceipt parses SMPP delivery-receipt text. It fails only when the id:
// field is missing or malformed, with a *ParseError wrapping ErrNoMessageID;
// the Receipt then still holds every other field it could read.
func ParseReceipt(text string) (Receipt, error) {
	rc, _, err := parseReceipt(text)
	return rc, err
}

// receiptField is a field the receipt format defines.
type receiptField uint8

const (
	rfNone receiptField = iota
	rfID
	rfSub
	rfDlvrd
	rfSubmitDate
	rfDoneDate
	rfStat
	rfErr
	rfText
	rfVendor // any other "name:", which vendors add after err:
	rfSkip   // a repeated field, ignored
)

// receiptFieldNames spells each field as SMSCs do; matching ignores case.
// A name is only ever followed directly by its colon.
var receiptFieldNames = []struct {
	name  string
	field receiptField
}{
	{"id", rfID},
	{"sub", rfSub},
	{"dlvrd", rfDlvrd},
	{"submit date", rfSubmitDate},
	{"submitdate", rfSubmitDate},
	{"submit_date", rfSubmitDate},
	{"done date", rfDoneDate},
	{"donedate", rfDoneDate},
	{"done_date", rfDoneDate},
	{"stat", rfStat},
	{"err", rfErr},
	{"text", rfText},
}

// parseReceipt is ParseReceipt that also counts the distinct receipt fields
// it found, so Parse can tell receipt text from other text.
//
// A field's value runs to the next field name. Two rules keep the free text
// of text: from being misread: inside it only a receipt field not seen yet
// ends the value (vendor names and repeats do not), and no field is read
// twice. So "text:your id: 42" cannot replace the id, while a vendor's empty
// "text: stat:DELIVRD" still yields the status.
func parseReceipt(s string) (Receipt, int, error) {
	rc, found, _, err := scanReceipt(s)
	return rc, found, err
}

// scanReceipt is parseReceipt that also says which field the text ends in.
func scanReceipt(s string) (rc Receipt, found int, last receiptField, err error) {
	s = trimReceipt(s)
	var seen [rfVendor]bool
	cur, curName, valAt := rfNone, "", 0
	for i := 0; i < len(s); i++ {
		if isReceiptSep(s[i]) || i > 0 && !isReceiptSep(s[i-1]) {
			continue
		}
		f, n := matchReceiptField(s[i:])
		if f == rfNone || f == rfVendor && cur == rfText {
			continue
		}
		if f < rfVendor && seen[f] {
			if cur == rfText {
				continue
			}
			f = rfSkip
		}
		rc.set(cur, curName, s[valAt:i])
		cur, curName, valAt = f, s[i:i+n-1], i+n
		if f < rfVendor {
			seen[f] = true
			found++
		}
		i += n - 1
	}
	rc.set(cur, curName, s[valAt:])

	switch id, err := checkID(rc.ID, maxMessageIDLen); {
	case !seen[rfID]:
		return rc, found, cur, &ParseError{Field: "id", Reason: "is missing", Err: ErrNoMessageID}
	case rc.ID == "":
		return rc, found, cur, &ParseError{Field: "id", Reason: "is empty", Err: ErrNoMessageID}
	case isZeroNumber(rc.ID):
		// As in a JSON report's ID fields: 0 names no message.
		rc.ID = ""
		return rc, found, cur, &ParseError{Field: "id", Reason: "is 0, which names no message", Err: ErrNoMessageID}
	case err != nil:
		rc.ID = ""
		return rc, found, cur, &ParseError{Field: "id", Reason: err.Error(), Err: ErrNoMessageID}
	default:
		rc.ID = id
		return rc, found, cur, nil
	}
}

func (rc *Receipt) set(f receiptField, name, v string) {
	switch f {
	case rfID:
		rc.ID = trimID(v)
	case rfSub:
		rc.Sub = normField(v)
	case rfDlvrd:
		rc.Dlvrd = normField(v)
	case rfSubmitDate:
		rc.SubmitDate = parseReceiptDate(normField(v))
	case rfDoneDate:
		rc.DoneDate = parseReceiptDate(normField(v))
	case rfStat:
		rc.Stat = normField(v)
	case rfErr:
		rc.Err = normField(v)
	case rfText:
		rc.Text = normField(v)
	case rfVendor:
		key := strings.ToLower(name)
		if _, dup := rc.Extra[key]; dup {
			return
		}
		if rc.Extra == nil {
			rc.Extra = make(map[string]string)
		}
		rc.Extra[key] = normField(v)
	}
}

// matchReceiptField reports which field name, colon included, starts s, and
// its length.
func matchReceiptField(s string) (receiptField, int) {
	for _, k := range receiptFieldNames {
		n := len(k.name)
		if len(s) > n && s[n] == ':' && strings.EqualFold(s[:n], k.name) {
			return k.field, n + 1
		}
	}
	// A vendor name is a short word; the length cap keeps an ordinary word
	// followed by a colon inside a long value from looking like one.
	n := 0
	for n < len(s) && n <= 32 && isVendorNameByte(s[n], n == 0) {
		n++
	}
	if n > 0 && n < len(s) && n <= 32 && s[n] == ':' {
		return rfVendor, n + 1
	}
	return rfNone, 0
}

func isVendorNameByte(c byte, first bool) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		return true
	case c >= '0' && c <= '9', c == '_', c == '-', c == '.':
		return !first
	}
	return false
}

// isReceiptSep reports a byte that separates receipt fields: a space, or a
// control character such as the NUL some SMSCs leave between fields.
func isReceiptSep(c byte) bool { return c <= ' ' }

// trimReceipt trims receipt text of surrounding spaces and of the NUL
// padding C-string buffers leave behind.
func trimReceipt(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return r < ' ' || unicode.IsSpace(r) })
}

// parseReceiptDate reads a receipt date in UTC: YYMMDDhhmm (SMPP 3.4),
// YYMMDDhhmmss, YYYYMMDDhhmmss, or SMPP 5.0's absolute time YYMMDDhhmmsstnnp
// (tenths of a second, then the offset from UTC in quarter hours and its
// sign). All zeros, a relative time, or anything else gives the zero time.
// Two-digit years are 20YY: receipts describe messages sent this century.
// Twelve digits that are no YYMMDDhhmmss are read as YYYYMMDDhhmm, which
// some SMSCs write: "202405060701" lost the carrier's time.
func parseReceiptDate(v string) time.Time {
	if len(v) == 12 {
		if t := parseReceiptDate("20" + v); !t.IsZero() || strings.Trim(v, "0") == "" {
			return t
		}
		return parseReceiptDate(v + "00")
	}
	offset := time.Duration(0)
	tenths := 0
	switch len(v) {
	case 10, 14:
	case 16:
		quarters, ok := receiptDigits(v[13:15])
		if !ok || quarters > 56 {
			return time.Time{}
		}
		switch v[15] {
		case '+':
			offset = time.Duration(quarters) * 15 * time.Minute
		case '-':
			offset = -time.Duration(quarters) * 15 * time.Minute
		default: // 'R', relative: no point in time at all
			return time.Time{}
		}
		if tenths, ok = receiptDigits(v[12:13]); !ok {
			return time.Time{}
		}
		v = v[:12]
	default:
		return time.Time{}
	}
	if strings.Trim(v, "0") == "" {
		return time.Time{}
	}
	var year int
	var ok bool
	if len(v) == 14 {
		year, ok = receiptDigits(v[:4])
		v = v[4:]
	} else {
		year, ok = receiptDigits(v[:2])
		year += 2000
		v = v[2:]
	}
	if len(v) == 8 {
		v += "00"
	}
	mo, ok1 := receiptDigits(v[0:2])
	d, ok2 := receiptDigits(v[2:4])
	h, ok3 := receiptDigits(v[4:6])
	mi, ok4 := receiptDigits(v[6:8])
	sec, ok5 := receiptDigits(v[8:10])
	if !(ok && ok1 && ok2 && ok3 && ok4 && ok5) {
		return time.Time{}
	}
	t := time.Date(year, time.Month(mo), d, h, mi, sec, tenths*100_000_000, time.UTC)
	// time.Date normalizes 31 February into March; a receipt that says so is
	// unreadable, not a date in March.
	if t.Month() != time.Month(mo) || t.Day() != d || t.Hour() != h || t.Minute() != mi || t.Second() != sec {
		return time.Time{}
	}
	return t.Add(-offset)
}

// receiptDigits reads an unsigned decimal of a few digits.
func receiptDigits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, s != ""
}
