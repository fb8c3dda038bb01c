package domain

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// parseFuzzSeeds are the bodies that once needed care; the fuzzer starts
// from them.
var parseFuzzSeeds = []string{
	`{"eventType":"messaging.status.update","eventId":"e1","payload":{"messageId":"SIM-1","status":"DELIVERED","errorCode":null,"carrier":"ATT","from":"ACME","to":"+15551234567","timestamp":"2024-05-06T07:00:00Z","price":"0.0075","currency":"usd"}}`,
	`[{"messageId":"a","status":"SENT"},{"smppMessageId":"b","deliveryStatus":"DELIVRD"}]`,
	`{"events":[{"receipted_message_id":"ff","message_state":2,"network_error_code":"030001"}]}`,
	`{"shortMessage":"id:1 sub:001 dlvrd:001 submit date:2405060700 done date:2405060708 stat:DELIVRD err:000 text:Hi","messageId":"m"}`,
	`{"payload":{"short_message":"id:\u0000 stat:DELIVRD"}}`,
	`{"messageId":1.5e3,"timestamp":1714979289123,"price":7.5e-3}`,
	`{"messageId":"a\u0000","carrier":"\u0000\u0007x","id":" e "}`,
	"{\"messageId\":\"m\",\"carrier\":\"\xff\xfe\"}",
	"\xEF\xBB\xBF {\"messageId\":\"m\"}\x00\x00",
	"id:0123456789 sub:001 dlvrd:001 submit date:2405060700 done date:2405060708 stat:DELIVRD err:000 text:Hello\x00\x00",
	"ID:1 Submit Date:000000000000 DONE DATE:240506070809508+ Text: STAT:UNDELIV err:000 mcc:310 text:x",
	"id:a submitdate:20240506070809 donedate:2405060708 stat:REJECTD err:001 vendor:x text:id: stat: err:",
	"stat:DELIVRD err:000",
	"id:\xff\xfe stat:DELIVRD",
	strings.Repeat("[", 10000),
	strings.Repeat(`{"a":`, 40),
	``, ` `, `null`, `{}`, `[]`, `{"events":[]}`, `42`, `"x"`, `true`,
	`{"messageId":{}}`, `{"messageId":[]}`, `{"messageId":false}`, `{"payload":"x"}`,
	`[null]`, `[[]]`, `{"messageId":"m"} trailing`,
}

func FuzzParse(f *testing.F) {
	for _, s := range parseFuzzSeeds {
		f.Add([]byte(s), "", "")
	}
	f.Add([]byte("id:x"), "text/plain", "hdr")
	f.Add([]byte(`[{"messageId":"a"},{"messageId":"b"}]`), "application/json", "webhook-1")

	f.Fuzz(func(t *testing.T, body []byte, contentType, header string) {
		req := Request{Body: body, ContentType: contentType, EventIDHeader: header, ReceivedAt: parseReceivedAt}
		events, err := Parse(req)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not a *ParseError", err, err)
			}
			if events != nil {
				t.Fatalf("events returned with error %v", err)
			}
			return
		}
		if len(events) == 0 {
			t.Fatal("no events and no error")
		}
		for i, e := range events {
			if e.MessageID == "" || utf8.RuneCountInString(e.MessageID) > maxMessageIDLen {
				t.Errorf("event %d: MessageID %q", i, e.MessageID)
			}
			if e.EventID == "" || utf8.RuneCountInString(e.EventID) > maxEventIDLen {
				t.Errorf("event %d: EventID %q", i, e.EventID)
			}
			if strings.ContainsFunc(e.MessageID+e.EventID, func(r rune) bool { return r <= ' ' }) {
				t.Errorf("event %d: IDs with spaces or control characters: %q %q", i, e.MessageID, e.EventID)
			}
			if !e.Status.Valid() {
				t.Errorf("event %d: Status %q", i, e.Status)
			}
			for _, s := range []string{e.RawStatus, e.CarrierCode, e.ErrorCode, e.SenderID, e.Recipient, e.Currency} {
				if utf8.RuneCountInString(s) > maxFieldLen {
					t.Errorf("event %d: field %q longer than %d characters", i, s, maxFieldLen)
				}
			}
			for _, s := range []string{e.MessageID, e.EventID, e.RawStatus, e.CarrierCode, e.ErrorCode, e.SenderID, e.Recipient, e.Currency} {
				if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) || s != strings.TrimSpace(s) {
					t.Errorf("event %d: field %q is not normalized", i, s)
				}
			}
			for _, s := range []string{e.RawStatus, e.CarrierCode, e.ErrorCode, e.SenderID, e.Recipient, e.Currency} {
				if strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }) {
					t.Errorf("event %d: field %q is not normalized", i, s)
				}
			}
			if !json.Valid(e.Raw) || !utf8.Valid(e.Raw) {
				t.Errorf("event %d: Raw is not valid UTF-8 JSON: %q", i, e.Raw)
			}
			if !e.ReceivedAt.Equal(parseReceivedAt) || e.OccurredAt.IsZero() {
				t.Errorf("event %d: ReceivedAt %v OccurredAt %v", i, e.ReceivedAt, e.OccurredAt)
			}
			switch e.Format {
			case FormatJSON, FormatSMPPJSON, FormatSMPPReceipt:
			default:
				t.Errorf("event %d: Format %q", i, e.Format)
			}
		}

		// Event IDs must not depend on when a report arrived, or a
		// redelivery would be stored twice.
		req.ReceivedAt = parseReceivedAt.Add(1e9)
		again, err := Parse(req)
		if err != nil || len(again) != len(events) {
			t.Fatalf("second parse: %d events, %v", len(again), err)
		}
		for i := range again {
			if again[i].EventID != events[i].EventID || again[i].MessageID != events[i].MessageID {
				t.Errorf("event %d: key changed between parses: %v then %v", i, events[i].Key(), again[i].Key())
			}
		}
	})
}
