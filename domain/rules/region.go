package rules

import "strings"

// Unknown is the region of a recipient whose country cannot be read from the
// number. It is a region of its own, not a guess: rules never apply to it.
const Unknown = "UNKNOWN"

// country is what callingCodes knows of one calling code: whose it is, and
// how many digits that country's numbers have after the code.
type country struct {
	region string // ISO 3166-1 alpha-2
	// min and max bound the length of the national significant number
	// (NSN): the digits after the calling code, without a trunk 0.
	min, max int
}

// zeroNSN holds the calling codes whose NSNs may begin with 0. Elsewhere a
// leading 0 is the trunk prefix, which E.164 numbers never carry; Italy's
// fixed lines keep the 0 of their area code (Rome is +39 06...).
var zeroNSN = map[string]bool{"39": true}

// fitsPlan reports whether nsn could be a national significant number of the
// country that code (a key of callingCodes) belongs to. RegionOf asks it of
// bare digits, which may also be a national number.
func fitsPlan(code, nsn string) bool {
	c := callingCodes[code]
	return len(nsn) >= c.min && len(nsn) <= c.max && (nsn[0] != '0' || zeroNSN[code])
}

// callingCodes maps the E.164 country calling codes of the largest SMS
// markets to their country and its number lengths. Codes are prefix-free by
// ITU design, so trying the one-, two- and three-digit prefixes of a number
// finds at most one. +1 (NANP) and +7 (Russia and Kazakhstan) are not here:
// they share a code between countries, have ten-digit NSNs, and are split by
// what follows, in regionOfDigits.
//
// The lengths are those of fixed-line and mobile numbers in each country's
// national numbering plan (the national plans published under ITU-T E.164),
// checked against the fixed-line and mobile lengths in Google's libphonenumber
// metadata (9.0, 2026). Freephone, premium-rate and other service numbers are
// left out: they do not receive SMS, and some are short enough (GB's 0800 1111
// has seven digits) to let national numbers through. Where a plan's numbers
// vary widely in length (DE, AT, IT, FI, ID) the range is the whole span of
// its fixed and mobile numbers, up to E.164's 15 digits in all.
var callingCodes = map[string]country{
	"20":  {"EG", 8, 10},  // fixed 8 (Alexandria 3 + 7) or 9 (Cairo 2 + 8); mobile 10
	"212": {"MA", 9, 9},   // closed 9-digit plan
	"213": {"DZ", 8, 9},   // fixed 8; mobile 9
	"216": {"TN", 8, 8},   // closed 8-digit plan
	"233": {"GH", 9, 9},   // fixed and mobile 9
	"234": {"NG", 10, 10}, // mobile 80x/70x/90x + 7; fixed 20x + 7
	"254": {"KE", 7, 9},   // fixed 7-9 (Nairobi 20 + 7); mobile 9
	"255": {"TZ", 9, 9},   // closed 9-digit plan
	"256": {"UG", 9, 9},   // closed 9-digit plan
	"27":  {"ZA", 9, 9},   // closed 9-digit plan
	"30":  {"GR", 10, 10}, // closed 10-digit plan
	"31":  {"NL", 9, 11},  // fixed and mobile 9; M2M mobiles (970) 11
	"32":  {"BE", 8, 9},   // fixed 8; mobile 9
	"33":  {"FR", 9, 9},   // closed 9-digit plan
	"34":  {"ES", 9, 9},   // closed 9-digit plan
	"351": {"PT", 9, 9},   // closed 9-digit plan
	"353": {"IE", 7, 9},   // fixed 7-9 (Dublin 1 + 7); mobile 9
	"358": {"FI", 5, 10},  // fixed 5-9; mobile 6-10
	"36":  {"HU", 8, 9},   // fixed 8 (Budapest 1 + 7); mobile 9
	"380": {"UA", 9, 9},   // closed 9-digit plan
	"39":  {"IT", 6, 11},  // fixed 6-11, keeping the area code's 0 (zeroNSN); mobile 9-10
	"40":  {"RO", 9, 9},   // closed 9-digit plan
	"41":  {"CH", 9, 9},   // closed 9-digit plan
	"420": {"CZ", 9, 9},   // closed 9-digit plan
	"43":  {"AT", 4, 13},  // fixed 4-13 (extensions dialled through); mobile 7-13
	"44":  {"GB", 9, 10},  // fixed 9-10; mobile 10
	"45":  {"DK", 8, 8},   // closed 8-digit plan
	"46":  {"SE", 7, 9},   // fixed 7-9; mobile 9
	"47":  {"NO", 8, 8},   // fixed and mobile 8
	"48":  {"PL", 9, 9},   // closed 9-digit plan
	"49":  {"DE", 5, 13},  // fixed 5-13 (E.164's limit; extensions dialled through); mobile 10-11
	"51":  {"PE", 8, 9},   // fixed 8 (Lima 1 + 7); mobile 9
	"52":  {"MX", 10, 10}, // closed 10-digit plan
	"54":  {"AR", 10, 11}, // fixed 10; mobile 9 + 10
	"55":  {"BR", 10, 11}, // area code 2 + fixed 8 or mobile 9
	"56":  {"CL", 9, 9},   // closed 9-digit plan
	"57":  {"CO", 10, 10}, // closed 10-digit plan since 2021
	"58":  {"VE", 10, 10}, // closed 10-digit plan
	"593": {"EC", 8, 9},   // fixed 8; mobile 9
	"60":  {"MY", 8, 10},  // fixed 8-9; mobile 9-10
	"61":  {"AU", 9, 9},   // fixed and mobile 9
	"62":  {"ID", 7, 12},  // fixed 7-11; mobile 9-12
	"63":  {"PH", 8, 10},  // fixed 8-10 (Manila 2 + 8); mobile 10
	"64":  {"NZ", 8, 10},  // fixed 8; mobile 8-10
	"65":  {"SG", 8, 8},   // closed 8-digit plan
	"66":  {"TH", 8, 9},   // fixed 8; mobile 9
	"81":  {"JP", 9, 10},  // fixed 9; mobile 10
	"82":  {"KR", 8, 10},  // fixed 8-10 (Seoul 2 + 7 or 8); mobile 9-10
	"84":  {"VN", 9, 10},  // fixed 10; mobile 9
	"852": {"HK", 8, 8},   // closed 8-digit plan
	"86":  {"CN", 10, 11}, // fixed 10-11 (area code 2 + 8, or 3 + 7-8); mobile 11
	"880": {"BD", 6, 10},  // fixed 6-10; mobile 10
	"886": {"TW", 8, 9},   // fixed 8-9 (Taipei 2 + 8); mobile 9
	"90":  {"TR", 10, 10}, // closed 10-digit plan
	"91":  {"IN", 10, 10}, // closed 10-digit plan
	"92":  {"PK", 9, 10},  // fixed 9-10; mobile 10
	"94":  {"LK", 9, 9},   // closed 9-digit plan
	"962": {"JO", 8, 9},   // fixed 8; mobile 9
	"965": {"KW", 8, 8},   // closed 8-digit plan
	"966": {"SA", 9, 9},   // fixed and mobile 9
	"971": {"AE", 8, 9},   // fixed 8; mobile 9
	"972": {"IL", 8, 9},   // fixed 8; mobile 9
	"974": {"QA", 8, 8},   // fixed and mobile 8
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
	for code, c := range callingCodes {
		m[c.region] = code
	}
	for _, region := range nanpAreas {
		m[region] = "1"
	}
	return m
}()

// RegionOf returns the ISO 3166-1 alpha-2 country of an SMS recipient, read
// from its E.164 country calling code, or Unknown.
//
// It accepts "+447700900123", "00447700900123" and, because CXone and SMPP
// often send numbers without the plus, bare digits "447700900123", with
// spaces, dots, dashes and parentheses ignored. The number must then have 8 to
// 15 digits (E.164's length) and a calling code in the table. A national
// number such as "07700 900123" starts with 0, which no calling code does, so
// it is Unknown rather than guessed.
//
// Bare digits may also be a national number written without its trunk 0, such
// as a US "4155550100", which starts like a Swiss number (+41). So they are
// read as international only when what follows the calling code fits that
// country's numbering plan: a length its numbers have, and no leading 0 (the
// Swiss "55550100" has 8 digits, where Swiss numbers have 9). Otherwise they
// are Unknown, never assumed to be American or of any other country. Where
// both readings fit, the international one is taken; only a "+" settles it. A
// number with "+" or "00" is taken as its sender wrote it.
//
// +1 numbers must have the NANP shape (area code and exchange starting 2-9);
// Canadian and Caribbean area codes map to their countries, the rest to US.
func RegionOf(recipient string) string {
	digits, intl, ok := e164Digits(recipient)
	if !ok {
		return Unknown
	}
	return regionOfDigits(digits, !intl)
}

// e164Digits strips the international prefix and separators from s and
// reports whether s had that prefix ("+" or "00") and whether what is left
// could be an E.164 number.
func e164Digits(s string) (digits string, intl, ok bool) {
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, "+"):
		s, intl = s[1:], true
	case strings.HasPrefix(s, "00"):
		s, intl = s[2:], true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			b.WriteByte(c)
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			return "", false, false
		}
	}
	d := b.String()
	if len(d) < 8 || len(d) > 15 || d[0] == '0' {
		return "", false, false
	}
	return d, intl, true
}

// regionOfDigits reads the country of the international number d. A bare
// number (no "+" or "00") must also fit the country's numbering plan.
func regionOfDigits(d string, bare bool) string {
	switch d[0] {
	case '1':
		// validNANP checks the length and the leading digits.
		if !validNANP(d) {
			return Unknown
		}
		if r, ok := nanpAreas[d[1:4]]; ok {
			return r
		}
		return "US"
	case '7':
		// Kazakhstan holds +7 6xx and +7 7xx; the rest of +7 is Russia.
		if len(d) != 11 || (bare && d[1] == '0') {
			return Unknown
		}
		if d[1] == '6' || d[1] == '7' {
			return "KZ"
		}
		return "RU"
	}
	code := callingCodeOf(d)
	if code == "" {
		return Unknown
	}
	if bare && !fitsPlan(code, d[len(code):]) {
		return Unknown
	}
	return callingCodes[code].region
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
