package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	events   []domain.StatusReceived
	seen     map[domain.Key]bool
	requests int
	// unavailableEvery answers 503 to every n-th request (0: never).
	unavailableEvery int
	secret           string
	// signingKey, when set, requires a Standard Webhooks signature: one of
	// the header's space-separated entries made with this key.
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
	if f.signingKey != nil && !slices.Contains(strings.Fields(r.Header.Get("webhook-signature")),
		cxhttp.Sign(f.signingKey, r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), body)) {
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
	f.events = append(f.events, evs...)
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

// TestSimulateSignsWithEveryKey: during a rotation WEBHOOK_SIGNING_SECRET
// holds two keys, and a service may hold either; a request carries one
// signature per key, so both accept it. A tester's --signing-secret "K2 K1"
// signed with K2 alone, and a service holding only K1 refused everything.
func TestSimulateSignsWithEveryKey(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"flag", nil, []string{"--signing-secret", "new-signing-key old-signing-key"}},
		{"env, whsec_ and commas", map[string]string{"WEBHOOK_SIGNING_SECRET": "whsec_bmV3LXNpZ25pbmcta2V5,whsec_b2xkLXNpZ25pbmcta2V5"}, nil},
		{"the flag repeated", map[string]string{"WEBHOOK_SIGNING_SECRET": "env-signing-key"},
			[]string{"--signing-secret", "new-signing-key", "--signing-secret", "old-signing-key"}},
	} {
		for _, held := range []string{"old-signing-key", "new-signing-key"} {
			f, url := newFakeWebhook(t)
			f.signingKey = []byte(held)
			sum, stderr, err := runSimulate(t, tc.env, append([]string{"--target", url, "--secret", f.secret, "--count", "10",
				"--rate", "0", "--scenario", "single", "--quiet"}, tc.args...)...)
			if err != nil || sum.Totals.Acknowledged != 10 {
				t.Errorf("%s, service holding %s: %v\n%s", tc.name, held, err, stderr)
			}
		}
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
// answer at once, counts them apart (neither acknowledged nor failed, in
// the totals or in what was sent), and fails the command after the summary.
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
	if !errors.Is(err, errInterrupted) {
		t.Fatalf("simulate: %v, want %v\n%s", err, errInterrupted, stderr.String())
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("an interrupt after 300ms ended the run after %v", took)
	}
	var sum simulateSummary
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		t.Fatalf("summary is not JSON: %v\n%s", err, stdout.Bytes())
	}
	if tot := sum.Totals; !sum.Interrupted || tot.Requests != 0 || tot.Failed != 0 || tot.InterruptedRequests != 4 ||
		sum.Sent.Reports != 0 || sum.Sent.Messages != 0 {
		t.Fatalf("interrupted %v, totals %+v, sent %+v", sum.Interrupted, tot, sum.Sent)
	}
}

// TestSimulateInterruptTalliesAgree: after an interrupt, what was sent
// (messages, forms, duplicates) counts the same requests as the totals.
func TestSimulateInterruptTalliesAgree(t *testing.T) {
	f, _ := newFakeWebhook(t)
	var served, hung atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if served.Add(1) <= 60 {
			f.ServeHTTP(w, r)
			return
		}
		// Past 60 requests, hang; interrupt once every worker waits here.
		io.ReadAll(r.Body)
		if hung.Add(1) == 4 {
			cancel()
		}
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)

	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"simulate", "--json", "--target", srv.URL, "--secret", f.secret, "--rate", "0", "--concurrency", "4",
		"--scenario", "chaos", "--seed", "5", "--duration", "10s", "--quiet"}, func(string) string { return "" }, &stdout, &stderr)
	if !errors.Is(err, errInterrupted) {
		t.Fatalf("simulate: %v\n%s", err, stderr.String())
	}
	var sum simulateSummary
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		t.Fatalf("summary is not JSON: %v\n%s", err, stdout.Bytes())
	}
	tot, sent := sum.Totals, sum.Sent
	forms := 0
	for _, n := range sent.ByForm {
		forms += n
	}
	if tot.Requests != 60 || tot.InterruptedRequests != 4 || tot.Acknowledged != tot.Reports ||
		int64(sent.Reports) != tot.Reports || forms != sent.Reports || int64(sent.Duplicates) != tot.Duplicates {
		t.Fatalf("totals %+v, sent %+v", tot, sent)
	}
}

// TestSimulateCountsOnlyWhatItSent: a message drawn while its worker waited
// for a rate slot the run did not reach is not counted.
func TestSimulateCountsOnlyWhatItSent(t *testing.T) {
	f, url := newFakeWebhook(t)
	// Each of the 10 workers has one slot in the 0.5s run, and draws its
	// second message before finding the run over.
	sum, stderr, err := runSimulate(t, nil, "--target", url, "--secret", f.secret, "--rate", "20", "--duration", "500ms",
		"--concurrency", "10", "--scenario", "single", "--quiet")
	if err != nil {
		t.Fatalf("simulate: %v\n%s", err, stderr)
	}
	carriers := 0
	for _, n := range sum.Sent.ByCarrier {
		carriers += n
	}
	if n := len(f.bodies); n == 0 || sum.Sent.Messages != n || sum.Sent.Reports != n || carriers != n || sum.Totals.Reports != int64(n) {
		t.Fatalf("target got %d reports; summary says %d messages (%d by carrier), sent %+v, totals %+v",
			n, sum.Sent.Messages, carriers, sum.Sent, sum.Totals)
	}
}

// TestSimulateEndsInWarmup: a run over before its warm-up is measured
// whole, and says so, rather than reported as zeros.
func TestSimulateEndsInWarmup(t *testing.T) {
	f, url := newFakeWebhook(t)
	sum, stderr, err := runSimulate(t, nil, "--target", url, "--secret", f.secret, "--count", "30", "--warmup", "5s",
		"--rate", "100", "--concurrency", "2", "--scenario", "single", "--quiet")
	if err != nil {
		t.Fatalf("simulate: %v\n%s", err, stderr)
	}
	if !sum.EndedInWarmup || sum.MeasuredSec <= 0 || sum.MeasuredSec >= 5 || sum.RequestsPerSec <= 0 || sum.ReportsPerSec <= 0 ||
		sum.Latency.P50 <= 0 || sum.Latency.Max < sum.Latency.P50 {
		t.Fatalf("summary %+v", sum)
	}
}

// TestSimulateLastProgressLineAgrees: the last progress line comes after
// the requests under way when the time was up got their answers.
func TestSimulateLastProgressLineAgrees(t *testing.T) {
	f, _ := newFakeWebhook(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(400 * time.Millisecond) // still under way when the 200ms run ends
		f.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	sum, stderr, err := runSimulate(t, nil, "--target", srv.URL, "--secret", f.secret, "--duration", "200ms", "--rate", "0",
		"--concurrency", "2", "--scenario", "single")
	if err != nil {
		t.Fatalf("simulate: %v\n%s", err, stderr)
	}
	m := regexp.MustCompile(`acked (\d+)`).FindAllStringSubmatch(stderr, -1)
	if len(m) == 0 {
		t.Fatalf("no progress line: %q", stderr)
	}
	if acked, _ := strconv.ParseInt(m[len(m)-1][1], 10, 64); acked != sum.Totals.Acknowledged || acked != 2 {
		t.Fatalf("last progress line %q, summary acknowledged %d", stderr, sum.Totals.Acknowledged)
	}
}

// TestSimulateBatches: --batch N sends JSON arrays of N reports; receipts
// travel inside them as JSON strings, so the receipt share holds (a tester's
// --batch 50 --smpp-receipt 0.5 sent none), and the forms the summary
// counts are the ones stored.
func TestSimulateBatches(t *testing.T) {
	f, url := newFakeWebhook(t)
	sum, stderr, err := runSimulate(t, nil, "--target", url, "--secret", f.secret, "--count", "500", "--concurrency", "3",
		"--batch", "50", "--rate", "0", "--scenario", "chaos", "--smpp-receipt", "0.5", "--quiet")
	if err != nil {
		t.Fatalf("simulate: %v\n%s", err, stderr)
	}
	stored := map[domain.Format]int{}
	for _, e := range f.events {
		stored[e.Format]++
	}
	if sum.Totals.Acknowledged != sum.Totals.Reports || !maps.Equal(sum.Sent.ByForm, stored) {
		t.Fatalf("totals %+v, forms sent %v, stored %v", sum.Totals, sum.Sent.ByForm, stored)
	}
	// Of the messages with carrier reports, about half are receipts: at
	// least a third of the reports not QUEUED.
	if n := int64(stored[domain.FormatSMPPReceipt]); n < (sum.Totals.Reports-int64(sum.Sent.ByStatus[domain.StatusQueued]))/3 {
		t.Fatalf("%d receipts of %d reports: --smpp-receipt 0.5 does not hold in batches (%v)", n, sum.Totals.Reports, stored)
	}
	if sum.Totals.Duplicates != int64(sum.Sent.Duplicates) {
		t.Fatalf("the target saw %d duplicates, simulate sent %d", sum.Totals.Duplicates, sum.Sent.Duplicates)
	}
	// Receipts go alone, with their event-ID header
	// (TestSimulateBatchedReceiptsAreStoredOnce); the rest in arrays.
	receipts := int64(stored[domain.FormatSMPPReceipt])
	if sum.Totals.Requests > (sum.Totals.Reports-receipts)/40+receipts {
		t.Fatalf("%d requests for %d reports, %d of them receipts: not batched", sum.Totals.Requests, sum.Totals.Reports, receipts)
	}
	for _, b := range f.bodies {
		var reports []json.RawMessage
		switch {
		case bytes.HasPrefix(b, []byte("id:")):
		case json.Unmarshal(b, &reports) != nil:
			t.Fatalf("body is neither an array nor a receipt alone: %.80s", b)
		default:
			for _, r := range reports {
				if r[0] != '{' {
					t.Fatalf("a batch holds a report that is not a JSON object: %.80s", r)
				}
			}
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
// and names the status and what the webhook said.
func TestSimulateFailuresAreReported(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"report 0: messageId: missing"}`)
	}))
	t.Cleanup(srv.Close)
	sum, _, err := runSimulate(t, nil, "--target", srv.URL, "--secret", "s", "--count", "5", "--rate", "0", "--scenario", "single", "--quiet")
	if err == nil || !strings.Contains(err.Error(), "5 of 5 requests failed (400:5): first 400: report 0: messageId: missing") || sum.Totals.Failed != 5 {
		t.Fatalf("err %v, summary %+v", err, sum)
	}
}

// TestSimulateStopsWhenRefused: a 401 ends the run at once, since every
// request carries the same secret, and says so. A tester's run against a
// service with another secret sent 300 requests and ended with
// "300 of 300 requests failed (401:300)".
func TestSimulateStopsWhenRefused(t *testing.T) {
	f, url := newFakeWebhook(t)
	start := time.Now()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"simulate", "--target", url, "--secret", "wrong", "--duration", "10s", "--rate", "50",
		"--concurrency", "2", "--scenario", "single", "--quiet"}, func(string) string { return "" }, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "the webhook refused X-Webhook-Secret (401: Unauthorized); no retry can succeed") {
		t.Fatalf("simulate: %v\n%s", err, stdout.String())
	}
	if took := time.Since(start); took > 3*time.Second || f.requests > 4 {
		t.Fatalf("a refused run took %v and %d requests", took, f.requests)
	}
	if !strings.Contains(stdout.String(), "stopped    early: the webhook refused X-Webhook-Secret") {
		t.Fatalf("the summary does not say why it stopped:\n%s", stdout.String())
	}
	// The webhook's own words, when it gives them, and the signature named.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":"bad signature: no signature matches"}`)
	}))
	t.Cleanup(srv.Close)
	sum, _, err := runSimulate(t, map[string]string{"WEBHOOK_SIGNING_SECRET": "k"}, "--target", srv.URL, "--secret", "s", "--duration", "10s",
		"--rate", "0", "--quiet")
	if err == nil || !strings.Contains(err.Error(), "refused the signature (401: bad signature: no signature matches)") ||
		!strings.Contains(err.Error(), "--signing-secret") || !strings.Contains(sum.Stopped, "bad signature") {
		t.Fatalf("simulate: %v, stopped %q", err, sum.Stopped)
	}
}

// TestSimulateNamesAMissingSignature: against a service that requires
// signatures, a run with the right secret and no signing key was told "the
// webhook refused X-Webhook-Secret", which was right; the error must name
// the signature, and the flag that gives its key.
func TestSimulateNamesAMissingSignature(t *testing.T) {
	srv := startServer(t, map[string]string{"WEBHOOK_SIGNING_SECRET": "whsec_c2ltLXNpZ25pbmcta2V5"})
	_, _, err := runSimulate(t, map[string]string{"WEBHOOK_SECRET": testWebhookSecret}, "--target", srv.base, "--count", "5",
		"--rate", "0", "--concurrency", "1", "--quiet")
	if err == nil || strings.Contains(err.Error(), "refused X-Webhook-Secret") || !strings.Contains(err.Error(), "refused the request unsigned") ||
		!strings.Contains(err.Error(), "--signing-secret or WEBHOOK_SIGNING_SECRET") {
		t.Fatalf("simulate: %v", err)
	}
}

// TestSimulateNamesTheTransportError: against a service that is down, the
// error says why no request could be sent, none is counted as sent (each
// was counted as a message sent and a request failed), and the run stops
// once the service has been unreachable for a while. Not parallel: it
// shortens the pauses.
func TestSimulateNamesTheTransportError(t *testing.T) {
	shortenConnectRetries(t, 20*time.Millisecond, 100*time.Millisecond, 500*time.Millisecond)
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	start := time.Now()
	sum, _, err := runSimulate(t, nil, "--target", url, "--secret", "s", "--count", "3", "--concurrency", "1", "--rate", "0", "--scenario", "single", "--quiet")
	if err == nil || !strings.Contains(err.Error(), "stopped early: the target could not be reached for 500ms: ") ||
		!strings.Contains(err.Error(), "1 requests (1 reports) were not sent: the target could not be reached (") ||
		!strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "failed") {
		t.Fatalf("simulate: %v", err)
	}
	tot := sum.Totals
	if tot.Requests != 0 || tot.Reports != 0 || tot.Failed != 0 || tot.NotSentRequests != 1 || tot.NotSentReports != 1 ||
		sum.Sent.Messages != 0 || sum.Sent.Reports != 0 || !strings.Contains(tot.ConnectError, "connection refused") {
		t.Fatalf("totals %+v, sent %+v", tot, sum.Sent)
	}
	// 20, 40, 80, then 100 ms pauses over 500 ms: a handful, not thousands.
	if tot.ConnectRetries < 3 || tot.ConnectRetries > 10 {
		t.Errorf("%d connection retries in 500 ms, want pauses of 20 ms doubling to 100 ms", tot.ConnectRetries)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("an unreachable target held the run %v", took)
	}
}

// A target that goes away mid-run (killed, restarting) is not hammered: a
// tester's run made 125,000 connection attempts in 5 s, each counted as a
// message sent and a request failed. Connections are retried after pauses,
// and the requests given up when the run ends are counted as not sent,
// apart from the sent ones. Not parallel: it shortens the pauses.
func TestSimulateBacksOffWhenTheTargetGoesAway(t *testing.T) {
	shortenConnectRetries(t, 50*time.Millisecond, 200*time.Millisecond, time.Minute)
	f, _ := newFakeWebhook(t)
	var served atomic.Int64
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.ServeHTTP(w, r)
		if served.Add(1) == 20 {
			go srv.Close() // after this answer: Close waits for the handlers
		}
	}))
	t.Cleanup(srv.Close)
	sum, stderr, err := runSimulate(t, nil, "--target", srv.URL, "--secret", f.secret, "--duration", "1500ms", "--rate", "0",
		"--concurrency", "2", "--scenario", "single", "--quiet")
	if err == nil || !strings.Contains(err.Error(), "were not sent: the target could not be reached") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("simulate: %v\n%s", err, stderr)
	}
	tot := sum.Totals
	f.mu.Lock()
	stored := int64(len(f.bodies))
	f.mu.Unlock()
	// Each worker's keep-alive connection may be cut under a request sent
	// as the server closed: that one is a failure, and may have been
	// stored (the server had read it before it closed the connection);
	// the rest never left.
	if stored < tot.Acknowledged || stored > tot.Acknowledged+tot.Failed || tot.Failed > 2 ||
		tot.Requests != tot.Acknowledged+tot.Failed || tot.TimedOutRequests != 0 {
		t.Errorf("target stored %d reports; totals %+v", stored, tot)
	}
	if tot.NotSentRequests < 1 || tot.NotSentRequests > 2 || int64(sum.Sent.Reports) != tot.Reports || sum.Sent.Messages != int(tot.Reports) {
		t.Errorf("totals %+v, sent %+v: want the 1 or 2 requests given up apart, and only what was sent in sent", tot, sum.Sent)
	}
	// Two workers pausing 50, 100, then 200 ms for at most 1.5 s.
	if tot.ConnectRetries < 2 || tot.ConnectRetries > 30 {
		t.Errorf("%d connection retries in 1.5 s", tot.ConnectRetries)
	}
}

// A 503 means the outcome is unknown: the service may have stored the
// reports after all. A request answered 503 and then given up because the
// service went away is a failure with 503, not "not sent ... not stored":
// a tester found such reports in the database. Not parallel: it shortens
// the pauses.
func TestSimulateGivenUpAfter503IsFailed(t *testing.T) {
	shortenConnectRetries(t, 20*time.Millisecond, 100*time.Millisecond, 500*time.Millisecond)
	for _, tc := range []struct {
		name string
		// closeConn ends the connection with the 503, so the retry
		// dials; else the service stops during Retry-After, and the
		// retry finds its idle connection closed before it dials.
		closeConn  bool
		retryAfter string
	}{
		{"connection closed with the 503", true, "0"},
		{"service stopped during Retry-After", false, "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, _ := newFakeWebhook(t)
			var srv *httptest.Server
			srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				// Stored, then answered 503, as the webhook does when the
				// outcome of its commit is unknown; then the service stops.
				f.ServeHTTP(httptest.NewRecorder(), r)
				srv.Listener.Close()
				if tc.closeConn {
					w.Header().Set("Connection", "close")
				} else {
					go srv.Close() // after this answer: Close waits for the handlers
				}
				w.Header().Set("Retry-After", tc.retryAfter)
				w.WriteHeader(http.StatusServiceUnavailable)
				io.WriteString(w, `{"error":"store unavailable"}`)
			}))
			t.Cleanup(srv.Close)
			sum, stderr, err := runSimulate(t, nil, "--target", srv.URL, "--secret", f.secret, "--count", "1", "--concurrency", "1",
				"--rate", "0", "--scenario", "single", "--quiet")
			if err == nil || !strings.Contains(err.Error(), "1 of 1 requests failed (503:1)") || strings.Contains(err.Error(), "not sent") {
				t.Fatalf("simulate: %v\n%s", err, stderr)
			}
			tot := sum.Totals
			if len(f.bodies) != 1 || tot.Requests != 1 || tot.Failed != 1 || tot.Errors["503"] != 1 || tot.FirstErrors["503"] != "store unavailable" ||
				tot.Retries != 1 || tot.NotSentRequests != 0 || tot.ConnectRetries < 1 || sum.Sent.Messages != 1 || sum.Sent.Reports != 1 {
				t.Fatalf("target stored %d; totals %+v, sent %+v", len(f.bodies), tot, sum.Sent)
			}
		})
	}
}

// A request the service read whole before it closed the connection
// without answering and stopped listening may be stored. Sent on a
// connection idle long enough to be redialled, it used to be counted as
// not sent (never stored) once the redial failed: it is failed with the
// kind of that earlier attempt. Not parallel: it shortens the pauses.
func TestSimulateCutAfterWritingIsFailed(t *testing.T) {
	shortenConnectRetries(t, 20*time.Millisecond, 100*time.Millisecond, 500*time.Millisecond)
	f, _ := newFakeWebhook(t)
	var served atomic.Int64
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if served.Add(1) == 1 {
			f.ServeHTTP(w, r)
			return
		}
		// Read and stored, then the service goes away without answering.
		f.ServeHTTP(httptest.NewRecorder(), r)
		srv.Listener.Close()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		conn.Close()
	}))
	t.Cleanup(srv.Close)
	// At 0.8/s the second request waits 1.25 s on an idle connection, so
	// its cut attempt is taken for an idle close and sent again.
	sum, stderr, err := runSimulate(t, nil, "--target", srv.URL, "--secret", f.secret, "--count", "2", "--concurrency", "1",
		"--rate", "0.8", "--scenario", "single", "--quiet")
	if err == nil || !strings.Contains(err.Error(), "1 of 2 requests failed (transport:1)") || strings.Contains(err.Error(), "not sent") {
		t.Fatalf("simulate: %v\n%s", err, stderr)
	}
	tot := sum.Totals
	f.mu.Lock() // the handler of the cut request may still be returning
	stored := len(f.bodies)
	f.mu.Unlock()
	if stored != 2 || tot.Requests != 2 || tot.Acknowledged != 1 || tot.Failed != 1 || tot.Errors["transport"] != 1 ||
		tot.NotSentRequests != 0 || tot.NotSentReports != 0 || tot.ConnectRetries < 1 || sum.Sent.Messages != 2 || sum.Sent.Reports != 2 {
		t.Fatalf("target stored %d; totals %+v, sent %+v", stored, tot, sum.Sent)
	}
}

// A target that is not up yet when the run starts (a service restarting)
// gets every report once it is: the pauses are retries, and nothing is
// lost or counted as not sent. Not parallel: it shortens the pauses.
func TestSimulateWaitsForTheTarget(t *testing.T) {
	shortenConnectRetries(t, 20*time.Millisecond, 100*time.Millisecond, time.Minute)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	f := &fakeWebhook{seen: map[domain.Key]bool{}, secret: "fake-secret"}
	srv := &http.Server{Handler: f}
	t.Cleanup(func() { srv.Close() })
	time.AfterFunc(400*time.Millisecond, func() {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("listen again on %s: %v", addr, err)
			return
		}
		srv.Serve(ln)
	})
	sum, stderr, err := runSimulate(t, nil, "--target", "http://"+addr, "--secret", f.secret, "--count", "10", "--concurrency", "2",
		"--rate", "0", "--scenario", "single", "--quiet")
	if err != nil {
		t.Fatalf("simulate: %v\n%s", err, stderr)
	}
	tot := sum.Totals
	if tot.Acknowledged != 10 || tot.Requests != 10 || tot.NotSentRequests != 0 || tot.ConnectRetries < 2 || sum.Sent.Messages != 10 {
		t.Fatalf("totals %+v, sent %+v", tot, sum.Sent)
	}
}

// shortenConnectRetries sets the pauses after a failed connection, and how
// long the target may stay unreachable, for one test.
func shortenConnectRetries(t *testing.T, first, most, unreachable time.Duration) {
	f, m, u := connectRetryFirst, connectRetryMost, unreachableFor
	t.Cleanup(func() { connectRetryFirst, connectRetryMost, unreachableFor = f, m, u })
	connectRetryFirst, connectRetryMost, unreachableFor = first, most, unreachable
}

// TestSimulateTimeoutsAreOutcomeUnknown: a request cut by --timeout may be
// stored, so it is counted apart, not as failed, and its wait is in the
// latencies. A tester found such requests counted "failed".
func TestSimulateTimeoutsAreOutcomeUnknown(t *testing.T) {
	f, _ := newFakeWebhook(t)
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if served.Add(1) == 2 {
			// Stored, but the answer comes too late.
			f.ServeHTTP(httptest.NewRecorder(), r)
			time.Sleep(time.Second)
			return
		}
		f.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	sum, stderr, err := runSimulate(t, nil, "--target", srv.URL, "--secret", f.secret, "--count", "4", "--concurrency", "1",
		"--rate", "0", "--scenario", "single", "--timeout", "300ms", "--quiet")
	if err == nil || !strings.Contains(err.Error(), "1 requests timed out after --timeout 300ms: their outcome is unknown, they may be stored") ||
		strings.Contains(err.Error(), "failed") {
		t.Fatalf("simulate: %v\n%s", err, stderr)
	}
	tot := sum.Totals
	if tot.Failed != 0 || tot.TimedOutRequests != 1 || tot.TimedOutReports != 1 || tot.Requests != 3 || tot.Acknowledged != 3 ||
		sum.Sent.Reports != 3 || len(tot.Errors) != 0 {
		t.Fatalf("totals %+v, sent %+v", tot, sum.Sent)
	}
	if sum.Latency.Max < 300 {
		t.Fatalf("latency %+v: the timed-out request waited 300 ms", sum.Latency)
	}
}

// TestSimulateOneSMPPShare: --smpp-receipt 1 alone shrinks the scenario's
// SMPP JSON share to fit, where a tester was refused for a sum of 1.15;
// both shares given and too many is still an error.
func TestSimulateOneSMPPShare(t *testing.T) {
	f, url := newFakeWebhook(t)
	sum, stderr, err := runSimulate(t, nil, "--target", url, "--secret", f.secret, "--count", "20", "--rate", "0",
		"--smpp-receipt", "1", "--duplicates", "0", "--status", "DELIVERED", "--quiet")
	if err != nil {
		t.Fatalf("simulate: %v\n%s", err, stderr)
	}
	if forms := sum.Sent.ByForm; forms[domain.FormatSMPPReceipt] != 40 || forms[domain.FormatSMPPJSON] != 0 {
		t.Fatalf("--smpp-receipt 1: forms %v", forms)
	}
	_, _, err = runSimulate(t, nil, "--target", url, "--secret", f.secret, "--count", "1", "--smpp-receipt", "0.7", "--smpp-json", "0.5")
	if err == nil || !strings.Contains(err.Error(), "smppJson + smppReceipt must be at most 1, got 0.5 + 0.7") {
		t.Fatalf("both shares, too many: %v", err)
	}
}

// TestSimulateSendsTheStatusAsSpelled: --status DELIVRD goes out as DELIVRD,
// for the webhook to normalize; the summary counts DELIVERED.
func TestSimulateSendsTheStatusAsSpelled(t *testing.T) {
	f, url := newFakeWebhook(t)
	sum, stderr, err := runSimulate(t, nil, "--target", url, "--secret", f.secret, "--count", "5", "--rate", "0",
		"--scenario", "single", "--status", "DELIVRD", "--quiet")
	if err != nil {
		t.Fatalf("simulate: %v\n%s", err, stderr)
	}
	for _, e := range f.events {
		if e.RawStatus != "DELIVRD" || e.Status != domain.StatusDelivered {
			t.Fatalf("stored %s as %q", e.Status, e.RawStatus)
		}
	}
	if len(f.events) != 5 || sum.Sent.ByStatus[domain.StatusDelivered] != 5 {
		t.Fatalf("%d events, byStatus %v", len(f.events), sum.Sent.ByStatus)
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
		{[]string{"--status", "DELIVERED", "--in-flight", "1"}, "--in-flight cannot be given with --status"},
		{[]string{"--status", "FAILED", "--smpp-receipt", "1"}, `--smpp-receipt cannot be given with --status "FAILED": SMPP has no code for FAILED`},
		{[]string{"--target", "localhost:8080"}, "--target"},
		{[]string{"--start", "yesterday"}, "--start"},
		{[]string{"--duration", "2s", "--warmup", "2s"}, "--warmup"},
		{[]string{"--duration", "0"}, "--duration must be more than 0"},
		// fasthttp reads a timeout of 0 or less as none: the run waited
		// for ever, where the flag says it gives up.
		{[]string{"--timeout", "-1s"}, "--timeout must be more than 0, got -1s"},
		{[]string{"--timeout", "0"}, "--timeout must be more than 0, got 0s"},
		{[]string{"--rate", "1e-10"}, "--rate"},
		{[]string{"--rate", "0.001"}, "more than an hour"},
		{[]string{"--rate", "Inf"}, "--rate"},
		{[]string{"--rate", "NaN/s"}, "--rate"},
		{[]string{"--signing-secret", " "}, "--signing-secret holds no key"},
		{[]string{"--signing-secret", ","}, "--signing-secret holds no key"},
		{[]string{"--signing-secret", "whsec_"}, "--signing-secret: a key is empty"},
		{[]string{"--signing-secret", "k whsec_"}, "--signing-secret: a key is empty"},
		{[]string{"--signing-secret", "k whsec_!"}, "--signing-secret: a whsec_ key is not valid base64"},
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
	if _, _, err := runSimulate(t, nil, "--count", "1", "--secret", " "); err == nil || !strings.Contains(err.Error(), "WEBHOOK_SECRET") {
		t.Errorf("with a blank --secret: %v", err)
	}
	_, _, err := runSimulate(t, map[string]string{"WEBHOOK_SECRET": "x", "WEBHOOK_SIGNING_SECRET": " "}, "--count", "1")
	if err == nil || !strings.Contains(err.Error(), "WEBHOOK_SIGNING_SECRET holds no key") {
		t.Errorf("with a blank WEBHOOK_SIGNING_SECRET: %v", err)
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

// TestSimulateBatchedReceiptsAreStoredOnce: a bare receipt has no field for
// its event ID, so inside a --batch array the service named it by the
// request's signed webhook-id and its index, which a redelivery in another
// batch does not repeat (a tester's chaos run stored 28 receipts twice), or
// without signing by its text, whose dates follow the clock, which a repeat
// of the seed does not repeat (a tester's repeat stored 20 receipts again).
// Every redelivery, and every report of a repeat, must be a duplicate.
func TestSimulateBatchedReceiptsAreStoredOnce(t *testing.T) {
	for _, signed := range []bool{false, true} {
		t.Run(fmt.Sprintf("signed=%t", signed), func(t *testing.T) {
			env := map[string]string{"WEBHOOK_SECRET": testWebhookSecret}
			if signed {
				env["WEBHOOK_SIGNING_SECRET"] = "whsec_c2ltLXNpZ25pbmcta2V5"
			}
			srv := startServer(t, env)
			pool, err := pgxpool.New(context.Background(), srv.dbURL)
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			stored := func() (events, doubled int64) {
				t.Helper()
				if err := pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM events),
					(SELECT count(*) FROM (SELECT 1 FROM events GROUP BY message_id, raw::text HAVING count(*) > 1) d)`).Scan(&events, &doubled); err != nil {
					t.Fatal(err)
				}
				return events, doubled
			}
			simulate := func() *simulateSummary {
				t.Helper()
				sum, stderr, err := runSimulate(t, env, "--target", srv.base, "--count", "120", "--concurrency", "2", "--batch", "5",
					"--rate", "0", "--scenario", "chaos", "--seed", "4242", "--quiet")
				if err != nil {
					t.Fatalf("simulate: %v\n%s", err, stderr)
				}
				if sum.Sent.ByForm[domain.FormatSMPPReceipt] == 0 || sum.Sent.Duplicates == 0 {
					t.Fatalf("no receipts or no redeliveries sent: %+v", sum.Sent)
				}
				return sum
			}
			first := simulate()
			events, doubled := stored()
			if tot := first.Totals; tot.Duplicates != int64(first.Sent.Duplicates) || doubled != 0 || events != tot.Reports-tot.Duplicates {
				t.Fatalf("%d duplicates acknowledged of %d sent as such; %d events stored of %d reports, %d (message, raw) pairs twice",
					tot.Duplicates, first.Sent.Duplicates, events, tot.Reports, doubled)
			}
			// Receipt dates are whole seconds: a repeat within the same
			// second would send the same text, as a later one does not.
			time.Sleep(1100 * time.Millisecond)
			again := simulate()
			if tot := again.Totals; tot.Duplicates != tot.Reports {
				after, _ := stored()
				t.Fatalf("the same seed again: %d of %d reports duplicates, %d new events", tot.Duplicates, tot.Reports, after-events)
			}
		})
	}
}
