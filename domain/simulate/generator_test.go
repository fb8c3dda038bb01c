package simulate

import (
	"bytes"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cxsms/cxsms/domain"
	"github.com/cxsms/cxsms/domain/rules"
)

var anchor = time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)

func generate(t *testing.T, o Options, n int) []*Message {
	t.Helper()
	g, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*Message, n)
	for i := range out {
		out[i] = g.Next(anchor.Add(time.Duration(i) * time.Millisecond))
	}
	return out
}

func mustScenario(t *testing.T, name string) Scenario {
	t.Helper()
	sc, err := LookupScenario(name)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s: %.4f, want %.4f ± %.3f", what, got, want, tol)
	} else {
		t.Logf("%s: %.4f (want %.4f ± %.3f)", what, got, want, tol)
	}
}

// hasCarrierReport: the message has a report the carrier sends (the forms
// promise is about those).
func hasCarrierReport(m *Message) bool {
	for _, r := range m.Reports {
		if r.Status != domain.StatusQueued && r.Status != domain.StatusPending {
			return true
		}
	}
	return false
}

// TestSharesAreWhatTheScenarioPromises holds every scenario to its shares
// over a large sample with a fixed seed.
func TestSharesAreWhatTheScenarioPromises(t *testing.T) {
	const n = 20000
	for _, name := range ScenarioNames() {
		t.Run(name, func(t *testing.T) {
			sc := mustScenario(t, name)
			msgs := generate(t, Options{Scenario: sc, Seed: 1}, n)
			var reports, dups, eligible, ooo, carrierMsgs, smppJSON, receipt, bad int
			for _, m := range msgs {
				reports += len(m.Reports)
				for _, r := range m.Reports {
					if r.Duplicate {
						dups++
					}
				}
				if len(m.Distinct()) > 1 {
					eligible++
					if m.OutOfOrder {
						ooo++
					}
				}
				if hasCarrierReport(m) {
					carrierMsgs++
					switch m.Form {
					case domain.FormatSMPPJSON:
						smppJSON++
					case domain.FormatSMPPReceipt:
						receipt++
					}
				}
				if !m.Compliant {
					bad++
				}
			}
			near(t, "duplicates / reports sent", float64(dups)/float64(reports), sc.Duplicates, 0.02)
			if sc.Lifecycle {
				near(t, "out-of-order / messages with 2+ reports", float64(ooo)/float64(eligible), sc.OutOfOrder, 0.02)
			} else if eligible != 0 {
				t.Errorf("%d messages have several reports in a single-report scenario", eligible)
			}
			near(t, "SMPP JSON / messages with carrier reports", float64(smppJSON)/float64(carrierMsgs), sc.SMPPJSON, 0.02)
			near(t, "SMPP receipt / messages with carrier reports", float64(receipt)/float64(carrierMsgs), sc.SMPPReceipt, 0.02)
			near(t, "non-compliant senders / messages", float64(bad)/float64(n), sc.BadSenders, 0.02)
		})
	}
}

// TestSendersAreJudgedAsPromised checks every message's sender with the
// default rules: compliant ones pass, the others fail.
func TestSendersAreJudgedAsPromised(t *testing.T) {
	rs := rules.Default()
	msgs := generate(t, Options{Scenario: mustScenario(t, "chaos"), Seed: 2}, 5000)
	for _, m := range msgs {
		region := rules.RegionOf(m.Recipient)
		if region != m.Region {
			t.Fatalf("recipient %s reads as %s, message says %s", m.Recipient, region, m.Region)
		}
		v := rs.CheckSender(m.Sender, region)
		if v.Valid != m.Compliant {
			t.Fatalf("sender %q to %s: rules say valid=%v (%s), generator says compliant=%v", m.Sender, region, v.Valid, v.Reason, m.Compliant)
		}
	}
}

// TestCatalogAgainstRules checks every listed sender and number plan, so a
// change to the rules file that makes the catalog lie fails here.
func TestCatalogAgainstRules(t *testing.T) {
	rs := rules.Default()
	r := &source{rand.New(rand.NewPCG(3, 0))}
	for _, reg := range Regions() {
		if _, ok := rs.Country(reg.Code); !ok {
			t.Errorf("%s: the default rules have no country rule, so no sender can be non-compliant there", reg.Code)
		}
		for i := 0; i < 500; i++ {
			if got := rules.RegionOf(reg.number(r)); got != reg.Code {
				t.Fatalf("%s: number %s reads as %s", reg.Code, reg.number(r), got)
			}
		}
		for _, s := range reg.Senders {
			if v := rs.CheckSender(s, reg.Code); !v.Valid || v.Rule != "" {
				t.Errorf("%s: sender %q should be compliant: %s (%s)", reg.Code, s, v.Rule, v.Reason)
			}
		}
		for _, s := range reg.BadSenders {
			if v := rs.CheckSender(s, reg.Code); v.Valid {
				t.Errorf("%s: sender %q should break a rule but passes (%s)", reg.Code, s, v.Reason)
			} else {
				t.Logf("%s %-20q %s", reg.Code, s, v.Rule)
			}
		}
		if len(reg.BadSenders) == 0 {
			t.Errorf("%s has no non-compliant senders", reg.Code)
		}
	}
}

// TestLifecyclesAreInOrderButThePromisedShare: statuses follow QUEUED, SENT,
// outcome; times grow by carrier delays; the send order is the order of
// events except for messages marked out of order; a redelivery never comes
// before its original.
func TestLifecyclesAreInOrderButThePromisedShare(t *testing.T) {
	for _, name := range []string{"lifecycle", "chaos"} {
		t.Run(name, func(t *testing.T) {
			msgs := generate(t, Options{Scenario: mustScenario(t, name), Seed: 4}, 5000)
			for i, m := range msgs {
				at := anchor.Add(time.Duration(i) * time.Millisecond) // as generate anchors it
				distinct := m.Distinct()
				bySeq := slices.Clone(distinct)
				sort.Slice(bySeq, func(i, j int) bool { return bySeq[i].Seq < bySeq[j].Seq })
				var statuses []domain.Status
				for i, r := range bySeq {
					if r.Seq != i {
						t.Fatalf("%s: seqs %v are not 0..n-1", m.ID, bySeq)
					}
					statuses = append(statuses, r.Status)
					if i > 0 && !r.OccurredAt.After(bySeq[i-1].OccurredAt) {
						t.Fatalf("%s: %s at %v is not after %s at %v", m.ID, r.Status, r.OccurredAt, bySeq[i-1].Status, bySeq[i-1].OccurredAt)
					}
				}
				if !slices.Equal(statuses, lifecycle(m.Final)) {
					t.Fatalf("%s: statuses %v, want the lifecycle %v", m.ID, statuses, lifecycle(m.Final))
				}
				inOrder := slices.IsSortedFunc(distinct, func(a, b *Report) int { return a.Seq - b.Seq })
				if inOrder == m.OutOfOrder {
					t.Fatalf("%s: marked out of order %v, but sent in order %v", m.ID, m.OutOfOrder, inOrder)
				}
				seen := map[string]bool{}
				for _, r := range m.Reports {
					if r.Duplicate && !seen[r.EventID] {
						t.Fatalf("%s: redelivery of %s comes before the original", m.ID, r.EventID)
					}
					seen[r.EventID] = true
				}
				last := bySeq[len(bySeq)-1].OccurredAt
				if d := at.Sub(last); d <= 0 || d > time.Hour {
					t.Fatalf("%s: last report at %v, anchor %v", m.ID, last, at)
				}
			}
		})
	}
}

// TestCarrierProfiles: failure rates, prices and delivery delays follow each
// carrier's profile when nothing else interferes.
func TestCarrierProfiles(t *testing.T) {
	sc := Scenario{Name: "clean", Lifecycle: true}
	msgs := generate(t, Options{Scenario: sc, Seed: 5}, 60000)
	type stat struct {
		n, failed int
		delays    []time.Duration
	}
	by := map[[2]string]*stat{}
	for _, m := range msgs {
		k := [2]string{m.Region, m.Carrier}
		s := by[k]
		if s == nil {
			s = &stat{}
			by[k] = s
		}
		s.n++
		if m.Final.IsFailure() {
			s.failed++
		}
		var sent, done time.Time
		for _, r := range m.Reports {
			switch {
			case r.Status == domain.StatusSent:
				sent = r.OccurredAt
			case r.Status == domain.StatusDelivered:
				done = r.OccurredAt
			}
			if r.Status.IsTerminal() && r.Form == domain.FormatJSON {
				want := m.Price
				reg, _ := findRegion(m.Region)
				c, _ := reg.carrier(m.Carrier)
				if want != c.Price*domain.Micros(m.Segments) {
					t.Fatalf("%s: price %v for %d segments on %s", m.ID, m.Price, m.Segments, m.Carrier)
				}
			}
		}
		if !done.IsZero() && m.Form == domain.FormatJSON {
			s.delays = append(s.delays, done.Sub(sent))
		}
	}
	for _, reg := range Regions() {
		for _, c := range reg.Carriers {
			s := by[[2]string{reg.Code, c.Code}]
			if s == nil || s.n < 300 {
				t.Fatalf("%s/%s: too few messages (%v)", reg.Code, c.Code, s)
			}
			p := c.FailureRate
			tol := 4 * math.Sqrt(p*(1-p)/float64(s.n))
			near(t, reg.Code+"/"+c.Code+" failure rate", float64(s.failed)/float64(s.n), p, tol)
			slices.Sort(s.delays)
			med := s.delays[len(s.delays)/2]
			if r := float64(med) / float64(c.Deliver); r < 0.85 || r > 1.15 {
				t.Errorf("%s/%s: median SENT→DELIVERED %v, profile %v", reg.Code, c.Code, med, c.Deliver)
			}
		}
	}
}

// TestReportsParse sends every report through domain.Parse, alone and in
// batches, and checks the service would record what the generator meant.
func TestReportsParse(t *testing.T) {
	msgs := generate(t, Options{Scenario: mustScenario(t, "chaos"), Seed: 6}, 3000)
	var batch []*Report
	for _, m := range msgs {
		for _, r := range m.Reports {
			batch = append(batch, r)
			body := r.AppendBody(nil)
			evs, err := domain.Parse(domain.Request{Body: body, ContentType: r.ContentType(), EventIDHeader: r.EventIDHeader(), ReceivedAt: anchor})
			if err != nil {
				t.Fatalf("%s: %v\n%s", r.Form, err, body)
			}
			if len(evs) != 1 {
				t.Fatalf("%d events from %s", len(evs), body)
			}
			checkEvent(t, r, evs[0], false, body)
		}
	}
	for i := 0; i < len(batch); i += 100 {
		rs := batch[i:min(i+100, len(batch))]
		body := AppendBatch(nil, rs)
		evs, err := domain.Parse(domain.Request{Body: body, ContentType: ContentTypeJSON, ReceivedAt: anchor})
		if err != nil {
			t.Fatalf("batch: %v", err)
		}
		if len(evs) != len(rs) {
			t.Fatalf("batch of %d parsed into %d", len(rs), len(evs))
		}
		for j, r := range rs {
			checkEvent(t, r, evs[j], true, body)
		}
	}
}

// checkEvent checks that the webhook reads e as r. Receipt text in a batch
// carries no event ID, and the webhook names it by its text instead.
func checkEvent(t *testing.T, r *Report, e domain.StatusReceived, batched bool, body []byte) {
	t.Helper()
	m := r.Message
	wantID := r.EventID
	if batched && r.Form == domain.FormatSMPPReceipt {
		wantID = e.EventID
	}
	if e.MessageID != m.ID || e.EventID != wantID || e.Status != r.Status || e.Format != r.Form || !e.OccurredAt.Equal(r.OccurredAt) {
		t.Fatalf("parsed %s/%s %s %s at %v, want %s/%s %s %s at %v\n%s", e.MessageID, e.EventID, e.Status, e.Format, e.OccurredAt,
			m.ID, wantID, r.Status, r.Form, r.OccurredAt, body)
	}
	if r.Form != domain.FormatSMPPReceipt {
		if e.CarrierCode != m.Carrier || e.SenderID != m.Sender || e.Recipient != m.Recipient {
			t.Fatalf("parsed carrier %q sender %q recipient %q, want %q %q %q", e.CarrierCode, e.SenderID, e.Recipient, m.Carrier, m.Sender, m.Recipient)
		}
	}
	if e.ErrorCode != r.ErrorCode {
		t.Fatalf("parsed error code %q, want %q\n%s", e.ErrorCode, r.ErrorCode, body)
	}
	wantPrice := r.Form == domain.FormatJSON && r.Status.IsTerminal()
	if wantPrice != (e.Price != nil) || wantPrice && (*e.Price != m.Price || e.Currency != "USD") {
		t.Fatalf("parsed price %v %s, want %v (%v)\n%s", e.Price, e.Currency, m.Price, wantPrice, body)
	}
}

// TestSameSeedSameTraffic: a seed and stream fix every byte; another stream
// is other traffic.
func TestSameSeedSameTraffic(t *testing.T) {
	render := func(seed, stream uint64) []byte {
		g, err := New(Options{Scenario: mustScenario(t, "chaos"), Seed: seed, Stream: stream})
		if err != nil {
			t.Fatal(err)
		}
		var b []byte
		for i := 0; i < 500; i++ {
			for _, r := range g.Next(anchor.Add(time.Duration(i) * time.Second)).Reports {
				b = r.AppendBody(b)
				b = append(b, '\n')
			}
		}
		return b
	}
	a, b := render(42, 0), render(42, 0)
	if !bytes.Equal(a, b) {
		t.Fatal("same seed and stream rendered different traffic")
	}
	if bytes.Equal(a, render(42, 1)) || bytes.Equal(a, render(43, 0)) {
		t.Fatal("another stream or seed rendered the same traffic")
	}
}

func TestPinnedFields(t *testing.T) {
	msgs := generate(t, Options{Scenario: mustScenario(t, "chaos"), Seed: 7, Status: "failed", Carrier: "tmobile", Region: "us"}, 500)
	for _, m := range msgs {
		if m.Final != domain.StatusFailed || m.Carrier != "TMOBILE" || m.Region != "US" {
			t.Fatalf("pinned FAILED/TMOBILE/US, got %s/%s/%s", m.Final, m.Carrier, m.Region)
		}
		if m.Form != domain.FormatJSON {
			t.Fatalf("FAILED cannot be said in SMPP, yet the form is %s", m.Form)
		}
	}
	// A known carrier without a region goes where it operates.
	for _, m := range generate(t, Options{Scenario: mustScenario(t, "lifecycle"), Seed: 8, Carrier: "VODAFONE"}, 300) {
		if m.Region != "GB" && m.Region != "DE" {
			t.Fatalf("VODAFONE message to %s", m.Region)
		}
	}
	// An unknown carrier still gets traffic; UK is GB.
	for _, m := range generate(t, Options{Scenario: mustScenario(t, "single"), Seed: 9, Carrier: "ACME-TEL", Region: "UK", Status: "DELIVERED"}, 50) {
		if m.Carrier != "ACME-TEL" || m.Region != "GB" || len(m.Reports) != 1 || m.Reports[0].Status != domain.StatusDelivered {
			t.Fatalf("got %s/%s with %d reports", m.Carrier, m.Region, len(m.Reports))
		}
	}
	// Pinned QUEUED and PENDING lifecycles stop there, in JSON.
	for _, st := range []domain.Status{domain.StatusQueued, domain.StatusPending, domain.StatusSent} {
		for _, m := range generate(t, Options{Scenario: mustScenario(t, "chaos"), Seed: 10, Status: st}, 50) {
			if got := m.Distinct(); got[len(got)-1].Status != st && !m.OutOfOrder {
				t.Fatalf("pinned %s, last report %s", st, got[len(got)-1].Status)
			}
		}
	}
}

func TestOptionErrorsNameTheField(t *testing.T) {
	lc := mustScenario(t, "lifecycle")
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Scenario: lc, Status: "DELIVERD"}, `unknown status "DELIVERD"`},
		{Options{Scenario: lc, Region: "XX"}, `unknown region "XX"`},
		{Options{Scenario: lc, Carrier: "NOT\tA CARRIER"}, `carrier "NOT\tA CARRIER"`},
		{Options{Scenario: Scenario{Name: "x", Duplicates: 0.7}}, "duplicates must be"},
		{Options{Scenario: Scenario{Name: "x", Lifecycle: true, SMPPJSON: 0.6, SMPPReceipt: 0.6}}, "smppJson + smppReceipt"},
		{Options{Scenario: Scenario{Name: "single", OutOfOrder: 0.1}}, "outOfOrder needs"},
		{Options{Scenario: Scenario{Name: "x", BadSenders: math.NaN()}}, "badSenders must be"},
	} {
		_, err := New(tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want an error containing %q", tc.o, err, tc.want)
		}
	}
	if _, err := LookupScenario("storm"); err == nil || !strings.Contains(err.Error(), `"storm"`) {
		t.Errorf("LookupScenario(storm) = %v", err)
	}
}

// TestTallyCountsWhatWasSent: the tally's forms are what the webhook
// stores, for reports sent alone and in batches alike.
func TestTallyCountsWhatWasSent(t *testing.T) {
	msgs := generate(t, Options{Scenario: mustScenario(t, "chaos"), Seed: 11}, 2000)
	tally := NewTally()
	var all []*Report
	for _, m := range msgs {
		tally.Add(m)
		all = append(all, m.Reports...)
	}
	alone, batched := map[domain.Format]int{}, map[domain.Format]int{}
	for i, r := range all {
		evs, err := domain.Parse(domain.Request{Body: r.AppendBody(nil), ContentType: r.ContentType(), EventIDHeader: r.EventIDHeader(), ReceivedAt: anchor})
		if err != nil {
			t.Fatal(err)
		}
		alone[evs[0].Format]++
		if i%100 == 0 {
			evs, err := domain.Parse(domain.Request{Body: AppendBatch(nil, all[i:min(i+100, len(all))]), ContentType: ContentTypeJSON, ReceivedAt: anchor})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range evs {
				batched[e.Format]++
			}
		}
	}
	if tally.Reports != len(all) || tally.ByForm[domain.FormatSMPPReceipt] == 0 ||
		!maps.Equal(map[domain.Format]int(tally.ByForm), alone) || !maps.Equal(alone, batched) {
		t.Fatalf("tally %v; stored alone %v, in batches %v", tally.ByForm, alone, batched)
	}
}

func BenchmarkNextAndRender(b *testing.B) {
	g, _ := New(Options{Scenario: scenarios["lifecycle"], Seed: 1})
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		m := g.Next(anchor)
		for _, r := range m.Reports {
			buf = r.AppendBody(buf[:0])
			n++
		}
	}
	b.ReportMetric(float64(n)/float64(b.N), "reports/op")
}

// The tally counts carriers and non-compliant senders as the service can
// see them: a message sent only as SMPP receipts (which name neither) is
// under UNKNOWN and not among the non-compliant, as a tester found the
// summary claiming 50 non-compliant senders the service never saw.
func TestTallyCountsWhatTheServiceSees(t *testing.T) {
	sc := mustScenario(t, "single")
	sc.SMPPReceipt, sc.BadSenders = 0.5, 1
	msgs := generate(t, Options{Scenario: sc, Seed: 12}, 400)
	tally := NewTally()
	var nonCompliant, unnamed int
	for _, m := range msgs {
		tally.Add(m)
		named := false
		for _, r := range m.Reports {
			evs, err := domain.Parse(domain.Request{Body: r.AppendBody(nil), ContentType: r.ContentType(), ReceivedAt: anchor})
			if err != nil {
				t.Fatal(err)
			}
			named = named || evs[0].SenderID != ""
		}
		if !named {
			unnamed++
		} else if !m.Compliant {
			nonCompliant++
		}
	}
	if unnamed == 0 || unnamed == len(msgs) {
		t.Fatalf("%d of %d messages sent as receipts only: the scenario does not test both", unnamed, len(msgs))
	}
	if tally.NonCompliant != nonCompliant || tally.ByCarrier["UNKNOWN"] != unnamed {
		t.Errorf("tally says %d non-compliant and %d UNKNOWN carrier; the service sees %d and %d",
			tally.NonCompliant, tally.ByCarrier["UNKNOWN"], nonCompliant, unnamed)
	}
}
