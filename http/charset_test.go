package http

import (
	"encoding/json"
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
		req, _ := http.NewRequest(http.MethodPost, env.srv.URL+"/webhooks/cxone/sms", strings.NewReader(body))
		req.Header.Set("X-Webhook-Secret", testWebhookSecret)
		req.Header.Set("Content-Type", tt.contentType)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s: %d %s, want %d", tt.name, resp.StatusCode, answer, tt.want)
			continue
		}
		if tt.want != http.StatusOK {
			continue
		}
		resp, err = http.Get(env.srv.URL + "/messages/" + tt.id + "/history")
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
