package http

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/cxsms/cxsms/domain"
	"github.com/cxsms/cxsms/eventstore"
)

// memStore acknowledges every report at once, so the benchmark measures the
// HTTP layer and the parser, not PostgreSQL.
type memStore struct{}

func (memStore) Append(_ context.Context, events []domain.StatusReceived) ([]eventstore.AppendResult, error) {
	out := make([]eventstore.AppendResult, len(events))
	for i, e := range events {
		out[i] = eventstore.AppendResult{MessageID: e.MessageID, EventID: e.EventID}
	}
	return out, nil
}

func (memStore) History(context.Context, string) ([]eventstore.Recorded, error) { return nil, nil }
func (memStore) Ready(context.Context) error                                    { return nil }

// BenchmarkWebhook is one single-report request through the whole router:
// middlewares, handler, parser and answer.
func BenchmarkWebhook(b *testing.B) {
	log := logrus.New()
	log.SetOutput(io.Discard)
	h, err := NewServer(Config{WebhookSecret: "s"}, Deps{Log: log, Store: memStore{}, Metrics: NewMetrics(prometheus.NewRegistry())})
	if err != nil {
		b.Fatal(err)
	}
	body := `{"eventType":"messaging.status.update","eventId":"3f1c2a9e-5b7d-4c1e-9a2f-6d8b0e4c7a11","payload":{"messageId":"SIM-000123456","status":"DELIVERED","errorCode":null,"carrier":"ATT","from":"ACME","to":"+15551234567","timestamp":"2024-05-06T07:00:00Z","price":"0.0075","currency":"usd"}}`
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/webhooks/cxone/sms", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("X-Webhook-Secret", "s")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
