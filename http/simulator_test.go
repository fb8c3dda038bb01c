package http

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/sirupsen/logrus"

	"github.com/cxsms/cxsms/domain"
	"github.com/cxsms/cxsms/domain/rules"
	"github.com/cxsms/cxsms/eventstore"
	"github.com/cxsms/cxsms/eventstore/pgtest"
	"github.com/cxsms/cxsms/projections"
)

const simSecret = "sim-test-secret"

// simEnv is the API as serve wires it (a real store on a fresh database),
// without the projectors, which these tests do not need.
type simEnv struct {
	url     string
	pool    *pgxpool.Pool
	metrics *Metrics
}

func newSimEnv(t *testing.T, cfg Config) *simEnv {
	t.Helper()
	return newSimEnvWith(t, cfg, func(s *eventstore.Store) simStore { return s })
}

// simStore is what the server needs of its store.
type simStore interface {
	appender
	historian
	readiness
}

// newSimEnvWith is newSimEnv with the real store wrapped in wrap's.
func newSimEnvWith(t *testing.T, cfg Config, wrap func(*eventstore.Store) simStore) *simEnv {
	t.Helper()
	return newSimEnvOn(t, cfg, wrap, func(*http.Server) {})
}

// newSimEnvOn is newSimEnvWith on a server tune sets up first (timeouts).
func newSimEnvOn(t *testing.T, cfg Config, wrap func(*eventstore.Store) simStore, tune func(*http.Server)) *simEnv {
	t.Helper()
	pool := pgtest.Pool(t)
	log := logrus.New()
	log.SetOutput(io.Discard)
	metrics := NewMetrics(prometheus.NewRegistry())
	store := eventstore.New(pool, eventstore.Options{Observer: metrics})
	t.Cleanup(store.Close)
	cfg.WebhookSecret = simSecret
	h, err := NewServer(cfg, Deps{Log: log, Store: wrap(store), Reads: projections.NewReader(pool, rules.Default()),
		Metrics: metrics, MetricsHandler: http.NotFoundHandler()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	tune(srv.Config)
	srv.Start()
	t.Cleanup(srv.Close)
	return &simEnv{url: srv.URL, pool: pool, metrics: metrics}
}

func (e *simEnv) post(t *testing.T, body string) (int, []byte) {
	t.Helper()
	res, err := http.Post(e.url+"/simulator/sms", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func (e *simEnv) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

type simAnswer struct {
	Success             bool     `json:"success"`
	SimulatedMessageID  string   `json:"simulatedMessageId"`
	SimulatedMessageIDs []string `json:"simulatedMessageIds"`
	Scenario            string   `json:"scenario"`
	Seed                uint64   `json:"seed"`
	Summary             struct {
		Messages       int                   `json:"messages"`
		ReportsSent    int                   `json:"reportsSent"`
		DuplicatesSent int                   `json:"duplicatesSent"`
		Acknowledged   int                   `json:"acknowledged"`
		Duplicates     int                   `json:"duplicates"`
		OutOfOrder     int                   `json:"outOfOrder"`
		NonCompliant   int                   `json:"nonCompliantSenders"`
		ByForm         map[domain.Format]int `json:"byForm"`
		ByStatus       map[domain.Status]int `json:"byStatus"`
	} `json:"summary"`
}

// TestSimulatorStoresReportsThroughTheWebhook: fifty chaotic messages end up
// in the log, each report through the webhook handler (its metrics count
// them), duplicates recognised as such by the log.
func TestSimulatorStoresReportsThroughTheWebhook(t *testing.T) {
	env := newSimEnv(t, Config{SimulatorEnabled: true})
	code, body := env.post(t, `{"count":50,"scenario":"chaos","seed":7}`)
	if code != http.StatusOK {
		t.Fatalf("POST /simulator/sms = %d %s", code, body)
	}
	var ans simAnswer
	if err := json.Unmarshal(body, &ans); err != nil {
		t.Fatal(err)
	}
	s := ans.Summary
	t.Logf("summary: %+v", s)
	if !ans.Success || ans.Scenario != "chaos" || ans.Seed != 7 || len(ans.SimulatedMessageIDs) != 50 || ans.SimulatedMessageID != ans.SimulatedMessageIDs[0] {
		t.Fatalf("answer: %s", body)
	}
	if s.Messages != 50 || s.Acknowledged != s.ReportsSent || s.ReportsSent < 100 {
		t.Fatalf("summary: %+v", s)
	}
	if s.DuplicatesSent == 0 || s.Duplicates != s.DuplicatesSent {
		t.Fatalf("the log called %d reports duplicates, the simulator sent %d", s.Duplicates, s.DuplicatesSent)
	}
	for _, f := range []domain.Format{domain.FormatJSON, domain.FormatSMPPJSON, domain.FormatSMPPReceipt} {
		if s.ByForm[f] == 0 {
			t.Errorf("no %s reports in %v", f, s.ByForm)
		}
	}
	if got, want := env.count(t, `SELECT count(*) FROM events`), s.ReportsSent-s.DuplicatesSent; got != want {
		t.Fatalf("the log holds %d events, want %d", got, want)
	}
	if got := env.count(t, `SELECT count(DISTINCT message_id) FROM events WHERE message_id = ANY($1)`, ans.SimulatedMessageIDs); got != 50 {
		t.Fatalf("the log holds %d of the 50 messages", got)
	}
	for f, n := range map[string]int{"smpp_receipt": s.ByForm[domain.FormatSMPPReceipt], "json": s.ByForm[domain.FormatJSON]} {
		if got := env.count(t, `SELECT count(*) FROM events WHERE format = $1`, f); got == 0 || got > n {
			t.Errorf("%d %s events stored, %d sent", got, f, n)
		}
	}
	// The webhook handler itself ran for every report.
	if got := counterValue(t, env.metrics.ingestRequests.WithLabelValues("accepted")); int(got) != s.ReportsSent {
		t.Fatalf("webhook accepted %v requests, simulator sent %d reports", got, s.ReportsSent)
	}
	if got := counterValue(t, env.metrics.ingestReports.WithLabelValues("duplicate", "smpp_receipt")) +
		counterValue(t, env.metrics.ingestReports.WithLabelValues("duplicate", "json")) +
		counterValue(t, env.metrics.ingestReports.WithLabelValues("duplicate", "smpp_json")); int(got) != s.Duplicates {
		t.Fatalf("webhook counted %v duplicates, answer %d", got, s.Duplicates)
	}

	// The same seed again: the same reports, all of them duplicates now.
	code, body = env.post(t, `{"count":50,"scenario":"chaos","seed":7}`)
	var again simAnswer
	if err := json.Unmarshal(body, &again); err != nil || code != http.StatusOK {
		t.Fatalf("again: %d %s", code, body)
	}
	if again.Summary.Duplicates != again.Summary.ReportsSent || again.SimulatedMessageID != ans.SimulatedMessageID {
		t.Fatalf("repeating seed 7 should resend the same reports: %+v", again.Summary)
	}
}

// TestSimulatorTutorialRequest: the tutorial's body pins status, carrier and
// region; with signatures on, the simulator signs what it injects.
func TestSimulatorTutorialRequest(t *testing.T) {
	env := newSimEnv(t, Config{SimulatorEnabled: true, SigningSecret: "whsec_c2ltdWxhdG9yLXNpZ25pbmcta2V5"})
	code, body := env.post(t, `{"status":"DELIVERED","carrier":"TMOBILE","region":"US"}`)
	if code != http.StatusOK {
		t.Fatalf("POST /simulator/sms = %d %s", code, body)
	}
	var ans simAnswer
	if err := json.Unmarshal(body, &ans); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ans.SimulatedMessageID, "SIM-") || ans.Summary.Messages != 1 {
		t.Fatalf("answer: %s", body)
	}
	// The outcome is the latest report; carrier and recipient are on every
	// report but bare SMPP receipts, and CXone's own QUEUED is always JSON.
	var status, carrier, recipient string
	err := env.pool.QueryRow(context.Background(), `SELECT
			(SELECT status FROM events WHERE message_id = $1 ORDER BY occurred_at DESC LIMIT 1),
			carrier_code, recipient FROM events WHERE message_id = $1 AND status = 'QUEUED'`,
		ans.SimulatedMessageID).Scan(&status, &carrier, &recipient)
	if err != nil {
		t.Fatal(err)
	}
	if status != "DELIVERED" || carrier != "TMOBILE" || rules.RegionOf(recipient) != "US" {
		t.Fatalf("stored %s %s %s", status, carrier, recipient)
	}
	// An empty body is the tutorial's "everything random".
	if code, body := env.post(t, ``); code != http.StatusOK {
		t.Fatalf("empty body: %d %s", code, body)
	}
}

// A black-box tester found the simulator refusing what the tutorial's
// simulator and the webhook accept: a carrier such as "T-Mobile US", SMPP
// statuses (DELIVRD, UNDELIV), and fields it does not know. Each is taken
// now, stored as the webhook stores it, and unknown fields are named in the
// answer so that a typo shows.
func TestSimulatorAcceptsWhatTheWebhookAccepts(t *testing.T) {
	env := newSimEnv(t, Config{SimulatorEnabled: true})
	doc := loadOpenAPI(t)
	for _, tc := range []struct {
		body          string
		status        string // the outcome stored
		carrier       string // the carrier stored ("" for any)
		messages      int
		ignoredFields []string
	}{
		{body: `{"carrier":"T-Mobile US"}`, carrier: "T-Mobile US", messages: 1},
		{body: `{"status":"DELIVRD","carrier":"T-Mobile US","region":"US","scenario":"single"}`, status: "DELIVERED", carrier: "T-Mobile US", messages: 1},
		{body: `{"status":"UNDELIV","carrier":"tmobile","count":3}`, status: "UNDELIVERED", carrier: "TMOBILE", messages: 3},
		{body: `{"status":"stat:rejectd","carrier":" AT&T \"Biz\" \\ Télécom ","scenario":"chaos","count":5,"seed":3}`,
			status: "REJECTED", carrier: `AT&T "Biz" \ Télécom`, messages: 5},
		// Receipts name no carrier: with one report per message, the
		// simulator sends them as SMPP JSON so the carrier still arrives.
		{body: `{"carrier":"Receipt Mobile","scenario":"single","smppReceipt":1,"count":4}`, carrier: "Receipt Mobile", messages: 4},
		{body: `{"messageId":"X","cout":2,"status":"SENT"}`, status: "SENT", messages: 1, ignoredFields: []string{"cout", "messageId"}},
		// Names match as written, as the tutorial's req.body.status does.
		{body: `{"Count":2}`, messages: 1, ignoredFields: []string{"Count"}},
		{body: `null`, messages: 1},
	} {
		t.Run(tc.body, func(t *testing.T) {
			res, err := http.Post(env.url+"/simulator/sms", "application/json", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("POST /simulator/sms %s = %d %s", tc.body, res.StatusCode, body)
			}
			c := &apiContract{t: t, doc: doc, exercise: map[string][]int{}}
			c.check(apiRequest{method: http.MethodPost, template: "/simulator/sms"}, res, body)
			var ans struct {
				simAnswer
				IgnoredFields []string `json:"ignoredFields"`
			}
			if err := json.Unmarshal(body, &ans); err != nil {
				t.Fatal(err)
			}
			if len(ans.SimulatedMessageIDs) != tc.messages || !slices.Equal(ans.IgnoredFields, tc.ignoredFields) {
				t.Fatalf("%d messages, ignoredFields %q; want %d and %q: %s", len(ans.SimulatedMessageIDs), ans.IgnoredFields, tc.messages, tc.ignoredFields, body)
			}
			for _, id := range ans.SimulatedMessageIDs {
				var last string
				var carriers []string
				err := env.pool.QueryRow(context.Background(), `SELECT
						(SELECT status FROM events WHERE message_id = $1 ORDER BY occurred_at DESC LIMIT 1),
						(SELECT coalesce(array_agg(DISTINCT carrier_code), '{}') FROM events WHERE message_id = $1 AND carrier_code <> '')`,
					id).Scan(&last, &carriers)
				if err != nil {
					t.Fatal(err)
				}
				if tc.status != "" && last != tc.status {
					t.Errorf("%s ends %s, want %s", id, last, tc.status)
				}
				if len(carriers) != 1 || tc.carrier != "" && carriers[0] != tc.carrier {
					t.Errorf("%s stored carriers %q, want just %q", id, carriers, tc.carrier)
				}
			}
		})
	}
}

func TestSimulatorRefusedWhenDisabled(t *testing.T) {
	env := newSimEnv(t, Config{})
	code, body := env.post(t, `{"count":5}`)
	if code != http.StatusForbidden || !strings.Contains(string(body), "SIMULATOR_ENABLED") {
		t.Fatalf("disabled simulator answered %d %s", code, body)
	}
	if n := env.count(t, `SELECT count(*) FROM events`); n != 0 {
		t.Fatalf("a disabled simulator stored %d events", n)
	}
}

func TestSimulatorValidatesItsRequest(t *testing.T) {
	env := newSimEnv(t, Config{SimulatorEnabled: true})
	for _, tc := range []struct{ body, want string }{
		{`{"count":10001}`, "limit of 10000"},
		{`{"count":0}`, "count must be at least 1"},
		{`{"status":"DELIVERD"}`, `unknown status \"DELIVERD\"`},
		{`{"scenario":"storm"}`, `unknown scenario \"storm\"`},
		{`{"region":"XX"}`, `unknown region \"XX\"`},
		{`{"status":"processed"}`, "an SMPP stat: value, ENROUTE, ACCEPTD, DELIVRD, UNDELIV"},
		{`{"carrier":"T\tMobile"}`, `holds U+0009`},
		{`{"carrier":"   "}`, `carrier \"   \" is blank`},
		{`{"carrier":"` + strings.Repeat("x", 101) + `"}`, "more than the webhook's limit of 100"},
		{`{"duplicates":0.9}`, "duplicates must be"},
		{`{"scenario":"single","outOfOrder":0.2}`, "outOfOrder needs"},
		// A pinned status is every message's outcome: an inFlight share
		// beside it was overridden without a word.
		{`{"status":"DELIVERED","inFlight":1,"count":10}`, `inFlight cannot be given with status \"DELIVERED\"`},
		{`{"status":"SENT","inFlight":0.5}`, "inFlight cannot be given"},
		{`{"status":"FAILED","smppReceipt":1,"count":10}`, `smppReceipt cannot be given with status \"FAILED\": SMPP has no code for FAILED`},
		// Unknown fields are ignored, but named when the request fails.
		{`{"cuont":0,"count":0}`, "ignored unknown field(s): cuont"},
		// A known field of the wrong type is still refused.
		{`{"count":"5"}`, "simulator request"},
		{`{"carrier":5}`, "simulator request"},
	} {
		code, body := env.post(t, tc.body)
		if code != http.StatusBadRequest || !strings.Contains(string(body), tc.want) {
			t.Errorf("%s: %d %s, want 400 naming %s", tc.body, code, body, tc.want)
		}
	}
	if n := env.count(t, `SELECT count(*) FROM events`); n != 0 {
		t.Fatalf("refused requests stored %d events", n)
	}
	// inFlight 0 asks for what a pinned status gives anyway.
	if code, body := env.post(t, `{"status":"DELIVERED","inFlight":0,"count":2}`); code != http.StatusOK {
		t.Fatalf("status with inFlight 0: %d %s", code, body)
	}
}

// gatedStore lets its first pass appends through to the real store and
// hands the rest to then: a refusal, or a stall.
type gatedStore struct {
	*eventstore.Store
	pass int64
	then func(events []domain.StatusReceived) ([]eventstore.AppendResult, error)
	n    atomic.Int64
}

func (g *gatedStore) Append(ctx context.Context, events []domain.StatusReceived) ([]eventstore.AppendResult, error) {
	if g.n.Add(1) <= g.pass {
		return g.Store.Append(ctx, events)
	}
	return g.then(events)
}

func (g *gatedStore) wrap(s *eventstore.Store) simStore {
	g.Store = s
	return g
}

// shortenSimulatorDeadline makes the tests that reach the deadline take
// seconds. The tests that call it are not parallel, so nothing reads the
// variable meanwhile.
func shortenSimulatorDeadline(t *testing.T, d time.Duration) {
	t.Helper()
	was := simulatorDeadline
	simulatorDeadline = d
	t.Cleanup(func() { simulatorDeadline = was })
}

// postSimulator posts body with a client that gives up long before the
// store's retries would end, checks the answer against openapi.json, and
// returns it with its error message and how long it took.
func postSimulator(t *testing.T, base, body string) (res *http.Response, msg string, took time.Duration) {
	t.Helper()
	c := &apiContract{t: t, doc: loadOpenAPI(t), exercise: map[string][]int{}}
	client := &http.Client{Timeout: 10 * time.Second}
	start := time.Now()
	res, err := client.Post(base+"/simulator/sms", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("no answer after %s: %v", time.Since(start).Round(time.Millisecond), err)
	}
	took = time.Since(start)
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	c.check(apiRequest{method: http.MethodPost, template: "/simulator/sms"}, res, b)
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(b, &e)
	t.Logf("%d after %s: %s", res.StatusCode, took.Round(time.Millisecond), e.Error)
	return res, e.Error, took
}

var listedMessages = regexp.MustCompile(`(acknowledged \(stored\)|possibly stored)[^:]*: \d+ report\(s\), of messages ([^;]+)`)

// listedIDs returns the message IDs an error message names as stored and
// as possibly stored.
func listedIDs(msg string) (stored, possibly []string) {
	for _, m := range listedMessages.FindAllStringSubmatch(msg, -1) {
		ids := strings.Split(m[2], ", ")
		if m[1] == "possibly stored" {
			possibly = append(possibly, ids...)
		} else {
			stored = append(stored, ids...)
		}
	}
	return stored, possibly
}

func (e *simEnv) storedIDs(t *testing.T) []string {
	t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT DISTINCT message_id FROM events ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestSimulatorAnswersInTimeWhenTheStoreRefuses: a store that turns reports
// away gets a 503 with Retry-After before the deadline, not retries past the
// server's write timeout, and the answer names the reports stored before.
func TestSimulatorAnswersInTimeWhenTheStoreRefuses(t *testing.T) {
	shortenSimulatorDeadline(t, 2*time.Second)
	g := &gatedStore{pass: 10, then: func([]domain.StatusReceived) ([]eventstore.AppendResult, error) {
		return nil, fmt.Errorf("test: %w", eventstore.ErrUnavailable)
	}}
	env := newSimEnvWith(t, Config{SimulatorEnabled: true}, g.wrap)
	res, msg, took := postSimulator(t, env.url, `{"count":15,"scenario":"single","seed":3}`)
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Fatalf("answered %d, Retry-After %q: %s", res.StatusCode, res.Header.Get("Retry-After"), msg)
	}
	if took > 2*time.Second {
		t.Errorf("took %s: a Retry-After wait that ends past the deadline should not be waited", took)
	}
	if !strings.Contains(msg, "acknowledged (stored): 10 report(s)") || strings.Contains(msg, "possibly") {
		t.Errorf("the message should say 10 reports are stored, none possibly: %s", msg)
	}
	stored, _ := listedIDs(msg)
	slices.Sort(stored)
	if got := env.storedIDs(t); len(got) != 10 || !slices.Equal(got, stored) {
		t.Errorf("the log holds messages %v, the answer names %v", got, stored)
	}

	// The QA case: no PostgreSQL at all.
	down := newUnreachableEnv(t, Config{WebhookSecret: simSecret, SimulatorEnabled: true})
	res, msg, took = postSimulator(t, down.URL, `{"count":3}`)
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" ||
		!strings.Contains(msg, "acknowledged (stored): no report") || took > 4*time.Second {
		t.Fatalf("with no database: %d after %s, Retry-After %q: %s", res.StatusCode, took, res.Header.Get("Retry-After"), msg)
	}
}

// TestSimulatorAnswersInTimeWhenCommitsStall: commits that hang past the
// deadline still get an answer by then, which names the reports stored and,
// as possibly stored, those whose outcome the deadline left unknown.
func TestSimulatorAnswersInTimeWhenCommitsStall(t *testing.T) {
	shortenSimulatorDeadline(t, time.Second)
	release := make(chan struct{})
	committed := make(chan struct{}, 15)
	g := &gatedStore{pass: 10}
	g.then = func(events []domain.StatusReceived) ([]eventstore.AppendResult, error) {
		// Like the real store once a report is queued: it commits whatever
		// its caller's context says, when it can.
		<-release
		defer func() { committed <- struct{}{} }()
		return g.Store.Append(context.Background(), events)
	}
	env := newSimEnvWith(t, Config{SimulatorEnabled: true}, g.wrap)
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })

	res, msg, took := postSimulator(t, env.url, `{"count":15,"scenario":"single","seed":4}`)
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Fatalf("answered %d, Retry-After %q: %s", res.StatusCode, res.Header.Get("Retry-After"), msg)
	}
	if took > 3*time.Second {
		t.Errorf("took %s with a deadline of 1s", took)
	}
	if !strings.Contains(msg, "acknowledged (stored): 10 report(s)") || !strings.Contains(msg, "possibly stored (the deadline cut their attempt short): 5 report(s)") {
		t.Errorf("the message should say 10 reports are stored and 5 possibly: %s", msg)
	}
	// The stalled commits go through after all: the answer called them
	// possibly stored, and they are.
	once.Do(func() { close(release) })
	for range 5 {
		select {
		case <-committed:
		case <-time.After(10 * time.Second):
			t.Fatal("the stalled commits did not finish once released")
		}
	}
	stored, possibly := listedIDs(msg)
	named := slices.Sorted(slices.Values(append(stored, possibly...)))
	if got := env.storedIDs(t); len(got) != 15 || !slices.Equal(got, named) {
		t.Errorf("the log holds messages %v, the answer names %v", got, named)
	}
}

// TestSimulatorNamesTheWebhookBodyLimit: a generated report larger than
// MAX_BODY_BYTES is a 422 that names the limit, not a bare 500.
func TestSimulatorNamesTheWebhookBodyLimit(t *testing.T) {
	env := newSimEnv(t, Config{SimulatorEnabled: true, MaxBodyBytes: 64})
	res, msg, _ := postSimulator(t, env.url, `{"count":3}`)
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(msg, "webhook's body limit of 64 bytes (MAX_BODY_BYTES)") {
		t.Fatalf("answered %d: %s", res.StatusCode, msg)
	}
	if n := env.count(t, `SELECT count(*) FROM events`); n != 0 {
		t.Fatalf("%d events stored", n)
	}
}

func (e *simEnv) simulate(t *testing.T, body string) simAnswer {
	t.Helper()
	code, b := e.post(t, body)
	if code != http.StatusOK {
		t.Fatalf("POST /simulator/sms %s = %d %s", body, code, b)
	}
	var ans simAnswer
	if err := json.Unmarshal(b, &ans); err != nil {
		t.Fatal(err)
	}
	return ans
}

// A tester's carrier that the rate card does not list was charged another
// carrier's price (TMOBILE's in the US, VODAFONE's in GB); the card gives
// it the country's default, and so does the simulator now.
func TestSimulatorPricesByTheRateCard(t *testing.T) {
	env := newSimEnv(t, Config{SimulatorEnabled: true})
	for region, perSegment := range map[string]string{"US": "0.008300", "GB": "0.046300"} {
		ans := env.simulate(t, `{"count":4,"scenario":"single","status":"DELIVERED","carrier":"Acme Wireless","region":"`+region+`"}`)
		rows, err := env.pool.Query(context.Background(),
			`SELECT (price / (raw->'payload'->>'segments')::int)::numeric(18,6)::text FROM events WHERE message_id = ANY($1)`, ans.SimulatedMessageIDs)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			var got string
			if err := rows.Scan(&got); err != nil {
				t.Fatal(err)
			}
			if n++; got != perSegment {
				t.Errorf("Acme Wireless in %s: %s a segment, the rate card says %s", region, got, perSegment)
			}
		}
		if rows.Err() != nil || n != 4 {
			t.Fatalf("%d priced events, %v", n, rows.Err())
		}
	}
}

// A tester's seed 60606 sent with DELIVERED, then with FAILED, reused the
// message and event IDs: the FAILED reports were stored as duplicates while
// the answer said FAILED was simulated. Other options make other messages.
func TestSimulatorSameSeedOtherOptions(t *testing.T) {
	env := newSimEnv(t, Config{SimulatorEnabled: true})
	delivered := env.simulate(t, `{"seed":60606,"scenario":"single","status":"DELIVERED","count":3}`)
	failed := env.simulate(t, `{"seed":60606,"scenario":"single","status":"FAILED","count":3}`)
	if s := failed.Summary; s.Duplicates != 0 || s.DuplicatesSent != 0 || s.Acknowledged != 3 || s.ByStatus[domain.StatusFailed] != 3 {
		t.Fatalf("FAILED after DELIVERED: %+v", s)
	}
	for _, id := range failed.SimulatedMessageIDs {
		if slices.Contains(delivered.SimulatedMessageIDs, id) {
			t.Fatalf("message %s made by both", id)
		}
	}
	if n := env.count(t, `SELECT count(*) FROM events WHERE status = 'FAILED' AND message_id = ANY($1)`, failed.SimulatedMessageIDs); n != 3 {
		t.Fatalf("%d FAILED events stored, want 3", n)
	}
	// The same seed and options again are the same reports, stored once.
	again := env.simulate(t, `{"seed":60606,"scenario":"single","status":"FAILED","count":3}`)
	if again.Summary.Duplicates != 3 || !slices.Equal(again.SimulatedMessageIDs, failed.SimulatedMessageIDs) {
		t.Fatalf("repeat: %+v %v", again.Summary, again.SimulatedMessageIDs)
	}
}

// A tester's {"smppReceipt":1} was refused for a sum of 1.15, made with the
// scenario's smppJson, which the request never gave.
func TestSimulatorOneSMPPShareShrinksTheOther(t *testing.T) {
	env := newSimEnv(t, Config{SimulatorEnabled: true})
	ans := env.simulate(t, `{"smppReceipt":1,"status":"DELIVERED","count":5,"duplicates":0}`)
	if s := ans.Summary; s.ByForm[domain.FormatSMPPJSON] != 0 || s.ByForm[domain.FormatSMPPReceipt] != 10 {
		t.Fatalf("smppReceipt 1 on lifecycle: forms %v, want every SENT and DELIVERED a receipt", s.ByForm)
	}
	if code, body := env.post(t, `{"smppReceipt":0.7,"smppJson":0.5}`); code != http.StatusBadRequest ||
		!strings.Contains(string(body), "smppJson + smppReceipt must be at most 1, got 0.5 + 0.7") {
		t.Fatalf("both shares, too many: %d %s", code, body)
	}
}

// A tester's {"status":"DELIVRD"} was stored with rawStatus DELIVERED: the
// simulator sends the spelling it is given, and the webhook normalizes it.
func TestSimulatorSendsTheStatusAsSpelled(t *testing.T) {
	env := newSimEnv(t, Config{SimulatorEnabled: true})
	for _, spelling := range []string{"DELIVRD", "delivered", "stat:undeliv"} {
		ans := env.simulate(t, `{"status":"`+spelling+`","scenario":"single","count":2}`)
		var raws []string
		if err := env.pool.QueryRow(context.Background(), `SELECT array_agg(raw_status || '/' || status) FROM events WHERE message_id = ANY($1)`,
			ans.SimulatedMessageIDs).Scan(&raws); err != nil {
			t.Fatal(err)
		}
		want := spelling + "/" + string(domain.ParseStatus(spelling))
		if len(raws) != 2 || raws[0] != want || raws[1] != want {
			t.Errorf("status %q stored as %q, want %q", spelling, raws, want)
		}
		if len(ans.Summary.ByStatus) != 1 || ans.Summary.ByStatus[domain.ParseStatus(spelling)] != 2 {
			t.Errorf("status %q: byStatus %v", spelling, ans.Summary.ByStatus)
		}
	}
}

// A tester found field names matched in any case ({"count":2,"Count":4}
// made 4 messages), text after the JSON value ignored, and 2.0 refused as a
// count. Names match as written, trailing text is a 400 as at the webhook,
// and a whole number is one however it is written.
func TestSimulatorReadsItsRequestExactly(t *testing.T) {
	env := newSimEnv(t, Config{SimulatorEnabled: true})
	for _, tc := range []struct {
		body     string
		messages int
		seed     uint64
		ignored  []string
	}{
		{body: `{"count":2,"Count":4}`, messages: 2, ignored: []string{"Count"}},
		{body: `{"COUNT":4,"Status":"FAILED"}`, messages: 1, ignored: []string{"COUNT", "Status"}},
		{body: `{"count":2.0}`, messages: 2},
		{body: `{"count":1e1}`, messages: 10},
		{body: `{"count":20E-1,"seed":6.0606e4}`, messages: 2, seed: 60606},
		{body: `{"count":3,"seed":18446744073709551615}`, messages: 3, seed: 18446744073709551615},
		{body: " {\"count\":1}\n", messages: 1},
	} {
		code, b := env.post(t, tc.body)
		var ans struct {
			simAnswer
			IgnoredFields []string `json:"ignoredFields"`
		}
		if code != http.StatusOK || json.Unmarshal(b, &ans) != nil {
			t.Errorf("%s: %d %s", tc.body, code, b)
			continue
		}
		if len(ans.SimulatedMessageIDs) != tc.messages || !slices.Equal(ans.IgnoredFields, tc.ignored) || tc.seed != 0 && ans.Seed != tc.seed {
			t.Errorf("%s: %d messages, seed %d, ignoredFields %q; want %d, %d, %q", tc.body, len(ans.SimulatedMessageIDs), ans.Seed,
				ans.IgnoredFields, tc.messages, tc.seed, tc.ignored)
		}
	}
	before := env.count(t, `SELECT count(*) FROM events`)
	for _, tc := range []struct{ body, want string }{
		{`{"count":1} garbage`, "invalid JSON at byte 13: invalid character 'g' after top-level value"},
		{`{"count":1}{"count":2}`, "after top-level value"},
		{`{"count":2.5}`, "count must be a whole number, got 2.5"},
		{`{"count":1e999999999}`, "count must be a whole number, got 1e999999999"},
		{`{"count":1e-999999999}`, "count must be a whole number"},
		{`{"count":1e30}`, "count 1000000000000000000000000000000 is more than the limit"},
		{`{"seed":-1}`, "seed must be a whole number from 0 to 18446744073709551615, got -1"},
		{`{"seed":18446744073709551616}`, "got 18446744073709551616"},
		{`{"smppJson":"0.5"}`, `smppJson must be a number, got \"0.5\"`},
		{`[{"count":1}]`, "the body must be a JSON object, not an array"},
		{`{"count":"2","Count":2}`, `count must be a whole number, got \"2\"; ignored unknown field(s): Count`},
	} {
		if code, b := env.post(t, tc.body); code != http.StatusBadRequest || !strings.Contains(string(b), tc.want) {
			t.Errorf("%s: %d %s, want 400 naming %s", tc.body, code, b, tc.want)
		}
	}
	if n := env.count(t, `SELECT count(*) FROM events`); n != before {
		t.Fatalf("refused requests stored %d events", n-before)
	}
}

// A sender that hangs up after its whole body arrived still has its
// reports stored: they were received, and an answer nobody reads costs
// nothing (a redelivery is a duplicate). They used to be dropped unwritten
// and counted as gone.
func TestSenderGoneAfterItsBodyIsStored(t *testing.T) {
	t.Parallel()
	entered, hungUp := make(chan struct{}, 1), make(chan struct{})
	env := newSimEnvWith(t, Config{}, func(s *eventstore.Store) simStore { return hangUpStore{s, entered, hungUp} })
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, env.url+"/webhooks/cxone/sms",
		strings.NewReader(`{"messageId":"gone-1","status":"DELIVERED"}`))
	req.Header.Set("X-Webhook-Secret", simSecret)
	done := make(chan error, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	<-entered
	cancel()
	if err := <-done; err == nil {
		t.Fatal("the request was answered after its sender hung up")
	}
	close(hungUp)
	waitCounted(t, env.metrics.ingestRequests.WithLabelValues("accepted"), 1)
	if n := env.count(t, `SELECT count(*) FROM events WHERE message_id = 'gone-1'`); n != 1 {
		t.Errorf("a request whose sender hung up after its body stored %d events, want 1", n)
	}
	for _, outcome := range []string{"client_gone", "unavailable"} {
		if got := counterValue(t, env.metrics.ingestRequests.WithLabelValues(outcome)); got != 0 {
			t.Errorf("%s = %v, want 0", outcome, got)
		}
	}
}

// hangUpStore appends once the test says the request's sender has hung up:
// the batch begins after its caller is gone.
type hangUpStore struct {
	*eventstore.Store
	entered chan struct{}
	hungUp  chan struct{}
}

func (h hangUpStore) Append(ctx context.Context, events []domain.StatusReceived) ([]eventstore.AppendResult, error) {
	h.entered <- struct{}{}
	<-h.hungUp
	return h.Store.Append(ctx, events)
}

// A sender may half-close its connection once its request is sent and
// still read the answer (HTTP/1.0 clients, L4 proxies). net/http cancels
// the request's context on that EOF, and such a batch was refused with 499:
// a sender that gives up on a 4xx lost a report that was never stored.
func TestHalfClosedSenderIsAnswered(t *testing.T) {
	t.Parallel()
	env := newSimEnv(t, Config{})
	for i := range 5 {
		var body strings.Builder
		body.WriteString("[")
		for j := range 200 {
			if j > 0 {
				body.WriteString(",")
			}
			fmt.Fprintf(&body, `{"messageId":"half-%d-%d","status":"DELIVERED"}`, i, j)
		}
		body.WriteString("]")
		conn, err := net.Dial("tcp", strings.TrimPrefix(env.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST /webhooks/cxone/sms HTTP/1.1\r\nHost: x\r\nX-Webhook-Secret: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			simSecret, body.Len(), body.String())
		if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("request %d: no answer after a half-close: %v", i, err)
		}
		b, _ := io.ReadAll(res.Body)
		conn.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("request %d: %d %s, want 200", i, res.StatusCode, b)
		}
	}
	if n := env.count(t, `SELECT count(*) FROM events WHERE message_id LIKE 'half-%'`); n != 1000 {
		t.Errorf("stored %d events, want 1000", n)
	}
}

// A sender that hangs up half-way through its body is gone, not malformed:
// counted as a 400, it showed on the dashboard as a refused request.
func TestSenderGoneMidBody(t *testing.T) {
	t.Parallel()
	env := newSimEnv(t, Config{})
	conn, err := net.Dial("tcp", strings.TrimPrefix(env.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /webhooks/cxone/sms HTTP/1.1\r\nHost: x\r\nX-Webhook-Secret: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"messageId\":", simSecret)
	time.Sleep(100 * time.Millisecond)
	conn.Close()
	waitCounted(t, env.metrics.ingestRequests.WithLabelValues("client_gone"), 1)
	if got := counterValue(t, env.metrics.ingestRequests.WithLabelValues("malformed")); got != 0 {
		t.Errorf("malformed = %v, want 0", got)
	}
}

// A body that does not arrive within the server's read timeout is answered
// 408 with its reason. The write deadline runs from the same start, so the
// sender used to get no answer at all, only a closed connection.
func TestSlowBodyIsAnswered408(t *testing.T) {
	t.Parallel()
	env := newSimEnvOn(t, Config{}, func(s *eventstore.Store) simStore { return s }, func(hs *http.Server) {
		hs.ReadTimeout, hs.WriteTimeout = 500*time.Millisecond, 500*time.Millisecond
	})
	conn, err := net.Dial("tcp", strings.TrimPrefix(env.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /webhooks/cxone/sms HTTP/1.1\r\nHost: x\r\nX-Webhook-Secret: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"messageId\":", simSecret)
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a body that did not arrive in time: %v", err)
	}
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(b), "did not arrive within") {
		t.Errorf("%d %s, want 408 saying the body did not arrive in time", res.StatusCode, b)
	}
	if n := env.count(t, `SELECT count(*) FROM events`); n != 0 {
		t.Errorf("stored %d events", n)
	}
}

// When PostgreSQL refuses the INSERT itself (a revoked grant, a read-only
// database), the webhook's 503 names the cause, as /readyz and the reads
// do, and says nothing was stored. It said the commit might have landed.
// A trigger raises the very errors PostgreSQL would.
func TestRefusedWriteIsNamed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ code, msg, want string }{
		{"42501", "permission denied for table events", "the database refuses this service's role: permission denied for table events; nothing was stored"},
		{"25006", "cannot execute INSERT in a read-only transaction", "the database is read-only (a standby?); nothing was stored"},
	} {
		env := newSimEnv(t, Config{})
		if _, err := env.pool.Exec(context.Background(), `
			CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN RAISE EXCEPTION '`+tc.msg+`' USING ERRCODE = '`+tc.code+`'; END $$;
			CREATE TRIGGER refuse BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse()`); err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, env.url+"/webhooks/cxone/sms", strings.NewReader(`{"messageId":"refused-1","status":"SENT"}`))
		req.Header.Set("X-Webhook-Secret", simSecret)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" || !strings.Contains(string(b), tc.want) {
			t.Errorf("SQLSTATE %s: %d (Retry-After %q) %s, want 503 with Retry-After naming %q", tc.code, res.StatusCode, res.Header.Get("Retry-After"), b, tc.want)
		}
	}
}

// A webhook refused from its headers alone (a wrong secret, a coding it
// cannot undo) is answered at once, whatever its body does: net/http read
// the unread body before answering, and a stalled sender got its 401 only
// at the read timeout, or nothing. The server's read timeout here is past
// the client's patience: without the fix no answer comes in time.
func TestRefusedFromHeadersIsAnsweredAtOnce(t *testing.T) {
	t.Parallel()
	env := newSimEnvOn(t, Config{}, func(s *eventstore.Store) simStore { return s }, func(hs *http.Server) {
		hs.ReadTimeout = 20 * time.Second
	})
	for _, tc := range []struct {
		headers string
		want    int
	}{
		{"X-Webhook-Secret: wrong\r\n", http.StatusUnauthorized},
		{"X-Webhook-Secret: " + simSecret + "\r\nContent-Encoding: zstd\r\n", http.StatusUnsupportedMediaType},
	} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(env.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST /webhooks/cxone/sms HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"messageId\":", tc.headers)
		if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%q: no answer while the body stalls: %v", tc.headers, err)
		}
		conn.Close()
		if res.StatusCode != tc.want {
			t.Errorf("%q: %d, want %d", tc.headers, res.StatusCode, tc.want)
		}
	}
}

// waitCounted waits until c reaches want: the handler counts after the
// client has given up on its answer.
func waitCounted(t *testing.T, c prometheus.Counter, want float64) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); counterValue(t, c) != want; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("counter at %v after 20 s, want %v", counterValue(t, c), want)
		}
	}
}

// A web page on another site could post to the simulator with a plain HTML
// form (enctype text/plain, urlencoded or multipart: no CORS preflight),
// writing synthetic reports into a log nothing can clean. The simulator
// takes JSON only, and nothing a browser marks as from elsewhere.
func TestSimulatorRefusesOtherSites(t *testing.T) {
	env := newSimEnv(t, Config{SimulatorEnabled: true})
	host := strings.TrimPrefix(env.url, "http://")
	const body = `{"status":"DELIVERED"}`
	for _, tt := range []struct {
		name   string
		body   string
		header map[string]string
		want   int
	}{
		// The tutorial's request, and curl's empty one.
		{"the tutorial's", body, map[string]string{"Content-Type": "application/json"}, http.StatusOK},
		{"empty, without a Content-Type", "", nil, http.StatusOK},
		{"JSON in any case, with a charset", body, map[string]string{"Content-Type": "Application/JSON; charset=utf-8"}, http.StatusOK},
		{"a +json type", body, map[string]string{"Content-Type": "application/vnd.cxsms+json"}, http.StatusOK},
		{"from its own page", body, map[string]string{"Content-Type": "application/json", "Origin": "http://" + host, "Sec-Fetch-Site": "same-origin"}, http.StatusOK},
		// What an HTML form sends.
		{"text/plain", body, map[string]string{"Content-Type": "text/plain"}, http.StatusUnsupportedMediaType},
		{"a urlencoded form", "status=DELIVERED", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, http.StatusUnsupportedMediaType},
		{"a multipart form", "--b\r\n\r\nx\r\n--b--\r\n", map[string]string{"Content-Type": "multipart/form-data; boundary=b"}, http.StatusUnsupportedMediaType},
		{"a body without a Content-Type", body, map[string]string{"Content-Type": ""}, http.StatusUnsupportedMediaType},
		// What a browser says of a page elsewhere, JSON or not.
		{"cross-site", body, map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"empty, cross-site", "", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"another origin", body, map[string]string{"Content-Type": "application/json", "Origin": "https://evil.example"}, http.StatusForbidden},
		{"another port", "", map[string]string{"Origin": "http://127.0.0.1:1"}, http.StatusForbidden},
		{"an opaque origin", "", map[string]string{"Origin": "null"}, http.StatusForbidden},
		{"a form from another origin", body, map[string]string{"Content-Type": "text/plain", "Origin": "https://evil.example"}, http.StatusForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := env.count(t, `SELECT count(*) FROM events`)
			req, err := http.NewRequest(http.MethodPost, env.url+"/simulator/sms", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			if tt.header["Content-Type"] == "" {
				// net/http sends none for an empty body; say so for a full one.
				req.Header.Del("Content-Type")
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.want {
				t.Fatalf("%d %s, want %d", res.StatusCode, got, tt.want)
			}
			c := &apiContract{t: t, doc: loadOpenAPI(t), exercise: map[string][]int{}}
			c.check(apiRequest{method: http.MethodPost, template: "/simulator/sms"}, res, got)
			if after := env.count(t, `SELECT count(*) FROM events`); tt.want != http.StatusOK && after != before {
				t.Errorf("a refused request stored %d events", after-before)
			}
		})
	}
}

// TestSimulatorOriginDefaultPorts: a browser leaves the scheme's default
// port out of Origin, and a proxy often adds it to Host; either way round
// it is the same origin. A tester's Host localhost:80 with Origin
// http://localhost was a 403.
func TestSimulatorOriginDefaultPorts(t *testing.T) {
	for _, tc := range []struct {
		host, origin string
		allowed      bool
	}{
		{"localhost:80", "http://localhost", true},
		{"localhost:443", "https://localhost", true},
		{"localhost", "http://localhost:80", true},
		{"localhost", "https://localhost:443", true},
		{"LOCALHOST:80", "HTTP://localhost", true},
		{"[::1]:80", "http://[::1]", true},
		{"localhost:8080", "http://localhost:8080", true},
		// A default port is the scheme's own, and another port is another origin.
		{"localhost:443", "http://localhost", false},
		{"localhost:80", "https://localhost", false},
		{"localhost", "https://localhost:80", false},
		{"localhost:8080", "http://localhost", false},
		{"localhost", "http://localhost:8080", false},
	} {
		r := httptest.NewRequest(http.MethodPost, "/simulator/sms", nil)
		r.Host = tc.host
		r.Header.Set("Origin", tc.origin)
		if err := simulatorRequestAllowed(r); (err == nil) != tc.allowed {
			t.Errorf("Host %s, Origin %s: %v, want allowed %t", tc.host, tc.origin, err, tc.allowed)
		}
	}
}

// A Content-Length over the simulator's limit is refused from the header,
// as the webhook refuses one: it sent 100 Continue and read 64 KiB first,
// and without Expect waited for a body it would refuse.
func TestSimulatorRefusesALargeContentLengthAtOnce(t *testing.T) {
	env := newSimEnv(t, Config{SimulatorEnabled: true})
	for _, expect := range []string{"Expect: 100-continue\r\n", ""} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(env.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /simulator/sms HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n", 1<<20, expect)
		// The body never comes.
		if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%q: no answer before the body: %v", expect, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusRequestEntityTooLarge || !strings.HasPrefix(string(body), `{"error":`) {
			t.Errorf("%q: first answer %s %s, want a JSON 413", expect, res.Status, body)
		}
	}
}

// DNS rebinding: a page at http://attacker.example:PORT whose name now
// resolves to 127.0.0.1 is same-origin with the simulator, so Host, Origin
// and Sec-Fetch-Site all agree, and its request was answered 200, its
// reports stored for good. Its Host still names the attacker's domain.
func TestSimulatorRefusesReboundNames(t *testing.T) {
	env := newSimEnv(t, Config{SimulatorEnabled: true})
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(env.url, "http://"))
	post := func(t *testing.T, host string, header map[string]string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, env.url+"/simulator/sms", strings.NewReader(`{"count":1}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		req.Header.Set("Content-Type", "application/json")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		c := &apiContract{t: t, doc: loadOpenAPI(t), exercise: map[string][]int{}}
		c.check(apiRequest{method: http.MethodPost, template: "/simulator/sms"}, res, body)
		return res.StatusCode, body
	}

	before := env.count(t, `SELECT count(*) FROM events`)
	rebound := "attacker.example:" + port
	code, body := post(t, rebound, map[string]string{"Origin": "http://" + rebound, "Sec-Fetch-Site": "same-origin"})
	if code != http.StatusForbidden || !strings.Contains(string(body), "SIMULATOR_HOSTS") || !strings.Contains(string(body), "attacker.example") {
		t.Errorf("from a rebound name: %d %s, want a 403 naming the host and SIMULATOR_HOSTS", code, body)
	}
	if after := env.count(t, `SELECT count(*) FROM events`); after != before {
		t.Errorf("the refused request stored %d events", after-before)
	}
	// The tutorial's curl, by name and by address, and the dashboard's own
	// page.
	for _, host := range []string{"localhost:" + port, "127.0.0.1:" + port, "[::1]:" + port} {
		if code, body := post(t, host, map[string]string{"Origin": "http://" + host, "Sec-Fetch-Site": "same-origin"}); code != http.StatusOK {
			t.Errorf("Host %s: %d %s, want 200", host, code, body)
		}
	}
}

// The simulator answers to this service's own names only: localhost and its
// subdomains, IP addresses, PUBLIC_URL's host and SIMULATOR_HOSTS, in any
// case, with or without a port or a final dot.
func TestSimulatorHostAllowed(t *testing.T) {
	own := &Server{cfg: Config{PublicURL: "https://SMS.example.com:8443/base", SimulatorHosts: []string{"sim.internal", "Proxy.Example."}}}
	bare := &Server{}
	for _, tt := range []struct {
		host      string
		own, bare bool
	}{
		{"", true, true}, // HTTP/1.0, not a browser
		{"localhost", true, true},
		{"localhost:8080", true, true},
		{"LocalHost.:8080", true, true},
		{"app.localhost:8080", true, true},
		{"127.0.0.1:8080", true, true},
		{"10.1.2.3", true, true},
		{"[::1]:8080", true, true},
		{"[::1]", true, true},
		{"sms.example.com", true, false},
		{"sms.example.com:443", true, false},
		{"SIM.internal:8080", true, false},
		{"proxy.example", true, false},
		{"attacker.example:19400", false, false},
		{"localhost.attacker.example", false, false},
		{"localhost-attacker.example", false, false},
		{"sms.example.com.attacker.example", false, false},
		{"127.0.0.1.nip.io:8080", false, false},
		{"example.com", false, false},
		{"internal", false, false},
	} {
		for _, s := range []struct {
			srv  *Server
			want bool
		}{{own, tt.own}, {bare, tt.bare}} {
			r := httptest.NewRequest(http.MethodPost, "/simulator/sms", nil)
			r.Host = tt.host
			if err := s.srv.simulatorHostAllowed(r); (err == nil) != s.want {
				t.Errorf("Host %q with %+v: %v, want allowed %v", tt.host, s.srv.cfg, err, s.want)
			}
		}
	}
}
