package cxone

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cxsms/cxsms/http/cxone/fakecxone"
)

// redirectEnv is newEnv with a handler in front of the fake that answers
// the matching requests with a redirect, and counts them.
func redirectEnv(t *testing.T, match func(*http.Request) bool, status int, location string) (*testEnv, *atomic.Int32) {
	t.Helper()
	fake := fakecxone.New(fakecxone.Options{})
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if match(r) {
			n.Add(1)
			http.Redirect(w, r, location, status)
			return
		}
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	e := &testEnv{fake: fake, srv: srv, cfg: Config{TokenURL: srv.URL + fakecxone.PathToken, APIURL: srv.URL,
		ClientID: fakecxone.DefaultClientID, ClientSecret: fakecxone.DefaultClientSecret, WebhookSecret: testWebhookSecret}}
	return e, &n
}

// Go's client turns a redirected PUT or POST into a GET of the Location;
// that GET's 200 passed for "updated". The 3xx must be an error naming
// where it pointed, and nothing retried.
func TestEnsureWebhookDoesNotFollowRedirectsOfWrites(t *testing.T) {
	for _, tc := range []struct {
		name   string
		method string
		status int
	}{
		{"PUT 301", http.MethodPut, http.StatusMovedPermanently},
		{"PUT 302", http.MethodPut, http.StatusFound},
		{"POST 302", http.MethodPost, http.StatusFound},
		{"POST 307", http.MethodPost, http.StatusTemporaryRedirect},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, n := redirectEnv(t, func(r *http.Request) bool {
				return r.Method == tc.method && strings.HasPrefix(r.URL.Path, fakecxone.PathWebhooks)
			}, tc.status, "/api/v2/webhooks?moved=1")
			if tc.method == http.MethodPut {
				e.fake.AddSubscription(fakecxone.Subscription{Name: DefaultWebhookName, CallbackURL: "https://old.example.com/hook",
					EventTypes: []string{EventTypeStatusUpdate}})
			}

			_, err := e.client(e.cfg).EnsureWebhook(t.Context(), callback)
			if err == nil {
				t.Fatal("a redirected write passed for success")
			}
			if !strings.Contains(err.Error(), "redirected to "+e.srv.URL+"/api/v2/webhooks") || strings.Contains(err.Error(), "moved=1") {
				t.Errorf("err = %v; want the Location named, without its query", err)
			}
			if n.Load() != 1 {
				t.Errorf("%d redirected requests, want 1", n.Load())
			}
			if subs := e.fake.Subscriptions(); tc.method == http.MethodPost && len(subs) != 0 {
				t.Errorf("subscriptions = %v", subs)
			}
		})
	}
}

// A GET stuck in a redirect loop is not worth retrying: each attempt would
// go round the same loop.
func TestRedirectLoopIsNotRetried(t *testing.T) {
	e, n := redirectEnv(t, func(r *http.Request) bool {
		return r.Method == http.MethodGet && r.URL.Path == fakecxone.PathWebhooks
	}, http.StatusFound, fakecxone.PathWebhooks)

	_, err := e.client(e.cfg).EnsureWebhook(t.Context(), callback)
	if err == nil || !strings.Contains(err.Error(), "redirects") {
		t.Fatalf("err = %v, want a redirect loop", err)
	}
	if got := n.Load(); got > 10 {
		t.Errorf("%d requests went round the loop, want at most 10", got)
	}
}
