package main

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/cxsms/cxsms/http/cxone"
	"github.com/cxsms/cxsms/http/cxone/fakecxone"
)

// serve with PUBLIC_URL tried once at start and gave up; a subscription
// repointed while it ran stayed repointed. The keeper retries until CXone
// answers, then repairs drift, and stops with its context.
func TestCXoneWebhookKeeperRetriesAndRepairs(t *testing.T) {
	fake := fakecxone.New(fakecxone.Options{})
	cx := httptest.NewServer(fake)
	defer cx.Close()
	cfg := cxone.Config{TokenURL: cx.URL + fakecxone.PathToken, APIURL: cx.URL,
		ClientID: fakecxone.DefaultClientID, ClientSecret: fakecxone.DefaultClientSecret, WebhookSecret: "keeper-secret"}
	fast := cxone.WithRetryPolicy(cxone.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond})
	// CXone is down for longer than one EnsureWebhook retries.
	fake.InjectFault(fakecxone.Fault{Path: fakecxone.PathToken, Status: 503, Count: 8})

	logs := &syncBuffer{}
	log := logrus.New()
	log.SetOutput(logs)
	const callback = "https://sms.example.com/webhooks/cxone/sms"
	k := newWebhookKeeper(cxone.New(cfg, fast, cxone.WithHTTPClient(cx.Client()), cxone.WithLogger(log)), callback, log)
	k.every, k.minRetry, k.maxRetry = 20*time.Millisecond, time.Millisecond, 4*time.Millisecond

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { k.run(ctx); close(done) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("the keeper did not stop with its context")
		}
	}()

	pointsHere := func() bool {
		subs := fake.Subscriptions()
		return len(subs) == 1 && subs[0].CallbackURL == callback
	}
	waitFor(t, "the subscription to be created once CXone is back", pointsHere)
	// The keeper's call that created it lists the subscriptions once more
	// before it returns: a repoint made before that is repaired inside the
	// same call, which the keeper rightly logs as "in place", not as a
	// repair. So repoint only once the keeper has said it is in place.
	waitFor(t, "the keeper to say the subscription is in place", func() bool { return strings.Contains(logs.String(), "in place") })

	// Another environment with the same name points it at itself.
	other := cxone.New(cfg, fast, cxone.WithHTTPClient(cx.Client()))
	if _, err := other.EnsureWebhook(t.Context(), "https://elsewhere.example.com/webhooks/cxone/sms"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the subscription to be pointed back", pointsHere)
	// The keeper logs the repair once EnsureWebhook returns, a moment after
	// the fake has seen it.
	waitFor(t, "the repair to be logged", func() bool { return strings.Contains(logs.String(), "repaired") })
	if !strings.Contains(logs.String(), "503") {
		t.Errorf("logs do not show the failures' cause:\n%s", logs)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
