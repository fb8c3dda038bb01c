package cxone

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/cxsms/cxsms/http/cxone/fakecxone"
)

// testEnv is a fake CXone behind httptest and a Config pointing at it.
type testEnv struct {
	fake *fakecxone.Server
	srv  *httptest.Server
	cfg  Config
}

const testWebhookSecret = "whsec-test-0123456789"

func newEnv(t *testing.T, opts fakecxone.Options) *testEnv {
	t.Helper()
	fake := fakecxone.New(opts)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return &testEnv{
		fake: fake,
		srv:  srv,
		cfg: Config{
			TokenURL:      srv.URL + fakecxone.PathToken,
			APIURL:        srv.URL,
			Grant:         GrantClientCredentials,
			ClientID:      fakecxone.DefaultClientID,
			ClientSecret:  fakecxone.DefaultClientSecret,
			WebhookSecret: testWebhookSecret,
		},
	}
}

// fastRetry keeps retry tests in milliseconds.
var fastRetry = RetryPolicy{MaxAttempts: 5, MaxElapsed: 5 * time.Second, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}

func (e *testEnv) client(cfg Config, opts ...Option) *Client {
	base := []Option{WithHTTPClient(e.srv.Client()), WithRetryPolicy(fastRetry)}
	return New(cfg, append(base, opts...)...)
}

// testClock is a settable clock for token expiry.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// withNow swaps the client's clock; it is test-only because the clock only
// governs token expiry, not sleeping.
func withNow(now func() time.Time) Option {
	return func(c *Client) { c.now = now }
}

// bearerRecorder remembers every Authorization header the client sends, so
// that a test can look for them where they must not be.
type bearerRecorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	seen map[string]bool
}

func (b *bearerRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		b.mu.Lock()
		if b.seen == nil {
			b.seen = map[string]bool{}
		}
		b.seen[h] = true
		b.mu.Unlock()
	}
	return b.next.RoundTrip(r)
}

func (b *bearerRecorder) values() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for h := range b.seen {
		out = append(out, h)
		if len(h) > len("Bearer ") && h[:len("Bearer ")] == "Bearer " {
			out = append(out, h[len("Bearer "):])
		}
		if len(h) > len("Basic ") && h[:len("Basic ")] == "Basic " {
			out = append(out, h[len("Basic "):])
		}
	}
	return out
}
