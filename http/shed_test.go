package http

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/cxsms/cxsms/domain"
	"github.com/cxsms/cxsms/domain/rules"
	"github.com/cxsms/cxsms/eventstore"
	"github.com/cxsms/cxsms/eventstore/pgtest"
	"github.com/cxsms/cxsms/projections"
)

// readSpy is a request body that says whether anything read it.
type readSpy struct{ read atomic.Bool }

func (r *readSpy) Read(p []byte) (int, error) {
	r.read.Store(true)
	return 0, io.EOF
}

// With the store's queue at its limit, a webhook is refused before its body
// is read: 1,500 senders of half-megabyte bodies waited 6 s for refusals the
// store made only once each body had been read and parsed.
func TestFullQueueRefusesBeforeTheBody(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.URL(t)
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	store := eventstore.New(pool, eventstore.Options{Writers: 1, QueueReports: 1})
	t.Cleanup(store.Close)
	log := logrus.New()
	log.SetOutput(io.Discard)
	var h http.Handler
	h, err = NewServer(Config{WebhookSecret: testWebhookSecret}, Deps{Log: log, Store: store,
		Reads: projections.NewReader(pool, rules.Default()), Metrics: NewMetrics(prometheus.NewRegistry()), MetricsHandler: http.NotFoundHandler()})
	if err != nil {
		t.Fatal(err)
	}

	// One report waits for its commit behind a lock: the queue's one
	// report is taken.
	locker, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close(ctx)
	tx, err := locker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE events IN EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() {
		_, err := store.Append(ctx, []domain.StatusReceived{{MessageID: "waiting", EventID: "e", Status: domain.StatusSent,
			RawStatus: "SENT", Format: domain.FormatJSON, OccurredAt: time.Now(), ReceivedAt: time.Now(), Raw: []byte(`{}`)}})
		first <- err
	}()
	for deadline := time.Now().Add(20 * time.Second); !store.Full(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the store's queue never filled")
		}
	}

	body := &readSpy{}
	req := httptest.NewRequest(http.MethodPost, "/webhooks/cxone/sms", body)
	req.Header.Set("X-Webhook-Secret", testWebhookSecret)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" {
		t.Errorf("webhook with the queue full: %d Retry-After %q %s, want 503 with Retry-After 1", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	if body.read.Load() {
		t.Error("the body was read before the refusal")
	}

	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-first; err != nil {
		t.Errorf("the waiting report: %v", err)
	}
	if store.Full() {
		t.Error("still full once the waiting report was stored")
	}
}
