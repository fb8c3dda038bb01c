package cxone

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
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

// An error page shows the request HTML-escaped, and an API may show a
// credential or a body base64-encoded: a tester saw the webhook secret
// <Tok&en>2024 come back as &lt;Tok&amp;en&gt;2024, and in base64, in the
// error. Escapers differ on quotes, and base64 comes in two alphabets,
// padded or not, alone or inside a longer encoded text.
func TestScrubRedactsHTMLAndBase64Secrets(t *testing.T) {
	const webhook, client = "<Tok&en>2024", `cl'ient"secret`
	b64 := func(enc *base64.Encoding, s string) string { return enc.EncodeToString([]byte(s)) }
	c := New(Config{ClientID: "id", ClientSecret: client, WebhookSecret: webhook})
	for _, tc := range []struct {
		echo, leak string
	}{
		{"<p>invalid header X-Webhook-Secret: &lt;Tok&amp;en&gt;2024</p>", "&lt;Tok&amp;en&gt;2024"},
		{"client_secret=cl&#39;ient&#34;secret", "cl&#39;ient&#34;secret"},
		{"client_secret=cl&#x27;ient&quot;secret", "cl&#x27;ient&quot;secret"},
		{"client_secret=cl&#039;ient&quot;secret", "cl&#039;ient&quot;secret"},
		{"client_secret=cl&apos;ient&quot;secret", "cl&apos;ient&quot;secret"},
		{"client_secret=cl'ient\"secret", "cl'ient\"secret"},
		{`{"secret":"` + b64(base64.StdEncoding, webhook) + `"}`, b64(base64.StdEncoding, webhook)},
		{`{"secret":"` + b64(base64.RawURLEncoding, webhook) + `"}`, b64(base64.RawURLEncoding, webhook)},
	} {
		got := c.scrub(tc.echo)
		if strings.Contains(got, tc.leak) || !strings.Contains(got, redacted) {
			t.Errorf("scrub(%q) = %q", tc.echo, got)
		}
	}

	// Inside a longer encoded text a secret starts at any of the three
	// byte offsets of a base64 group: an echoed body, or an echoed Basic
	// credential (id and secret form-encoded, then encoded together). Of
	// the characters that encode it, at most one at each end, which other
	// bytes share, is left.
	encodedIn := func(name, text, secret string, c *Client) {
		t.Helper()
		enc := b64(base64.StdEncoding, text)
		got := c.scrub(enc)
		before, after, ok := strings.Cut(got, redacted)
		if !ok {
			t.Errorf("%s: %q left whole", name, enc)
			return
		}
		if n, want := len(enc)-len(before)-len(after), (len(secret)*4+2)/3-2; n < want {
			t.Errorf("%s: %d characters of %q redacted (%q), want at least %d", name, n, enc, got, want)
		}
	}
	for _, prefix := range []string{"", "x", "xy"} {
		encodedIn("body after "+prefix, prefix+`{"headers":{"X-Webhook-Secret":"`+webhook+`"}}`, webhook, c)
		id := "id" + prefix
		encodedIn("Basic credential of "+id, id+":"+url.QueryEscape(client), url.QueryEscape(client),
			New(Config{ClientID: id, ClientSecret: client}))
	}
}

// The same through a client call: CXone answering an error page that
// shows the webhook secret HTML-escaped and base64-encoded.
func TestAPIErrorPageDoesNotLeakTheWebhookSecret(t *testing.T) {
	const secret = "<Tok&en>2024"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			writeTestJSON(w, http.StatusOK, map[string]any{"access_token": "tok", "token_type": "bearer", "expires_in": 3600})
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, "<html><body>bad X-Webhook-Secret &lt;Tok&amp;en&gt;2024 ("+
			base64.StdEncoding.EncodeToString([]byte(secret))+")</body></html>")
	}))
	defer srv.Close()
	cfg := Config{TokenURL: srv.URL + "/token", APIURL: srv.URL, ClientID: "id", ClientSecret: "client-secret",
		Grant: GrantClientCredentials, WebhookSecret: secret}
	_, err := New(cfg, WithHTTPClient(srv.Client()), WithRetryPolicy(fastRetry)).EnsureWebhook(t.Context(), callback)
	if err == nil || !strings.Contains(err.Error(), "bad X-Webhook-Secret "+redacted+" ("+redacted+")") {
		t.Fatalf("err = %v, want the secret redacted in both forms", err)
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
