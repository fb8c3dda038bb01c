package http

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
)

// How the service meets generic HTTP clients: methods, paths and queries
// that are not quite what the routes say.
func TestRoutesMeetHTTPClients(t *testing.T) {
	t.Parallel()
	env := newAPIEnv(t, Config{AdminToken: "adm"})
	report := `{"messageId":"lenient-%d","status":"SENT"}`
	n := 0
	for _, tt := range []struct {
		method, path string
		want         int
		allow        string // the Allow header, when the answer must carry one
	}{
		// RFC 9110: every GET answers HEAD; a 405 says what is allowed.
		{"HEAD", "/healthz", http.StatusOK, ""},
		{"HEAD", "/analytics/carriers", http.StatusOK, ""},
		{"GET", "/webhooks/cxone/sms", http.StatusMethodNotAllowed, "POST, OPTIONS"},
		{"OPTIONS", "/analytics/carriers", http.StatusNoContent, "GET, HEAD, OPTIONS"},
		{"POST", "/admin/projections", http.StatusMethodNotAllowed, "GET, HEAD, OPTIONS"}, // was the subrouter's 404
		// As the tutorial's Express: one trailing slash, the webhook in any case.
		{"POST", "/webhooks/cxone/sms/", http.StatusOK, ""},
		{"POST", "/Webhooks/CXone/SMS", http.StatusOK, ""},
		{"GET", "/analytics/delivery/", http.StatusOK, ""},
		// Not cleaned into a 301, which turns a POST into a GET.
		{"GET", "//healthz", http.StatusNotFound, ""},
		// A query or path that cannot be what it says is a 400, not the
		// unfiltered totals or PostgreSQL's 500.
		{"GET", "/analytics/carriers?region=%zz", http.StatusBadRequest, ""},
		{"GET", "/analytics/carriers?region=US;carrier=ATT", http.StatusBadRequest, ""},
		{"GET", "/analytics/carriers?region=US&region=ZZ", http.StatusBadRequest, ""},
		{"GET", "/analytics/carriers?carrier=%00", http.StatusBadRequest, ""},
		{"GET", "/compliance/violations?senderId=%ff", http.StatusBadRequest, ""},
		{"GET", "/analytics/carriers?regoin=GB", http.StatusBadRequest, ""}, // a misspelt filter
		{"GET", "/compliance/violations?senderid=X", http.StatusBadRequest, ""},
		// Routes that read no parameter take any (trackers, cache busters).
		{"GET", "/healthz?a=1&a=2", http.StatusOK, ""},
		{"GET", "/?utm_source=x;y", http.StatusOK, ""},
		{"GET", "/messages/%00x", http.StatusBadRequest, ""},
		{"GET", "/messages/%ff/history", http.StatusBadRequest, ""},
		// ... on every path, routed or not: these were 404 and 405.
		{"GET", "/healthz%00", http.StatusBadRequest, ""},
		{"GET", "/readyz%ff", http.StatusBadRequest, ""},
		{"GET", "/metrics%C0%80", http.StatusBadRequest, ""},
		{"POST", "/webhooks/cxone/sms%00", http.StatusBadRequest, ""},
		{"GET", "/admin/projections/%ff/rebuild", http.StatusBadRequest, ""},
		// An escaped unreserved character is the character (RFC 3986
		// §6.2.2.2): these were 404s naming the route they are.
		{"GET", "/%68ealthz", http.StatusOK, ""},
		{"POST", "/webhooks/cxone/%73ms", http.StatusOK, ""},
		{"GET", "/analytics/carrier%73", http.StatusOK, ""},
		{"GET", "/messages/lenient-b/%68istory", http.StatusOK, ""}, // stored by the first POST above
		{"GET", "/messages/lenient%2Db/history", http.StatusOK, ""},
		{"GET", "/%68ealthz/", http.StatusOK, ""},
		// Other escapes stay: an escaped slash is part of an ID, not a step.
		{"GET", "/messages/lenient-b%2Fhistory", http.StatusNotFound, ""},
		{"GET", "/%2Fhealthz", http.StatusNotFound, ""},
		// /analytics/delivery filters nothing, and says so.
		{"GET", "/analytics/delivery?carrier=NOPE&bogus=1", http.StatusBadRequest, ""},
		{"GET", "/analytics/delivery?x=%00", http.StatusBadRequest, ""},
	} {
		var body io.Reader
		if tt.method == "POST" && strings.HasPrefix(strings.ToLower(tt.path), "/webhooks") {
			n++
			body = strings.NewReader(strings.Replace(report, "%d", string(rune('a'+n)), 1))
		}
		req, err := http.NewRequest(tt.method, env.srv.URL+tt.path, body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Webhook-Secret", testWebhookSecret)
		req.Header.Set("Authorization", "Bearer adm")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s %s: %d %s, want %d", tt.method, tt.path, resp.StatusCode, got, tt.want)
		}
		if tt.allow != "" && resp.Header.Get("Allow") != tt.allow {
			t.Errorf("%s %s: Allow %q, want %q", tt.method, tt.path, resp.Header.Get("Allow"), tt.allow)
		}
		if resp.StatusCode >= 400 && !strings.HasPrefix(string(got), `{"error":`) {
			t.Errorf("%s %s: %d without a JSON error: %q", tt.method, tt.path, resp.StatusCode, got)
		}
		if resp.Header.Get("X-Request-Id") == "" {
			t.Errorf("%s %s: %d without X-Request-Id", tt.method, tt.path, resp.StatusCode)
		}
		if tt.method == "HEAD" && len(got) != 0 {
			t.Errorf("HEAD %s: a body of %d bytes", tt.path, len(got))
		}
	}
}

// The dashboard's files are small and served whole: a Range got a 206, or
// a text/plain 416, neither of which the API documents.
func TestAssetsIgnoreRange(t *testing.T) {
	t.Parallel()
	h := storelessServer(t, nil)
	whole := dashboardAssets["app.js"].body
	for _, rng := range []string{"bytes=999999-", "bytes=0-1", "bytes=0-1,5-9", "bytes=oops"} {
		req := httptest.NewRequest(http.MethodGet, "/assets/app.js", nil)
		req.Header.Set("Range", rng)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), whole) || rec.Header().Get("Accept-Ranges") != "none" {
			t.Errorf("Range %s: %d, %d of %d bytes, Accept-Ranges %q; want 200, the whole file and none",
				rng, rec.Code, rec.Body.Len(), len(whole), rec.Header().Get("Accept-Ranges"))
		}
	}
}

// The 404 and 405 name the path as sent: decoded, an escaped slash read
// as a step, and "/metrics%2F" got "no route GET /metrics/", a route that
// answers 200.
func TestNoRouteNamesThePathAsSent(t *testing.T) {
	t.Parallel()
	log := logrus.New()
	log.SetOutput(io.Discard)
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	h, err := NewServer(Config{WebhookSecret: "s"}, Deps{Log: log, Metrics: NewMetrics(prometheus.NewRegistry()), MetricsHandler: metrics})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		method, path string
		want         int
		body         string
	}{
		{"GET", "/metrics/", http.StatusOK, ""}, // the route the 404 named
		{"GET", "/metrics%2F", http.StatusNotFound, `{"error":"no route GET /metrics%2F"}`},
		{"GET", "/messages%2FaAb", http.StatusNotFound, `{"error":"no route GET /messages%2FaAb"}`},
		{"GET", "/analytics%2fdelivery", http.StatusNotFound, `{"error":"no route GET /analytics%2fdelivery"}`},
		{"GET", "/nope", http.StatusNotFound, `{"error":"no route GET /nope"}`},
		// Unreserved escapes are decoded before routing (RFC 3986 §6.2.2.2).
		{"GET", "/%6Eope%2F", http.StatusNotFound, `{"error":"no route GET /nope%2F"}`},
		{"POST", "/messages/a%2Fb", http.StatusMethodNotAllowed, `{"error":"method POST not allowed on /messages/a%2Fb: use GET or HEAD or OPTIONS"}`},
		// A trailing slash is trimmed to route (lenientPath), and the
		// answer still names it: these named /assets and /messages.
		{"GET", "/assets/", http.StatusNotFound, `{"error":"no route GET /assets/"}`},
		{"GET", "/messages/", http.StatusNotFound, `{"error":"no route GET /messages/"}`},
		{"GET", "/nope/", http.StatusNotFound, `{"error":"no route GET /nope/"}`},
		{"GET", "/%6Eope/", http.StatusNotFound, `{"error":"no route GET /nope/"}`},
		{"POST", "/healthz/", http.StatusMethodNotAllowed, `{"error":"method POST not allowed on /healthz/: use GET or HEAD or OPTIONS"}`},
		{"GET", "/Webhooks/CXone/SMS", http.StatusMethodNotAllowed, `{"error":"method GET not allowed on /Webhooks/CXone/SMS: use POST or OPTIONS"}`},
		{"GET", "/webhooks/cxone/sms/", http.StatusMethodNotAllowed, `{"error":"method GET not allowed on /webhooks/cxone/sms/: use POST or OPTIONS"}`},
		{"GET", "/metrics/", http.StatusOK, ""},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
		if got := strings.TrimSuffix(rec.Body.String(), "\n"); rec.Code != tt.want || tt.body != "" && got != tt.body {
			t.Errorf("%s %s: %d %s, want %d %s", tt.method, tt.path, rec.Code, got, tt.want, tt.body)
		}
	}
}

// Reads and the dashboard's files are compressed for clients that accept
// it (openapi.json went out as 89 KB of text to every client), and an
// asset's ETag still revalidates to a 304; other clients get them as they
// are.
func TestReadsAreCompressed(t *testing.T) {
	t.Parallel()
	h := storelessServer(t, nil)
	get := func(path, encoding, etag string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Accept-Encoding", encoding)
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for _, path := range []string{"/openapi.json", "/assets/app.js", "/"} {
		plain := get(path, "", "")
		zipped := get(path, "gzip", "")
		if plain.Code != http.StatusOK || plain.Header().Get("Content-Encoding") != "" {
			t.Fatalf("%s without Accept-Encoding: %d, Content-Encoding %q; want 200 as it is", path, plain.Code, plain.Header().Get("Content-Encoding"))
		}
		if zipped.Header().Get("Content-Encoding") != "gzip" || !strings.Contains(zipped.Header().Get("Vary"), "Accept-Encoding") {
			t.Fatalf("%s with gzip: Content-Encoding %q, Vary %q; want gzip, varying on Accept-Encoding",
				path, zipped.Header().Get("Content-Encoding"), zipped.Header().Get("Vary"))
		}
		zr, err := gzip.NewReader(zipped.Body)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(body, plain.Body.Bytes()) || zipped.Body.Len() >= plain.Body.Len()/2 {
			t.Errorf("%s: %d bytes gzipped to %d, inflating to %d (%v); want the same body in less than half", path,
				plain.Body.Len(), zipped.Body.Len(), len(body), err)
		}
	}
	// A HEAD's headers are the GET's, compression included.
	req := httptest.NewRequest(http.MethodHead, "/assets/app.js", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Encoding") != "gzip" {
		t.Errorf("HEAD app.js with gzip: %d, Content-Encoding %q; want 200 and gzip, as its GET", rec.Code, rec.Header().Get("Content-Encoding"))
	}
	etag := get("/assets/app.js", "", "").Header().Get("ETag")
	if rec := get("/assets/app.js", "gzip, br, zstd", etag); rec.Code != http.StatusNotModified {
		t.Errorf("app.js with its ETag, compressed: %d, want 304", rec.Code)
	}
}

// A HEAD's 404 has the GET's Content-Length (RFC 9110 §9.3.2): its
// message named the method, and "HEAD" is a byte longer than "GET".
func TestHeadNotFoundMatchesGet(t *testing.T) {
	t.Parallel()
	h := storelessServer(t, nil)
	// net/http sets a HEAD's Content-Length from what its handler writes.
	length := func(method string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, "/nope", nil))
		if rec.Code != http.StatusNotFound {
			t.Fatalf("%s /nope: %d, want 404", method, rec.Code)
		}
		return rec.Body.Len()
	}
	if get, head := length(http.MethodGet), length(http.MethodHead); get != head {
		t.Errorf("404 body: GET %d bytes, HEAD %d; want the same", get, head)
	}
}

// A dead letter that does not exist is named alike whichever way its id
// misses: "not found" for 5, "no dead letter" for an id past int64.
func TestReplayOfNoDeadLetterNamesIt(t *testing.T) {
	t.Parallel()
	env := newAPIEnv(t, Config{AdminToken: testAdminToken})
	for _, id := range []string{"5", "99999999999999999999999999"} {
		req, err := http.NewRequest(http.MethodPost, env.srv.URL+"/admin/dead-letters/"+id+"/replay", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+testAdminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := `{"error":"no dead letter \"` + id + `\""}` + "\n"; resp.StatusCode != http.StatusNotFound || string(body) != want {
			t.Errorf("replay %s: %d %s, want 404 %s", id, resp.StatusCode, body, want)
		}
	}
}
