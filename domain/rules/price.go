package rules

import (
	"strings"

	"github.com/cxsms/cxsms/domain"
)

// PricePerSegment returns the rate card's price of one segment sent through
// carrier to region, in the card's currency: the carrier's own price in that
// country, else the country's default, else the card's global default. ok is
// false when none applies, and the caller then has no cost to count rather
// than a cost of zero.
//
// The card is the fallback: a price the delivery report carries is what was
// actually charged, and callers use it instead.
func (r *Rules) PricePerSegment(carrier, region string) (price domain.Micros, currency string, ok bool) {
	rc := r.RateCard
	if cr, found := rc.Countries[normRegion(region)]; found {
		if p, found := cr.Carriers[normCarrier(carrier)]; found {
			return p, rc.Currency, true
		}
		if cr.Default != nil {
			return *cr.Default, rc.Currency, true
		}
	}
	if rc.Default != nil {
		return *rc.Default, rc.Currency, true
	}
	return 0, rc.Currency, false
}

// normCarrier makes "att", " ATT " and "ATT" one carrier: reports spell
// carrier codes as their gateways please.
func normCarrier(c string) string { return strings.ToUpper(strings.TrimSpace(c)) }
