package simulate

import (
	"testing"
	"time"

	"github.com/cxsms/cxsms/domain"
)

// TestOtherOptionsOtherIDs: the same seed with other options makes other
// messages and reports, with IDs of their own. A tester's seed 60606 sent
// with status DELIVERED, then FAILED, reused the message and event IDs, and
// the FAILED reports were stored as duplicates of the DELIVERED ones.
func TestOtherOptionsOtherIDs(t *testing.T) {
	single := mustScenario(t, "single")
	base := Options{Scenario: single, Seed: 60606, Status: "DELIVERED"}
	more := single
	more.BadSenders = 0.5
	variants := map[string]Options{
		"base":       base,
		"FAILED":     {Scenario: single, Seed: 60606, Status: "FAILED"},
		"DELIVRD":    {Scenario: single, Seed: 60606, Status: "DELIVRD"},
		"drawn":      {Scenario: single, Seed: 60606},
		"carrier":    {Scenario: single, Seed: 60606, Status: "DELIVERED", Carrier: "ATT"},
		"region":     {Scenario: single, Seed: 60606, Status: "DELIVERED", Region: "GB"},
		"shares":     {Scenario: more, Seed: 60606, Status: "DELIVERED"},
		"lifecycle":  {Scenario: mustScenario(t, "lifecycle"), Seed: 60606, Status: "DELIVERED"},
		"chaos":      {Scenario: mustScenario(t, "chaos"), Seed: 60606, Status: "DELIVERED"},
		"other seed": {Scenario: single, Seed: 60607, Status: "DELIVERED"},
	}
	messageOf := map[string]string{} // message ID -> variant
	eventOf := map[string]string{}   // event ID -> variant
	for name, o := range variants {
		for _, m := range generate(t, o, 200) {
			if v, ok := messageOf[m.ID]; ok {
				t.Fatalf("%s and %s both make message %s", v, name, m.ID)
			}
			messageOf[m.ID] = name
			for _, r := range m.Distinct() {
				if v, ok := eventOf[r.EventID]; ok {
					t.Fatalf("%s and %s both make event %s", v, name, r.EventID)
				}
				eventOf[r.EventID] = name
			}
			for _, r := range m.Reports {
				if _, ok := eventOf[r.EventID]; !ok {
					t.Fatalf("%s: redelivery %s of no report", name, r.EventID)
				}
			}
		}
	}

	// The same seed and options make the same IDs, at any anchor time: a
	// repeat resends the same reports.
	g1, _ := New(base)
	g2, _ := New(base)
	for i := range 50 {
		a, b := g1.Next(anchor), g2.Next(anchor.Add(time.Hour+time.Duration(i)*time.Second))
		if a.ID != b.ID || a.Reports[0].EventID != b.Reports[0].EventID || a.Reports[0].OccurredAt.Equal(b.Reports[0].OccurredAt) {
			t.Fatalf("a repeat an hour later made %s/%s at %v, want %s/%s at another time", b.ID, b.Reports[0].EventID,
				b.Reports[0].OccurredAt, a.ID, a.Reports[0].EventID)
		}
	}
}

// TestEventIDsFollowContent: within a run, reports that say different
// things never share an event ID, and a redelivery (the same bytes) keeps
// its original's.
func TestEventIDsFollowContent(t *testing.T) {
	body := map[string]string{}
	for _, m := range generate(t, Options{Scenario: mustScenario(t, "chaos"), Seed: 31}, 5000) {
		for _, r := range m.Reports {
			b := string(r.AppendBody(nil))
			if was, ok := body[r.EventID]; ok && was != b {
				t.Fatalf("event %s names two reports:\n%s\n%s", r.EventID, was, b)
			} else if ok != r.Duplicate {
				t.Fatalf("event %s: seen before %v, marked a redelivery %v", r.EventID, ok, r.Duplicate)
			}
			body[r.EventID] = b
		}
	}
	// The webhook reads the generator's event ID from every report sent alone.
	for _, m := range generate(t, Options{Scenario: mustScenario(t, "chaos"), Seed: 32}, 300) {
		for _, r := range m.Reports {
			evs, err := domain.Parse(domain.Request{Body: r.AppendBody(nil), ContentType: r.ContentType(), EventIDHeader: r.EventIDHeader(), ReceivedAt: anchor})
			if err != nil || evs[0].EventID != r.EventID {
				t.Fatalf("%s report read as event %v (%v), want %s", r.Form, evs, err, r.EventID)
			}
		}
	}
}
