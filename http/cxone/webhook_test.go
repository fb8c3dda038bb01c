package cxone

import (
	"errors"
	"maps"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/cxsms/cxsms/http/cxone/fakecxone"
)

const callback = "https://sms.example.com/webhooks/cxone/sms"

func TestEnsureWebhookTwiceLeavesOneSubscription(t *testing.T) {
	e := newEnv(t, fakecxone.Options{})
	c := e.client(e.cfg)

	first, err := c.EnsureWebhook(t.Context(), callback)
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.EnsureWebhook(t.Context(), callback)
	if err != nil {
		t.Fatal(err)
	}
	// A second process start: a new client, same settings.
	third, err := e.client(e.cfg).EnsureWebhook(t.Context(), callback)
	if err != nil {
		t.Fatal(err)
	}

	if first.Action != ActionCreated || second.Action != ActionUnchanged || third.Action != ActionUnchanged {
		t.Errorf("actions = %s, %s, %s; want created, unchanged, unchanged", first.Action, second.Action, third.Action)
	}
	if first.ID == "" || second.ID != first.ID || third.ID != first.ID {
		t.Errorf("ids = %q, %q, %q; want one id", first.ID, second.ID, third.ID)
	}
	subs := e.fake.Subscriptions()
	if len(subs) != 1 {
		t.Fatalf("subscriptions = %d, want 1", len(subs))
	}
	s := subs[0]
	if s.Name != DefaultWebhookName || s.CallbackURL != callback || !s.Enabled || s.HTTPMethod != http.MethodPost ||
		!slices.Equal(s.EventTypes, []string{EventTypeStatusUpdate}) ||
		s.Headers["X-Webhook-Secret"] != testWebhookSecret || s.Headers["Content-Type"] != "application/json" {
		t.Errorf("subscription = %+v (secret matches: %t)", s, s.Headers["X-Webhook-Secret"] == testWebhookSecret)
	}
	if n := e.fake.RequestCount(http.MethodPost, fakecxone.PathWebhooks); n != 1 {
		t.Errorf("creates = %d, want 1", n)
	}
	if n := e.fake.RequestCount(http.MethodPut, fakecxone.PathWebhooks+"/"+first.ID); n != 0 {
		t.Errorf("updates = %d, want 0", n)
	}
}

func TestEnsureWebhookRotatesSecretInPlace(t *testing.T) {
	e := newEnv(t, fakecxone.Options{})
	created, err := e.client(e.cfg).EnsureWebhook(t.Context(), callback)
	if err != nil {
		t.Fatal(err)
	}

	rotated := e.cfg
	rotated.WebhookSecret = "whsec-rotated-9876543210"
	c := e.client(rotated)
	res, err := c.EnsureWebhook(t.Context(), callback)
	if err != nil {
		t.Fatal(err)
	}
	if res.Action != ActionUpdated || res.ID != created.ID || !slices.Equal(res.Changed, []string{"headers.X-Webhook-Secret"}) {
		t.Errorf("result = %+v, want updated %s changing only headers.X-Webhook-Secret", res, created.ID)
	}
	subs := e.fake.Subscriptions()
	if len(subs) != 1 || subs[0].Headers["X-Webhook-Secret"] != rotated.WebhookSecret.Reveal() || subs[0].Updates != 1 {
		t.Errorf("after rotation: %d subscriptions, %d updates, new secret stored: %t",
			len(subs), subs[0].Updates, subs[0].Headers["X-Webhook-Secret"] == rotated.WebhookSecret.Reveal())
	}
	if n := e.fake.RequestCount(http.MethodPut, fakecxone.PathWebhooks+"/"+created.ID); n != 1 {
		t.Errorf("PUTs = %d, want 1", n)
	}

	again, err := c.EnsureWebhook(t.Context(), callback)
	if err != nil || again.Action != ActionUnchanged {
		t.Errorf("after rotation, again: %+v, %v; want unchanged", again, err)
	}
}

func TestEnsureWebhookAdoptsExistingSubscriptions(t *testing.T) {
	e := newEnv(t, fakecxone.Options{})
	// What the tutorial leaves behind: one subscription per start, the
	// first disabled by hand, with a header someone added.
	old := fakecxone.Subscription{
		Name: DefaultWebhookName, CallbackURL: "http://localhost:3000/webhooks/cxone/sms",
		EventTypes: []string{EventTypeStatusUpdate}, HTTPMethod: http.MethodPost,
		Headers: map[string]string{"content-type": "application/json", "x-webhook-secret": "old", "X-Team": "sms"},
	}
	firstID := e.fake.AddSubscription(old)
	old.Enabled = true
	dupID := e.fake.AddSubscription(old)

	res, err := e.client(e.cfg).EnsureWebhook(t.Context(), callback)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"callbackUrl", "enabled", "headers.X-Webhook-Secret"}
	if res.Action != ActionUpdated || res.ID != firstID || !slices.Equal(res.Changed, want) || !slices.Equal(res.Duplicates, []string{dupID}) {
		t.Errorf("result = %+v; want %s updated (%v), %s reported as a duplicate", res, firstID, want, dupID)
	}
	subs := e.fake.Subscriptions()
	if len(subs) != 2 {
		t.Fatalf("subscriptions = %d: duplicates are reported, not deleted", len(subs))
	}
	h := subs[0].Headers
	if h["X-Team"] != "sms" || h["X-Webhook-Secret"] != testWebhookSecret || len(h) != 3 {
		t.Errorf("headers after update: %v; want X-Team kept, ours replaced case-insensitively", slices.Sorted(maps.Keys(h)))
	}
}

func TestEnsureWebhookRefusesLocalhost(t *testing.T) {
	e := newEnv(t, fakecxone.Options{})
	c := e.client(e.cfg)
	for _, u := range []string{
		"http://localhost:8080/webhooks/cxone/sms",
		"http://LOCALHOST./x",
		"http://127.0.0.1:8080/x",
		"http://127.1.2.3/x",
		"http://[::1]:8080/x",
		"http://[::ffff:127.0.0.1]/x",
		"http://0.0.0.0/x",
		"http://app.localhost/x",
	} {
		_, err := c.EnsureWebhook(t.Context(), u)
		var lce *LocalCallbackError
		if !errors.As(err, &lce) {
			t.Errorf("%s: err = %v, want *LocalCallbackError", u, err)
		}
	}
	if _, err := c.EnsureWebhook(t.Context(), "/webhooks/cxone/sms"); err == nil {
		t.Error("a relative callback URL was accepted")
	}
	if n := len(e.fake.Requests()); n != 0 {
		t.Errorf("refused callbacks still made %d requests", n)
	}

	res, err := e.client(e.cfg, AllowLocalhost()).EnsureWebhook(t.Context(), "http://127.0.0.1:8080/webhooks/cxone/sms")
	if err != nil || res.Action != ActionCreated {
		t.Errorf("with AllowLocalhost: %+v, %v", res, err)
	}
}

func TestEnsureWebhookLooksBeforeRetryingACreate(t *testing.T) {
	e := newEnv(t, fakecxone.Options{})
	e.fake.InjectFault(fakecxone.Fault{Method: http.MethodPost, Path: fakecxone.PathWebhooks, Status: http.StatusServiceUnavailable})
	res, err := e.client(e.cfg).EnsureWebhook(t.Context(), callback)
	if err != nil {
		t.Fatal(err)
	}
	if res.Action != ActionCreated || len(e.fake.Subscriptions()) != 1 {
		t.Errorf("result %+v with %d subscriptions; want created, 1", res, len(e.fake.Subscriptions()))
	}
	// list, create (503), list again, create.
	if g, p := e.fake.RequestCount(http.MethodGet, fakecxone.PathWebhooks), e.fake.RequestCount(http.MethodPost, fakecxone.PathWebhooks); g != 2 || p != 2 {
		t.Errorf("lists %d, creates %d; want 2 and 2", g, p)
	}
}

func TestEnsureWebhookCreatesOnceWhenTheAnswerIsLost(t *testing.T) {
	e := newEnv(t, fakecxone.Options{})
	// CXone creates the subscription, but the answer is a 502.
	e.fake.InjectFault(fakecxone.Fault{Method: http.MethodPost, Path: fakecxone.PathWebhooks, Status: http.StatusBadGateway, LoseAnswer: true})
	res, err := e.client(e.cfg).EnsureWebhook(t.Context(), callback)
	if err != nil {
		t.Fatal(err)
	}
	subs := e.fake.Subscriptions()
	if res.Action != ActionCreated || len(subs) != 1 || res.ID != subs[0].ID {
		t.Errorf("result %+v with %d subscriptions; want created, exactly 1", res, len(subs))
	}
	if p := e.fake.RequestCount(http.MethodPost, fakecxone.PathWebhooks); p != 1 {
		t.Errorf("creates = %d: the create must not be repeated once the listing shows it", p)
	}
}

func TestEnsureWebhookConcurrentCallsCreateOnce(t *testing.T) {
	e := newEnv(t, fakecxone.Options{})
	c := e.client(e.cfg)
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.EnsureWebhook(t.Context(), callback); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := len(e.fake.Subscriptions()); n != 1 {
		t.Errorf("subscriptions = %d, want 1", n)
	}
}

func TestEnsureWebhookNeedsASecret(t *testing.T) {
	e := newEnv(t, fakecxone.Options{})
	cfg := e.cfg
	cfg.WebhookSecret = ""
	if _, err := e.client(cfg).EnsureWebhook(t.Context(), callback); !errors.Is(err, ErrNoWebhookSecret) {
		t.Errorf("err = %v, want ErrNoWebhookSecret", err)
	}
}

// Two environments sharing a tenant keep one subscription each when their
// names differ (CXONE_WEBHOOK_NAME), and neither moves the other's.
func TestEnsureWebhookNamesKeepEnvironmentsApart(t *testing.T) {
	e := newEnv(t, fakecxone.Options{})
	if _, err := e.client(e.cfg, WithWebhookName("sms-status-staging")).EnsureWebhook(t.Context(), callback); err != nil {
		t.Fatal(err)
	}
	prod, err := e.client(e.cfg).EnsureWebhook(t.Context(), "https://prod.example.com/webhooks/cxone/sms")
	if err != nil {
		t.Fatal(err)
	}
	if prod.Action != ActionCreated {
		t.Fatalf("production's subscription was %s, want created beside staging's", prod.Action)
	}
	names := map[string]string{}
	for _, s := range e.fake.Subscriptions() {
		names[s.Name] = s.CallbackURL
	}
	if len(names) != 2 || names["sms-status-staging"] != callback || names[DefaultWebhookName] != "https://prod.example.com/webhooks/cxone/sms" {
		t.Fatalf("subscriptions = %v, want staging's and production's, each with its own callback", names)
	}
}
