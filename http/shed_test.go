package http

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/cxsms/cxsms/domain"
	"github.com/cxsms/cxsms/eventstore"
)

// readSpy is a request body that says whether anything read it.
type readSpy struct{ read atomic.Bool }

func (r *readSpy) Read(p []byte) (int, error) {
	r.read.Store(true)
	return 0, io.EOF
}

// fullStore is a store whose queue is at its limit (eventstore.Store.Full,
// tested against PostgreSQL in eventstore): nothing may reach Append.
type fullStore struct{ t *testing.T }

func (s fullStore) Full() bool { return true }

func (s fullStore) Append(context.Context, []domain.StatusReceived) ([]eventstore.AppendResult, error) {
	s.t.Error("Append called with the queue full")
	return nil, eventstore.ErrOverloaded
}

func (fullStore) History(context.Context, string) ([]eventstore.Recorded, error) { return nil, nil }
func (fullStore) Ready(context.Context) error                                    { return nil }

// With the store's queue at its limit, a webhook is refused before its body
// is read: 1,500 senders of half-megabyte bodies waited 6 s for refusals the
// store made only once each body had been read and parsed.
func TestFullQueueRefusesBeforeTheBody(t *testing.T) {
	t.Parallel()
	log := logrus.New()
	log.SetOutput(io.Discard)
	h, err := NewServer(Config{WebhookSecret: testWebhookSecret}, Deps{Log: log, Store: fullStore{t},
		Metrics: NewMetrics(prometheus.NewRegistry()), MetricsHandler: http.NotFoundHandler()})
	if err != nil {
		t.Fatal(err)
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
}
