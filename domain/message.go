package domain

import (
	"cmp"
	"time"
)

// Message is what the log says about one message so far: the fold of its
// reports. Projections keep one per message and feed it each new report with
// Apply; a rebuild folds the same reports in the same order with the same
// function, which is why live read models and rebuilt ones agree.
type Message struct {
	MessageID   string
	Status      Status
	RawStatus   string
	CarrierCode string
	ErrorCode   string
	SenderID    string
	Recipient   string
	Price       *Micros
	Currency    string
	// UpdatedAt is the carrier time of the report that set Status.
	UpdatedAt time.Time
	// FirstAt is the earliest carrier time of any report.
	FirstAt time.Time
	// SentAt is the earliest carrier time of a QUEUED, PENDING or SENT report:
	// where delivery latency starts. Zero until such a report arrives.
	SentAt time.Time
	// TerminalAt is the carrier time of the terminal report that set Status;
	// zero while the message is not terminal.
	TerminalAt time.Time
	// LastReceivedAt is when this service accepted the latest report.
	LastReceivedAt time.Time
	EventCount     int
}

// Supersedes reports whether a report with status next at time at replaces
// the current status cur set at time curAt. The rules (design.md):
//   - a terminal status beats a non-terminal one, whatever the times;
//   - between two terminal statuses the later carrier time wins; at the same
//     time DELIVERED beats the failures, then UNDELIVERED, FAILED, REJECTED,
//     EXPIRED, DELETED, so the same reports give the same answer in any
//     order (receipt dates have minute precision, and ties are common); a
//     tie with the same status keeps the current one, so a redelivered
//     report never flips the answer;
//   - among non-terminal statuses QUEUED < PENDING < SENT, so a late SENT
//     never undoes a DELIVERED and a late QUEUED never undoes a SENT;
//   - UNKNOWN never replaces a status we know.
func Supersedes(cur Status, curAt time.Time, next Status, at time.Time) bool {
	if cur == "" {
		return true
	}
	switch {
	case next.IsTerminal() && !cur.IsTerminal():
		return true
	case cur.IsTerminal() && !next.IsTerminal():
		return false
	case cur.IsTerminal() && next.IsTerminal():
		if at.Equal(curAt) {
			return next.terminalRank() > cur.terminalRank()
		}
		return at.After(curAt)
	}
	// Both non-terminal.
	if next.rank() != cur.rank() {
		return next.rank() > cur.rank()
	}
	return at.After(curAt)
}

// Apply folds one more report into m and returns the result; m is unchanged.
// A report that does not win the status still counts, and fills in details
// (carrier, recipient, price...) that no earlier report gave: a late QUEUED
// report often carries the recipient a fast DELIVERED report lacked.
func (m Message) Apply(e StatusReceived) Message {
	m.MessageID = e.MessageID
	m.EventCount++
	if e.ReceivedAt.After(m.LastReceivedAt) {
		m.LastReceivedAt = e.ReceivedAt
	}
	if m.FirstAt.IsZero() || e.OccurredAt.Before(m.FirstAt) {
		m.FirstAt = e.OccurredAt
	}
	switch e.Status {
	case StatusQueued, StatusPending, StatusSent:
		if m.SentAt.IsZero() || e.OccurredAt.Before(m.SentAt) {
			m.SentAt = e.OccurredAt
		}
	}
	if Supersedes(m.Status, m.UpdatedAt, e.Status, e.OccurredAt) || m.tiesWith(e) {
		m.Status = e.Status
		m.RawStatus = e.RawStatus
		m.UpdatedAt = e.OccurredAt
		if e.Status.IsTerminal() {
			m.TerminalAt = e.OccurredAt
		}
		// The winning report's details win; its empty ones keep what we had.
		m.ErrorCode = e.ErrorCode // an error belongs to the status that carried it
		m.CarrierCode = prefer(e.CarrierCode, m.CarrierCode)
		m.SenderID = prefer(e.SenderID, m.SenderID)
		m.Recipient = prefer(e.Recipient, m.Recipient)
		if e.Price != nil {
			m.Price, m.Currency = e.Price, e.Currency
		}
		return m
	}
	m.CarrierCode = prefer(m.CarrierCode, e.CarrierCode)
	m.SenderID = prefer(m.SenderID, e.SenderID)
	m.Recipient = prefer(m.Recipient, e.Recipient)
	if m.Price == nil && e.Price != nil {
		m.Price, m.Currency = e.Price, e.Currency
	}
	return m
}

// tiesWith reports whether e, with the status and carrier time m already
// has, should give m its details: the greater of the two by error code, raw
// status and carrier, so that reports tied in time leave the same error
// code and carrier in any order (receipt dates have minute precision). An
// identical redelivery is not greater, and changes nothing.
func (m Message) tiesWith(e StatusReceived) bool {
	if m.Status == "" || e.Status != m.Status || !e.OccurredAt.Equal(m.UpdatedAt) {
		return false
	}
	return cmp.Or(cmp.Compare(e.ErrorCode, m.ErrorCode), cmp.Compare(e.RawStatus, m.RawStatus),
		cmp.Compare(e.CarrierCode, m.CarrierCode)) > 0
}

// DeliveryLatency is the carrier time from the first QUEUED/PENDING/SENT
// report to the terminal one; ok is false until both are known. A terminal
// report dated before the SENT one (a receipt's minute-precision date, a
// carrier's clock) counts as delivered at once: left out, such messages,
// all within any threshold, biased SLA compliance down.
func (m Message) DeliveryLatency() (d time.Duration, ok bool) {
	if m.SentAt.IsZero() || m.TerminalAt.IsZero() {
		return 0, false
	}
	return max(m.TerminalAt.Sub(m.SentAt), 0), true
}

func prefer(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
