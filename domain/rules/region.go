package rules

import "strings"

// Unknown is the region of a recipient whose country cannot be read from the
// number. It is a region of its own, not a guess: rules never apply to it.
const Unknown = "UNKNOWN"

// callingCodes maps E.164 country calling codes to ISO 3166-1 alpha-2 codes
// for the largest SMS markets. Codes are prefix-free by ITU design, so trying
// the one-, two- and three-digit prefixes of a number finds at most one. +1
// (NANP) and +7 (Russia and Kazakhstan) share a code between countries and are
// split by what follows, in regionOfDigits.
var callingCodes = map[string]string{
	"20": "EG", "212": "MA", "213": "DZ", "216": "TN", "233": "GH",
	"234": "NG", "254": "KE", "255": "TZ", "256": "UG", "27": "ZA",
	"30": "GR", "31": "NL", "32": "BE", "33": "FR", "34": "ES",
	"351": "PT", "353": "IE", "358": "FI", "36": "HU", "380": "UA",
	"39": "IT", "40": "RO", "41": "CH", "420": "CZ", "43": "AT",
	"44": "GB", "45": "DK", "46": "SE", "47": "NO", "48": "PL",
	"49": "DE", "51": "PE", "52": "MX", "54": "AR", "55": "BR",
	"56": "CL", "57": "CO", "58": "VE", "593": "EC", "60": "MY",
	"61": "AU", "62": "ID", "63": "PH", "64": "NZ", "65": "SG",
	"66": "TH", "81": "JP", "82": "KR", "84": "VN", "852": "HK",
	"86": "CN", "880": "BD", "886": "TW", "90": "TR", "91": "IN",
	"92": "PK", "94": "LK", "962": "JO", "965": "KW", "966": "SA",
	"971": "AE", "972": "IL", "974": "QA",
}

// nanpAreas maps the NANP area codes that are not the United States' to their
// country. Every other valid NANP number is US: the US holds most area codes,
// including the non-geographic ones (toll-free, 5XX, 900).
var nanpAreas = func() map[string]string {
	m := map[string]string{
		// Caribbean and Pacific members of the plan, and US territories,
		// which ISO 3166 and carriers' country guidelines list apart.
		"242": "BS", "246": "BB", "264": "AI", "268": "AG", "284": "VG",
		"340": "VI", "345": "KY", "441": "BM", "473": "GD", "649": "TC",
		"658": "JM", "876": "JM", "664": "MS", "670": "MP", "671": "GU",
		"684": "AS", "721": "SX", "758": "LC", "767": "DM", "784": "VC",
		"787": "PR", "939": "PR", "809": "DO", "829": "DO", "849": "DO",
		"868": "TT", "869": "KN",
	}
	// Canadian area codes, geographic and non-geographic (600, 622), as
	// assigned by the Canadian Numbering Administrator up to 2025.
	for _, a := range strings.Fields(`
		204 226 236 249 250 257 263 289 306 343 354 365 367 368 382
		403 416 418 428 431 437 438 450 460 468 474 506 514 519 548
		579 581 584 587 600 604 613 622 639 647 672 683 705 709 742
		753 778 780 782 807 819 825 867 873 879 902 905 942`) {
		m[a] = "CA"
	}
	return m
}()

// nanpTollFree are the NANP toll-free area codes. A sender number under one of
// them is a toll-free sender, which US and Canadian carriers treat apart from
// ordinary long codes.
var nanpTollFree = map[string]bool{
	"800": true, "833": true, "844": true, "855": true, "866": true, "877": true, "888": true,
}

// regionCallingCode maps every region RegionOf can return to its calling code;
// Parse uses it to refuse a rule for a region no recipient will ever have.
var regionCallingCode = func() map[string]string {
	m := map[string]string{"US": "1", "RU": "7", "KZ": "7"}
	for code, region := range callingCodes {
		m[region] = code
	}
	for _, region := range nanpAreas {
		m[region] = "1"
	}
	return m
}()

// RegionOf returns the ISO 3166-1 alpha-2 country of an SMS recipient, read
// from its E.164 country calling code, or Unknown.
//
// It accepts "+447700900123", "00447700900123" and, because CXone often sends
// numbers without the plus, bare digits "447700900123", with spaces, dots,
// dashes and parentheses ignored. The number must then have 8 to 15 digits
// (E.164's length) and a calling code in the table. A national number such as
// "07700 900123" starts with 0, which no calling code does, so it is Unknown
// rather than guessed. A bare national number without its leading 0 (a US
// "4155550123") cannot be told from an international one and is read as
// international ("41" is Switzerland); senders that write numbers that way
// must add the country code.
//
// +1 numbers must have the NANP shape (area code and exchange starting 2-9);
// Canadian and Caribbean area codes map to their countries, the rest to US.
func RegionOf(recipient string) string {
	digits, ok := e164Digits(recipient)
	if !ok {
		return Unknown
	}
	return regionOfDigits(digits)
}

// e164Digits strips the international prefix and separators from s and
// reports whether what is left could be an E.164 number.
func e164Digits(s string) (string, bool) {
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	case strings.HasPrefix(s, "00"):
		s = s[2:]
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			b.WriteByte(c)
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			return "", false
		}
	}
	d := b.String()
	if len(d) < 8 || len(d) > 15 || d[0] == '0' {
		return "", false
	}
	return d, true
}

func regionOfDigits(d string) string {
	switch d[0] {
	case '1':
		if !validNANP(d) {
			return Unknown
		}
		if r, ok := nanpAreas[d[1:4]]; ok {
			return r
		}
		return "US"
	case '7':
		// Kazakhstan holds +7 6xx and +7 7xx; the rest of +7 is Russia.
		if len(d) != 11 {
			return Unknown
		}
		if d[1] == '6' || d[1] == '7' {
			return "KZ"
		}
		return "RU"
	}
	if code := callingCodeOf(d); code != "" {
		return callingCodes[code]
	}
	return Unknown
}

// validNANP reports whether d (with its leading 1) is a dialable NANP number:
// eleven digits, area code and exchange each starting with 2-9.
func validNANP(d string) bool {
	return len(d) == 11 && d[0] == '1' && d[1] >= '2' && d[4] >= '2'
}

// callingCodeOf returns the calling code that d starts with, or "" when it is
// not one this package knows.
func callingCodeOf(d string) string {
	if d == "" {
		return ""
	}
	if d[0] == '1' || d[0] == '7' {
		return d[:1]
	}
	for n := 2; n <= 3 && n <= len(d); n++ {
		if _, ok := callingCodes[d[:n]]; ok {
			return d[:n]
		}
	}
	return ""
}

// knownRegion reports whether RegionOf can ever return region.
func knownRegion(region string) bool {
	_, ok := regionCallingCode[region]
	return ok
}

// ParseRegion reads a region as a client may write it in a query (any
// case, padded, "UK" for GB) and reports whether read models can hold it:
// an ISO country RegionOf knows, or Unknown.
func ParseRegion(s string) (string, bool) {
	r := normRegion(s)
	return r, r == Unknown || knownRegion(r)
}

// normRegion accepts a region as callers may hold it: any case, padded, or
// "UK", which the tutorial used for the United Kingdom.
func normRegion(region string) string {
	r := strings.ToUpper(strings.TrimSpace(region))
	if r == "UK" {
		return "GB"
	}
	return r
}
