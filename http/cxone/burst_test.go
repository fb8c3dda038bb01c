package cxone

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/cxsms/cxsms/http/cxone/fakecxone"
)

// TestBurstRedeliveredUntilAcknowledged runs the whole loop against the
// fake: register the callback with EnsureWebhook, let the fake's sender post
// a burst to it while the callback answers 503 for a while, and check that
// every report is in the end acknowledged, carrying the secret registered.
func TestBurstRedeliveredUntilAcknowledged(t *testing.T) {
	var (
		mu       sync.Mutex
		posts    int
		received = map[string]int{} // event id → deliveries
	)
	const outage = 8
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Webhook-Secret") != testWebhookSecret {
			http.Error(w, `{"error":"bad secret"}`, http.StatusUnauthorized)
			return
		}
		mu.Lock()
		posts++
		n := posts
		received[r.Header.Get(fakecxone.EventIDHeader)]++
		mu.Unlock()
		if n <= outage {
			w.Header().Set("Retry-After", "0")
			http.Error(w, `{"error":"store unavailable"}`, http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`{"acknowledged":true}`))
	}))
	defer receiver.Close()

	e := newEnv(t, fakecxone.Options{})
	res, err := e.client(e.cfg, AllowLocalhost()).EnsureWebhook(t.Context(), receiver.URL+"/webhooks/cxone/sms")
	if err != nil || res.Action != ActionCreated {
		t.Fatalf("EnsureWebhook: %+v, %v", res, err)
	}

	burst, err := e.fake.SendBurst(t.Context(), fakecxone.BurstConfig{
		Messages: 12, Lifecycle: true, FailEvery: 4,
		RetryBase: 2 * time.Millisecond, RetryMax: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("SendBurst: %v", err)
	}
	if len(burst.Reports) != 12*3 || burst.Acknowledged() != len(burst.Reports) {
		t.Fatalf("%d reports, %d acknowledged; want 36, all", len(burst.Reports), burst.Acknowledged())
	}
	if burst.Redelivered() == 0 {
		t.Error("no report was redelivered, yet the callback refused the first posts")
	}
	mu.Lock()
	defer mu.Unlock()
	if posts != len(burst.Reports)+outage {
		t.Errorf("callback saw %d posts, want %d reports + %d refused", posts, len(burst.Reports), outage)
	}
	for _, rep := range burst.Reports {
		if received[rep.EventID] == 0 {
			t.Errorf("event %s of %s never reached the callback", rep.EventID, rep.MessageID)
		}
	}
}
