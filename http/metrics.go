package http

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the ingest and HTTP series. They persist nothing: Prometheus
// scrapes and keeps them, so a restart loses no history that matters.
type Metrics struct {
	requestSeconds *prometheus.HistogramVec
	ingestRequests *prometheus.CounterVec
	ingestReports  *prometheus.CounterVec
	panics         prometheus.Counter
	commitSeconds  prometheus.Histogram
	batchRequests  prometheus.Histogram
	batchReports   prometheus.Histogram
	batchFailures  prometheus.Counter
}

// NewMetrics registers the HTTP and ingest metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requestSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cxsms_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route and status.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method", "route", "code"}),
		ingestRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cxsms_ingest_requests_total",
			Help: "Webhook requests by outcome: accepted, unauthorized, too_large, malformed, unavailable, overloaded.",
		}, []string{"outcome"}),
		ingestReports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cxsms_ingest_reports_total",
			Help: "Reports in accepted webhook requests by outcome (accepted, duplicate) and payload format.",
		}, []string{"outcome", "format"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cxsms_http_panics_total",
			Help: "Handler panics recovered; any is a bug.",
		}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cxsms_store_commit_duration_seconds",
			Help:    "Time to commit one group-commit batch to the event log.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 3},
		}),
		batchRequests: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cxsms_store_batch_requests",
			Help:    "Webhook requests sharing one commit.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12),
		}),
		batchReports: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cxsms_store_batch_reports",
			Help:    "Reports written by one commit.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 14),
		}),
		batchFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cxsms_store_batch_failures_total",
			Help: "Batches that could not commit; each of their requests got a 503.",
		}),
	}
	reg.MustRegister(m.requestSeconds, m.ingestRequests, m.ingestReports, m.panics,
		m.commitSeconds, m.batchRequests, m.batchReports, m.batchFailures)
	return m
}

// BatchCommitted implements eventstore.Observer.
func (m *Metrics) BatchCommitted(requests, reports int, took time.Duration, err error) {
	if err != nil {
		m.batchFailures.Inc()
		return
	}
	m.commitSeconds.Observe(took.Seconds())
	m.batchRequests.Observe(float64(requests))
	m.batchReports.Observe(float64(reports))
}
