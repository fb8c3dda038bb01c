package rules

import (
	"testing"

	"github.com/cxsms/cxsms/domain"
)

const priceRules = `{
  "version": "price-test",
  "countries": {},
  "rateCard": {
    "currency": "EUR",
    "default": "0.05",
    "countries": {
      "US": {"default": "0.0083", "carriers": {"ATT": "0.0085", "tmobile": 0.0086}},
      "GB": {"carriers": {"VODAFONE": "0.045"}},
      "DE": {"default": "0"}
    }
  },
  "thresholds": {"rerouteFailureRate": 0.15, "watchFailureRate": 0.05, "minTerminalReports": 20},
  "sla": {"thresholdMs": 500, "deliveryThresholdMs": 60000}
}`

func TestPricePerSegment(t *testing.T) {
	r, err := Parse([]byte(priceRules))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		carrier, region string
		want            domain.Micros
	}{
		{"ATT", "US", 8500},       // carrier in country
		{" att ", "us", 8500},     // spelled as reports please
		{"TMOBILE", "US", 8600},   // a JSON number, read exactly
		{"VERIZON", "US", 8300},   // country default
		{"VODAFONE", "GB", 45000}, // carrier in a country without default
		{"O2", "GB", 50000},       // no country default: global default
		{"ATT", "FR", 50000},      // country not on the card
		{"ATT", Unknown, 50000},
		{"", "DE", 0}, // a free route is a price, not a missing one
	}
	for _, tt := range tests {
		got, cur, ok := r.PricePerSegment(tt.carrier, tt.region)
		if !ok || got != tt.want || cur != "EUR" {
			t.Errorf("PricePerSegment(%q, %q) = %v %s %v, want %v EUR true", tt.carrier, tt.region, got, cur, ok, tt.want)
		}
	}
}

func TestPricePerSegmentWithoutDefault(t *testing.T) {
	r, err := Parse([]byte(replace(t, priceRules, `"default": "0.05",`, ``)))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := r.PricePerSegment("O2", "GB"); ok {
		t.Error("no carrier, country or global price: want ok false")
	}
	if p, _, ok := r.PricePerSegment("ATT", "US"); !ok || p != 8500 {
		t.Errorf("ATT US = %v %v, want 8500 true", p, ok)
	}
}

func TestDefaultRateCard(t *testing.T) {
	r := Default()
	for _, c := range []struct{ carrier, region string }{{"TMOBILE", "US"}, {"VERIZON", "US"}, {"ATT", "US"}, {"VODAFONE", "GB"}, {"ANY", "IN"}, {"ANY", "ZA"}} {
		if p, cur, ok := r.PricePerSegment(c.carrier, c.region); !ok || p <= 0 || cur != "USD" {
			t.Errorf("default card %s/%s = %v %s %v", c.carrier, c.region, p, cur, ok)
		}
	}
}
