package cxone

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

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
	if len(subs) != 2 || len(res.Removed) != 0 {
		t.Fatalf("subscriptions = %d, removed %v: a duplicate with another callback URL is reported, not deleted", len(subs), res.Removed)
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
		// Shorthands inet_aton reads, and URLs reach, this machine by.
		"http://127.1:8080/x",
		"http://0177.0.0.1/x",
		"http://0x7f000001/x",
		"http://2130706433/x",
		"http://0/x",
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
	// Credentials would be kept in CXone's subscription, as PUBLIC_URL's
	// are refused.
	if _, err := c.EnsureWebhook(t.Context(), "https://u:p@sms.example.com/webhooks/cxone/sms"); err == nil || !strings.Contains(err.Error(), "credentials") {
		t.Errorf("a callback with credentials: %v, want refused", err)
	}
	// A path the service answers 404 when posted as written.
	for _, u := range []string{"https://sms.example.com//webhooks/cxone/sms", "https://sms.example.com/x/../webhooks/cxone/sms",
		"https://sms.example.com/./webhooks/cxone/sms", "https://sms.example.com/%2e/webhooks/cxone/sms",
		"https://sms.example.com/webhooks/%2E%2E/webhooks/cxone/sms", "https://sms.example.com/webhooks%2F%2Fcxone/sms"} {
		if _, err := c.EnsureWebhook(t.Context(), u); err == nil || !strings.Contains(err.Error(), "segment") {
			t.Errorf("%s: %v, want refused", u, err)
		}
	}
	if _, err := c.EnsureWebhook(t.Context(), "https://sms.example.com/webhooks%2Fcxone/sms"); err == nil || !strings.Contains(err.Error(), "escaped slash") {
		t.Errorf("an escaped slash: %v, want refused", err)
	}
	// Names that only look numeric are names.
	for _, host := range []string{"1.2.3.4.5", "127.0.0.256", "08.1", "1e3.example.com"} {
		if _, ok := shorthandIPv4(host); ok {
			t.Errorf("shorthandIPv4(%q) read an address", host)
		}
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
	// list, create (503), list again, create, list for copies.
	if g, p := e.fake.RequestCount(http.MethodGet, fakecxone.PathWebhooks), e.fake.RequestCount(http.MethodPost, fakecxone.PathWebhooks); g != 3 || p != 2 {
		t.Errorf("lists %d, creates %d; want 3 and 2", g, p)
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

// README: "Registration reconciles: running it twice leaves one
// subscription", and several serve processes may share a database. Two
// register-webhook runs (or serve processes with one PUBLIC_URL) started
// together both listed none while the listing was slow, both created, and
// CXone delivered every report twice. Each process is a Client of its own.
func TestEnsureWebhookConcurrentProcessesKeepOne(t *testing.T) {
	for _, processes := range []int{2, 4} {
		t.Run(fmt.Sprint(processes), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, fakecxone.Options{ListDelay: time.Second})
			results := make([]WebhookResult, processes)
			var wg sync.WaitGroup
			for i := range processes {
				wg.Go(func() {
					res, err := e.client(e.cfg).EnsureWebhook(t.Context(), callback)
					if err != nil {
						t.Error(err)
					}
					results[i] = res
				})
			}
			wg.Wait()

			subs := e.fake.Subscriptions()
			if len(subs) != 1 {
				t.Fatalf("%d subscriptions after %d registrations at once, want 1: %v", len(subs), processes, subs)
			}
			if n := e.fake.RequestCount(http.MethodPost, fakecxone.PathWebhooks); n < 2 {
				t.Fatalf("%d creates: the registrations did not race", n)
			}
			var removed []string
			for _, res := range results {
				if res.ID != subs[0].ID {
					t.Errorf("a registration reports %s, but %s is kept", res.ID, subs[0].ID)
				}
				removed = append(removed, res.Removed...)
			}
			if n := e.fake.RequestCount(http.MethodPost, fakecxone.PathWebhooks); len(removed) != n-1 {
				t.Errorf("removed %v, want the %d copies created beside %s", removed, n-1, subs[0].ID)
			}
		})
	}
}

// A later run that finds copies of ours (our name and callback URL) deletes
// them, keeping the oldest; subscriptions that only share the name or the
// callback URL may be someone else's, and are reported, not deleted.
func TestEnsureWebhookRemovesCopiesButNotOthers(t *testing.T) {
	e := newEnv(t, fakecxone.Options{})
	ours := fakecxone.Subscription{
		Name: DefaultWebhookName, CallbackURL: callback, EventTypes: []string{EventTypeStatusUpdate}, HTTPMethod: http.MethodPost,
		Headers: map[string]string{"Content-Type": "application/json", "X-Webhook-Secret": testWebhookSecret}, Enabled: true,
	}
	kept := e.fake.AddSubscription(ours)
	copy1, copy2 := e.fake.AddSubscription(ours), e.fake.AddSubscription(ours)
	otherCallback, otherName, unrelated := ours, ours, ours
	otherCallback.CallbackURL = "https://elsewhere.example.com/webhooks/cxone/sms"
	otherName.Name = "sms-status-staging"
	unrelated.Name, unrelated.CallbackURL = "crm-events", "https://crm.example.com/hook"
	sameName, sameCallback, other := e.fake.AddSubscription(otherCallback), e.fake.AddSubscription(otherName), e.fake.AddSubscription(unrelated)

	res, err := e.client(e.cfg).EnsureWebhook(t.Context(), callback)
	if err != nil {
		t.Fatal(err)
	}
	if res.Action != ActionUnchanged || res.ID != kept || !slices.Equal(res.Removed, []string{copy1, copy2}) ||
		!slices.Equal(res.Duplicates, []string{sameName, sameCallback}) {
		t.Errorf("result = %+v; want %s unchanged, %s and %s removed, %s and %s reported", res, kept, copy1, copy2, sameName, sameCallback)
	}
	var left []string
	for _, s := range e.fake.Subscriptions() {
		left = append(left, s.ID)
	}
	if want := []string{kept, sameName, sameCallback, other}; !slices.Equal(left, want) {
		t.Errorf("subscriptions left = %v, want %v", left, want)
	}

	again, err := e.client(e.cfg).EnsureWebhook(t.Context(), callback)
	if err != nil || again.ID != kept || len(again.Removed) != 0 {
		t.Errorf("again: %+v, %v; want %s kept and nothing more removed", again, err, kept)
	}
}

// Processes that list the same copies must keep the same one whatever
// order CXone lists them in, or each could delete the one the other kept.
func TestMatchKeepsTheSameCopyInAnyOrder(t *testing.T) {
	c := New(Config{})
	at := func(s string) flexTime {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return flexTime{v}
	}
	copyOf := func(id string, created flexTime) webhook {
		return webhook{ID: flexID(id), Name: DefaultWebhookName, CallbackURL: callback, CreatedAt: created}
	}
	for _, tc := range []struct {
		name string
		list []webhook
		keep string
	}{
		{"by creation time", []webhook{
			copyOf("b", at("2025-01-02T00:00:00Z")), copyOf("a", at("2025-01-03T00:00:00Z")), copyOf("c", at("2025-01-01T00:00:00Z")),
		}, "c"},
		{"dated before undated", []webhook{copyOf("1", flexTime{}), copyOf("9", at("2025-01-01T00:00:00Z")), copyOf("2", flexTime{})}, "9"},
		{"numeric ids as numbers", []webhook{copyOf("wh-10", flexTime{}), copyOf("wh-9", flexTime{}), copyOf("wh-11", flexTime{})}, "wh-9"},
	} {
		for _, order := range [][]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}} {
			list := make([]webhook, len(order))
			for i, j := range order {
				list[i] = tc.list[j]
			}
			have, copies, dups := c.match(list, callback)
			if have == nil || string(have.ID) != tc.keep || len(copies) != 2 || len(dups) != 0 {
				t.Errorf("%s, listed in order %v: kept %v, %d copies, duplicates %v; want %s kept", tc.name, order, have, len(copies), dups, tc.keep)
			}
		}
	}
}

// A creation time CXone writes otherwise, or not at all, does not fail
// the listing.
func TestListWebhooksReadsAnyCreatedAt(t *testing.T) {
	p, err := parseWebhookPage([]byte(`{"webhooks":[{"id":"1","createdAt":"2025-01-02T03:04:05.678Z"},{"id":2,"createdAt":1735787045},{"id":"3","createdAt":"yesterday"},{"id":"4"}]}`))
	if err != nil || len(p.items) != 4 {
		t.Fatalf("parse: %d items, %v", len(p.items), err)
	}
	if p.items[0].CreatedAt.IsZero() || !p.items[1].CreatedAt.IsZero() || !p.items[2].CreatedAt.IsZero() {
		t.Errorf("createdAt read as %v", []flexTime{p.items[0].CreatedAt, p.items[1].CreatedAt, p.items[2].CreatedAt})
	}
	body, _ := json.Marshal(webhook{Name: "n"})
	if strings.Contains(string(body), "createdAt") {
		t.Errorf("a subscription sent to CXone carries createdAt: %s", body)
	}
}

// The listing after a create only looks for copies: when it fails, the
// subscription is still in place, and the next run looks again.
func TestEnsureWebhookCreatedWhenTheLookForCopiesFails(t *testing.T) {
	e := newEnv(t, fakecxone.Options{})
	e.fake.InjectFault(fakecxone.Fault{Method: http.MethodGet, Path: fakecxone.PathWebhooks}) // the first listing, served
	e.fake.InjectFault(fakecxone.Fault{Method: http.MethodGet, Path: fakecxone.PathWebhooks, Status: http.StatusForbidden})
	res, err := e.client(e.cfg).EnsureWebhook(t.Context(), callback)
	subs := e.fake.Subscriptions()
	if err != nil || res.Action != ActionCreated || len(subs) != 1 || res.ID != subs[0].ID {
		t.Errorf("result %+v, err %v, %d subscriptions; want created, no error, 1", res, err, len(subs))
	}
}

// A subscription name is trimmed: "prod\n" from a mounted file made a second
// subscription beside "prod", and a blank one renamed the default's.
func TestWebhookNameIsTrimmed(t *testing.T) {
	for in, want := range map[string]string{"prod\n": "prod", "  ": DefaultWebhookName, "": DefaultWebhookName} {
		c := &Client{webhookName: DefaultWebhookName}
		WithWebhookName(in)(c)
		if c.webhookName != want {
			t.Errorf("WithWebhookName(%q): %q, want %q", in, c.webhookName, want)
		}
	}
}
