package rules

import (
	"sort"
	"strings"
	"testing"
	"time"
)

// registered lists the IDs the sender tests treat as registered in the
// countries whose default list is empty (an operator fills it in).
var registered = []string{"ACME", "ACME-AD", "AD-ACME"}

func testRules(t *testing.T) *Rules {
	t.Helper()
	r := Default()
	for code, c := range r.Countries {
		if c.Alphanumeric.Registration.Required && len(c.Alphanumeric.Registration.Registered) == 0 {
			c.Alphanumeric.Registration.Registered = registered
			r.Countries[code] = c
		}
	}
	return r
}

type senderCase struct {
	sender string
	typ    string
	rule   string // "" for a valid sender
}

// senderCases has, for every country in the default rules, senders that pass
// and senders that fail, each with the rule it fails.
var senderCases = map[string][]senderCase{
	"AE": {
		{"ACME", SenderAlphanumeric, ""},
		{"AD-ACME", SenderAlphanumeric, ""},
		{"AC", SenderAlphanumeric, RuleAlphanumericLength},
		{"ACME_CO", SenderAlphanumeric, RuleAlphanumericCharset},
		{"OTHERCO", SenderAlphanumeric, RuleAlphanumericNotRegistered},
		{"+971501234567", SenderLongCode, RuleLongCodeNotAllowed},
		{"1234", SenderShortCode, RuleShortCodeNotAllowed},
	},
	"AU": {
		{"EXAMPLECO", SenderAlphanumeric, ""},
		{"ExampleCo", SenderAlphanumeric, ""}, // registrations are case-insensitive
		{"+61412345678", SenderLongCode, ""},
		{"A", SenderAlphanumeric, RuleAlphanumericLength},
		{"_EXAMPLE", SenderAlphanumeric, RuleAlphanumericCharset},
		{"EXAMPLE_", SenderAlphanumeric, RuleAlphanumericCharset},
		{"Unverified", SenderAlphanumeric, RuleAlphanumericBlocked},
		{"VERIFY", SenderAlphanumeric, RuleAlphanumericBlocked},
		{"ACME", SenderAlphanumeric, RuleAlphanumericNotRegistered},
		{"+18005550199", SenderTollFree, RuleTollFreeNotAllowed},
	},
	"BR": {
		{"12345", SenderShortCode, ""},
		{"ACME", SenderAlphanumeric, RuleAlphanumericNotAllowed},
		{"+5511912345678", SenderLongCode, RuleLongCodeNotAllowed},
		{"123456", SenderUnknown, RuleSenderFormat},
	},
	"CA": {
		{"+14165550123", SenderLongCode, ""},
		{"4165550123", SenderLongCode, ""},
		{"+12125550123", SenderLongCode, ""}, // a US number is domestic to +1
		{"123456", SenderShortCode, ""},
		{"+18555550199", SenderTollFree, ""},
		{"ACME", SenderAlphanumeric, RuleAlphanumericNotAllowed},
		{"+447700900123", SenderLongCode, RuleLongCodeNotDomestic},
		{"+11234567890", SenderLongCode, RuleLongCodeInvalid},
	},
	"CN": {
		{"+8613800138000", SenderLongCode, ""},
		{"106900", SenderShortCode, ""},
		{"ACME", SenderAlphanumeric, RuleAlphanumericNotAllowed},
		{"---", SenderUnknown, RuleSenderFormat},
	},
	"DE": {
		{"ACME", SenderAlphanumeric, ""},
		{"Acme Shop", SenderAlphanumeric, ""},
		{"+4915123456789", SenderLongCode, ""},
		{"ACME-SHOP", SenderAlphanumeric, RuleAlphanumericCharset},
		{"ACMECORPORATION", SenderAlphanumeric, RuleAlphanumericLength},
	},
	"EG": {
		{"ACME", SenderAlphanumeric, ""},
		{"OTHER", SenderAlphanumeric, RuleAlphanumericNotRegistered},
		{"ACME.EG", SenderAlphanumeric, RuleAlphanumericCharset},
	},
	"ES": {
		{"ACME", SenderAlphanumeric, ""},
		{"+34612345678", SenderLongCode, ""},
		{"ACME&CO", SenderAlphanumeric, RuleAlphanumericCharset},
		{"", SenderUnknown, RuleEmptySender},
	},
	"FR": {
		{"ACME", SenderAlphanumeric, ""},
		{"38000", SenderShortCode, ""},
		{"+33612345678", SenderLongCode, RuleLongCodeNotAllowed},
		{"380001", SenderUnknown, RuleSenderFormat},
	},
	"GB": {
		{"ACME", SenderAlphanumeric, ""},
		{"A", SenderAlphanumeric, ""},
		{"Acme Bank 1", SenderAlphanumeric, ""},
		{"+447700900123", SenderLongCode, ""},
		{"60000", SenderShortCode, ""},
		{"INFO", SenderAlphanumeric, RuleAlphanumericBlocked},
		{"verify", SenderAlphanumeric, RuleAlphanumericBlocked},
		{"InfoSMS", SenderAlphanumeric, RuleAlphanumericBlocked},
		{"Notify", SenderAlphanumeric, RuleAlphanumericBlocked},
		{"ACME LIMITED", SenderAlphanumeric, RuleAlphanumericLength},
		{"ACME!", SenderAlphanumeric, RuleAlphanumericCharset},
		{"+18005550199", SenderTollFree, RuleTollFreeNotAllowed},
		{"+4412", SenderUnknown, RuleSenderFormat},
	},
	"ID": {
		{"ACME", SenderAlphanumeric, ""},
		{"OTHER", SenderAlphanumeric, RuleAlphanumericNotRegistered},
	},
	"IE": {
		{"ACME", SenderAlphanumeric, ""},
		{"+353851234567", SenderLongCode, ""},
		{"ACME.IE", SenderAlphanumeric, RuleAlphanumericCharset},
	},
	"IN": {
		{"EXMPLE", SenderAlphanumeric, ""},
		{"exmple", SenderAlphanumeric, ""},
		{"123456", SenderShortCode, ""}, // a promotional numeric header
		{"ABCDEF", SenderAlphanumeric, RuleAlphanumericNotRegistered},
		{"ACME", SenderAlphanumeric, RuleAlphanumericLength},
		{"ABC123", SenderAlphanumeric, RuleAlphanumericCharset},
		{"+919876543210", SenderLongCode, RuleLongCodeNotAllowed},
	},
	"IT": {
		{"ACME", SenderAlphanumeric, ""},
		{"ACME#1", SenderAlphanumeric, RuleAlphanumericCharset},
	},
	"KE": {
		{"ACME", SenderAlphanumeric, ""},
		{"OTHER", SenderAlphanumeric, RuleAlphanumericNotRegistered},
	},
	"KR": {
		{"+821012345678", SenderLongCode, ""},
		{"ACME", SenderAlphanumeric, RuleAlphanumericNotAllowed},
	},
	"MX": {
		{"12345", SenderShortCode, ""},
		{"+525512345678", SenderLongCode, ""},
		{"ACME", SenderAlphanumeric, RuleAlphanumericNotAllowed},
	},
	"NG": {
		{"ACME", SenderAlphanumeric, ""},
		{"OTHER", SenderAlphanumeric, RuleAlphanumericNotRegistered},
		{"ACME_NG", SenderAlphanumeric, RuleAlphanumericCharset},
	},
	"NL": {
		{"ACME", SenderAlphanumeric, ""},
		{"ACME@NL", SenderAlphanumeric, RuleAlphanumericCharset},
	},
	"NZ": {
		{"4664", SenderShortCode, ""},
		{"123", SenderShortCode, ""},
		{"ACME", SenderAlphanumeric, RuleAlphanumericNotAllowed},
		{"+64211234567", SenderLongCode, RuleLongCodeNotAllowed},
	},
	"PH": {
		{"ACME", SenderAlphanumeric, ""},
		{"OTHER", SenderAlphanumeric, RuleAlphanumericNotRegistered},
	},
	"PK": {
		{"ACME", SenderAlphanumeric, ""},
		{"OTHER", SenderAlphanumeric, RuleAlphanumericNotRegistered},
	},
	"PL": {
		{"ACME", SenderAlphanumeric, ""},
		{"ACME_PL", SenderAlphanumeric, RuleAlphanumericCharset},
	},
	"SA": {
		{"ACME-AD", SenderAlphanumeric, ""},
		{"OTHER", SenderAlphanumeric, RuleAlphanumericNotRegistered},
		{"+966501234567", SenderLongCode, RuleLongCodeNotAllowed},
	},
	"SE": {
		{"ACME", SenderAlphanumeric, ""},
		{"ACMEÅ", SenderAlphanumeric, RuleAlphanumericCharset},
	},
	"SG": {
		{"ACME", SenderAlphanumeric, ""},
		{"OTHER", SenderAlphanumeric, RuleAlphanumericNotRegistered},
	},
	"TH": {
		{"ACME", SenderAlphanumeric, ""},
		{"AB", SenderAlphanumeric, RuleAlphanumericLength},
		{"OTHER", SenderAlphanumeric, RuleAlphanumericNotRegistered},
	},
	"TR": {
		{"ACME", SenderAlphanumeric, ""},
		{"OTHER", SenderAlphanumeric, RuleAlphanumericNotRegistered},
	},
	"US": {
		{"+12125550123", SenderLongCode, ""},
		{"2125550123", SenderLongCode, ""},
		{"12125550123", SenderLongCode, ""},
		{"+14165550123", SenderLongCode, ""},
		{"12345", SenderShortCode, ""},
		{"123456", SenderShortCode, ""},
		{"+18885550199", SenderTollFree, ""},
		{"8885550199", SenderTollFree, ""},
		{" 12345 ", SenderShortCode, ""},                             // gateway padding
		{"SENDER12", SenderAlphanumeric, RuleAlphanumericNotAllowed}, // the tutorial's simulator
		{"+442071234567", SenderLongCode, RuleLongCodeNotDomestic},
		{"442071234567", SenderLongCode, RuleLongCodeNotDomestic},
		{"+11005550123", SenderLongCode, RuleLongCodeInvalid},
		{"1234567", SenderUnknown, RuleSenderFormat},
		{"1234", SenderUnknown, RuleSenderFormat},
		{"+1-212-555", SenderUnknown, RuleSenderFormat},
		{"   ", SenderUnknown, RuleEmptySender},
	},
	"VN": {
		{"ACME", SenderAlphanumeric, ""},
		{"OTHER", SenderAlphanumeric, RuleAlphanumericNotRegistered},
	},
	"ZA": {
		{"ACME", SenderAlphanumeric, ""},
		{"+27821234567", SenderLongCode, ""},
		{"ACME!", SenderAlphanumeric, RuleAlphanumericCharset},
	},
}

func TestCheckSender(t *testing.T) {
	r := testRules(t)
	for region, cases := range senderCases {
		var valid, invalid int
		for _, c := range cases {
			v := r.CheckSender(c.sender, region)
			if v.Valid != (c.rule == "") || v.Rule != c.rule || v.SenderType != c.typ || v.Region != region {
				t.Errorf("CheckSender(%q, %s) = %+v\nwant type %s, rule %q", c.sender, region, v, c.typ, c.rule)
			}
			if v.Reason == "" || v.Source == "" {
				t.Errorf("CheckSender(%q, %s): want a reason and a source, got %+v", c.sender, region, v)
			}
			if v.Valid {
				valid++
			} else {
				invalid++
			}
		}
		if valid == 0 || invalid == 0 {
			t.Errorf("%s: want at least one valid and one invalid example, have %d and %d", region, valid, invalid)
		}
	}
}

// TestCheckSenderCoversEveryCountry keeps the examples in step with the
// default file: a country added there needs examples here.
func TestCheckSenderCoversEveryCountry(t *testing.T) {
	var missing []string
	for code := range Default().Countries {
		if _, ok := senderCases[code]; !ok {
			missing = append(missing, code)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("no sender examples for %v", missing)
	}
}

// TestCheckSenderDefaultRegistration: with the default file's empty lists,
// a country that requires registration reports every alphanumeric ID.
func TestCheckSenderDefaultRegistration(t *testing.T) {
	r := Default()
	for code, c := range r.Countries {
		reg := c.Alphanumeric.Registration
		if !reg.Required || len(reg.Registered) > 0 {
			continue
		}
		v := r.CheckSender("ACME", code)
		if v.Valid || v.Rule != RuleAlphanumericNotRegistered {
			t.Errorf("%s: want ACME unregistered, got %+v", code, v)
		}
		if !strings.Contains(v.Reason, "countries."+code+".alphanumeric.registration.registered") {
			t.Errorf("%s: reason should say where to list registered IDs: %s", code, v.Reason)
		}
	}
}

func TestCheckSenderAtRegistrationDate(t *testing.T) {
	r := Default()
	sydney := time.FixedZone("AEST", 10*3600)
	tests := []struct {
		at    time.Time
		valid bool
	}{
		{time.Date(2026, 6, 30, 23, 59, 59, 0, sydney), true},
		{time.Date(2026, 7, 1, 0, 0, 0, 0, sydney), false},
		{time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{time.Time{}, false}, // every requirement applies
	}
	for _, tt := range tests {
		v := r.CheckSenderAt("ACME", "AU", tt.at)
		if v.Valid != tt.valid {
			t.Errorf("ACME to AU at %v: %+v, want valid %v", tt.at, v, tt.valid)
		}
	}
	// The format rules apply whatever the date.
	if v := r.CheckSenderAt("Unverified", "AU", time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)); v.Valid {
		t.Errorf("Unverified before the register: %+v, want blocked", v)
	}
	// Singapore's registry predates the log: any time of ours is after it.
	if v := r.CheckSenderAt("ACME", "SG", time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)); v.Valid {
		t.Errorf("ACME to SG in 2025: %+v, want unregistered", v)
	}
}

func TestCheckSenderRegions(t *testing.T) {
	r := Default()
	tests := []struct {
		sender, region string
		wantRegion     string
		valid          bool
		rule           string
	}{
		{"ACME", Unknown, Unknown, true, RuleUnknownRegion},
		{"ACME", "", Unknown, true, RuleUnknownRegion},
		{"ACME", "BE", "BE", true, RuleNoCountryRule}, // a market without rules
		{"", Unknown, Unknown, false, RuleEmptySender},
		{"", "BE", "BE", false, RuleEmptySender},
		{"INFO", "uk", "GB", false, RuleAlphanumericBlocked}, // the tutorial's name for GB
		{"INFO", " gb ", "GB", false, RuleAlphanumericBlocked},
	}
	for _, tt := range tests {
		v := r.CheckSender(tt.sender, tt.region)
		if v.Region != tt.wantRegion || v.Valid != tt.valid || v.Rule != tt.rule || v.Reason == "" {
			t.Errorf("CheckSender(%q, %q) = %+v", tt.sender, tt.region, v)
		}
	}
}

func TestCheckSenderReasons(t *testing.T) {
	r := Default()
	tests := []struct{ sender, region, want string }{
		{"SENDER12", "US", "US does not accept alphanumeric sender IDs; use domestic long codes, 5-6 digit short codes or toll-free numbers"},
		{"INFO", "GB", `"INFO" is a generic sender ID that GB carriers block`},
		{"ACME LIMITED", "GB", `"ACME LIMITED" has 12 characters; GB allows 1-11 characters`},
		{"ACME", "IN", `"ACME" has 4 characters; IN allows 6 characters`},
		{"+442071234567", "US", `"+442071234567" is not a +1 number; US carriers accept A2P messages only from domestic numbers`},
		{"1234567", "US", `"1234567" has 7 digits: neither a US 5-6 digit short code nor a phone number (8 to 15 digits)`},
		{"ACME", "AU", `"ACME" is not among the sender IDs registered for AU with ACMA SMS Sender ID Register, required since 2026-07-01; once it is registered, add it to countries.AU.alphanumeric.registration.registered`},
		{"+12125550123", "US", "long code sender meets the US rules"},
	}
	for _, tt := range tests {
		if got := r.CheckSender(tt.sender, tt.region).Reason; got != tt.want {
			t.Errorf("CheckSender(%q, %s).Reason =\n%s\nwant\n%s", tt.sender, tt.region, got, tt.want)
		}
	}
}

// verdictCase is one sender to one destination and the verdict it should get.
type verdictCase struct {
	sender, region string
	typ, rule      string // rule "" for a valid sender
}

func checkVerdicts(t *testing.T, r *Rules, tests []verdictCase) {
	t.Helper()
	for _, tt := range tests {
		v := r.CheckSender(tt.sender, tt.region)
		if v.SenderType != tt.typ || v.Rule != tt.rule || v.Valid != (tt.rule == "") {
			t.Errorf("CheckSender(%q, %s) = type %s, rule %q (%s); want type %s, rule %q",
				tt.sender, tt.region, v.SenderType, v.Rule, v.Reason, tt.typ, tt.rule)
		}
	}
}

// TestCheckSenderInternationalPrefix is a fault a tester found: a foreign
// sender written with "00" (or NANP's "011", or a leading 0) passed the US
// and Canadian domestic-only rule, because any leading 0 was taken for a
// trunk prefix. A sender's "00" is international, as a recipient's is; "011"
// too where the destination is in the NANP; and a leading 0 is a trunk
// prefix only where the destination's country has one.
func TestCheckSenderInternationalPrefix(t *testing.T) {
	checkVerdicts(t, Default(), []verdictCase{
		{"00447700900199", "US", SenderLongCode, RuleLongCodeNotDomestic},
		{"0033612345679", "US", SenderLongCode, RuleLongCodeNotDomestic},
		{"004915112345678", "US", SenderLongCode, RuleLongCodeNotDomestic},
		{"011447700900199", "US", SenderLongCode, RuleLongCodeNotDomestic},
		{"00447700900199", "CA", SenderLongCode, RuleLongCodeNotDomestic},
		{"011447700900199", "CA", SenderLongCode, RuleLongCodeNotDomestic},
		// The NANP has no trunk 0: a number that starts with one is not +1.
		{"0447700900199", "US", SenderLongCode, RuleLongCodeNotDomestic},
		{"02125550123", "US", SenderLongCode, RuleLongCodeNotDomestic},
		// A +1 number behind "00" or "011" is still +1: this one is a San
		// Francisco number, domestic to the US.
		{"0014155550199", "US", SenderLongCode, ""},
		{"01114165550123", "US", SenderLongCode, ""},
		{"0018885550199", "US", SenderTollFree, ""},
		{"0011005550123", "US", SenderLongCode, RuleLongCodeInvalid},
		// "00" is never the start of a short code.
		{"0012345", "US", SenderUnknown, RuleSenderFormat},
	})

	// Where long codes must be domestic outside the NANP, a trunk prefix
	// marks a national number only in a country that has one: GB does
	// (0), Spain does not, and Italy's numbers keep their 0.
	r := testRules(t)
	for _, c := range []string{"GB", "ES", "IT"} {
		cr := r.Countries[c]
		cr.LongCode.DomesticOnly = true
		r.Countries[c] = cr
	}
	checkVerdicts(t, r, []verdictCase{
		{"07700900123", "GB", SenderLongCode, ""},
		{"+447700900123", "GB", SenderLongCode, ""},
		{"00447700900123", "GB", SenderLongCode, ""},
		{"0033612345678", "GB", SenderLongCode, RuleLongCodeNotDomestic},
		{"011447700900123", "GB", SenderLongCode, ""}, // not NANP: 0 then 11..., a national number
		{"0612345678", "ES", SenderLongCode, RuleLongCodeNotDomestic},
		{"0034612345678", "ES", SenderLongCode, ""},
		{"0612345678", "IT", SenderLongCode, ""}, // Rome, 06 kept
	})
}

// TestCheckSenderTollFreeOutsideNANP is a fault a tester found: toll-free
// numbers were told apart only in the NANP, so Australia's 1800 and the
// UK's 0800 numbers passed as long codes where the rules say toll-free
// numbers cannot send. A number is toll-free where its country's numbering
// plan says so, however it is written; short codes and NANP numbers keep
// their reading.
func TestCheckSenderTollFreeOutsideNANP(t *testing.T) {
	checkVerdicts(t, Default(), []verdictCase{
		{"+611800123456", "AU", SenderTollFree, RuleTollFreeNotAllowed},
		{"611800123456", "AU", SenderTollFree, RuleTollFreeNotAllowed}, // bare, longer than AU's other numbers
		{"00611800123456", "AU", SenderTollFree, RuleTollFreeNotAllowed},
		{"1800123456", "AU", SenderTollFree, RuleTollFreeNotAllowed}, // as dialled in Australia
		{"+448001234567", "GB", SenderTollFree, RuleTollFreeNotAllowed},
		{"448081234567", "GB", SenderTollFree, RuleTollFreeNotAllowed},
		{"08001234567", "GB", SenderTollFree, RuleTollFreeNotAllowed}, // with the trunk 0
		{"+498001234567", "DE", SenderTollFree, RuleTollFreeNotAllowed},
		{"+611800123456", "GB", SenderTollFree, RuleTollFreeNotAllowed},
		// Where long codes must be domestic, so must toll-free numbers.
		{"+448001234567", "US", SenderTollFree, RuleTollFreeNotDomestic},
		{"+611800123456", "CA", SenderTollFree, RuleTollFreeNotDomestic},
		// Not toll-free: ordinary numbers, numbers longer than the pattern,
		// another country's toll-free range dialled nationally, short codes.
		{"+447700900123", "GB", SenderLongCode, ""},
		{"+4480012345678", "GB", SenderLongCode, ""},
		{"08001234567", "AU", SenderLongCode, ""},
		{"+61412345678", "AU", SenderLongCode, ""},
		{"60000", "GB", SenderShortCode, ""},
		{"1802123", "AU", SenderShortCode, ""}, // a 1802 number's length is a short code's there
		// NANP as before: 8xx toll-free, and a bare ten digits national.
		{"+18005550199", "AU", SenderTollFree, RuleTollFreeNotAllowed},
		{"8885550199", "US", SenderTollFree, ""},
		{"1800123456", "US", SenderLongCode, RuleLongCodeInvalid},
	})
}

// TestCheckSenderCaribbeanLongCode is a fault a tester found: a Caribbean
// +1 number passed as domestic to US and Canadian recipients. It shares the
// calling code, but US and Canadian carriers take only each other's numbers.
func TestCheckSenderCaribbeanLongCode(t *testing.T) {
	r := Default()
	checkVerdicts(t, r, []verdictCase{
		{"+18765550199", "US", SenderLongCode, RuleLongCodeNotDomestic}, // JM
		{"+18095550199", "US", SenderLongCode, RuleLongCodeNotDomestic}, // DO
		{"+18765550199", "CA", SenderLongCode, RuleLongCodeNotDomestic},
		{"+18095550199", "CA", SenderLongCode, RuleLongCodeNotDomestic},
		{"+17875550123", "US", SenderLongCode, ""},                    // PR: a US territory, its numbers US numbers to US carriers
		{"8765550199", "US", SenderLongCode, RuleLongCodeNotDomestic}, // national form
		{"18095550199", "CA", SenderLongCode, RuleLongCodeNotDomestic},
		{"+14165550123", "US", SenderLongCode, ""}, // Canada's are domestic to the US
		{"+12125550123", "CA", SenderLongCode, ""}, // and the other way round
	})
	for _, tt := range []struct{ sender, region, want string }{
		{"+18765550199", "US", `"+18765550199" is a +1 number of JM, not of the US or Canada; US carriers accept A2P messages only from domestic numbers`},
		{"+18095550199", "CA", `"+18095550199" is a +1 number of DO, not of the US or Canada; CA carriers accept A2P messages only from domestic numbers`},
	} {
		if got := r.CheckSender(tt.sender, tt.region).Reason; got != tt.want {
			t.Errorf("CheckSender(%q, %s).Reason =\n%s\nwant\n%s", tt.sender, tt.region, got, tt.want)
		}
	}
}

// A number written with separators is read as a recipient so written is: a
// tester's formatted senders were all sender_format_unknown violations.
func TestCheckSenderWrittenWithSeparators(t *testing.T) {
	checkVerdicts(t, Default(), []verdictCase{
		{"+1 (202) 555-0100", "US", SenderLongCode, ""},
		{"+1-202-555-0100", "US", SenderLongCode, ""},
		{"+1.202.555.0100", "US", SenderLongCode, ""},
		{"(202) 555-0100", "US", SenderLongCode, ""},
		{"+1 888 555 0199", "US", SenderTollFree, ""},
		{"+44 7700 900123", "US", SenderLongCode, RuleLongCodeNotDomestic},
		// A toll-free area code with an exchange no number has was "not a
		// +1 number".
		{"+18001234567", "US", SenderTollFree, RuleTollFreeInvalid},
		{"8001234567", "CA", SenderTollFree, RuleTollFreeInvalid},
		{"+18002234567", "US", SenderTollFree, ""},
		{"+1 (202) 555-01", "US", SenderLongCode, RuleLongCodeInvalid},
		{"+44 7700 900123", "GB", SenderLongCode, ""},
		{"+1 / 202", "US", SenderUnknown, RuleSenderFormat},
	})
}

func TestSenderKey(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"+18001234567", "+18001234567"},
		{"+1 (800) 123-4567", "+18001234567"},
		{" +1.800.123.4567\t", "+18001234567"},
		{"+1\t800\t123\u00a04567", "+18001234567"},
		{"  ACME ", "ACME"},
		// A name keeps the spaces and dots recipients see.
		{"ACME Co.", "ACME Co."},
		{"ACME-1 2", "ACME-1 2"},
		{"12#34", "12#34"},
		{"", ""},
	} {
		if got := SenderKey(c.in); got != c.want {
			t.Errorf("SenderKey(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
