package rules

import (
	"strings"
	"testing"
)

func TestRegionOf(t *testing.T) {
	tests := []struct {
		recipient string
		want      string
	}{
		// The accepted spellings of one number.
		{"+447700900123", "GB"},
		// Countries outside the hand-checked markets (a tester's Slovak and
		// Luxembourg numbers read UNKNOWN once).
		{"+421912123456", "SK"},
		{"+352621123456", "LU"},
		{"+3546111234", "IS"},
		{"+37255123456", "EE"},
		{"+96477012345678", "IQ"},
		{"+995555123456", "GE"},
		{"+85620212345678", "LA"},
		{"+441481123456", "GB"},  // Guernsey shares +44
		{"421912123456", "SK"},   // bare, and the length fits
		{"42191212345", Unknown}, // bare, a digit short
		{"00447700900123", "GB"},
		{"447700900123", "GB"},
		{"+44 7700 900123", "GB"},
		{"+44-7700-900123", "GB"},
		{"  +447700900123\t", "GB"},
		// A sample number for each supported market.
		{"+91 98765 43210", "IN"},
		{"+61 412 345 678", "AU"},
		{"+49 1512 3456789", "DE"},
		{"+33 6 12 34 56 78", "FR"},
		{"+34 612 345 678", "ES"},
		{"+39 312 345 6789", "IT"},
		{"+31 6 12345678", "NL"},
		{"+32 470 12 34 56", "BE"},
		{"+41 79 123 45 67", "CH"},
		{"+43 664 1234567", "AT"},
		{"+46 70 123 45 67", "SE"},
		{"+47 412 34 567", "NO"},
		{"+45 20 12 34 56", "DK"},
		{"+358 40 1234567", "FI"},
		{"+48 512 345 678", "PL"},
		{"+351 912 345 678", "PT"},
		{"+353 85 123 4567", "IE"},
		{"+30 691 234 5678", "GR"},
		{"+420 601 123 456", "CZ"},
		{"+40 712 345 678", "RO"},
		{"+36 20 123 4567", "HU"},
		{"+380 50 123 4567", "UA"},
		{"+7 912 345 67 89", "RU"},
		{"+7 701 234 56 78", "KZ"},
		// Baikonur's +7 336 22 is KZ, as libphonenumber files it, where
		// it was read as RU; the rest of +7 336 stays Russian.
		{"+7 336 22 1 23 45", "KZ"},
		{"73362212345", "KZ"},
		{"0073362212345", "KZ"},
		{"+7 336 21 1 23 45", "RU"},
		{"+7 336 123 45 67", "RU"},
		{"+90 532 123 4567", "TR"},
		{"+972 50 123 4567", "IL"},
		{"+971 50 123 4567", "AE"},
		{"+966 50 123 4567", "SA"},
		{"+974 3312 3456", "QA"},
		{"+965 5012 3456", "KW"},
		{"+962 7 9123 4567", "JO"},
		{"+20 100 123 4567", "EG"},
		{"+212 612 345678", "MA"},
		{"+213 551 23 45 67", "DZ"},
		{"+216 20 123 456", "TN"},
		{"+234 803 123 4567", "NG"},
		{"+233 24 123 4567", "GH"},
		{"+254 712 345678", "KE"},
		{"+255 712 345 678", "TZ"},
		{"+256 772 123456", "UG"},
		{"+27 82 123 4567", "ZA"},
		{"+55 11 91234 5678", "BR"},
		{"+52 55 1234 5678", "MX"},
		{"+54 9 11 1234 5678", "AR"},
		{"+57 300 1234567", "CO"},
		{"+56 9 1234 5678", "CL"},
		{"+51 912 345 678", "PE"},
		{"+58 412 1234567", "VE"},
		{"+593 99 123 4567", "EC"},
		{"+60 12 345 6789", "MY"},
		{"+62 812 3456 7890", "ID"},
		{"+63 917 123 4567", "PH"},
		{"+64 21 123 4567", "NZ"},
		{"+65 8123 4567", "SG"},
		{"+66 81 234 5678", "TH"},
		{"+81 90 1234 5678", "JP"},
		{"+82 10 1234 5678", "KR"},
		{"+84 91 234 56 78", "VN"},
		{"+852 9123 4567", "HK"},
		{"+86 138 0013 8000", "CN"},
		{"+880 1712 345678", "BD"},
		{"+886 912 345 678", "TW"},
		{"+91 98765 43210", "IN"},
		{"+92 300 1234567", "PK"},
		{"+94 71 234 5678", "LK"},
		// +1 is split by area code.
		{"+12125550123", "US"},
		{"+1 (305) 555-0123", "US"},
		{"12125550123", "US"},
		{"+18005550199", "US"},
		{"+14165550123", "CA"},
		{"14165550123", "CA"},
		{"+16045550123", "CA"},
		{"+15145550123", "CA"},
		{"+18675550123", "CA"},
		{"+17875550123", "PR"},
		{"+18765550123", "JM"},
		{"+18095550123", "DO"},
		{"+12425550123", "BS"},
		// Not E.164, or not a country we know: never a guess.
		{"", Unknown},
		{"   ", Unknown},
		{"+", Unknown},
		{"00", Unknown},
		{"07700 900123", Unknown},   // national format
		{"+0447700900123", Unknown}, // no calling code starts with 0
		{"+4412345", Unknown},       // 7 digits: too short
		{"+4477009001234567", Unknown},
		{"+44ABC900123", Unknown},
		{"ACME", Unknown},
		{"tel:+447700900123", Unknown},
		{"+44 7700\x00900123", Unknown},
		{"+44/7700/900123", Unknown},
		{"+1212555012", Unknown},   // ten digits after +: not NANP
		{"+112125550123", Unknown}, // twelve
		{"+11125550123", Unknown},  // area code starts with 1
		{"+12121550123", Unknown},  // exchange starts with 1
		{"+999 123 456 789", Unknown},
		{"+7 912 345 67", Unknown}, // +7 needs ten digits after it
	}
	for _, tt := range tests {
		if got := RegionOf(tt.recipient); got != tt.want {
			t.Errorf("RegionOf(%q) = %q, want %q", tt.recipient, got, tt.want)
		}
	}
}

// TestRegionOfEveryCallingCode proves the table resolves each of its codes
// to its own country, whichever length the code has.
func TestRegionOfEveryCallingCode(t *testing.T) {
	for code, c := range callingCodes {
		n := "+" + code + "712345678"
		if got := RegionOf(n); got != c.region {
			t.Errorf("RegionOf(%q) = %q, want %q", n, got, c.region)
		}
	}
}

// TestRegionOfBareDigits is the fault a tester reported: national numbers
// written without "+" read as foreign. Bare digits are international only
// when what follows the calling code fits that country's numbering plan.
func TestRegionOfBareDigits(t *testing.T) {
	tests := []struct {
		recipient string
		want      string
	}{
		// US numbers written nationally, which used to read as +41, +212,
		// +31 and +44: the rest is too short for those countries.
		{"4155550100", Unknown},
		{"2125550100", Unknown},
		{"3105550100", Unknown},
		{"4405550100", Unknown},
		{"(415) 555-0100", Unknown},
		// The length fits, but no NSN there starts with a trunk 0: Atlanta
		// (470), the Bay Area (650), Quebec (450), Connecticut (860) and
		// Washington (360) would be Norway, Singapore, Denmark, China and
		// Hungary.
		{"4705550100", Unknown},
		{"6505550100", Unknown},
		{"4505550100", Unknown},
		{"8605550100", Unknown},
		{"3605550100", Unknown},
		// Never US either: an Indian mobile written nationally, and a US
		// number missing a digit.
		{"9876543210", Unknown},
		{"415555010", Unknown},
		// Where both readings fit, the international one wins: this Oregon
		// number is also a Danish mobile. Only a "+" tells them apart.
		{"4582345678", "DK"},
		// Bare international numbers whose rest fits the plan.
		{"447700900123", "GB"},
		{"442071234567", "GB"},
		{"14155550100", "US"},
		{"14165550123", "CA"},
		{"919876543210", "IN"},
		{"4915123456789", "DE"},
		{"49301234567", "DE"},
		{"33612345678", "FR"},
		{"61412345678", "AU"},
		{"8613812345678", "CN"},
		{"5511987654321", "BR"},
		{"525512345678", "MX"},
		{"34612345678", "ES"},
		{"393123456789", "IT"},
		{"390612345678", "IT"}, // Rome keeps its 0
		{"31612345678", "NL"},
		{"41791234567", "CH"},
		{"4520123456", "DK"},
		{"4741234567", "NO"},
		{"6581234567", "SG"},
		{"85291234567", "HK"},
		{"819012345678", "JP"},
		{"821012345678", "KR"},
		{"2348031234567", "NG"},
		{"254712345678", "KE"},
		{"27821234567", "ZA"},
		{"971501234567", "AE"},
		{"966501234567", "SA"},
		{"201001234567", "EG"},
		{"79123456789", "RU"},
		{"77012345678", "KZ"},
		{"0044 7700 900123", "GB"},
		// Bare, and not fitting: a digit short or long, or a trunk 0 kept.
		{"4477009001", Unknown},    // GB: 8 digits, where it has 9 or 10
		{"4477009001234", Unknown}, // GB: 11 digits
		{"4407700900123", Unknown}, // GB with its trunk 0 kept
		{"330612345678", Unknown},  // FR with its trunk 0 kept
		{"9109876543210", Unknown}, // IN with its trunk 0 kept
		{"4907012345678", Unknown}, // DE: the length fits, the trunk 0 does not
		{"61041234567", Unknown},   // AU: likewise
		{"551198765432", "BR"},     // São Paulo fixed line: 10 digits fit
		{"55119876543", Unknown},   // 9 digits do not
		{"70123456789", Unknown},   // +7 with a trunk 0
		{"7912345678", Unknown},    // +7 needs ten digits after it
		// With "+" or "00" the sender has said the number is international:
		// the same digits keep their plain reading.
		{"+4155550100", "CH"},
		{"+2125550100", "MA"},
		{"+3105550100", "NL"},
		{"+4405550100", "GB"},
		{"004405550100", "GB"},
		{"+4407700900123", "GB"},
		{"+70123456789", "RU"},
	}
	for _, tt := range tests {
		if got := RegionOf(tt.recipient); got != tt.want {
			t.Errorf("RegionOf(%q) = %q, want %q", tt.recipient, got, tt.want)
		}
	}
}

// TestRegionOfBareEveryLength walks each country's NSN lengths: bare digits
// fit inside the range and not a digit outside it, while the same digits
// with "+" keep their plain reading.
func TestRegionOfBareEveryLength(t *testing.T) {
	for code, c := range callingCodes {
		for n := c.min - 1; n <= c.max+1; n++ {
			total := len(code) + n
			if n < 1 || total < 8 || total > 15 {
				continue // e164Digits refuses these however they are written
			}
			nsn := "7" + strings.Repeat("1", n-1)
			want := c.region
			if !c.fits(n) {
				want = Unknown
			}
			if got := RegionOf(code + nsn); got != want {
				t.Errorf("%s (%s, %d-digit NSN): RegionOf = %q, want %q", code+nsn, c.region, n, got, want)
			}
			if got := RegionOf("+" + code + nsn); got != c.region {
				t.Errorf("+%s: RegionOf = %q, want %q", code+nsn, got, c.region)
			}
			zero := "0" + nsn[1:]
			want = Unknown
			if zeroNSN[code] && c.fits(n) {
				want = c.region
			}
			if got := RegionOf(code + zero); got != want {
				t.Errorf("%s (%s, NSN with a leading 0): RegionOf = %q, want %q", code+zero, c.region, got, want)
			}
		}
	}
}

// TestCallingCodeTable keeps the table within E.164: an NSN range that makes
// sense, inside 15 digits in all, for a region code in capitals.
func TestCallingCodeTable(t *testing.T) {
	for code, c := range callingCodes {
		if len(code) < 2 || len(code) > 3 || code[0] == '0' || code[0] == '1' || code[0] == '7' {
			t.Errorf("%s: not a two- or three-digit calling code outside +1 and +7", code)
		}
		if c.min < 4 || c.min > c.max || len(code)+c.max > 15 {
			t.Errorf("+%s: NSN length %d..%d is not within E.164's 15 digits", code, c.min, c.max)
		}
		if len(c.region) != 2 || strings.ToUpper(c.region) != c.region {
			t.Errorf("+%s: region %q is not an ISO 3166-1 alpha-2 code", code, c.region)
		}
	}
	for code := range zeroNSN {
		if _, ok := callingCodes[code]; !ok {
			t.Errorf("zeroNSN lists +%s, which callingCodes does not", code)
		}
	}
}

func TestRegionOfEveryNANPArea(t *testing.T) {
	for area, want := range nanpAreas {
		n := "+1" + area + "5550123"
		if got := RegionOf(n); got != want {
			t.Errorf("RegionOf(%q) = %q, want %q", n, got, want)
		}
	}
	// Every area code in use that is not listed is the United States'.
	for _, area := range []string{"201", "212", "213", "305", "312", "415", "617", "646", "713", "917"} {
		if got := RegionOf("+1" + area + "5550123"); got != "US" {
			t.Errorf("area %s: got %q, want US", area, got)
		}
	}
}

func FuzzRegionOf(f *testing.F) {
	for _, s := range []string{"+447700900123", "00447700900123", "14165550123", "+7 701 234 56 78", "", "+", "0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := RegionOf(s)
		if r != Unknown && !knownRegion(r) {
			t.Fatalf("RegionOf(%q) = %q, which is neither Unknown nor a known region", s, r)
		}
	})
}

// TestParseRegionEveryCountry: a filter names any country a recipient can
// be read as, not only the hand-checked markets (?region=SK was a 400).
func TestParseRegionEveryCountry(t *testing.T) {
	for _, s := range []string{"SK", "lu", " IS ", "EE", "IQ", "uk", "UNKNOWN", "KZ", "JM"} {
		if r, ok := ParseRegion(s); !ok {
			t.Errorf("ParseRegion(%q) = %q, refused", s, r)
		}
	}
	for _, s := range []string{"ZZ", "XX", "", "USA", "GG"} { // GG: Guernsey's numbers read GB
		if r, ok := ParseRegion(s); ok {
			t.Errorf("ParseRegion(%q) = %q, accepted", s, r)
		}
	}
}

// TestSharedTerritory: a real country code whose numbers share a calling
// code with a main country (JE on +44) was refused as no ISO code at all.
// It names where RegionOf counts those numbers, and is never itself a
// region a read model holds.
func TestSharedTerritory(t *testing.T) {
	for _, tt := range []struct{ region, main, code, number string }{
		{"JE", "GB", "44", "+447797123456"}, // a Jersey mobile
		{"gg", "GB", "44", "+447781123456"},
		{" IM ", "GB", "44", "+447624123456"},
		{"VA", "IT", "39", "+390669812345"},
		{"AX", "FI", "358", "+358181234567"},
		{"EH", "MA", "212", "+212528123456"},
		{"CC", "AU", "61", "+61891621234"},
		{"CX", "AU", "61", "+61891641234"},
		{"SJ", "NO", "47", "+4779123456"},
		{"BQ", "CW", "599", "+5997151234"},
		{"TA", "SH", "290", ""}, // four digits after +290: below E.164's 8 that RegionOf reads
	} {
		main, code, ok := SharedTerritory(tt.region)
		if !ok || main != tt.main || code != tt.code {
			t.Errorf("SharedTerritory(%q) = %q, %q, %v; want %q, %q, true", tt.region, main, code, ok, tt.main, tt.code)
		}
		if got := RegionOf(tt.number); tt.number != "" && got != tt.main {
			t.Errorf("RegionOf(%q) = %q, want %q, where SharedTerritory counts %s", tt.number, got, tt.main, tt.region)
		}
		if r, ok := ParseRegion(tt.region); ok {
			t.Errorf("ParseRegion(%q) = %q, accepted: no read model holds it", tt.region, r)
		}
	}
	// Countries of their own, +1's and +7's among them, are not shared.
	for _, r := range []string{"GB", "US", "CA", "JM", "KZ", "RU", "UK", "ZZ", "UNKNOWN", ""} {
		if main, code, ok := SharedTerritory(r); ok {
			t.Errorf("SharedTerritory(%q) = %q, %q, true; want false", r, main, code)
		}
	}
	// The generated table agrees with callingCodes (which the hand-checked
	// codes override) and never hides a region RegionOf returns.
	for terr, s := range ituSharedTerritories {
		if knownRegion(terr) {
			t.Errorf("%s is listed as sharing +%s, but is a region RegionOf returns", terr, s.code)
		}
		if c, ok := callingCodes[s.code]; !ok || c.region != s.region {
			t.Errorf("%s: shares +%s with %s, but callingCodes files +%s under %q", terr, s.code, s.region, s.code, c.region)
		}
	}
}

// TestNumberingTables keeps the generated toll-free patterns and trunk
// prefixes in step with the calling codes they are filed under.
func TestNumberingTables(t *testing.T) {
	for code := range ituTollFree {
		if _, ok := callingCodes[code]; !ok && code != "7" {
			t.Errorf("ituTollFree lists +%s, which is no calling code RegionOf reads", code)
		}
	}
	if _, ok := ituTollFree["1"]; ok {
		t.Error("ituTollFree lists +1, which nanpTollFree judges")
	}
	for code, p := range ituTrunkPrefixes {
		if _, ok := callingCodes[code]; !ok || !strings.HasPrefix(p, "0") {
			t.Errorf("ituTrunkPrefixes: +%s %q is not a calling code's trunk prefix beginning with 0", code, p)
		}
	}
	for _, tt := range []struct {
		code, nsn string
		want      bool
	}{
		{"61", "1800123456", true},
		{"44", "8001234567", true},
		{"44", "80012345678", false}, // anchored: a longer number is not one
		{"44", "7700900123", false},
		{"1", "8005550199", false}, // NANP's are nanpTollFree's
	} {
		if got := isTollFreeNSN(tt.code, tt.nsn); got != tt.want {
			t.Errorf("isTollFreeNSN(%q, %q) = %v, want %v", tt.code, tt.nsn, got, tt.want)
		}
	}
}
