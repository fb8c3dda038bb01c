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
		v.SenderType = classify(s, region, ShortCodeRule{MinLength: minShortCode, MaxLength: maxShortCode})
		v.Valid = true
		if region == Unknown {
			v.Rule, v.Reason = RuleUnknownRegion, "recipient's country is unknown, so no sender-ID rule applies"
		} else {
			v.Rule, v.Reason = RuleNoCountryRule, fmt.Sprintf("the rules file has no sender-ID rule for %s", region)
		}
		return v
	}
	v.SenderType = classify(s, region, cr.ShortCode)
	switch v.SenderType {
	case SenderAlphanumeric:
		v.Rule, v.Reason = cr.checkAlphanumeric(s, at)
	case SenderLongCode:
		v.Rule, v.Reason = cr.checkLongCode(s)
	case SenderShortCode:
		if !cr.ShortCode.Allowed {
			v.Rule, v.Reason = RuleShortCodeNotAllowed, fmt.Sprintf("%s carriers do not accept short codes as senders; %s", region, cr.allowedTypes())
		}
	case SenderTollFree:
		if !cr.TollFree.Allowed {
			v.Rule, v.Reason = RuleTollFreeNotAllowed, fmt.Sprintf("toll-free numbers cannot send to %s; %s", region, cr.allowedTypes())
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

// classify tells what kind of sender s is. A letter anywhere makes a name;
// otherwise digits, with an optional leading +, make a number whose length and
// prefix say which kind. The destination matters: its short-code lengths, and
// whether a bare ten-digit 8xx number is a NANP toll-free one.
func classify(s, region string, short ShortCodeRule) string {
	for _, c := range s {
		if unicode.IsLetter(c) {
			return SenderAlphanumeric
		}
	}
	plus := strings.HasPrefix(s, "+")
	d := strings.TrimPrefix(s, "+")
	if d == "" || strings.Trim(d, "0123456789") != "" {
		return SenderUnknown
	}
	if isTollFree(d, plus, isNANPRegion(region)) {
		return SenderTollFree
	}
	// A + marks an international number, which is never a short code.
	if !plus && len(d) >= short.MinLength && len(d) <= short.MaxLength {
		return SenderShortCode
	}
	if len(d) >= 8 && len(d) <= 15 {
		return SenderLongCode
	}
	return SenderUnknown
}

func isTollFree(d string, plus, nanpDest bool) bool {
	switch {
	case len(d) == 11 && d[0] == '1':
		return nanpTollFree[d[1:4]]
	case len(d) == 10 && !plus && nanpDest:
		return nanpTollFree[d[:3]]
	}
	return false
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

func (cr CountryRule) checkLongCode(s string) (rule, reason string) {
	c := cr.Country
	if !cr.LongCode.Allowed {
		return RuleLongCodeNotAllowed, fmt.Sprintf("%s does not accept phone numbers as A2P senders; %s", c, cr.allowedTypes())
	}
	plus := strings.HasPrefix(s, "+")
	d := strings.TrimPrefix(s, "+")
	home := regionCallingCode[c]
	if isNANPRegion(c) {
		// A NANP destination reads a bare ten-digit number as national.
		if !plus && len(d) == 10 {
			d = "1" + d
		}
		if strings.HasPrefix(d, "1") && !validNANP(d) {
			return RuleLongCodeInvalid, fmt.Sprintf("%q is not a valid NANP number (1, then a ten-digit number whose area code and exchange start with 2-9)", s)
		}
	}
	if !cr.LongCode.DomesticOnly {
		return "", ""
	}
	code := callingCodeOf(d)
	if !plus && code != home && strings.HasPrefix(d, "0") {
		code = home // a national number with its trunk prefix
	}
	if code != home {
		return RuleLongCodeNotDomestic, fmt.Sprintf("%q is not a +%s number; %s carriers accept A2P messages only from domestic numbers", s, home, c)
	}
	return "", ""
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
	d := strings.TrimPrefix(s, "+")
	if d != "" && strings.Trim(d, "0123456789") == "" {
		if strings.HasPrefix(s, "+") {
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
