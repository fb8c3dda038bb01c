package simulate

import (
	"strconv"

	"github.com/cxsms/cxsms/domain"
)

// EventType is the CXone event type of every simulated report.
const EventType = "messaging.status.update"

// Content types of request bodies.
const (
	ContentTypeJSON    = "application/json"
	ContentTypeReceipt = "text/plain; charset=utf-8"
)

// ContentType is the Content-Type of r sent alone.
func (r *Report) ContentType() string {
	if r.Form == domain.FormatSMPPReceipt {
		return ContentTypeReceipt
	}
	return ContentTypeJSON
}

// EventIDHeader is the X-CXone-Event-Id header for r sent alone: receipt
// text has no field to carry its event ID, so the header does; JSON reports
// carry theirs inside and need none.
func (r *Report) EventIDHeader() string {
	if r.Form == domain.FormatSMPPReceipt {
		return r.EventID
	}
	return ""
}

// AppendBody appends r as the body of a request of its own.
func (r *Report) AppendBody(b []byte) []byte {
	if r.Form == domain.FormatSMPPReceipt {
		return r.appendReceipt(b)
	}
	return r.appendJSON(b)
}

// Alone reports whether r must go in a request of its own, with its
// EventIDHeader, even where its caller batches reports: receipt text has no
// field for its event ID. In a JSON array the webhook names a receipt by
// the request's event-ID header and its index ("<webhook-id>:2"), which a
// redelivery in another batch does not repeat, or, with no header, by its
// text, whose dates follow the anchor time, which a later repeat of the
// seed does not repeat: a tester's signed run stored redelivered receipts
// twice, and a repeated run stored its receipts again. Alone, it is named
// by its EventID wherever it goes, and it is still a receipt.
func (r *Report) Alone() bool {
	return r.Form == domain.FormatSMPPReceipt
}

// AppendBatch appends rs as one JSON array, the body of a batch request.
// Each report keeps its form: receipt text travels as a JSON string, as
// gateways that batch raw receipts send it and the webhook reads it. Such a
// string has no field for the report's EventID, so the webhook names it by
// the request's header and its index, or by its text; callers that must
// have a receipt's EventID kept send it alone instead (see Alone).
func AppendBatch(b []byte, rs []*Report) []byte {
	b = append(b, '[')
	for i, r := range rs {
		if i > 0 {
			b = append(b, ',')
		}
		if r.Form == domain.FormatSMPPReceipt {
			b = appendString(b, r.appendReceipt(nil))
		} else {
			b = r.appendJSON(b)
		}
	}
	return append(b, ']')
}

// appendJSON appends r, a JSON or SMPP JSON report, in a CXone envelope.
func (r *Report) appendJSON(b []byte) []byte {
	m := r.Message
	b = append(b, `{"eventType":"`+EventType+`","eventId":`...)
	b = appendString(b, r.EventID)
	b = append(b, `,"payload":{`...)
	switch {
	case r.Form == domain.FormatJSON:
		b = append(b, `"messageId":`...)
		b = appendString(b, m.ID)
		b = append(b, `,"status":`...)
		b = appendString(b, r.statusWord(string(r.Status)))
		b = append(b, `,"errorCode":`...)
		if r.ErrorCode == "" {
			b = append(b, "null"...)
		} else {
			b = appendString(b, r.ErrorCode)
		}
		b = append(b, `,"carrier":`...)
		b = appendString(b, m.Carrier)
		b = append(b, `,"from":`...)
		b = appendString(b, m.Sender)
		b = append(b, `,"to":`...)
		b = appendString(b, m.Recipient)
		b = append(b, `,"timestamp":"`...)
		b = r.OccurredAt.AppendFormat(b, jsonTime)
		b = append(b, `","segments":`...)
		b = strconv.AppendInt(b, int64(m.Segments), 10)
		if r.Status.IsTerminal() {
			b = append(b, `,"price":"`...)
			b = appendPrice(b, m.Price)
			b = append(b, `","currency":`...)
			b = appendString(b, m.Currency)
		}
	case r.Form == domain.FormatSMPPJSON && m.smppVariant == 0:
		// SMPP names for every field, as carrier gateways pass them on.
		b = append(b, `"smppMessageId":`...)
		b = appendString(b, m.ID)
		b = append(b, `,"deliveryStatus":`...)
		b = appendString(b, r.statusWord(smppStat(r.Status)))
		b = append(b, `,"message_state":`...)
		b = strconv.AppendInt(b, int64(messageState(r.Status)), 10)
		b = append(b, `,"smppErrorCode":`...)
		b = appendString(b, r.ErrorCode)
		b = append(b, `,"carrierCode":`...)
		b = appendString(b, m.Carrier)
		b = append(b, `,"sourceAddress":`...)
		b = appendString(b, m.Sender)
		b = append(b, `,"destinationAddress":`...)
		b = appendString(b, m.Recipient)
		b = append(b, `,"deliveryTime":"`...)
		b = r.OccurredAt.AppendFormat(b, jsonTime)
		b = append(b, '"')
	default:
		// The deliver_sm's TLVs and its receipt text, which holds the time.
		b = append(b, `"receipted_message_id":`...)
		b = appendString(b, m.ID)
		b = append(b, `,"message_state":"`...)
		b = strconv.AppendInt(b, int64(messageState(r.Status)), 10)
		b = append(b, `","network_error_code":`...)
		b = appendString(b, r.ErrorCode)
		b = append(b, `,"carrierCode":`...)
		b = appendString(b, m.Carrier)
		b = append(b, `,"source_addr":`...)
		b = appendString(b, m.Sender)
		b = append(b, `,"destination_addr":`...)
		b = appendString(b, m.Recipient)
		b = append(b, `,"short_message":`...)
		b = appendString(b, r.appendReceipt(nil))
	}
	return append(b, "}}"...)
}

// jsonTime is how reports write times: RFC 3339, UTC, milliseconds.
const jsonTime = "2006-01-02T15:04:05.000Z07:00"

// receiptTime is YYMMDDhhmmss, the receipt date with seconds.
const receiptTime = "060102150405"

// appendReceipt appends r as SMPP delivery-receipt text.
func (r *Report) appendReceipt(b []byte) []byte {
	m := r.Message
	b = append(b, "id:"...)
	b = append(b, m.ID...)
	b = append(b, " sub:001 dlvrd:"...)
	if r.Status == domain.StatusDelivered {
		b = append(b, "001"...)
	} else {
		b = append(b, "000"...)
	}
	b = append(b, " submit date:"...)
	b = m.SubmittedAt.UTC().AppendFormat(b, receiptTime)
	b = append(b, " done date:"...)
	b = r.OccurredAt.UTC().AppendFormat(b, receiptTime)
	b = append(b, " stat:"...)
	b = append(b, smppStat(r.Status)...)
	b = append(b, " err:"...)
	b = append(b, r.ErrorCode...)
	b = append(b, " text:"...)
	text := m.Text
	if len(text) > 20 {
		text = text[:20] // receipts carry the first 20 characters
	}
	return append(b, text...)
}

// statusWord is the status as a field that spells it freely says it: the
// caller's spelling of a pinned outcome, as given, else canonical.
func (r *Report) statusWord(canonical string) string {
	if r.RawStatus != "" {
		return r.RawStatus
	}
	return canonical
}

// smppStat is the receipt stat: value for a status.
func smppStat(s domain.Status) string {
	switch s {
	case domain.StatusSent:
		return "ENROUTE"
	case domain.StatusDelivered:
		return "DELIVRD"
	case domain.StatusUndelivered, domain.StatusFailed:
		return "UNDELIV"
	case domain.StatusRejected:
		return "REJECTD"
	case domain.StatusExpired:
		return "EXPIRED"
	case domain.StatusDeleted:
		return "DELETED"
	}
	return "UNKNOWN"
}

// messageState is the SMPP message_state TLV for a status.
func messageState(s domain.Status) int {
	switch s {
	case domain.StatusSent:
		return 1 // ENROUTE
	case domain.StatusDelivered:
		return 2
	case domain.StatusExpired:
		return 3
	case domain.StatusDeleted:
		return 4
	case domain.StatusUndelivered, domain.StatusFailed:
		return 5 // UNDELIVERABLE
	case domain.StatusRejected:
		return 8
	}
	return 7 // UNKNOWN
}

// appendPrice appends a price as carriers quote it: at least four decimals,
// no trailing zeros beyond them ("0.0086", "0.01725").
func appendPrice(b []byte, p domain.Micros) []byte {
	s := p.String() // six decimals
	for i := 0; i < 2 && s[len(s)-1] == '0'; i++ {
		s = s[:len(s)-1]
	}
	return append(b, s...)
}

// appendString appends s as a JSON string.
func appendString[S ~string | ~[]byte](b []byte, s S) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, `\u00`...)
			b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
