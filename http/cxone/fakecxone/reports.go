package fakecxone

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/cxsms/cxsms/domain"
)

// Form is the shape a status report is sent in. The service has to parse
// all of them, and a burst mixes them.
type Form string

const (
	// FormJSON is CXone's own JSON: payload.messageId, status, carrier, ...
	FormJSON Form = "json"
	// FormSMPPJSON is JSON carrying SMPP fields: smppMessageId,
	// deliveryStatus (DELIVRD, ...), the message_state TLV, carrierCode.
	FormSMPPJSON Form = "smpp_json"
	// FormReceiptJSON is an SMPP delivery-receipt text in a JSON envelope
	// (payload.shortMessage).
	FormReceiptJSON Form = "receipt_json"
	// FormReceiptText is the bare receipt text as a text/plain body; its
	// event id travels only in the X-CXone-Event-Id header.
	FormReceiptText Form = "receipt_text"
)

// Forms lists every form; it is a burst's default mix.
var Forms = []Form{FormJSON, FormSMPPJSON, FormReceiptJSON, FormReceiptText}

func (f Form) valid() bool {
	for _, v := range Forms {
		if f == v {
			return true
		}
	}
	return false
}

// EventType is the event type of every report, and what a subscription must
// list to receive them.
const EventType = "messaging.status.update"

// EventIDHeader carries each report's event id, so that even a text/plain
// receipt has one and dedupe can be checked.
const EventIDHeader = "X-CXone-Event-Id"

// outcome is how a report spells one status in each form.
type outcome struct {
	status   domain.Status
	word     string // CXone JSON
	stat     string // SMPP stat:
	state    int    // SMPP message_state TLV
	jsonErr  string // CXone error code, failures only
	smppErr  string // SMPP err:
	terminal bool
}

var (
	queued    = outcome{status: domain.StatusQueued, word: "QUEUED"}
	enroute   = outcome{status: domain.StatusSent, word: "SENT", stat: "ENROUTE", state: 1, smppErr: "000"}
	delivered = outcome{status: domain.StatusDelivered, word: "DELIVERED", stat: "DELIVRD", state: 2, smppErr: "000", terminal: true}
	// failures cycle through the terminal failures a carrier reports.
	failures = []outcome{
		{status: domain.StatusUndelivered, word: "UNDELIVERED", stat: "UNDELIV", state: 5, jsonErr: "30003", smppErr: "001", terminal: true},
		{status: domain.StatusRejected, word: "REJECTED", stat: "REJECTD", state: 8, jsonErr: "30007", smppErr: "045", terminal: true},
		{status: domain.StatusExpired, word: "EXPIRED", stat: "EXPIRED", state: 3, jsonErr: "30001", smppErr: "005", terminal: true},
		{status: domain.StatusFailed, word: "FAILED", stat: "UNDELIV", state: 5, jsonErr: "30008", smppErr: "008", terminal: true},
	}
)

// A burst spreads its messages over carriers and regions so that per-carrier
// and per-region analytics have something to show.
var (
	carriers = []struct{ code, price string }{
		{"TMOBILE", "0.0075"}, {"VERIZON", "0.0079"}, {"ATT", "0.0081"}, {"VODAFONE", "0.0420"},
	}
	routes = []struct{ prefix, sender string }{
		{"+1202555", "CXSMS"}, {"+4477009", "ACMEBANK"}, {"+9198765", "ACMEIN"}, {"+4915123", "ACME"}, {"+6141255", "ACMEAU"},
	}
)

// message is one planned SMS and the reports its lifecycle produces.
type message struct {
	id      string
	form    Form
	carrier string
	price   string
	from    string
	to      string
	steps   []step
}

type step struct {
	eventID string
	form    Form
	out     outcome
	at      time.Time
}

func planMessage(prefix string, i int, cfg BurstConfig, now time.Time, eventID func() string) message {
	c := carriers[i%len(carriers)]
	r := routes[i%len(routes)]
	m := message{
		id:      fmt.Sprintf("FK%s%05d", prefix, i),
		form:    cfg.Forms[i%len(cfg.Forms)],
		carrier: c.code,
		price:   c.price,
		from:    r.sender,
		to:      fmt.Sprintf("%s%04d", r.prefix, i%10000),
	}
	final := delivered
	if cfg.FailEvery > 0 && (i+1)%cfg.FailEvery == 0 {
		final = failures[(i/cfg.FailEvery)%len(failures)]
		if final.status == domain.StatusFailed && m.form != FormJSON {
			final = failures[0] // SMPP has no FAILED: a carrier reports UNDELIV
		}
	}
	t0 := now.Add(-5 * time.Second).Add(time.Duration(i) * time.Millisecond)
	if cfg.Lifecycle {
		// CXone reports QUEUED itself, in its own JSON, before the carrier
		// is involved; SMPP has no such state.
		m.steps = append(m.steps,
			step{eventID(), FormJSON, queued, t0},
			step{eventID(), m.form, enroute, t0.Add(time.Second)})
	}
	m.steps = append(m.steps, step{eventID(), m.form, final, t0.Add(3 * time.Second)})
	return m
}

// body renders one report: the bytes, their content type and the raw status
// as written.
func (m message) body(st step) (data []byte, contentType, raw string) {
	at := st.at.UTC().Format(time.RFC3339Nano)
	envelope := func(payload map[string]any) []byte {
		b, _ := json.Marshal(map[string]any{"eventType": EventType, "payload": payload})
		return b
	}
	switch st.form {
	case FormSMPPJSON:
		p := map[string]any{
			"eventId":            st.eventID,
			"smppMessageId":      m.id,
			"deliveryStatus":     st.out.stat,
			"message_state":      st.out.state,
			"smppErrorCode":      st.out.smppErr,
			"carrierCode":        m.carrier,
			"sourceAddress":      m.from,
			"destinationAddress": m.to,
			"deliveryTime":       at,
		}
		if st.out.terminal {
			p["price"], p["currency"] = m.price, "USD"
		}
		return envelope(p), "application/json", st.out.stat
	case FormReceiptJSON:
		p := map[string]any{"eventId": st.eventID, "messageId": m.id, "shortMessage": m.receipt(st)}
		return envelope(p), "application/json", st.out.stat
	case FormReceiptText:
		return []byte(m.receipt(st)), "text/plain; charset=utf-8", st.out.stat
	default:
		p := map[string]any{
			"eventId":   st.eventID,
			"messageId": m.id,
			"status":    st.out.word,
			"carrier":   m.carrier,
			"from":      m.from,
			"to":        m.to,
			"timestamp": at,
		}
		if st.out.jsonErr != "" {
			p["errorCode"] = st.out.jsonErr
		}
		if st.out.terminal {
			p["price"], p["currency"] = m.price, "USD"
		}
		return envelope(p), "application/json", st.out.word
	}
}

// receipt is an SMPP 3.4 Appendix B delivery receipt, with 12-digit dates
// (YYMMDDhhmmss) so that a report's order survives in it.
func (m message) receipt(st step) string {
	dlvrd := "000"
	if st.out.status == domain.StatusDelivered {
		dlvrd = "001"
	}
	const layout = "060102150405"
	submit := st.at
	if len(m.steps) > 0 {
		submit = m.steps[0].at
	}
	return fmt.Sprintf("id:%s sub:001 dlvrd:%s submit date:%s done date:%s stat:%s err:%s text:%s",
		m.id, dlvrd, submit.UTC().Format(layout), st.at.UTC().Format(layout), st.out.stat, st.out.smppErr, "Your code is 4821")
}
