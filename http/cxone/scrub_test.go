package cxone

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cxsms/cxsms/http/cxone/fakecxone"
)

// CXone echoing a request shows our secrets encoded: a token endpoint
// echoes its form body percent-encoded, an API echoes the posted JSON with
// Go's escaping of <, > and &. Each form must be redacted.
func TestScrubRedactsEncodedSecrets(t *testing.T) {
	c := New(Config{ClientSecret: "client/secret+long", AccessKeySecret: "Ak+Se/cr=et&1", WebhookSecret: "wh<sec>&ret"})
	for _, tc := range []struct {
		echo, leak string
	}{
		{"grant_type=password&password=Ak%2BSe%2Fcr%3Det%261&username=k", "Ak%2BSe%2Fcr%3Det%261"},
		{"/webhooks/Ak+Se%2Fcr=et&1", "Ak+Se%2Fcr=et&1"},
		{`{"headers":{"X-Webhook-Secret":"wh\u003csec\u003e\u0026ret"}}`, `wh\u003csec\u003e\u0026ret`},
		{`{"headers":{"X-Webhook-Secret":"wh<sec>&ret"}}`, `wh<sec>&ret`},
		{`{"secret":"client\/secret+long"}`, `client\/secret+long`},
		{`wh%3Csec%3E%26ret`, `wh%3Csec%3E%26ret`},
	} {
		got := c.scrub(tc.echo)
		if strings.Contains(got, tc.leak) || !strings.Contains(got, redacted) {
			t.Errorf("scrub(%q) = %q", tc.echo, got)
		}
	}
}

// A secret of a few letters also occurs inside ordinary words; cutting it
// out of them garbles CXone's message and hides nothing. Standing alone it
// is still redacted.
func TestScrubLeavesShortSecretsInsideWords(t *testing.T) {
	c := New(Config{WebhookSecret: "ret"})
	got := c.scrub(`invalid secret "ret" for retries`)
	if want := `invalid secret "[redacted]" for retries`; got != want {
		t.Errorf("scrub = %q, want %q", got, want)
	}
	long := New(Config{WebhookSecret: "retries-secret"})
	if got := long.scrub("xretries-secretx"); got != "x[redacted]x" {
		t.Errorf("a long secret inside a word: scrub = %q, want it redacted", got)
	}
}

// The end-to-end case the tester hit: a token endpoint answering 400 with
// the form body in its description.
func TestTokenEndpointEchoDoesNotLeakTheAccessKeySecret(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		writeTestJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "cannot parse " + r.PostForm.Encode()})
	}))
	defer srv.Close()
	cfg := Config{TokenURL: srv.URL, APIURL: srv.URL, ClientID: "id", ClientSecret: "client-secret", Grant: GrantPassword,
		AccessKeyID: "AK", AccessKeySecret: "Ak+Se/cr=et&1", WebhookSecret: testWebhookSecret}
	_, err := New(cfg, WithHTTPClient(srv.Client()), WithRetryPolicy(fastRetry)).EnsureWebhook(t.Context(), callback)
	if err == nil || !strings.Contains(err.Error(), "password="+redacted) {
		t.Fatalf("err = %v, want the echoed password redacted", err)
	}
}

// README: "429 and 5xx answers are retried, honouring Retry-After". A 5xx
// to a create was retried after the client's own short backoff instead.
func TestCreateHonoursRetryAfterOn5xx(t *testing.T) {
	e := newEnv(t, fakecxone.Options{})
	e.fake.InjectFault(fakecxone.Fault{Method: http.MethodPost, Path: fakecxone.PathWebhooks, Status: http.StatusServiceUnavailable, RetryAfter: "1"})
	start := time.Now()
	res, err := e.client(e.cfg).EnsureWebhook(t.Context(), callback)
	if err != nil || res.Action != ActionCreated {
		t.Fatalf("result %+v, err %v", res, err)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("retried the create after %s, want after the 1 s CXone asked for", d)
	}
	if n := len(e.fake.Subscriptions()); n != 1 {
		t.Errorf("%d subscriptions, want 1", n)
	}
}

// CXone asking for longer than the budget leaves is given up on at once,
// as for a 429.
func TestCreateRetryAfterOn5xxCappedByBudget(t *testing.T) {
	e := newEnv(t, fakecxone.Options{})
	e.fake.InjectFault(fakecxone.Fault{Method: http.MethodPost, Path: fakecxone.PathWebhooks, Status: http.StatusServiceUnavailable, RetryAfter: "3600"})
	start := time.Now()
	_, err := e.client(e.cfg).EnsureWebhook(t.Context(), callback)
	if err == nil || !strings.Contains(err.Error(), "Retry-After") {
		t.Fatalf("err = %v, want a Retry-After beyond the budget", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("gave up after %s, want at once", d)
	}
}
