package http

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// The hand-written ingest answer must be byte for byte what writeJSON
// encodes, whatever the IDs hold.
func TestIngestAnswerMatchesEncodingJSON(t *testing.T) {
	ids := []string{
		"", "m-1", "SIM-000123456", "sha256:0f3a", "AT&T<b>", "é", "日本", "a\u2028b\u2029", "tab\there", "nul\x00",
		"\x7f", "quote\"", `back\slash`, "bad\xffutf8", "\ufffd", strings.Repeat("x", 200),
	}
	answers := []ingestAnswer{{Acknowledged: true}, {Acknowledged: true, Results: []ingestResult{}}}
	for i, id := range ids {
		answers = append(answers, ingestAnswer{Acknowledged: true, Results: []ingestResult{
			{MessageID: id, EventID: ids[(i+1)%len(ids)], Duplicate: i%2 == 0},
			{MessageID: "m", EventID: id},
		}})
	}
	for _, a := range answers {
		checkAnswerBytes(t, a)
	}
}

// checkAnswerBytes fails t unless appendJSON writes a as writeJSON's
// encoder does.
func checkAnswerBytes(t *testing.T, a ingestAnswer) {
	t.Helper()
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(a); err != nil {
		t.Fatal(err)
	}
	if got := a.appendJSON(nil); !bytes.Equal(got, want.Bytes()) {
		t.Errorf("appendJSON = %q\nencoding/json %q", got, want.Bytes())
	}
}

func FuzzIngestAnswer(f *testing.F) {
	f.Add("m-1", "e-1", true)
	f.Add("a\u2028\x00\"\\<&>", "\xff", false)
	f.Fuzz(func(t *testing.T, messageID, eventID string, dup bool) {
		checkAnswerBytes(t, ingestAnswer{Acknowledged: true, Results: []ingestResult{{MessageID: messageID, EventID: eventID, Duplicate: dup}}})
	})
}
