package domain

import (
	"math"
	"time"
)

// LatencyBuckets are the upper bounds of the fixed latency histogram buckets
// the SLA read model stores: 1 ms growing by 25 % to about 90 days, then one
// overflow bucket. Rules may set a threshold of up to 30 days, and a
// delivery reported weeks late is still one to measure: ending at two days,
// the buckets read a 10-day delivery as 48 hours. Fixed buckets let any set of minutes be added together
// into one histogram, so percentiles over any window are true to a bucket
// (within 25 %), which averages of per-minute percentiles never are.
var LatencyBuckets = func() []time.Duration {
	var b []time.Duration
	for v := float64(time.Millisecond); v < float64(maxLatencyBound); v *= 1.25 {
		b = append(b, time.Duration(math.Round(v)))
	}
	// Ending on 90 days itself, a latency past it reads as 90 days, as
	// documented, not as the last 25 % step (88.8 days).
	return append(b, maxLatencyBound)
}()

// maxLatencyBound is the last bucket's bound.
const maxLatencyBound = 90 * 24 * time.Hour

// LatencyBucket returns the index of the bucket d falls in; the index after
// the last bound holds everything longer.
func LatencyBucket(d time.Duration) int {
	lo, hi := 0, len(LatencyBuckets)
	for lo < hi {
		mid := (lo + hi) / 2
		if d <= LatencyBuckets[mid] {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// BucketBound is the upper bound of bucket i (the overflow bucket reports the
// last bound).
func BucketBound(i int) time.Duration {
	if i >= len(LatencyBuckets) {
		return LatencyBuckets[len(LatencyBuckets)-1]
	}
	if i < 0 {
		return 0
	}
	return LatencyBuckets[i]
}

// Histogram counts latencies per bucket.
type Histogram map[int]int64

// Total is the number of observations.
func (h Histogram) Total() int64 {
	var n int64
	for _, c := range h {
		n += c
	}
	return n
}

// Quantile estimates the q-th quantile (0 < q <= 1), or 0 for an empty
// histogram: the observations of the bucket it falls in count as spread
// evenly over the bucket, as Prometheus' histogram_quantile reads its own.
// Taking the bucket's upper bound instead overstated every latency by up to
// a bucket (25 %): a 29.5 s delivery read as 35.9 s.
func (h Histogram) Quantile(q float64) time.Duration {
	total := h.Total()
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	var seen int64
	for i := 0; i < len(LatencyBuckets); i++ {
		c := h[i]
		if c > 0 && float64(seen+c) >= rank {
			lo, hi := float64(BucketBound(i-1)), float64(BucketBound(i))
			share := max(0, rank-float64(seen)) / float64(c)
			return time.Duration(lo + share*(hi-lo))
		}
		seen += c
	}
	return BucketBound(len(LatencyBuckets)) // in the overflow bucket
}

// Mean estimates the mean latency: each observation counts at the middle of
// its bucket, so the estimate is within about 12 % (overflows count at the
// last bound). 0 for an empty histogram.
func (h Histogram) Mean() time.Duration {
	var n int64
	var sum float64
	for i, c := range h {
		mid := float64(BucketBound(i))
		if i < len(LatencyBuckets) {
			mid = (float64(BucketBound(i-1)) + mid) / 2
		}
		sum += mid * float64(c)
		n += c
	}
	if n == 0 {
		return 0
	}
	return time.Duration(sum / float64(n))
}

// Within estimates the share (0..1) of observations at or under threshold;
// 1 for an empty histogram. The bucket the threshold falls in counts in
// proportion to the part of its range under the threshold, as Quantile
// reads it. Counting only whole buckets under the threshold called every
// latency in that bucket a breach: with a 30 s threshold, deliveries of
// 28.7-30 s.
func (h Histogram) Within(threshold time.Duration) float64 {
	total := h.Total()
	if total == 0 {
		return 1
	}
	var ok float64
	for i, c := range h {
		if i >= len(LatencyBuckets) {
			continue // overflow: longer than any bound, so than any threshold
		}
		lo, hi := BucketBound(i-1), BucketBound(i)
		switch {
		case hi <= threshold:
			ok += float64(c)
		case lo < threshold:
			ok += float64(c) * float64(threshold-lo) / float64(hi-lo)
		}
	}
	return ok / float64(total)
}
