package rules

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Recommendations a carrier can get.
const (
	Reroute = "REROUTE" // failing too often: move traffic away
	Watch   = "WATCH"   // failing more than it should: keep an eye on it
	Keep    = "KEEP"
)

// Thresholds decide a carrier's recommendation from its failure rate, where
// failed means every terminal status but DELIVERED.
type Thresholds struct {
	RerouteFailureRate float64 // a fraction: 0.15 is 15 %
	WatchFailureRate   float64
	// MinTerminalReports is how many terminal messages a carrier needs
	// before it is judged at all, so that two failures out of three do not
	// reroute traffic. A message counts once, by its current status: one
	// that failed and then expired is one failed message, as in the rates.
	MinTerminalReports int
}

// Recommend judges a carrier with terminal terminal messages of which
// failed failed. A rate exactly at a threshold is not above it. The reason
// is a sentence for the analytics response, e.g. "18.2% of 220 terminal
// messages failed, above the 15% REROUTE threshold".
func (t Thresholds) Recommend(terminal, failed int) (recommendation, reason string) {
	terminal = max(terminal, 0)
	failed = min(max(failed, 0), terminal)
	if terminal == 0 || terminal < t.MinTerminalReports {
		return Keep, fmt.Sprintf("only %d terminal %s; judged from %d", terminal, messages(terminal), t.MinTerminalReports)
	}
	// Both sides are the double nearest the same decimal when the rate
	// equals a threshold (33/220 and 0.15), so "exactly at" compares equal.
	rate := float64(failed) / float64(terminal)
	head := fmt.Sprintf("%s of %d terminal %s failed", ratePercent(failed, terminal, t.RerouteFailureRate, t.WatchFailureRate), terminal, messages(terminal))
	switch {
	case rate > t.RerouteFailureRate:
		return Reroute, fmt.Sprintf("%s, above the %s REROUTE threshold", head, percent(t.RerouteFailureRate, -1))
	case rate > t.WatchFailureRate:
		return Watch, fmt.Sprintf("%s, above the %s WATCH threshold", head, percent(t.WatchFailureRate, -1))
	}
	return Keep, fmt.Sprintf("%s, not above the %s WATCH threshold", head, percent(t.WatchFailureRate, -1))
}

// ratePercent formats failed of terminal as a percentage with one decimal,
// or with as many more (up to four) as it takes not to read as equal to a
// threshold it differs from: 152 of 1013 is "15.005%" beside a 15%
// threshold, not "15.0%", and 19 of 960 is "1.98%", not "2.0%, not above
// the 2% WATCH threshold". A WATCH carrier just under REROUTE (9.992%
// beside 10%) is told apart from both. It rounds half up from the exact
// fraction, as the answers' rates do (599 of 4000 is 14.98%, where a float
// made it 14.97%).
func ratePercent(failed, terminal int, thresholds ...float64) string {
	rate := float64(failed) / float64(terminal)
	// As many decimals as failureRate's two say: "0.0%" of 4000 beside a
	// failureRate of 0.03, "5.0%" beside 4.99. One when the second is 0.
	prec := 2
	if strings.HasSuffix(exactPercent(failed, terminal, 2), "0%") {
		prec = 1
	}
	for ; prec < 4; prec++ {
		clear := true
		for _, th := range thresholds {
			if rate != th && exactPercent(failed, terminal, prec) == percent(th, prec) {
				clear = false
			}
		}
		if clear {
			break
		}
	}
	return exactPercent(failed, terminal, prec)
}

// exactPercent is n of total (total > 0) as a percentage with prec
// decimals, rounded half up from the exact fraction.
func exactPercent(n, total, prec int) string {
	scale := int64(math.Pow10(prec))
	v := strconv.FormatInt((int64(n)*100*scale*2+int64(total))/(2*int64(total)), 10)
	if prec == 0 {
		return v + "%"
	}
	v = strings.Repeat("0", max(0, prec+1-len(v))) + v
	return v[:len(v)-prec] + "." + v[len(v)-prec:] + "%"
}

func messages(n int) string {
	if n == 1 {
		return "message"
	}
	return "messages"
}

// percent formats a fraction as a percentage with prec decimals, or as few as
// it needs when prec is -1 ("15%", "12.5%", "4.999%"). For -1, rounding to
// six decimals first keeps float noise (0.15*100 = 15.000000000000002) out
// of the text; a fixed precision rounds once, from the exact value (4/21 is
// 19.0%, not 19.05% rounded again to 19.1%).
func percent(f float64, prec int) string {
	if prec >= 0 {
		return strconv.FormatFloat(f*100, 'f', prec, 64) + "%"
	}
	// Six decimals: a threshold of 0.04999 read "5%" beside a rate of
	// "5.000%" above it.
	p := math.Round(f*100*1e6) / 1e6
	return strconv.FormatFloat(p, 'f', prec, 64) + "%"
}
