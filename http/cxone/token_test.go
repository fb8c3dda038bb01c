package cxone

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cxsms/cxsms/http/cxone/fakecxone"
)

func TestConcurrentCallsShareOneTokenRequest(t *testing.T) {
	e := newEnv(t, fakecxone.Options{})
	// A slow token endpoint makes sure all callers find the cache empty
	// while the first fetch is still in flight.
	e.fake.InjectFault(fakecxone.Fault{Path: fakecxone.PathToken, Delay: 150 * time.Millisecond})
	c := e.client(e.cfg)

	const callers = 50
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.listWebhooks(t.Context())
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("list webhooks: %v", err)
		}
	}
	if n := e.fake.TokenRequests(); n != 1 {
		t.Errorf("token requests = %d, want 1 for %d concurrent calls", n, callers)
	}
	if n := e.fake.RequestCount(http.MethodGet, fakecxone.PathWebhooks); n != callers {
		t.Errorf("list requests = %d, want %d", n, callers)
	}
}

func TestTokenRefreshedBeforeExpiry(t *testing.T) {
	e := newEnv(t, fakecxone.Options{TokenTTL: 120 * time.Second})
	clock := &testClock{t: time.Now()}
	c := e.client(e.cfg, withNow(clock.now))
	ctx := t.Context()

	first, err := c.tokens.get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	clock.advance(59 * time.Second) // 61 s left: still outside the 60 s margin
	again, err := c.tokens.get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again != first || e.fake.TokenRequests() != 1 {
		t.Fatalf("token replaced %s before the refresh margin (requests %d)", "59 s", e.fake.TokenRequests())
	}

	clock.advance(2 * time.Second) // 59 s left: inside the margin
	fresh, err := c.tokens.get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fresh == first || e.fake.TokenRequests() != 2 {
		t.Fatalf("token not refreshed 59 s before expiry (requests %d)", e.fake.TokenRequests())
	}
	// The fake runs on real time, so the old token is still valid there:
	// the refresh happened before expiry, not after a failure.
	if _, err := c.listWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.fake.RequestCount("", fakecxone.PathWebhooks); n != 1 {
		t.Errorf("API requests = %d, want 1 (no 401 round trip)", n)
	}
}

func TestShortLivedTokenStillReused(t *testing.T) {
	for _, tc := range []struct{ lifetime, margin time.Duration }{
		{time.Hour, 60 * time.Second},
		{120 * time.Second, 60 * time.Second},
		{90 * time.Second, 45 * time.Second},
		{2 * time.Second, time.Second},
	} {
		if got := margin(tc.lifetime); got != tc.margin {
			t.Errorf("margin(%s) = %s, want %s", tc.lifetime, got, tc.margin)
		}
	}

	e := newEnv(t, fakecxone.Options{TokenTTL: 30 * time.Second})
	c := e.client(e.cfg)
	for range 5 {
		if _, err := c.tokens.get(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.fake.TokenRequests(); n != 1 {
		t.Errorf("a 30 s token was fetched %d times in a row, want once", n)
	}
}

func TestTokenWaitStopsWithCallerContext(t *testing.T) {
	e := newEnv(t, fakecxone.Options{})
	e.fake.InjectFault(fakecxone.Fault{Path: fakecxone.PathToken, Delay: 5 * time.Second})
	c := e.client(e.cfg)

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.tokens.get(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("returned after %s, want promptly after the caller's deadline", d)
	}
	// The abandoned fetch was cancelled with its last waiter (the fake saw
	// the request dropped unanswered); the next caller starts a fresh one.
	if _, err := c.tokens.get(t.Context()); err != nil {
		t.Fatalf("after an abandoned fetch: %v", err)
	}
	// The fake logs the dropped request when it notices the hang-up, which
	// may come after the second request.
	var reqs []fakecxone.Request
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if reqs = e.fake.Requests(); len(reqs) >= 2 {
			break
		}
	}
	statuses := map[int]int{}
	for _, r := range reqs {
		statuses[r.Status]++
	}
	if len(reqs) != 2 || statuses[0] != 1 || statuses[http.StatusOK] != 1 {
		t.Errorf("token requests = %+v, want one abandoned (status 0) and one 200", reqs)
	}
}

func TestWrongClientSecretNamesTheFix(t *testing.T) {
	e := newEnv(t, fakecxone.Options{})
	cfg := e.cfg
	cfg.ClientSecret = "not-the-secret"
	_, err := e.client(cfg).listWebhooks(t.Context())

	var ae *AuthError
	if !errors.As(err, &ae) || !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("err = %v, want an *AuthError matching ErrUnauthorized", err)
	}
	for _, want := range []string{"401", "invalid_client", "CXONE_CLIENT_ID", "CXONE_CLIENT_SECRET"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if n := e.fake.TokenRequests(); n != 1 {
		t.Errorf("token requests = %d: a credentials error must not be retried", n)
	}
}

func TestPasswordGrant(t *testing.T) {
	e := newEnv(t, fakecxone.Options{AccessKeyID: "AK-1", AccessKeySecret: "ak-secret"})
	cfg := e.cfg
	cfg.Grant, cfg.AccessKeyID, cfg.AccessKeySecret = GrantPassword, "AK-1", "ak-secret"
	if _, err := e.client(cfg).listWebhooks(t.Context()); err != nil {
		t.Fatalf("password grant: %v", err)
	}

	cfg.AccessKeySecret = "wrong"
	_, err := e.client(cfg).listWebhooks(t.Context())
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "CXONE_ACCESS_KEY_SECRET") {
		t.Fatalf("wrong access key: err = %v, want ErrUnauthorized naming CXONE_ACCESS_KEY_SECRET", err)
	}

	// A client not allowed the grant hears which setting to change.
	e2 := newEnv(t, fakecxone.Options{})
	cfg2 := e2.cfg
	cfg2.Grant, cfg2.AccessKeyID, cfg2.AccessKeySecret = GrantPassword, "AK-1", "ak-secret"
	_, err = e2.client(cfg2).listWebhooks(t.Context())
	if !errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), "CXONE_GRANT") {
		t.Fatalf("grant not allowed: err = %v, want ErrForbidden naming CXONE_GRANT", err)
	}
}

func TestDiscoveryUsedWhenIssuerSet(t *testing.T) {
	e := newEnv(t, fakecxone.Options{})
	cfg := e.cfg
	cfg.TokenURL, cfg.Issuer = "", e.srv.URL
	c := e.client(cfg)
	if _, err := c.listWebhooks(t.Context()); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, r := range e.fake.Requests() {
		paths = append(paths, r.Method+" "+r.Path)
	}
	want := []string{"GET " + fakecxone.PathDiscovery, "POST " + fakecxone.PathToken, "GET " + fakecxone.PathWebhooks}
	if strings.Join(paths, ",") != strings.Join(want, ",") {
		t.Errorf("requests = %v, want %v", paths, want)
	}

	// The endpoint is discovered once, not per token.
	tok, _ := c.tokens.get(t.Context())
	c.tokens.invalidate(tok)
	if _, err := c.tokens.get(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := e.fake.RequestCount("", fakecxone.PathDiscovery); n != 1 {
		t.Errorf("discovery requests = %d, want 1", n)
	}
}

func TestDiscoveryRefusesAnotherIssuersDocument(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"issuer":"https://evil.example","token_endpoint":"https://evil.example/token"}`))
	}))
	defer srv.Close()
	cfg := Config{Issuer: srv.URL, APIURL: srv.URL, ClientID: "id", ClientSecret: "secret"}
	_, err := New(cfg, WithHTTPClient(srv.Client()), WithRetryPolicy(fastRetry)).tokens.get(t.Context())
	if err == nil || !strings.Contains(err.Error(), "names issuer") || !strings.Contains(err.Error(), "CXONE_ISSUER") {
		t.Fatalf("err = %v, want an issuer mismatch naming CXONE_ISSUER", err)
	}
}

func TestDomainFallbackUsesTutorialTokenPath(t *testing.T) {
	fake := fakecxone.New(fakecxone.Options{})
	srv := httptest.NewTLSServer(fake)
	defer srv.Close()
	cfg := Config{
		Domain:   strings.TrimPrefix(srv.URL, "https://"),
		ClientID: fakecxone.DefaultClientID, ClientSecret: fakecxone.DefaultClientSecret,
	}
	if _, err := New(cfg, WithHTTPClient(srv.Client())).listWebhooks(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := fake.RequestCount(http.MethodPost, fakecxone.PathTokenLegacy); n != 1 {
		t.Errorf("requests to %s = %d, want 1", fakecxone.PathTokenLegacy, n)
	}
}

// A token endpoint slower than the per-attempt timeout used to end in
// "waiting for an access token: time budget spent", with no word of why.
func TestSlowTokenEndpointErrorNamesTheCause(t *testing.T) {
	e := newEnv(t, fakecxone.Options{})
	e.fake.InjectFault(fakecxone.Fault{Path: fakecxone.PathToken, Delay: 5 * time.Second, Count: 20})
	c := e.client(e.cfg, WithRequestTimeout(100*time.Millisecond),
		WithRetryPolicy(RetryPolicy{MaxAttempts: 20, MaxElapsed: 500 * time.Millisecond, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}))
	_, err := c.EnsureWebhook(t.Context(), callback)
	if err == nil || !strings.Contains(err.Error(), "no answer within 100ms") || !strings.Contains(err.Error(), fakecxone.PathToken) {
		t.Fatalf("err = %v, want the token fetch's timeout as the cause", err)
	}
}
