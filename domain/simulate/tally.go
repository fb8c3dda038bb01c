package simulate

import "github.com/cxsms/cxsms/domain"

// Tally counts what a simulation sent, as a caller reports it.
type Tally struct {
	Messages int `json:"messages"`
	// Reports counts reports sent, redeliveries included.
	Reports int `json:"reportsSent"`
	// Duplicates counts the redeliveries among Reports.
	Duplicates int `json:"duplicatesSent"`
	// OutOfOrder counts messages whose reports were sent out of order.
	OutOfOrder int `json:"outOfOrder"`
	// NonCompliant counts messages sent from a sender ID their
	// destination's rules refuse, in a form that tells the sender.
	NonCompliant int                   `json:"nonCompliantSenders"`
	ByForm       map[domain.Format]int `json:"byForm"`
	ByStatus     map[domain.Status]int `json:"byStatus"`
	ByCarrier    map[string]int        `json:"byCarrier"`
}

// NewTally returns an empty tally.
func NewTally() *Tally {
	return &Tally{ByForm: map[domain.Format]int{}, ByStatus: map[domain.Status]int{}, ByCarrier: map[string]int{}}
}

// Add counts a message and all its reports as sent.
func (t *Tally) Add(m *Message) {
	t.AddMessage(m)
	for _, r := range m.Reports {
		t.AddReport(r)
	}
}

// AddMessage counts a message, not its reports; a caller that sends reports
// one by one counts the message with its first report.
//
// SMPP receipt text names no carrier and no sender, alone or inside a batch:
// a message all of whose reports are receipts counts under the carrier
// UNKNOWN and never as non-compliant, as the service sees it. The summary
// tells what was sent.
func (t *Tally) AddMessage(m *Message) {
	t.Messages++
	named := false
	for _, r := range m.Reports {
		named = named || r.Form != domain.FormatSMPPReceipt
	}
	if named {
		t.ByCarrier[m.Carrier]++
	} else {
		t.ByCarrier["UNKNOWN"]++
	}
	if m.OutOfOrder {
		t.OutOfOrder++
	}
	if !m.Compliant && named {
		t.NonCompliant++
	}
}

// AddReport counts one report as sent, alone or in a batch: a report keeps
// its form in both (see AppendBatch). ByStatus counts the status the
// webhook stores, whatever the report's spelling.
func (t *Tally) AddReport(r *Report) {
	t.Reports++
	if r.Duplicate {
		t.Duplicates++
	}
	t.ByForm[r.Form]++
	t.ByStatus[r.Status]++
}

// Merge adds o's counts to t.
func (t *Tally) Merge(o *Tally) {
	t.Messages += o.Messages
	t.Reports += o.Reports
	t.Duplicates += o.Duplicates
	t.OutOfOrder += o.OutOfOrder
	t.NonCompliant += o.NonCompliant
	for k, v := range o.ByForm {
		t.ByForm[k] += v
	}
	for k, v := range o.ByStatus {
		t.ByStatus[k] += v
	}
	for k, v := range o.ByCarrier {
		t.ByCarrier[k] += v
	}
}
