package cxone

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// Client talks to one CXone tenant. It is safe for concurrent use, and meant
// to be shared: the token cache and the webhook lock are per Client.
type Client struct {
	cfg            Config
	cfgErr         error
	http           *http.Client
	log            logrus.FieldLogger
	retry          RetryPolicy
	requestTimeout time.Duration
	allowLocalhost bool
	webhookName    string
	hooks          Hooks
	now            func() time.Time

	tokens *tokenCache

	discoverMu sync.Mutex
	discovered string // token endpoint found through the issuer, once found

	ensureMu sync.Mutex // one EnsureWebhook at a time, or two could both create
}

// Hooks lets the caller count what the client does (Prometheus counters,
// say) without this package importing a metrics library. Nil funcs are
// skipped; they are called synchronously, so they must be quick.
type Hooks struct {
	// TokenRefresh is called after every token fetch, err nil on success.
	TokenRefresh func(err error)
	// Retry is called before every retry wait; status is 0 for a network
	// error.
	Retry func(op string, status int)
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client (for its transport, proxy or TLS
// settings). Its Timeout, if any, applies per attempt on top of
// WithRequestTimeout.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.http = hc
		}
	}
}

// WithLogger sets where the client logs; by default it does not log.
func WithLogger(l logrus.FieldLogger) Option {
	return func(c *Client) {
		if l != nil {
			c.log = l
		}
	}
}

// WithRetryPolicy replaces DefaultRetryPolicy; zero fields keep the default.
func WithRetryPolicy(p RetryPolicy) Option {
	return func(c *Client) { c.retry = p.withDefaults() }
}

// WithRequestTimeout bounds one HTTP attempt (default 10 s), so that one
// hung request leaves room in the budget for a retry.
func WithRequestTimeout(d time.Duration) Option {
	return func(c *Client) {
		if d > 0 {
			c.requestTimeout = d
		}
	}
}

// AllowLocalhost lets EnsureWebhook register a callback on this machine,
// which only makes sense when "CXone" is the local fake. It is the same as
// Config.AllowLocalhost (CXONE_ALLOW_LOCALHOST).
func AllowLocalhost() Option {
	return func(c *Client) { c.allowLocalhost = true }
}

// WithWebhookName overrides the subscription name (default
// "sms-status-webhook"). EnsureWebhook matches existing subscriptions by
// name, so two environments sharing a tenant need different names, or each
// would keep pointing the other's subscription at itself.
func WithWebhookName(name string) Option {
	return func(c *Client) {
		// Trimmed, as secrets are: "prod\n" from a mounted file made a
		// second subscription beside "prod", and "  " renamed one.
		if name = strings.TrimSpace(name); name != "" {
			c.webhookName = name
		}
	}
}

// WithHooks installs counters; see Hooks.
func WithHooks(h Hooks) Option {
	return func(c *Client) { c.hooks = h }
}

// New builds a Client. It does no I/O: a bad configuration is reported by
// the first call (ConfigFromEnv reports it earlier).
func New(cfg Config, opts ...Option) *Client {
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	c := &Client{
		cfg:            cfg,
		cfgErr:         cfg.Validate(),
		http:           &http.Client{},
		log:            quiet,
		retry:          DefaultRetryPolicy,
		requestTimeout: 10 * time.Second,
		allowLocalhost: cfg.AllowLocalhost,
		webhookName:    DefaultWebhookName,
		now:            time.Now,
	}
	for _, o := range opts {
		o(c)
	}
	// A copy, so that the caller's client keeps its own redirect policy.
	hc := *c.http
	hc.CheckRedirect = checkRedirect
	c.http = &hc
	c.tokens = &tokenCache{fetch: c.fetchToken, now: func() time.Time { return c.now() }}
	return c
}

// errRedirectLoop ends a GET that keeps being redirected. It is not worth
// retrying: the next attempt would go round the same loop.
var errRedirectLoop = errors.New("stopped after 10 redirects")

// checkRedirect follows redirects for GET only. Go's client would turn a
// 301 or 302 answer to a PUT or POST into a GET of the Location, and that
// GET's 200 would pass for "updated"; instead the 3xx itself is returned,
// and apiError names where it pointed.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if via[0].Method != http.MethodGet {
		return http.ErrUseLastResponse
	}
	if len(via) >= 10 {
		return errRedirectLoop
	}
	return nil
}

// request is one HTTP exchange, described so that it can be sent again.
type request struct {
	op          string // names the operation in errors and logs
	method      string
	url         string
	body        []byte
	contentType string
	basicAuth   bool   // authenticate as the OAuth client (token endpoint)
	bearer      string // access token, for API calls
	// idempotent says a 5xx or a lost answer may be retried blindly. Only
	// creating a subscription is not: a retry could create a second one.
	idempotent bool
	// failed, when set, hears of every failed attempt, so that a caller
	// that stops waiting can say why (see tokenCache.get).
	failed func(error)
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// maxBody bounds what we read of an answer; CXone's are a few KiB.
const maxBody = 1 << 20

// send performs r, retrying 429s, 5xx answers and network errors within the
// retry policy. It returns every other answer, 401 and 403 included, for the
// caller to interpret.
func (c *Client) send(ctx context.Context, r request) (*response, error) {
	ctx, cancel := c.ensureBudget(ctx)
	defer cancel()
	b := c.newBackoff(r.op)
	// last is the latest failure that says what went wrong: an attempt cut
	// short because the budget or the caller ran out says only that, and
	// under a slow machine the reason (a timeout on each attempt) was lost.
	var last error
	for {
		b.attempt++
		resp, err := c.attempt(ctx, r)
		status, retryAfter := 0, time.Duration(-1)
		switch {
		case err != nil:
			failure := fmt.Errorf("%s %s: %w", r.method, stripQuery(r.url), err)
			if ctx.Err() != nil {
				if last == nil {
					last = failure
				}
				return nil, b.stopped(ctx, last)
			}
			last = failure
			if !retryableNetError(err) {
				return nil, fmt.Errorf("cxone: %s: %w", r.op, last)
			}
			if !r.idempotent {
				return nil, &uncertainError{err: fmt.Errorf("cxone: %s: outcome unknown: %w", r.op, last), retryAfter: -1}
			}
		case retryableStatus(resp.status):
			last = c.apiError(r, resp)
			status, retryAfter = resp.status, parseRetryAfter(resp.header, time.Now())
			if !r.idempotent && resp.status != http.StatusTooManyRequests {
				return nil, &uncertainError{err: last, retryAfter: retryAfter}
			}
		default:
			return resp, nil
		}
		if r.failed != nil {
			r.failed(last)
		}
		if err := b.wait(ctx, last, status, retryAfter); err != nil {
			return nil, err
		}
	}
}

// attempt is one HTTP exchange under the per-attempt timeout.
func (c *Client) attempt(parent context.Context, r request) (*response, error) {
	ctx, cancel := context.WithTimeout(parent, c.requestTimeout)
	defer cancel()
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "cxsms-cxone/1")
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	switch {
	case r.basicAuth:
		// RFC 6749 2.3.1: id and secret are form-encoded before Basic
		// encoding, so a secret containing ':' or '%' survives.
		req.SetBasicAuth(url.QueryEscape(c.cfg.ClientID), url.QueryEscape(c.cfg.ClientSecret.Reveal()))
	case r.bearer != "":
		req.Header.Set("Authorization", "Bearer "+r.bearer)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil && parent.Err() == nil {
			// Say it was this attempt's timeout: "context deadline
			// exceeded" alone reads as if the whole operation ran out.
			return nil, fmt.Errorf("no answer within %s: %w", c.requestTimeout, netError(err))
		}
		return nil, netError(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if len(data) > maxBody {
		return nil, fmt.Errorf("answer larger than %d bytes", maxBody)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// api sends an authenticated API request. A 401 may only mean CXone revoked
// or expired the token early, so the token is dropped and the request tried
// once more with a fresh one; a second 401, a 403 or any other non-2xx
// answer becomes a typed error.
func (c *Client) api(ctx context.Context, r request) (*response, error) {
	ctx, cancel := c.ensureBudget(ctx)
	defer cancel()
	for retried := false; ; retried = true {
		tok, err := c.tokens.get(ctx)
		if err != nil {
			return nil, err
		}
		r.bearer = tok
		resp, err := c.send(ctx, r)
		if err != nil {
			return nil, err
		}
		switch {
		case resp.status == http.StatusUnauthorized && !retried:
			c.tokens.invalidate(tok)
			c.log.WithField("op", r.op).Info("cxone: token refused (401), fetching a new one and trying once more")
			continue
		case resp.status == http.StatusUnauthorized:
			return nil, &AuthError{Op: r.op, StatusCode: resp.status, Code: c.oauthCode(resp.body, tok), Fix: "CXone refused a freshly issued token: " +
				"the token endpoint and the API are probably different tenants or regions " +
				"(compare CXONE_TOKEN_URL/CXONE_ISSUER with CXONE_API_URL/CXONE_DOMAIN), or the OAuth client was disabled"}
		case resp.status == http.StatusForbidden:
			return nil, &AuthError{Op: r.op, StatusCode: resp.status, Code: c.oauthCode(resp.body, tok), forbidden: true, Fix: "the OAuth client may not do this: " +
				"give it the scope webhooks:manage (and webhooks:read), assign the Webhook Admin and Messaging Admin roles " +
				"in the CXone admin console, and check that CXONE_API_URL/CXONE_DOMAIN is the tenant the client belongs to"}
		case resp.status < 200 || resp.status > 299:
			return nil, c.apiError(r, resp)
		}
		return resp, nil
	}
}

// apiError describes an answer we cannot use, with CXone's text shortened
// and scrubbed of our secrets and of the token the request carried.
func (c *Client) apiError(r request, resp *response) *APIError {
	e := &APIError{Op: r.op, Method: r.method, URL: stripQuery(r.url), StatusCode: resp.status}
	var body struct {
		Error            json.RawMessage `json:"error"`
		ErrorDescription string          `json:"error_description"`
		Message          string          `json:"message"`
	}
	if json.Unmarshal(resp.body, &body) == nil {
		var code string
		if json.Unmarshal(body.Error, &code) == nil {
			e.Code = c.scrub(code, r.bearer)
		}
		e.Message = c.scrub(firstNonEmpty(body.ErrorDescription, body.Message), r.bearer)
	}
	if e.Code == "" && e.Message == "" {
		e.Message = c.scrub(string(resp.body), r.bearer)
	}
	if resp.status >= 300 && resp.status < 400 {
		e.Message = redirectMessage(r.url, resp.header.Get("Location"))
	}
	return e
}

// redirectMessage explains a 3xx: the client does not follow redirects of
// anything but a GET, and a CXone API that redirects is most likely being
// reached at an old or wrong address.
func redirectMessage(from, location string) string {
	if location == "" {
		return "redirected without a Location; check CXONE_API_URL/CXONE_DOMAIN and the token endpoint"
	}
	where := "(unparsable URL)"
	if base, err := url.Parse(from); err == nil {
		if u, err := base.Parse(location); err == nil {
			where = stripQuery(u.String())
		}
	}
	return "redirected to " + where + ", which is not followed for this request: " +
		"point CXONE_API_URL/CXONE_DOMAIN (or the token endpoint) at the address CXone redirects to"
}

// scrub shortens server text for an error message and removes any secret
// of ours from it: a validation error that echoes the request body would
// otherwise carry the webhook secret into a log line.
func (c *Client) scrub(s string, extra ...string) string {
	secrets := append([]string{c.cfg.ClientSecret.Reveal(), c.cfg.AccessKeySecret.Reveal(), c.cfg.WebhookSecret.Reveal()}, extra...)
	s = redactSecrets(s, secrets)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// redactSecrets removes every secret from s: first in the whole forms
// echoForms lists (which cover layered encodings, such as base64 of JSON),
// then in any mix of escapes, read one at a time (redactDecoded).
func redactSecrets(s string, secrets []string) string {
	type form struct {
		text  string
		short bool
	}
	var forms []form
	var plain []string
	for _, v := range secrets {
		if v == "" {
			continue
		}
		plain = append(plain, v)
		for _, f := range echoForms(v) {
			forms = append(forms, form{f, len(v) < minWordSecret})
		}
	}
	// Longest first, so that a secret containing another goes whole.
	slices.SortStableFunc(forms, func(a, b form) int { return len(b.text) - len(a.text) })
	for _, f := range forms {
		s = redact(s, f.text, f.short)
	}
	slices.SortStableFunc(plain, func(a, b string) int { return len(b) - len(a) })
	for _, v := range plain {
		s = redactDecoded(s, v, len(v) < minWordSecret)
	}
	return s
}

// minWordSecret is the length under which a secret is redacted only where
// it stands alone. A secret of a few letters also occurs inside ordinary
// words, and cutting it out of them would garble CXone's message while
// hiding nothing: a reader cannot tell which part of which word it was.
const minWordSecret = 8

// echoForms are the shapes in which a secret can come back in an answer:
// as sent, form- or path-escaped (a token endpoint echoing its form body),
// JSON-escaped with or without HTML escaping and escaped slashes (an API
// echoing the subscription we posted); each of those HTML-escaped (an
// error page showing the request) or base64-encoded (an echoed Basic
// credential, or a body or header shown encoded).
func echoForms(v string) []string {
	sent := []string{v, url.QueryEscape(v), url.PathEscape(v)}
	if j, err := json.Marshal(v); err == nil {
		sent = append(sent, string(j[1:len(j)-1]))
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if enc.Encode(v) == nil {
		j := strings.TrimSpace(b.String())
		j = j[1 : len(j)-1]
		sent = append(sent, j, strings.ReplaceAll(j, "/", `\/`))
	}
	forms := slices.Clone(sent)
	for _, f := range sent {
		for _, r := range htmlEscapers {
			forms = append(forms, r.Replace(f))
		}
		forms = append(forms, base64Forms(f, len(v) >= minWordSecret)...)
	}
	slices.Sort(forms)
	return slices.Compact(forms)
}

// htmlEscapers are the ways an error page may escape text: all escape &,
// < and >, but they differ on quotes, which some leave alone and others
// write as &quot;, &apos; or a decimal or hexadecimal reference (Go's
// html.EscapeString writes &#34; and &#39;).
var htmlEscapers = []*strings.Replacer{
	strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;"),
	strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;"),
	strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;"),
	strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#039;"),
	strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#x27;"),
	strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;"),
}

// base64Forms are the shapes of v base64-encoded, in the standard and the
// URL alphabet: whole, padded or not, and, when inside is set, as it
// reads inside a longer encoded text. There each 3 bytes become 4
// characters, so v encodes one of three ways, by where it starts in a
// group of 3; of each way, only the characters no byte around v shares
// are the same in every text, and they are what is redacted (at most one
// character at each end is left). Only for a secret long enough that
// those characters cannot be met by chance.
func base64Forms(v string, inside bool) []string {
	var forms []string
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		whole := enc.EncodeToString([]byte(v))
		forms = append(forms, whole, strings.TrimRight(whole, "="))
		if !inside {
			continue
		}
		for lead := range 3 {
			e := enc.EncodeToString(append(make([]byte, lead), v...))
			// Character i encodes bits 6i to 6i+6 of the text; v's bits
			// run from 8*lead to 8*(lead+len(v)).
			from, to := (8*lead+5)/6, 8*(lead+len(v))/6
			forms = append(forms, e[from:to])
		}
	}
	return forms
}

// redact replaces secret in s; a short one only where it is not part of a
// longer word.
func redact(s, secret string, short bool) string {
	if !short {
		return strings.ReplaceAll(s, secret, redacted)
	}
	var b strings.Builder
	start, from := 0, 0
	for {
		i := strings.Index(s[from:], secret)
		if i < 0 {
			break
		}
		i += from
		end := i + len(secret)
		if wordByteAt(s, i-1) || wordByteAt(s, end) {
			from = i + 1
			continue
		}
		b.WriteString(s[start:i])
		b.WriteString(redacted)
		start, from = end, end
	}
	b.WriteString(s[start:])
	return b.String()
}

// wordByteAt reports whether s[i] exists and belongs to a word (a letter,
// a digit, an underscore, or part of a non-ASCII character).
func wordByteAt(s string, i int) bool {
	if i < 0 || i >= len(s) {
		return false
	}
	c := s[i]
	return c >= 0x80 || c == '_' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

// oauthCode is the OAuth error code of an answer, scrubbed like any text
// CXone sends: a server may put the credential it refused in it.
func (c *Client) oauthCode(body []byte, extra ...string) string {
	var v struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	if len(v.Error) > 64 {
		return ""
	}
	return c.scrub(v.Error, extra...)
}

// retryableNetError: a refused connection, a reset or a timeout may well
// work next time; a certificate that does not verify, or a redirect loop,
// will not.
func retryableNetError(err error) bool {
	var certErr *tls.CertificateVerificationError
	return !errors.As(err, &certErr) && !errors.Is(err, errRedirectLoop)
}

// netError unwraps the *url.Error around a transport failure: its URL may
// carry a query into a log line, and callers name the request themselves.
func netError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// stripQuery returns u without userinfo, query or fragment: the parts that
// may carry credentials.
func stripQuery(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	p.User, p.RawQuery, p.ForceQuery, p.Fragment, p.RawFragment = nil, "", false, "", ""
	return p.String()
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
