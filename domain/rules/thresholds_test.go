package rules

import "testing"

func TestRecommend(t *testing.T) {
	th := Thresholds{RerouteFailureRate: 0.15, WatchFailureRate: 0.05, MinTerminalReports: 20}
	tests := []struct {
		terminal, failed int
		want             string
		reason           string
	}{
		{0, 0, Keep, "only 0 terminal messages; judged from 20"},
		{1, 1, Keep, "only 1 terminal message; judged from 20"},
		{19, 19, Keep, "only 19 terminal messages; judged from 20"},
		{20, 0, Keep, "0.0% of 20 terminal messages failed, not above the 5% WATCH threshold"},
		{20, 1, Keep, "5.0% of 20 terminal messages failed, not above the 5% WATCH threshold"}, // exactly 5 %
		{200, 11, Watch, "5.5% of 200 terminal messages failed, above the 5% WATCH threshold"},
		{20, 3, Watch, "15.0% of 20 terminal messages failed, above the 5% WATCH threshold"}, // exactly 15 %
		{220, 33, Watch, "15.0% of 220 terminal messages failed, above the 5% WATCH threshold"},
		{20, 4, Reroute, "20.0% of 20 terminal messages failed, above the 15% REROUTE threshold"},
		{220, 40, Reroute, "18.18% of 220 terminal messages failed, above the 15% REROUTE threshold"},
		{1000, 151, Reroute, "15.1% of 1000 terminal messages failed, above the 15% REROUTE threshold"},
		// Rounded once (4/21 is 19.048%), with failureRate's two decimals
		// (one when the second is 0), and never shown equal to a threshold
		// it is above (152/1013 is 15.0049%).
		{21, 4, Reroute, "19.05% of 21 terminal messages failed, above the 15% REROUTE threshold"},
		{4000, 1, Keep, "0.03% of 4000 terminal messages failed, not above the 5% WATCH threshold"},
		{1013, 152, Reroute, "15.005% of 1013 terminal messages failed, above the 15% REROUTE threshold"},
		{20001, 1001, Watch, "5.005% of 20001 terminal messages failed, above the 5% WATCH threshold"},
		// Nor equal to a threshold it is under: "5.0%, not above the 5%
		// WATCH threshold" beside a failureRate of 4.99, or a WATCH
		// carrier's "15.0%" beside a 15% REROUTE threshold.
		{1001, 50, Keep, "4.995% of 1001 terminal messages failed, not above the 5% WATCH threshold"},
		{1001, 150, Watch, "14.99% of 1001 terminal messages failed, above the 5% WATCH threshold"},
		// Half up from the exact fraction, as the answers' rates: a float
		// made 599/4000 14.97%, beside a failureRate of 14.98.
		{4000, 599, Watch, "14.98% of 4000 terminal messages failed, above the 5% WATCH threshold"},
		// Counts that cannot be are clamped, not trusted.
		{20, 30, Reroute, "100.0% of 20 terminal messages failed, above the 15% REROUTE threshold"},
		{20, -1, Keep, "0.0% of 20 terminal messages failed, not above the 5% WATCH threshold"},
		{-5, 0, Keep, "only 0 terminal messages; judged from 20"},
	}
	for _, tt := range tests {
		got, reason := th.Recommend(tt.terminal, tt.failed)
		if got != tt.want || reason != tt.reason {
			t.Errorf("Recommend(%d, %d) = %q, %q\nwant %q, %q", tt.terminal, tt.failed, got, reason, tt.want, tt.reason)
		}
	}
}

// TestRecommendExactBoundaries checks "exactly at is not above" for every
// count where the rate equals a threshold, not just the round ones.
func TestRecommendExactBoundaries(t *testing.T) {
	th := Default().Thresholds
	for terminal := 20; terminal <= 2000; terminal += 20 {
		if got, _ := th.Recommend(terminal, terminal*15/100); got != Watch {
			t.Errorf("%d of %d (exactly 15%%) = %s, want WATCH", terminal*15/100, terminal, got)
		}
		if got, _ := th.Recommend(terminal, terminal*5/100); got != Keep {
			t.Errorf("%d of %d (exactly 5%%) = %s, want KEEP", terminal*5/100, terminal, got)
		}
	}
}

func TestRecommendOtherThresholds(t *testing.T) {
	th := Thresholds{RerouteFailureRate: 0.125, WatchFailureRate: 0.1, MinTerminalReports: 1}
	got, reason := th.Recommend(8, 1)
	if got != Watch || reason != "12.5% of 8 terminal messages failed, above the 10% WATCH threshold" {
		t.Errorf("got %q, %q", got, reason)
	}
	got, reason = th.Recommend(1, 1)
	if got != Reroute || reason != "100.0% of 1 terminal message failed, above the 12.5% REROUTE threshold" {
		t.Errorf("got %q, %q", got, reason)
	}
}

// A threshold is written with the decimals it has: 0.04999 read "5%",
// beside a rate of "5.000%" said to be above it.
func TestRecommendNamesThresholdsExactly(t *testing.T) {
	th := Thresholds{RerouteFailureRate: 0.15001, WatchFailureRate: 0.04999, MinTerminalReports: 20}
	for _, tt := range []struct {
		terminal, failed int
		reason           string
	}{
		{20, 1, "5.000% of 20 terminal messages failed, above the 4.999% WATCH threshold"},
		{20, 3, "15.000% of 20 terminal messages failed, above the 4.999% WATCH threshold"},
	} {
		if _, reason := th.Recommend(tt.terminal, tt.failed); reason != tt.reason {
			t.Errorf("Recommend(%d, %d): %q, want %q", tt.terminal, tt.failed, reason, tt.reason)
		}
	}
}
