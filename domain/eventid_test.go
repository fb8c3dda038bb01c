package domain

import (
	"regexp"
	"testing"
	"time"
)

func TestEventIDSources(t *testing.T) {
	tests := []struct {
		name, body, header string
		want               []string
	}{
		{"payload eventId", `{"eventId":"env","payload":{"eventId":"pl","id":"pl-id","messageId":"m"}}`, "hdr", []string{"pl"}},
		// An eventId anywhere names the event before any id: gateways put
		// the message's own resource ID in the payload's id, and every later
		// status of the message was taken for a duplicate of the first.
		{"an eventId before a payload id", `{"eventId":"env","payload":{"id":"pl-id","messageId":"m"}}`, "hdr", []string{"env"}},
		{"the envelope's id before the payload's", `{"id":"env-id","payload":{"id":"pl-id","messageId":"m"}}`, "hdr", []string{"env-id"}},
		{"payload id", `{"payload":{"id":"pl-id","messageId":"m"}}`, "hdr", []string{"pl-id"}},
		{"payload id as a number", `{"payload":{"id":1234567890123,"messageId":"m"}}`, "", []string{"1234567890123"}},
		// A payload id that is the message ID names the message: every later
		// report of it was a duplicate, acknowledged and lost.
		{"payload id that is the message ID", `{"payload":{"id":"m","messageId":"m"}}`, "hdr", []string{"hdr"}},
		{"flat id that is the message ID", `{"id":" m ","messageId":"m","status":"SENT"}`, "hdr", []string{"hdr"}},
		{"SMPP id that is the message ID", `{"receipted_message_id":"m","id":"m","message_state":2}`, "hdr", []string{"hdr"}},
		{"envelope id that is the message ID", `{"id":"m","payload":{"messageId":"m","status":"SENT"}}`, "hdr", []string{"hdr"}},
		{"envelope eventId that is the message ID", `{"eventId":"m","payload":{"messageId":"m"}}`, "hdr", []string{"hdr"}},
		{"id that is another of the message's IDs", `{"messageId":"m","smppMessageId":"s-1","id":"s-1"}`, "hdr", []string{"hdr"}},
		{"id that is the message ID in another case", `{"messageId":"RV2","id":"rv2"}`, "hdr", []string{"hdr"}},
		{"the message's ID passed over, the next taken", `{"id":"m","payload":{"messageId":"m","id":"ev-9"}}`, "hdr", []string{"ev-9"}},
		{"envelope eventId", `{"eventId":"env","id":"env-id","payload":{"messageId":"m"}}`, "hdr", []string{"env"}},
		{"envelope id", `{"id":"env-id","payload":{"messageId":"m"}}`, "hdr", []string{"env-id"}},
		{"bare report eventId", `{"eventId":"e1","messageId":"m"}`, "hdr", []string{"e1"}},
		{"event IDs are trimmed", `{"eventId":" e1\u0000","messageId":"m"}`, "", []string{"e1"}},
		{"empty eventId falls back", `{"eventId":"","id":null,"messageId":"m"}`, "hdr", []string{"hdr"}},
		{"header for a single report", `{"messageId":"m"}`, " hdr ", []string{"hdr"}},
		{"header for a batch of one", `[{"messageId":"m"}]`, "hdr", []string{"hdr"}},
		{"header for a batch", `{"events":[{"messageId":"m"},{"messageId":"m","eventId":"own"},{"messageId":"m"}]}`, "hdr", []string{"hdr:0", "own", "hdr:2"}},
		{"header for a receipt", "id:1 stat:DELIVRD", "hdr", []string{"hdr"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseBody(tt.body, "", tt.header)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d events, want %d", len(got), len(tt.want))
			}
			for i, e := range got {
				if e.EventID != tt.want[i] {
					t.Errorf("event %d: EventID = %q, want %q", i, e.EventID, tt.want[i])
				}
			}
		})
	}
}

// A header holding the message's own ID names the message, as such a field
// does: a tester's gateway put the message ID in webhook-id, and every later
// status of the message was a duplicate, acknowledged and lost.
func TestHeaderThatIsTheMessageID(t *testing.T) {
	for _, tt := range []struct{ name, header, first, second string }{
		{"JSON", "S63", `{"messageId":"S63","status":"SENT"}`, `{"messageId":"S63","status":"DELIVERED"}`},
		{"JSON, another case", " s63 ", `{"messageId":"S63","status":"SENT"}`, `{"messageId":"S63","status":"DELIVERED"}`},
		{"JSON, another of the message's IDs", "smpp-1", `{"messageId":"S63","smppMessageId":"smpp-1","status":"SENT"}`, `{"messageId":"S63","smppMessageId":"smpp-1","status":"DELIVERED"}`},
		{"receipt", "G54", "id:G54 stat:ENROUTE", "id:G54 stat:DELIVRD"},
		{"receipts of a text body", "g54", "id:G54 stat:ENROUTE\nid:X stat:ENROUTE", "id:G54 stat:DELIVRD\nid:X stat:DELIVRD"},
		// Another report's message ID names no delivery either: "B2:1"
		// made B3's later status a duplicate.
		{"another report of the batch", "B2", `[{"messageId":"B3","status":"SENT"},{"messageId":"B2","status":"SENT"}]`, `[{"messageId":"B3","status":"DELIVERED"},{"messageId":"B2","status":"DELIVERED"}]`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			first, err := parseBody(tt.first, "", tt.header)
			if err != nil {
				t.Fatal(err)
			}
			second, err := parseBody(tt.second, "", tt.header)
			if err != nil {
				t.Fatal(err)
			}
			if !contentIDPattern.MatchString(first[0].EventID) || first[0].EventID == second[0].EventID {
				t.Errorf("event IDs %q and %q: want two content hashes, not the header", first[0].EventID, second[0].EventID)
			}
		})
	}
}

var contentIDPattern = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// contentIDs parses body at a given time and returns its event IDs, all of
// which must be content hashes.
func contentIDs(t *testing.T, body string, at time.Time) []string {
	t.Helper()
	got, err := Parse(Request{Body: []byte(body), ReceivedAt: at})
	if err != nil {
		t.Fatalf("Parse(%q): %v", body, err)
	}
	ids := make([]string, len(got))
	for i, e := range got {
		if !contentIDPattern.MatchString(e.EventID) {
			t.Fatalf("EventID %q is not a content hash", e.EventID)
		}
		ids[i] = e.EventID
	}
	return ids
}

func TestContentEventID(t *testing.T) {
	later := parseReceivedAt.Add(time.Hour)
	same := func(a, b string) {
		t.Helper()
		if x, y := contentIDs(t, a, parseReceivedAt), contentIDs(t, b, later); x[0] != y[0] {
			t.Errorf("different IDs for the same report:\n%s\n%s", a, b)
		}
	}
	differ := func(a, b string) {
		t.Helper()
		if x, y := contentIDs(t, a, parseReceivedAt), contentIDs(t, b, parseReceivedAt); x[0] == y[0] {
			t.Errorf("same ID for different reports:\n%s\n%s", a, b)
		}
	}

	report := `{"messageId":"m","status":"DELIVERED","timestamp":"2024-05-06T07:00:00Z","price":0.0075}`
	same(report, report)
	same(report, `{ "price": 0.0075, "timestamp":"2024-05-06T07:00:00Z",
		"status":"DELIVERED", "messageId":"m" }`)
	same(report, "["+report+"]")
	same(report, `{"events":[`+report+`]}`)
	same(`{"payload":{"messageId":"m"},"eventType":"x"}`, `{"eventType":"x","payload":{"messageId":"m"}}`)
	same("id:1 stat:DELIVRD err:000", "id:1 stat:DELIVRD err:000\x00\x00\r\n")

	differ(report, `{"messageId":"m","status":"UNDELIVERED","timestamp":"2024-05-06T07:00:00Z","price":0.0075}`)
	differ(report, `{"messageId":"m","status":"DELIVERED","timestamp":"2024-05-06T07:00:01Z","price":0.0075}`)
	// A number is the same number however it is written: a retry through
	// another JSON library wrote 0.0075 as 7.5e-3 or 0.00750.
	for _, price := range []string{"0.00750", "7.5e-3", "75E-4", "0.0075e0", "7.50e-3"} {
		same(report, `{"messageId":"m","status":"DELIVERED","timestamp":"2024-05-06T07:00:00Z","price":`+price+`}`)
	}
	differ(report, `{"messageId":"m","status":"DELIVERED","timestamp":"2024-05-06T07:00:00Z","price":0.00751}`)
	differ(report, `{"messageId":"m","status":"DELIVERED","timestamp":"2024-05-06T07:00:00Z","price":"0.00750"}`)
	differ("id:1 stat:DELIVRD", "id:1 stat:UNDELIV")

	// An envelope names its event type too; two types are two events.
	differ(`{"eventType":"a","payload":{"messageId":"m"}}`, `{"eventType":"b","payload":{"messageId":"m"}}`)

	// In a batch without IDs, different reports differ and identical ones
	// collapse into one event in the store, as they would on redelivery.
	ids := contentIDs(t, `[{"messageId":"m","status":"SENT"},{"messageId":"m","status":"DELIVERED"},{"messageId":"m","status":"SENT"}]`, parseReceivedAt)
	if ids[0] == ids[1] || ids[0] != ids[2] {
		t.Errorf("batch IDs %q", ids)
	}
}

// The content ID is part of the stored idempotency key, so it must not change
// between releases: a changed hash would store every redelivery again.
func TestContentEventIDIsStable(t *testing.T) {
	// Numbers were hashed as written until 1.50 and 1.5 were made one
	// (CanonicalNumber); a report stored before with a number in another
	// notation and redelivered after is stored once more.
	ids := contentIDs(t, `{"status":"SENT","messageId":"m","n":1.50}`, parseReceivedAt)
	// sha256 of {"messageId":"m","n":1.5,"status":"SENT"}
	if want := "sha256:5c078b40b2ef1fc27cdc52f588f7a15fbacc93caee6c48a4847dd70ed1572624"; ids[0] != want {
		t.Errorf("EventID = %s, want %s", ids[0], want)
	}
	ids = contentIDs(t, "  id:1 stat:DELIVRD\x00", parseReceivedAt)
	// sha256 of id:1 stat:DELIVRD
	if want := "sha256:c7c6eef444028d776df410d6ee23ace1d99e6139eb7243b0578ed8526105ca25"; ids[0] != want {
		t.Errorf("EventID = %s, want %s", ids[0], want)
	}
}

func TestCanonicalNumber(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"0", "0"}, {"-0", "0"}, {"0.000", "0"}, {"0e5", "0"},
		{"12", "12"}, {"12.0", "12"}, {"1200", "1200"}, {"1.2e3", "1200"}, {"12E+2", "1200"},
		{"0.0089", "0.0089"}, {"0.00890", "0.0089"}, {"8.9e-3", "0.0089"}, {"89e-4", "0.0089"},
		{"-1.50", "-1.5"}, {"1714978800", "1714978800"}, {"1.7149788e9", "1714978800"},
		{"123456789012345678901234567890", "123456789012345678901234567890"},
		{"1e40", "10000000000000000000000000000000000000000"},
		{"1e41", "1e41"}, {"1E+50", "1e50"}, {"10e49", "1e50"}, {"1.50e60", "1.5e60"}, {"-25e-60", "-2.5e-59"},
		{"1e-50", "1e-50"}, {"0.0001e-40", "1e-44"}, {"1.7976931348623157E+308", "1.7976931348623157e308"},
		{"1e99999999999999999999", "1e99999999999999999999"},
	} {
		if got := CanonicalNumber(tt.in); got != tt.want {
			t.Errorf("CanonicalNumber(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// webhook-id names the delivery when X-CXone-Event-Id cannot: a tester's
// two deliveries (wh-1, wh-2) under an X header holding the message ID
// were one event, the second acknowledged as a duplicate.
func TestFallbackEventIDHeader(t *testing.T) {
	for _, tt := range []struct {
		name, header, fallback, body string
		want                         []string
	}{
		{"X header absent", "", "wh-1", `{"messageId":"K7"}`, []string{"wh-1"}},
		{"X header malformed", "a b", "wh-1", `{"messageId":"K7"}`, []string{"wh-1"}},
		{"X header holds the message ID", "k7", "wh-1", `{"messageId":"K7"}`, []string{"wh-1"}},
		{"X header holds a message ID of the batch", "K8", "wh-1", `[{"messageId":"K7"},{"messageId":"K8"}]`, []string{"wh-1:0", "wh-1:1"}},
		{"X header usable", "x-1", "wh-1", `{"messageId":"K7"}`, []string{"x-1"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(Request{Body: []byte(tt.body), EventIDHeader: tt.header, FallbackEventIDHeader: tt.fallback, ReceivedAt: parseReceivedAt})
			if err != nil {
				t.Fatal(err)
			}
			for i, e := range got {
				if e.EventID != tt.want[i] {
					t.Errorf("event %d: EventID = %q, want %q", i, e.EventID, tt.want[i])
				}
			}
		})
	}
	// Both holding message IDs: the content names the reports.
	got, err := Parse(Request{Body: []byte(`{"messageId":"K7"}`), EventIDHeader: "K7", FallbackEventIDHeader: "K7", ReceivedAt: parseReceivedAt})
	if err != nil || !contentIDPattern.MatchString(got[0].EventID) {
		t.Errorf("got %v, %v: want a content hash", got, err)
	}
}
