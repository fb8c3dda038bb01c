package http

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/cxsms/cxsms/domain/rules"
	"github.com/cxsms/cxsms/projections"
)

// fixedCarriers answers Carriers with its entries, the rest with nothing.
type fixedCarriers struct {
	readModels
	carriers []projections.CarrierStats
}

func (f fixedCarriers) Carriers(context.Context, projections.Filter) ([]projections.CarrierStats, string, error) {
	return f.carriers, rules.Default().Version, nil
}

func (f fixedCarriers) SLA(context.Context, projections.Filter) (projections.SLAReport, error) {
	return projections.SLAReport{}, nil
}

func (f fixedCarriers) Rules() *rules.Rules { return rules.Default() }

func (f fixedCarriers) JudgedUnder(context.Context, string) (string, error) {
	return rules.Default().Version, nil
}

// The tutorial's shape has no currency: a carrier with entries in two
// currencies is one entry there, its counts added up.
func TestDeliveryOneEntryPerCarrier(t *testing.T) {
	t.Parallel()
	log := logrus.New()
	log.SetOutput(io.Discard)
	reads := fixedCarriers{carriers: []projections.CarrierStats{
		{Carrier: "CSPLIT", Currency: "USD", Total: 15, Failed: 15, Recommendation: "REROUTE"},
		{Carrier: "ATT", Currency: "USD", Total: 10, Delivered: 10, Recommendation: "KEEP"},
		{Carrier: "CSPLIT", Currency: "EUR", Total: 15, Delivered: 15, Recommendation: "REROUTE"},
	}}
	h, err := NewServer(Config{WebhookSecret: "s"}, Deps{Log: log, Reads: reads,
		Metrics: NewMetrics(prometheus.NewRegistry()), MetricsHandler: http.NotFoundHandler()})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/analytics/delivery", nil))
	var ans deliveryAnswer
	if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil {
		t.Fatalf("%d %s: %v", rec.Code, rec.Body, err)
	}
	want := []deliveryCarrier{
		{Carrier: "CSPLIT", TotalMessages: 30, DeliveryRate: 50, FailureRate: 50, RecommendedAction: "REROUTE"},
		{Carrier: "ATT", TotalMessages: 10, DeliveryRate: 100, RecommendedAction: "KEEP"},
	}
	if len(ans.CarrierAnalytics) != len(want) {
		t.Fatalf("carrierAnalytics %+v, want %+v", ans.CarrierAnalytics, want)
	}
	for i, w := range want {
		if ans.CarrierAnalytics[i] != w {
			t.Errorf("carrierAnalytics[%d] = %+v, want %+v", i, ans.CarrierAnalytics[i], w)
		}
	}
}

// A region is read as clients write it (any case, UK for GB); one the read
// models cannot hold, or a filter a read model cannot apply, is a 400
// instead of a quietly empty or unfiltered answer.
func TestAnalyticsRegionParameter(t *testing.T) {
	t.Parallel()
	env := newAPIEnv(t, Config{})
	for _, tt := range []struct {
		path string
		want int
	}{
		{"/analytics/carriers?region=uk", http.StatusOK},
		{"/analytics/carriers?region=UNKNOWN", http.StatusOK},
		{"/analytics/carriers?region=ZZ", http.StatusBadRequest},
		{"/compliance/violations?region=Uk", http.StatusOK},
		{"/compliance/violations?region=GBR", http.StatusBadRequest},
		{"/analytics/sla?region=GB", http.StatusBadRequest},
		{"/analytics/sla?from=2999-01-01", http.StatusBadRequest},
		{"/compliance/check?senderId=ACME&region=uk", http.StatusOK},
		{"/compliance/check?senderId=ACME&region=ZZ", http.StatusBadRequest},
		// A number with its calling code decides the region; bare digits
		// may be national, and the region says whose.
		{"/compliance/check?senderId=ACME&recipient=%2B14155550100&region=GB", http.StatusBadRequest},
		{"/compliance/check?senderId=ACME&recipient=0044%207911%20123456&region=US", http.StatusBadRequest},
		{"/compliance/check?senderId=ACME&recipient=%2B14155550100&region=us", http.StatusOK},
		{"/compliance/check?senderId=ACME&recipient=4155550100&region=US", http.StatusOK},
		{"/compliance/check?senderId=ACME&recipient=%2B999&region=GB", http.StatusOK},
	} {
		resp, err := http.Get(env.srv.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("GET %s: %d, want %d", tt.path, resp.StatusCode, tt.want)
		}
	}
}

// /analytics/delivery's throughput is the reports of the last 60 s, as the
// tutorial's is: the current minute and the part of the previous one still
// within 60 s, not both minutes whole.
func TestLastMinute(t *testing.T) {
	now := time.Date(2026, 11, 28, 10, 0, 15, 0, time.UTC) // 15 s into the minute
	windows := []projections.SLAWindow{
		{Minute: now.Truncate(time.Minute).Add(-2 * time.Minute), Throughput: 1000},
		{Minute: now.Truncate(time.Minute).Add(-time.Minute), Throughput: 400},
		{Minute: now.Truncate(time.Minute), Throughput: 100},
	}
	if got := lastMinute(windows, now); got != 100+300 {
		t.Errorf("lastMinute = %d, want 400 (100 this minute, 3/4 of the previous 400)", got)
	}
}

// ?carrier= finds a carrier whatever the case it is written in: the read
// models count carriers in upper case.
// from=0001-01-01, "since the beginning", is kept: it is Go's zero time,
// and /analytics/sla took it for "not given" and answered its default hour.
func TestFilterFromTheBeginning(t *testing.T) {
	t.Parallel()
	f, err := parseFilter(httptest.NewRequest(http.MethodGet, "/analytics/sla?from=0001-01-01&to=2026-12-06", nil))
	if err != nil || f.From.IsZero() || f.From.Year() != 1 {
		t.Errorf("parseFilter: from %s, %v; want given, in year 1", f.From, err)
	}
}

func TestCarrierFilterIgnoresCase(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest(http.MethodGet, "/analytics/carriers?carrier=%20tMobile%20", nil)
	f, err := parseFilter(r)
	if err != nil || f.Carrier != "TMOBILE" {
		t.Errorf("parseFilter: carrier %q, %v; want TMOBILE", f.Carrier, err)
	}
}

// An answer names the rules its read model was built under: while a rules
// change is being rebuilt, or while another process's rules hold the read
// model, that is not the running process's version.
func TestAnswersNameTheRulesOfTheirReadModel(t *testing.T) {
	t.Parallel()
	env := newAPIEnv(t, Config{})
	if _, err := env.pool.Exec(context.Background(), `INSERT INTO projection_status (name, rules_version) VALUES ('carrier_costs.v1', 'other')
		ON CONFLICT (name) DO UPDATE SET rules_version = 'other'`); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/analytics/carriers": "other",
		"/analytics/delivery": "other",
		"/analytics/sla":      rules.Default().Version, // not registered: the running rules
	} {
		resp, err := http.Get(env.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		var ans struct{ RulesVersion string }
		err = json.NewDecoder(resp.Body).Decode(&ans)
		resp.Body.Close()
		if err != nil || ans.RulesVersion != want {
			t.Errorf("GET %s: rulesVersion %q (%v), want %q", path, ans.RulesVersion, err, want)
		}
	}
}
