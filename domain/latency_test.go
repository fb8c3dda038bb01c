package domain

import (
	"testing"
	"time"
)

func TestLatencyBuckets(t *testing.T) {
	const day = 24 * time.Hour
	tests := []time.Duration{0, time.Millisecond, 1500 * time.Microsecond, time.Second, 3 * time.Minute, 100 * time.Hour, 31 * day, 100 * day}
	for _, d := range tests {
		i := LatencyBucket(d)
		if d <= LatencyBuckets[len(LatencyBuckets)-1] {
			if BucketBound(i) < d || (i > 0 && BucketBound(i-1) >= d) {
				t.Errorf("%v in bucket %d (%v..%v]", d, i, BucketBound(i-1), BucketBound(i))
			}
		} else if i != len(LatencyBuckets) {
			t.Errorf("%v should overflow, got bucket %d", d, i)
		}
	}
}

// Deliveries of days and weeks are measured, not read as the last bound: the
// buckets ended at two days, and a 10-day delivery read as 48 hours while
// rules may set thresholds of up to 30 days.
func TestHistogramLongLatencies(t *testing.T) {
	const day = 24 * time.Hour
	if h := (Histogram{LatencyBucket(200 * day): 1}); h.Quantile(0.99) != 90*day || h.Mean() != 90*day {
		t.Errorf("a 200-day latency reads %v (mean %v), want 90 days, the last bound", h.Quantile(0.99), h.Mean())
	}
	for _, d := range []time.Duration{3 * day, 10 * day, 30 * day, 60 * day, 89 * day} {
		h := Histogram{LatencyBucket(d): 1}
		if p := h.Quantile(0.5); float64(p) < float64(d)/1.25 || float64(p) > float64(d)*1.25 {
			t.Errorf("p50 of one %v delivery = %v, want within a bucket (25 %%)", d, p)
		}
		if m := h.Mean(); float64(m) < float64(d)/1.25 || float64(m) > float64(d)*1.25 {
			t.Errorf("mean of one %v delivery = %v, want within a bucket (25 %%)", d, m)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	h := Histogram{}
	for i := 1; i <= 100; i++ {
		h[LatencyBucket(time.Duration(i)*10*time.Millisecond)]++
	}
	// True to a bucket (25 %) either way.
	within := func(got, want time.Duration) bool {
		return float64(got) >= float64(want)/1.25 && float64(got) <= float64(want)*1.25
	}
	if p50 := h.Quantile(0.5); !within(p50, 500*time.Millisecond) {
		t.Errorf("p50 = %v, want ~500ms", p50)
	}
	if p99 := h.Quantile(0.99); !within(p99, 990*time.Millisecond) {
		t.Errorf("p99 = %v, want ~990ms", p99)
	}
	if w := h.Within(2 * time.Second); w != 1 {
		t.Errorf("within 2s = %v, want 1", w)
	}
	if w := h.Within(100 * time.Millisecond); w < 0.08 || w > 0.12 {
		t.Errorf("within 100ms = %v, want about 0.10", w)
	}
	if (Histogram{}).Quantile(0.5) != 0 {
		t.Error("empty histogram has a p50")
	}
	if (Histogram{}).Mean() != 0 {
		t.Error("empty histogram has a mean")
	}
}

func TestHistogramMean(t *testing.T) {
	for _, tc := range []struct {
		name string
		obs  []time.Duration
		want time.Duration
	}{
		{"one value", []time.Duration{40 * time.Millisecond}, 40 * time.Millisecond},
		{"skewed: the mean, not the median", []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond, time.Second}, 250750 * time.Microsecond},
		{"the first bucket (0-1 ms) counts at its middle", []time.Duration{200 * time.Microsecond, 800 * time.Microsecond}, 500 * time.Microsecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := Histogram{}
			for _, d := range tc.obs {
				h[LatencyBucket(d)]++
			}
			// A bucket spans 25 %, so its middle is within 12.5 % of any
			// value in it; the first bucket (0-1 ms) counts at 0.5 ms.
			got := h.Mean()
			if float64(got) < float64(tc.want)*0.87 || float64(got) > float64(tc.want)*1.13 {
				t.Errorf("mean = %v, want %v within 13 %%", got, tc.want)
			}
		})
	}
}

// A threshold inside a bucket counts the part of the bucket under it: the
// tester's case, a 29.5 s delivery against a 30 s threshold, was a breach
// because its bucket (28.7-35.9 s) reaches past 30 s.
func TestHistogramWithinSplitsTheThresholdBucket(t *testing.T) {
	h := Histogram{}
	for i := range 1000 {
		// Evenly over 20-40 s.
		h[LatencyBucket(20*time.Second+time.Duration(i)*20*time.Millisecond)]++
	}
	if w := h.Within(30 * time.Second); w < 0.45 || w > 0.55 {
		t.Errorf("within 30s = %.3f, want about 0.5", w)
	}
	if p50 := h.Quantile(0.5); p50 < 28*time.Second || p50 > 32*time.Second {
		t.Errorf("p50 = %v, want about 30s", p50)
	}
	one := Histogram{LatencyBucket(29500 * time.Millisecond): 1}
	if p50 := one.Quantile(0.5); p50 >= 35*time.Second {
		t.Errorf("p50 of one 29.5s delivery = %v: the bucket's upper bound, not an estimate", p50)
	}
}
