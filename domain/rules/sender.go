package rules

import (
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Sender types, as Verdict.SenderType reports them.
const (
	SenderAlphanumeric = "alphanumeric"
	SenderLongCode     = "long_code"
	SenderShortCode    = "short_code"
	SenderTollFree     = "toll_free"
	SenderUnknown      = "unknown"
)

// Rule IDs, as Verdict.Rule reports them: stable machine names for the rule a
// sender failed (or, for the first two, why no rule could judge it), so that
// read models can count and filter violations by kind.
const (
	RuleUnknownRegion             = "unknown_region"  // recipient's country unknown: not judged
	RuleNoCountryRule             = "no_country_rule" // country known, but the rules file has none for it: not judged
	RuleEmptySender               = "empty_sender"
	RuleSenderFormat              = "sender_format_unknown"
	RuleAlphanumericNotAllowed    = "alphanumeric_not_allowed"
	RuleAlphanumericLength        = "alphanumeric_length"
	RuleAlphanumericCharset       = "alphanumeric_charset"
	RuleAlphanumericBlocked       = "alphanumeric_generic_blocked"
	RuleAlphanumericNotRegistered = "alphanumeric_not_registered"
	RuleLongCodeNotAllowed        = "long_code_not_allowed"
	RuleLongCodeNotDomestic       = "long_code_not_domestic"
	RuleLongCodeInvalid           = "long_code_invalid"
	RuleShortCodeNotAllowed       = "short_code_not_allowed"
	RuleTollFreeNotAllowed        = "toll_free_not_allowed"
	// RuleTollFreeNotDomestic: where long codes must be domestic, so must a
	// toll-free number (a GB 0800 number cannot send to the US), since the
	// carriers' rule is about the number's country, not its tariff.
	RuleTollFreeNotDomestic = "toll_free_not_domestic"
	// RuleTollFreeInvalid: a NANP toll-free number whose exchange starts
	// with 0 or 1, which no such number has.
	RuleTollFreeInvalid = "toll_free_invalid"
)

// Verdict is the judgement of one sender ID for one destination country.
type Verdict struct {
	Valid      bool
	Region     string
	SenderType string // one of the Sender* constants
	// Rule is the Rule* ID of the rule the sender failed; for a valid
	// sender it is empty, or says why no rule could judge it.
	Rule   string
	Reason string // plain language, for people reading violations
	Source string // the country rule's source, so a violation can be checked
}

// CheckSender judges senderID for messages to region (an ISO code as RegionOf
// returns; "uk" and other cases are accepted) under every rule in the file,
// including requirements whose start date is still ahead: it answers "may this
// sender be used from now on?". Projections judging a past message use
// CheckSenderAt with the message's time instead.
//
// A region that is Unknown, or that the file has no rule for, cannot be
// judged: the verdict is Valid, with Rule saying why, so that a gap in the
// rules is never reported as a sender's violation. An empty sender is invalid
// everywhere.
func (r *Rules) CheckSender(senderID, region string) Verdict {
	return r.CheckSenderAt(senderID, region, time.Time{})
}

// SenderKey is the spelling sender IDs are counted under: a number's
// separators and a gateway's padding are spelling, not another sender, so
// "+1 (800) 123-4567" and "+18001234567" are one sender, judged alike. A
// name (any letter) keeps its inner spaces and dots: "ACME Co." is how
// recipients see it.
func SenderKey(senderID string) string {
	s := strings.TrimSpace(senderID)
	for _, c := range s {
		if unicode.IsLetter(c) {
			return s
		}
	}
	// Any space separates, as a report's sender is stored with its tabs
	// made spaces: a filter written with tabs found nothing.
	return withoutSeparators(strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return ' '
		}
		return r
	}, s))
}

// CheckSenderAt is CheckSender for a message sent at time at: a registration
// requirement that starts later (Australia's from 1 July 2026) does not apply
// to it. A zero at means every requirement applies.
func (r *Rules) CheckSenderAt(senderID, region string, at time.Time) Verdict {
	region = normRegion(region)
	if region == "" {
		region = Unknown
	}
	// Gateways pad sender fields; the padding is theirs, not the sender's.
	s := strings.TrimSpace(senderID)
	v := Verdict{Region: region, SenderType: SenderUnknown}
	cr, ok := r.Countries[region]
	v.Source = cr.Source
	if s == "" {
		v.Rule, v.Reason = RuleEmptySender, "the report has no sender ID"
		return v
	}
	if !ok {
		v.SenderType = classify(s, region, ShortCodeRule{MinLength: minShortCode, MaxLength: maxShortCode}).typ
		v.Valid = true
		if region == Unknown {
			v.Rule, v.Reason = RuleUnknownRegion, "recipient's country is unknown, so no sender-ID rule applies"
		} else {
			v.Rule, v.Reason = RuleNoCountryRule, fmt.Sprintf("the rules file has no sender-ID rule for %s", region)
		}
		return v
	}
	n := classify(s, region, cr.ShortCode)
	v.SenderType = n.typ
	switch v.SenderType {
	case SenderAlphanumeric:
		v.Rule, v.Reason = cr.checkAlphanumeric(s, at)
	case SenderLongCode:
		v.Rule, v.Reason = cr.checkLongCode(s, n)
	case SenderShortCode:
		if !cr.ShortCode.Allowed {
			v.Rule, v.Reason = RuleShortCodeNotAllowed, fmt.Sprintf("%s carriers do not accept short codes as senders; %s", region, cr.allowedTypes())
		}
	case SenderTollFree:
		if len(n.digits) == 11 && n.digits[0] == '1' && !validNANP(n.digits) {
			// Judged further, its country unknown, it was said to be
			// "not a +1 number".
			v.Rule, v.Reason = RuleTollFreeInvalid, fmt.Sprintf("%q is not a valid NANP number (1, then a ten-digit number whose area code and exchange start with 2-9)", s)
		} else if !cr.TollFree.Allowed {
			v.Rule, v.Reason = RuleTollFreeNotAllowed, fmt.Sprintf("toll-free numbers cannot send to %s; %s", region, cr.allowedTypes())
		} else if cr.LongCode.DomesticOnly {
			v.Rule, v.Reason = cr.checkDomestic(s, n)
		}
	default:
		v.Rule, v.Reason = RuleSenderFormat, formatReason(s, region, cr.ShortCode)
	}
	v.Valid = v.Rule == ""
	if v.Valid {
		v.Reason = fmt.Sprintf("%s sender meets the %s rules", strings.ReplaceAll(v.SenderType, "_", " "), region)
	}
	return v
}

// sender is a sender ID as classify reads it for one destination.
type sender struct {
	typ string // one of the Sender* constants
	// digits are a number's digits without its international prefix; a
	// bare ten-digit number to a NANP destination gets its 1.
	digits string
	// intl: written with an international prefix ("+", "00", or "011" to
	// a NANP destination).
	intl bool
	// national: written as a number of the destination's own country, with
	// its trunk prefix (GB 07700 900123), or a toll-free number as dialled
	// there (AU 1800 123 456).
	national bool
}

// classify tells what kind of sender s is. A letter anywhere makes a name;
// otherwise digits, with an optional international prefix, make a number
// whose length and prefix say which kind. The destination matters: its
// short-code lengths, how its networks write numbers (NANP's 011, a trunk
// 0), and whose toll-free numbers a bare number may be.
func classify(s, region string, short ShortCodeRule) sender {
	n := sender{typ: SenderUnknown}
	for _, c := range s {
		if unicode.IsLetter(c) {
			n.typ = SenderAlphanumeric
			return n
		}
	}
	d, intl := splitIntlPrefix(withoutSeparators(s), region)
	if d == "" || strings.Trim(d, "0123456789") != "" {
		return n
	}
	n.digits, n.intl = d, intl
	nanpDest := isNANPRegion(region)
	if nanpDest && !intl && len(d) == 10 {
		// A NANP destination reads a bare ten-digit number as national.
		n.digits = "1" + d
	}
	home := regionCallingCode[region]
	switch {
	case len(n.digits) == 11 && n.digits[0] == '1' && nanpTollFree[n.digits[1:4]]:
		n.typ = SenderTollFree
	case intl:
		// An international number is never a short code.
		if len(d) < 8 || len(d) > 15 {
			return n
		}
		n.typ = SenderLongCode
		if code := callingCodeOf(d); code != "" && isTollFreeNSN(code, d[len(code):]) {
			n.typ = SenderTollFree
		}
	case len(d) >= short.MinLength && len(d) <= short.MaxLength:
		n.typ = SenderShortCode
	case !(nanpDest && len(d) == 10) && bareTollFree(d):
		n.typ = SenderTollFree
	case !nanpDest && nationalTollFree(d, home):
		n.typ, n.national = SenderTollFree, true
	case len(d) >= 8 && len(d) <= 15:
		n.typ = SenderLongCode
		n.national = !nanpDest && isNational(d, home)
	}
	return n
}

// withoutSeparators drops the separators a number is written with ("+1
// (202) 555-0100"), the ones RegionOf skips in a recipient: a sender so
// written was a violation, sender_format_unknown, where the same recipient
// had its country.
func withoutSeparators(s string) string {
	if !strings.ContainsAny(s, " -.()") {
		return s
	}
	return strings.Map(func(r rune) rune {
		if strings.ContainsRune(" -.()", r) {
			return -1
		}
		return r
	}, s)
}

// splitIntlPrefix removes the international prefix a sender may be written
// with: "+", or "00" as RegionOf reads recipients, or "011", the NANP's own,
// for a NANP destination. intl reports whether there was one.
func splitIntlPrefix(s, region string) (d string, intl bool) {
	switch {
	case strings.HasPrefix(s, "+"):
		return s[1:], true
	case strings.HasPrefix(s, "00"):
		return s[2:], true
	case strings.HasPrefix(s, "011") && isNANPRegion(region):
		return s[3:], true
	}
	return s, false
}

// bareTollFree reports whether the bare digits d are an international
// toll-free number written without its prefix ("611800123456"): read as
// RegionOf reads bare digits, E.164's length and no trunk 0 kept, with the
// toll-free pattern as the plan the rest must fit (AU's 1800 numbers are
// longer than its fixed and mobile ones).
func bareTollFree(d string) bool {
	if len(d) < 8 || len(d) > 15 || d[0] == '0' {
		return false
	}
	code := callingCodeOf(d)
	if code == "" {
		return false
	}
	nsn := d[len(code):]
	return nsn != "" && (nsn[0] != '0' || zeroNSN[code]) && isTollFreeNSN(code, nsn)
}

// nationalTollFree reports whether the bare digits d are a toll-free number
// of the country of calling code home, written as it is dialled there: with
// its trunk prefix (GB 0800 123 4567), or without one (AU 1800 123 456, which
// is dialled so) where the digits do not read as an international number.
func nationalTollFree(d, home string) bool {
	if p := trunkPrefix(home); p != "" && strings.HasPrefix(d, p) {
		return isTollFreeNSN(home, d[len(p):])
	}
	international := len(d) >= 8 && len(d) <= 15 && d[0] != '0' && regionOfDigits(d, true) != Unknown
	return !international && isTollFreeNSN(home, d)
}

// isNational reports whether the bare digits d are written as a national
// number of the country of calling code home: with its trunk prefix, or,
// where numbers keep their leading 0 (Italy), with that 0. Elsewhere a
// leading 0 is no country's: in the NANP or Spain it is not a trunk prefix.
func isNational(d, home string) bool {
	if p := trunkPrefix(home); p != "" && strings.HasPrefix(d, p) {
		return true
	}
	return zeroNSN[home] && strings.HasPrefix(d, "0")
}

// country returns the region a number sender belongs to, as RegionOf reads
// it, or Unknown; dest is the destination, whose own numbers n.national are.
func (n sender) country(dest string) string {
	switch {
	case n.national:
		return dest
	case n.digits == "" || n.digits[0] == '0':
		return Unknown
	}
	return regionOfDigits(n.digits, false)
}

func isNANPRegion(region string) bool { return regionCallingCode[region] == "1" }

func (cr CountryRule) checkAlphanumeric(s string, at time.Time) (rule, reason string) {
	a := cr.Alphanumeric
	c := cr.Country
	if !a.Allowed {
		return RuleAlphanumericNotAllowed, fmt.Sprintf("%s does not accept alphanumeric sender IDs; %s", c, cr.allowedTypes())
	}
	if n := len([]rune(s)); n < a.MinLength || n > a.MaxLength {
		return RuleAlphanumericLength, fmt.Sprintf("%q has %d characters; %s allows %s", s, n, c, span(a.MinLength, a.MaxLength, "characters"))
	}
	if a.pattern != nil && !a.pattern.MatchString(s) {
		return RuleAlphanumericCharset, fmt.Sprintf("%q has characters or a form %s does not allow (pattern %s)", s, c, a.Pattern)
	}
	for _, b := range a.Blocked {
		if strings.EqualFold(s, b) {
			return RuleAlphanumericBlocked, fmt.Sprintf("%q is a generic sender ID that %s carriers block", s, c)
		}
	}
	reg := a.Registration
	if reg.Required && (at.IsZero() || reg.From.IsZero() || !at.Before(reg.From)) {
		for _, id := range reg.Registered {
			if strings.EqualFold(s, id) {
				return "", ""
			}
		}
		with := ""
		if reg.Authority != "" {
			with = " with " + reg.Authority
		}
		since := ""
		if !reg.From.IsZero() {
			since = ", required since " + reg.From.Format(time.DateOnly)
		}
		return RuleAlphanumericNotRegistered, fmt.Sprintf("%q is not among the sender IDs registered for %s%s%s; once it is registered, add it to countries.%s.alphanumeric.registration.registered", s, c, with, since, c)
	}
	return "", ""
}

func (cr CountryRule) checkLongCode(s string, n sender) (rule, reason string) {
	c := cr.Country
	if !cr.LongCode.Allowed {
		return RuleLongCodeNotAllowed, fmt.Sprintf("%s does not accept phone numbers as A2P senders; %s", c, cr.allowedTypes())
	}
	if isNANPRegion(c) && strings.HasPrefix(n.digits, "1") && !validNANP(n.digits) {
		return RuleLongCodeInvalid, fmt.Sprintf("%q is not a valid NANP number (1, then a ten-digit number whose area code and exchange start with 2-9)", s)
	}
	if !cr.LongCode.DomesticOnly {
		return "", ""
	}
	return cr.checkDomestic(s, n)
}

// usCanada are the countries whose carriers count each other's numbers as
// domestic (one A2P regime, 10DLC and toll-free verification for both),
// with the US territories, whose numbers are US numbers to US carriers
// though ISO 3166 lists them apart. The Caribbean countries share +1 but
// not that: their numbers are foreign to them.
var usCanada = map[string]bool{"US": true, "CA": true, "PR": true, "VI": true, "GU": true, "AS": true, "MP": true}

// checkDomestic applies longCode.domesticOnly to a number sender: it must be
// of the destination's country, or, for the US and Canada, of either.
func (cr CountryRule) checkDomestic(s string, n sender) (rule, reason string) {
	c := cr.Country
	from := n.country(c)
	if from == c || (usCanada[from] && usCanada[c]) {
		return "", ""
	}
	rule = RuleLongCodeNotDomestic
	if n.typ == SenderTollFree {
		rule = RuleTollFreeNotDomestic
	}
	home := regionCallingCode[c]
	if from == Unknown || regionCallingCode[from] != home {
		return rule, fmt.Sprintf("%q is not a +%s number; %s carriers accept A2P messages only from domestic numbers", s, home, c)
	}
	own := c
	if usCanada[c] {
		own = "the US or Canada"
	}
	return rule, fmt.Sprintf("%q is a +%s number of %s, not of %s; %s carriers accept A2P messages only from domestic numbers", s, home, from, own, c)
}

// allowedTypes says, for a reason, what a country does accept.
func (cr CountryRule) allowedTypes() string {
	var ok []string
	if cr.Alphanumeric.Allowed {
		ok = append(ok, "alphanumeric IDs of "+span(cr.Alphanumeric.MinLength, cr.Alphanumeric.MaxLength, "characters"))
	}
	if cr.LongCode.Allowed {
		if cr.LongCode.DomesticOnly {
			ok = append(ok, "domestic long codes")
		} else {
			ok = append(ok, "long codes")
		}
	}
	if cr.ShortCode.Allowed {
		ok = append(ok, span(cr.ShortCode.MinLength, cr.ShortCode.MaxLength, "digit")+" short codes")
	}
	if cr.TollFree.Allowed {
		ok = append(ok, "toll-free numbers")
	}
	switch len(ok) {
	case 0:
		return "no sender type is listed as accepted (see the rule's notes)"
	case 1:
		return "use " + ok[0]
	}
	return "use " + strings.Join(ok[:len(ok)-1], ", ") + " or " + ok[len(ok)-1]
}

func formatReason(s, region string, short ShortCodeRule) string {
	d, intl := splitIntlPrefix(withoutSeparators(s), region)
	if d != "" && strings.Trim(d, "0123456789") == "" {
		if intl {
			return fmt.Sprintf("%q has %d digits, too few for an international number", s, len(d))
		}
		return fmt.Sprintf("%q has %d digits: neither a %s short code nor a phone number (8 to 15 digits)", s, len(d), region+" "+span(short.MinLength, short.MaxLength, "digit"))
	}
	return fmt.Sprintf("%q is neither a phone number nor an alphanumeric sender ID (which needs at least one letter)", s)
}

// span writes a length range as people say it: "11 characters",
// "1-11 characters", "5-6 digit".
func span(lo, hi int, unit string) string {
	if lo == hi {
		return fmt.Sprintf("%d %s", lo, unit)
	}
	return fmt.Sprintf("%d-%d %s", lo, hi, unit)
}
