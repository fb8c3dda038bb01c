package simulate

import (
	"strings"
	"testing"

	"github.com/cxsms/cxsms/domain"
)

func share(v float64) *float64 { return &v }

// TestWithShrinksTheOtherSMPPShare: overriding one SMPP share shrinks the
// scenario's default for the other to fit, as a tester's {"smppReceipt":1}
// was refused for a sum of 1.15 made with lifecycle's smppJson 0.15. Both
// given and too many is still an error.
func TestWithShrinksTheOtherSMPPShare(t *testing.T) {
	lc, chaos := mustScenario(t, "lifecycle"), mustScenario(t, "chaos")
	for _, tc := range []struct {
		name              string
		sc                Scenario
		o                 Shares
		smppJSON, receipt float64
		err               string
	}{
		{"receipt 1", lc, Shares{SMPPReceipt: share(1)}, 0, 1, ""},
		{"json 1", lc, Shares{SMPPJSON: share(1)}, 1, 0, ""},
		{"json 0.9", lc, Shares{SMPPJSON: share(0.9)}, 0.9, 0.1, ""},
		{"fits already", chaos, Shares{SMPPReceipt: share(0.7)}, 0.3, 0.7, ""},
		{"chaos receipt 0.75", chaos, Shares{SMPPReceipt: share(0.75)}, 0.25, 0.75, ""},
		{"both given", lc, Shares{SMPPJSON: share(0.6), SMPPReceipt: share(0.6)}, 0.6, 0.6, "smppJson + smppReceipt must be at most 1, got 0.6 + 0.6"},
		{"bad given", lc, Shares{SMPPReceipt: share(1.5)}, 0.15, 1.5, "smppReceipt must be a share between 0 and 1, got 1.5"},
		{"other shares", lc, Shares{Duplicates: share(0.3)}, 0.15, 0.10, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.sc.With(tc.o)
			if d := got.SMPPJSON - tc.smppJSON; d > 1e-12 || d < -1e-12 {
				t.Errorf("smppJson %g, want %g", got.SMPPJSON, tc.smppJSON)
			}
			if d := got.SMPPReceipt - tc.receipt; d > 1e-12 || d < -1e-12 {
				t.Errorf("smppReceipt %g, want %g", got.SMPPReceipt, tc.receipt)
			}
			err := got.Validate()
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("Validate() = %v, want %q", err, tc.err)
			}
		})
	}
	// Every float the other could round to still fits.
	for _, v := range []float64{0.7, 0.1, 0.3, 0.33, 0.9999999, 1e-9} {
		if err := chaos.With(Shares{SMPPReceipt: share(v)}).Validate(); err != nil {
			t.Errorf("smppReceipt %g: %v", v, err)
		}
		if err := chaos.With(Shares{SMPPJSON: share(v)}).Validate(); err != nil {
			t.Errorf("smppJson %g: %v", v, err)
		}
	}
	// And the generator sends what was asked: every carrier report a receipt.
	for _, m := range generate(t, Options{Scenario: lc.With(Shares{SMPPReceipt: share(1)}), Seed: 41, Status: "DELIVERED"}, 200) {
		if m.Form != domain.FormatSMPPReceipt {
			t.Fatalf("smppReceipt 1, a message in %s", m.Form)
		}
	}
}

// TestCheckPinned: a pinned status is every message's outcome, so an
// inFlight share beside it is refused rather than overridden; inFlight 0,
// or no status, is fine.
func TestCheckPinned(t *testing.T) {
	for _, tc := range []struct {
		status domain.Status
		o      Shares
		err    string
	}{
		{"DELIVERED", Shares{InFlight: share(1)}, `inFlight cannot be given with status "DELIVERED"`},
		{"PENDING", Shares{InFlight: share(0.1)}, "inFlight cannot be given"},
		{"DELIVERED", Shares{InFlight: share(0)}, ""},
		{"DELIVERED", Shares{Duplicates: share(0.3)}, ""},
		{"", Shares{InFlight: share(1)}, ""},
		// SMPP has no code for FAILED, and QUEUED and PENDING are CXone's:
		// such a status sent no SMPP report, whatever share was asked.
		{"FAILED", Shares{SMPPReceipt: share(1)}, `smppReceipt cannot be given with status "FAILED": SMPP has no code for FAILED`},
		{"error", Shares{SMPPJSON: share(0.5)}, `smppJson cannot be given with status "error": SMPP has no code for FAILED`},
		{"PENDING", Shares{SMPPJSON: share(0.2)}, "smppJson cannot be given"},
		{"FAILED", Shares{SMPPReceipt: share(0)}, ""},
		{"UNDELIVERED", Shares{SMPPReceipt: share(1)}, ""},
		{"DELIVRD", Shares{SMPPJSON: share(1)}, ""},
	} {
		err := tc.o.CheckPinned(tc.status, RequestNames)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("status %q: CheckPinned() = %v, want %q", tc.status, err, tc.err)
		}
	}
}
