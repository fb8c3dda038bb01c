package http

import (
	"encoding/json"
	"mime"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads /metrics as Prometheus would and indexes every sample as
// `name{label="value",...}` (labels sorted), histograms and summaries by
// their _count and _sum.
func scrapeMetrics(t *testing.T, base string) (map[string]float64, map[string]*dto.MetricFamily) {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics = %d", res.StatusCode)
	}
	if mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); mt != "text/plain" {
		t.Fatalf("GET /metrics Content-Type = %q, want the Prometheus text format", res.Header.Get("Content-Type"))
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	samples := map[string]float64{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+`"`+l.GetValue()+`"`)
			}
			sort.Strings(labels)
			key := func(suffix string) string { return name + suffix + "{" + strings.Join(labels, ",") + "}" }
			switch {
			case m.Counter != nil:
				samples[key("")] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				samples[key("")] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				samples[key("_count")] = float64(m.GetHistogram().GetSampleCount())
				samples[key("_sum")] = m.GetHistogram().GetSampleSum()
			case m.Summary != nil:
				samples[key("_count")] = float64(m.GetSummary().GetSampleCount())
				samples[key("_sum")] = m.GetSummary().GetSampleSum()
			case m.Untyped != nil:
				samples[key("")] = m.GetUntyped().GetValue()
			}
		}
	}
	return samples, families
}

// deltas returns after-before for every sample whose name starts with prefix.
func metricDeltas(before, after map[string]float64, prefix string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range after {
		if strings.HasPrefix(k, prefix) && v != before[k] {
			out[k] = v - before[k]
		}
	}
	return out
}

// TestMetricsCountTraffic posts a known mix of webhooks and checks that
// /metrics moved by exactly that much, and that the Go runtime and process
// metrics serve.go registers are there.
func TestMetricsCountTraffic(t *testing.T) {
	t.Parallel()
	env := newAPIEnv(t, Config{AdminToken: testAdminToken, MaxBodyBytes: 4 << 10})
	c := &apiContract{t: t, doc: loadOpenAPI(t), client: &http.Client{Timeout: 30 * time.Second}, exercise: map[string][]int{}}
	base := env.srv.URL
	before, _ := scrapeMetrics(t, base)

	for _, r := range []apiRequest{
		// Three new reports, one of each payload format.
		webhookPost(`{"messageId":"m-json","eventId":"e1","status":"DELIVERED","carrier":"ATT"}`, nil, http.StatusOK),
		webhookPost(`{"receipted_message_id":"m-smpp","message_state":2}`, nil, http.StatusOK),
		webhookPost("id:m-receipt stat:UNDELIV err:012", map[string]string{"Content-Type": "text/plain"}, http.StatusOK),
		// A redelivery of the first.
		webhookPost(`{"messageId":"m-json","eventId":"e1","status":"DELIVERED","carrier":"ATT"}`, nil, http.StatusOK),
		// Refusals.
		webhookPost(`{"messageId":"m-x","status":"SENT"}`, map[string]string{"X-Webhook-Secret": "wrong"}, http.StatusUnauthorized),
		webhookPost(`{"messageId":`, nil, http.StatusBadRequest),
		webhookPost(`{"events":[`+strings.Repeat(`{"messageId":"m-big","status":"SENT"},`, 200)+`{}]}`, nil, http.StatusRequestEntityTooLarge),
	} {
		c.do(base, r)
	}
	// Requests no route takes count too, under one route label, and a
	// method HTTP does not define under one method label.
	for _, r := range []struct{ method, path string }{
		{http.MethodGet, "/webhooks/cxone/smss"}, {http.MethodPut, "/webhooks/cxone/sms"}, {"BREW", "/pot"},
	} {
		req, _ := http.NewRequest(r.method, base+r.path, nil)
		resp, err := c.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	waitProjected(t, c, base)
	after, families := scrapeMetrics(t, base)

	check := func(prefix string, want map[string]float64) {
		t.Helper()
		got := metricDeltas(before, after, prefix)
		for k, w := range want {
			if got[k] != w {
				t.Errorf("%s moved by %v, want %v", k, got[k], w)
			}
		}
		for k, g := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("%s moved by %v, want no change", k, g)
			}
		}
	}
	check("cxsms_ingest_requests_total", map[string]float64{
		`cxsms_ingest_requests_total{outcome="accepted"}`:     4,
		`cxsms_ingest_requests_total{outcome="unauthorized"}`: 1,
		`cxsms_ingest_requests_total{outcome="malformed"}`:    1,
		`cxsms_ingest_requests_total{outcome="too_large"}`:    1,
	})
	check("cxsms_ingest_reports_total", map[string]float64{
		`cxsms_ingest_reports_total{format="json",outcome="accepted"}`:         1,
		`cxsms_ingest_reports_total{format="smpp_json",outcome="accepted"}`:    1,
		`cxsms_ingest_reports_total{format="smpp_receipt",outcome="accepted"}`: 1,
		`cxsms_ingest_reports_total{format="json",outcome="duplicate"}`:        1,
	})
	webhook := func(code string) string {
		return `cxsms_http_request_duration_seconds_count{code="` + code + `",method="POST",route="/webhooks/cxone/sms"}`
	}
	got := metricDeltas(before, after, "cxsms_http_request_duration_seconds_count")
	for code, n := range map[string]float64{"200": 4, "401": 1, "400": 1, "413": 1} {
		if got[webhook(code)] != n {
			t.Errorf("%s moved by %v, want %v", webhook(code), got[webhook(code)], n)
		}
	}
	for _, key := range []string{
		`cxsms_http_request_duration_seconds_count{code="404",method="GET",route="unmatched"}`,
		`cxsms_http_request_duration_seconds_count{code="405",method="PUT",route="unmatched"}`,
		`cxsms_http_request_duration_seconds_count{code="404",method="OTHER",route="unmatched"}`,
	} {
		if got[key] != 1 {
			t.Errorf("%s moved by %v, want 1", key, got[key])
		}
	}
	// Every accepted request went through a commit; refusals never reach one.
	if d := after["cxsms_store_batch_requests_sum{}"] - before["cxsms_store_batch_requests_sum{}"]; d != 4 {
		t.Errorf("group commits carried %v requests, want 4", d)
	}
	if d := after["cxsms_store_batch_reports_sum{}"] - before["cxsms_store_batch_reports_sum{}"]; d != 4 {
		t.Errorf("group commits carried %v reports, want 4 (3 new and 1 duplicate)", d)
	}
	commits := after["cxsms_store_commit_duration_seconds_count{}"] - before["cxsms_store_commit_duration_seconds_count{}"]
	batches := after["cxsms_store_batch_requests_count{}"] - before["cxsms_store_batch_requests_count{}"]
	if commits < 1 || commits > 4 || commits != batches {
		t.Errorf("commit latency observed %v times and batch sizes %v times, want the same 1..4", commits, batches)
	}
	if d := after["cxsms_store_batch_failures_total{}"] - before["cxsms_store_batch_failures_total{}"]; d != 0 {
		t.Errorf("%v batches failed, want none", d)
	}

	// Each projection applied each new event once: duplicates never reach
	// the log, and nothing is applied twice.
	lag := families["cxsms_projection_lag_events"]
	if lag == nil || len(lag.GetMetric()) < 4 {
		t.Fatalf("cxsms_projection_lag_events = %v, want one per projection", lag)
	}
	for _, m := range lag.GetMetric() {
		name := m.GetLabel()[0].GetValue()
		if m.GetGauge().GetValue() != 0 {
			t.Errorf("%s lags %v events after catching up", name, m.GetGauge().GetValue())
		}
		key := `cxsms_projection_applied_total{projection="` + name + `"}`
		if d := after[key] - before[key]; d != 3 {
			t.Errorf("%s moved by %v, want 3 (one per new event)", key, d)
		}
	}

	runtimeMetrics := []string{
		"go_goroutines", "go_threads", "go_info", "go_gc_duration_seconds", "go_memstats_heap_alloc_bytes",
		"cxsms_http_panics_total",
	}
	if runtime.GOOS == "linux" { // where the process collector reads /proc; CI's platform
		runtimeMetrics = append(runtimeMetrics, "process_cpu_seconds_total", "process_resident_memory_bytes",
			"process_start_time_seconds", "process_open_fds", "process_max_fds")
	}
	for _, name := range runtimeMetrics {
		if families[name] == nil || len(families[name].GetMetric()) == 0 {
			t.Errorf("/metrics has no %s", name)
		}
	}
	if after["go_goroutines{}"] < 1 {
		t.Errorf("go_goroutines = %v", after["go_goroutines{}"])
	}
}

// registeredMetrics names every metric registered on reg, whether or not it
// has a sample yet (a counter vector shows on /metrics only once a label set
// is used; a dashboard may chart it before that).
func registeredMetrics(reg *prometheus.Registry) map[string]bool {
	ch := make(chan *prometheus.Desc)
	go func() { reg.Describe(ch); close(ch) }()
	name := regexp.MustCompile(`fqName: "([^"]+)"`)
	out := map[string]bool{}
	for d := range ch {
		if m := name.FindStringSubmatch(d.String()); m != nil {
			out[m[1]] = true
		}
	}
	return out
}

// TestGrafanaDashboardChartsRealMetrics keeps deploy/grafana-dashboard.json
// importable (a ${DS_PROMETHEUS} input, every panel on it) and charting
// only metrics the service exports.
func TestGrafanaDashboardChartsRealMetrics(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../deploy/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Inputs []struct {
			Name, Type, PluginID string
		} `json:"__inputs"`
		UID    string `json:"uid"`
		Title  string `json:"title"`
		Panels []struct {
			ID         int    `json:"id"`
			Type       string `json:"type"`
			Title      string `json:"title"`
			Datasource *struct {
				Type, UID string
			} `json:"datasource"`
			GridPos struct{ H, W, X, Y int } `json:"gridPos"`
			Targets []struct {
				Expr       string `json:"expr"`
				Datasource *struct {
					Type, UID string
				} `json:"datasource"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	if len(dash.Inputs) != 1 || dash.Inputs[0].Name != "DS_PROMETHEUS" || dash.Inputs[0].PluginID != "prometheus" {
		t.Errorf("__inputs = %+v, want one Prometheus datasource input DS_PROMETHEUS", dash.Inputs)
	}
	if dash.UID == "" || dash.Title == "" {
		t.Error("the dashboard needs a uid and a title")
	}

	env := newAPIEnv(t, Config{})
	c := &apiContract{t: t, doc: loadOpenAPI(t), client: &http.Client{Timeout: 30 * time.Second}, exercise: map[string][]int{}}
	c.do(env.srv.URL, webhookPost(`{"messageId":"m","status":"SENT"}`, nil, http.StatusOK))
	_, families := scrapeMetrics(t, env.srv.URL)
	registered := registeredMetrics(env.reg)
	if len(registered) < 20 || !registered["cxsms_ingest_requests_total"] {
		t.Fatalf("registered metrics = %v: the registry walk is broken", registered)
	}

	metric := regexp.MustCompile(`\b(?:cxsms|go|process)_[a-z0-9_]+`)
	ids := map[int]bool{}
	charted := 0
	for _, p := range dash.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d is used twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q has gridPos %+v", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${DS_PROMETHEUS}" {
			t.Errorf("panel %q does not use the ${DS_PROMETHEUS} datasource", p.Title)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no queries", p.Title)
		}
		for _, q := range p.Targets {
			if q.Datasource == nil || q.Datasource.UID != "${DS_PROMETHEUS}" {
				t.Errorf("panel %q: query %q does not use ${DS_PROMETHEUS}", p.Title, q.Expr)
			}
			for _, name := range metric.FindAllString(q.Expr, -1) {
				charted++
				base := name
				for _, suffix := range []string{"_bucket", "_count", "_sum"} {
					if trimmed := strings.TrimSuffix(name, suffix); trimmed != name && registered[trimmed] {
						base = trimmed
					}
				}
				elsewhere := runtime.GOOS != "linux" && strings.HasPrefix(base, "process_") // no /proc to read
				if !registered[base] && families[base] == nil && !elsewhere {
					t.Errorf("panel %q charts %s, which the service does not register", p.Title, name)
				}
			}
		}
	}
	if charted < 20 {
		t.Errorf("the dashboard charts only %d series", charted)
	}
}

// The failure counters exist at 0 from the start: one that appears at its
// first increment is invisible to increase(), so the first dead letter after
// a restart raised no alert.
func TestProjectionCountersStartAtZero(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	m.StartProjections([]string{"current_status.v1", "carrier_costs.v1"})
	for _, name := range []string{"cxsms_projection_errors_total", "cxsms_projection_dead_letters_total"} {
		if n := testutil.CollectAndCount(reg, name); n != 2 {
			t.Errorf("%s: %d series, want 2 (one per projection, at 0)", name, n)
		}
	}
}

// So do the ingest counters, for every outcome and format: a fresh node
// had none until its first webhook, so an alert on 503s missed the first
// burst after a restart, and the Grafana dashboard's instance list, read
// from cxsms_ingest_requests_total, left the node out.
func TestIngestCountersStartAtZero(t *testing.T) {
	reg := prometheus.NewRegistry()
	NewMetrics(reg)
	if n := testutil.CollectAndCount(reg, "cxsms_ingest_requests_total"); n != len(ingestOutcomes) {
		t.Errorf("cxsms_ingest_requests_total: %d series, want %d (one per outcome, at 0)", n, len(ingestOutcomes))
	}
	if n := testutil.CollectAndCount(reg, "cxsms_ingest_reports_total"); n != 6 {
		t.Errorf("cxsms_ingest_reports_total: %d series, want 6 (accepted and duplicate, per format)", n)
	}
}
