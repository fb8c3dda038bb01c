package rules

import (
	_ "embed"
	"regexp"
	"time"

	"github.com/cxsms/cxsms/domain"
)

// defaultJSON is the rules file the binary ships with. It is the one place
// defaults are written down, so an operator's RULES_FILE starts as a copy.
//
//go:embed default.json
var defaultJSON []byte

// Rules is a parsed, validated rules file. Build it with Parse or Default; a
// Rules that either returned is safe for concurrent reads and must not be
// modified, since every projection judges history against the same one.
type Rules struct {
	// Version names this set of rules; read models record it so a reader can
	// tell which rules judged what they see.
	Version     string
	Description string
	// Document is the rules file in canonical form: its JSON with keys
	// sorted and no white space. Read models record it beside the version,
	// so a file edited without a new version still counts as other rules,
	// and a reader can judge under the rules a read model was built with.
	Document []byte
	// Countries holds the sender-ID rules by ISO 3166-1 alpha-2 code.
	Countries  map[string]CountryRule
	RateCard   RateCard
	Thresholds Thresholds
	SLA        SLA
}

// CountryRule is what one country's carriers accept as a sender.
type CountryRule struct {
	Country      string // ISO 3166-1 alpha-2, the key it is filed under
	Name         string
	Source       string // the carrier guideline the rule is drawn from
	Notes        string // caveats: what the sources leave open
	Alphanumeric AlphanumericRule
	LongCode     LongCodeRule
	ShortCode    ShortCodeRule
	TollFree     TollFreeRule
}

// AlphanumericRule says whether a name ("ACME") may stand as the sender and
// what it must look like.
type AlphanumericRule struct {
	Allowed   bool
	MinLength int // in characters
	MaxLength int
	// Pattern is the whole-ID regular expression (RE2) the ID must match; it
	// is where a country's character set lives.
	Pattern      string
	Blocked      []string // generic IDs carriers refuse, compared ignoring case
	Registration Registration
	pattern      *regexp.Regexp
}

// Registration says whether alphanumeric IDs must be registered before use,
// and which ones are. Carriers do not report registration, so the list here is
// the operator's own record of what it has registered.
type Registration struct {
	Required bool
	// From is when the requirement took or takes effect; zero means always.
	// A message sent before it is not judged by it.
	From       time.Time
	Authority  string   // who keeps the register, e.g. "ACMA SMS Sender ID Register"
	Registered []string // compared ignoring case
}

// LongCodeRule covers ordinary phone numbers as senders.
type LongCodeRule struct {
	Allowed bool
	// DomesticOnly means the number must be of the destination's country
	// (as RegionOf reads it; the US, Canada and the US territories count as
	// one): US carriers, for one, refuse A2P traffic from foreign numbers,
	// Caribbean +1 numbers included. "+", "00" (and "011" to NANP) mark an
	// international number; a trunk 0 a national one where the country has
	// one.
	DomesticOnly bool
}

// ShortCodeRule covers carrier-provisioned short numbers. MinLength and
// MaxLength also decide which all-digit senders count as short codes.
type ShortCodeRule struct {
	Allowed   bool
	MinLength int
	MaxLength int
}

// TollFreeRule covers toll-free numbers as senders: NANP's (800, 833, 844,
// 855, 866, 877, 888) and every other country's, as libphonenumber's
// toll-free patterns have them (AU 1800, GB 0800, ...). Where long codes
// must be domestic, so must toll-free numbers (toll_free_not_domestic).
type TollFreeRule struct {
	Allowed bool
}

// RateCard prices a segment by carrier and country. A price carried in a
// delivery report is what the carrier actually charged and overrides the card;
// the card fills in for reports without one.
type RateCard struct {
	Currency  string // ISO 4217
	Default   *domain.Micros
	Countries map[string]CountryRates
	Notes     string
}

// CountryRates is the rate card for one country.
type CountryRates struct {
	Default  *domain.Micros
	Carriers map[string]domain.Micros // keyed by upper-cased carrier code
}

// SLA holds the latency targets the sla_latency read model measures against.
type SLA struct {
	// ThresholdMs is the ingest target: from the carrier's time to our
	// acceptance of the report (500 ms, as in the tutorial).
	ThresholdMs int
	// DeliveryThresholdMs is the delivery target: how long a message may
	// take, by the carrier's clock, to reach DELIVERED (60 s by default).
	DeliveryThresholdMs int
}

// Default returns the rules embedded in the binary. It panics only if the
// embedded file is broken, which TestDefaultParses rules out before release.
func Default() *Rules {
	r, err := Parse(defaultJSON)
	if err != nil {
		panic("rules: embedded default.json is invalid: " + err.Error())
	}
	return r
}

// DefaultJSON returns a copy of the embedded rules file, the starting point
// for an operator's own RULES_FILE.
func DefaultJSON() []byte {
	return append([]byte(nil), defaultJSON...)
}

// Country returns the rule for region, accepting it in any case.
func (r *Rules) Country(region string) (CountryRule, bool) {
	c, ok := r.Countries[normRegion(region)]
	return c, ok
}
