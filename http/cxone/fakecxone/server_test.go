package fakecxone_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cxsms/cxsms/http/cxone/fakecxone"
)

func start(t *testing.T, opts fakecxone.Options) (*fakecxone.Server, *httptest.Server) {
	t.Helper()
	fake := fakecxone.New(opts)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return fake, srv
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func do(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, header: resp.Header}
	data, _ := io.ReadAll(resp.Body)
	json.Unmarshal(data, &a.body)
	return a
}

// tokenRequest builds a correct RFC 6749 request; tests then break it.
func tokenRequest(t *testing.T, base string, form url.Values) *http.Request {
	req, err := http.NewRequest(http.MethodPost, base+fakecxone.PathToken, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(fakecxone.DefaultClientID, fakecxone.DefaultClientSecret)
	return req
}

func token(t *testing.T, base string) string {
	t.Helper()
	a := do(t, tokenRequest(t, base, url.Values{"grant_type": {"client_credentials"}}))
	tok, _ := a.body["access_token"].(string)
	if a.status != http.StatusOK || tok == "" {
		t.Fatalf("token: %d %v", a.status, a.body)
	}
	return tok
}

func api(t *testing.T, method, u, tok string, body any) answer {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, u, r)
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return do(t, req)
}

func TestTokenEndpointIsStrictAboutOAuth(t *testing.T) {
	fake, srv := start(t, fakecxone.Options{AccessKeyID: "AK", AccessKeySecret: "aks", TokenTTL: 90 * time.Second})
	cc := url.Values{"grant_type": {"client_credentials"}, "scope": {"webhooks:manage webhooks:read"}}

	ok := do(t, tokenRequest(t, srv.URL, cc))
	if ok.status != http.StatusOK || ok.body["token_type"] != "Bearer" || ok.body["expires_in"] != float64(90) ||
		ok.body["scope"] != "webhooks:manage webhooks:read" || ok.header.Get("Cache-Control") != "no-store" {
		t.Errorf("good request: %d %v %v", ok.status, ok.body["expires_in"], ok.header)
	}

	jsonBody := tokenRequest(t, srv.URL, cc)
	jsonBody.Header.Set("Content-Type", "application/json") // the tutorial's mistake
	noAuth := tokenRequest(t, srv.URL, cc)
	noAuth.Header.Del("Authorization")
	badSecret := tokenRequest(t, srv.URL, cc)
	badSecret.SetBasicAuth(fakecxone.DefaultClientID, "nope")
	for _, tc := range []struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{
		{"JSON body", jsonBody, 400, "invalid_request"},
		{"no client auth", noAuth, 401, "invalid_client"},
		{"wrong secret", badSecret, 401, "invalid_client"},
		{"unknown grant", tokenRequest(t, srv.URL, url.Values{"grant_type": {"implicit"}}), 400, "unsupported_grant_type"},
		{"scope not allowed", tokenRequest(t, srv.URL, url.Values{"grant_type": {"client_credentials"}, "scope": {"admin"}}), 400, "invalid_scope"},
		{"wrong access key", tokenRequest(t, srv.URL, url.Values{"grant_type": {"password"}, "username": {"AK"}, "password": {"x"}}), 400, "invalid_grant"},
		{"right access key", tokenRequest(t, srv.URL, url.Values{"grant_type": {"password"}, "username": {"AK"}, "password": {"aks"}}), 200, ""},
		{"legacy path", func() *http.Request {
			r := tokenRequest(t, srv.URL, cc)
			r.URL.Path = fakecxone.PathTokenLegacy
			return r
		}(), 200, ""},
	} {
		a := do(t, tc.req)
		if a.status != tc.status || (tc.code != "" && a.body["error"] != tc.code) {
			t.Errorf("%s: %d %v, want %d %s", tc.name, a.status, a.body["error"], tc.status, tc.code)
		}
	}
	if got := fake.TokenRequests(); got != 9 {
		t.Errorf("TokenRequests = %d, want 9", got)
	}
	if got := fake.TokensIssued(); got != 3 {
		t.Errorf("TokensIssued = %d, want 3", got)
	}

	// Without an access key configured, the password grant is refused.
	_, plain := start(t, fakecxone.Options{})
	a := do(t, tokenRequest(t, plain.URL, url.Values{"grant_type": {"password"}, "username": {"AK"}, "password": {"aks"}}))
	if a.status != 400 || a.body["error"] != "unauthorized_client" {
		t.Errorf("password grant without access key: %d %v", a.status, a.body)
	}
}

func TestDiscoveryNamesItsOwnTokenEndpoint(t *testing.T) {
	_, srv := start(t, fakecxone.Options{})
	a := api(t, http.MethodGet, srv.URL+fakecxone.PathDiscovery, "", nil)
	if a.status != 200 || a.body["issuer"] != srv.URL || a.body["token_endpoint"] != srv.URL+fakecxone.PathToken {
		t.Errorf("discovery: %d %v", a.status, a.body)
	}
}

func TestAPIChecksTokens(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	_, srv := start(t, fakecxone.Options{TokenTTL: time.Minute, Now: clock})
	list := srv.URL + fakecxone.PathWebhooks

	if a := api(t, http.MethodGet, list, "", nil); a.status != 401 || a.header.Get("WWW-Authenticate") == "" {
		t.Errorf("no token: %d", a.status)
	}
	if a := api(t, http.MethodGet, list, "made-up", nil); a.status != 401 {
		t.Errorf("token not issued by the fake: %d", a.status)
	}
	tok := token(t, srv.URL)
	if a := api(t, http.MethodGet, list, tok, nil); a.status != 200 {
		t.Errorf("valid token: %d", a.status)
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	if a := api(t, http.MethodGet, list, tok, nil); a.status != 401 || a.body["error"] != "invalid_token" {
		t.Errorf("expired token: %d %v", a.status, a.body)
	}
}

func TestScopesAreEnforced(t *testing.T) {
	_, srv := start(t, fakecxone.Options{Scopes: []string{"webhooks:read"}})
	tok := token(t, srv.URL)
	if a := api(t, http.MethodGet, srv.URL+fakecxone.PathWebhooks, tok, nil); a.status != 200 {
		t.Errorf("list with webhooks:read: %d", a.status)
	}
	a := api(t, http.MethodPost, srv.URL+fakecxone.PathWebhooks, tok, sub("https://x.example/cb", "s"))
	if a.status != 403 || a.body["error"] != "insufficient_scope" {
		t.Errorf("create without webhooks:manage: %d %v", a.status, a.body)
	}
}

func sub(callback, secret string) map[string]any {
	return map[string]any{
		"name": "sms-status-webhook", "callbackUrl": callback, "eventTypes": []string{fakecxone.EventType},
		"httpMethod": "POST", "enabled": true,
		"headers": map[string]string{"Content-Type": "application/json", "X-Webhook-Secret": secret},
	}
}

func TestSubscriptionAPI(t *testing.T) {
	fake, srv := start(t, fakecxone.Options{})
	tok := token(t, srv.URL)
	base := srv.URL + fakecxone.PathWebhooks

	created := api(t, http.MethodPost, base, tok, sub("https://x.example/cb", "one"))
	id, _ := created.body["id"].(string)
	if created.status != 201 || id == "" {
		t.Fatalf("create: %d %v", created.status, created.body)
	}
	if a := api(t, http.MethodPost, base, tok, map[string]any{"name": "x", "callbackUrl": "not a url", "eventTypes": []string{"e"}}); a.status != 400 {
		t.Errorf("invalid body: %d", a.status)
	}
	if a := api(t, http.MethodPut, base+"/"+id, tok, sub("https://x.example/cb", "two")); a.status != 200 {
		t.Errorf("update: %d %v", a.status, a.body)
	}
	if a := api(t, http.MethodPut, base+"/wh-404", tok, sub("https://x.example/cb", "two")); a.status != 404 {
		t.Errorf("update unknown: %d", a.status)
	}
	list := api(t, http.MethodGet, base, tok, nil)
	hooks, _ := list.body["webhooks"].([]any)
	if len(hooks) != 1 {
		t.Fatalf("list: %v", list.body)
	}
	h := hooks[0].(map[string]any)
	if h["id"] != id || h["callbackUrl"] != "https://x.example/cb" || h["enabled"] != true ||
		h["headers"].(map[string]any)["X-Webhook-Secret"] != "two" {
		t.Errorf("listed: %v", h)
	}
	subs := fake.Subscriptions()
	if len(subs) != 1 || subs[0].Updates != 1 {
		t.Errorf("stored: %v", subs)
	}
	// Printing a subscription shows header names, never their values.
	if s := fmt.Sprintf("%v %+v %#v %s", subs[0], subs[0], subs, subs[0]); strings.Contains(s, "two") || !strings.Contains(s, "X-Webhook-Secret") {
		t.Errorf("printed subscription: %s", s)
	}
	if a := api(t, http.MethodDelete, base+"/"+id, tok, nil); a.status != 204 || len(fake.Subscriptions()) != 0 {
		t.Errorf("delete: %d", a.status)
	}
	if a := api(t, http.MethodDelete, base+"/"+id, tok, nil); a.status != 404 {
		t.Errorf("delete again: %d", a.status)
	}
}

// ListDelay holds a listing, which answers with the subscriptions as they
// were when it arrived, not with one created meanwhile: the window in
// which two registrations both list none and both create.
func TestListDelay(t *testing.T) {
	const delay = 200 * time.Millisecond
	fake, srv := start(t, fakecxone.Options{ListDelay: delay})
	tok := token(t, srv.URL)

	began := time.Now()
	time.AfterFunc(delay/4, func() { fake.AddSubscription(fakecxone.Subscription{Name: "one", CallbackURL: "https://x.example/cb"}) })
	a := api(t, http.MethodGet, srv.URL+fakecxone.PathWebhooks, tok, nil)
	if took := time.Since(began); a.status != 200 || took < delay {
		t.Fatalf("list: %d after %s, want 200 after at least %s", a.status, took, delay)
	}
	if hooks, _ := a.body["webhooks"].([]any); len(hooks) != 0 {
		t.Errorf("a listing held while a subscription was created shows %d, want none", len(hooks))
	}
	next := api(t, http.MethodGet, srv.URL+fakecxone.PathWebhooks, tok, nil)
	if hooks, _ := next.body["webhooks"].([]any); len(hooks) != 1 {
		t.Errorf("the next listing: %v, want the subscription", next.body)
	}
}

func TestFaultsApplyToTheNextRequestsOnly(t *testing.T) {
	fake, srv := start(t, fakecxone.Options{})
	tok := token(t, srv.URL)
	list := srv.URL + fakecxone.PathWebhooks
	fake.InjectFault(fakecxone.Fault{Path: fakecxone.PathWebhooks, Status: 429, RetryAfter: "2", Count: 2})
	fake.InjectFault(fakecxone.Fault{Method: http.MethodGet, Path: fakecxone.PathWebhooks, Status: 500})
	fake.InjectFault(fakecxone.Fault{Path: fakecxone.PathWebhooks, Delay: 50 * time.Millisecond})

	var got []int
	for range 5 {
		a := api(t, http.MethodGet, list, tok, nil)
		got = append(got, a.status)
		if a.status == 429 && a.header.Get("Retry-After") != "2" {
			t.Errorf("429 without Retry-After: %v", a.header)
		}
	}
	if fmt.Sprint(got) != "[429 429 500 200 200]" {
		t.Errorf("statuses = %v", got)
	}
	reqs := fake.Requests()
	last := reqs[len(reqs)-2:]
	if !last[0].Fault || last[0].Duration < 50*time.Millisecond || last[1].Fault {
		t.Errorf("slow fault not logged as such: %+v", last)
	}

	fake.InjectFault(fakecxone.Fault{Path: fakecxone.PathWebhooks, Status: 503, Count: 10})
	fake.ClearFaults()
	if a := api(t, http.MethodGet, list, tok, nil); a.status != 200 {
		t.Errorf("after ClearFaults: %d", a.status)
	}
}

func TestRequestLogHoldsNoCredentials(t *testing.T) {
	fake, srv := start(t, fakecxone.Options{})
	tok := token(t, srv.URL)
	api(t, http.MethodPost, srv.URL+fakecxone.PathWebhooks+"?access_token="+tok, tok, sub("https://x.example/cb?k=QUERYSECRET", "WHSECRET"))
	logged := fmt.Sprintf("%#v", fake.Requests())
	for _, s := range []string{tok, fakecxone.DefaultClientSecret, "WHSECRET", "QUERYSECRET"} {
		if strings.Contains(logged, s) {
			t.Errorf("request log holds a credential: %s", logged)
		}
	}
}

func TestOptionsPrintNoSecrets(t *testing.T) {
	o := fakecxone.Options{ClientID: "id", ClientSecret: "CS-SECRET", AccessKeyID: "ak", AccessKeySecret: "AK-SECRET"}
	if s := fmt.Sprintf("%v %+v %#v %s %d", o, o, o, o, o); strings.Contains(s, "SECRET") || !strings.Contains(s, "ClientID:id") {
		t.Errorf("printed options: %s", s)
	}
}

func TestListen(t *testing.T) {
	fake, err := fakecxone.Listen("127.0.0.1:0", fakecxone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	if !strings.HasPrefix(fake.URL(), "http://127.0.0.1:") {
		t.Fatalf("URL = %q", fake.URL())
	}
	a := api(t, http.MethodGet, fake.URL()+fakecxone.PathDiscovery, "", nil)
	if a.status != 200 || a.body["token_endpoint"] != fake.URL()+fakecxone.PathToken {
		t.Errorf("discovery through Listen: %d %v", a.status, a.body)
	}
}
