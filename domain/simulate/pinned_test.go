package simulate

import (
	"strings"
	"testing"

	"github.com/cxsms/cxsms/domain"
)

// A tester's {"status":"DELIVRD"} was refused, though the webhook reads
// SMPP stat: values. ParseStatus takes what the webhook understands, as the
// status the webhook would store, and refuses what it would store as UNKNOWN.
func TestParseStatusReadsWhatTheWebhookReads(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want domain.Status
	}{
		{"DELIVRD", domain.StatusDelivered},
		{"UNDELIV", domain.StatusUndelivered},
		{"REJECTD", domain.StatusRejected},
		{"ENROUTE", domain.StatusSent},
		{"ACCEPTD", domain.StatusSent},
		{"stat:EXPIRED", domain.StatusExpired},
		{"delivered", domain.StatusDelivered},
		{" Failed ", domain.StatusFailed},
		{"en-route", domain.StatusSent},
		{"cancelled", domain.StatusDeleted},
		{"UNKNOWN", domain.StatusUnknown},
	} {
		got, err := ParseStatus(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseStatus(%q) = %q, %v; want %s", tc.in, got, err, tc.want)
			continue
		}
		// What the webhook stores for a report with that status.
		body := `{"messageId":"m","status":"` + tc.in + `"}`
		evs, err := domain.Parse(domain.Request{Body: []byte(body), ReceivedAt: anchor})
		if err != nil || evs[0].Status != got {
			t.Errorf("the webhook reads %q as %v (%v), the simulator as %s", tc.in, evs, err, got)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"DELIVERD", `unknown status "DELIVERD" (have: QUEUED, `},
		{"processed", "an SMPP stat: value, ENROUTE, ACCEPTD, DELIVRD, UNDELIV"},
		// The webhook reads a number in a status field as a gateway's own
		// code: UNKNOWN. The error says what the number means elsewhere.
		{"2", "only as SMPP message_state, where 2 is DELIVERED"},
		{"", `unknown status ""`},
	} {
		if st, err := ParseStatus(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseStatus(%q) = %q, %v; want an error containing %q", tc.in, st, err, tc.want)
		}
	}
	for _, s := range smppStats {
		if st, err := ParseStatus(s); err != nil || st != domain.ParseStatus(s) {
			t.Errorf("the error lists stat:%s, which ParseStatus reads as %q, %v", s, st, err)
		}
	}
	// A pinned SMPP spelling ends each message in the normalized status.
	for _, m := range generate(t, Options{Scenario: mustScenario(t, "chaos"), Seed: 21, Status: "UNDELIV"}, 50) {
		if m.Final != domain.StatusUndelivered {
			t.Fatalf("pinned UNDELIV, message ends %s", m.Final)
		}
	}
}

// A tester's {"carrier":"T-Mobile US"} was refused, though the webhook
// stores any carrier. ParseCarrier keeps what the webhook would store as
// given and refuses only what it could not.
func TestParseCarrier(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"T-Mobile US", "T-Mobile US"},
		{"  Télécom Mobile ", "Télécom Mobile"},
		{`AT&T "Business" \ Wireless`, `AT&T "Business" \ Wireless`},
		{"日本通信", "日本通信"},
		{"tmobile", "TMOBILE"}, // a known carrier in any case is that carrier
		{"ACME-TEL", "ACME-TEL"},
		{strings.Repeat("é", maxCarrierLen), strings.Repeat("é", maxCarrierLen)},
	} {
		if got, err := ParseCarrier(tc.in); err != nil || got != tc.want {
			t.Errorf("ParseCarrier(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"   ", `carrier "   " is blank`},
		{strings.Repeat("x", maxCarrierLen+1), "101 characters long, more than the webhook's limit of 100"},
		{"T\tMobile", `carrier "T\tMobile" holds U+0009`},
		{"T\x7fMobile", "holds U+007F"},
		{"T\u200bMobile", "holds U+200B"},
		{"T\u2028Mobile", "holds U+2028"},
		{"T\xffMobile", "not UTF-8"},
	} {
		if got, err := ParseCarrier(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseCarrier(%q) = %q, %v; want an error containing %q", tc.in, got, err, tc.want)
		}
	}
}

// maxCarrierLen must be the webhook's own limit: a carrier that long is
// stored whole, one character more is clipped.
func TestCarrierLimitIsTheWebhooks(t *testing.T) {
	for _, tc := range []struct {
		n     int
		whole bool
	}{{maxCarrierLen, true}, {maxCarrierLen + 1, false}} {
		carrier := strings.Repeat("é", tc.n)
		body := `{"messageId":"m","status":"SENT","carrier":"` + carrier + `"}`
		evs, err := domain.Parse(domain.Request{Body: []byte(body), ReceivedAt: anchor})
		if err != nil {
			t.Fatal(err)
		}
		if got := evs[0].CarrierCode == carrier; got != tc.whole {
			t.Errorf("a %d-character carrier stored whole: %v, want %v", tc.n, got, tc.whole)
		}
	}
}

// Every form the simulator sends carries a pinned carrier exactly as the
// webhook stores it, spaces, quotes and all; and every message names it in
// at least one report, even where a bare receipt (which names no carrier)
// would have been its only one.
func TestPinnedCarrierReachesTheService(t *testing.T) {
	single := mustScenario(t, "single")
	single.SMPPJSON, single.SMPPReceipt = 0.3, 0.5
	for _, carrier := range []string{"T-Mobile US", `AT&T "Business" \ Wireless`, "Télécom", strings.Repeat("é", maxCarrierLen)} {
		for _, sc := range []Scenario{single, mustScenario(t, "chaos")} {
			forms := map[domain.Format]int{}
			for _, m := range generate(t, Options{Scenario: sc, Seed: 22, Carrier: carrier, Status: "DELIVERED"}, 300) {
				named := false
				for _, r := range m.Reports {
					forms[r.Form]++
					body := r.AppendBody(nil)
					evs, err := domain.Parse(domain.Request{Body: body, ContentType: r.ContentType(), EventIDHeader: r.EventIDHeader(), ReceivedAt: anchor})
					if err != nil {
						t.Fatalf("%s: %v\n%s", r.Form, err, body)
					}
					if c := evs[0].CarrierCode; c != "" {
						named = true
						if c != carrier {
							t.Fatalf("%s report stored carrier %q, want %q\n%s", r.Form, c, carrier, body)
						}
					}
					batch := AppendBatch(nil, []*Report{r})
					if evs, err = domain.Parse(domain.Request{Body: batch, ContentType: ContentTypeJSON, ReceivedAt: anchor}); err != nil {
						t.Fatal(err)
					}
					if c := evs[0].CarrierCode; c != "" && c != carrier {
						t.Fatalf("%s report in a batch stored carrier %q, want %q\n%s", r.Form, c, carrier, batch)
					}
				}
				if !named {
					t.Fatalf("%s (%s): no report names the carrier; forms %v", m.ID, sc.Name, m.Reports[0].Form)
				}
			}
			if forms[domain.FormatSMPPJSON] == 0 || sc.Lifecycle && forms[domain.FormatSMPPReceipt] == 0 {
				t.Errorf("%s: forms %v, want every SMPP form tried", sc.Name, forms)
			}
		}
	}
}

// TestPinnedSpellingIsSent: a pinned status goes out as the caller spelled
// it wherever a report spells its status freely (CXone JSON's status, SMPP
// JSON's deliveryStatus), so the webhook's reading of raw spellings is what
// is exercised; receipts and message_state speak SMPP codes. A tester's
// {"status":"DELIVRD"} was stored with rawStatus DELIVERED.
func TestPinnedSpellingIsSent(t *testing.T) {
	for _, spelling := range []string{"DELIVRD", "delivered", "Undeliv", "stat:rejectd", "en-route", "Failed"} {
		want, err := ParseStatus(spelling)
		if err != nil {
			t.Fatal(err)
		}
		free := 0
		for _, m := range generate(t, Options{Scenario: mustScenario(t, "chaos"), Seed: 23, Status: domain.Status(spelling)}, 300) {
			for _, r := range m.Reports {
				evs, err := domain.Parse(domain.Request{Body: r.AppendBody(nil), ContentType: r.ContentType(), EventIDHeader: r.EventIDHeader(), ReceivedAt: anchor})
				if err != nil {
					t.Fatal(err)
				}
				e := evs[0]
				if e.Status != r.Status {
					t.Fatalf("%s: %s report stored as %s, want %s", spelling, r.Form, e.Status, r.Status)
				}
				if r.Status != want || r.Form == domain.FormatSMPPReceipt || r.Form == domain.FormatSMPPJSON && r.Message.smppVariant == 1 {
					continue
				}
				free++
				if e.RawStatus != spelling {
					t.Fatalf("pinned %q: the %s report's raw status is %q\n%s", spelling, r.Form, e.RawStatus, r.AppendBody(nil))
				}
			}
		}
		if free == 0 {
			t.Errorf("pinned %q: no report spells its status freely", spelling)
		}
	}
	// The tally counts normalized statuses.
	tally := NewTally()
	for _, m := range generate(t, Options{Scenario: mustScenario(t, "single"), Seed: 24, Status: "DELIVRD"}, 10) {
		tally.Add(m)
	}
	if tally.ByStatus[domain.StatusDelivered] != 10 || len(tally.ByStatus) != 1 {
		t.Errorf("byStatus %v, want DELIVERED 10", tally.ByStatus)
	}
}
