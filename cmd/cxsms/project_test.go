package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A deployment as the README advises it, serve with PROJECTORS=off and
// `cxsms project` beside it, had the projectors' metrics nowhere, and serve
// exported their failure counters at 0 for work it never does. project now
// serves them on its own port, with /healthz, and stops cleanly.
func TestProjectServesMetrics(t *testing.T) {
	s := startServer(t, map[string]string{"PROJECTORS": "off"})
	mustAck(t, s.post(t, tutorialReport(uid("ev"), uid("msg"), "DELIVERED", "METRICS", "ACME", "+14155550123", time.Now())), 1)

	// The ingest node: the lag (read from the database) is true anywhere;
	// counters of projector failures are not its to claim.
	serveMetrics := s.get(t, "/metrics")
	if !strings.Contains(string(serveMetrics.body), "cxsms_projection_lag_events{") {
		t.Errorf("serve with PROJECTORS=off lost the projection lag: %s", serveMetrics.body)
	}
	for _, name := range []string{"cxsms_projection_errors_total", "cxsms_projection_dead_letters_total", "cxsms_projection_applied_total"} {
		if strings.Contains(string(serveMetrics.body), name+"{") {
			t.Errorf("serve with PROJECTORS=off exports %s for work it does not do", name)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	logs := &syncBuffer{}
	done := make(chan error, 1)
	env := map[string]string{"PORT": "0", "DATABASE_URL": s.dbURL, "LOG_LEVEL": "warn"}
	go func() {
		err := run(ctx, []string{"project"}, envFunc(env), pw, logs)
		pw.Close()
		done <- err
	}()
	var base string
	select {
	case base = <-listenAddress(pr):
	case err := <-done:
		t.Fatalf("project returned before listening: %v\n%s", err, logs.String())
	case <-time.After(startWait):
		t.Fatalf("project printed no address within %v\n%s", startWait, logs.String())
	}

	applied := regexp.MustCompile(`(?m)^cxsms_projection_applied_total\{projection="current_status.v1"\} (\d+)$`)
	var metrics string
	eventually(t, "project counts the event it applied", projectionWait, func() (bool, string) {
		code, body, err := httpGet(base, "/metrics", nil)
		metrics = string(body)
		if err != nil || code != http.StatusOK {
			return false, strconv.Itoa(code) + " " + metrics
		}
		m := applied.FindStringSubmatch(metrics)
		return m != nil && m[1] != "0", metrics
	})
	for _, want := range []string{
		`cxsms_projection_errors_total{projection="current_status.v1"} 0`,
		`cxsms_projection_dead_letters_total{projection="sla_latency.v1"} 0`,
		`cxsms_projection_apply_duration_seconds_count{projection="current_status.v1"}`,
		`cxsms_projection_lag_events{projection="carrier_costs.v1"}`,
		"go_goroutines ",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("project's /metrics lacks %s:\n%s", want, metrics)
		}
	}
	// Nor does project claim ingest it does not do.
	for _, name := range []string{"cxsms_store_", "cxsms_ingest_", "cxsms_http_", "cxsms_cxone_"} {
		if strings.Contains(metrics, "\n"+name) {
			t.Errorf("project's /metrics exports %s* series:\n%s", name, metrics)
		}
	}
	if code, body, err := httpGet(base, "/healthz", nil); err != nil || code != http.StatusOK || !strings.Contains(string(body), `"status":"ok"`) {
		t.Errorf("GET /healthz: %d %s %v", code, body, err)
	}
	if code, _, err := httpGet(base, "/admin/projections", nil); err != nil || code != http.StatusNotFound {
		t.Errorf("GET /admin/projections on project: %d %v, want 404", code, err)
	}

	cancel() // as SIGTERM does
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("project did not stop cleanly: %v\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("project still runs 30 s after its context ended")
	}
	if c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), time.Second); err == nil {
		c.Close()
		t.Errorf("project still listens on %s after it returned", base)
	}
}
