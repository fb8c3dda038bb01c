package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
)

// project's port answers as serve's does: it answered with net/http's own
// text 404 and 405, no 204 to OPTIONS, no trailing slash and no
// X-Request-Id.
func TestProjectRoutesAnswerAsServe(t *testing.T) {
	t.Parallel()
	log := logrus.New()
	log.SetOutput(io.Discard)
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "cxsms_test_total", Help: "A series to scrape."}))
	srv := httptest.NewServer(projectRoutes(reg, log))
	defer srv.Close()
	for _, tt := range []struct {
		method, path string
		want         int
		allow        string // the Allow header, when the answer must carry one
		body         string // a text the body must hold
	}{
		{"GET", "/healthz", http.StatusOK, "", `"status":"ok"`},
		{"HEAD", "/healthz", http.StatusOK, "", ""},
		{"GET", "/healthz/", http.StatusOK, "", `"status":"ok"`},
		{"GET", "/%68ealthz", http.StatusOK, "", `"status":"ok"`},
		{"GET", "/metrics", http.StatusOK, "", "cxsms_test_total 0"},
		{"GET", "/nope", http.StatusNotFound, "", `{"error":"no route GET /nope"}`},
		{"GET", "/admin/projections", http.StatusNotFound, "", `{"error":`},
		{"POST", "/healthz", http.StatusMethodNotAllowed, "GET, HEAD, OPTIONS", `{"error":`},
		{"OPTIONS", "/healthz", http.StatusNoContent, "GET, HEAD, OPTIONS", ""},
		{"GET", "/healthz%00", http.StatusBadRequest, "", `{"error":`},
	} {
		req, err := http.NewRequest(tt.method, srv.URL+tt.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.want || !strings.Contains(string(got), tt.body) {
			t.Errorf("%s %s: %d %q, want %d holding %q", tt.method, tt.path, resp.StatusCode, got, tt.want, tt.body)
		}
		if tt.allow != "" && resp.Header.Get("Allow") != tt.allow {
			t.Errorf("%s %s: Allow %q, want %q", tt.method, tt.path, resp.Header.Get("Allow"), tt.allow)
		}
		if ct := resp.Header.Get("Content-Type"); resp.StatusCode >= 400 && !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s %s: %d as %q, want JSON", tt.method, tt.path, resp.StatusCode, ct)
		}
		if resp.Header.Get("X-Request-Id") == "" {
			t.Errorf("%s %s: no X-Request-Id", tt.method, tt.path)
		}
	}
}
