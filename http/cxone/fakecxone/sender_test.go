package fakecxone_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cxsms/cxsms/domain"
	"github.com/cxsms/cxsms/http/cxone/fakecxone"
)

// delivery is what a callback received.
type delivery struct {
	eventID     string
	contentType string
	secret      string
	body        string
}

// recorder is a callback that answers with a programmable status and keeps
// what it was sent.
type recorder struct {
	mu     sync.Mutex
	got    []delivery
	answer func(n int, w http.ResponseWriter) bool // true: answered (refused)
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.got = append(rc.got, delivery{r.Header.Get(fakecxone.EventIDHeader), r.Header.Get("Content-Type"), r.Header.Get("X-Webhook-Secret"), string(body)})
	n := len(rc.got)
	rc.mu.Unlock()
	if rc.answer != nil && rc.answer(n, w) {
		return
	}
	w.Write([]byte(`{"acknowledged":true}`))
}

func (rc *recorder) deliveries() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.got...)
}

func subscribe(fake *fakecxone.Server, callback, secret string) {
	fake.AddSubscription(fakecxone.Subscription{
		Name: "sms-status-webhook", CallbackURL: callback, EventTypes: []string{fakecxone.EventType},
		HTTPMethod: http.MethodPost, Enabled: true,
		Headers: map[string]string{"Content-Type": "application/json", "X-Webhook-Secret": secret},
	})
}

var fast = fakecxone.BurstConfig{RetryBase: 2 * time.Millisecond, RetryMax: 20 * time.Millisecond}

func TestBurstSendsEveryFormInLifecycleOrder(t *testing.T) {
	fake := fakecxone.New(fakecxone.Options{})
	rc := &recorder{}
	cb := httptest.NewServer(rc)
	defer cb.Close()
	subscribe(fake, cb.URL, "sekrit")
	// A disabled subscription and one to other events get nothing.
	fake.AddSubscription(fakecxone.Subscription{Name: "off", CallbackURL: cb.URL + "/off", EventTypes: []string{fakecxone.EventType}})
	fake.AddSubscription(fakecxone.Subscription{Name: "chat", CallbackURL: cb.URL + "/chat", EventTypes: []string{"chat.message"}, Enabled: true})

	cfg := fast
	cfg.Messages, cfg.Lifecycle, cfg.FailEvery = 16, true, 2
	res, err := fake.SendBurst(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Reports) != 48 || res.Acknowledged() != 48 || res.Redelivered() != 0 {
		t.Fatalf("%d reports, %d acknowledged, %d redelivered", len(res.Reports), res.Acknowledged(), res.Redelivered())
	}

	got := rc.deliveries()
	if len(got) != 48 {
		t.Fatalf("callback got %d posts, want 48", len(got))
	}
	byEvent := map[string]delivery{}
	for _, d := range got {
		if d.secret != "sekrit" {
			t.Fatalf("post without the subscription's secret header")
		}
		if _, dup := byEvent[d.eventID]; dup || d.eventID == "" {
			t.Fatalf("event id %q missing or reused", d.eventID)
		}
		byEvent[d.eventID] = d
	}

	forms := map[fakecxone.Form]int{}
	statuses := map[domain.Status]int{}
	receipt := regexp.MustCompile(`^id:(\S+) sub:001 dlvrd:00[01] submit date:\d{12} done date:\d{12} stat:([A-Z]+) err:\d{3} text:`)
	order := map[string][]domain.Status{}
	for _, rep := range res.Reports {
		forms[rep.Form]++
		statuses[rep.Status]++
		order[rep.MessageID] = append(order[rep.MessageID], rep.Status)
		d := byEvent[rep.EventID]
		switch rep.Form {
		case fakecxone.FormReceiptText:
			m := receipt.FindStringSubmatch(d.body)
			if !strings.HasPrefix(d.contentType, "text/plain") || m == nil || m[1] != rep.MessageID || m[2] != rep.RawStatus {
				t.Errorf("receipt text %q (%s) for %+v", d.body, d.contentType, rep)
			}
		default:
			var env struct {
				EventType string         `json:"eventType"`
				Payload   map[string]any `json:"payload"`
			}
			if err := json.Unmarshal([]byte(d.body), &env); err != nil || env.EventType != fakecxone.EventType || d.contentType != "application/json" {
				t.Fatalf("%s body %q: %v", rep.Form, d.body, err)
			}
			p := env.Payload
			if p["eventId"] != rep.EventID {
				t.Errorf("%s payload eventId %v, header %s", rep.Form, p["eventId"], rep.EventID)
			}
			switch rep.Form {
			case fakecxone.FormJSON:
				if p["messageId"] != rep.MessageID || p["status"] != rep.RawStatus {
					t.Errorf("json payload %v for %+v", p, rep)
				}
			case fakecxone.FormSMPPJSON:
				if p["smppMessageId"] != rep.MessageID || p["deliveryStatus"] != rep.RawStatus || p["message_state"] == nil {
					t.Errorf("smpp payload %v for %+v", p, rep)
				}
			case fakecxone.FormReceiptJSON:
				m := receipt.FindStringSubmatch(p["shortMessage"].(string))
				if p["messageId"] != rep.MessageID || m == nil || m[1] != rep.MessageID || m[2] != rep.RawStatus {
					t.Errorf("receipt payload %v for %+v", p, rep)
				}
			}
		}
		if domain.ParseStatus(rep.RawStatus) != rep.Status {
			t.Errorf("raw status %q does not mean %s", rep.RawStatus, rep.Status)
		}
	}
	for _, f := range fakecxone.Forms {
		if forms[f] == 0 {
			t.Errorf("no report in form %s: %v", f, forms)
		}
	}
	if statuses[domain.StatusQueued] != 16 || statuses[domain.StatusSent] != 16 || statuses[domain.StatusDelivered] != 8 {
		t.Errorf("statuses = %v", statuses)
	}
	for _, failed := range []domain.Status{domain.StatusUndelivered, domain.StatusRejected, domain.StatusExpired} {
		if statuses[failed] == 0 {
			t.Errorf("no %s among the failures: %v", failed, statuses)
		}
	}
	for id, seq := range order {
		if len(seq) != 3 || seq[0] != domain.StatusQueued || seq[1] != domain.StatusSent || !seq[2].IsTerminal() {
			t.Errorf("message %s lifecycle %v", id, seq)
		}
	}
	// Sent in order: a message's later report only after the earlier one
	// was acknowledged.
	pos := map[string]int{}
	for i, d := range got {
		pos[d.eventID] = i
	}
	for i := 0; i < len(res.Reports); i += 3 {
		a, b, c := pos[res.Reports[i].EventID], pos[res.Reports[i+1].EventID], pos[res.Reports[i+2].EventID]
		if !(a < b && b < c) {
			t.Errorf("message %s delivered out of order", res.Reports[i].MessageID)
		}
	}
}

func TestBurstRedeliversAfter503AndDroppedConnections(t *testing.T) {
	fake := fakecxone.New(fakecxone.Options{})
	rc := &recorder{answer: func(n int, w http.ResponseWriter) bool {
		switch {
		case n <= 3:
			w.Header().Set("Retry-After", "0")
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return true
		case n <= 6:
			// The connection dies before an answer.
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return true
		}
		return false
	}}
	cb := httptest.NewServer(rc)
	defer cb.Close()
	subscribe(fake, cb.URL, "s")

	cfg := fast
	cfg.Messages, cfg.Concurrency = 5, 1
	res, err := fake.SendBurst(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Acknowledged() != 5 {
		t.Errorf("acknowledged %d of 5", res.Acknowledged())
	}
	// With one chain at a time, the first report takes all six refusals.
	first := res.Reports[0]
	if first.Attempts != 7 || !first.Acknowledged || first.LastStatusCode != 200 {
		t.Errorf("first report: %+v; want acknowledged on attempt 7", first)
	}
	if len(fake.Reports()) != 5 {
		t.Errorf("server recorded %d reports", len(fake.Reports()))
	}
}

// A redelivery goes out with the subscription's headers as they are now:
// after the service registered the right secret, the fake went on sending
// the wrong one it had first, and make demo never recovered.
func TestRedeliveryTakesTheSubscriptionAsItIsNow(t *testing.T) {
	fake := fakecxone.New(fakecxone.Options{})
	var id string
	rc := &recorder{answer: func(n int, w http.ResponseWriter) bool {
		if n == 1 { // refused for its secret, which the service then fixes
			fake.SetHeaders(id, map[string]string{"Content-Type": "application/json", "X-Webhook-Secret": "right"})
			w.WriteHeader(http.StatusUnauthorized)
			return true
		}
		return false
	}}
	cb := httptest.NewServer(rc)
	defer cb.Close()
	id = fake.AddSubscription(fakecxone.Subscription{
		Name: "sms-status-webhook", CallbackURL: cb.URL, EventTypes: []string{fakecxone.EventType},
		HTTPMethod: http.MethodPost, Enabled: true,
		Headers: map[string]string{"Content-Type": "application/json", "X-Webhook-Secret": "wrong"},
	})
	cfg := fast
	cfg.Messages, cfg.Concurrency = 1, 1
	res, err := fake.SendBurst(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := rc.deliveries()
	if res.Reports[0].Attempts != 2 || len(got) < 2 || got[0].secret != "wrong" || got[1].secret != "right" {
		t.Fatalf("first report %+v, secrets sent %+v; want the redelivery sent with the new secret", res.Reports[0], got)
	}
}

func TestBurstStopsWithContext(t *testing.T) {
	fake := fakecxone.New(fakecxone.Options{})
	cb := httptest.NewServer(&recorder{answer: func(int, http.ResponseWriter) bool { return false }})
	defer cb.Close()
	down := httptest.NewServer(&recorder{answer: func(_ int, w http.ResponseWriter) bool {
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	}})
	defer down.Close()
	subscribe(fake, cb.URL, "s")
	subscribe(fake, down.URL+"/?token=QUERYSECRET", "s")

	ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
	defer cancel()
	cfg := fast
	cfg.Messages = 3
	start := time.Now()
	res, err := fake.SendBurst(ctx, cfg)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "3 of 6 reports unacknowledged") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("returned %s after start", d)
	}
	for _, rep := range res.Unacknowledged() {
		if rep.Attempts < 2 || rep.LastStatusCode != 503 {
			t.Errorf("unacknowledged %+v; want several 503 attempts", rep)
		}
	}
	if _, err := fakecxone.New(fakecxone.Options{}).SendBurst(t.Context(), fakecxone.BurstConfig{Messages: 1}); !errors.Is(err, fakecxone.ErrNoSubscriptions) {
		t.Errorf("no subscriptions: %v", err)
	}
}

func TestBurstErrorsHideCallbackQuery(t *testing.T) {
	fake := fakecxone.New(fakecxone.Options{})
	dead := httptest.NewServer(http.NotFoundHandler())
	url := dead.URL
	dead.Close() // nothing listens there now
	subscribe(fake, url+"/cb?token=QUERYSECRET", "s")
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	cfg := fast
	cfg.Messages = 1
	res, _ := fake.SendBurst(ctx, cfg)
	if len(res.Reports) != 1 || res.Reports[0].LastError == "" || strings.Contains(res.Reports[0].LastError, "QUERYSECRET") {
		t.Errorf("report %+v", res.Reports)
	}
}
