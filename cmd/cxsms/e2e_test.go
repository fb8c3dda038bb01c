package main

// End-to-end tests: the real `run` serves on port 0 over a database of its
// own, and the tests speak HTTP to it as CXone, a browser and an operator do.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cxsms/cxsms/eventstore/pgtest"
	cxhttp "github.com/cxsms/cxsms/http"
)

const (
	testWebhookSecret = "e2e-webhook-secret"
	testAdminToken    = "e2e-admin-token"
	// projectionWait bounds how long a read model may take to show a
	// committed report. It is well under a second on an idle machine; the
	// bound is generous because `make test` shares two cores with every
	// package's tests.
	projectionWait = 20 * time.Second
	// startWait bounds how long serve may take to print its address.
	startWait = 60 * time.Second
)

// listeningLine is what serve prints on stdout once it accepts connections.
var listeningLine = regexp.MustCompile(`^cxsms listening on (http://127\.0\.0\.1:(\d+))$`)

// listenAddress reads serve's stdout until it ends and hands over the first
// address it says it listens on.
func listenAddress(stdout io.Reader) <-chan string {
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listeningLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	return addr
}

// testServer is one running `cxsms serve`, over a database of its own.
type testServer struct {
	base   string // http://127.0.0.1:PORT
	dbURL  string
	client *http.Client
}

// syncBuffer collects the service's log lines from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// noDotEnv makes sure loadConfig will not read a stray .env file into a test.
func noDotEnv(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(".env"); err == nil {
		wd, _ := os.Getwd()
		t.Fatalf("%s exists: loadConfig would read it into every test's configuration; remove it", filepath.Join(wd, ".env"))
	}
}

// envFunc is a getenv over a map, so a test sees nothing of the real
// environment.
func envFunc(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

// startServer runs `serve` on port 0 over a fresh migrated database, with
// env added to (or overriding) the test defaults, and stops it gracefully
// when the test ends: cancelling its context must make run return nil.
func startServer(t *testing.T, env map[string]string) *testServer {
	t.Helper()
	noDotEnv(t)
	dbURL := pgtest.URL(t)
	full := map[string]string{
		"PORT":           "0",
		"DATABASE_URL":   dbURL,
		"WEBHOOK_SECRET": testWebhookSecret,
		"ADMIN_TOKEN":    testAdminToken,
		"LOG_LEVEL":      "warn",
	}
	for k, v := range env {
		full[k] = v
	}

	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"serve"}, envFunc(full), pw, logs)
		pw.Close()
		done <- err
	}()
	addr := listenAddress(pr)

	stopped := false
	t.Cleanup(func() {
		cancel()
		if !stopped {
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("serve did not shut down cleanly: run returned %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("serve did not return within 30 s of its context ending")
			}
		}
		if t.Failed() {
			t.Logf("service log:\n%s", logs.String())
		}
	})

	var base string
	select {
	case base = <-addr:
	case err := <-done:
		stopped = true
		t.Fatalf("serve returned before listening: %v\nlog:\n%s", err, logs.String())
	case <-time.After(startWait):
		t.Fatalf("serve printed no %q line within %v\nlog:\n%s", "cxsms listening on", startWait, logs.String())
	}
	s := &testServer{base: base, dbURL: dbURL, client: &http.Client{Timeout: 30 * time.Second}}
	// The schema is migrated in the background; wait for readiness so the
	// projectors are running before the test starts.
	waitReady(t, base, startWait)
	return s
}

// reply is an HTTP answer, read whole.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) String() string { return fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.body)) }

// do sends one request. Whatever it is, the service must never answer with
// a 5xx: the e2e database is always up.
func (s *testServer) do(t testing.TB, method, path string, body []byte, header map[string]string) reply {
	t.Helper()
	req, err := http.NewRequest(method, s.base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read answer: %v", method, path, err)
	}
	r := reply{status: resp.StatusCode, header: resp.Header, body: b}
	if r.status >= 500 {
		t.Errorf("%s %s answered %s; nothing may ever be a 5xx while the database is up", method, path, r)
	}
	return r
}

func (s *testServer) get(t testing.TB, path string) reply {
	t.Helper()
	return s.do(t, http.MethodGet, path, nil, nil)
}

func (s *testServer) admin(t testing.TB, method, path string) reply {
	t.Helper()
	return s.do(t, method, path, nil, map[string]string{"Authorization": "Bearer " + testAdminToken})
}

// post sends a webhook as CXone does: JSON, with the shared secret.
func (s *testServer) post(t testing.TB, body []byte) reply {
	t.Helper()
	return s.postWith(t, body, nil)
}

// postWith sends a webhook with the secret and a JSON content type unless
// header says otherwise.
func (s *testServer) postWith(t testing.TB, body []byte, header map[string]string) reply {
	t.Helper()
	h := map[string]string{"X-Webhook-Secret": testWebhookSecret, "Content-Type": "application/json"}
	for k, v := range header {
		h[k] = v
	}
	return s.do(t, http.MethodPost, "/webhooks/cxone/sms", body, h)
}

// ack is the answer to an accepted webhook.
type ack struct {
	Acknowledged bool `json:"acknowledged"`
	Results      []struct {
		MessageID string `json:"messageId"`
		EventID   string `json:"eventId"`
		Duplicate bool   `json:"duplicate"`
	} `json:"results"`
}

// mustAck checks a webhook was accepted and returns its answer.
func mustAck(t testing.TB, r reply, reports int) ack {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("webhook answered %s, want 200", r)
	}
	var a ack
	decodeInto(t, r, &a)
	if !a.Acknowledged || len(a.Results) != reports {
		t.Fatalf("webhook answer %s: want acknowledged with %d results", r, reports)
	}
	for i, res := range a.Results {
		if res.MessageID == "" || res.EventID == "" {
			t.Fatalf("webhook answer %s: result %d lacks messageId or eventId", r, i)
		}
	}
	return a
}

func decodeInto(t testing.TB, r reply, v any) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("answer %s has Content-Type %q, want application/json", r, ct)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("answer %s is not the JSON expected: %v", r, err)
	}
}

// wantError checks an error answer: its status, the {"error": "..."} shape,
// and that the message names the problem (every want, case-insensitively).
func wantError(t testing.TB, r reply, status int, want ...string) {
	t.Helper()
	if r.status != status {
		t.Errorf("answered %s, want %d", r, status)
		return
	}
	var e map[string]any
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Errorf("error answer %s is not JSON: %v", r, err)
		return
	}
	msg, ok := e["error"].(string)
	if !ok || msg == "" || len(e) != 1 {
		t.Errorf(`error answer %s: want exactly {"error": "<what is wrong>"}`, r)
		return
	}
	for _, w := range want {
		if !strings.Contains(strings.ToLower(msg), strings.ToLower(w)) {
			t.Errorf("error %q does not mention %q", msg, w)
		}
	}
}

// eventually polls cond until it holds or timeout passes; what and cond's
// description of the last state go in the failure.
func eventually(t testing.TB, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	start := time.Now()
	for {
		ok, last := cond()
		if ok {
			if took := time.Since(start); took > 2*time.Second {
				t.Logf("%s took %v", what, took.Round(time.Millisecond))
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not so after %v; last: %s", what, timeout, last)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// uid makes an ID no other test (or earlier run) uses.
func uid(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

// tutorialReport is a report in the CXone tutorial's envelope.
func tutorialReport(eventID, messageID, status, carrier, from, to string, at time.Time) []byte {
	return fmt.Appendf(nil, `{"eventType":"messaging.status.update","eventId":%q,"payload":{"messageId":%q,"status":%q,"errorCode":null,"carrier":%q,"from":%q,"to":%q,"timestamp":%q}}`,
		eventID, messageID, status, carrier, from, to, at.UTC().Format(time.RFC3339Nano))
}

// messageStatus is GET /messages/{id}.
type messageStatus struct {
	MessageID   string    `json:"messageId"`
	Status      string    `json:"status"`
	CarrierCode string    `json:"carrierCode"`
	ErrorCode   string    `json:"errorCode"`
	SenderID    string    `json:"senderId"`
	Recipient   string    `json:"recipient"`
	Region      string    `json:"region"`
	UpdatedAt   time.Time `json:"updatedAt"`
	EventCount  int       `json:"eventCount"`
}

// waitStatus polls GET /messages/{id} until it shows n events.
func (s *testServer) waitStatus(t testing.TB, id string, n int) messageStatus {
	t.Helper()
	var m messageStatus
	eventually(t, fmt.Sprintf("GET /messages/%s shows %d events", id, n), projectionWait, func() (bool, string) {
		r := s.get(t, "/messages/"+id)
		if r.status != http.StatusOK {
			return false, r.String()
		}
		m = messageStatus{}
		decodeInto(t, r, &m)
		return m.EventCount >= n, r.String()
	})
	if m.EventCount != n {
		t.Fatalf("message %s has %d events, want %d", id, m.EventCount, n)
	}
	return m
}

// history is GET /messages/{id}/history.
type msgHistory struct {
	MessageID string `json:"messageId"`
	Events    []struct {
		EventID    string          `json:"eventId"`
		Status     string          `json:"status"`
		RawStatus  string          `json:"rawStatus"`
		OccurredAt time.Time       `json:"occurredAt"`
		ReceivedAt time.Time       `json:"receivedAt"`
		Payload    json.RawMessage `json:"payload"`
	} `json:"events"`
}

func (s *testServer) history(t testing.TB, id string) msgHistory {
	t.Helper()
	r := s.get(t, "/messages/"+id+"/history")
	if r.status != http.StatusOK {
		t.Fatalf("GET /messages/%s/history answered %s, want 200", id, r)
	}
	var h msgHistory
	decodeInto(t, r, &h)
	if h.MessageID != id {
		t.Fatalf("history of %s names message %q", id, h.MessageID)
	}
	return h
}

// countEvents counts the log's rows straight from the database.
func countEvents(t testing.TB, dbURL, where string, args ...any) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect to the test database: %v", err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM events WHERE `+where, args...).Scan(&n); err != nil {
		t.Fatalf("count events: %v", err)
	}
	return n
}

// TestServe is CXone, a browser and an operator using one running service.
// The subtests share it and keep to their own message IDs and carriers.
func TestServe(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)

	t.Run("a report is acknowledged, kept byte for byte and projected everywhere", func(t *testing.T) {
		t.Parallel()
		id, eventID, carrier := uid("msg"), uid("evt"), uid("CARRIER")
		at := time.Now().Add(-3 * time.Second).UTC().Truncate(time.Millisecond)
		// Key order, a number spelled 1.50 and a \u00e9 escape are what a
		// decode and re-encode would change.
		body := fmt.Appendf(nil, `{"eventType":"messaging.status.update","eventId":%q,"payload":{"to":"+14155550123","messageId":%q,"status":"DELIVERED","errorCode":null,"carrier":%q,"from":"ACME","timestamp":%q,"note":"caf\u00e9","segments":1.50}}`,
			eventID, id, carrier, at.Format(time.RFC3339Nano))
		a := mustAck(t, s.post(t, body), 1)
		if got := a.Results[0]; got.MessageID != id || got.EventID != eventID || got.Duplicate {
			t.Fatalf("result %+v, want messageId %s, eventId %s, duplicate false", got, id, eventID)
		}

		// The audit trail is the log itself: there at once, raw payload intact.
		h := s.history(t, id)
		if len(h.Events) != 1 {
			t.Fatalf("history has %d events, want 1", len(h.Events))
		}
		ev := h.Events[0]
		if ev.EventID != eventID || ev.Status != "DELIVERED" || ev.RawStatus != "DELIVERED" || !ev.OccurredAt.Equal(at) || ev.ReceivedAt.IsZero() {
			t.Errorf("history event %+v: want event %s, DELIVERED, occurred %v", ev, eventID, at)
		}
		if !bytes.Equal(ev.Payload, body) {
			t.Errorf("history payload is not the body as posted:\n got %s\nwant %s", ev.Payload, body)
		}
		// The database keeps the bytes exactly too.
		if n := countEvents(t, s.dbURL, `message_id = $1 AND raw::text = $2`, id, string(body)); n != 1 {
			t.Errorf("events.raw of %s is not the posted body byte for byte", id)
		}

		m := s.waitStatus(t, id, 1)
		want := messageStatus{MessageID: id, Status: "DELIVERED", CarrierCode: carrier, ErrorCode: "",
			SenderID: "ACME", Recipient: "+14155550123", Region: "US", UpdatedAt: m.UpdatedAt, EventCount: 1}
		if m != want || m.UpdatedAt.IsZero() {
			t.Errorf("GET /messages/%s = %+v, want %+v", id, m, want)
		}
		r := s.get(t, "/messages/"+id)
		var fields map[string]any
		decodeInto(t, r, &fields)
		for _, f := range []string{"messageId", "status", "carrierCode", "errorCode", "senderId", "recipient", "region", "updatedAt", "eventCount"} {
			if _, ok := fields[f]; !ok {
				t.Errorf("GET /messages/%s lacks %q: %s", id, f, r)
			}
		}

		eventually(t, "/analytics/carriers counts the report", projectionWait, func() (bool, string) {
			r := s.get(t, "/analytics/carriers")
			var ans struct {
				RulesVersion string
				Carriers     []struct {
					Carrier                                 string
					Total, Delivered, Failed, Pending       int64
					DeliveryRate, FailureRate               float64
					TotalCost, WastedCost, CostPerDelivered float64
					Recommendation, Reason                  string
				}
			}
			decodeInto(t, r, &ans)
			for _, c := range ans.Carriers {
				if c.Carrier == strings.ToUpper(carrier) { // carriers count in upper case

					return c.Total == 1 && c.Delivered == 1 && c.Failed == 0 && c.Pending == 0 &&
						c.DeliveryRate == 100 && c.FailureRate == 0 && c.Recommendation != "", r.String()
				}
			}
			return false, r.String()
		})
		eventually(t, "/analytics/delivery counts the report", projectionWait, func() (bool, string) {
			r := s.get(t, "/analytics/delivery")
			var ans struct {
				Throughput       *int64
				AvgLatencyMs     *float64
				SLACompliance    *float64
				CarrierAnalytics []struct {
					Carrier                   string
					TotalMessages             int64
					DeliveryRate, FailureRate float64
					RecommendedAction         string
				}
			}
			decodeInto(t, r, &ans)
			if ans.Throughput == nil || ans.AvgLatencyMs == nil || ans.SLACompliance == nil {
				return false, "missing throughput, avgLatencyMs or slaCompliance: " + r.String()
			}
			if *ans.Throughput < 1 || *ans.AvgLatencyMs <= 0 {
				return false, "the report is not in the last minute's throughput and mean latency: " + r.String()
			}
			for _, c := range ans.CarrierAnalytics {
				if c.Carrier == strings.ToUpper(carrier) {
					return c.TotalMessages == 1 && c.DeliveryRate == 100 && c.RecommendedAction != "", r.String()
				}
			}
			return false, r.String()
		})
		eventually(t, "/analytics/sla counts the report", projectionWait, func() (bool, string) {
			r := s.get(t, "/analytics/sla?carrier="+carrier)
			var ans struct {
				Throughput int64
				Ingest     struct{ Count, ThresholdMs int64 }
				Carriers   []struct {
					Carrier string
					Reports int64
					Ingest  struct{ Count int64 }
				}
				Windows []struct{ Throughput int64 }
			}
			decodeInto(t, r, &ans)
			return ans.Throughput == 1 && ans.Ingest.Count == 1 && ans.Ingest.ThresholdMs > 0 &&
				len(ans.Carriers) == 1 && ans.Carriers[0].Carrier == strings.ToUpper(carrier) && ans.Carriers[0].Reports == 1 &&
				len(ans.Windows) == 1 && ans.Windows[0].Throughput == 1, r.String()
		})
		// An alphanumeric sender to a +1 number breaks the US rules.
		eventually(t, "/compliance/violations lists ACME in the US", projectionWait, func() (bool, string) {
			r := s.get(t, "/compliance/violations?senderId=ACME&region=US")
			var ans struct {
				Violations []struct {
					SenderID, Region, Rule, Reason string
					Count                          int64
				}
			}
			decodeInto(t, r, &ans)
			return len(ans.Violations) == 1 && ans.Violations[0].SenderID == "ACME" && ans.Violations[0].Region == "US" &&
				ans.Violations[0].Count == 1 && ans.Violations[0].Rule != "" && ans.Violations[0].Reason != "", r.String()
		})
	})

	t.Run("a pretty-printed report is stored byte for byte", func(t *testing.T) {
		t.Parallel()
		id := uid("pretty")
		body := fmt.Appendf(nil, "{\n  \"messageId\" : %q,\n\t\"status\": \"FAILED\",  \"carrier\": \"AT&T\",\n  \"errorCode\": 30007, \"to\": \"+14155550123\"\n}", id)
		mustAck(t, s.post(t, body), 1)
		// The log keeps the bytes as they came, whitespace and all.
		if n := countEvents(t, s.dbURL, `message_id = $1 AND raw::text = $2`, id, string(body)); n != 1 {
			t.Errorf("events.raw of %s is not the posted body byte for byte", id)
		}
		// Over HTTP the payload is the same JSON document.
		h := s.history(t, id)
		if len(h.Events) != 1 {
			t.Fatalf("history has %d events, want 1", len(h.Events))
		}
		var got, want any
		if err := json.Unmarshal(h.Events[0].Payload, &got); err != nil {
			t.Fatalf("history payload %s: %v", h.Events[0].Payload, err)
		}
		_ = json.Unmarshal(body, &want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("history payload %s is not the document posted, %s", h.Events[0].Payload, body)
		}
		if m := s.waitStatus(t, id, 1); m.Status != "FAILED" || m.CarrierCode != "AT&T" || m.ErrorCode != "30007" {
			t.Errorf("projected as %+v, want FAILED on AT&T with error 30007", m)
		}
	})

	t.Run("redelivery is a duplicate and adds nothing", func(t *testing.T) {
		t.Parallel()
		id := uid("dup")
		// No eventId: the event ID is a hash of the content, so an
		// identical redelivery still dedupes.
		body := fmt.Appendf(nil, `{"messageId":%q,"status":"SENT","carrier":"TMOBILE","from":"12345","to":"+14155550100"}`, id)
		first := mustAck(t, s.post(t, body), 1)
		second := mustAck(t, s.post(t, body), 1)
		if first.Results[0].Duplicate || !second.Results[0].Duplicate {
			t.Errorf("duplicate flags %v then %v, want false then true", first.Results[0].Duplicate, second.Results[0].Duplicate)
		}
		if first.Results[0].EventID != second.Results[0].EventID {
			t.Errorf("event IDs %q and %q differ for the same report", first.Results[0].EventID, second.Results[0].EventID)
		}
		if n := len(s.history(t, id).Events); n != 1 {
			t.Errorf("history has %d events, want 1", n)
		}
		s.waitStatus(t, id, 1)
	})

	t.Run("twenty concurrent deliveries of one report store one event", func(t *testing.T) {
		t.Parallel()
		id := uid("race")
		body := tutorialReport(uid("evt"), id, "DELIVERED", "ATT", "12345", "+14155550199", time.Now())
		const n = 20
		var wg sync.WaitGroup
		answers := make([]reply, n)
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				answers[i] = s.post(t, body)
			}()
		}
		close(start)
		wg.Wait()
		fresh := 0
		for _, r := range answers {
			a := mustAck(t, r, 1)
			if !a.Results[0].Duplicate {
				fresh++
			}
		}
		if fresh != 1 {
			t.Errorf("%d of %d answers say duplicate:false, want exactly 1", fresh, n)
		}
		if got := len(s.history(t, id).Events); got != 1 {
			t.Errorf("history has %d events, want 1", got)
		}
		if got := countEvents(t, s.dbURL, `message_id = $1`, id); got != 1 {
			t.Errorf("events holds %d rows for %s, want 1", got, id)
		}
		s.waitStatus(t, id, 1)
	})

	t.Run("a late SENT never regresses DELIVERED", func(t *testing.T) {
		t.Parallel()
		t0 := time.Now().Add(-time.Minute)
		for _, c := range []struct {
			name   string
			sentAt time.Time
		}{
			{"SENT that happened before, arriving after", t0.Add(-10 * time.Second)},
			{"SENT that claims to be newer", t0.Add(10 * time.Second)},
		} {
			id := uid("ooo")
			mustAck(t, s.post(t, tutorialReport(uid("evt"), id, "DELIVERED", "VERIZON", "12345", "+14155550123", t0)), 1)
			mustAck(t, s.post(t, tutorialReport(uid("evt"), id, "SENT", "VERIZON", "12345", "+14155550123", c.sentAt)), 1)
			m := s.waitStatus(t, id, 2)
			if m.Status != "DELIVERED" {
				t.Errorf("%s: status %s, want DELIVERED", c.name, m.Status)
			}
			h := s.history(t, id)
			if len(h.Events) != 2 || h.Events[0].Status != "DELIVERED" || h.Events[1].Status != "SENT" {
				t.Errorf("%s: history %+v, want DELIVERED then SENT in log order", c.name, h.Events)
			}
		}
	})

	t.Run("SMPP receipt text and SMPP-wrapped JSON", func(t *testing.T) {
		t.Parallel()
		id := uid("rcpt")
		receipt := "id:" + id + " sub:001 dlvrd:001 submit date:2405060700 done date:2405060708 stat:DELIVRD err:000 text:Hello world"
		mustAck(t, s.postWith(t, []byte(receipt), map[string]string{"Content-Type": "text/plain"}), 1)
		h := s.history(t, id)
		if len(h.Events) != 1 {
			t.Fatalf("history has %d events, want 1", len(h.Events))
		}
		ev := h.Events[0]
		wantAt := time.Date(2024, 5, 6, 7, 8, 0, 0, time.UTC)
		if ev.Status != "DELIVERED" || ev.RawStatus != "DELIVRD" || !ev.OccurredAt.Equal(wantAt) {
			t.Errorf("receipt event %+v: want DELIVERED, raw DELIVRD, occurred %v", ev, wantAt)
		}
		var raw string
		if err := json.Unmarshal(ev.Payload, &raw); err != nil || raw != receipt {
			t.Errorf("receipt payload %s: want the receipt text as a JSON string", ev.Payload)
		}
		if m := s.waitStatus(t, id, 1); m.Status != "DELIVERED" || m.ErrorCode != "000" {
			t.Errorf("receipt projected as %+v, want DELIVERED with error code 000", m)
		}

		id = uid("smpp")
		body := fmt.Appendf(nil, `{"smppMessageId":%q,"deliveryStatus":"UNDELIV","carrierCode":"310260","smppErrorCode":"012","sourceAddress":"ACME","destinationAddress":"+447700900123","deliveryTime":1714979000}`, id)
		mustAck(t, s.post(t, body), 1)
		h = s.history(t, id)
		if len(h.Events) != 1 || h.Events[0].Status != "UNDELIVERED" || h.Events[0].RawStatus != "UNDELIV" || !bytes.Equal(h.Events[0].Payload, body) {
			t.Errorf("SMPP JSON history %+v: want one UNDELIVERED (UNDELIV) event with the body as payload", h.Events)
		}
		m := s.waitStatus(t, id, 1)
		want := messageStatus{MessageID: id, Status: "UNDELIVERED", CarrierCode: "310260", ErrorCode: "012", SenderID: "ACME",
			Recipient: "+447700900123", Region: "GB", UpdatedAt: m.UpdatedAt, EventCount: 1}
		if m != want {
			t.Errorf("SMPP JSON projected as %+v, want %+v", m, want)
		}
	})

	t.Run("health, readiness, unknown routes and methods", func(t *testing.T) {
		t.Parallel()
		for _, p := range []string{"/healthz", "/readyz"} {
			if r := s.get(t, p); r.status != http.StatusOK {
				t.Errorf("GET %s answered %s, want 200", p, r)
			}
		}
		wantError(t, s.get(t, "/no/such/route"), http.StatusNotFound, "/no/such/route")
		wantError(t, s.get(t, "/messages/"+uid("never")), http.StatusNotFound)
		wantError(t, s.get(t, "/messages/"+uid("never")+"/history"), http.StatusNotFound)
		wantError(t, s.get(t, "/webhooks/cxone/sms"), http.StatusMethodNotAllowed, "GET")
		if r := s.get(t, "/metrics"); r.status != http.StatusOK || !bytes.Contains(r.body, []byte("# TYPE")) {
			t.Errorf("GET /metrics answered %.200s, want Prometheus text", r)
		}
	})
}

// TestServeRefuses sends everything a webhook must refuse, and checks each
// refusal names the problem, is never a 5xx, and stores nothing.
func TestServeRefuses(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	good := func(id string) []byte {
		return tutorialReport(uid("evt"), id, "DELIVERED", "ATT", "12345", "+14155550123", time.Now())
	}
	var ids []string // message IDs the refused requests carried
	cases := []struct {
		name   string
		body   []byte
		header map[string]string
		status int
		want   []string
	}{
		{name: "wrong secret", body: good("refused-secret"), header: map[string]string{"X-Webhook-Secret": "nope"},
			status: http.StatusUnauthorized, want: []string{"X-Webhook-Secret"}},
		{name: "no secret", body: good("refused-nosecret"), header: map[string]string{"X-Webhook-Secret": ""},
			status: http.StatusUnauthorized, want: []string{"X-Webhook-Secret"}},
		{name: "malformed JSON", body: []byte(`{"messageId":"refused-malformed","status":`), status: http.StatusBadRequest, want: []string{"JSON"}},
		{name: "empty body", body: nil, status: http.StatusBadRequest, want: []string{"empty"}},
		{name: "null", body: []byte(`null`), status: http.StatusBadRequest, want: []string{"null"}},
		{name: "empty array", body: []byte(`[]`), status: http.StatusBadRequest, want: []string{"empty"}},
		{name: "empty object", body: []byte(`{}`), status: http.StatusBadRequest, want: []string{"messageId"}},
		{name: "empty events", body: []byte(`{"events":[]}`), status: http.StatusBadRequest, want: []string{"events", "empty"}},
		{name: "message ID of the wrong type", body: []byte(`{"messageId": {"a":1}}`), status: http.StatusBadRequest, want: []string{"messageId", "object"}},
		{name: "deeply nested", body: bytes.Repeat([]byte("["), 100000), status: http.StatusBadRequest, want: []string{"nested"}},
		{name: "no message ID", body: []byte(`{"status":"DELIVERED","carrier":"ATT","to":"+14155550123"}`), status: http.StatusBadRequest, want: []string{"messageId"}},
		{name: "envelope without a message ID", body: []byte(`{"eventType":"messaging.status.update","eventId":"e1","payload":{"status":"DELIVERED"}}`),
			status: http.StatusBadRequest, want: []string{"payload.messageId"}},
		{name: "batch with one report lacking a message ID",
			body:   []byte(`[{"messageId":"refused-batch-1","status":"SENT"},{"messageId":"refused-batch-2","status":"DELIVERED"},{"status":"DELIVERED"}]`),
			status: http.StatusBadRequest, want: []string{"report 2", "messageId"}},
		{name: "events batch with one report lacking a message ID",
			body:   []byte(`{"events":[{"messageId":"refused-events-1","status":"SENT"},{"carrier":"ATT"}]}`),
			status: http.StatusBadRequest, want: []string{"report 1", "messageId"}},
		{name: "plain text that is no receipt", body: []byte(`hello there`), header: map[string]string{"Content-Type": "text/plain"},
			status: http.StatusBadRequest, want: []string{"id"}},
		{name: "receipt without an id", body: []byte(`sub:001 dlvrd:001 stat:DELIVRD err:000`), header: map[string]string{"Content-Type": "text/plain"},
			status: http.StatusBadRequest},
	}
	ids = append(ids, "refused-secret", "refused-nosecret", "refused-malformed", "refused-batch-1", "refused-batch-2", "refused-events-1")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, s.postWith(t, c.body, c.header), c.status, c.want...)
		})
	}

	t.Run("2 MiB body", func(t *testing.T) {
		big := append([]byte(`{"messageId":"refused-big","status":"SENT","note":"`), bytes.Repeat([]byte("x"), 2<<20)...)
		big = append(big, `"}`...)
		ids = append(ids, "refused-big")
		// With a Content-Length, refused before a byte of the body is read.
		wantError(t, s.post(t, big), http.StatusRequestEntityTooLarge, "MiB")
		// Chunked, so the limit has to be found while reading.
		req, err := http.NewRequest(http.MethodPost, s.base+"/webhooks/cxone/sms", io.MultiReader(bytes.NewReader(big)))
		if err != nil {
			t.Fatal(err)
		}
		if req.ContentLength != 0 {
			t.Fatalf("the request has a Content-Length; it should go chunked")
		}
		req.Header.Set("X-Webhook-Secret", testWebhookSecret)
		req.Header.Set("Content-Type", "application/json")
		resp, err := s.client.Do(req)
		if err != nil {
			t.Fatalf("chunked 2 MiB post: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		wantError(t, reply{status: resp.StatusCode, header: resp.Header, body: b}, http.StatusRequestEntityTooLarge, "MiB")
	})

	t.Run("nothing was stored", func(t *testing.T) {
		for _, id := range ids {
			wantError(t, s.get(t, "/messages/"+id+"/history"), http.StatusNotFound)
		}
		if n := countEvents(t, s.dbURL, `true`); n != 0 {
			t.Errorf("events holds %d rows after only refused requests, want 0", n)
		}
	})
}

// TestServeSignature runs with WEBHOOK_SIGNING_SECRET set: the Standard
// Webhooks signature must be valid and fresh, on top of the shared secret.
func TestServeSignature(t *testing.T) {
	t.Parallel()
	key := make([]byte, 24)
	_, _ = rand.Read(key)
	otherKey := make([]byte, 24)
	_, _ = rand.Read(otherKey)
	s := startServer(t, map[string]string{"WEBHOOK_SIGNING_SECRET": "whsec_" + base64.StdEncoding.EncodeToString(key)})

	signed := func(key []byte, id string, at time.Time, body []byte) map[string]string {
		ts := strconv.FormatInt(at.Unix(), 10)
		return map[string]string{"webhook-id": id, "webhook-timestamp": ts, "webhook-signature": cxhttp.Sign(key, id, ts, body)}
	}
	report := func(id string) []byte {
		return fmt.Appendf(nil, `{"messageId":%q,"status":"DELIVERED","carrier":"ATT","to":"+14155550123"}`, id)
	}

	t.Run("valid signature", func(t *testing.T) {
		id, whID := uid("signed"), uid("msg")
		body := report(id)
		a := mustAck(t, s.postWith(t, body, signed(key, whID, time.Now(), body)), 1)
		// Without an eventId in the body, webhook-id is the event ID.
		if a.Results[0].EventID != whID {
			t.Errorf("event ID %q, want the webhook-id %q", a.Results[0].EventID, whID)
		}
		if n := len(s.history(t, id).Events); n != 1 {
			t.Errorf("history has %d events, want 1", n)
		}
	})

	refused := []struct {
		name   string
		header func(id string, body []byte) map[string]string
		want   string
	}{
		{"signed with another key", func(id string, body []byte) map[string]string {
			return signed(otherKey, uid("msg"), time.Now(), body)
		}, "signature"},
		{"signature of another body", func(id string, body []byte) map[string]string {
			return signed(key, uid("msg"), time.Now(), append(body, ' '))
		}, "signature"},
		{"timestamp 10 minutes old", func(id string, body []byte) map[string]string {
			return signed(key, uid("msg"), time.Now().Add(-10*time.Minute), body)
		}, "timestamp"},
		{"timestamp 10 minutes ahead", func(id string, body []byte) map[string]string {
			return signed(key, uid("msg"), time.Now().Add(10*time.Minute), body)
		}, "timestamp"},
		{"no signature headers", func(string, []byte) map[string]string { return nil }, "signature"},
		{"right signature, wrong shared secret", func(id string, body []byte) map[string]string {
			h := signed(key, uid("msg"), time.Now(), body)
			h["X-Webhook-Secret"] = "nope"
			return h
		}, "X-Webhook-Secret"},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			id := uid("unsigned")
			body := report(id)
			wantError(t, s.postWith(t, body, c.header(id, body)), http.StatusUnauthorized, c.want)
			wantError(t, s.get(t, "/messages/"+id+"/history"), http.StatusNotFound)
		})
	}
}

// TestServeAdmin is the operator: projection states behind a bearer token,
// and a rebuild that leaves every read model answering as before.
func TestServeAdmin(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)

	wantError(t, s.get(t, "/admin/projections"), http.StatusUnauthorized, "token")
	wantError(t, s.do(t, http.MethodGet, "/admin/projections", nil, map[string]string{"Authorization": "Bearer wrong"}), http.StatusUnauthorized)
	wantError(t, s.do(t, http.MethodPost, "/admin/projections/all/rebuild", nil, nil), http.StatusUnauthorized)

	// Some history to rebuild: two carriers, a failure, a late report, and a
	// non-compliant sender.
	t0 := time.Now().Add(-2 * time.Minute).UTC()
	ids := []string{uid("adm"), uid("adm"), uid("adm")}
	mustAck(t, s.post(t, []byte(`[`+
		string(tutorialReport(uid("e"), ids[0], "SENT", "ATT", "ACME", "+14155550123", t0))+`,`+
		string(tutorialReport(uid("e"), ids[0], "DELIVERED", "ATT", "ACME", "+14155550123", t0.Add(4*time.Second)))+`,`+
		string(tutorialReport(uid("e"), ids[1], "SENT", "VERIZON", "12345", "+12125550147", t0))+`,`+
		string(tutorialReport(uid("e"), ids[1], "FAILED", "VERIZON", "12345", "+12125550147", t0.Add(9*time.Second)))+`]`)), 4)
	mustAck(t, s.post(t, tutorialReport(uid("e"), ids[2], "DELIVERED", "ATT", "ACME", "+447700900123", t0.Add(time.Second))), 1)
	mustAck(t, s.post(t, tutorialReport(uid("e"), ids[2], "SENT", "ATT", "ACME", "+447700900123", t0)), 1)

	type state struct {
		Name      string `json:"name"`
		State     string `json:"state"`
		Position  string `json:"position"`
		LagEvents int64  `json:"lagEvents"`
	}
	var states struct {
		RulesVersion string  `json:"rulesVersion"`
		Projections  []state `json:"projections"`
	}
	eventually(t, "every projection has caught up", projectionWait, func() (bool, string) {
		r := s.admin(t, http.MethodGet, "/admin/projections")
		if r.status != http.StatusOK {
			return false, r.String()
		}
		states.Projections = nil
		decodeInto(t, r, &states)
		names := map[string]bool{}
		for _, p := range states.Projections {
			names[p.Name] = p.LagEvents == 0
		}
		for _, want := range []string{"current_status.v1", "carrier_costs.v1", "sla_latency.v1", "sender_compliance.v1"} {
			if !names[want] {
				return false, r.String()
			}
		}
		return states.RulesVersion != "", r.String()
	})
	s.waitStatus(t, ids[2], 2)

	// What every read model says, with explicit times so the answers do not
	// move with the clock.
	from, to := t0.Add(-time.Hour).Truncate(time.Minute), t0.Add(time.Hour).Truncate(time.Minute)
	window := "?from=" + from.Format(time.RFC3339) + "&to=" + to.Format(time.RFC3339)
	reads := []string{
		"/messages/" + ids[0], "/messages/" + ids[1], "/messages/" + ids[2],
		"/analytics/carriers", "/analytics/carriers?region=GB", "/analytics/sla" + window, "/compliance/violations",
	}
	snapshot := func() map[string]any {
		out := map[string]any{}
		for _, p := range reads {
			r := s.get(t, p)
			if r.status != http.StatusOK {
				t.Fatalf("GET %s answered %s", p, r)
			}
			var v any
			decodeInto(t, r, &v)
			out[p] = v
		}
		return out
	}
	before := snapshot()
	if m := before["/messages/"+ids[1]].(map[string]any); m["status"] != "FAILED" {
		t.Errorf("message %s is %v, want FAILED", ids[1], m["status"])
	}

	// Reads go on during the rebuild, and keep answering what they did.
	stopReading := make(chan struct{})
	readerDone := make(chan []string)
	go func() {
		var problems []string
		for i := 0; ; i++ {
			select {
			case <-stopReading:
				readerDone <- problems
				return
			default:
			}
			p := reads[i%len(reads)]
			code, body, err := httpGet(s.base, p, nil)
			var v any
			if err == nil && code == http.StatusOK {
				err = json.Unmarshal(body, &v)
			}
			if err != nil || code != http.StatusOK || !reflect.DeepEqual(v, before[p]) {
				problems = append(problems, fmt.Sprintf("GET %s during the rebuild: %d %s %v", p, code, bytes.TrimSpace(body), err))
			}
		}
	}()
	r := s.admin(t, http.MethodPost, "/admin/projections/all/rebuild")
	close(stopReading)
	for _, p := range <-readerDone {
		t.Error(p)
	}
	if r.status != http.StatusOK {
		t.Fatalf("rebuild all answered %s, want 200", r)
	}
	var rb struct {
		Status      string   `json:"status"`
		Projections []string `json:"projections"`
		Events      int64    `json:"events"`
	}
	decodeInto(t, r, &rb)
	if rb.Status != "done" || len(rb.Projections) != 4 || rb.Events != 6 {
		t.Errorf("rebuild answered %s: want done, 4 projections, 6 events", r)
	}
	after := snapshot()
	for _, p := range reads {
		if !reflect.DeepEqual(before[p], after[p]) {
			b, _ := json.Marshal(before[p])
			a, _ := json.Marshal(after[p])
			t.Errorf("GET %s changed with the rebuild:\nbefore %s\n after %s", p, b, a)
		}
	}

	if r := s.admin(t, http.MethodPost, "/admin/projections/current_status.v1/rebuild"); r.status != http.StatusOK {
		t.Errorf("rebuild current_status.v1 answered %s, want 200", r)
	}
	wantError(t, s.admin(t, http.MethodPost, "/admin/projections/no_such_projection/rebuild"), http.StatusNotFound, "no_such_projection")
	if r := s.admin(t, http.MethodGet, "/admin/projections"); r.status != http.StatusOK {
		t.Errorf("GET /admin/projections after rebuilds answered %s", r)
	}
}

// TestServeConfigErrors: serve refuses to start on a bad configuration,
// saying what is wrong, without ever listening.
func TestServeConfigErrors(t *testing.T) {
	t.Parallel()
	noDotEnv(t)
	badRules := filepath.Join(t.TempDir(), "rules.json")
	if err := os.WriteFile(badRules, []byte(`{"version": 3}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"no WEBHOOK_SECRET", map[string]string{"PORT": "0", "DATABASE_URL": "postgres://127.0.0.1:1/none"}, []string{"WEBHOOK_SECRET"}},
		{"bad rules file", map[string]string{"PORT": "0", "DATABASE_URL": "postgres://127.0.0.1:1/none", "WEBHOOK_SECRET": "s", "RULES_FILE": badRules},
			[]string{"RULES_FILE", "version"}},
		{"missing rules file", map[string]string{"PORT": "0", "DATABASE_URL": "postgres://127.0.0.1:1/none", "WEBHOOK_SECRET": "s",
			"RULES_FILE": filepath.Join(t.TempDir(), "absent.json")}, []string{"RULES_FILE"}},
		{"bad signing secret", map[string]string{"PORT": "0", "DATABASE_URL": "postgres://127.0.0.1:1/none", "WEBHOOK_SECRET": "s",
			"WEBHOOK_SIGNING_SECRET": "whsec_%%%"}, []string{"WEBHOOK_SIGNING_SECRET"}},
		{"bad commit writers", map[string]string{"PORT": "0", "DATABASE_URL": "postgres://127.0.0.1:1/none", "WEBHOOK_SECRET": "s",
			"COMMIT_WRITERS": "0"}, []string{"COMMIT_WRITERS"}},
		{"bad PROJECTORS", map[string]string{"PORT": "0", "DATABASE_URL": "postgres://127.0.0.1:1/none", "WEBHOOK_SECRET": "s",
			"PROJECTORS": "false"}, []string{"PROJECTORS"}},
		{"bad projector concurrency", map[string]string{"PORT": "0", "DATABASE_URL": "postgres://127.0.0.1:1/none", "WEBHOOK_SECRET": "s",
			"PROJECTOR_CONCURRENCY": "many"}, []string{"PROJECTOR_CONCURRENCY"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var stdout, stderr syncBuffer
			done := make(chan error, 1)
			go func() { done <- run(ctx, []string{"serve"}, envFunc(c.env), &stdout, &stderr) }()
			var err error
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				cancel()
				<-done
				t.Fatalf("serve kept running on a bad configuration; stdout %q", stdout.String())
			}
			if err == nil {
				t.Fatalf("serve returned nil, want an error naming %v", c.want)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
			if strings.Contains(stdout.String(), "listening") {
				t.Errorf("serve listened before refusing: stdout %q", stdout.String())
			}
		})
	}
}

// A port already taken is the one thing serve and project say, with what to
// do about it. serve first warned "migrations not applied yet; retrying"
// ("operation was canceled"), blaming a healthy database for the start-up
// the port had cut short; project migrated before it found the port taken.
func TestPortTakenSaidAlone(t *testing.T) {
	t.Parallel()
	noDotEnv(t)
	taken, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := strconv.Itoa(taken.Addr().(*net.TCPAddr).Port)
	// A healthy database, and one that cannot be reached: reaching it
	// first would fail or warn before the port is looked at.
	dbURLs := map[string]string{"up": pgtest.URL(t), "down": "postgres://127.0.0.1:1/none?connect_timeout=1"}
	for _, name := range []string{"serve/up", "project/up", "serve/down", "project/down"} {
		cmd, db, _ := strings.Cut(name, "/")
		dbURL := dbURLs[db]
		t.Run(name, func(t *testing.T) {
			env := map[string]string{"PORT": port, "DATABASE_URL": dbURL, "WEBHOOK_SECRET": testWebhookSecret, "LOG_LEVEL": "info"}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var stdout, stderr syncBuffer
			err := run(ctx, []string{cmd}, envFunc(env), &stdout, &stderr)
			if err == nil {
				t.Fatalf("%s started on a port already taken", cmd)
			}
			for _, want := range []string{"listen on port " + port, "address already in use", "another cxsms", "set PORT"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			// What start-up left running would speak now.
			time.Sleep(500 * time.Millisecond)
			if out := stdout.String() + stderr.String(); out != "" {
				t.Errorf("%s said more than the port's error:\n%s", cmd, out)
			}
		})
	}
}

// A client still sending its body when serve stops does not hold the stop
// for the whole grace and turn it into a failure: nothing of it was
// acknowledged, so its connection is closed and serve returns nil (exit 0).
// Not parallel: it shortens shutdownGrace.
func TestStopWithAStalledClient(t *testing.T) {
	// Cleanups run last first: these run after startServer's, which stops
	// serve and checks it returned nil, so the client stalls until then.
	var conn net.Conn
	grace := shutdownGrace
	t.Cleanup(func() {
		shutdownGrace = grace
		if conn != nil {
			conn.Close()
		}
	})
	shutdownGrace = 300 * time.Millisecond
	s := startServer(t, nil)
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /webhooks/cxone/sms HTTP/1.1\r\nHost: cxsms\r\nX-Webhook-Secret: %s\r\nContent-Length: 100\r\n\r\n{\"messageId\"", testWebhookSecret)
	time.Sleep(200 * time.Millisecond) // the handler is reading the body; the sender stalls
}
