package http

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

const testSigningKey = "whsec_" + "dGVzdC1zaWduaW5nLWtleS0wMTIz" // "test-signing-key-0123"

// signed is a webhook request signed with the test key over what, carrying
// body.
func signed(t *testing.T, env *apiEnv, id string, body, what []byte, header map[string][]string) *http.Request {
	t.Helper()
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(testSigningKey, "whsec_"))
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req, _ := http.NewRequest(http.MethodPost, env.srv.URL+"/webhooks/cxone/sms", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Webhook-Secret", testWebhookSecret)
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", ts)
	req.Header.Set("webhook-signature", Sign(key, id, ts, what))
	for k, vs := range header {
		req.Header.Del(k)
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	return req
}

func do(t *testing.T, req *http.Request) int {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Webhook authentication, as senders and forgers present it.
func TestWebhookAuthentication(t *testing.T) {
	t.Parallel()
	env := newAPIEnv(t, Config{SigningSecret: testSigningKey})
	body := []byte(`{"messageId":"auth-1","status":"DELIVERED"}`)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(body)
	zw.Close()
	gz2 := []byte(gzipped(t, gz.String()))
	for _, tt := range []struct {
		name string
		req  *http.Request
		want int
	}{
		{"signed", signed(t, env, "w1", body, body, nil), http.StatusOK},
		{"a right secret, then a wrong one", signed(t, env, "w2", body, body,
			map[string][]string{"X-Webhook-Secret": {testWebhookSecret, "wrong"}}), http.StatusUnauthorized},
		{"a wrong secret, then the right one", signed(t, env, "w3", body, body,
			map[string][]string{"X-Webhook-Secret": {"wrong", testWebhookSecret}}), http.StatusUnauthorized},
		{"the secret twice", signed(t, env, "w4", body, body,
			map[string][]string{"X-Webhook-Secret": {testWebhookSecret, testWebhookSecret}}), http.StatusOK},
		{"gzip, signed as sent", signed(t, env, "w5", gz.Bytes(), gz.Bytes(),
			map[string][]string{"Content-Encoding": {"gzip"}}), http.StatusOK},
		{"gzip, signed as inflated", signed(t, env, "w6", gz.Bytes(), body,
			map[string][]string{"Content-Encoding": {"gzip"}}), http.StatusOK},
		{"gzip, signed over something else", signed(t, env, "w7", gz.Bytes(), []byte("other"),
			map[string][]string{"Content-Encoding": {"gzip"}}), http.StatusUnauthorized},
		// Two codings: as sent, or inflated all the way.
		{"gzip twice, signed as sent", signed(t, env, "w9", gz2, gz2,
			map[string][]string{"Content-Encoding": {"gzip, gzip"}}), http.StatusOK},
		{"gzip twice, signed as inflated", signed(t, env, "w10", gz2, body,
			map[string][]string{"Content-Encoding": {"identity", "gzip, gzip"}}), http.StatusOK},
		{"gzip twice, signed half inflated", signed(t, env, "w11", gz2, gz.Bytes(),
			map[string][]string{"Content-Encoding": {"gzip, gzip"}}), http.StatusUnauthorized},
	} {
		if got := do(t, tt.req); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
	// Repeated signature lines are one list.
	req := signed(t, env, "w8", body, body, nil)
	good := req.Header.Get("webhook-signature")
	req.Header.Del("webhook-signature")
	req.Header.Add("webhook-signature", "v1,AAAA")
	req.Header.Add("webhook-signature", good)
	if got := do(t, req); got != http.StatusOK {
		t.Errorf("a bad signature line, then a good one: %d, want 200", got)
	}
}

// With signatures on, a captured request replayed with an unsigned
// X-CXone-Event-Id is still the same event: the header had precedence over
// the signed webhook-id, and each replay was stored again.
func TestSignedReplayIsADuplicate(t *testing.T) {
	t.Parallel()
	env := newAPIEnv(t, Config{SigningSecret: testSigningKey})
	body := []byte(`{"messageId":"replayed","status":"DELIVERED"}`)
	first := signed(t, env, "rp", body, body, nil)
	if got := do(t, first); got != http.StatusOK {
		t.Fatalf("signed: %d", got)
	}
	for _, id := range []string{"a", "b"} {
		again := signed(t, env, "rp", body, body, map[string][]string{
			"webhook-timestamp": {first.Header.Get("webhook-timestamp")},
			"webhook-signature": {first.Header.Get("webhook-signature")},
			"X-CXone-Event-Id":  {id},
		})
		if got := do(t, again); got != http.StatusOK {
			t.Fatalf("replay %s: %d", id, got)
		}
	}
	var n int
	if err := env.pool.QueryRow(context.Background(), `SELECT count(*) FROM events WHERE message_id = 'replayed'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("a signed request replayed with new X-CXone-Event-Ids stored %d events, want 1", n)
	}
}

// An empty whsec_ key would let anyone sign.
func TestEmptySigningKeyIsRefused(t *testing.T) {
	for _, s := range []string{"whsec_", "  whsec_  ", testSigningKey + " whsec_"} {
		if _, err := parseSigningKeys(s); err == nil {
			t.Errorf("parseSigningKeys(%q) accepted an empty key", s)
		}
	}
	if _, err := parseSigningKeys(testSigningKey); err != nil {
		t.Errorf("a real key: %v", err)
	}
}

// A blank WEBHOOK_SIGNING_SECRET (an empty mounted secret file) turned
// signatures off without a word, and "\n" or "\t" became a key anyone
// could sign with. A set value must hold a key; white space separates keys.
func TestBlankSigningSecretIsRefused(t *testing.T) {
	for _, s := range []string{" ", "\n", " \n", "\t", "\r\n", ", ,"} {
		if keys, err := parseSigningKeys(s); err == nil {
			t.Errorf("parseSigningKeys(%q) = %q, want refused", s, keys)
		}
	}
	keys, err := parseSigningKeys("key-one\nkey-two\tkey-three\n")
	if err != nil || len(keys) != 3 || string(keys[0]) != "key-one" || string(keys[2]) != "key-three" {
		t.Errorf("keys split by line breaks and tabs: %q, %v; want key-one, key-two, key-three", keys, err)
	}
	if keys, err := parseSigningKeys(""); err != nil || len(keys) != 0 {
		t.Errorf("unset: %q, %v; want no keys and no error", keys, err)
	}
}

// The admin scheme is read in any case (RFC 9110 §11.1).
func TestAdminBearerInAnyCase(t *testing.T) {
	t.Parallel()
	env := newAPIEnv(t, Config{AdminToken: testAdminToken})
	for _, scheme := range []string{"Bearer ", "bearer ", "BEARER ", "Bearer  "} {
		req, _ := http.NewRequest(http.MethodGet, env.srv.URL+"/admin/projections", nil)
		req.Header.Set("Authorization", scheme+testAdminToken)
		if got := do(t, req); got != http.StatusOK {
			t.Errorf("%s: %d, want 200", scheme, got)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, env.srv.URL+"/admin/projections", nil)
	req.Header.Set("Authorization", "Basic "+testAdminToken)
	if got := do(t, req); got != http.StatusUnauthorized {
		t.Errorf("Basic: %d, want 401", got)
	}
}

// webhook-id names the delivery when X-CXone-Event-Id holds the message's
// own ID: a tester's two deliveries under one such X header were one event,
// the second acknowledged as a duplicate and lost.
func TestWebhookIDWhenTheEventIDHeaderNamesTheMessage(t *testing.T) {
	t.Parallel()
	env := newAPIEnv(t, Config{})
	for _, wh := range []string{"wh-1", "wh-2"} {
		req, _ := http.NewRequest(http.MethodPost, env.srv.URL+"/webhooks/cxone/sms", strings.NewReader(`{"messageId":"K7","status":"ENROUTE"}`))
		req.Header.Set("X-Webhook-Secret", testWebhookSecret)
		req.Header.Set("X-CXone-Event-Id", "K7")
		req.Header.Set("webhook-id", wh)
		if got := do(t, req); got != http.StatusOK {
			t.Fatalf("%s: %d", wh, got)
		}
	}
	var ids []string
	rows, err := env.pool.Query(context.Background(), `SELECT event_id FROM events WHERE message_id = 'K7' ORDER BY event_id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if strings.Join(ids, ",") != "wh-1,wh-2" {
		t.Errorf("event IDs %q, want wh-1 and wh-2", ids)
	}
}

// A key pasted without its whsec_ prefix is read as the Standard Webhooks
// libraries read it, base64-decoded, and still as written: taken only as
// written, every signature those libraries made was refused.
func TestSigningKeyWithoutItsPrefix(t *testing.T) {
	const pasted = "a2V5LW9uZS0zMi1ieXRlcy1sb25nLXh4eHh4eHh4eHg="
	keys, err := parseSigningKeys(pasted)
	if err != nil {
		t.Fatal(err)
	}
	decoded, _ := base64.StdEncoding.DecodeString(pasted)
	now := time.Now()
	ts := strconv.FormatInt(now.Unix(), 10)
	body := []byte(`{"messageId":"k1"}`)
	for _, key := range [][]byte{decoded, []byte(pasted)} {
		if err := keys.verify("msg_1", ts, Sign(key, "msg_1", ts, body), now, body); err != nil {
			t.Errorf("signed with %q: %v", key, err)
		}
	}
	if keys, _ := parseSigningKeys("not-base64!"); len(keys) != 1 {
		t.Errorf("a key that is no base64: %d keys, want it as written only", len(keys))
	}
}
