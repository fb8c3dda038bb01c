package http

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// A body that is not UTF-8 keeps its text: a tester's Latin-1 receipt was
// acknowledged and then stored with U+FFFD for "é" and "üß" (two bytes
// collapsed into one), in the immutable log, with the sender judged in that
// form.
func TestWebhookReadsOtherCharsets(t *testing.T) {
	t.Parallel()
	env := newAPIEnv(t, Config{})
	for _, tt := range []struct {
		name, contentType, id string
		want                  int
	}{
		{"named charset", "application/json; charset=ISO-8859-1", "latin1-named", http.StatusOK},
		{"no charset, not UTF-8", "application/json", "latin1-bare", http.StatusOK},
		{"charset that cannot be read", "application/json; charset=x-klingon", "klingon", http.StatusUnsupportedMediaType},
	} {
		body := `{"receipted_message_id":"` + tt.id + `","message_state":2,"source_addr":"Caf` + "\xe9" + `Bar","destination_addr":"447700900123","short_message":"id:` + tt.id + ` stat:DELIVRD err:000 text:Gr` + "\xfc\xdf" + `e"}`
		code, answer := postWebhook(t, env, tt.contentType, body)
		if code != tt.want {
			t.Errorf("%s: %d %s, want %d", tt.name, code, answer, tt.want)
			continue
		}
		if tt.want != http.StatusOK {
			continue
		}
		resp, err := http.Get(env.srv.URL + "/messages/" + tt.id + "/history")
		if err != nil {
			t.Fatal(err)
		}
		var h struct {
			Events []struct{ Payload json.RawMessage }
		}
		err = json.NewDecoder(resp.Body).Decode(&h)
		resp.Body.Close()
		if err != nil || len(h.Events) != 1 {
			t.Fatalf("%s: history %+v, %v", tt.name, h, err)
		}
		var p map[string]any
		if err := json.Unmarshal(h.Events[0].Payload, &p); err != nil {
			t.Fatal(err)
		}
		if p["source_addr"] != "CaféBar" || !strings.HasSuffix(p["short_message"].(string), "text:Grüße") {
			t.Errorf("%s: stored %s, want CaféBar and Grüße", tt.name, h.Events[0].Payload)
		}
	}
}

// A request carries at most 10,000 reports: a tester's 60,000 short
// receipts, within the byte limit, made one INSERT that could not commit
// in time, a 503 on every retry and never stored. Past the cap it is a 413,
// which no sender retries as is, and nothing is stored.
func TestWebhookReportCap(t *testing.T) {
	t.Parallel()
	env := newAPIEnv(t, Config{})
	body := func(n int, prefix string) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "id:%s%d stat:DELIVRD\n", prefix, i)
		}
		return b.String()
	}
	for _, tt := range []struct {
		n    int
		want int
	}{{maxReportsPerRequest + 1, http.StatusRequestEntityTooLarge}, {maxReportsPerRequest, http.StatusOK}} {
		prefix := fmt.Sprintf("cap%d-", tt.n)
		code, answer := postWebhook(t, env, "text/plain", body(tt.n, prefix))
		if code != tt.want {
			t.Errorf("%d reports: %d %.200s, want %d", tt.n, code, answer, tt.want)
		}
		var stored int
		if err := env.pool.QueryRow(context.Background(), `SELECT count(*) FROM events WHERE message_id LIKE $1`, prefix+"%").Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{true: tt.n, false: 0}[tt.want == http.StatusOK]; stored != want {
			t.Errorf("%d reports: %d stored, want %d", tt.n, stored, want)
		}
	}
}

// Every byte of a Latin-1 body stays a character, the five windows-1252
// leaves undefined included (0x81 is U+0081, as ISO-8859-1 and the WHATWG
// decoder have it): they were U+FFFD, the original lost.
func TestLatin1KeepsEveryByte(t *testing.T) {
	for _, ct := range []string{"text/plain; charset=ISO-8859-1", "text/plain; charset=windows-1252", "text/plain"} {
		got, err := toUTF8([]byte("A\x81B\x80\xe9"), ct)
		if err != nil || string(got) != "A\u0081B€é" {
			t.Errorf("%s: %q, %v; want %q", ct, got, err, "A\u0081B€é")
		}
	}
}

// postWebhook posts body to the webhook with the test secret and returns the
// status and answer.
func postWebhook(t *testing.T, env *apiEnv, contentType, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, env.srv.URL+"/webhooks/cxone/sms", strings.NewReader(body))
	req.Header.Set("X-Webhook-Secret", testWebhookSecret)
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, answer
}

// Two Content-Encoding lines are one list: "gzip" twice is gzip twice, as
// "gzip, gzip" is, not read as gzip once and then as garbage.
func TestContentEncodingLinesAreOneList(t *testing.T) {
	t.Parallel()
	env := newAPIEnv(t, Config{})
	report := `{"messageId":"x","status":"SENT"}`
	for body, want := range map[string]int{
		gzipped(t, gzipped(t, report)): http.StatusOK,
		gzipped(t, report):             http.StatusBadRequest, // the inflated report is no gzip stream
	} {
		req, _ := http.NewRequest(http.MethodPost, env.srv.URL+"/webhooks/cxone/sms", strings.NewReader(body))
		req.Header.Set("X-Webhook-Secret", testWebhookSecret)
		req.Header.Add("Content-Encoding", "gzip")
		req.Header.Add("Content-Encoding", "gzip")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("two gzip lines: %d, want %d as for \"gzip, gzip\"", resp.StatusCode, want)
		}
	}
}

// A UTF-16 byte-order mark names the charset when the Content-Type does
// not (or names another): such a body was a 400, its report lost.
func TestToUTF8ReadsAUTF16ByteOrderMark(t *testing.T) {
	t.Parallel()
	text := `{"messageId":"BOM2","status":"DELIVERED","carrier":"Télé"}`
	le, be := []byte{0xFF, 0xFE}, []byte{0xFE, 0xFF}
	for _, r := range text {
		le = append(le, byte(r), byte(r>>8))
		be = append(be, byte(r>>8), byte(r))
	}
	for _, tt := range []struct {
		name, contentType string
		body              []byte
	}{
		{"little-endian, no charset", "application/json", le},
		{"big-endian, no charset", "application/json", be},
		{"little-endian, no type", "", le},
		{"little-endian, labelled UTF-8", "application/json; charset=utf-8", le},
	} {
		got, err := toUTF8(tt.body, tt.contentType)
		if err != nil || string(got) != text {
			t.Errorf("%s: %q, %v; want %q", tt.name, got, err, text)
		}
	}
}
