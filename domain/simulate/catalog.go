package simulate

import (
	"sort"
	"strings"
	"time"

	"github.com/cxsms/cxsms/domain"
	"github.com/cxsms/cxsms/domain/rules"
)

// Carrier is how one carrier behaves on one destination's network.
type Carrier struct {
	Code string
	// FailureRate is the share of messages that end in a failure (any
	// terminal status but DELIVERED) when nothing else goes wrong.
	FailureRate float64
	// Price is what one segment costs, in the rate card's currency: the
	// card's price for this carrier in this region (see cardPrice).
	Price domain.Micros
	// Deliver is the median time from SENT to DELIVERED.
	Deliver time.Duration
	weight  int
}

// Region is a destination country: its numbers, its carriers, and sender IDs
// its carrier rules accept and refuse.
type Region struct {
	Code     string // ISO 3166-1 alpha-2, as rules.RegionOf returns it
	Carriers []Carrier
	// Senders pass the default rules for this destination; BadSenders
	// break one of them (which one is the comment beside each).
	Senders    []string
	BadSenders []string
	weight     int
	number     func(r *source) string
}

// card is the rate card simulated carriers charge by: the default rules
// file's, which the projections also fall back on to price a report that
// carries no price. Every simulated price is the card's, so a report priced
// by the simulator and one priced by the card agree.
var card = rules.Default()

// cardPrice is what the card says one segment through carrier to region
// costs: the carrier's own price there, else the country's default, else the
// card's (rules.PricePerSegment). A tester found a pinned "Acme Wireless"
// in the US charged TMOBILE's 0.0086, where the card says 0.0083.
func cardPrice(carrier, region string) domain.Micros {
	p, _, ok := card.PricePerSegment(carrier, region)
	if !ok {
		// The embedded card has a global default; TestPricesAreTheRateCards
		// holds it to that.
		panic("simulate: the default rate card has no price for " + carrier + " in " + region)
	}
	return p
}

func carrier(code string, weight int, failure float64, deliver time.Duration) Carrier {
	return Carrier{Code: code, FailureRate: failure, Deliver: deliver, weight: weight}
}

// priced fills in each carrier's price from the card.
func priced(rs []Region) []Region {
	for i := range rs {
		for j := range rs[i].Carriers {
			rs[i].Carriers[j].Price = cardPrice(rs[i].Carriers[j].Code, rs[i].Code)
		}
	}
	return rs
}

// regions is the simulated world. Prices are the rate card's (priced);
// failure rates put a few carriers over the WATCH (5 %) and REROUTE (15 %)
// thresholds, so the carrier analytics have every recommendation to show.
// Sender IDs are checked against domain/rules' defaults by the tests.
var regions = priced([]Region{
	{
		Code: "US", weight: 36, number: nanpNumber(usAreas),
		Carriers: []Carrier{
			carrier("TMOBILE", 3, 0.03, 1600*time.Millisecond),
			carrier("VERIZON", 3, 0.02, 1200*time.Millisecond),
			carrier("ATT", 3, 0.04, 2000*time.Millisecond),
		},
		// 10-digit long codes (national and E.164), 5-6 digit short codes, toll-free
		Senders: []string{"+12025550143", "4155550178", "72345", "839204", "+18885550190"},
		BadSenders: []string{
			"ACMEBANK",      // alphanumeric_not_allowed
			"+447700900123", // long_code_not_domestic
			"1234",          // sender_format_unknown: neither short code nor number
		},
	},
	{
		Code: "CA", weight: 4, number: nanpNumber(caAreas),
		Carriers: []Carrier{
			carrier("ROGERS", 2, 0.03, 1500*time.Millisecond),
			carrier("BELL", 2, 0.025, 1700*time.Millisecond),
			carrier("TELUS", 1, 0.02, 1400*time.Millisecond),
		},
		Senders: []string{"+14165550132", "+16045550111", "24680"},
		BadSenders: []string{
			"ACMECA",        // alphanumeric_not_allowed
			"+447700900456", // long_code_not_domestic
		},
	},
	{
		Code: "GB", weight: 12, number: prefixed("+447", digitsFrom("456789"), 8),
		Carriers: []Carrier{
			carrier("VODAFONE", 3, 0.04, 1800*time.Millisecond),
			carrier("EE", 3, 0.03, 1500*time.Millisecond),
			carrier("O2", 2, 0.06, 2200*time.Millisecond),
		},
		Senders: []string{"ACMEBANK", "CXSMS", "ACME Shop", "60123", "+447700900555"},
		BadSenders: []string{
			"InfoSMS",        // alphanumeric_generic_blocked
			"ACMEBANKLONDON", // alphanumeric_length: 14 > 11
			"ACME_BANK",      // alphanumeric_charset
		},
	},
	{
		Code: "DE", weight: 7, number: germanMobile,
		Carriers: []Carrier{
			carrier("TELEKOM", 3, 0.02, 1400*time.Millisecond),
			carrier("VODAFONE", 2, 0.05, 1900*time.Millisecond),
		},
		Senders: []string{"ACME", "ACMEBANK", "+4915123456789"},
		BadSenders: []string{
			"ACME-BANK!",          // alphanumeric_charset
			"ACMEBANKDEUTSCHLAND", // alphanumeric_length
		},
	},
	{
		Code: "FR", weight: 5, number: prefixed("+33", digitsFrom("67"), 8),
		Carriers: []Carrier{
			carrier("ORANGE", 3, 0.03, 1600*time.Millisecond),
			carrier("SFR", 2, 0.05, 2100*time.Millisecond),
		},
		Senders: []string{"ACMEBANK", "ACME", "38123"},
		BadSenders: []string{
			"+33612345678", // long_code_not_allowed
			"ACME_FR",      // alphanumeric_charset
		},
	},
	{
		Code: "IN", weight: 14, number: prefixed("+91", digitsFrom("9999876"), 9),
		Carriers: []Carrier{
			carrier("AIRTEL", 4, 0.09, 4000*time.Millisecond),
			carrier("JIO", 4, 0.07, 3200*time.Millisecond),
			carrier("VI", 2, 0.12, 5500*time.Millisecond),
		},
		// EXMPLE is the DLT header the default rules list as registered.
		Senders: []string{"EXMPLE", "567678"},
		BadSenders: []string{
			"ACMEIN",        // alphanumeric_not_registered (DLT)
			"ACME12",        // alphanumeric_charset: letters only
			"+919876543210", // long_code_not_allowed
		},
	},
	{
		Code: "AU", weight: 6, number: prefixed("+614", digitsFrom("0123456789"), 7),
		Carriers: []Carrier{
			carrier("TELSTRA", 3, 0.015, 1300*time.Millisecond),
			carrier("OPTUS", 2, 0.03, 1600*time.Millisecond),
		},
		// the default rules' registered IDs
		Senders: []string{"EXAMPLECO", "EXAMPLEBANK", "+61412345678", "19912"},
		BadSenders: []string{
			"Verify", // alphanumeric_generic_blocked
			"ACMEAU", // alphanumeric_not_registered
		},
	},
	{
		Code: "BR", weight: 8, number: brazilMobile,
		Carriers: []Carrier{
			carrier("CLARO", 3, 0.18, 7000*time.Millisecond),
			carrier("VIVO", 3, 0.11, 5000*time.Millisecond),
			carrier("TIM", 2, 0.14, 6000*time.Millisecond),
		},
		Senders: []string{"28911", "40404"},
		BadSenders: []string{
			"ACMEBR",         // alphanumeric_not_allowed
			"+5511987654321", // long_code_not_allowed
		},
	},
	{
		Code: "MX", weight: 5, number: prefixed("+52", []string{"55", "33", "81"}, 8),
		Carriers: []Carrier{
			carrier("TELCEL", 3, 0.06, 3000*time.Millisecond),
			carrier("MOVISTAR", 2, 0.17, 6000*time.Millisecond),
		},
		Senders: []string{"+525512345678", "89191"},
		BadSenders: []string{
			"ACMEMX", // alphanumeric_not_allowed
		},
	},
})

// Regions returns the simulated destinations, for validation messages and
// tests; callers must not modify them.
func Regions() []Region { return regions }

// RegionCodes lists the destinations a request may name.
func RegionCodes() []string {
	out := make([]string, len(regions))
	for i, r := range regions {
		out[i] = r.Code
	}
	return out
}

// CarrierCodes lists every carrier of every region, sorted, without repeats.
func CarrierCodes() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range regions {
		for _, c := range r.Carriers {
			if !seen[c.Code] {
				seen[c.Code] = true
				out = append(out, c.Code)
			}
		}
	}
	sort.Strings(out)
	return out
}

// findRegion accepts a region in any case, and UK for GB as the tutorial
// writes it.
func findRegion(code string) (*Region, bool) {
	code = strings.ToUpper(strings.TrimSpace(code))
	if code == "UK" {
		code = "GB"
	}
	for i := range regions {
		if regions[i].Code == code {
			return &regions[i], true
		}
	}
	return nil, false
}

func (r *Region) carrier(code string) (Carrier, bool) {
	for _, c := range r.Carriers {
		if c.Code == code {
			return c, true
		}
	}
	return Carrier{}, false
}

// usAreas are geographic US area codes (none is Canadian or Caribbean, so
// rules.RegionOf reads every number as US).
var usAreas = strings.Fields(`201 202 203 205 206 212 213 214 215 216 301 303 305 310 312
	313 314 317 323 404 407 408 410 412 415 425 469 480 502 503 504 512 513 602 614 615
	617 619 646 702 703 704 713 714 718 720 801 804 813 816 817 818 904 916 917 919 925 949 972`)

// caAreas are Canadian area codes.
var caAreas = strings.Fields(`416 437 514 604 613 647 778 403 587 905`)

// nanpNumber draws +1 NPA NXX XXXX: an area code from areas, an exchange
// starting 2-9.
func nanpNumber(areas []string) func(*source) string {
	return func(r *source) string {
		b := make([]byte, 0, 12)
		b = append(b, "+1"...)
		b = append(b, areas[r.IntN(len(areas))]...)
		b = append(b, byte('2'+r.IntN(8)))
		return string(r.appendDigits(b, 6))
	}
}

func digitsFrom(s string) []string {
	out := make([]string, len(s))
	for i := range s {
		out[i] = s[i : i+1]
	}
	return out
}

// prefixed draws prefix, one of next, then n random digits.
func prefixed(prefix string, next []string, n int) func(*source) string {
	return func(r *source) string {
		b := make([]byte, 0, len(prefix)+4+n)
		b = append(b, prefix...)
		b = append(b, next[r.IntN(len(next))]...)
		return string(r.appendDigits(b, n))
	}
}

// germanMobile draws +49 15x/16x/17x mobile numbers.
var germanMobile = prefixed("+49", strings.Fields("151 152 157 159 160 162 163 170 171 172 173 175 176 177 178 179"), 8)

// brazilMobile draws +55, a two-digit area code, then a 9-digit mobile number.
func brazilMobile(r *source) string {
	areas := [...]string{"11", "21", "31", "41", "51", "61", "71", "81", "85", "19"}
	b := make([]byte, 0, 16)
	b = append(b, "+55"...)
	b = append(b, areas[r.IntN(len(areas))]...)
	b = append(b, '9')
	return string(r.appendDigits(b, 8))
}
