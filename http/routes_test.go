package http

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// How the service meets generic HTTP clients: methods, paths and queries
// that are not quite what the routes say.
func TestRoutesMeetHTTPClients(t *testing.T) {
	t.Parallel()
	env := newAPIEnv(t, Config{AdminToken: "adm"})
	report := `{"messageId":"lenient-%d","status":"SENT"}`
	n := 0
	for _, tt := range []struct {
		method, path string
		want         int
		allow        string // the Allow header, when the answer must carry one
	}{
		// RFC 9110: every GET answers HEAD; a 405 says what is allowed.
		{"HEAD", "/healthz", http.StatusOK, ""},
		{"HEAD", "/analytics/carriers", http.StatusOK, ""},
		{"GET", "/webhooks/cxone/sms", http.StatusMethodNotAllowed, "POST, OPTIONS"},
		{"OPTIONS", "/analytics/carriers", http.StatusNoContent, "GET, HEAD, OPTIONS"},
		{"POST", "/admin/projections", http.StatusMethodNotAllowed, "GET, HEAD, OPTIONS"}, // was the subrouter's 404
		// As the tutorial's Express: one trailing slash, the webhook in any case.
		{"POST", "/webhooks/cxone/sms/", http.StatusOK, ""},
		{"POST", "/Webhooks/CXone/SMS", http.StatusOK, ""},
		{"GET", "/analytics/delivery/", http.StatusOK, ""},
		// Not cleaned into a 301, which turns a POST into a GET.
		{"GET", "//healthz", http.StatusNotFound, ""},
		// A query or path that cannot be what it says is a 400, not the
		// unfiltered totals or PostgreSQL's 500.
		{"GET", "/analytics/carriers?region=%zz", http.StatusBadRequest, ""},
		{"GET", "/analytics/carriers?region=US;carrier=ATT", http.StatusBadRequest, ""},
		{"GET", "/analytics/carriers?region=US&region=ZZ", http.StatusBadRequest, ""},
		{"GET", "/analytics/carriers?carrier=%00", http.StatusBadRequest, ""},
		{"GET", "/compliance/violations?senderId=%ff", http.StatusBadRequest, ""},
		{"GET", "/analytics/carriers?regoin=GB", http.StatusBadRequest, ""}, // a misspelt filter
		{"GET", "/compliance/violations?senderid=X", http.StatusBadRequest, ""},
		// Routes that read no parameter take any (trackers, cache busters).
		{"GET", "/healthz?a=1&a=2", http.StatusOK, ""},
		{"GET", "/?utm_source=x;y", http.StatusOK, ""},
		{"GET", "/messages/%00x", http.StatusBadRequest, ""},
		{"GET", "/messages/%ff/history", http.StatusBadRequest, ""},
	} {
		var body io.Reader
		if tt.method == "POST" && strings.HasPrefix(strings.ToLower(tt.path), "/webhooks") {
			n++
			body = strings.NewReader(strings.Replace(report, "%d", string(rune('a'+n)), 1))
		}
		req, err := http.NewRequest(tt.method, env.srv.URL+tt.path, body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Webhook-Secret", testWebhookSecret)
		req.Header.Set("Authorization", "Bearer adm")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s %s: %d %s, want %d", tt.method, tt.path, resp.StatusCode, got, tt.want)
		}
		if tt.allow != "" && resp.Header.Get("Allow") != tt.allow {
			t.Errorf("%s %s: Allow %q, want %q", tt.method, tt.path, resp.Header.Get("Allow"), tt.allow)
		}
		if resp.StatusCode >= 400 && !strings.HasPrefix(string(got), `{"error":`) {
			t.Errorf("%s %s: %d without a JSON error: %q", tt.method, tt.path, resp.StatusCode, got)
		}
		if tt.method == "HEAD" && len(got) != 0 {
			t.Errorf("HEAD %s: a body of %d bytes", tt.path, len(got))
		}
	}
}
