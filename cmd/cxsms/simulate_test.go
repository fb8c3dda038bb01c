package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cxsms/cxsms/domain"
	cxhttp "github.com/cxsms/cxsms/http"
)

// fakeWebhook answers like the real webhook (parse with domain.Parse, dedupe
// on the idempotency key) and keeps every body in arrival order.
type fakeWebhook struct {
	mu       sync.Mutex
	bodies   [][]byte
	seen     map[domain.Key]bool
	requests int
	// unavailableEvery answers 503 to every n-th request (0: never).
	unavailableEvery int
	secret           string
	// signingKey, when set, requires a Standard Webhooks signature.
	signingKey []byte
}

func (f *fakeWebhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	if r.Header.Get("X-Webhook-Secret") != f.secret {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if f.signingKey != nil && r.Header.Get("webhook-signature") !=
		cxhttp.Sign(f.signingKey, r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), body) {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if f.unavailableEvery > 0 && f.requests%f.unavailableEvery == 0 {
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	evs, err := domain.Parse(domain.Request{Body: body, ContentType: r.Header.Get("Content-Type"),
		EventIDHeader: r.Header.Get("X-CXone-Event-Id"), ReceivedAt: time.Now()})
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":%q}`, err.Error())
		return
	}
	f.bodies = append(f.bodies, body)
	type result struct {
		MessageID string `json:"messageId"`
		EventID   string `json:"eventId"`
		Duplicate bool   `json:"duplicate"`
	}
	res := make([]result, len(evs))
	for i, e := range evs {
		res[i] = result{e.MessageID, e.EventID, f.seen[e.Key()]}
		f.seen[e.Key()] = true
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"acknowledged": true, "results": res})
}

func newFakeWebhook(t *testing.T) (*fakeWebhook, string) {
	f := &fakeWebhook{seen: map[domain.Key]bool{}, secret: "fake-secret"}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func runSimulate(t *testing.T, env map[string]string, args ...string) (*simulateSummary, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	getenv := envFunc(env)
	err := run(context.Background(), append([]string{"simulate", "--json"}, args...), getenv, &stdout, &stderr)
	if stdout.Len() == 0 {
		return nil, stderr.String(), err
	}
	var sum simulateSummary
	if jerr := json.Unmarshal(stdout.Bytes(), &sum); jerr != nil {
		t.Fatalf("summary is not JSON: %v\n%s", jerr, stdout.Bytes())
	}
	return &sum, stderr.String(), err
}

// TestSimulateSendsWhatItCounts: every report reaches the target, the
// duplicates the target sees are the ones the generator sent, and the
// secret comes from WEBHOOK_SECRET.
func TestSimulateSendsWhatItCounts(t *testing.T) {
	f, url := newFakeWebhook(t)
	sum, stderr, err := runSimulate(t, map[string]string{"WEBHOOK_SECRET": f.secret},
		"--target", url, "--count", "300", "--concurrency", "4", "--rate", "0", "--scenario", "chaos", "--seed", "3")
	if err != nil {
		t.Fatalf("simulate: %v\n%s", err, stderr)
	}
	tot := sum.Totals
	if sum.Sent.Messages != 300 || tot.Requests != int64(len(f.bodies)) || tot.Reports != tot.Acknowledged || tot.Failed != 0 {
		t.Fatalf("summary %+v, target got %d requests", tot, len(f.bodies))
	}
	if tot.Duplicates == 0 || tot.Duplicates != int64(sum.Sent.Duplicates) {
		t.Fatalf("target saw %d duplicates, simulate sent %d", tot.Duplicates, sum.Sent.Duplicates)
	}
	if sum.Seed != 3 || sum.Latency.P50 <= 0 || sum.Latency.P99 < sum.Latency.P50 || sum.Latency.Max < sum.Latency.P99 {
		t.Fatalf("seed %d, latency %+v", sum.Seed, sum.Latency)
	}
	if !strings.Contains(stderr, "acked") {
		t.Fatalf("no progress line on stderr: %q", stderr)
	}
}

// TestSimulateSigns: with a signing secret every request carries a valid
// Standard Webhooks signature.
func TestSimulateSigns(t *testing.T) {
	f, url := newFakeWebhook(t)
	f.signingKey = []byte("sim-signing-key")
	sum, stderr, err := runSimulate(t, map[string]string{"WEBHOOK_SECRET": f.secret, "WEBHOOK_SIGNING_SECRET": "whsec_c2ltLXNpZ25pbmcta2V5"},
		"--target", url, "--count", "40", "--rate", "0", "--scenario", "chaos", "--quiet")
	if err != nil || sum.Totals.Acknowledged != sum.Totals.Reports {
		t.Fatalf("simulate: %v %+v\n%s", err, sum, stderr)
	}
}

// TestSimulateRepeatsExactly: same seed and pinned clock, same bytes in the
// same order.
func TestSimulateRepeatsExactly(t *testing.T) {
	bodies := func(seed string) [][]byte {
		f, url := newFakeWebhook(t)
		_, stderr, err := runSimulate(t, nil, "--target", url, "--secret", f.secret, "--count", "100", "--concurrency", "1",
			"--rate", "0", "--scenario", "chaos", "--seed", seed, "--start", "2026-11-28T10:00:00Z", "--quiet")
		if err != nil {
			t.Fatalf("simulate: %v\n%s", err, stderr)
		}
		return f.bodies
	}
	a, b := bodies("11"), bodies("11")
	if len(a) < 200 || len(a) != len(b) {
		t.Fatalf("%d and %d requests", len(a), len(b))
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("request %d differs:\n%s\n%s", i, a[i], b[i])
		}
	}
	if c := bodies("12"); bytes.Equal(a[0], c[0]) {
		t.Fatal("another seed sent the same first report")
	}
}

// TestSimulateRetries503: a 503 is retried after Retry-After and counted,
// and nothing is lost.
func TestSimulateRetries503(t *testing.T) {
	f, url := newFakeWebhook(t)
	f.unavailableEvery = 4
	sum, stderr, err := runSimulate(t, nil, "--target", url, "--secret", f.secret, "--count", "100", "--concurrency", "2",
		"--rate", "0", "--scenario", "single", "--quiet")
	if err != nil {
		t.Fatalf("simulate: %v\n%s", err, stderr)
	}
	if sum.Totals.Retries < 20 || sum.Totals.Acknowledged != 100 || len(f.bodies) != 100 {
		t.Fatalf("retries %d, acknowledged %d, stored %d", sum.Totals.Retries, sum.Totals.Acknowledged, len(f.bodies))
	}
}

// TestSimulateRedialsIdleConnections: a connection the server closed while
// the worker waited for its turn is replaced, and the request not failed.
func TestSimulateRedialsIdleConnections(t *testing.T) {
	f := &fakeWebhook{seen: map[domain.Key]bool{}, secret: "fake-secret"}
	srv := httptest.NewUnstartedServer(f)
	srv.Config.IdleTimeout = 100 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	sum, stderr, err := runSimulate(t, nil, "--target", srv.URL, "--secret", f.secret, "--count", "2", "--concurrency", "1",
		"--rate", "0.5", "--scenario", "single", "--quiet")
	if err != nil || sum.Totals.Acknowledged != 2 {
		t.Fatalf("simulate: %v %+v\n%s", err, sum, stderr)
	}
}

// TestSimulateInterrupt: an interrupt ends the requests waiting for their
// answer at once, and counts them neither as sent nor as failed.
func TestSimulateInterrupt(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		<-release
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // before srv.Close, which waits for handlers

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(300*time.Millisecond, cancel)
	var stdout, stderr bytes.Buffer
	start := time.Now()
	err := run(ctx, []string{"simulate", "--json", "--target", srv.URL, "--secret", "s", "--rate", "0", "--concurrency", "4",
		"--duration", "10s", "--quiet"}, func(string) string { return "" }, &stdout, &stderr)
	if err != nil {
		t.Fatalf("simulate: %v\n%s", err, stderr.String())
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("an interrupt after 300ms ended the run after %v", took)
	}
	var sum simulateSummary
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		t.Fatalf("summary is not JSON: %v\n%s", err, stdout.Bytes())
	}
	if tot := sum.Totals; tot.Requests != 0 || tot.Failed != 0 {
		t.Fatalf("interrupted requests counted: %+v", tot)
	}
}

// TestSimulateBatches: --batch N sends JSON arrays of N reports; receipts
// travel inside them as SMPP JSON.
func TestSimulateBatches(t *testing.T) {
	f, url := newFakeWebhook(t)
	sum, stderr, err := runSimulate(t, nil, "--target", url, "--secret", f.secret, "--count", "500", "--concurrency", "3",
		"--batch", "50", "--rate", "0", "--scenario", "chaos", "--quiet")
	if err != nil {
		t.Fatalf("simulate: %v\n%s", err, stderr)
	}
	if sum.Totals.Acknowledged != sum.Totals.Reports || sum.Sent.ByForm[domain.FormatSMPPReceipt] != 0 {
		t.Fatalf("totals %+v, forms %v", sum.Totals, sum.Sent.ByForm)
	}
	if sum.Totals.Requests > sum.Totals.Reports/40 {
		t.Fatalf("%d requests for %d reports: not batched", sum.Totals.Requests, sum.Totals.Reports)
	}
	for _, b := range f.bodies {
		if b[0] != '[' {
			t.Fatalf("batch body is not an array: %.80s", b)
		}
	}
}

// TestSimulateRate: --rate paces the run, and --duration ends it.
func TestSimulateRate(t *testing.T) {
	f, url := newFakeWebhook(t)
	start := time.Now()
	sum, stderr, err := runSimulate(t, nil, "--target", url, "--secret", f.secret, "--rate", "200/s", "--duration", "1s",
		"--concurrency", "4", "--quiet")
	if err != nil {
		t.Fatalf("simulate: %v\n%s", err, stderr)
	}
	if took := time.Since(start); took < time.Second || took > 3*time.Second {
		t.Fatalf("a 1s run took %v", took)
	}
	if n := sum.Totals.Reports; n < 120 || n > 230 {
		t.Fatalf("200/s for 1s sent %d reports", n)
	}
}

// TestSimulateFailuresAreReported: a refused request makes the command fail
// and names the status.
func TestSimulateFailuresAreReported(t *testing.T) {
	_, url := newFakeWebhook(t)
	sum, _, err := runSimulate(t, nil, "--target", url, "--secret", "wrong", "--count", "5", "--rate", "0", "--scenario", "single", "--quiet")
	if err == nil || !strings.Contains(err.Error(), "401:5") || sum.Totals.Failed != 5 {
		t.Fatalf("err %v, summary %+v", err, sum)
	}
}

func TestSimulateFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--batch", "0"}, "--batch"},
		{[]string{"--concurrency", "0"}, "--concurrency"},
		{[]string{"--rate", "fast"}, "--rate"},
		{[]string{"--scenario", "storm"}, `unknown scenario "storm"`},
		{[]string{"--status", "DELIVERD"}, `unknown status "DELIVERD"`},
		{[]string{"--region", "XX"}, `unknown region "XX"`},
		{[]string{"--duplicates", "0.8"}, "duplicates must be"},
		{[]string{"--target", "localhost:8080"}, "--target"},
		{[]string{"--start", "yesterday"}, "--start"},
		{[]string{"--duration", "2s", "--warmup", "2s"}, "--warmup"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		_, _, err := runSimulate(t, map[string]string{"WEBHOOK_SECRET": "x"}, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error naming %s", tc.args, err, tc.want)
		}
	}
	if _, _, err := runSimulate(t, nil, "--count", "1"); err == nil || !strings.Contains(err.Error(), "WEBHOOK_SECRET") {
		t.Errorf("without a secret: %v", err)
	}
}

// TestSimulateAgainstServe drives the real service: every acknowledged
// report is in the log, duplicates once.
func TestSimulateAgainstServe(t *testing.T) {
	srv := startServer(t, nil)
	base, dbURL := srv.base, srv.dbURL
	env := map[string]string{"WEBHOOK_SECRET": testWebhookSecret, "ADMIN_TOKEN": testAdminToken}

	sum, stderr, err := runSimulate(t, env, "--target", base, "--count", "200", "--concurrency", "8", "--rate", "0",
		"--scenario", "chaos", "--quiet")
	if err != nil {
		t.Fatalf("simulate: %v\n%s", err, stderr)
	}
	tot := sum.Totals
	if tot.Acknowledged != tot.Reports || tot.Duplicates != int64(sum.Sent.Duplicates) {
		t.Fatalf("totals %+v, duplicates sent %d", tot, sum.Sent.Duplicates)
	}
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var events, messages int64
	if err := pool.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT message_id) FROM events`).Scan(&events, &messages); err != nil {
		t.Fatal(err)
	}
	if events != tot.Reports-tot.Duplicates || messages != 200 {
		t.Fatalf("log holds %d events of %d messages; simulate sent %d reports, %d duplicates", events, messages, tot.Reports, tot.Duplicates)
	}

	// The bench helpers against the same service: the projections catch
	// up, and marked reports become visible.
	bench := func(args ...string) map[string]any {
		var o, e bytes.Buffer
		if err := run(context.Background(), append(args, "--target", base), envFunc(env), &o, &e); err != nil {
			t.Fatalf("%s: %v\n%s", args[0], err, e.String())
		}
		var res map[string]any
		if err := json.Unmarshal(o.Bytes(), &res); err != nil {
			t.Fatalf("%s: %v: %s", args[0], err, o.String())
		}
		return res
	}
	if res := bench("bench-wait", "--caught-up", "--timeout", "60s"); res["caughtUp"] != true {
		t.Fatalf("bench-wait: %v", res)
	}
	res := bench("bench-lag", "--duration", "1s", "--interval", "200ms", "--grace", "20s")
	lag := res["lagMs"].(map[string]any)
	if res["probes"].(float64) < 4 || res["visible"] != res["probes"] || lag["p50"].(float64) <= 0 {
		t.Fatalf("bench-lag: %v", res)
	}
}
