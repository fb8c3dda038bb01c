package domain

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var parseReceivedAt = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// parse runs Parse with the fixed receive time the tables expect.
func parseBody(body, contentType, header string) ([]StatusReceived, error) {
	return Parse(Request{Body: []byte(body), ContentType: contentType, EventIDHeader: header, ReceivedAt: parseReceivedAt})
}

// parseSummary prints the fields a table compares, so a failure shows them
// all.
// EventID and Raw have their own tests.
func parseSummary(e StatusReceived) string {
	price := "-"
	if e.Price != nil {
		price = e.Price.String()
	}
	at := e.OccurredAt.UTC().Format(time.RFC3339Nano)
	if e.OccurredAt.Equal(parseReceivedAt) {
		at = "received"
	}
	return fmt.Sprintf("id=%q status=%s raw=%q carrier=%q err=%q from=%q to=%q price=%s %q at=%s format=%s",
		e.MessageID, e.Status, e.RawStatus, e.CarrierCode, e.ErrorCode, e.SenderID, e.Recipient,
		price, e.Currency, at, e.Format)
}

// wantEvent is an expected event, printed as parseSummary prints one; an unset
// time means "received".
type wantEvent struct {
	id, status, raw, carrier, err, from, to, price, currency string
	at                                                       string // RFC 3339, "" for received
	format                                                   Format
}

func (w wantEvent) String() string {
	price := w.price
	if price == "" {
		price = "-"
	}
	at := w.at
	if at == "" {
		at = "received"
	}
	format := w.format
	if format == "" {
		format = FormatJSON
	}
	status := w.status
	if status == "" {
		status = string(StatusUnknown)
	}
	return fmt.Sprintf("id=%q status=%s raw=%q carrier=%q err=%q from=%q to=%q price=%s %q at=%s format=%s",
		w.id, status, w.raw, w.carrier, w.err, w.from, w.to, price, w.currency, at, format)
}

func TestParseShapes(t *testing.T) {
	tests := []struct {
		name        string
		body        string
		contentType string
		want        []wantEvent
	}{
		{
			name: "tutorial envelope",
			body: `{"eventType":"messaging.status.update","payload":{"messageId":"SIM-1","status":"DELIVERED","errorCode":null,"carrier":"VERIZON","from":"SENDER7","to":"+15551234567","timestamp":"2024-05-06T07:00:00.123Z"}}`,
			want: []wantEvent{{id: "SIM-1", status: "DELIVERED", raw: "DELIVERED", carrier: "VERIZON", from: "SENDER7", to: "+15551234567", at: "2024-05-06T07:00:00.123Z"}},
		},
		{
			name: "bare report",
			body: `{"messageId":"m1","status":"FAILED","errorCode":"404","carrier":"ATT","from":"ABCDEF","to":"+919800000000"}`,
			want: []wantEvent{{id: "m1", status: "FAILED", raw: "FAILED", carrier: "ATT", err: "404", from: "ABCDEF", to: "+919800000000"}},
		},
		{
			name: "array",
			body: ` [ {"messageId":"m1","status":"SENT"} , {"messageId":"m2","status":"DELIVERED"} ] `,
			want: []wantEvent{{id: "m1", status: "SENT", raw: "SENT"}, {id: "m2", status: "DELIVERED", raw: "DELIVERED"}},
		},
		{
			name: "events wrapper of envelopes and bare reports",
			body: `{"events":[{"eventType":"messaging.status.update","payload":{"messageId":"m1","status":"QUEUED"}},{"messageId":"m2","status":"PENDING"}]}`,
			want: []wantEvent{{id: "m1", status: "QUEUED", raw: "QUEUED"}, {id: "m2", status: "PENDING", raw: "PENDING"}},
		},
		{
			name: "SMPP-wrapped JSON, tutorial names",
			body: `{"smppMessageId":"0A1B2C","deliveryStatus":"DELIVRD","carrierCode":"310260","smppErrorCode":"000","sourceAddress":"ACME","destinationAddress":"447700900123","deliveryTime":1714979000}`,
			want: []wantEvent{{id: "0A1B2C", status: "DELIVERED", raw: "DELIVRD", carrier: "310260", err: "000", from: "ACME", to: "447700900123", at: "2024-05-06T07:03:20Z", format: FormatSMPPJSON}},
		},
		{
			name: "SMPP TLVs and PDU fields",
			body: `{"receipted_message_id":"ff00aa","message_state":5,"network_error_code":"030001","source_addr":"ACME","destination_addr":"15551234567"}`,
			want: []wantEvent{{id: "ff00aa", status: "UNDELIVERED", raw: "5", err: "030001", from: "ACME", to: "15551234567", format: FormatSMPPJSON}},
		},
		{
			// Queues and gateways that forward a body as text encode the
			// payload twice; it was refused for a missing messageId.
			name: "a payload encoded as a JSON string",
			body: `{"eventType":"messaging.status.update","eventId":"e1","payload":"{\"messageId\":\"dbl-1\",\"status\":\"DELIVERED\",\"carrier\":\"ATT\"}"}`,
			want: []wantEvent{{id: "dbl-1", status: "DELIVERED", raw: "DELIVERED", carrier: "ATT"}},
		},
		{
			// SMPP 3.4 §4.6.1: a receipt's deliver_sm carries the original
			// message's addresses reversed, which esm_class's message type
			// says; read as written, the handset was the sender.
			name: "a deliver_sm receipt: esm_class 4 reverses the addresses",
			body: `{"command_id":"deliver_sm","esm_class":4,"source_addr":"447700900123","destination_addr":"ACME","receipted_message_id":"D1","message_state":2}`,
			want: []wantEvent{{id: "D1", status: "DELIVERED", raw: "2", from: "ACME", to: "447700900123", format: FormatSMPPJSON}},
		},
		{
			name: "an intermediate notification, esm_class in hex",
			body: `{"esm_class":"0x20","source_addr":"447700900123","destination_addr":"ACME","receipted_message_id":"D2","message_state":1}`,
			want: []wantEvent{{id: "D2", status: "SENT", raw: "1", from: "ACME", to: "447700900123", format: FormatSMPPJSON}},
		},
		{
			name: "esm_class 0, a mobile-originated message, read as written",
			body: `{"esm_class":0,"source_addr":"ACME","destination_addr":"447700900123","receipted_message_id":"D3","message_state":2}`,
			want: []wantEvent{{id: "D3", status: "DELIVERED", raw: "2", from: "ACME", to: "447700900123", format: FormatSMPPJSON}},
		},
		{
			name: "message_state as a string, padded",
			body: `{"receipted_message_id":"a","message_state":"02"}`,
			want: []wantEvent{{id: "a", status: "DELIVERED", raw: "02", format: FormatSMPPJSON}},
		},
		{
			// design.md: only a missing or malformed message ID makes a report
			// invalid. A sender does not retry a 400, so refusing the report
			// would lose it; the raw report keeps what was left out.
			name: "fields of the wrong type or form are left out",
			body: `{"messageId":"m","status":true,"carrier":{"name":"ATT"},"timestamp":[2024],"shortMessage":{"id":"x"},"errorCode":false,"from":["A"],"price":"N/A","currency":"usd","eventId":{}}`,
			want: []wantEvent{{id: "m", currency: "USD", format: FormatSMPPJSON}},
		},
		{
			name: "overlong fields are clipped, in characters",
			body: `{"payload":{"messageId":"m","carrier":"` + strings.Repeat("C", 101) + `","from":"` + strings.Repeat("é", 150) + `","errorCode":"30007: ` + strings.Repeat("filtered ", 20) + `"}}`,
			want: []wantEvent{{id: "m", carrier: strings.Repeat("C", 100), from: strings.Repeat("é", 100), err: ("30007: " + strings.Repeat("filtered ", 20))[:100]}},
		},
		{
			name:        "receipt with an overlong status",
			body:        "id:m1 stat:" + strings.Repeat("D", 101),
			contentType: "text/plain",
			want:        []wantEvent{{id: "m1", raw: strings.Repeat("D", 100), format: FormatSMPPReceipt}},
		},
		{
			name: "invisible format characters leave normalized fields",
			body: `{"messageId":"m","carrier":"\u202eTTA","from":"AC\u200bME\ufeff","to":"+1415\u00ad5550123","errorCode":"\u0085 5","deliveryStatus":"x","status":"DELIV\u2028RD"}`,
			want: []wantEvent{{id: "m", carrier: "TTA", from: "ACME", to: "+14155550123", err: "5", raw: "DELIV RD"}},
		},
		{
			name: "the names of this service's own answers",
			body: `{"messageId":"m","senderId":"ACME","recipient":"+14155550123"}`,
			want: []wantEvent{{id: "m", from: "ACME", to: "+14155550123"}},
		},
		{
			name: "receipt text as a JSON string body",
			body: `"id:r9 stat:UNDELIV err:005"`,
			want: []wantEvent{{id: "r9", status: "UNDELIVERED", raw: "UNDELIV", err: "005", format: FormatSMPPReceipt}},
		},
		{
			// The envelope's timestamp is when the webhook was sent, its
			// status the webhook's own: the payload's fields win, even under
			// other names.
			name: "the envelope's other fields do not override the payload's",
			body: `{"eventId":"x","timestamp":"2024-05-06T07:00:00Z","status":"processed","errorCode":"ENV","payload":{"messageId":"m","message_state":2,"deliveryTime":"2024-05-06T06:15:00Z","short_message":"id:m stat:DELIVRD err:034"}}`,
			want: []wantEvent{{id: "m", status: "DELIVERED", raw: "2", err: "034", at: "2024-05-06T06:15:00Z", format: FormatSMPPJSON}},
		},
		{
			name: "a status we cannot read gives way to message_state or the receipt's stat",
			body: `[{"messageId":"a","status":2,"message_state":2},{"messageId":"b","status":"processed","short_message":"id:b stat:UNDELIV"},{"messageId":"c","status":"processed"}]`,
			want: []wantEvent{
				{id: "a", status: "DELIVERED", raw: "2", format: FormatSMPPJSON},
				{id: "b", status: "UNDELIVERED", raw: "UNDELIV", format: FormatSMPPJSON},
				{id: "c", raw: "processed"},
			},
		},
		{
			name: "payload null is no envelope",
			body: `{"payload":null,"messageId":"m","status":"SENT"}`,
			want: []wantEvent{{id: "m", status: "SENT", raw: "SENT"}},
		},
		{
			name: "the envelope fills what the payload lacks",
			body: `{"eventType":"messaging.status.update","messageId":"m9","status":"SENT","payload":{"carrier":"ATT","status":"DELIVERED"}}`,
			want: []wantEvent{{id: "m9", status: "DELIVERED", raw: "DELIVERED", carrier: "ATT"}},
		},
		{
			// A tester's gateway batch: the second receipt was folded into
			// the first's text and lost.
			name:        "receipts one per line",
			body:        "id:MR1 sub:001 dlvrd:001 stat:DELIVRD err:000 text:a\r\nid:MR2 sub:001 dlvrd:000 stat:UNDELIV err:034 text:b\r\n",
			contentType: "text/plain",
			want: []wantEvent{
				{id: "MR1", status: "DELIVERED", raw: "DELIVRD", err: "000", format: FormatSMPPReceipt},
				{id: "MR2", status: "UNDELIVERED", raw: "UNDELIV", err: "034", format: FormatSMPPReceipt},
			},
		},
		{
			// A report's own events member (its message's event list) made
			// it read as a wrapper: its FAILED was acknowledged and lost.
			name: "an envelope with a member named events is a report",
			body: `{"eventType":"messaging.status.update","payload":{"messageId":"R9","status":"FAILED","carrier":"ATT"},"events":[{"messageId":"R9","status":"SENT"}]}`,
			want: []wantEvent{{id: "R9", status: "FAILED", raw: "FAILED", carrier: "ATT"}},
		},
		{
			name: "a bare report with a member named events is a report",
			body: `{"messageId":"R8","status":"DELIVERED","events":[{"messageId":"R8-inner","status":"SENT"}]}`,
			want: []wantEvent{{id: "R8", status: "DELIVERED", raw: "DELIVERED"}},
		},
		{
			name: "a report whose events member is no array",
			body: `{"messageId":"R7","status":"SENT","events":"none"}`,
			want: []wantEvent{{id: "R7", status: "SENT", raw: "SENT"}},
		},
		{
			// Serializers that write every field sent "messageId":null
			// beside events: the batch was refused, on every retry.
			name: "a wrapper with null or empty report members",
			body: `{"messageId":null,"smppMessageId":"  ","payload":null,"externalId":"","receipt":"","shortMessage":null,"events":[{"messageId":"QX1","status":"SENT"}]}`,
			want: []wantEvent{{id: "QX1", status: "SENT", raw: "SENT"}},
		},
		{
			// And 0 for an unset number: read as message "0", the batch
			// was acknowledged and never stored.
			name: "a wrapper with a zero message ID",
			body: `{"messageId":0,"externalId":"0","events":[{"messageId":"W7","status":"SENT"}]}`,
			want: []wantEvent{{id: "W7", status: "SENT", raw: "SENT"}},
		},
		{
			name: "a wrapper with a zero message ID written otherwise",
			body: `{"messageId":-0,"smppMessageId":"0.0","externalId":"00","events":[{"messageId":"W8","status":"SENT"}]}`,
			want: []wantEvent{{id: "W8", status: "SENT", raw: "SENT"}},
		},
		{
			// A zero names no message: the next ID field does. It was
			// filed under message "0".
			name: "a zero message ID beside a real one",
			body: `{"messageId":0,"smppMessageId":"real2","status":"DELIVERED"}`,
			want: []wantEvent{{id: "real2", status: "DELIVERED", raw: "DELIVERED", format: FormatSMPPJSON}},
		},
		{
			name: "a wrapper with members of its own",
			body: `{"tenantId":"t1","eventId":"batch-1","events":[{"messageId":"W1","status":"SENT"}]}`,
			want: []wantEvent{{id: "W1", status: "SENT", raw: "SENT"}},
		},
		{
			// A tester's gateway wrote its receipts as C strings, one
			// after another: the second was read as a repeated id: of
			// the first, acknowledged and never stored.
			name:        "receipts one after another, each ended by a NUL",
			body:        "id:N1 stat:DELIVRD done date:2405060701 text:hi\x00id:N2 stat:UNDELIV done date:2405060702 text:yo\x00",
			contentType: "text/plain",
			want: []wantEvent{
				{id: "N1", status: "DELIVERED", raw: "DELIVRD", at: "2024-05-06T07:01:00Z", format: FormatSMPPReceipt},
				{id: "N2", status: "UNDELIVERED", raw: "UNDELIV", at: "2024-05-06T07:02:00Z", format: FormatSMPPReceipt},
			},
		},
		{
			name:        "receipts one after another on a line, split by spaces or NULs",
			body:        "id:S1 sub:001 stat:DELIVRD err:000 id:S2 stat:UNDELIV err:001\x00\x00id:S3 stat:EXPIRED text:x",
			contentType: "text/plain",
			want: []wantEvent{
				{id: "S1", status: "DELIVERED", raw: "DELIVRD", err: "000", format: FormatSMPPReceipt},
				{id: "S2", status: "UNDELIVERED", raw: "UNDELIV", err: "001", format: FormatSMPPReceipt},
				{id: "S3", status: "EXPIRED", raw: "EXPIRED", format: FormatSMPPReceipt},
			},
		},
		{
			// Standard receipts end in text:, so joined by spaces each one
			// after the first was read as the text of the one before: 200,
			// and stored nowhere. A whole receipt (fields beyond id: and
			// stat:) after a text: is a receipt of its own.
			name: "standard receipts joined by spaces, text: and all",
			body: "id:SP1 sub:001 dlvrd:001 submit date:2405060700 done date:2405060701 stat:DELIVRD err:000 text: " +
				"id:SP2 sub:001 dlvrd:000 submit date:2405060700 done date:2405060702 stat:UNDELIV err:001 text:Your code " +
				"id:SP3 sub:001 dlvrd:001 submit date:2405060700 done date:2405060703 stat:DELIVRD err:000 text:Your code",
			contentType: "text/plain",
			want: []wantEvent{
				{id: "SP1", status: "DELIVERED", raw: "DELIVRD", err: "000", at: "2024-05-06T07:01:00Z", format: FormatSMPPReceipt},
				{id: "SP2", status: "UNDELIVERED", raw: "UNDELIV", err: "001", at: "2024-05-06T07:02:00Z", format: FormatSMPPReceipt},
				{id: "SP3", status: "DELIVERED", raw: "DELIVRD", err: "000", at: "2024-05-06T07:03:00Z", format: FormatSMPPReceipt},
			},
		},
		{
			// A short receipt, id: and stat: and a date, after a text:.
			name:        "a short receipt joined by a space after a text:",
			body:        "id:v1 sub:001 dlvrd:001 done date:2405060701 stat:DELIVRD err:000 text:Hi there id:v2 done date:2405060702 stat:UNDELIV",
			contentType: "text/plain",
			want: []wantEvent{
				{id: "v1", status: "DELIVERED", raw: "DELIVRD", err: "000", at: "2024-05-06T07:01:00Z", format: FormatSMPPReceipt},
				{id: "v2", status: "UNDELIVERED", raw: "UNDELIV", at: "2024-05-06T07:02:00Z", format: FormatSMPPReceipt},
			},
		},
		{
			// An SMS that reads like a receipt, with a status no receipt
			// has, is the text's: it was cut, and a phantom message stored.
			name:        "receipt-like words in a text:",
			body:        "id:t2 stat:DELIVRD err:000 text:Order id:55 stat:SHIPPED sub:1 err:none",
			contentType: "text/plain",
			want:        []wantEvent{{id: "t2", status: "DELIVERED", raw: "DELIVRD", err: "000", format: FormatSMPPReceipt}},
		},
		{
			// A status word as people write it is the SMS's: split, it
			// made a phantom report that changed message 8801's status.
			name:        "a status word in a text:",
			body:        "id:R9 sub:001 dlvrd:001 done date:2405060701 stat:DELIVRD err:000 text:Parcel id:8801 stat:delivered",
			contentType: "text/plain",
			want:        []wantEvent{{id: "R9", status: "DELIVERED", raw: "DELIVRD", err: "000", at: "2024-05-06T07:01:00Z", format: FormatSMPPReceipt}},
		},
		{
			// After a space, "id: ... stat:" inside text: is the SMS's.
			name:        "an id: and a stat: inside a receipt's text",
			body:        "id:T1 stat:DELIVRD err:000 text:your id:42 stat:ok",
			contentType: "text/plain",
			want:        []wantEvent{{id: "T1", status: "DELIVERED", raw: "DELIVRD", err: "000", format: FormatSMPPReceipt}},
		},
		{
			name:        "NULs between the fields of one receipt",
			body:        "id:F1\x00sub:001\x00stat:DELIVRD\x00err:000\x00",
			contentType: "text/plain",
			want:        []wantEvent{{id: "F1", status: "DELIVERED", raw: "DELIVRD", err: "000", format: FormatSMPPReceipt}},
		},
		{
			// A receipt's text: holds the SMS's first characters, line
			// breaks and "id:" included: one receipt, not a second one.
			name:        "a line break in a receipt's text",
			body:        "id:L3 sub:001 dlvrd:001 stat:DELIVRD err:000 text:Hello\nid:4821 is your code",
			contentType: "text/plain",
			want:        []wantEvent{{id: "L3", status: "DELIVERED", raw: "DELIVRD", err: "000", format: FormatSMPPReceipt}},
		},
		{
			name:        "a text: before stat: that runs onto the next line",
			body:        "id:L5 sub:001 text:Code\nid:77 stat:DELIVRD err:000",
			contentType: "text/plain",
			want:        []wantEvent{{id: "L5", status: "DELIVERED", raw: "DELIVRD", err: "000", format: FormatSMPPReceipt}},
		},
		{
			name: "receipts one per line in a JSON string, and split by CR",
			body: `["id:R1 stat:DELIVRD err:000\nid:R2 stat:UNDELIV err:001", "id:R3 stat:DELIVRD err:000\rid:R4 stat:EXPIRED err:002"]`,
			want: []wantEvent{
				{id: "R1", status: "DELIVERED", raw: "DELIVRD", err: "000", format: FormatSMPPReceipt},
				{id: "R2", status: "UNDELIVERED", raw: "UNDELIV", err: "001", format: FormatSMPPReceipt},
				{id: "R3", status: "DELIVERED", raw: "DELIVRD", err: "000", format: FormatSMPPReceipt},
				{id: "R4", status: "EXPIRED", raw: "EXPIRED", err: "002", format: FormatSMPPReceipt},
			},
		},
		{
			// A tester's report: status, carrier and the rest in the
			// envelope, only the message ID in the payload. They were
			// dropped, and a FAILED report stored as UNKNOWN.
			name: "the envelope gives every field the payload lacks",
			body: `{"eventType":"messaging.status.update","eventId":"ev-env2","status":"FAILED","carrier":"TMOBILE","errorCode":"E77","from":"ACME","to":"+14155550123","timestamp":"2024-05-06T07:00:00Z","price":"0.01","currency":"usd","payload":{"messageId":"F8"}}`,
			want: []wantEvent{{id: "F8", status: "FAILED", raw: "FAILED", carrier: "TMOBILE", err: "E77", from: "ACME", to: "+14155550123",
				price: "0.010000", currency: "USD", at: "2024-05-06T07:00:00Z"}},
		},
		{
			name: "the envelope's message_state when the payload has no status",
			body: `{"message_state":5,"payload":{"messageId":"F9"}}`,
			want: []wantEvent{{id: "F9", status: "UNDELIVERED", raw: "5"}},
		},
		{
			name: "receipt text among the reports of an array",
			body: `["id:r1 sub:001 dlvrd:001 stat:DELIVRD err:000", {"messageId":"m2","status":"SENT"}]`,
			want: []wantEvent{{id: "r1", status: "DELIVERED", raw: "DELIVRD", err: "000", format: FormatSMPPReceipt}, {id: "m2", status: "SENT", raw: "SENT"}},
		},
		{
			name: "message_state by its SMPP name",
			body: `{"receipted_message_id":"a","message_state":"REJECTED"}`,
			want: []wantEvent{{id: "a", status: "REJECTED", raw: "REJECTED", format: FormatSMPPJSON}},
		},
		{
			name: "message_state out of range",
			body: `{"receipted_message_id":"a","message_state":9}`,
			want: []wantEvent{{id: "a", raw: "9", format: FormatSMPPJSON}},
		},
		{
			name: "status wins over message_state",
			body: `{"messageId":"a","status":"SENT","message_state":2}`,
			want: []wantEvent{{id: "a", status: "SENT", raw: "SENT", format: FormatSMPPJSON}},
		},
		{
			name: "receipt in shortMessage",
			body: `{"shortMessage":"id:4f2a sub:001 dlvrd:001 submit date:2405060700 done date:2405060701 stat:UNDELIV err:012 text:Your code"}`,
			want: []wantEvent{{id: "4f2a", status: "UNDELIVERED", raw: "UNDELIV", err: "012", at: "2024-05-06T07:01:00Z", format: FormatSMPPJSON}},
		},
		{
			name: "receipt in short_message with carrier",
			body: `{"short_message":"id:99 stat:DELIVRD err:000 done date:240506070102","carrier":"VODAFONE"}`,
			want: []wantEvent{{id: "99", status: "DELIVERED", raw: "DELIVRD", err: "000", carrier: "VODAFONE", at: "2024-05-06T07:01:02Z", format: FormatSMPPJSON}},
		},
		{
			name: "receipt in receipt",
			body: `{"receipt":"id:7 stat:EXPIRED"}`,
			want: []wantEvent{{id: "7", status: "EXPIRED", raw: "EXPIRED", format: FormatSMPPJSON}},
		},
		{
			name: "JSON fields win over the receipt",
			body: `{"messageId":"json-id","status":"DELIVERED","errorCode":"0","timestamp":"2024-05-06T06:00:00Z","shortMessage":"id:rc-id stat:UNDELIV err:099 done date:2405060500"}`,
			want: []wantEvent{{id: "json-id", status: "DELIVERED", raw: "DELIVERED", err: "0", at: "2024-05-06T06:00:00Z", format: FormatSMPPJSON}},
		},
		{
			name: "receipt fills what JSON leaves out",
			body: `{"messageId":"json-id","shortMessage":"id:rc-id stat:REJECTD err:088 done date:2405060500"}`,
			want: []wantEvent{{id: "json-id", status: "REJECTED", raw: "REJECTD", err: "088", at: "2024-05-06T05:00:00Z", format: FormatSMPPJSON}},
		},
		{
			name: "a short message that is not a receipt is ignored when JSON names the message",
			body: `{"messageId":"m","status":"SENT","short_message":"hello there"}`,
			want: []wantEvent{{id: "m", status: "SENT", raw: "SENT", format: FormatSMPPJSON}},
		},
		{
			name: "receipt text body",
			body: "id:1234567890 sub:001 dlvrd:001 submit date:2405060700 done date:2405060708 stat:DELIVRD err:000 text:Hello world\x00\x00\x00",
			want: []wantEvent{{id: "1234567890", status: "DELIVERED", raw: "DELIVRD", err: "000", at: "2024-05-06T07:08:00Z", format: FormatSMPPReceipt}},
		},
		{
			name:        "text/plain receipt with only an id",
			body:        "id:abc",
			contentType: "text/plain; charset=utf-8",
			want:        []wantEvent{{id: "abc", format: FormatSMPPReceipt}},
		},
		{
			name: "receipt text with all-zero dates",
			body: "id:a1 submit date:0000000000 done date:000000000000 stat:UNDELIV err:001",
			want: []wantEvent{{id: "a1", status: "UNDELIVERED", raw: "UNDELIV", err: "001", format: FormatSMPPReceipt}},
		},
		{
			name:        "JSON labelled text/plain is still JSON",
			body:        `{"messageId":"m","status":"SENT"}`,
			contentType: "text/plain",
			want:        []wantEvent{{id: "m", status: "SENT", raw: "SENT"}},
		},
		{
			name: "padding around a JSON body",
			body: "\xEF\xBB\xBF \r\n{\"messageId\":\"m\"}\n\x00\x00",
			want: []wantEvent{{id: "m"}},
		},
		{
			name: "message ID as a number",
			body: `{"messageId":12345678901234567890123,"status":"SENT"}`,
			want: []wantEvent{{id: "12345678901234567890123", status: "SENT", raw: "SENT"}},
		},
		{
			name: "message ID as a number in exponent form",
			body: `{"messageId":1.5e3}`,
			want: []wantEvent{{id: "1500"}},
		},
		{
			name: "numeric fields as numbers",
			body: `{"messageId":"m","errorCode":0,"carrier":310260,"from":447700900000,"to":15551234567}`,
			want: []wantEvent{{id: "m", err: "0", carrier: "310260", from: "447700900000", to: "15551234567"}},
		},
		{
			name: "first non-empty message ID field wins",
			body: `{"messageId":"","smppMessageId":null,"externalId":"ext-1","receipted_message_id":"tlv"}`,
			want: []wantEvent{{id: "ext-1", format: FormatSMPPJSON}},
		},
		{
			name: "IDs are trimmed only",
			body: `{"messageId":"  0x00AbC\u0000 "}`,
			want: []wantEvent{{id: "0x00AbC"}},
		},
		{
			name: "missing status is UNKNOWN with no raw status",
			body: `{"messageId":"m"}`,
			want: []wantEvent{{id: "m"}},
		},
		{
			name: "unknown status keeps the raw value",
			body: `{"messageId":"m","status":" Teleported "}`,
			want: []wantEvent{{id: "m", raw: "Teleported"}},
		},
		{
			name: "receipt stat in a status field",
			body: `{"messageId":"m","status":"stat:UNDELIV"}`,
			want: []wantEvent{{id: "m", status: "UNDELIVERED", raw: "stat:UNDELIV"}},
		},
		{
			name: "NUL and control characters are dropped from fields",
			body: `{"messageId":"m","status":"DELIVRD\u0000","carrier":"AT\u0000T\u0007","from":"\u0000ACME\u0000","to":"+1\t555"}`,
			want: []wantEvent{{id: "m", status: "DELIVERED", raw: "DELIVRD", carrier: "ATT", from: "ACME", to: "+1 555"}},
		},
		{
			name: "invalid UTF-8 becomes U+FFFD",
			body: "{\"messageId\":\"m\",\"carrier\":\"Tel\xffcel\"}",
			want: []wantEvent{{id: "m", carrier: "Tel\uFFFDcel"}},
		},
		{
			name: "nesting within the limit",
			body: `{"messageId":"m","x":` + strings.Repeat("[", 30) + strings.Repeat("]", 30) + `}`,
			want: []wantEvent{{id: "m"}},
		},
		{
			name: "brackets inside strings do not count as nesting",
			body: `{"messageId":"m","note":"` + strings.Repeat("[{", 100) + `"}`,
			want: []wantEvent{{id: "m"}},
		},
		{
			name: "unknown fields are ignored",
			body: `{"messageId":"m","status":"SENT","region":"US","meta":{"a":[1,2,3]},"flag":true}`,
			want: []wantEvent{{id: "m", status: "SENT", raw: "SENT"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseBody(tt.body, tt.contentType, "")
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d events, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if g, w := parseSummary(got[i]), tt.want[i].String(); g != w {
					t.Errorf("event %d\n got %s\nwant %s", i, g, w)
				}
				if !got[i].ReceivedAt.Equal(parseReceivedAt) {
					t.Errorf("event %d: ReceivedAt = %v", i, got[i].ReceivedAt)
				}
			}
		})
	}
}

func TestParseMessageStates(t *testing.T) {
	want := map[int]Status{
		1: StatusSent, 2: StatusDelivered, 3: StatusExpired, 4: StatusDeleted,
		5: StatusUndelivered, 6: StatusSent, 7: StatusUnknown, 8: StatusRejected,
	}
	for state, status := range want {
		body := fmt.Sprintf(`{"receipted_message_id":"abc","message_state":%d}`, state)
		got, err := parseBody(body, "", "")
		if err != nil {
			t.Fatalf("message_state %d: %v", state, err)
		}
		if got[0].Status != status || got[0].RawStatus != fmt.Sprint(state) || got[0].Format != FormatSMPPJSON {
			t.Errorf("message_state %d: got %s %q %s, want %s", state, got[0].Status, got[0].RawStatus, got[0].Format, status)
		}
	}
}

func TestParsePrice(t *testing.T) {
	tests := []struct {
		price string // the JSON value
		want  string // Micros.String(), "-" for none, "error" for a refusal
	}{
		{`0.0075`, "0.007500"},
		{`"0.0075"`, "0.007500"},
		{`" 0.0075 "`, "0.007500"},
		{`7.5e-3`, "0.007500"},
		{`"7.5E-3"`, "0.007500"},
		{`12`, "12.000000"},
		{`0`, "0.000000"},
		{`-0.5`, "-0.500000"},
		{`0.00000123`, "0.000001"},
		// Rounded half away from zero, as PostgreSQL's numeric: cut off,
		// every total ran low.
		{`0.0089999`, "0.009000"},
		{`"0.0000019"`, "0.000002"},
		{`0.9999999`, "1.000000"},
		{`0.1234565`, "0.123457"},
		{`0.12345649`, "0.123456"},
		{`-0.0000015`, "-0.000002"},
		{`"0.12345678x"`, "-"}, // the digits past the sixth are checked too
		{`"999999999999.9999995"`, "-"},
		{`"999999999999.9999994"`, "999999999999.999999"},
		{`null`, "-"},
		{`""`, "-"},
		{`"abc"`, "-"}, // unreadable: no price, the raw keeps it
		// Written as people write prices: dropped, they left the rate
		// card's estimate in the carrier's cost.
		{`"$0.01"`, "0.010000"},
		{`"0.0500 USD"`, "0.050000"},
		{`"usd 0.05"`, "0.050000"},
		{`"0.05USD"`, "0.050000"},
		{`"1,5"`, "1.500000"},
		{`"0,050"`, "0.050000"},
		{`"$ 0,05"`, "0.050000"},
		{`"1,000"`, "-"}, // a thousand, or one?
		// Grouped thousands, where they cannot be read two ways: a high
		// price in VND or IDR was dropped for the rate card's estimate.
		{`"1,000.5"`, "1000.500000"},
		{`"1,234,567.89"`, "1234567.890000"},
		{`"1,234,567"`, "1234567.000000"},
		{`"1 234.50"`, "1234.500000"},
		{`"1'234.50"`, "1234.500000"},
		{`"$1,234.50"`, "1234.500000"},
		{`"USD 1,234.50"`, "1234.500000"},
		{`"1,23,456.50"`, "123456.500000"}, // India's lakh grouping
		{`"12,34,56,789"`, "123456789.000000"},
		{`"0.050,0"`, "-"}, // no thousands start with 0
		{`"0,234.50"`, "-"},
		{`"01,234.50"`, "-"},
		{`"123,45,678"`, "-"},
		{`"1,234,56"`, "-"},
		{`"1,2345.50"`, "-"},
		{`"1.2.3"`, "-"},
		{`"US$0.05"`, "0.050000"},
		{`"0.05 US$"`, "0.050000"},
		{`"-$0.05"`, "-0.050000"},
		{`"$-0.05"`, "-0.050000"},
		{`"-0.05 USD"`, "-0.050000"},
		{`"€0.05"`, "-"},  // euros, in a report in US dollars
		{`"A$0.05"`, "-"}, // Australian dollars, likewise
		{`"¥5"`, "-"},     // yen or yuan, not dollars
		{`"0.05 EUR"`, "-"},
		{`"N/A"`, "-"},
		{`1e300`, "-"},
		{`{"amount":1}`, "-"},
		{`true`, "-"},
	}
	for _, tt := range tests {
		got, err := parseBody(`{"messageId":"m","currency":"usd","price":`+tt.price+`}`, "", "")
		switch {
		case err != nil:
			t.Errorf("price %s: %v", tt.price, err)
		case tt.want == "-" && got[0].Price != nil:
			t.Errorf("price %s: got %v, want none", tt.price, got[0].Price)
		case tt.want != "-" && (got[0].Price == nil || got[0].Price.String() != tt.want):
			t.Errorf("price %s: got %v, want %s", tt.price, got[0].Price, tt.want)
		case got[0].Currency != "USD":
			t.Errorf("price %s: currency %q, want USD", tt.price, got[0].Currency)
		}
	}
}

func TestParseOccurredAt(t *testing.T) {
	tests := []struct {
		fields string
		want   string // RFC 3339; "" for received
	}{
		{`"timestamp":"2024-05-06T09:08:09+02:00"`, "2024-05-06T07:08:09Z"},
		{`"timestamp":"2024-05-06T07:08:09.123456789Z"`, "2024-05-06T07:08:09.123456Z"},
		{`"timestamp":"2024-05-06 07:08:09"`, "2024-05-06T07:08:09Z"},
		{`"timestamp":"2024-05-06t07:08:09z"`, "2024-05-06T07:08:09Z"}, // RFC 3339 §5.6 allows lower case
		{`"timestamp":"2024-05-06t07:08:09.5+02:00"`, "2024-05-06T05:08:09.5Z"},
		{`"timestamp":1714979289`, "2024-05-06T07:08:09Z"},
		{`"timestamp":1714979289123`, "2024-05-06T07:08:09.123Z"},
		{`"timestamp":"1714979289"`, "2024-05-06T07:08:09Z"},
		{`"timestamp":"1714979289123"`, "2024-05-06T07:08:09.123Z"},
		{`"timestamp":1714979289.5`, "2024-05-06T07:08:09.5Z"},
		// Exact, not through a float (.122999 seconds).
		{`"timestamp":"1714979289.123"`, "2024-05-06T07:08:09.123Z"},
		{`"timestamp":1714979289.001`, "2024-05-06T07:08:09.001Z"},
		{`"timestamp":1714979289.1234567891`, "2024-05-06T07:08:09.123456Z"}, // kept to the µs, as stored
		{`"timestamp":"1714979289123.5"`, "2024-05-06T07:08:09.1235Z"},
		{`"timestamp":1714979289123456.7`, "2024-05-06T07:08:09.123456Z"},
		{`"timestamp":1.714979289e9`, "2024-05-06T07:08:09Z"},
		// As Java writes a double: exact too.
		{`"timestamp":1.714979289123E9`, "2024-05-06T07:08:09.123Z"},
		{`"timestamp":"1714979289123e-3"`, "2024-05-06T07:08:09.123Z"},
		{`"timestamp":1714979289123456`, "2024-05-06T07:08:09.123456Z"},
		// One instant, however written, is one stored time: cut to the
		// microsecond, never rounded up into the next second.
		{`"timestamp":"2024-05-06T07:08:09.999999999Z"`, "2024-05-06T07:08:09.999999Z"},
		{`"timestamp":1714979289.999999999`, "2024-05-06T07:08:09.999999Z"},
		{`"timestamp":1714979289999999999`, "2024-05-06T07:08:09.999999Z"},
		{`"timestamp":"1714979289999999999"`, "2024-05-06T07:08:09.999999Z"},
		{`"deliveryTime":"2024-05-06T07:08:09Z"`, "2024-05-06T07:08:09Z"},
		{`"timestamp":"2024-05-06T07:00:00Z","deliveryTime":"2024-05-06T08:00:00Z"`, "2024-05-06T07:00:00Z"},
		{`"timestamp":"yesterday","deliveryTime":"2024-05-06T08:00:00Z"`, "2024-05-06T08:00:00Z"},
		{`"timestamp":"yesterday"`, ""},
		{`"timestamp":0`, ""},
		{`"timestamp":-5`, ""},
		{`"timestamp":"0001-01-01T00:00:00Z"`, ""},
		{`"timestamp":"1970-01-01T00:00:00Z"`, ""},
		{`"timestamp":2024`, ""},
		{`"timestamp":1e30`, ""},
		{`"timestamp":null`, ""},
		{`"timestamp":"2999-01-01T00:00:00Z"`, ""},
		{`"timestamp":99999999999`, ""}, // seconds, the year 5138
	}
	for _, tt := range tests {
		got, err := parseBody(`{"messageId":"m",`+tt.fields+`}`, "", "")
		if err != nil {
			t.Errorf("%s: %v", tt.fields, err)
			continue
		}
		want := parseReceivedAt
		if tt.want != "" {
			want, _ = time.Parse(time.RFC3339Nano, tt.want)
		}
		if at := got[0].OccurredAt; !at.Equal(want) || at.Location() != time.UTC {
			t.Errorf("%s: OccurredAt = %v, want %v", tt.fields, at, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name        string
		body        string
		contentType string
		header      string
		index       int
		field       string // "" for the body as a whole
		is          error  // a sentinel the error must wrap, if any
		reason      string // a part of the reason
	}{
		{name: "empty", index: bodyLevel, body: "", is: ErrEmptyBody},
		{name: "whitespace", index: bodyLevel, body: " \r\n\t ", is: ErrEmptyBody},
		{name: "NULs", index: bodyLevel, body: "\x00\x00\n", is: ErrEmptyBody},
		{name: "null", index: bodyLevel, body: "null", reason: "JSON null"},
		{name: "number", index: bodyLevel, body: "42", reason: "JSON number"},
		{name: "string that is no receipt", body: `"hello"`, reason: "not an SMPP delivery receipt"},
		{name: "boolean", index: bodyLevel, body: "true", reason: "JSON boolean"},
		{name: "prose", index: bodyLevel, body: "hello: world", reason: "neither JSON nor"},
		{name: "empty object", body: "{}", field: "messageId", is: ErrNoMessageID},
		{name: "empty array", index: bodyLevel, body: "[]", reason: "no reports"},
		{name: "empty events", index: bodyLevel, body: `{"events":[]}`, field: "events", reason: "no reports"},
		{name: "events not an array", index: bodyLevel, body: `{"events":{"messageId":"m"}}`, field: "events", reason: "JSON object"},
		{name: "events null", index: bodyLevel, body: `{"events":null}`, field: "events"},
		{name: "events twice", index: bodyLevel, body: `{"events":[{"messageId":"a"},{"messageId":"b"}],"events":[{"messageId":"c"}]}`, field: "events", reason: "more than once"},
		{name: "payload twice", body: `{"eventId":"e","payload":{"messageId":"a"},"payload":{"messageId":"b"}}`, field: "payload", reason: "more than once"},
		{name: "payload twice in a batch", body: `[{"messageId":"x"},{"payload":{"messageId":"a"},"payload":null}]`, index: 1, field: "payload", reason: "more than once"},
		{name: "invalid JSON", index: bodyLevel, body: `{"messageId":`, reason: "invalid JSON"},
		{name: "trailing garbage", index: bodyLevel, body: `{"messageId":"m"} x`, reason: "invalid JSON"},
		{name: "array of numbers", body: `[1]`, reason: "JSON number"},
		{name: "null report in a batch", body: `[{"messageId":"m"},null]`, index: 1, reason: "JSON null"},
		{name: "nested batch", body: `[[{"messageId":"m"}]]`, reason: "JSON array"},
		{name: "second report has no ID", body: `[{"messageId":"a"},{"status":"SENT"}]`, index: 1, field: "messageId", is: ErrNoMessageID},
		{name: "id is an event ID, not a message ID", body: `{"id":"m","status":"SENT"}`, field: "messageId", is: ErrNoMessageID},
		{name: "a zero message ID alone", body: `{"messageId":0,"status":"SENT"}`, field: "messageId", is: ErrNoMessageID, reason: "is 0, which names no message"},
		{name: "a receipt's id:0", body: "id:00 stat:DELIVRD", contentType: "text/plain", field: "id", is: ErrNoMessageID, reason: "is 0, which names no message"},
		{name: "empty message ID", body: `{"messageId":"  "}`, field: "messageId", is: ErrNoMessageID},
		{name: "message ID with a space", body: `{"messageId":"a b"}`, field: "messageId", is: ErrNoMessageID},
		{name: "message ID with a NUL inside", body: `{"messageId":"a\u0000b"}`, field: "messageId", is: ErrNoMessageID},
		{name: "message ID too long", body: `{"messageId":"` + strings.Repeat("x", 129) + `"}`, field: "messageId", is: ErrNoMessageID},
		{name: "message ID object", body: `{"messageId":{"value":"m"}}`, field: "messageId", reason: "JSON object"},
		{name: "message ID array", body: `{"messageId":["m"]}`, field: "messageId", reason: "JSON array"},
		{name: "message ID boolean", body: `{"messageId":true}`, field: "messageId", reason: "JSON boolean"},
		{name: "envelope field", body: `{"payload":{"messageId":false}}`, field: "payload.messageId", reason: "JSON boolean"},
		{name: "envelope without ID", body: `{"eventType":"messaging.status.update","payload":{"status":"SENT"}}`, field: "payload.messageId", is: ErrNoMessageID},
		{name: "message ID not UTF-8", body: "{\"messageId\":\"m\xff\"}", field: "messageId", is: ErrNoMessageID, reason: "not UTF-8"},
		{name: "receipt ID not UTF-8", body: "id:m\xff stat:DELIVRD", field: "id", is: ErrNoMessageID, reason: "not UTF-8"},
		{name: "receipt in JSON without an id", body: `{"shortMessage":"stat:DELIVRD err:000"}`, field: "shortMessage", is: ErrNoMessageID},
		{name: "receipt in JSON with a malformed id", body: `{"payload":{"short_message":"id:\u0001 stat:DELIVRD"}}`, field: "payload.short_message", is: ErrNoMessageID},
		{name: "receipt text without an id", body: "sub:001 dlvrd:001 stat:DELIVRD err:000", field: "id", is: ErrNoMessageID},
		{name: "receipt text with an empty id", body: "id: sub:001 stat:DELIVRD", field: "id", is: ErrNoMessageID},
		{name: "text/plain without an id", body: "hello", contentType: "text/plain", field: "id", is: ErrNoMessageID},
		{name: "payload not an object, no message ID beside it", body: `{"payload":"messageId=m"}`, field: "messageId", is: ErrNoMessageID},
		{name: "report a string that is no receipt", index: 1, body: `[{"messageId":"a"},"hello world"]`, reason: "not an SMPP delivery receipt"},
		// Several receipts in one report: its index, not the receipt's.
		{name: "second receipt of a string, malformed", index: 0, body: "[\"id:r1 stat:DELIVRD\\nid:m\xff stat:DELIVRD\"]", field: "id", is: ErrNoMessageID},
		{name: "second receipt of a text body, malformed", index: 1, body: "id:r1 stat:DELIVRD\nid:m\xff stat:DELIVRD", field: "id", is: ErrNoMessageID},
		// One report, one receipt: the second of two was acknowledged and
		// stored nowhere.
		{name: "two receipts in a report's receipt field", body: `{"shortMessage":"id:a stat:DELIVRD text:\u0000id:b stat:UNDELIV text:\u0000"}`, field: "shortMessage", reason: "holds 2 receipts"},
		{name: "two receipts in a payload's receipt field", body: `{"payload":{"receipt":"id:a stat:DELIVRD\nid:b stat:UNDELIV"}}`, field: "payload.receipt", reason: "holds 2 receipts"},
		{name: "receipt string without an id", index: 1, body: `[{"messageId":"a"},"sub:001 stat:DELIVRD err:000"]`, field: "id", is: ErrNoMessageID},
		{name: "report a number", index: 0, body: `[7]`, reason: "JSON number"},
		{name: "10000 brackets", index: bodyLevel, body: strings.Repeat("[", 10000), reason: "nested deeper than 128"},
		{name: "10000 objects", index: bodyLevel, body: strings.Repeat(`{"a":`, 10000), reason: "nested deeper than 128"},
		{name: "33 levels", index: 0, body: `{"messageId":"m","x":` + strings.Repeat("[", 32) + strings.Repeat("]", 32) + `}`, reason: "nested deeper than 32"},
		// A report's depth is its own, wherever it sits.
		{name: "33 levels in a batch", index: 1, body: `[{"messageId":"a"},{"messageId":"m","x":` + strings.Repeat("[", 32) + strings.Repeat("]", 32) + `}]`, reason: "nested deeper than 32"},
		{name: "33 levels in events", index: 1, body: `{"events":[{"messageId":"a"},{"messageId":"m","x":` + strings.Repeat("[", 32) + strings.Repeat("]", 32) + `}]}`, reason: "nested deeper than 32"},
		{name: "129 levels in all", index: bodyLevel, body: `{"events":[{"messageId":"m","x":` + strings.Repeat("[", 126) + strings.Repeat("]", 126) + `}]}`, reason: "nested deeper than 128"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseBody(tt.body, tt.contentType, tt.header)
			if err == nil {
				t.Fatalf("Parse succeeded with %d events, want an error", len(got))
			}
			if got != nil {
				t.Errorf("Parse returned events with its error")
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not a *ParseError", err, err)
			}
			if pe.Index != tt.index || pe.Field != tt.field {
				t.Errorf("error %q: index %d field %q, want %d %q", err, pe.Index, pe.Field, tt.index, tt.field)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %q does not wrap %v", err, tt.is)
			}
			if tt.is == nil && pe.Err != nil {
				t.Errorf("error %q wraps %v unexpectedly", err, pe.Err)
			}
			if !strings.Contains(pe.Reason, tt.reason) {
				t.Errorf("reason %q does not mention %q", pe.Reason, tt.reason)
			}
		})
	}
}

func TestParseLongestFields(t *testing.T) {
	long := strings.Repeat("é", maxFieldLen) // characters, not bytes
	got, err := parseBody(`{"messageId":"m","carrier":"`+long+`","from":"`+long+`","to":"`+long+`","errorCode":"`+long+`"}`, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if e := got[0]; e.CarrierCode != long || e.SenderID != long || e.Recipient != long || e.ErrorCode != long {
		t.Errorf("fields of %d characters changed: %+v", maxFieldLen, e)
	}
}

func TestParseLongestIDs(t *testing.T) {
	id := strings.Repeat("é", maxMessageIDLen) // characters, not bytes
	eid := strings.Repeat("e", maxEventIDLen)
	got, err := parseBody(`{"messageId":"`+id+`","eventId":"`+eid+`"}`, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if got[0].MessageID != id || got[0].EventID != eid {
		t.Errorf("IDs changed: %q %q", got[0].MessageID, got[0].EventID)
	}
}

func TestParseRaw(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string
	}{
		{"single report, trimmed of padding", " \n{\"messageId\":\"m\",  \"x\": 1.50}\n\x00", []string{`{"messageId":"m",  "x": 1.50}`}},
		{"envelope whole", `{"eventType":"t","payload":{"messageId":"m"}}`, []string{`{"eventType":"t","payload":{"messageId":"m"}}`}},
		{"array elements", `[{"messageId":"a"} ,	{ "messageId" : "b" }]`, []string{`{"messageId":"a"}`, `{ "messageId" : "b" }`}},
		{"events elements", `{"events":[{"messageId":"a","n":1e2}]}`, []string{`{"messageId":"a","n":1e2}`}},
		{"escapes kept", `{"messageId":"m","carrier":"A\u0000\"T"}`, []string{`{"messageId":"m","carrier":"A\u0000\"T"}`}},
		{"invalid UTF-8 replaced", "{\"messageId\":\"m\",\"x\":\"\xff\"}", []string{"{\"messageId\":\"m\",\"x\":\"\uFFFD\"}"}},
		{"receipt text as a JSON string, NULs escaped", "id:1 stat:DELIVRD text:<b>&\x00\n", []string{`"id:1 stat:DELIVRD text:<b>&\u0000\n"`}},
		{"receipt strings of an array as sent", `["id:1 stat:DELIVRD\u0000", "id:2\tstat:DELIVRD"]`, []string{`"id:1 stat:DELIVRD\u0000"`, `"id:2\tstat:DELIVRD"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseBody(tt.body, "", "")
			if err != nil {
				t.Fatal(err)
			}
			for i, e := range got {
				if string(e.Raw) != tt.want[i] {
					t.Errorf("Raw[%d] = %s, want %s", i, e.Raw, tt.want[i])
				}
				if !json.Valid(e.Raw) || !utf8.Valid(e.Raw) {
					t.Errorf("Raw[%d] is not valid UTF-8 JSON: %s", i, e.Raw)
				}
			}
		})
	}
}

// Parse must not keep the caller's buffer: the HTTP layer may reuse it.
func TestParseDoesNotAliasBody(t *testing.T) {
	body := []byte(`{"messageId":"m","status":"SENT"}`)
	got, err := Parse(Request{Body: body, ReceivedAt: parseReceivedAt})
	if err != nil {
		t.Fatal(err)
	}
	for i := range body {
		body[i] = 'x'
	}
	if string(got[0].Raw) != `{"messageId":"m","status":"SENT"}` || got[0].MessageID != "m" {
		t.Errorf("event changed with the body: %s %q", got[0].Raw, got[0].MessageID)
	}
}

func BenchmarkParse(b *testing.B) {
	bodies := map[string]string{
		"envelope":    `{"eventType":"messaging.status.update","eventId":"evt-123","payload":{"messageId":"SIM-1","status":"DELIVERED","carrier":"VERIZON","from":"SENDER7","to":"+15551234567","timestamp":"2024-05-06T07:00:00Z","price":0.0075,"currency":"USD"}}`,
		"no event ID": `{"messageId":"SIM-1","status":"DELIVERED","carrier":"VERIZON","from":"SENDER7","to":"+15551234567","timestamp":"2024-05-06T07:00:00Z"}`,
		"receipt":     "id:1234567890 sub:001 dlvrd:001 submit date:2405060700 done date:2405060708 stat:DELIVRD err:000 text:Hello world",
		"batch of 50": "[" + strings.TrimSuffix(strings.Repeat(`{"messageId":"m","eventId":"e","status":"SENT","carrier":"ATT"},`, 50), ",") + "]",
	}
	for name, body := range bodies {
		b.Run(name, func(b *testing.B) {
			req := Request{Body: []byte(body), ReceivedAt: parseReceivedAt}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A receipt sent alone and the same receipt inside an array are one report:
// a gateway that batches its retries must not store it twice.
// Blanks, line ends and NULs around a receipt do not make it another one:
// a text body's trailing newline or an SMSC's NUL padding made the same
// receipt, redelivered in an array, a second event.
func TestParseReceiptStringEventID(t *testing.T) {
	text := "id:r1 sub:001 dlvrd:001 stat:DELIVRD err:000"
	for _, tail := range []string{"", "\n", "\r\n", " ", "\u0000", "\u0000\u0000"} {
		alone, err := parseBody(text+tail, "text/plain", "")
		if err != nil {
			t.Fatal(err)
		}
		inArray, _ := json.Marshal(text + tail)
		batched, err := parseBody(`[{"messageId":"m"},`+string(inArray)+`]`, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if alone[0].EventID != batched[1].EventID {
			t.Errorf("tail %q: event IDs differ: alone %s, in an array %s", tail, alone[0].EventID, batched[1].EventID)
		}
		// In SMPP JSON, the receipt padded is the same report too.
		field, _ := json.Marshal(text + tail)
		smpp, err := parseBody(`{"short_message":`+string(field)+`,"carrier":"VERIZON"}`, "", "")
		if err != nil {
			t.Fatal(err)
		}
		plain, _ := parseBody(`{"short_message":"`+text+`","carrier":"VERIZON"}`, "", "")
		if smpp[0].EventID != plain[0].EventID {
			t.Errorf("tail %q: SMPP JSON event IDs differ: %s, unpadded %s", tail, smpp[0].EventID, plain[0].EventID)
		}
	}
}

// An event ID the service cannot use (too long, with a space, not UTF-8,
// in the body or a header) does not refuse the report: only the message ID
// may (design.md). The content names it instead, so an identical
// redelivery still dedupes.
func TestParseUnusableEventIDs(t *testing.T) {
	for _, tt := range []struct{ name, body, header string }{
		{"too long", `{"messageId":"m","eventId":"` + strings.Repeat("e", 201) + `"}`, ""},
		{"with a space", `{"messageId":"m","id":"e 1"}`, ""},
		{"not UTF-8", "{\"messageId\":\"m\",\"eventId\":\"e\xfe\"}", ""},
		{"with U+FFFD", `{"messageId":"m","eventId":"e\ufffd"}`, ""},
		{"header too long", `{"messageId":"m"}`, strings.Repeat("h", 201)},
		{"batch header too long with its index", `[{"messageId":"a"},{"messageId":"b"}]`, strings.Repeat("h", 199)},
	} {
		first, err := parseBody(tt.body, "", tt.header)
		if err != nil {
			t.Errorf("%s: %v, want the report kept", tt.name, err)
			continue
		}
		again, _ := parseBody(tt.body, "", tt.header)
		for i, e := range first {
			if !strings.HasPrefix(e.EventID, "sha256:") || again[i].EventID != e.EventID {
				t.Errorf("%s: event ID %q then %q, want the same content hash", tt.name, e.EventID, again[i].EventID)
			}
		}
	}
}

// A report nested to the limit is taken alone, in an array and in an
// events object: the wrapper's levels were counted against it, and a
// redelivery in another wrapper refused its whole batch.
func TestParseDepthIsPerReport(t *testing.T) {
	report := `{"messageId":"deep","status":"SENT","x":` + strings.Repeat("[", 31) + strings.Repeat("]", 31) + `}`
	for _, body := range []string{report, "[" + report + "]", `{"events":[` + report + `]}`} {
		got, err := parseBody(body, "", "")
		if err != nil || len(got) != 1 || got[0].MessageID != "deep" {
			t.Errorf("%.40s...: %v, %v; want the report", body, got, err)
		}
	}
}

// A price that names its currency fills a report's missing currency field.
func TestPriceNamesItsCurrency(t *testing.T) {
	for _, tt := range []struct{ price, price2, currency string }{
		{`"€0,05"`, "0.050000", "EUR"},
		{`"0.05 €"`, "0.050000", "EUR"},
		{`"£0.04"`, "0.040000", "GBP"},
		{`"GBP 0.04"`, "0.040000", "GBP"},
		{`"0.9 inr"`, "0.900000", "INR"},
		{`"$0.01"`, "0.010000", ""}, // which dollar?
		{`"-€0.05"`, "-0.050000", "EUR"},
		{`"C$ 0.02"`, "0.020000", "CAD"},
		{`"0.02 R$"`, "0.020000", "BRL"},
		{`0.01`, "0.010000", ""},
	} {
		got, err := parseBody(`{"messageId":"m","price":`+tt.price+`}`, "", "")
		if err != nil {
			t.Fatalf("price %s: %v", tt.price, err)
		}
		if got[0].Price == nil || got[0].Price.String() != tt.price2 || got[0].Currency != tt.currency {
			t.Errorf("price %s: got %v %q, want %s %q", tt.price, got[0].Price, got[0].Currency, tt.price2, tt.currency)
		}
	}
}

// A currency field written as a sign names the currency that sign does:
// "€" and "EUR" made two rows of one currency in every cost.
func TestCurrencyWrittenAsASign(t *testing.T) {
	for in, want := range map[string]string{"€": "EUR", " £ ": "GBP", "₹": "INR", "US$": "USD", "euro": "EUR", "usd": "USD", "$": "$", "XYZ": "XYZ"} {
		got, err := parseBody(`{"messageId":"m","price":"0.05","currency":"`+in+`"}`, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if got[0].Currency != want || got[0].Price == nil {
			t.Errorf("currency %q: got %q, price %v; want %q", in, got[0].Currency, got[0].Price, want)
		}
	}
	got, err := parseBody(`{"messageId":"m","price":"€0.05","currency":"€"}`, "", "")
	if err != nil || got[0].Price == nil || got[0].Currency != "EUR" {
		t.Errorf("€0.05 in €: %v %+v", err, got)
	}
}

// A payload's price that cannot be read falls back on the envelope's, as
// its time does, unless the envelope's is in another currency.
func TestPriceFromTheEnvelope(t *testing.T) {
	got, err := parseBody(`{"eventId":"e","price":"0.05","currency":"USD","payload":{"messageId":"m","price":"N/A"}}`, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Price == nil || got[0].Price.String() != "0.050000" || got[0].Currency != "USD" {
		t.Errorf("got %v %q, want 0.050000 USD", got[0].Price, got[0].Currency)
	}
	got, err = parseBody(`{"price":"0.03","currency":"GBP","payload":{"messageId":"m","price":"oops","currency":"EUR"}}`, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Price != nil || got[0].Currency != "EUR" {
		t.Errorf("got %v %q: pounds counted as euros", got[0].Price, got[0].Currency)
	}
}

// A report that names its message keeps its receipt text whole, however
// many receipts it seems to hold: an SMS text like a receipt refused it.
func TestReceiptTextOfAReportThatNamesItsMessage(t *testing.T) {
	got, err := parseBody(`{"messageId":"RR22","status":"DELIVERED","shortMessage":"id:RR22 stat:DELIVRD text:Hi\nid:ABC stat:x"}`, "", "")
	if err != nil || len(got) != 1 || got[0].MessageID != "RR22" || got[0].Status != StatusDelivered {
		t.Errorf("got %+v, %v", got, err)
	}
}

// A sign several currencies share fits a report in any of them, and no other.
func TestPriceWithASharedSign(t *testing.T) {
	for _, tt := range []struct {
		price, currency string
		want            string // "-" for no price
	}{
		{`"$0.05"`, "CAD", "0.050000"},
		{`"$0.05"`, "EUR", "-"},
		{`"¥5"`, "JPY", "5.000000"},
		{`"¥5"`, "USD", "-"},
		{`"$0.05 USD"`, "", "0.050000"},
		{`"$0.05"`, "$", "0.050000"}, // the same sign in both
		{`"¥3"`, "¥", "3.000000"},
		// As en-US formatters write other currencies, and local words:
		// each was dropped and counted at the USD estimate.
		{`"CA$0.05"`, "CAD", "0.050000"},
		{`"AU$0.05"`, "AUD", "0.050000"},
		{`"MX$0.60"`, "MXN", "0.600000"},
		{`"₩50"`, "KRW", "50.000000"},
		{`"₪0.20"`, "ILS", "0.200000"},
		{`"₱1.00"`, "PHP", "1.000000"},
		{`"CN¥0.30"`, "CNY", "0.300000"},
		{`"JP¥5"`, "JPY", "5.000000"},
		{`"₺0,50"`, "TRY", "0.500000"},
		{`"zł 0,50"`, "PLN", "0.500000"},
		{`"0,50 zł"`, "PLN", "0.500000"},
		{`"kr 0,50"`, "SEK", "0.500000"},
		{`"kr 0,50"`, "NOK", "0.500000"},
		{`"0,50 kr."`, "DKK", "0.500000"},
		{`"kr 0,50"`, "EUR", "-"},
		{`"Rs 0.50"`, "INR", "0.500000"},
		{`"Rs. 0.50"`, "PKR", "0.500000"},
		{`"RM0.10"`, "MYR", "0.100000"},
		{`"Fr. 0.05"`, "CHF", "0.050000"},
		{`"R 0.50"`, "ZAR", "0.500000"},
		{`"R$0.50"`, "BRL", "0.500000"},
		{`"₩50"`, "USD", "-"},
		{`"0.05 EUR"`, "EUR", "0.050000"}, // not the rand's R
		{`"1.234,50 €"`, "EUR", "1234.500000"},
		{`"1 234,50"`, "EUR", "1234.500000"},
		{`"1.234.567,89"`, "EUR", "1234567.890000"},
		{`"CHF 1'234.50"`, "CHF", "1234.500000"},
		{`"£1,234.50"`, "GBP", "1234.500000"},
	} {
		got, err := parseBody(`{"messageId":"m","price":`+tt.price+`,"currency":"`+tt.currency+`"}`, "", "")
		if err != nil {
			t.Fatal(err)
		}
		switch p := got[0].Price; {
		case tt.want == "-" && p != nil, tt.want != "-" && (p == nil || p.String() != tt.want):
			t.Errorf("%s in %q: got %v, want %s", tt.price, tt.currency, p, tt.want)
		}
	}
}
