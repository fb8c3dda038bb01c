package cxone

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// refreshMargin is how long before expiry a token stops being handed out,
// so that a request never leaves with a token that expires on the way.
const refreshMargin = 60 * time.Second

// assumedLifetime applies when the token endpoint gives no expires_in
// (RFC 6749 only recommends it). A 401 drops the token earlier if need be.
const assumedLifetime = 5 * time.Minute

type token struct {
	value     string
	refreshAt time.Time // hand it out until then
	expiresAt time.Time
}

// tokenCache hands out one token to all callers and runs at most one fetch
// at a time: the callers that find the token stale while a fetch is in
// flight wait for that fetch instead of starting their own. (It is what
// golang.org/x/sync/singleflight does, in the few lines this needs.)
type tokenCache struct {
	// fetch gets a new token; it calls failed with each attempt that
	// failed, for callers who stop waiting before it ends.
	fetch func(ctx context.Context, failed func(error)) (token, error)
	now   func() time.Time

	mu     sync.Mutex
	cur    *token
	flight *tokenFlight
}

type tokenFlight struct {
	done    chan struct{} // closed when tok and err are set
	waiters int
	cancel  context.CancelFunc
	tok     token
	err     error
	last    error // the latest failed attempt, guarded by tokenCache.mu
}

// get returns a valid token, fetching one if needed. The fetch runs detached
// from any one caller's context, so that the first caller giving up does not
// fail everyone waiting with it; it is cancelled only when every waiter has
// given up.
func (tc *tokenCache) get(ctx context.Context) (string, error) {
	tc.mu.Lock()
	if t := tc.cur; t != nil && tc.now().Before(t.refreshAt) {
		tc.mu.Unlock()
		return t.value, nil
	}
	f := tc.flight
	if f == nil {
		fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		f = &tokenFlight{done: make(chan struct{}), cancel: cancel}
		tc.flight = f
		go tc.run(fctx, f)
	}
	f.waiters++
	tc.mu.Unlock()

	select {
	case <-f.done:
		return f.tok.value, f.err
	case <-ctx.Done():
		tc.mu.Lock()
		f.waiters--
		if f.waiters == 0 && tc.flight == f {
			f.cancel()
			tc.flight = nil
		}
		last := f.last
		tc.mu.Unlock()
		// Without the fetch's own failure, "time budget spent" would not
		// say that the token endpoint was the slow or failing part.
		if last != nil {
			return "", fmt.Errorf("cxone: waiting for an access token: %w; last failure: %s", context.Cause(ctx), errorSummary(last))
		}
		return "", fmt.Errorf("cxone: waiting for an access token: %w (the token endpoint has not answered yet)", context.Cause(ctx))
	}
}

func (tc *tokenCache) run(ctx context.Context, f *tokenFlight) {
	defer f.cancel()
	tok, err := tc.fetch(ctx, func(err error) {
		tc.mu.Lock()
		f.last = err
		tc.mu.Unlock()
	})
	tc.mu.Lock()
	if tc.flight == f {
		tc.flight = nil
	}
	if err == nil {
		// Kept even if every waiter left: the token is good and was paid for.
		tc.cur = &tok
	}
	f.tok, f.err = tok, err
	tc.mu.Unlock()
	close(f.done)
}

// invalidate drops value if it is still the current token. Comparing
// matters: when many requests get a 401 together, only the first drop
// should take effect, not throw away the token the first one re-fetched.
func (tc *tokenCache) invalidate(value string) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.cur != nil && tc.cur.value == value {
		tc.cur = nil
	}
}

// fetchToken asks the token endpoint for a new token, under its own time
// budget (it runs detached from the callers' contexts).
func (c *Client) fetchToken(ctx context.Context, failed func(error)) (tok token, err error) {
	if c.cfgErr != nil {
		return token{}, c.cfgErr
	}
	ctx, cancel := c.withBudget(ctx)
	defer cancel()
	defer func() {
		if c.hooks.TokenRefresh != nil {
			c.hooks.TokenRefresh(err)
		}
	}()

	endpoint, err := c.tokenEndpoint(ctx, failed)
	if err != nil {
		return token{}, err
	}
	if u, err := url.Parse(endpoint); err == nil && u.Scheme != "https" && !isLocalHost(strings.ToLower(u.Hostname())) {
		c.log.WithField("endpoint", stripQuery(endpoint)).Warn("cxone: the token endpoint is plain http; the client secret travels in clear text")
	}
	grant := c.cfg.grant()
	form := url.Values{"grant_type": {string(grant)}, "scope": {Scope}}
	if grant == GrantPassword {
		form.Set("username", c.cfg.AccessKeyID)
		form.Set("password", c.cfg.AccessKeySecret.Reveal())
	}
	sentAt := c.now()
	resp, err := c.send(ctx, request{
		op: "fetch token", method: http.MethodPost, url: endpoint,
		body: []byte(form.Encode()), contentType: "application/x-www-form-urlencoded",
		basicAuth: true, idempotent: true, failed: failed,
	})
	if err != nil {
		return token{}, err
	}
	if resp.status != http.StatusOK {
		return token{}, c.tokenError(endpoint, resp)
	}

	var tr struct {
		AccessToken string      `json:"access_token"`
		TokenType   string      `json:"token_type"`
		ExpiresIn   json.Number `json:"expires_in"`
		Scope       string      `json:"scope"`
	}
	if err := json.Unmarshal(resp.body, &tr); err != nil || tr.AccessToken == "" {
		return token{}, fmt.Errorf("cxone: fetch token: %s answered 200 without a usable access_token", stripQuery(endpoint))
	}
	if tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "bearer") {
		return token{}, fmt.Errorf("cxone: fetch token: token_type %q is not bearer", tr.TokenType)
	}
	lifetime := assumedLifetime
	if secs, err := strconv.ParseFloat(tr.ExpiresIn.String(), 64); err == nil && secs > 0 {
		// Capped so that an absurd value cannot overflow a Duration; a
		// day-old token is refreshed regardless.
		lifetime = time.Duration(min(secs, 24*3600) * float64(time.Second))
	}
	// The clock starts when the request left, not when the answer came:
	// the token's lifetime was already running while it travelled.
	tok = token{value: tr.AccessToken, expiresAt: sentAt.Add(lifetime), refreshAt: sentAt.Add(lifetime - margin(lifetime))}

	fields := map[string]any{"grant": string(grant), "endpoint": stripQuery(endpoint), "expires_in": lifetime.String()}
	if tr.Scope != "" {
		fields["scope"] = tr.Scope
		if !hasScope(tr.Scope, "webhooks:manage") {
			c.log.WithFields(fields).Warn("cxone: the token lacks scope webhooks:manage; CXone will refuse to register the webhook")
		}
	}
	c.log.WithFields(fields).Info("cxone: fetched access token")
	return tok, nil
}

// margin is refreshMargin, except for tokens that live less than twice as
// long: a 60 s margin on a 90 s token would leave it usable for half a
// minute and then fetch a new one on every call.
func margin(lifetime time.Duration) time.Duration {
	return min(refreshMargin, lifetime/2)
}

func hasScope(granted, want string) bool {
	return slices.Contains(strings.Fields(granted), want)
}

// tokenError turns a refusal from the token endpoint (RFC 6749 5.2) into
// what to change.
func (c *Client) tokenError(endpoint string, resp *response) error {
	code := c.oauthCode(resp.body)
	e := &AuthError{Op: "fetch token", StatusCode: resp.status, Code: code}
	credentials := "check CXONE_CLIENT_ID and CXONE_CLIENT_SECRET (the OAuth client in the CXone admin console)"
	if c.cfg.grant() == GrantPassword {
		credentials += " and CXONE_ACCESS_KEY_ID / CXONE_ACCESS_KEY_SECRET (an active access key of the user)"
	}
	where := fmt.Sprintf(", and that %s is your tenant's token endpoint", stripQuery(endpoint))
	switch {
	case code == "invalid_scope":
		e.Fix = fmt.Sprintf("the OAuth client may not have the scopes %q: add them to the client in the CXone admin console", Scope)
		e.forbidden = true
	case code == "unauthorized_client" || code == "unsupported_grant_type":
		e.Fix = fmt.Sprintf("this OAuth client may not use the %s grant: enable it for the client in CXone, or set CXONE_GRANT to the other grant", c.cfg.grant())
		e.forbidden = true
	case code == "invalid_grant" && c.cfg.grant() == GrantPassword:
		e.Fix = "CXone refused the access key: check CXONE_ACCESS_KEY_ID and CXONE_ACCESS_KEY_SECRET, and that the key and its user are active"
	case resp.status == http.StatusUnauthorized || code == "invalid_client" || code == "invalid_grant":
		e.Fix = "CXone refused the client credentials: " + credentials + where
	case resp.status == http.StatusForbidden:
		e.Fix = "the OAuth client may not get tokens in this tenant: assign it the Webhook Admin and Messaging Admin roles in the CXone admin console" + where
		e.forbidden = true
	default:
		return c.apiError(request{op: "fetch token", method: http.MethodPost, url: endpoint}, resp)
	}
	return e
}

// tokenEndpoint resolves the token URL in the documented order: an explicit
// CXONE_TOKEN_URL, then OpenID discovery at CXONE_ISSUER, then the
// tutorial's per-domain path.
func (c *Client) tokenEndpoint(ctx context.Context, failed func(error)) (string, error) {
	switch {
	case c.cfg.TokenURL != "":
		return c.cfg.TokenURL, nil
	case c.cfg.Issuer != "":
		return c.discover(ctx, failed)
	default:
		return "https://" + c.cfg.Domain + "/api/v2/oauth/token", nil
	}
}

// discover reads the issuer's OpenID configuration once per Client; a
// failure is not cached, so the next token fetch tries again.
func (c *Client) discover(ctx context.Context, failed func(error)) (string, error) {
	c.discoverMu.Lock()
	defer c.discoverMu.Unlock()
	if c.discovered != "" {
		return c.discovered, nil
	}
	issuer := strings.TrimRight(c.cfg.Issuer, "/")
	docURL := issuer + "/.well-known/openid-configuration"
	resp, err := c.send(ctx, request{op: "discover token endpoint", method: http.MethodGet, url: docURL, idempotent: true, failed: failed})
	if err != nil {
		return "", err
	}
	hint := "check CXONE_ISSUER (CXone's is https://cxone.niceincontact.com) or set CXONE_TOKEN_URL"
	if resp.status != http.StatusOK {
		return "", fmt.Errorf("%w; %s", c.apiError(request{op: "discover token endpoint", method: http.MethodGet, url: docURL}, resp), hint)
	}
	var doc struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
	}
	if err := json.Unmarshal(resp.body, &doc); err != nil {
		return "", fmt.Errorf("cxone: discover token endpoint: %s is not an OpenID configuration: %v; %s", docURL, err, hint)
	}
	// OpenID Connect Discovery 1.0, 4.3: the document must name the issuer
	// it was fetched for, or it may be someone else's.
	if strings.TrimRight(doc.Issuer, "/") != issuer {
		return "", fmt.Errorf("cxone: discover token endpoint: %s names issuer %q, not %q; %s", docURL, doc.Issuer, issuer, hint)
	}
	if err := checkBaseURL(doc.TokenEndpoint); err != nil {
		return "", fmt.Errorf("cxone: discover token endpoint: token_endpoint %v; %s", err, hint)
	}
	c.discovered = doc.TokenEndpoint
	c.log.WithFields(map[string]any{"issuer": issuer, "token_endpoint": stripQuery(doc.TokenEndpoint)}).Info("cxone: discovered token endpoint")
	return c.discovered, nil
}
