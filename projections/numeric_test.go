package projections

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/cxsms/cxsms/domain"
)

// microSum adds and takes away past what int64 holds, exactly: ten prices
// of 999,999,999,999 wrapped to a negative total.
func TestMicroSum(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var s microSum
	want := new(big.Int)
	for i := range 10000 {
		m := domain.Micros(r.Int64N(1e18))
		if i%3 == 0 {
			m = -m
		}
		sign := int64(1)
		if i%5 == 0 {
			sign = -1
		}
		s.addSum(microSum{}.plus(m), sign)
		want.Add(want, new(big.Int).Mul(big.NewInt(int64(m)), big.NewInt(sign)))
		if s.big().Cmp(want) != 0 {
			t.Fatalf("after %d: %s, want %s", i, s.big(), want)
		}
	}
	var ten microSum
	for range 10 {
		ten.addSum(microSum{}.plus(999_999_999_999_000_000), 1)
	}
	if got := ten.big().String(); got != "9999999999990000000" {
		t.Errorf("ten prices of 999,999,999,999: %s millionths", got)
	}
	if (microSum{}).plus(math.MinInt64).big().Int64() != math.MinInt64 {
		t.Error("the smallest Micros is not itself")
	}
}

// Rates round half up from the exact fraction, as the reasons do.
func TestPercent(t *testing.T) {
	for _, tt := range []struct {
		n, total int64
		want     float64
	}{{599, 4000, 14.98}, {1, 3, 33.33}, {2, 3, 66.67}, {5, 8, 62.5}, {0, 7, 0}, {7, 7, 100}, {1, 8, 12.5}, {1, 80000, 0}, {1, 20000, 0.01}} {
		if got := Percent(tt.n, tt.total); got != tt.want {
			t.Errorf("Percent(%d, %d) = %v, want %v", tt.n, tt.total, got, tt.want)
		}
	}
}

// A carrier's two rates add up to 100: each rounded alone, 599 delivered
// and 3401 failed of 4000 gave 14.98 and 85.03.
func TestRates(t *testing.T) {
	for _, tt := range []struct {
		delivered, failed int64
		d, f              float64
	}{{3401, 599, 85.02, 14.98}, {3999, 1, 99.97, 0.03}, {31, 1, 96.87, 3.13}, {1, 0, 100, 0}, {0, 5, 0, 100}, {17, 4, 80.95, 19.05}} {
		if d, f := Rates(tt.delivered, tt.failed); d != tt.d || f != tt.f {
			t.Errorf("Rates(%d, %d) = %v, %v; want %v, %v", tt.delivered, tt.failed, d, f, tt.d, tt.f)
		}
	}
}
