package http

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cxsms/cxsms/domain"
	"github.com/cxsms/cxsms/projections"
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
	proj           projMetrics
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
			Help: "Webhook requests by outcome: accepted, unauthorized, too_large, too_slow (the body did not arrive within the read timeout), malformed, unavailable, overloaded, client_gone (the sender hung up before its body ended; once a body arrived whole, its reports are written).",
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
	// Every outcome exists at 0 from the start: a series born at its first
	// count hides that first increase from increase() and rate() (an alert
	// on 503s missed the first burst after a restart), and a fresh node was
	// missing from dashboards that list instances by these series.
	for _, o := range ingestOutcomes {
		m.ingestRequests.WithLabelValues(o)
	}
	for _, o := range []string{"accepted", "duplicate"} {
		for _, f := range []domain.Format{domain.FormatJSON, domain.FormatSMPPJSON, domain.FormatSMPPReceipt} {
			m.ingestReports.WithLabelValues(o, string(f))
		}
	}
	m.proj = newProjMetrics(reg)
	return m
}

// ingestOutcomes are the outcome labels of cxsms_ingest_requests_total.
var ingestOutcomes = []string{"accepted", "unauthorized", "too_large", "too_slow", "malformed", "unavailable", "overloaded", "client_gone"}

// NewProjectionMetrics registers only the projectors' series, for a process
// that runs nothing else (cxsms project): ingest counters there would say
// 0 failures of work it never does.
func NewProjectionMetrics(reg prometheus.Registerer) *Metrics {
	return &Metrics{proj: newProjMetrics(reg)}
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

// ProjectionMetrics are the projector's series; Metrics implements
// projections.Observer with them.
type projMetrics struct {
	applied      *prometheus.CounterVec
	applySeconds *prometheus.HistogramVec
	errors       *prometheus.CounterVec
	deadLetters  *prometheus.CounterVec
	rebuildRead  *prometheus.GaugeVec
	rebuildTotal *prometheus.GaugeVec
	cxoneTokens  *prometheus.CounterVec
	cxoneRetries *prometheus.CounterVec
}

func newProjMetrics(reg prometheus.Registerer) projMetrics {
	m := projMetrics{
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cxsms_projection_applied_total",
			Help: "Events applied to a read model by the live projector.",
		}, []string{"projection"}),
		applySeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cxsms_projection_apply_duration_seconds",
			Help:    "Time to apply one event to a read model.",
			Buckets: []float64{.0001, .0002, .0005, .001, .002, .005, .01, .05, .25, 1},
		}, []string{"projection"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cxsms_projection_errors_total",
			Help: "Handler failures (each retry counts); dead letters are counted apart.",
		}, []string{"projection"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cxsms_projection_dead_letters_total",
			Help: "Events a projection gave up on and recorded in dead_letters.",
		}, []string{"projection"}),
		rebuildRead: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cxsms_rebuild_events_read",
			Help: "Events read by the running (or last) rebuild.",
		}, []string{"projection"}),
		rebuildTotal: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cxsms_rebuild_log_events",
			Help: "Events in the log when the running (or last) rebuild began.",
		}, []string{"projection"}),
		cxoneTokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cxsms_cxone_token_refreshes_total",
			Help: "CXone OAuth token fetches, by outcome.",
		}, []string{"outcome"}),
		cxoneRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cxsms_cxone_retries_total",
			Help: "CXone API calls retried, by operation and the status that caused it.",
		}, []string{"op", "status"}),
	}
	reg.MustRegister(m.applied, m.applySeconds, m.errors, m.deadLetters, m.rebuildRead, m.rebuildTotal, m.cxoneTokens, m.cxoneRetries)
	return m
}

// Applied implements projections.Observer.
func (m *Metrics) Applied(projection string, took time.Duration) {
	m.proj.applied.WithLabelValues(projection).Inc()
	m.proj.applySeconds.WithLabelValues(projection).Observe(took.Seconds())
}

// Failed implements projections.Observer.
func (m *Metrics) Failed(projection string) { m.proj.errors.WithLabelValues(projection).Inc() }

// StartProjections makes the projections' failure counters exist at 0, so
// that increase() sees the first failure after a start; a counter that
// appears at 1 looks to Prometheus like one that was always 1.
func (m *Metrics) StartProjections(names []string) {
	for _, n := range names {
		m.proj.errors.WithLabelValues(n)
		m.proj.deadLetters.WithLabelValues(n)
	}
}

// DeadLettered implements projections.Observer.
func (m *Metrics) DeadLettered(projection string) {
	m.proj.deadLetters.WithLabelValues(projection).Inc()
}

// RebuildProgress records a rebuild's progress.
func (m *Metrics) RebuildProgress(projection string, read, total int64) {
	m.proj.rebuildRead.WithLabelValues(projection).Set(float64(read))
	m.proj.rebuildTotal.WithLabelValues(projection).Set(float64(total))
}

// TokenRefresh counts a CXone token fetch (cxone.Hooks.TokenRefresh).
func (m *Metrics) TokenRefresh(err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.proj.cxoneTokens.WithLabelValues(outcome).Inc()
}

// CXoneRetry counts a retried CXone call (cxone.Hooks.Retry).
func (m *Metrics) CXoneRetry(op string, status int) {
	m.proj.cxoneRetries.WithLabelValues(op, strconv.Itoa(status)).Inc()
}

// lagCollector asks the projector for each projection's lag at scrape time,
// so the numbers are as fresh as the scrape and cost nothing in between.
type lagCollector struct {
	states      func(ctx context.Context) ([]projections.State, error)
	lagEvents   *prometheus.Desc
	lagSeconds  *prometheus.Desc
	pendingDead *prometheus.Desc
	position    *prometheus.Desc
}

// RegisterProjectionLag adds per-projection lag gauges, read at scrape time.
func RegisterProjectionLag(reg prometheus.Registerer, states func(ctx context.Context) ([]projections.State, error)) {
	reg.MustRegister(&lagCollector{
		states:      states,
		lagEvents:   prometheus.NewDesc("cxsms_projection_lag_events", "Events in the log the projection has not applied yet: counted up to 100,000, estimated above.", []string{"projection"}, nil),
		lagSeconds:  prometheus.NewDesc("cxsms_projection_lag_seconds", "Age of the oldest event the projection has not applied yet.", []string{"projection"}, nil),
		pendingDead: prometheus.NewDesc("cxsms_projection_dead_letters_pending", "Dead letters not replayed yet.", []string{"projection"}, nil),
		position:    prometheus.NewDesc("cxsms_projection_position_offset", "Log offset (events.offset) of the last event the projection applied.", []string{"projection"}, nil),
	})
}

func (c *lagCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.lagEvents
	ch <- c.lagSeconds
	ch <- c.pendingDead
	ch <- c.position
}

func (c *lagCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	states, err := c.states(ctx)
	if err != nil {
		return // the database is away; /readyz says so
	}
	for _, s := range states {
		ch <- prometheus.MustNewConstMetric(c.lagEvents, prometheus.GaugeValue, float64(s.LagEvents), s.Name)
		ch <- prometheus.MustNewConstMetric(c.lagSeconds, prometheus.GaugeValue, s.LagSeconds, s.Name)
		ch <- prometheus.MustNewConstMetric(c.pendingDead, prometheus.GaugeValue, float64(s.DeadLetters), s.Name)
		if _, off, ok := strings.Cut(s.Position, "/"); ok {
			if v, err := strconv.ParseFloat(off, 64); err == nil {
				ch <- prometheus.MustNewConstMetric(c.position, prometheus.GaugeValue, v, s.Name)
			}
		}
	}
}
