package http

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"

	"github.com/cxsms/cxsms/domain"
	"github.com/cxsms/cxsms/domain/rules"
	"github.com/cxsms/cxsms/domain/simulate"
	"github.com/cxsms/cxsms/eventstore"
	"github.com/cxsms/cxsms/eventstore/pgtest"
	"github.com/cxsms/cxsms/projections"
)

const (
	testWebhookSecret = "test-webhook-secret"
	testAdminToken    = "test-admin-token"
)

// loadOpenAPI parses and validates the embedded document.
func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(openAPIDocument)
	if err != nil {
		t.Fatalf("openapi.json does not parse: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI document: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi.json declares %q, want 3.1", doc.OpenAPI)
	}
	return doc
}

var muxPattern = regexp.MustCompile(`\{([^}:]+):[^}]*\}`)

// routerOperations lists "METHOD /path/{var}" for every route the router
// serves, found by walking it as gorilla/mux sees it.
func routerOperations(t *testing.T) []string {
	t.Helper()
	router := (&Server{}).routes()
	var out []string
	err := router.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tpl, err := route.GetPathTemplate()
		if err != nil {
			return nil
		}
		methods, err := route.GetMethods()
		if err != nil {
			return nil // a subrouter's prefix, not a route of its own
		}
		for _, m := range methods {
			if m == http.MethodHead {
				continue // every GET answers HEAD too, as the document's description says
			}
			out = append(out, m+" "+muxPattern.ReplaceAllString(tpl, "{$1}"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// documentOperations lists "METHOD /path" for every operation in the document.
func documentOperations(doc *openapi3.T) []string {
	var out []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			out = append(out, strings.ToUpper(method)+" "+path)
		}
	}
	slices.Sort(out)
	return out
}

// TestOpenAPIDescribesEveryRoute fails when routes.go and openapi.json
// disagree about which routes exist.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	doc := loadOpenAPI(t)
	routes := routerOperations(t)
	documented := documentOperations(doc)
	if len(routes) < 10 {
		t.Fatalf("walked only %d routes (%v): the walk is broken", len(routes), routes)
	}
	for _, r := range routes {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is served but not described in http/openapi.json", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(routes, d) {
			t.Errorf("openapi.json describes %s, which routes.go does not serve", d)
		}
	}
}

// TestOpenAPIErrorAnswers checks the error contract: every error answer is
// {"error": string}, and the webhook documents its refusals.
func TestOpenAPIErrorAnswers(t *testing.T) {
	doc := loadOpenAPI(t)
	errSchema := doc.Components.Schemas["Error"]
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for code, resp := range op.Responses.Map() {
				if code < "400" {
					continue
				}
				mt := resp.Value.Content.Get("application/json")
				if mt == nil || mt.Schema == nil || mt.Schema.Value != errSchema.Value {
					t.Errorf("%s %s answers %s without the Error schema", method, path, code)
				}
			}
		}
	}
	hook := doc.Paths.Value("/webhooks/cxone/sms").Post
	for _, code := range []int{200, 400, 401, 413, 503} {
		if hook.Responses.Status(code) == nil {
			t.Errorf("the webhook does not document %d", code)
		}
	}
	if h := hook.Responses.Status(503).Value.Headers["Retry-After"]; h == nil || !h.Value.Required {
		t.Error("the webhook's 503 does not document a required Retry-After header")
	}
	// The validator must be able to say no, or every other check here is hollow.
	bad := []struct {
		schema string
		body   string
	}{
		{"Error", `{"error":"x","extra":1}`},
		{"Error", `{"error":""}`},
		{"MessageStatus", `{"messageId":"m1"}`},
		{"CarrierStats", `{"carrier":"A","currency":"USD","total":1,"delivered":1,"failed":0,"pending":0,"deliveryRate":100,"failureRate":0,"totalCost":0,"wastedCost":0,"costPerDelivered":0,"estimatedCosts":0,"recommendation":"MAYBE","reason":""}`},
		{"IngestAnswer", `{"acknowledged":false,"results":[]}`},
	}
	for _, b := range bad {
		var v any
		if err := json.Unmarshal([]byte(b.body), &v); err != nil {
			t.Fatal(err)
		}
		if err := doc.Components.Schemas[b.schema].Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err == nil {
			t.Errorf("schema %s accepted %s", b.schema, b.body)
		}
	}
}

// apiEnv is the API wired the way cmd/cxsms/serve.go wires it, over a fresh
// migrated database, with the projector running so read models fill.
type apiEnv struct {
	srv  *httptest.Server
	pool *pgxpool.Pool
	reg  *prometheus.Registry
}

func newAPIEnv(t *testing.T, cfg Config) *apiEnv {
	t.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	return newAPIEnvLogging(t, cfg, log)
}

// newAPIEnvLogging is newAPIEnv logging to log.
func newAPIEnvLogging(t *testing.T, cfg Config, log *logrus.Logger) *apiEnv {
	t.Helper()
	pool := pgtest.Pool(t)
	ruleset := rules.Default()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := NewMetrics(reg)
	store := eventstore.New(pool, eventstore.Options{Observer: metrics})
	t.Cleanup(store.Close)

	projector := projections.NewProjector(pool, ruleset, log, projections.Options{Observer: metrics, PollInterval: 20 * time.Millisecond})
	RegisterProjectionLag(reg, projector.States)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- projector.Run(ctx) }()
	t.Cleanup(func() {
		// Stop the projector only once it is idle: stopped mid-batch,
		// watermill-sql commits its transaction while the handler may still
		// be using it, which the race detector (rightly) reports.
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			states, err := projector.States(context.Background())
			idle := err == nil
			for _, st := range states {
				idle = idle && st.LagEvents == 0
			}
			if idle {
				break
			}
		}
		cancel()
		if err := <-done; err != nil && ctx.Err() == nil {
			t.Errorf("projector: %v", err)
		}
	})

	if cfg.WebhookSecret == "" {
		cfg.WebhookSecret = testWebhookSecret
	}
	handler, err := NewServer(cfg, Deps{
		Log: log, Store: store, Reads: projections.NewReader(pool, ruleset), Admin: projector,
		Metrics: metrics, MetricsHandler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return &apiEnv{srv: srv, pool: pool, reg: reg}
}

// newUnreachableEnv is the API over a PostgreSQL that is not there: the
// store cannot commit and is not ready.
func newUnreachableEnv(t *testing.T, cfg Config) *httptest.Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	pool, err := pgxpool.New(context.Background(), "postgres://nobody@"+addr+"/none?sslmode=disable&connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	log := logrus.New()
	log.SetOutput(io.Discard)
	metrics := NewMetrics(prometheus.NewRegistry())
	store := eventstore.New(pool, eventstore.Options{Observer: metrics, RetryFor: 300 * time.Millisecond})
	t.Cleanup(store.Close)
	ruleset := rules.Default()
	handler, err := NewServer(cfg, Deps{
		Log: log, Store: store, Reads: projections.NewReader(pool, ruleset),
		Admin: projections.NewProjector(pool, ruleset, log, projections.Options{}), Metrics: metrics,
		MetricsHandler: promhttp.HandlerFor(prometheus.NewRegistry(), promhttp.HandlerOpts{}),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return srv
}

// apiRequest is one call the contract test makes.
type apiRequest struct {
	method, path, template string
	body                   io.Reader
	header                 map[string]string
	want                   int
}

// apiContract sends requests and checks each answer against the document.
type apiContract struct {
	t        *testing.T
	doc      *openapi3.T
	client   *http.Client
	exercise map[string][]int // "METHOD /template" -> statuses seen
}

func (c *apiContract) do(base string, r apiRequest) []byte {
	t := c.t
	t.Helper()
	req, err := http.NewRequest(r.method, base+r.path, r.body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	if r.want == http.StatusRequestEntityTooLarge && req.ContentLength > 0 {
		// A 413 closes the connection unread (respond.go): a client still
		// writing the body may see the reset before the answer. Waiting
		// for 100 Continue, as curl does for large bodies, it never writes.
		req.Header.Set("Expect", "100-continue")
	}
	res, err := c.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if r.want != 0 && res.StatusCode != r.want {
		t.Errorf("%s %s = %d %s, want %d", r.method, r.path, res.StatusCode, bytes.TrimSpace(body), r.want)
	}
	c.check(r, res, body)
	return body
}

// check validates one answer: its status, content type, headers and body
// must all be what the document says for that operation.
func (c *apiContract) check(r apiRequest, res *http.Response, body []byte) {
	t := c.t
	t.Helper()
	key := r.method + " " + r.template
	c.exercise[key] = append(c.exercise[key], res.StatusCode)
	item := c.doc.Paths.Value(r.template)
	if item == nil {
		t.Errorf("%s: path %s is not in the document", key, r.template)
		return
	}
	op := item.GetOperation(r.method)
	if op == nil {
		t.Errorf("%s: not in the document", key)
		return
	}
	resp := op.Responses.Status(res.StatusCode)
	if resp == nil {
		t.Errorf("%s answered %d, which the document does not list (body %s)", key, res.StatusCode, bytes.TrimSpace(body))
		return
	}
	for name, hdr := range resp.Value.Headers {
		v := res.Header.Get(name)
		if v == "" {
			if hdr.Value.Required {
				t.Errorf("%s %d: header %s is documented as required but missing", key, res.StatusCode, name)
			}
			continue
		}
		if s := hdr.Value.Schema; s != nil {
			if err := s.Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
				t.Errorf("%s %d: header %s=%q does not match its schema: %s", key, res.StatusCode, name, v, schemaProblem(err))
			}
		}
	}
	if len(resp.Value.Content) == 0 {
		// An answer documented without a body (a 304) must have none.
		if len(body) != 0 {
			t.Errorf("%s %d: documented without a body, answered %d bytes", key, res.StatusCode, len(body))
		}
		return
	}
	mt, _, err := mime.ParseMediaType(res.Header.Get("Content-Type"))
	if err != nil {
		t.Errorf("%s %d: Content-Type %q: %v", key, res.StatusCode, res.Header.Get("Content-Type"), err)
		return
	}
	media := resp.Value.Content.Get(mt)
	if media == nil || !slices.Contains(docContentTypes(resp.Value.Content), mt) {
		t.Errorf("%s %d: content type %s is not documented (have %v)", key, res.StatusCode, mt, docContentTypes(resp.Value.Content))
		return
	}
	if mt != "application/json" || media.Schema == nil {
		return
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Errorf("%s %d: body is not JSON: %v\n%s", key, res.StatusCode, err, body)
		return
	}
	if err := media.Schema.Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		t.Errorf("%s %d: answer does not match its schema: %s\nbody: %s", key, res.StatusCode, schemaProblem(err), truncateBody(body))
	}
}

// schemaProblem says where and why a value failed its schema, without the
// whole schema that kin-openapi's own message prints.
func schemaProblem(err error) string {
	var multi openapi3.MultiError
	if errors.As(err, &multi) {
		var out []string
		for _, e := range multi {
			out = append(out, schemaProblem(e))
		}
		return strings.Join(out, "; ")
	}
	var se *openapi3.SchemaError
	if errors.As(err, &se) {
		return "at /" + strings.Join(se.JSONPointer(), "/") + ": " + se.Reason
	}
	return err.Error()
}

func docContentTypes(c openapi3.Content) []string {
	out := make([]string, 0, len(c))
	for k := range c {
		out = append(out, k)
	}
	return out
}

func truncateBody(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "…"
	}
	return string(b)
}

func gzipped(t *testing.T, s string) string {
	return compressed(t, s, func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) })
}

func brotlied(t *testing.T, s string) string {
	return compressed(t, s, func(w io.Writer) io.WriteCloser { return brotli.NewWriter(w) })
}

func deflated(t *testing.T, s string) string {
	return compressed(t, s, func(w io.Writer) io.WriteCloser { return zlib.NewWriter(w) })
}

// compressed is s written through the compressor newWriter makes.
func compressed(t *testing.T, s string, newWriter func(io.Writer) io.WriteCloser) string {
	t.Helper()
	var buf bytes.Buffer
	zw := newWriter(&buf)
	if _, err := io.WriteString(zw, s); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func webhookPost(body string, header map[string]string, want int) apiRequest {
	h := map[string]string{"X-Webhook-Secret": testWebhookSecret, "Content-Type": "application/json"}
	for k, v := range header {
		h[k] = v
	}
	return apiRequest{method: http.MethodPost, path: "/webhooks/cxone/sms", template: "/webhooks/cxone/sms",
		body: strings.NewReader(body), header: h, want: want}
}

func apiGet(path, template string, want int) apiRequest {
	return apiRequest{method: http.MethodGet, path: path, template: template, want: want}
}

func adminCall(method, path, template, token string, want int) apiRequest {
	r := apiRequest{method: method, path: path, template: template, want: want}
	if token != "" {
		r.header = map[string]string{"Authorization": "Bearer " + token}
	}
	return r
}

// contractReports are enough reports to fill every read model: every body
// shape and payload format, two carriers past the judging threshold (one
// failing), a message with a late report, and senders that break rules.
func contractReports(t *testing.T) []apiRequest {
	t.Helper()
	base := time.Now().UTC().Add(-20 * time.Minute).Truncate(time.Second)
	at := func(d time.Duration) string { return base.Add(d).Format(time.RFC3339Nano) }
	var out []apiRequest
	var batch []map[string]any
	for i := range 48 {
		carrier, status, errCode := "ATT", "DELIVERED", ""
		if i%2 == 1 {
			carrier = "TMOBILE"
			if i%3 == 0 {
				status, errCode = "UNDELIVERED", "30003"
			}
		}
		id := fmt.Sprintf("msg-%02d", i)
		batch = append(batch,
			map[string]any{"messageId": id, "eventId": id + "-sent", "status": "SENT", "carrier": carrier,
				"from": "12025550100", "to": "+14155550123", "timestamp": at(time.Duration(i) * time.Minute / 2)},
			map[string]any{"messageId": id, "eventId": id + "-final", "status": status, "errorCode": errCode, "carrier": carrier,
				"from": "12025550100", "to": "+14155550123", "price": "0.0085", "currency": "USD",
				"timestamp": at(time.Duration(i)*time.Minute/2 + time.Duration(2+i)*time.Second)})
	}
	for i := 0; i < len(batch); i += 16 {
		b, err := json.Marshal(map[string]any{"events": batch[i:min(i+16, len(batch))]})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, webhookPost(string(b), nil, http.StatusOK))
	}
	out = append(out,
		// The CXone envelope, with an alphanumeric sender the US does not allow.
		webhookPost(`{"eventType":"messaging.status.update","eventId":"env-1","payload":{"messageId":"env-msg","status":"DELIVERED","carrier":"VERIZON","from":"ACME","to":"+14155550124","price":0.0089,"currency":"USD","timestamp":"`+at(time.Minute)+`"}}`, nil, http.StatusOK),
		// An array; a late SENT after DELIVERED changes nothing but the count.
		webhookPost(`[{"messageId":"env-msg","eventId":"env-2","status":"SENT","carrier":"VERIZON","timestamp":"`+at(0)+`"},{"messageId":"arr-1","status":"QUEUED","carrier":"VERIZON","to":"+447700900123","from":"ACME"}]`, nil, http.StatusOK),
		// SMPP fields in JSON.
		webhookPost(`{"receipted_message_id":"smpp-1","message_state":5,"network_error_code":"030001","source_addr":"ACME","destination_addr":"447700900123","carrier":"VODAFONE"}`, nil, http.StatusOK),
		// SMPP receipt text, its event ID from the header.
		webhookPost("id:rcpt-1 sub:001 dlvrd:001 submit date:2405060700 done date:2405060701 stat:DELIVRD err:000 text:Hi",
			map[string]string{"Content-Type": "text/plain", "X-CXone-Event-Id": "rcpt-evt-1"}, http.StatusOK),
		// A redelivery: a success that adds nothing.
		webhookPost(`{"eventType":"messaging.status.update","eventId":"env-1","payload":{"messageId":"env-msg","status":"DELIVERED","carrier":"VERIZON","from":"ACME","to":"+14155550124","price":0.0089,"currency":"USD","timestamp":"`+at(time.Minute)+`"}}`, nil, http.StatusOK),
	)
	return out
}

// waitProjected waits until every projection has caught up with the log.
func waitProjected(t *testing.T, c *apiContract, base string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodGet, base+"/admin/projections", nil)
		req.Header.Set("Authorization", "Bearer "+testAdminToken)
		res, err := c.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var a projectionsAnswer
		err = json.NewDecoder(res.Body).Decode(&a)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		caught := len(a.Projections) > 0
		for _, p := range a.Projections {
			caught = caught && p.LagEvents == 0
		}
		if caught {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("projections did not catch up: %+v", a.Projections)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAnswersMatchTheDocument drives the real handlers over a real store
// and validates every answer against the document's schema for its status.
// It also fails when a documented operation is never exercised, so a new
// route needs a case here as well as a description.
func TestAnswersMatchTheDocument(t *testing.T) {
	t.Parallel()
	cfg := Config{AdminToken: testAdminToken, MaxBodyBytes: 16 << 10, SimulatorEnabled: true}
	env := newAPIEnv(t, cfg)
	c := &apiContract{t: t, doc: loadOpenAPI(t), client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{ExpectContinueTimeout: 10 * time.Second}}, exercise: map[string][]int{}}
	base := env.srv.URL

	for _, r := range contractReports(t) {
		c.do(base, r)
	}
	refusals := []apiRequest{
		webhookPost(`{"messageId":"x","status":"SENT"}`, map[string]string{"X-Webhook-Secret": "wrong"}, http.StatusUnauthorized),
		webhookPost(`{"messageId":"x","status":"SENT"}`, map[string]string{"X-Webhook-Secret": ""}, http.StatusUnauthorized),
		webhookPost(`{"messageId":`, nil, http.StatusBadRequest),
		webhookPost(`{"status":"DELIVERED"}`, nil, http.StatusBadRequest),
		webhookPost(``, nil, http.StatusBadRequest),
		webhookPost(`[]`, nil, http.StatusBadRequest),
		webhookPost(`{"events":[`+strings.Repeat(`{"messageId":"big","status":"SENT"},`, 1000)+`{"messageId":"big","status":"SENT"}]}`, nil, http.StatusRequestEntityTooLarge),
	}
	for _, r := range refusals {
		c.do(base, r)
	}
	// gzip: inflated and read like any body, within the same limit for what
	// it inflates to. An ID with a slash is looked up below as a%2Fb.
	gz := map[string]string{"Content-Encoding": "gzip"}
	br := map[string]string{"Content-Encoding": "br"}
	for _, r := range []apiRequest{
		webhookPost(gzipped(t, `{"messageId":"a/b","eventId":"gz-1","status":"DELIVERED","carrier":"ATT"}`), gz, http.StatusOK),
		webhookPost(gzipped(t, `{"events":[`+strings.Repeat(" ", 20<<10)+`]}`), gz, http.StatusRequestEntityTooLarge),
		webhookPost(`{"messageId":"x","status":"SENT"}`, gz, http.StatusBadRequest),
		webhookPost(`{"messageId":"x","status":"SENT"}`, map[string]string{"Content-Encoding": "zstd"}, http.StatusUnsupportedMediaType),
		webhookPost(deflated(t, `{"messageId":"deflated-1","status":"SENT"}`), map[string]string{"Content-Encoding": "deflate"}, http.StatusOK),
		// brotli, as the tutorial's Express takes it, within the same limit.
		webhookPost(brotlied(t, `{"messageId":"brotli-1","status":"SENT"}`), br, http.StatusOK),
		webhookPost(brotlied(t, `{"events":[`+strings.Repeat(" ", 20<<10)+`]}`), br, http.StatusRequestEntityTooLarge),
		webhookPost(`{"messageId":"x","status":"SENT"}`, br, http.StatusBadRequest),
		webhookPost(`{"messageId":"utf8-enc-1","status":"SENT"}`, map[string]string{"Content-Encoding": "UTF-8"}, http.StatusOK),
		// A list, undone last coding first.
		webhookPost(gzipped(t, gzipped(t, `{"messageId":"gzip-2","status":"SENT"}`)), map[string]string{"Content-Encoding": "identity, gzip, gzip"}, http.StatusOK),
		webhookPost(`{"messageId":"x","status":"SENT"}`, map[string]string{"Content-Encoding": "gzip, br, deflate, gzip"}, http.StatusUnsupportedMediaType),
	} {
		c.do(base, r)
	}
	// Over the limit without a Content-Length: refused while reading.
	chunked := webhookPost("", nil, http.StatusRequestEntityTooLarge)
	chunked.body = io.MultiReader(strings.NewReader(`{"events":[`), strings.NewReader(strings.Repeat(" ", 20<<10)), strings.NewReader(`]}`))
	c.do(base, chunked)

	simulator := func(body string, want int) apiRequest {
		return apiRequest{method: http.MethodPost, path: "/simulator/sms", template: "/simulator/sms",
			body: strings.NewReader(body), header: map[string]string{"Content-Type": "application/json"}, want: want}
	}
	// What a page on another site can send is refused.
	formPost := simulator(`{"count":3}`, http.StatusUnsupportedMediaType)
	formPost.header = map[string]string{"Content-Type": "text/plain"}
	crossSite := simulator(`{"count":3}`, http.StatusForbidden)
	crossSite.header = map[string]string{"Content-Type": "application/json", "Origin": "https://elsewhere.example"}
	for _, r := range []apiRequest{
		// Canadian carriers only, so the US carriers' recommendations below hold.
		simulator(`{"count":5,"region":"CA","scenario":"chaos","seed":7}`, http.StatusOK),
		simulator(``, http.StatusOK),
		simulator(`{"count":0}`, http.StatusBadRequest),
		simulator(`{"count":2,"scenario":"nope"}`, http.StatusBadRequest),
		simulator(`{"count":"5","bogus":true}`, http.StatusBadRequest),
		simulator(`{"region":"`+strings.Repeat("x", 70<<10)+`"}`, http.StatusRequestEntityTooLarge),
		formPost, crossSite,
	} {
		c.do(base, r)
	}

	waitProjected(t, c, base)

	for _, r := range []apiRequest{
		apiGet("/messages/msg-01", "/messages/{id}", http.StatusOK),
		apiGet("/messages/env-msg", "/messages/{id}", http.StatusOK),
		apiGet("/messages/rcpt-1", "/messages/{id}", http.StatusOK),
		apiGet("/messages/nope", "/messages/{id}", http.StatusNotFound),
		apiGet("/messages/a%2Fb", "/messages/{id}", http.StatusOK),
		apiGet("/messages/a%2Fb/history", "/messages/{id}/history", http.StatusOK),
		apiGet("/messages/env-msg/history", "/messages/{id}/history", http.StatusOK),
		apiGet("/messages/rcpt-1/history", "/messages/{id}/history", http.StatusOK),
		apiGet("/messages/smpp-1/history", "/messages/{id}/history", http.StatusOK),
		apiGet("/messages/nope/history", "/messages/{id}/history", http.StatusNotFound),
		apiGet("/analytics/carriers", "/analytics/carriers", http.StatusOK),
		apiGet("/analytics/carriers?region=us&from=2020-01-01", "/analytics/carriers", http.StatusOK),
		apiGet("/analytics/carriers?from=yesterday", "/analytics/carriers", http.StatusBadRequest),
		apiGet("/analytics/carriers?from=2024-02-01&to=2024-01-01", "/analytics/carriers", http.StatusBadRequest),
		apiGet("/analytics/sla", "/analytics/sla", http.StatusOK),
		apiGet("/analytics/sla?carrier=ATT&from="+time.Now().UTC().Add(-2*time.Hour).Format(time.RFC3339), "/analytics/sla", http.StatusOK),
		apiGet("/analytics/sla?to=soon", "/analytics/sla", http.StatusBadRequest),
		apiGet("/analytics/delivery", "/analytics/delivery", http.StatusOK),
		apiGet("/analytics/delivery?carrier=NOPE", "/analytics/delivery", http.StatusBadRequest),
		apiGet("/analytics/sla?to=0001-01-01T00:00:00Z", "/analytics/sla", http.StatusBadRequest),
		apiGet("/compliance/violations", "/compliance/violations", http.StatusOK),
		apiGet("/compliance/violations?region=us&senderId=ACME", "/compliance/violations", http.StatusOK),
		apiGet("/compliance/check?senderId=ACME&recipient=%2B14155550123", "/compliance/check", http.StatusOK),
		apiGet("/compliance/check?senderId=ACME&region=GB", "/compliance/check", http.StatusOK),
		apiGet("/compliance/check?senderId=ACME", "/compliance/check", http.StatusBadRequest),
		apiGet("/compliance/check?recipient=%2B14155550123", "/compliance/check", http.StatusBadRequest),
		adminCall(http.MethodGet, "/admin/projections", "/admin/projections", testAdminToken, http.StatusOK),
		adminCall(http.MethodGet, "/admin/projections", "/admin/projections", "", http.StatusUnauthorized),
		adminCall(http.MethodGet, "/admin/projections", "/admin/projections", "wrong", http.StatusUnauthorized),
		adminCall(http.MethodPost, "/admin/projections/current_status/rebuild", "/admin/projections/{name}/rebuild", testAdminToken, http.StatusOK),
		adminCall(http.MethodPost, "/admin/projections/nope/rebuild", "/admin/projections/{name}/rebuild", testAdminToken, http.StatusNotFound),
		adminCall(http.MethodPost, "/admin/projections/all/rebuild", "/admin/projections/{name}/rebuild", "", http.StatusUnauthorized),
		adminCall(http.MethodGet, "/admin/dead-letters", "/admin/dead-letters", testAdminToken, http.StatusOK),
		adminCall(http.MethodGet, "/admin/dead-letters", "/admin/dead-letters", "", http.StatusUnauthorized),
		adminCall(http.MethodPost, "/admin/dead-letters/abc/replay", "/admin/dead-letters/{id}/replay", testAdminToken, http.StatusBadRequest),
		adminCall(http.MethodPost, "/admin/dead-letters/999/replay", "/admin/dead-letters/{id}/replay", testAdminToken, http.StatusNotFound),
		// Against the documented ^[0-9]+$: signs are not digits, and a
		// number past int64 is only one no dead letter has.
		adminCall(http.MethodPost, "/admin/dead-letters/-1/replay", "/admin/dead-letters/{id}/replay", testAdminToken, http.StatusBadRequest),
		adminCall(http.MethodPost, "/admin/dead-letters/+1/replay", "/admin/dead-letters/{id}/replay", testAdminToken, http.StatusBadRequest),
		adminCall(http.MethodPost, "/admin/dead-letters/9223372036854775808/replay", "/admin/dead-letters/{id}/replay", testAdminToken, http.StatusNotFound),
		adminCall(http.MethodPost, "/admin/dead-letters/1/replay", "/admin/dead-letters/{id}/replay", "", http.StatusUnauthorized),
		apiGet("/healthz", "/healthz", http.StatusOK),
		apiGet("/readyz", "/readyz", http.StatusOK),
		apiGet("/metrics", "/metrics", http.StatusOK),
		apiGet("/", "/", http.StatusOK),
		apiGet("/assets/app.js", "/assets/{file}", http.StatusOK),
		apiGet("/assets/style.css", "/assets/{file}", http.StatusOK),
		apiGet("/assets/favicon.svg", "/assets/{file}", http.StatusOK),
		apiGet("/assets/nope.js", "/assets/{file}", http.StatusNotFound),
		// Revalidation with the ETag of an earlier answer: 304, no body.
		{method: http.MethodGet, path: "/", template: "/", header: map[string]string{"If-None-Match": dashboardAssets["index.html"].etag}, want: http.StatusNotModified},
		{method: http.MethodGet, path: "/assets/app.js", template: "/assets/{file}", header: map[string]string{"If-None-Match": dashboardAssets["app.js"].etag}, want: http.StatusNotModified},
		{method: http.MethodGet, path: "/assets/style.css", template: "/assets/{file}", header: map[string]string{"If-None-Match": `"stale", ` + dashboardAssets["style.css"].etag}, want: http.StatusNotModified},
		// Ranges are ignored: the whole file, never a 206 or a text 416.
		{method: http.MethodGet, path: "/assets/app.js", template: "/assets/{file}", header: map[string]string{"Range": "bytes=999999-"}, want: http.StatusOK},
		{method: http.MethodGet, path: "/assets/app.js", template: "/assets/{file}", header: map[string]string{"Range": "bytes=0-1"}, want: http.StatusOK},
		apiGet("/openapi.json", "/openapi.json", http.StatusOK),
	} {
		c.do(base, r)
	}

	// What the read models hold is checked elsewhere; here only that they
	// held something, so the schemas were tried on real content.
	var carriers carriersAnswer
	if err := json.Unmarshal(c.do(base, apiGet("/analytics/carriers", "/analytics/carriers", http.StatusOK)), &carriers); err != nil {
		t.Fatal(err)
	}
	var recs []string
	for _, cs := range carriers.Carriers {
		recs = append(recs, cs.Carrier+"="+cs.Recommendation)
	}
	if !slices.Contains(recs, "TMOBILE=REROUTE") || !slices.Contains(recs, "ATT=KEEP") {
		t.Errorf("carriers = %v, want TMOBILE=REROUTE and ATT=KEEP among them", recs)
	}
	var violations violationsAnswer
	if err := json.Unmarshal(c.do(base, apiGet("/compliance/violations", "/compliance/violations", http.StatusOK)), &violations); err != nil {
		t.Fatal(err)
	}
	if len(violations.Violations) == 0 {
		t.Error("no violations: the ACME sender to the US should be one")
	}

	// A store that cannot commit: 503 with Retry-After, and not ready.
	down := newUnreachableEnv(t, Config{WebhookSecret: testWebhookSecret})
	c.do(down.URL, webhookPost(`{"messageId":"m","status":"SENT"}`, nil, http.StatusServiceUnavailable))
	c.do(down.URL, apiGet("/readyz", "/readyz", http.StatusServiceUnavailable))
	// The simulator is off unless enabled.
	c.do(down.URL, apiRequest{method: http.MethodPost, path: "/simulator/sms", template: "/simulator/sms",
		body: strings.NewReader(`{}`), want: http.StatusForbidden})
	// Admin routes stay shut when no token is configured.
	c.do(down.URL, adminCall(http.MethodGet, "/admin/projections", "/admin/projections", "anything", http.StatusUnauthorized))

	for _, op := range documentOperations(c.doc) {
		if len(c.exercise[op]) == 0 {
			t.Errorf("%s is documented but this test never calls it: add a case", op)
		}
	}
	hookStatuses := c.exercise["POST /webhooks/cxone/sms"]
	for _, code := range []int{200, 400, 401, 413, 503} {
		if !slices.Contains(hookStatuses, code) {
			t.Errorf("the webhook never answered %d here", code)
		}
	}
}

// A chunked body over the limit is answered 413 as soon as the limit is
// crossed, even when the sender then stalls: net/http must not go on
// reading the rest of the body (up to 256 KiB) before it answers.
func TestOversizedChunkedBodyAnsweredAtOnce(t *testing.T) {
	t.Parallel()
	env := newAPIEnv(t, Config{MaxBodyBytes: 1000})
	conn, err := net.Dial("tcp", env.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	chunk := strings.Repeat("x", 2000)
	fmt.Fprintf(conn, "POST /webhooks/cxone/sms HTTP/1.1\r\nHost: cxsms\r\nX-Webhook-Secret: %s\r\n"+
		"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n", testWebhookSecret, len(chunk), chunk)
	// The sender stalls here, its body unfinished.
	if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer while the sender stalls: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !resp.Close {
		t.Errorf("answer %s, close %v; want 413 and the connection closed", resp.Status, resp.Close)
	}
	// And closed it is, not held open until the read timeout.
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("after the 413: %v, want the connection closed (EOF)", err)
	}
}

// /readyz is often reachable from outside; the driver's error names the
// database's user, host and port, which the answer must not repeat.
func TestReadyzHidesTheDatabase(t *testing.T) {
	t.Parallel()
	down := newUnreachableEnv(t, Config{WebhookSecret: testWebhookSecret})
	resp, err := http.Get(down.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || strings.Contains(string(body), "nobody") || strings.Contains(string(body), "127.0.0.1") {
		t.Errorf("/readyz answered %d %s; want 503 without the database's user or address", resp.StatusCode, body)
	}
}

// A 503 says what it means where it happens: a webhook's failed commit may
// have landed (a retry is safe), while a read has nothing to commit.
func TestUnavailableSaysWhatFailed(t *testing.T) {
	t.Parallel()
	down := newUnreachableEnv(t, Config{WebhookSecret: testWebhookSecret})
	answer := func(req *http.Request) string {
		t.Helper()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s %s: %d %s, want 503 with Retry-After", req.Method, req.URL.Path, resp.StatusCode, body)
		}
		return string(body)
	}
	hook, _ := http.NewRequest(http.MethodPost, down.URL+"/webhooks/cxone/sms", strings.NewReader(`{"messageId":"m","status":"SENT"}`))
	hook.Header.Set("X-Webhook-Secret", testWebhookSecret)
	// Nothing answers at the database's address: no attempt reached it, so
	// nothing was stored, which the answer says (it spoke of a commit that
	// could not be confirmed).
	if got := answer(hook); !strings.Contains(got, "retry is safe") || !strings.Contains(got, "nothing was stored") {
		t.Errorf("webhook 503 %s: does not say nothing was stored and a retry is safe", got)
	}
	read, _ := http.NewRequest(http.MethodGet, down.URL+"/messages/m/history", nil)
	if got := answer(read); strings.Contains(got, "commit") {
		t.Errorf("history 503 %s: speaks of a commit on a read", got)
	}
}

// A gzip body that inflates past the limit is answered 413 as soon as it
// does, even when the sender stalls before the rest: it was inflated only
// once the whole compressed body had arrived.
func TestOversizedGzipAnsweredAtOnce(t *testing.T) {
	t.Parallel()
	env := newAPIEnv(t, Config{MaxBodyBytes: 1000})
	var part bytes.Buffer
	zw := gzip.NewWriter(&part)
	zw.Write(bytes.Repeat([]byte("x"), 5000))
	zw.Flush() // what was written so far can be inflated; the stream goes on
	conn, err := net.Dial("tcp", env.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /webhooks/cxone/sms HTTP/1.1\r\nHost: cxsms\r\nX-Webhook-Secret: %s\r\nContent-Type: application/json\r\n"+
		"Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n", testWebhookSecret, part.Len(), part.Bytes())
	if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer while the sender stalls: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("answer %s, want 413", resp.Status)
	}
}

// validates says whether the document's schema s accepts the JSON text body.
func validates(t *testing.T, s *openapi3.SchemaRef, body string) error {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	return s.Value.VisitJSON(v, openapi3.EnableJSONSchema2020())
}

// Every request example in the document is a body its own schema accepts:
// the {"events":[...]} form the webhook describes failed WebhookBody, whose
// oneOf it matched twice (a Report has no required member).
func TestOpenAPIRequestExamplesMatchTheirSchemas(t *testing.T) {
	doc := loadOpenAPI(t)
	n := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.RequestBody == nil {
				continue
			}
			for ct, mt := range op.RequestBody.Value.Content {
				if mt.Schema == nil {
					continue
				}
				check := func(name string, v any) {
					n++
					if err := mt.Schema.Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
						t.Errorf("%s %s %s: example %s does not match its schema: %s", method, path, ct, name, schemaProblem(err))
					}
				}
				if mt.Example != nil {
					check("example", mt.Example)
				}
				for name, ex := range mt.Examples {
					check(name, ex.Value.Value)
				}
			}
		}
	}
	if n < 5 {
		t.Errorf("checked only %d request examples: the walk is broken", n)
	}
}

// WebhookBody admits every body form the webhook reads: one report, an
// array, {"events":[...]}, receipt text as JSON strings in either list, and
// message and event IDs given as numbers. Each body is also read by the
// parser itself, so the schema cannot admit what the server refuses here.
func TestWebhookBodySchemaAdmitsWhatTheServerReads(t *testing.T) {
	doc := loadOpenAPI(t)
	body := doc.Components.Schemas["WebhookBody"]
	const receipt = `"id:1 sub:001 stat:DELIVRD err:000 text:hi"`
	for _, b := range []string{
		`{"messageId":"m1","status":"DELIVERED"}`,
		`[{"messageId":"m1","status":"DELIVERED"}]`,
		`{"events":[{"messageId":"m1","status":"SENT"},{"messageId":"m2","status":"DELIVERED"}]}`,
		`{"tenantId":"t1","eventId":"batch-1","events":[{"messageId":"W1","status":"SENT"}]}`,
		`{"messageId":"R8","status":"DELIVERED","events":[{"messageId":"R8-inner","status":"SENT"}]}`,
		`{"eventType":"messaging.status.update","eventId":"e1","payload":{"messageId":"m1","status":"SENT"}}`,
		`[` + receipt + `]`,
		`[` + receipt + `,{"messageId":"m2","status":"SENT"}]`,
		`{"events":[` + receipt + `]}`,
		receipt,
		`{"messageId":12345678,"status":"DELIVERED"}`,
		`{"smppMessageId":12345678,"message_state":2}`,
		`{"externalId":1.2e3,"status":"SENT"}`,
		`{"receipted_message_id":987654321,"message_state":2,"destination_addr":447700900123,"network_error_code":30001}`,
		`{"messageId":"m1","eventId":42,"status":"SENT"}`,
		`{"eventType":"messaging.status.update","id":7,"payload":{"messageId":"m1","id":8,"status":"SENT"}}`,
		`{"messageId":"m1","status":"SENT","timestamp":1715000000.25}`,
	} {
		if _, err := domain.Parse(domain.Request{Body: []byte(b), ContentType: "application/json", ReceivedAt: time.Now()}); err != nil {
			t.Errorf("the server refuses %s (%v): not a case for this test", b, err)
			continue
		}
		if err := validates(t, body, b); err != nil {
			t.Errorf("WebhookBody refuses %s, which the server reads: %s", b, schemaProblem(err))
		}
	}
	// And it can still say no.
	for _, b := range []string{`[]`, `[1]`, `[null]`, `42`, `true`, `null`, `{"events":[true]}`} {
		if _, err := domain.Parse(domain.Request{Body: []byte(b), ContentType: "application/json", ReceivedAt: time.Now()}); err == nil {
			t.Errorf("the server reads %s: not a case for this test", b)
		}
		if b == `{"events":[true]}` {
			continue // a Report too, as far as a schema can tell
		}
		if err := validates(t, body, b); err == nil {
			t.Errorf("WebhookBody accepts %s, which the server refuses", b)
		}
	}
}

// The simulator request's documented bounds are the ones the server holds
// it to: duplicates was documented up to 1 and refused over 0.5, seed
// without a maximum and refused past 2^64-1.
func TestSimulatorRequestSchemaMatchesTheServer(t *testing.T) {
	doc := loadOpenAPI(t)
	schema := doc.Components.Schemas["SimulatorRequest"]
	serverTakes := func(body string) bool {
		req, _, err := decodeSimulatorRequest(strings.NewReader(body))
		if err != nil {
			return false
		}
		opts, _, err := req.options()
		if err != nil {
			return false
		}
		_, err = simulate.New(opts)
		return err == nil
	}
	for _, body := range []string{
		`{"duplicates":0}`, `{"duplicates":0.5}`, `{"duplicates":0.51}`, `{"duplicates":1}`, `{"duplicates":-0.1}`,
		`{"seed":0}`, `{"seed":9007199254740993}`, `{"seed":-1}`,
		`{"outOfOrder":1}`, `{"outOfOrder":1.01}`, `{"count":10000}`, `{"count":10001}`,
	} {
		err := validates(t, schema, body)
		if takes := serverTakes(body); takes != (err == nil) {
			t.Errorf("%s: the server takes it: %v; the schema: %v", body, takes, err)
		}
	}
	// Past 2^53 a validator compares as float64, where 2^64-1 and 2^64 are
	// one number: the document's own text must name the largest seed.
	if !serverTakes(`{"seed":18446744073709551615}`) || serverTakes(`{"seed":18446744073709551616}`) {
		t.Error("the server's largest seed is not 2^64-1")
	}
	var raw struct {
		Components struct {
			Schemas struct {
				SimulatorRequest struct {
					Properties map[string]struct {
						Maximum json.Number `json:"maximum"`
					} `json:"properties"`
				} `json:"SimulatorRequest"`
			} `json:"schemas"`
		} `json:"components"`
	}
	dec := json.NewDecoder(bytes.NewReader(openAPIDocument))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		t.Fatal(err)
	}
	if got := raw.Components.Schemas.SimulatorRequest.Properties["seed"].Maximum; got != "18446744073709551615" {
		t.Errorf("seed maximum = %q, want 18446744073709551615", got)
	}
}
