package cxone

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

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

// echoForms lists whole-secret shapes, but encoders escape character by
// character, each its own way, and a tester found echoes it missed: .NET's
// System.Text.Json writes + as \u002B (in an ASP.NET validation problem
// that register-webhook printed and serve logged), " and ' as \u0022 and
// \u0027, and non-ASCII as \u00e4 or \u00E4, as Python and Java do;
// JavaScript's encodeURIComponent leaves ' alone; an error page may write
// any character as a numeric reference; and a text may mix escaped and
// literal characters.
func TestScrubRedactsSecretsEscapedCharacterByCharacter(t *testing.T) {
	const (
		webhook   = "q1w2E3r4+t5y6U7i8/o9p0=="
		client    = `Abc+def"ghi&jkl'mno`
		accessKey = "Grüße-Zürich-2024"
	)
	c := New(Config{WebhookSecret: webhook, ClientSecret: client, AccessKeySecret: accessKey})
	for _, tc := range []struct {
		echo, leak string
	}{
		{`{"type":"https://tools.ietf.org/html/rfc9110#section-15.5.1","title":"One or more validation errors occurred.","status":400,` +
			`"errors":{"headers.X-Webhook-Secret":["The value 'q1w2E3r4\u002Bt5y6U7i8/o9p0==' is not valid."]}}`, `q1w2E3r4\u002Bt5y6U7i8/o9p0==`},
		{`"q1w2E3r4\u002bt5y6U7i8\/o9p0=="`, `q1w2E3r4\u002bt5y6U7i8\/o9p0==`},
		{`{"secret":"Abc\u002Bdef\u0022ghi\u0026jkl\u0027mno"}`, `Abc\u002Bdef\u0022ghi\u0026jkl\u0027mno`},
		{"client_secret=Abc%2Bdef%22ghi%26jkl'mno", "Abc%2Bdef%22ghi%26jkl'mno"},
		{"client_secret=Abc%2bdef\"ghi%26jkl%27mno", "Abc%2bdef\"ghi%26jkl%27mno"},
		{"<p>Abc&#43;def&#x22;ghi&#X26;jkl&#39;mno</p>", "Abc&#43;def&#x22;ghi&#X26;jkl&#39;mno"},
		{`Abc&#x2B;def\u0022ghi&amp;jkl%27mno`, `Abc&#x2B;def\u0022ghi&amp;jkl%27mno`},
		{`{"key":"Gr\u00fc\u00dfe-Z\u00fcrich-2024"}`, `Gr\u00fc\u00dfe-Z\u00fcrich-2024`},
		{`{"key":"Gr\u00FC\u00DFe-Z\u00FCrich-2024"}`, `Gr\u00FC\u00DFe-Z\u00FCrich-2024`},
		{`key='Gr\xfc\xdfe-Z\xfcrich-2024'`, `Gr\xfc\xdfe-Z\xfcrich-2024`},
		{`key=Gr%C3%BC&szlig;e-Z&#252;rich-2024`, `Gr%C3%BC&szlig;e-Z&#252;rich-2024`},
	} {
		got := c.scrub(tc.echo)
		if strings.Contains(got, tc.leak) || !strings.Contains(got, redacted) {
			t.Errorf("scrub(%q) = %q", tc.echo, got)
		}
		for _, part := range []string{"t5y6U7i8", "ghi", "rich-2024"} {
			if strings.Contains(got, part) {
				t.Errorf("scrub(%q) = %q, which still shows %q", tc.echo, got, part)
			}
		}
	}
	if got, want := c.scrub(`The value 'q1w2E3r4\u002Bt5y6U7i8/o9p0==' is not valid.`), "The value '"+redacted+"' is not valid."; got != want {
		t.Errorf("scrub = %q, want %q: only the secret's own escapes redacted", got, want)
	}

	// A + stands for a space in a form body; astral characters are
	// escaped as surrogate pairs.
	spaced := New(Config{WebhookSecret: "open sesame 🔑 42"})
	for _, echo := range []string{"s=open+sesame%20%F0%9F%94%91+42", `{"s":"open sesame \ud83d\udd11 42"}`, `open+sesame&#32;&#x1F511;%2042`} {
		if got := spaced.scrub(echo); strings.Contains(got, "sesame") {
			t.Errorf("scrub(%q) = %q", echo, got)
		}
	}

	// A short secret, read through its escapes, is still redacted only
	// where it stands alone.
	short := New(Config{WebhookSecret: "ret"})
	if got, want := short.scrub(`invalid secret %22%72et%22 for \u0072etries`), `invalid secret %22[redacted]%22 for \u0072etries`; got != want {
		t.Errorf("scrub = %q, want %q", got, want)
	}
}

// The ASP.NET answer itself, through a client call: CXone behind ASP.NET
// refusing the subscription with a validation problem that echoes the
// secret in .NET's escaping. The client does not parse that shape, so the
// error carries the body, scrubbed.
func TestAPIValidationProblemDoesNotLeakTheWebhookSecret(t *testing.T) {
	const secret = "q1w2E3r4+t5y6U7i8/o9p0=="
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/token":
			writeTestJSON(w, http.StatusOK, map[string]any{"access_token": "tok", "token_type": "bearer", "expires_in": 3600})
		case r.Method == http.MethodGet:
			writeTestJSON(w, http.StatusOK, map[string]any{"webhooks": []any{}})
		default:
			w.Header().Set("Content-Type", "application/problem+json; charset=utf-8")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"type":"https://tools.ietf.org/html/rfc9110#section-15.5.1","title":"One or more validation errors occurred.",`+
				`"status":400,"errors":{"headers.X-Webhook-Secret":["The value 'q1w2E3r4\u002Bt5y6U7i8/o9p0==' is not valid."]}}`)
		}
	}))
	defer srv.Close()
	cfg := Config{TokenURL: srv.URL + "/token", APIURL: srv.URL, ClientID: "id", ClientSecret: "client-secret",
		Grant: GrantClientCredentials, WebhookSecret: secret}
	_, err := New(cfg, WithHTTPClient(srv.Client()), WithRetryPolicy(fastRetry)).EnsureWebhook(t.Context(), callback)
	if err == nil || !strings.Contains(err.Error(), "headers.X-Webhook-Secret") || !strings.Contains(err.Error(), redacted) {
		t.Fatalf("err = %v, want CXone's problem with the secret redacted", err)
	}
	if strings.Contains(err.Error(), "t5y6U7i8") {
		t.Errorf("err = %v shows the webhook secret", err)
	}
}

// FuzzScrubEscapedSecret escapes each character of a secret in one of the
// ways an echo may (how picks them, character by character) and checks
// that what the echo shows of it is redacted.
func FuzzScrubEscapedSecret(f *testing.F) {
	f.Add("q1w2E3r4+t5y6U7i8/o9p0==", []byte{0, 0, 0, 0, 0, 0, 0, 0, 4})
	f.Add(`Abc+def"ghi&jkl'mno`, []byte{1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0})
	f.Add("Grüße-Zürich-2024", []byte{3, 4, 7, 5, 6, 2})
	f.Add("open sesame 🔑 42", []byte{9, 3, 1, 10, 8})
	f.Fuzz(func(t *testing.T, secret string, how []byte) {
		if len(secret) < minWordSecret || !utf8.ValidString(secret) || len(how) == 0 {
			return
		}
		var enc strings.Builder
		i := 0
		for _, r := range secret {
			enc.WriteString(escapeRune(r, how[i%len(how)]))
			i++
		}
		echo := "said: " + enc.String() + "."
		got := redactSecrets(echo, []string{secret})
		if strings.Contains(got, enc.String()) && !strings.Contains("said: "+redacted+".", enc.String()) {
			t.Errorf("redactSecrets(%q) = %q", echo, got)
		}
	})
}

// escapeRune writes r the way number how picks, or as itself where that
// way does not apply to r.
func escapeRune(r rune, how byte) string {
	utf := string(r)
	var b strings.Builder
	switch how % 11 {
	case 1, 2:
		for _, c := range []byte(utf) {
			if how%11 == 1 {
				fmt.Fprintf(&b, "%%%02X", c)
			} else {
				fmt.Fprintf(&b, "%%%02x", c)
			}
		}
		return b.String()
	case 3, 4:
		for _, u := range utf16.Encode([]rune{r}) {
			if how%11 == 3 {
				fmt.Fprintf(&b, `\u%04x`, u)
			} else {
				fmt.Fprintf(&b, `\u%04X`, u)
			}
		}
		return b.String()
	case 5, 6:
		// HTML reads &#128; to &#159; as windows-1252, not as C1 controls.
		if r == 0 || (0x80 <= r && r <= 0x9f) {
			break
		}
		if how%11 == 5 {
			return fmt.Sprintf("&#%d;", r)
		}
		return fmt.Sprintf("&#x%X;", r)
	case 7:
		if r < 0x100 {
			return fmt.Sprintf(`\x%02x`, r)
		}
	case 8:
		if j, err := json.Marshal(utf); err == nil && j[1] == '\\' {
			return string(j[1 : len(j)-1])
		}
	case 9:
		if r == ' ' {
			return "+"
		}
	case 10:
		if e := html.EscapeString(utf); e != utf {
			return e
		}
	}
	// As itself, unless it would start an escape an encoder escapes.
	if strings.ContainsRune(`\%&`, r) {
		return fmt.Sprintf("%%%02X", r)
	}
	return utf
}

// The OAuth error code is printed in an AuthError too, and a token
// endpoint may put the credential it refused in it, escaped its own way.
func TestAuthErrorCodeDoesNotLeakTheClientSecret(t *testing.T) {
	const secret = "Abc+def\"ghi&jkl'mno"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":"bad secret Abc\u002Bdef\u0022ghi\u0026jkl\u0027mno"}`)
	}))
	defer srv.Close()
	cfg := Config{TokenURL: srv.URL, APIURL: srv.URL, ClientID: "id", ClientSecret: secret, Grant: GrantClientCredentials, WebhookSecret: testWebhookSecret}
	_, err := New(cfg, WithHTTPClient(srv.Client()), WithRetryPolicy(fastRetry)).EnsureWebhook(t.Context(), callback)
	var ae *AuthError
	if !errors.As(err, &ae) || strings.Contains(err.Error(), "ghi") || !strings.Contains(err.Error(), "bad secret "+redacted) {
		t.Fatalf("err = %v, want an AuthError with the secret redacted", err)
	}
}
