package http

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
)

// A Content-Encoding list is undone last coding first (RFC 9110 §8.4),
// identity skipped: "identity, gzip" and a double-gzipped body were 415s.
// What each coding inflates to is held to the limit, as the body is.
func TestReadBodyUndoesEveryListedCoding(t *testing.T) {
	t.Parallel()
	const report = `{"messageId":"coded","status":"SENT"}`
	const limit = 200
	gz := func(s string) string { return gzipped(t, s) }
	// A gzip stream stored without compression is a little larger than
	// what it holds: under the limit inflated, over it one layer up (and
	// small as sent, gzipped again).
	stored := func(s string) string {
		return compressed(t, s, func(w io.Writer) io.WriteCloser {
			zw, _ := gzip.NewWriterLevel(w, flate.NoCompression)
			return zw
		})
	}
	for _, tt := range []struct {
		name     string
		encoding []string // one header line each
		body     string
		want     int // 200 for the report back
	}{
		{"identity, gzip", []string{"identity, gzip"}, gz(report), http.StatusOK},
		{"gzip, identity", []string{"gzip, identity"}, gz(report), http.StatusOK},
		{"gzip, gzip", []string{"gzip, gzip"}, gz(gz(report)), http.StatusOK},
		{"deflate, gzip", []string{"deflate, gzip"}, gz(deflated(t, report)), http.StatusOK},
		{"gzip, br", []string{"gzip, br"}, brotlied(t, gz(report)), http.StatusOK},
		{"two lines, identity and gzip", []string{"identity", "gzip"}, gz(report), http.StatusOK},
		{"two lines, gzip twice", []string{"gzip", "GZIP"}, gz(gz(report)), http.StatusOK},
		{"three codings", []string{"gzip, gzip, gzip"}, gz(gz(gz(report))), http.StatusOK},
		{"an empty element", []string{"gzip,, identity"}, gz(report), http.StatusOK},
		{"identity twice", []string{"identity, identity"}, report, http.StatusOK},
		// Applied in the order listed: the other order does not decode.
		{"deflate, gzip in the wrong order", []string{"deflate, gzip"}, deflated(t, gz(report)), http.StatusBadRequest},
		{"four codings", []string{"gzip, gzip, gzip, gzip"}, gz(gz(gz(gz(report)))), http.StatusUnsupportedMediaType},
		{"one unknown among them", []string{"gzip, zstd"}, gz(report), http.StatusUnsupportedMediaType},
		{"over the limit inflated", []string{"gzip, gzip"}, gz(gz(strings.Repeat(" ", 2*limit))), http.StatusRequestEntityTooLarge},
		{"over the limit one layer up", []string{"gzip, gzip"}, gz(stored(strings.Repeat(" ", limit-10))), http.StatusRequestEntityTooLarge},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/webhooks/cxone/sms", strings.NewReader(tt.body))
			for _, e := range tt.encoding {
				r.Header.Add("Content-Encoding", e)
			}
			got, err := readBody(httptest.NewRecorder(), r, limit)
			code := http.StatusOK
			if err != nil {
				code, _, _, _ = statusOf(err)
			}
			if code != tt.want {
				t.Fatalf("%d (%v), want %d", code, err, tt.want)
			}
			var tooBig *http.MaxBytesError
			if code == http.StatusRequestEntityTooLarge && !errors.As(err, &tooBig) {
				t.Errorf("413 from %T, want *http.MaxBytesError", err)
			}
			if code == http.StatusOK && !bytes.Equal(got, []byte(report)) {
				t.Errorf("read %q, want %q", got, report)
			}
		})
	}
}

// Whatever keeps the store from committing, the sender is told to come back
// (503 + Retry-After) and nothing is stored: a failure the store does not
// classify (here a trigger's exception; for a tester, a role without
// INSERT) was a 500, which tells CXone nothing, while the log said 503.
func TestWebhookAnswers503WhenTheStoreFailsOtherwise(t *testing.T) {
	t.Parallel()
	env := newAPIEnv(t, Config{})
	if _, err := env.pool.Exec(context.Background(), `
		CREATE FUNCTION refuse_reports() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'not today' USING ERRCODE = 'P0001'; END $$;
		CREATE TRIGGER refuse_reports BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse_reports();`); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, env.srv.URL+"/webhooks/cxone/sms", strings.NewReader(`{"messageId":"m1","status":"SENT"}`))
	req.Header.Set("X-Webhook-Secret", testWebhookSecret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("answered %d (Retry-After %q) %s; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	var n int
	if err := env.pool.QueryRow(context.Background(), `SELECT count(*) FROM events`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d events stored (%v), want none", n, err)
	}
}

// A refused webhook (400, 413) is said in the log at the default level, as
// 401s and 503s are: no sender retries it, so the report is gone unless
// someone looks, and only a counter showed it.
func TestRefusedWebhookIsLogged(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]int{
		`{"payload":{"status":"DELIVERED"}}`:                            http.StatusBadRequest,
		`{"messageId":"m1","text":"` + strings.Repeat("x", 2000) + `"}`: http.StatusRequestEntityTooLarge,
	} {
		log, hook := logtest.NewNullLogger() // a server each: the line is the first of its kind
		env := newAPIEnvLogging(t, Config{MaxBodyBytes: 1 << 10}, log)
		if code, answer := postWebhook(t, env, "application/json", body); code != want {
			t.Fatalf("answered %d %s, want %d", code, answer, want)
		}
		var found bool
		for _, e := range hook.AllEntries() {
			found = found || e.Level == logrus.WarnLevel && strings.Contains(e.Message, "webhook refused") && e.Data["status"] == want
		}
		if !found {
			t.Errorf("%d: no warning in the log: %v", want, hook.AllEntries())
		}
	}
}

// A lock on events that every INSERT waits for (LOCK TABLE from a psql, a
// plain CREATE INDEX) turns every webhook into a 503 after its wait. The
// warning and /readyz name the lock and its holder; the log said only
// "timeout", and /readyz said ready.
func TestALockOnEventsIsNamed(t *testing.T) {
	t.Parallel()
	log, hook := logtest.NewNullLogger()
	env := newAPIEnvLogging(t, Config{}, log)
	ctx := context.Background()
	tx, err := env.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `LOCK TABLE events IN SHARE MODE`); err != nil {
		t.Fatal(err)
	}
	if code, answer := postWebhook(t, env, "application/json", `{"messageId":"locked-1","status":"SENT"}`); code != http.StatusServiceUnavailable {
		t.Fatalf("answered %d %s under a lock, want 503", code, answer)
	}
	var cause string
	for _, e := range hook.AllEntries() {
		if e.Level == logrus.WarnLevel && strings.Contains(e.Message, "answered 503") {
			cause, _ = e.Data["cause"].(string)
		}
	}
	if !strings.Contains(cause, "events is locked (ShareLock) by pid") {
		t.Errorf("the 503 warning's cause: %q, want the lock named: %v", cause, hook.AllEntries())
	}
	res, err := http.Get(env.srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "events is locked (ShareLock)") {
		t.Errorf("/readyz under a lock: %d %s, want 503 naming it", res.StatusCode, b)
	}
}

// A refusal's reason quotes the header it refuses; a sender that put a
// secret there had it written to the log. The warning's reason has every
// secret of the service taken out, a quoted one cut short included.
func TestRefusalReasonsHoldNoSecret(t *testing.T) {
	t.Parallel()
	const admin = "admin-token-for-redaction"
	long := strings.Repeat("x", 50) + " " + testWebhookSecret // cut short by the quote at 64 bytes
	for _, coding := range []string{"gzip, " + testSigningKey + " " + admin, testWebhookSecret, long} {
		log, hook := logtest.NewNullLogger() // a server each: the warning is the first of its kind
		env := newAPIEnvLogging(t, Config{AdminToken: admin, SigningSecret: testSigningKey}, log)
		req, _ := http.NewRequest(http.MethodPost, env.srv.URL+"/webhooks/cxone/sms", strings.NewReader(`{}`))
		req.Header.Set("X-Webhook-Secret", testWebhookSecret)
		req.Header.Set("Content-Encoding", coding)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnsupportedMediaType {
			t.Fatalf("Content-Encoding %q: %d, want 415", coding, res.StatusCode)
		}
		var reason string
		for _, e := range hook.AllEntries() {
			if r, _ := e.Data["reason"].(string); r != "" {
				reason = r
			}
		}
		if !strings.Contains(reason, "[redacted]") {
			t.Errorf("Content-Encoding %q: logged reason %q, want its secrets redacted", coding, reason)
		}
		for _, secret := range []string{testSigningKey, admin, testWebhookSecret, testWebhookSecret[:9]} {
			if strings.Contains(reason, secret) {
				t.Errorf("logged reason %q holds %q", reason, secret)
			}
		}
	}
}
