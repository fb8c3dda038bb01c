package http

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
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

func (f fixedCarriers) Violations(context.Context, string, string) ([]projections.Violation, string, error) {
	return nil, rules.Default().Version, nil
}

func (f fixedCarriers) Rules() *rules.Rules { return rules.Default() }

func (f fixedCarriers) JudgedUnder(context.Context, string) (string, error) {
	return rules.Default().Version, nil
}

// storelessServer is the API with reads (nil for none) and no store: enough
// for routes that read the read models or serve files.
func storelessServer(t *testing.T, reads readModels) http.Handler {
	t.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	h, err := NewServer(Config{WebhookSecret: "s"}, Deps{Log: log, Reads: reads,
		Metrics: NewMetrics(prometheus.NewRegistry()), MetricsHandler: http.NotFoundHandler()})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// The tutorial's shape has no currency: a carrier with entries in two
// currencies is one entry there, its counts added up.
func TestDeliveryOneEntryPerCarrier(t *testing.T) {
	t.Parallel()
	reads := fixedCarriers{carriers: []projections.CarrierStats{
		{Carrier: "CSPLIT", Currency: "USD", Total: 15, Failed: 15, Recommendation: "REROUTE"},
		{Carrier: "ATT", Currency: "USD", Total: 10, Delivered: 10, Recommendation: "KEEP"},
		{Carrier: "CSPLIT", Currency: "EUR", Total: 15, Delivered: 15, Recommendation: "REROUTE"},
	}}
	h := storelessServer(t, reads)
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
		// A blank form field is no filter, as openapi.json says.
		{"/analytics/carriers?region=&carrier=&from=&to=", http.StatusOK},
		{"/compliance/violations?senderId=&region=", http.StatusOK},
		{"/analytics/sla?window=&from=", http.StatusOK},
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
		// Bare digits the read models read as a country decide too.
		{"/compliance/check?senderId=ACME&recipient=14155550100&region=GB", http.StatusBadRequest},
		{"/compliance/check?senderId=ACME&recipient=447700900123&region=US", http.StatusBadRequest},
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

// A territory that shares its calling code (JE on +44) is an ISO country,
// whose numbers the read models count under the main one: the 400 said JE
// was no country code, and now says where to look.
func TestRegionOfSharedTerritory(t *testing.T) {
	t.Parallel()
	wantBadRequests(t, []struct{ path, want string }{
		{"/analytics/carriers?region=JE", `region \"JE\": numbers of JE (+44) are counted under GB; filter by region=GB`},
		{"/compliance/violations?region=va", `region \"va\": numbers of VA (+39) are counted under IT; filter by region=IT`},
		// /analytics/sla filters by no region, and advises none.
		{"/analytics/sla?region=JE", `region: /analytics/sla is kept per carrier and minute and cannot filter by region`},
		{"/compliance/violations?region=AX", `region \"AX\": numbers of AX (+358) are counted under FI; filter by region=FI`},
		{"/compliance/check?senderId=ACME&region=JE", `region \"JE\": numbers of JE (+44) are counted under GB; GB's rules judge them: give region=GB`},
		{"/analytics/carriers?region=ZZ", `region: want the ISO 3166 code of a country recipient numbers map to (GB, US, IN...) or UNKNOWN, got \"ZZ\"`},
		{"/compliance/check?senderId=ACME&region=ZZ", `region: want the ISO 3166 code of a country recipient numbers map to (GB, US, IN...), got \"ZZ\"`},
	})
}

// wantBadRequests asks a server over fixed read models for each path and
// wants a 400 with exactly that error.
func wantBadRequests(t *testing.T, tests []struct{ path, want string }) {
	t.Helper()
	h := storelessServer(t, fixedCarriers{})
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
		if got := rec.Body.String(); rec.Code != http.StatusBadRequest || got != `{"error":"`+tt.want+`"}`+"\n" {
			t.Errorf("GET %s: %d %s, want 400 %s", tt.path, rec.Code, got, tt.want)
		}
	}
}

// A time's + left unescaped arrives as a space; the 400 says so.
func TestUnescapedPlusInATimeIsExplained(t *testing.T) {
	t.Parallel()
	wantBadRequests(t, []struct{ path, want string }{
		{"/analytics/carriers?from=2024-05-06T10:00:00+02:00", `from: want an RFC 3339 time or YYYY-MM-DD date, got \"2024-05-06T10:00:00 02:00\": a + in a URL's query reads as a space, so write the offset's + as %2B`},
		{"/analytics/sla?to=2024-05-06%2010:00", `to: want an RFC 3339 time or YYYY-MM-DD date, got \"2024-05-06 10:00\"`},
	})
}

// An unknown parameter's 400 names what the route takes, and only that:
// /analytics/sla said it took region, which it always refuses.
func TestUnknownParameterNamesWhatTheRouteTakes(t *testing.T) {
	t.Parallel()
	wantBadRequests(t, []struct{ path, want string }{
		{"/analytics/sla?foo=1", `query: unknown parameter \"foo\"; this route takes from, to, carrier, window`},
		{"/analytics/carriers?foo=1", `query: unknown parameter \"foo\"; this route takes from, to, region, carrier`},
		{"/compliance/violations?foo=1", `query: unknown parameter \"foo\"; this route takes region, senderId`},
		{"/analytics/delivery?foo=1", `query: unknown parameter \"foo\"; this route takes none`},
		// A region is still refused with the reason, not as unknown.
		{"/analytics/sla?region=US", `region: /analytics/sla is kept per carrier and minute and cannot filter by region`},
		{"/analytics/sla?region=US&region=GB", `query: \"region\" is given 2 times; give it once`},
	})
}

// A poller's cache-buster (jQuery's cache: false adds _=<time>) is
// ignored by every route that takes parameters, as the tutorial ignored it.
func TestCacheBusterIsIgnored(t *testing.T) {
	t.Parallel()
	h := storelessServer(t, fixedCarriers{})
	for _, path := range []string{"/analytics/delivery?_=1733616000000", "/analytics/carriers?region=US&_=1",
		"/analytics/sla?_=1", "/compliance/violations?_=1&_=2", "/compliance/check?senderId=ACME&recipient=%2B447700900123&_=1"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s: %d %s, want 200", path, rec.Code, rec.Body)
		}
	}
}

// Rates are rounded to 2 decimals, and the recommendation beside them is
// judged on the exact rate: 188 of 1253 showed failureRate 15 beside
// REROUTE "above the 15% threshold", which the contract did not explain.
// The schemas say so, and their example is what the service answers.
func TestRatesDocumentedAsRounded(t *testing.T) {
	t.Parallel()
	if got := projections.Percent(188, 1253); got != 15 {
		t.Errorf("Percent(188, 1253) = %v, want 15 (rounded to 2 decimals)", got)
	}
	rec, reason := rules.Default().Thresholds.Recommend(1253, 188)
	if rec != rules.Reroute || !strings.Contains(reason, "15.004%") {
		t.Errorf("Recommend(1253, 188) = %s %q, want REROUTE telling 15.004%% from 15%%", rec, reason)
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Description string `json:"description"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatal(err)
	}
	for _, schema := range []string{"CarrierStats", "DeliveryCarrier"} {
		props := doc.Components.Schemas[schema].Properties
		for _, rate := range []string{"deliveryRate", "failureRate"} {
			if d := props[rate].Description; !strings.Contains(d, "Rounded to 2 decimals") {
				t.Errorf("%s.%s does not say it is rounded: %q", schema, rate, d)
			}
		}
		d := props["failureRate"].Description
		if !strings.Contains(d, "judged on the exact rate") || !strings.Contains(d, `("`+reason+`")`) {
			t.Errorf("%s.failureRate does not say the recommendation is judged on the exact rate, as in %q: %q", schema, reason, d)
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

// from=0001-01-01, "since the beginning", is kept as given: it is Go's zero
// time, and /analytics/sla took it for "not given" and answered its default
// hour; then it was shifted a nanosecond, and to=0001-01-01T00:00:00Z with
// it, which answered an hour into the year 0 (TestSLATakesWholeMinutes).
func TestFilterFromTheBeginning(t *testing.T) {
	t.Parallel()
	f, err := parseFilter(httptest.NewRequest(http.MethodGet, "/analytics/sla?from=0001-01-01&to=2026-12-06", nil))
	if want := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC); err != nil || !f.From.Equal(want) {
		t.Errorf("parseFilter: from %s, %v; want %s exactly", f.From, err, want)
	}
}

// ?carrier= finds a carrier whatever the case it is written in: the read
// models count carriers in upper case.
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
	// Once the projector has registered every projection: it reads each
	// one's rules as it registers it, and one that found 'other' then
	// rebuilt carrier_costs under its own, racing this test (CI saw it).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var n int
		if err := env.pool.QueryRow(context.Background(), `SELECT count(*) FROM projection_offsets`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the projector registered %d of 4 projections within 10 s", n)
		}
	}
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
		var ans struct{ RulesVersion, SLARulesVersion string }
		err = json.NewDecoder(resp.Body).Decode(&ans)
		resp.Body.Close()
		if err != nil || ans.RulesVersion != want {
			t.Errorf("GET %s: rulesVersion %q (%v), want %q", path, ans.RulesVersion, err, want)
		}
		// /analytics/delivery's slaCompliance comes from the SLA read
		// model, under its own rules: one version named over numbers of
		// two, a tester found.
		if path == "/analytics/delivery" && ans.SLARulesVersion != rules.Default().Version {
			t.Errorf("GET %s: slaRulesVersion %q, want the SLA read model's %q", path, ans.SLARulesVersion, rules.Default().Version)
		}
	}
}

// An offset of ±24:00 is not RFC 3339, and Go cannot write it back: it was
// read, and /analytics/sla answered 200 with an empty body.
func TestFilterOffsetOutOfRange(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		query string
		ok    bool
	}{
		{"from=2026-11-09T10:00:00%2B24:00", false},
		{"to=2026-11-10T10:00:00-24:00", false},
		{"from=2026-11-09T10:00:00%2B24:30", false},
		{"from=2026-11-09T10:00:00%2B23:59", true},
		{"from=2026-11-09T10:00:00-23:59", true},
		{"to=9999-12-31T23:59:59-23:59", false},
		{"to=9999-12-31T23:59:59Z", true},
		// Before the year 1 in UTC, and an end nothing is before.
		{"from=0001-01-01T00:30:00%2B01:00", false},
		{"from=0000-12-31", false},
		{"to=0001-01-01T00:00:00Z", false},
		{"to=0001-01-01", false},
		{"from=0001-01-01T00:00:00Z", true},
		{"to=0001-01-01T00:00:01Z", true},
		// RFC 3339 §5.6: "t" and "z" may be lower case.
		{"from=2025-03-11t00:00:00z", true},
		{"from=2025-03-11t00:00:00.5%2B01:00", true},
	} {
		_, err := parseFilter(httptest.NewRequest(http.MethodGet, "/analytics/sla?"+tt.query, nil))
		if (err == nil) != tt.ok {
			t.Errorf("parseFilter(%s): %v, want ok %v", tt.query, err, tt.ok)
		}
		if err != nil && strings.Contains(err.Error(), "want an RFC 3339 time") {
			t.Errorf("parseFilter(%s): %v: the time is RFC 3339; say what is wrong with it", tt.query, err)
		}
	}
}

// An answer that cannot be encoded is a 500 that says so, not a 200 with an
// empty body.
func TestWriteJSONUnencodable(t *testing.T) {
	t.Parallel()
	w := httptest.NewRecorder()
	writeJSON(w, http.StatusOK, map[string]any{"at": time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 24*60*60))})
	var answer struct{ Error string }
	if err := json.Unmarshal(w.Body.Bytes(), &answer); w.Code != http.StatusInternalServerError || err != nil || answer.Error == "" {
		t.Errorf("answer %d %q, want a 500 with an error", w.Code, w.Body.String())
	}
}

// /analytics/sla is kept per minute: a range takes every minute it
// overlaps, and says so. A part of a minute at the start was left out, one
// at the end counted whole, and the answer echoed the range as asked.
func TestSLATakesWholeMinutes(t *testing.T) {
	t.Parallel()
	env := newAPIEnv(t, Config{})
	for _, body := range []string{
		`{"messageId":"G1","status":"SENT","carrier":"EDGE","to":"+14155550100","timestamp":"2026-11-09T10:07:00Z"}`,
		`{"messageId":"G1","status":"DELIVERED","carrier":"EDGE","to":"+14155550100","timestamp":"2026-11-09T10:07:40Z"}`,
	} {
		if code, answer := postWebhook(t, env, "application/json", body); code != http.StatusOK {
			t.Fatalf("webhook: %d %s", code, answer)
		}
	}
	type answer struct {
		From, To time.Time
		Delivery projections.Percentiles
	}
	get := func(query string) answer {
		t.Helper()
		resp, err := http.Get(env.srv.URL + "/analytics/sla?carrier=EDGE&" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var a answer
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /analytics/sla?%s: %d %v", query, resp.StatusCode, err)
		}
		return a
	}
	// The delivery at 10:07:40 counts once projected.
	for deadline := time.Now().Add(10 * time.Second); get("from=2026-11-09&to=2026-11-10").Delivery.Count != 1; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the delivery was not projected")
		}
	}
	minute := func(m int) time.Time { return time.Date(2026, 11, 9, 10, m, 0, 0, time.UTC) }
	for _, tt := range []struct {
		query    string
		from, to time.Time
		count    int64
	}{
		{"from=2026-11-09T10:07:30Z&to=2026-11-09T10:08:00Z", minute(7), minute(8), 1},
		{"from=2026-11-09T10:00:00Z&to=2026-11-09T10:07:30Z", minute(0), minute(8), 1},
		{"from=2026-11-09T10:07:00Z&to=2026-11-09T10:07:01Z", minute(7), minute(8), 1},
		{"from=2026-11-09T10:08:00Z&to=2026-11-09T10:08:30Z", minute(8), minute(9), 0},
		{"from=2026-11-09T10:00:00Z&to=2026-11-09T10:07:00Z", minute(0), minute(7), 0},
		{"from=0001-01-01&to=2026-11-09T10:07:30Z", time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), minute(8), 1},
		// An end in the year 1's first hour: its default hour before does
		// not reach into the year 0 (it answered 0000-12-31T23:00:00Z).
		{"to=0001-01-01T00:00:30Z", time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1, 1, 1, 0, 1, 0, 0, time.UTC), 0},
		{"from=0001-01-01T00:00:00Z&to=0001-01-01T00:01:00Z", time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1, 1, 1, 0, 1, 0, 0, time.UTC), 0},
		// Rounded up, the last minute of 9999 is a year JSON cannot write.
		{"from=2026-11-09&to=9999-12-31T23:59:59Z", time.Date(2026, 11, 9, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), 1},
	} {
		a := get(tt.query)
		if !a.From.Equal(tt.from) || !a.To.Equal(tt.to) || a.Delivery.Count != tt.count {
			t.Errorf("?%s: range %s - %s, %d deliveries; want %s - %s, %d",
				tt.query, a.From, a.To, a.Delivery.Count, tt.from, tt.to, tt.count)
		}
	}
}

// A rebuild under other rules than its read models held says what it does
// to the processes projecting under those: they stop. From an ingest-only
// node with another RULES_FILE it stopped a deployment without a word.
func TestRebuildUnderOtherRulesWarns(t *testing.T) {
	t.Parallel()
	env := newAPIEnv(t, Config{AdminToken: testAdminToken})
	rebuild := func(name string) rebuildAnswer {
		t.Helper()
		code, a := postRebuild(t, env, name)
		if code != http.StatusOK {
			t.Fatalf("rebuild %s: %d %+v", name, code, a)
		}
		return a
	}
	if a := rebuild("carrier_costs"); a.Warning != "" {
		t.Errorf("a rebuild under the same rules warns: %q", a.Warning)
	}
	if _, err := env.pool.Exec(context.Background(), `UPDATE projection_status SET rules_version = 'other' WHERE name = 'carrier_costs.v1'`); err != nil {
		t.Fatal(err)
	}
	if a := rebuild("current_status"); a.Warning != "" {
		t.Errorf("a rebuild of another projection warns: %q", a.Warning)
	}
	a := rebuild("all")
	if !strings.Contains(a.Warning, `"other"`) || !strings.Contains(a.Warning, a.RulesVersion) {
		t.Errorf("warning %q, want it to name rules other and %s", a.Warning, a.RulesVersion)
	}
}

// A read behind a lock waits ReadTimeout, then answers 503 with
// Retry-After: readers piled up for as long as a maintenance session held
// the events table, while the webhook had answered 503 long before.
func TestReadsWaitAtMostReadTimeout(t *testing.T) {
	t.Parallel()
	env := newAPIEnv(t, Config{ReadTimeout: 300 * time.Millisecond})
	if code, answer := postWebhook(t, env, "application/json", `{"messageId":"locked-1","status":"SENT"}`); code != http.StatusOK {
		t.Fatalf("webhook: %d %s", code, answer)
	}
	ctx := context.Background()
	tx, err := env.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `LOCK TABLE events IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(env.srv.URL + "/messages/locked-1/history")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("history behind a lock: %d (Retry-After %q), want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

// A rebuild that outlasts the wait answers 202 with what it has done so
// far, and goes on: a 1-million-event log held the request 20 s, past
// proxies' timeouts, and then said 0 events.
func TestRebuildPastTheWaitGoesOn(t *testing.T) {
	t.Parallel()
	env := newAPIEnv(t, Config{AdminToken: testAdminToken, RebuildWait: time.Nanosecond})
	if code, a := postRebuild(t, env, "all"); code != http.StatusAccepted || a.Status != "running" || a.RulesVersion == "" {
		t.Fatalf("answered %d %+v, want 202 running", code, a)
	}
	// It goes on in the background, and ends.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var n int
		if err := env.pool.QueryRow(context.Background(), `SELECT count(*) FROM projection_status WHERE rebuilt_at IS NOT NULL`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 4 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 4 read models rebuilt 20 s on", n)
		}
	}
}

// ?window= groups /analytics/sla's windows: over 90 days a window per
// minute was 129,000 of them, 34 MB built in seconds. Windows start at
// from and every window after; their sums are the range's.
func TestSLAWindows(t *testing.T) {
	t.Parallel()
	env := newAPIEnv(t, Config{})
	for i, at := range []string{"2026-11-09T10:07:00Z", "2026-11-09T10:52:00Z", "2026-11-09T12:15:00Z"} {
		for _, st := range []string{"SENT", "DELIVERED"} {
			body := fmt.Sprintf(`{"messageId":"W%d","status":%q,"carrier":"WIN","to":"+14155550100","timestamp":%q}`, i, st, at)
			if code, answer := postWebhook(t, env, "application/json", body); code != http.StatusOK {
				t.Fatalf("webhook: %d %s", code, answer)
			}
		}
	}
	type answer struct {
		WindowMinutes int64
		Delivery      projections.Percentiles
		Windows       []projections.SLAWindow
	}
	get := func(query string) (int, answer) {
		t.Helper()
		resp, err := http.Get(env.srv.URL + "/analytics/sla?carrier=WIN&from=2026-11-09T10:00:00Z&to=2026-11-09T13:00:00Z&" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var a answer
		_ = json.NewDecoder(resp.Body).Decode(&a)
		return resp.StatusCode, a
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, a := get(""); a.Delivery.Count == 3 {
			if a.WindowMinutes != 1 || len(a.Windows) != 3 {
				t.Errorf("by default: %d-minute windows, %d of them; want 1-minute, 3", a.WindowMinutes, len(a.Windows))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the deliveries were not projected")
		}
	}
	hour := func(h int) time.Time { return time.Date(2026, 11, 9, h, 0, 0, 0, time.UTC) }
	for query, want := range map[string][]time.Time{
		"window=1h":  {hour(10), hour(12)},
		"window=60m": {hour(10), hour(12)},
		"window=1d":  {hour(10)},
	} {
		code, a := get(query)
		var got []time.Time
		var n int64
		for _, w := range a.Windows {
			got = append(got, w.Minute)
			n += w.Delivery.Count
		}
		if code != http.StatusOK || !slices.EqualFunc(got, want, time.Time.Equal) || n != 3 {
			t.Errorf("?%s: %d, windows %v holding %d deliveries; want %v holding 3", query, code, got, n, want)
		}
	}
	// A from centuries back: windows counted in a Duration overflowed past
	// 292 years, every report in one window of a made-up date.
	resp, err := http.Get(env.srv.URL + "/analytics/sla?carrier=WIN&from=1700-01-01T00:00:00Z&to=2026-11-10T00:00:00Z&window=1d")
	if err != nil {
		t.Fatal(err)
	}
	var old answer
	_ = json.NewDecoder(resp.Body).Decode(&old)
	resp.Body.Close()
	if day := time.Date(2026, 11, 9, 0, 0, 0, 0, time.UTC); len(old.Windows) != 1 || !old.Windows[0].Minute.Equal(day) {
		t.Errorf("from 1700, 1-day windows: %+v, want one, %s", old.Windows, day)
	}
	for _, bad := range []string{"window=0", "window=30s", "window=90s", "window=-1h", "window=soon", "window=400d"} {
		if code, _ := get(bad); code != http.StatusBadRequest {
			t.Errorf("?%s: %d, want 400", bad, code)
		}
	}
}

// postRebuild asks env to rebuild name, with the admin token.
func postRebuild(t *testing.T, env *apiEnv, name string) (int, rebuildAnswer) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, env.srv.URL+"/admin/projections/"+name+"/rebuild", nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a rebuildAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("rebuild %s: %d, answer %v", name, resp.StatusCode, err)
	}
	return resp.StatusCode, a
}
