package simulate

import (
	"testing"

	"github.com/cxsms/cxsms/domain"
	"github.com/cxsms/cxsms/domain/rules"
)

// TestPricesAreTheRateCards: every simulated price is what the default rate
// card (the projections' fallback for a report without a price) says for
// the message's carrier and region, per segment. A tester's pinned "Acme
// Wireless", which the card does not list, was charged TMOBILE's 0.0086 in
// the US and VODAFONE's 0.0450 in GB, where the card says 0.0083 and 0.0463.
func TestPricesAreTheRateCards(t *testing.T) {
	rs := rules.Default()
	check := func(t *testing.T, m *Message) {
		t.Helper()
		want, currency, ok := rs.PricePerSegment(m.Carrier, m.Region)
		if !ok || m.Price != want*domain.Micros(m.Segments) || m.Currency != currency {
			t.Fatalf("%s/%s: %d segment(s) at %v %s, the card says %v %s a segment", m.Region, m.Carrier, m.Segments, m.Price, m.Currency, want, currency)
		}
		// And the report carries it so.
		for _, r := range m.Reports {
			if r.Form != domain.FormatJSON || !r.Status.IsTerminal() {
				continue
			}
			evs, err := domain.Parse(domain.Request{Body: r.AppendBody(nil), ContentType: r.ContentType(), ReceivedAt: anchor})
			if err != nil || evs[0].Price == nil || *evs[0].Price != m.Price || evs[0].Currency != currency {
				t.Fatalf("%s/%s: the report carries %v %q (%v), want %v", m.Region, m.Carrier, evs[0].Price, evs[0].Currency, err, m.Price)
			}
		}
	}
	// The tester's cases, by the card's own numbers.
	for _, tc := range []struct{ region, price string }{{"US", "0.0083"}, {"GB", "0.0463"}} {
		want, _ := domain.ParseMicros(tc.price)
		for _, m := range generate(t, Options{Scenario: mustScenario(t, "single"), Seed: 1, Status: "DELIVERED", Carrier: "Acme Wireless", Region: tc.region}, 4) {
			if m.Price != want*domain.Micros(m.Segments) {
				t.Errorf("Acme Wireless in %s: %v for %d segment(s), want %s a segment", tc.region, m.Price, m.Segments, tc.price)
			}
		}
	}
	// Every carrier the catalog lists, where it lists it and where it does
	// not, and carriers it does not know, pinned in every region.
	carriers := append(CarrierCodes(), "Acme Wireless", "vodafone", "T-Mobile US")
	for _, reg := range Regions() {
		for _, c := range carriers {
			for _, m := range generate(t, Options{Scenario: mustScenario(t, "lifecycle"), Seed: 2, Carrier: c, Region: reg.Code}, 20) {
				check(t, m)
			}
		}
	}
	// Drawn carriers, as they come.
	for _, m := range generate(t, Options{Scenario: mustScenario(t, "chaos"), Seed: 3}, 3000) {
		check(t, m)
	}
}
