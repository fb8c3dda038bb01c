package domain

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Longest IDs we accept. Real ones are UUIDs, SMSC hex or decimal IDs (SMPP
// caps message_id at 65 octets); anything far longer is not an ID, and the
// bound keeps the idempotency index small.
const (
	maxMessageIDLen = 128
	maxEventIDLen   = 200
)

// normField cleans a string field for storage: PostgreSQL text refuses NUL and
// invalid UTF-8, and a stray tab or newline would split a carrier or sender
// into two values in the read models. Invalid UTF-8 becomes U+FFFD, control
// characters go (layout whitespace becomes a space), and so do invisible
// format characters: a right-to-left override made carrier "\u202eTTA" read
// as a second "ATT", and zero-width spaces make two senders look like one.
// The result is trimmed; the raw report keeps every character.
func normField(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return strings.TrimSpace(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s { // ranging yields U+FFFD for each invalid byte
		switch {
		case r == '\t' || r == '\n' || r == '\v' || r == '\f' || r == '\r' || r == '\u2028' || r == '\u2029':
			b.WriteByte(' ') // line and paragraph separators lay text out too
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
		default:
			b.WriteRune(r)
		}
	}
	return strings.TrimSpace(b.String())
}

// normFieldUpper is normField for codes that are upper case by convention
// (ISO 4217 currencies), so "usd" and "USD" add up in one row.
func normFieldUpper(s string) string { return strings.ToUpper(normField(s)) }

// trimID trims an ID without otherwise changing it: IDs are compared byte for
// byte with what CXone sends elsewhere, so anything inside is either kept or,
// by checkID, refused.
func trimID(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return r == 0 || unicode.IsSpace(r) })
}

// trimMessageID is trimID for a message ID field, where 0 (however
// written: 0, "00", -0, 0.0) names no message: it is what serializers
// write for an unset number, as they write null for an unset string. Read
// as message "0", a report with a real smppMessageId beside it was filed
// under "0", and a wrapper's batch was stored nowhere.
func trimMessageID(s string) string {
	s = trimID(s)
	if isZeroNumber(s) {
		return ""
	}
	return s
}

// isZeroNumber reports whether s is a decimal number equal to zero.
func isZeroNumber(s string) bool {
	s = strings.TrimLeft(s, "+-")
	mant, exp, _ := strings.Cut(strings.ToLower(s), "e")
	return strings.ContainsRune(mant, '0') && strings.Trim(mant, "0.") == "" && strings.Count(mant, ".") <= 1 &&
		strings.Trim(strings.TrimLeft(exp, "+-"), "0123456789") == ""
}

// checkID validates a trimmed ID: it must be printable, hold no space, and
// fit in max characters. Bytes that are not UTF-8 (which a JSON decoder has
// already turned into U+FFFD) are refused, not replaced: two IDs that
// differ only there would become one, and a second report would be taken
// for a duplicate of the first and never stored.
func checkID(id string, max int) (string, error) {
	if !utf8.ValidString(id) || strings.ContainsRune(id, utf8.RuneError) {
		return "", errors.New("holds bytes that are not UTF-8 text")
	}
	if n := utf8.RuneCountInString(id); n > max {
		return "", fmt.Errorf("is %d characters long, more than %d", n, max)
	}
	for _, r := range id {
		if unicode.IsSpace(r) || !unicode.IsGraphic(r) {
			return "", fmt.Errorf("contains %q, which an ID cannot hold", r)
		}
	}
	return id, nil
}

// jsonNumberText renders a JSON number as the text an ID or code would have
// had as a string: integers keep their digits exactly, even beyond int64, and
// integral values in other notations (1e3, 12.0) become plain digits. Other
// numbers keep their text.
func jsonNumberText(raw string) string {
	digits := strings.TrimPrefix(raw, "-")
	if digits != "" && strings.Trim(digits, "0123456789") == "" {
		return raw
	}
	// Exactly, not through a float: 1714979289.999999999, a Unix time in
	// nanoseconds' precision, is no whole number, but its nearest float is.
	if c := CanonicalNumber(raw); strings.Trim(strings.TrimPrefix(c, "-"), "0123456789") == "" {
		return c
	}
	return raw
}

// parsePrice reads a price given as a JSON number or string. Exponents
// ("7.5e-3") are JSON-legal, so they are rendered in plain decimal first.
func parsePrice(s string) (Micros, error) {
	if strings.ContainsAny(s, "eE") {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return 0, fmt.Errorf("amount %q is not a decimal number", s)
		}
		s = strconv.FormatFloat(f, 'f', -1, 64)
	}
	return ParseMicros(s)
}

// currencySigns are the signs a price or a currency field may be written
// with, longest first, and the ISO 4217 currency each names; for a sign
// several currencies use ($, ¥), the sign itself, which leaves the
// report's currency field to say which of them (signCurrencies).
// Among them are the forms en-US formatters (JavaScript's Intl, Java's
// NumberFormat) write for other countries' currencies (CA$, MX$, CN¥, ₩),
// and the local words (zł, kr, Rs, RM): each was dropped, and the message
// counted at the rate card's USD estimate instead.
var currencySigns = []struct{ sign, currency string }{
	{"US$", "USD"}, {"NZ$", "NZD"}, {"HK$", "HKD"}, {"CA$", "CAD"}, {"AU$", "AUD"}, {"MX$", "MXN"}, {"NT$", "TWD"},
	{"CN¥", "CNY"}, {"JP¥", "JPY"}, {"kr.", "kr"}, {"Rs.", "Rs"}, {"Fr.", "CHF"}, {"lei", "RON"},
	{"A$", "AUD"}, {"C$", "CAD"}, {"R$", "BRL"}, {"S$", "SGD"}, {"Rp", "IDR"}, {"RM", "MYR"}, {"Rs", "Rs"},
	{"zł", "PLN"}, {"Kč", "CZK"}, {"Ft", "HUF"}, {"kr", "kr"}, {"Fr", "CHF"},
	{"$", "$"}, {"€", "EUR"}, {"£", "GBP"}, {"₹", "INR"}, {"¥", "¥"}, {"₩", "KRW"}, {"₪", "ILS"}, {"₱", "PHP"},
	{"₺", "TRY"}, {"₫", "VND"}, {"₽", "RUB"}, {"₴", "UAH"}, {"₦", "NGN"}, {"฿", "THB"}, {"₸", "KZT"}, {"円", "JPY"},
	{"元", "CNY"}, {"R", "ZAR"},
}

// signCurrencies are the currencies a sign shared by several may stand for.
var signCurrencies = map[string][]string{
	"$":  {"USD", "CAD", "AUD", "NZD", "HKD", "SGD", "MXN", "TWD", "ARS", "CLP", "COP", "JMD", "TTD", "BSD", "BBD", "BZD", "XCD", "FJD", "BMD", "KYD"},
	"¥":  {"JPY", "CNY"},
	"kr": {"SEK", "NOK", "DKK", "ISK"},
	"Rs": {"INR", "PKR", "LKR", "NPR", "MUR", "SCR"},
}

// cutSign cuts sign off the start (or, with suffix, the end) of amount. A
// sign made of letters ("R", "kr") must stand apart from other letters:
// "0.05 EUR" does not end in the rand's "R".
func cutSign(amount, sign string, suffix bool) (string, bool) {
	var rest string
	var ok bool
	var next rune
	if suffix {
		if rest, ok = strings.CutSuffix(amount, sign); ok {
			next, _ = utf8.DecodeLastRuneInString(rest)
		}
	} else if rest, ok = strings.CutPrefix(amount, sign); ok {
		next, _ = utf8.DecodeRuneInString(rest)
	}
	if !ok || rest == "" {
		return amount, false
	}
	first, _ := utf8.DecodeRuneInString(sign)
	last, _ := utf8.DecodeLastRuneInString(sign)
	edge := last
	if suffix {
		edge = first
	}
	if unicode.IsLetter(edge) && unicode.IsLetter(next) {
		return amount, false
	}
	return rest, true
}

// priceIn reports whether a price that names the currency named ("" for
// none, an ISO code, or a shared sign) can be a price in currency (the
// report's currency field, "" for none), and the currency it fills an
// empty field with. "¥5" in USD was counted as 5 dollars.
func priceIn(named, currency string) (fits bool, fill string) {
	if family, shared := signCurrencies[named]; shared {
		return currency == "" || currency == named || slices.Contains(family, currency), currency
	}
	if named == "" || currency == "" || named == currency {
		return true, cmp.Or(currency, named)
	}
	return false, currency
}

// normCurrency reads a currency field: an ISO code in any case, or a sign
// that names one ("€" is EUR, as in a price "€0.05"): stored as sent, "€"
// and "EUR" were two currencies in every cost.
func normCurrency(s string) string {
	s = normFieldUpper(s)
	for _, c := range currencySigns {
		if strings.EqualFold(s, c.sign) && c.currency != c.sign {
			return c.currency
		}
	}
	if s == "EURO" || s == "EUROS" {
		return "EUR"
	}
	return s
}

// splitPrice takes a price as people write one apart: "$0.05", "0.05 USD",
// "USD 0.05", "€0,05", "-US$0.05" give the amount in plain decimal and the
// currency the text names: "" for none, an ISO code, or a shared sign ("$",
// "¥"; see priceIn). A price so written was dropped,
// and the carrier's cost estimated from the rate card, with no word of it.
// A decimal comma is read as a point unless it could group thousands
// ("1,000"). Anything else comes back as it was, for parsePrice to refuse.
func splitPrice(s string) (amount, currency string) {
	sign := ""
	if strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") {
		sign, s = s[:1], s[1:]
	}
	amount = s
	for _, c := range currencySigns {
		if rest, ok := cutSign(amount, c.sign, false); ok {
			amount, currency = rest, c.currency
			break
		}
		if rest, ok := cutSign(amount, c.sign, true); ok {
			amount, currency = rest, c.currency
			break
		}
	}
	if _, shared := signCurrencies[currency]; (currency == "" || shared) && len(amount) > 3 {
		if code := amount[:3]; isCurrencyCode(code) {
			amount, currency = amount[3:], code
		} else if code := amount[len(amount)-3:]; isCurrencyCode(code) {
			amount, currency = amount[:len(amount)-3], code
		}
	}
	amount = ungroup(strings.TrimSpace(amount))
	if whole, frac, ok := strings.Cut(amount, ","); ok && !strings.ContainsAny(frac, ",.") &&
		(len(frac) != 3 || whole == "0") {
		amount = whole + "." + frac
	}
	if _, shared := signCurrencies[currency]; !shared {
		currency = strings.ToUpper(currency)
	}
	return sign + amount, currency
}

// ungroup reads the thousands an amount groups ("1,234.50", "1.234,50",
// "1 234,50", "1'234.50", "1,234,567") into plain decimal: dropped, a high
// price in VND or IDR was counted at the rate card's estimate. Only what
// cannot be read two ways is: every group after the first has three
// digits, and the decimal mark is the other character, or there is none
// and the mark repeats. A lone "1,000" (a thousand, or one?) is left for
// splitPrice's comma rule, which leaves it unread.
func ungroup(a string) string {
	// Spaces (also no-break ones) and apostrophes only ever group.
	spaced := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\u00a0', '\u202f', '\'', '’':
			return '_'
		}
		return r
	}, a)
	marks := strings.Trim(spaced, "0123456789")
	if marks == "" {
		return a
	}
	var group, decimal rune
	switch {
	case strings.ContainsRune(marks, '_'):
		group = '_'
		if last := strings.LastIndexAny(spaced, ".,"); last >= 0 {
			decimal = rune(spaced[last])
		}
	case strings.ContainsRune(marks, ',') && strings.ContainsRune(marks, '.'):
		// The last mark is the decimal one.
		decimal = rune(spaced[strings.LastIndexAny(spaced, ".,")])
		group = ','
		if decimal == ',' {
			group = '.'
		}
	case strings.Count(marks, ",") > 1:
		group = ','
	case strings.Count(marks, ".") > 1:
		group = '.'
	default:
		return a
	}
	whole, frac := spaced, ""
	if decimal != 0 {
		i := strings.LastIndexByte(spaced, byte(decimal))
		whole, frac = spaced[:i], spaced[i+1:]
		if frac == "" || strings.Trim(frac, "0123456789") != "" {
			return a
		}
	}
	groups := strings.Split(whole, string(group))
	// A grouped number starts with a digit other than 0: "0.050,0" and
	// "01,234.50" are no thousands (the first was read as 50).
	if len(groups) < 2 || len(groups[0]) < 1 || len(groups[0]) > 3 || groups[0][0] == '0' {
		return a
	}
	// Thousands, or India's lakh grouping (1,23,456.50): a last group of
	// three, and twos before it.
	thousands, lakh := true, group == ',' && len(groups[0]) <= 2
	for i, g := range groups {
		if strings.Trim(g, "0123456789") != "" {
			return a
		}
		if i > 0 {
			lakhLen := 2
			if i == len(groups)-1 {
				lakhLen = 3
			}
			thousands = thousands && len(g) == 3
			lakh = lakh && len(g) == lakhLen
		}
	}
	if !thousands && !lakh {
		return a
	}
	if frac == "" {
		return strings.Join(groups, "")
	}
	return strings.Join(groups, "") + "." + frac
}

// isCurrencyCode reports an ISO 4217 code's shape: three ASCII letters.
func isCurrencyCode(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return len(s) == 3
}

// Unix times are told apart by size: a seconds count passes 1e11 only in the
// year 5138, so anything larger is milliseconds, then micro- and nanoseconds.
const (
	unixMillisFrom = 1e11
	unixMicrosFrom = 1e14
	unixNanosFrom  = 1e17
)

// occurredAtLayouts are the textual times senders use, RFC 3339 first. Layouts
// without a zone are read as UTC, as carriers keep their clocks in UTC.
var occurredAtLayouts = []string{
	time.RFC3339Nano, // also reads RFC 3339 without fractions
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
}

var errNotUnixTime = errors.New("not a Unix time")

// parseTimestamp reads an occurred-at time; the zero time means unreadable,
// and the caller falls back on another source. Times before 2000 are treated
// as unreadable: they are placeholders ("1970-01-01", "0") or a unit mixed up,
// never a carrier's clock.
func parseTimestamp(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := parseUnix(s)
	if err == errNotUnixTime {
		// RFC 3339 allows "t" and "z" in lower case (§5.6); the layouts
		// hold no other letters, so upper case reads them all.
		s = strings.ToUpper(s)
		for _, layout := range occurredAtLayouts {
			if t, err = time.Parse(layout, s); err == nil {
				break
			}
		}
	}
	if err != nil || t.Year() < 2000 {
		return time.Time{}
	}
	return t.UTC()
}

// parseUnix reads s as a count since the Unix epoch, or returns errNotUnixTime
// when s is not a number at all.
func parseUnix(s string) (time.Time, error) {
	if strings.Trim(s, "0123456789.eE+-") != "" || s[0] < '0' || s[0] > '9' {
		return time.Time{}, errNotUnixTime
	}
	if strings.ContainsAny(s, "eE") && json.Valid([]byte(s)) {
		// 1.714978800123E9, as Java writes a double: in plain decimal
		// first, so the fraction is read exactly below.
		s = CanonicalNumber(s)
	}
	// Nanoseconds since 2001 take 19 digits: read exactly, not through a
	// float, which put 1714978805999999999 into the next second.
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && strings.Trim(s, "0123456789") == "" {
		switch {
		case n >= unixNanosFrom:
			return time.Unix(0, n), nil
		case n >= unixMicrosFrom:
			return time.UnixMicro(n), nil
		case n >= unixMillisFrom:
			return time.UnixMilli(n), nil
		}
		return time.Unix(n, 0), nil
	}
	if whole, frac, ok := strings.Cut(s, "."); ok && len(whole) <= 19 && whole != "" && frac != "" &&
		strings.Trim(whole+frac, "0123456789") == "" {
		return unixDecimal(whole, frac)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || f <= 0 || f >= 1e19 {
		return time.Time{}, errors.New("unix time out of range")
	}
	switch {
	case f >= unixNanosFrom:
	case f >= unixMicrosFrom:
		f *= 1e3
	case f >= unixMillisFrom:
		f *= 1e6
	default:
		f *= 1e9
	}
	return time.Unix(0, int64(f)), nil
}

// unixDecimal reads a Unix time written whole.frac, in the unit its whole
// part's size gives, to the nanosecond: through a float, "1714978800.123"
// came back as .122999 seconds.
func unixDecimal(whole, frac string) (time.Time, error) {
	n, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	// nanos reads the first digits of frac as a count of nanoseconds, the
	// fraction of a unit of that many nanoseconds; what lies below a
	// nanosecond is dropped.
	nanos := func(digits int) time.Duration {
		f := (frac + "000000000")[:digits]
		v, _ := strconv.ParseInt(f, 10, 64) // digits only, at most 9
		return time.Duration(v)
	}
	switch {
	case n >= unixNanosFrom:
		return time.Unix(0, n), nil
	case n >= unixMicrosFrom:
		return time.UnixMicro(n).Add(nanos(3)), nil
	case n >= unixMillisFrom:
		return time.UnixMilli(n).Add(nanos(6)), nil
	}
	return time.Unix(n, int64(nanos(9))), nil
}
