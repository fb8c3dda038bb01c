package simulate

import (
	"testing"

	"github.com/cxsms/cxsms/domain"
)

// TestBatchesCarryReceipts: in a JSON batch, receipt text travels as a JSON
// string and is stored as a receipt, so a batched run keeps its scenario's
// share of receipts (`cxsms simulate --batch 50` sent none, even with
// chaos). A redelivered receipt, in another batch, is the same event.
func TestBatchesCarryReceipts(t *testing.T) {
	sc := mustScenario(t, "chaos").With(Shares{SMPPReceipt: share(0.5)})
	var all []*Report
	for _, m := range generate(t, Options{Scenario: sc, Seed: 51}, 1000) {
		all = append(all, m.Reports...)
	}
	forms := map[domain.Format]int{}
	idOf := map[string]string{} // the generator's event ID -> the webhook's
	redelivered := 0
	for i := 0; i < len(all); i += 37 {
		rs := all[i:min(i+37, len(all))]
		evs, err := domain.Parse(domain.Request{Body: AppendBatch(nil, rs), ContentType: ContentTypeJSON, ReceivedAt: anchor})
		if err != nil || len(evs) != len(rs) {
			t.Fatalf("batch: %d events, %v", len(evs), err)
		}
		for j, r := range rs {
			e := evs[j]
			if e.Format != r.Form || e.MessageID != r.Message.ID || e.Status != r.Status {
				t.Fatalf("%s %s report stored as %s %s %s", r.Message.ID, r.Form, e.MessageID, e.Format, e.Status)
			}
			forms[e.Format]++
			if was, ok := idOf[r.EventID]; ok {
				redelivered++
				if was != e.EventID {
					t.Fatalf("a redelivered %s report stored as event %s, its original as %s", r.Form, e.EventID, was)
				}
			}
			idOf[r.EventID] = e.EventID
		}
	}
	carrier := forms[domain.FormatSMPPJSON] + forms[domain.FormatSMPPReceipt] + forms[domain.FormatJSON]
	if forms[domain.FormatSMPPReceipt] < carrier/5 || redelivered == 0 {
		t.Fatalf("forms %v, %d redeliveries: want receipts in batches", forms, redelivered)
	}
}
