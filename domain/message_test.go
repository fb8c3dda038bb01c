package domain

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

func ev(st Status, sec int) StatusReceived {
	return StatusReceived{MessageID: "m", Status: st, RawStatus: string(st), OccurredAt: at(sec), ReceivedAt: at(sec)}
}

func TestFoldOutOfOrder(t *testing.T) {
	tests := []struct {
		name     string
		reports  []StatusReceived
		want     Status
		wantAt   time.Time
		terminal time.Time
	}{
		{"in order", []StatusReceived{ev(StatusQueued, 0), ev(StatusSent, 1), ev(StatusDelivered, 5)}, StatusDelivered, at(5), at(5)},
		{"late SENT after DELIVERED changes nothing", []StatusReceived{ev(StatusDelivered, 5), ev(StatusSent, 1)}, StatusDelivered, at(5), at(5)},
		{"late SENT with a later clock still loses to terminal", []StatusReceived{ev(StatusDelivered, 5), ev(StatusSent, 9)}, StatusDelivered, at(5), at(5)},
		{"late QUEUED after SENT", []StatusReceived{ev(StatusSent, 2), ev(StatusQueued, 1)}, StatusSent, at(2), time.Time{}},
		{"QUEUED after SENT even with a later clock", []StatusReceived{ev(StatusSent, 2), ev(StatusQueued, 3)}, StatusSent, at(2), time.Time{}},
		{"PENDING beats QUEUED", []StatusReceived{ev(StatusQueued, 0), ev(StatusPending, 1)}, StatusPending, at(1), time.Time{}},
		{"later terminal wins", []StatusReceived{ev(StatusUndelivered, 5), ev(StatusDelivered, 8)}, StatusDelivered, at(8), at(8)},
		{"earlier terminal arriving late loses", []StatusReceived{ev(StatusDelivered, 8), ev(StatusUndelivered, 5)}, StatusDelivered, at(8), at(8)},
		{"terminal tie: DELIVERED wins, arriving last", []StatusReceived{ev(StatusExpired, 8), ev(StatusDelivered, 8)}, StatusDelivered, at(8), at(8)},
		{"terminal tie: DELIVERED wins, arriving first", []StatusReceived{ev(StatusDelivered, 8), ev(StatusUndelivered, 8)}, StatusDelivered, at(8), at(8)},
		{"terminal tie: UNDELIVERED before REJECTED", []StatusReceived{ev(StatusRejected, 8), ev(StatusUndelivered, 8)}, StatusUndelivered, at(8), at(8)},
		{"terminal tie: REJECTED before EXPIRED", []StatusReceived{ev(StatusRejected, 8), ev(StatusExpired, 8)}, StatusRejected, at(8), at(8)},
		{"UNKNOWN never hides a known status", []StatusReceived{ev(StatusSent, 1), ev(StatusUnknown, 9)}, StatusSent, at(1), time.Time{}},
		{"known replaces UNKNOWN", []StatusReceived{ev(StatusUnknown, 9), ev(StatusQueued, 1)}, StatusQueued, at(1), time.Time{}},
		{"terminal beats non-terminal from the future", []StatusReceived{ev(StatusSent, 100), ev(StatusRejected, 1)}, StatusRejected, at(1), at(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Message
			for _, r := range tt.reports {
				m = m.Apply(r)
			}
			if m.Status != tt.want || !m.UpdatedAt.Equal(tt.wantAt) || !m.TerminalAt.Equal(tt.terminal) {
				t.Errorf("status = %s at %v (terminal %v), want %s at %v (terminal %v)",
					m.Status, m.UpdatedAt, m.TerminalAt, tt.want, tt.wantAt, tt.terminal)
			}
			if m.EventCount != len(tt.reports) {
				t.Errorf("eventCount = %d, want %d", m.EventCount, len(tt.reports))
			}
		})
	}
}

func TestFoldFillsDetailsAndLatency(t *testing.T) {
	price := Micros(8000)
	queued := ev(StatusQueued, 0)
	queued.Recipient, queued.SenderID, queued.CarrierCode = "+447700900123", "ACME", "VODAFONE"
	delivered := ev(StatusDelivered, 7)
	delivered.Price, delivered.Currency = &price, "GBP"
	failedErr := ev(StatusSent, 2)
	failedErr.ErrorCode = "ignored"

	var m Message
	for _, r := range []StatusReceived{delivered, queued, failedErr} {
		m = m.Apply(r)
	}
	if m.Recipient != "+447700900123" || m.SenderID != "ACME" || m.CarrierCode != "VODAFONE" {
		t.Errorf("late QUEUED did not fill details: %+v", m)
	}
	if m.Price == nil || *m.Price != 8000 || m.Currency != "GBP" {
		t.Errorf("price = %v %s", m.Price, m.Currency)
	}
	if m.ErrorCode != "" {
		t.Errorf("a losing report's error code leaked: %q", m.ErrorCode)
	}
	if d, ok := m.DeliveryLatency(); !ok || d != 7*time.Second {
		t.Errorf("delivery latency = %v %v, want 7s", d, ok)
	}
	if !m.FirstAt.Equal(at(0)) {
		t.Errorf("firstAt = %v", m.FirstAt)
	}
}

// Reports with the same status and carrier time leave the same details in
// any order; a redelivery changes nothing.
func TestFoldTieSameStatusIsOrderFree(t *testing.T) {
	a, b := ev(StatusFailed, 8), ev(StatusFailed, 8)
	a.ErrorCode, a.CarrierCode, a.RawStatus = "30005", "C_A", "FAILED"
	b.ErrorCode, b.CarrierCode, b.RawStatus = "005", "C_B", "UNDELIV"
	ab := Message{}.Apply(a).Apply(b)
	ba := Message{}.Apply(b).Apply(a)
	if ab.ErrorCode != ba.ErrorCode || ab.CarrierCode != ba.CarrierCode || ab.RawStatus != ba.RawStatus {
		t.Errorf("a then b: %s %s %s; b then a: %s %s %s", ab.ErrorCode, ab.CarrierCode, ab.RawStatus, ba.ErrorCode, ba.CarrierCode, ba.RawStatus)
	}
	again := ab.Apply(a).Apply(b)
	if again.ErrorCode != ab.ErrorCode || again.RawStatus != ab.RawStatus || again.EventCount != 4 {
		t.Errorf("redeliveries changed the details: %+v, was %+v", again, ab)
	}
}

// A terminal report dated before the SENT one counts as delivered at once,
// not as no delivery at all.
func TestDeliveryLatencyNeverNegative(t *testing.T) {
	for _, tt := range []struct {
		name    string
		reports []StatusReceived
		want    time.Duration
		ok      bool
	}{
		{"in order", []StatusReceived{ev(StatusSent, 30), ev(StatusDelivered, 90)}, time.Minute, true},
		{"receipt dated before SENT", []StatusReceived{ev(StatusSent, 30), ev(StatusDelivered, 0)}, 0, true},
		{"no SENT", []StatusReceived{ev(StatusDelivered, 0)}, 0, false},
		{"not terminal", []StatusReceived{ev(StatusSent, 0)}, 0, false},
	} {
		var m Message
		for _, r := range tt.reports {
			m = m.Apply(r)
		}
		if d, ok := m.DeliveryLatency(); d != tt.want || ok != tt.ok {
			t.Errorf("%s: %v %v, want %v %v", tt.name, d, ok, tt.want, tt.ok)
		}
	}
}
