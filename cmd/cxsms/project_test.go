package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cxsms/cxsms/domain"
	"github.com/cxsms/cxsms/eventstore"
	"github.com/cxsms/cxsms/eventstore/pgtest"
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

// `cxsms project` started while PostgreSQL is down (a host or cluster
// restart brings the nodes up before it) exited at once, where serve waits:
// the ingest nodes survived and the only projector died. It now waits as
// serve does, saying so, with /healthz and /metrics up meanwhile, projects
// once PostgreSQL is back, and stops cleanly when told to.
func TestProjectWaitsForPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts its own PostgreSQL; skipped with -short")
	}
	noDotEnv(t)
	pg, dbURL := startCluster(t)
	pg.stop(t)

	p := startProject(t, dbURL)
	eventually(t, "project says it waits for the database", 30*time.Second, func() (bool, string) {
		return strings.Contains(p.logs.String(), `"msg":"migrations not applied yet; retrying"`), p.logs.String()
	})
	if code, body, err := httpGet(p.base, "/healthz", nil); err != nil || code != http.StatusOK {
		t.Errorf("/healthz while PostgreSQL is down: %d %s %v", code, body, err)
	}
	if code, body, err := httpGet(p.base, "/metrics", nil); err != nil || code != http.StatusOK || !strings.Contains(string(body), "go_goroutines ") {
		t.Errorf("/metrics while PostgreSQL is down: %d %s %v", code, body, err)
	}
	select {
	case err := <-p.done:
		t.Fatalf("project returned while PostgreSQL was down: %v\n%s", err, p.logs.String())
	default:
	}

	if again := pg.start(t); again != dbURL {
		t.Skipf("PostgreSQL came back on %s instead of %s (its port was taken meanwhile); cannot test recovery in place", again, dbURL)
	}
	appendReport(t, dbURL, tutorialReport(uid("ev"), uid("msg"), "DELIVERED", "WAITED", "ACME", "+14155550123", time.Now()))
	applied := regexp.MustCompile(`(?m)^cxsms_projection_applied_total\{projection="current_status.v1"\} [1-9]`)
	eventually(t, "project applies a report once PostgreSQL is back", 60*time.Second, func() (bool, string) {
		code, body, err := httpGet(p.base, "/metrics", nil)
		return err == nil && code == http.StatusOK && applied.Match(body), fmt.Sprintf("%d %v\n%s", code, err, body)
	})
	p.stop(t)
}

// project told to stop while it waits for PostgreSQL stops at once and
// cleanly, between two attempts or in the middle of one, and does not log
// the attempt it cut short as the database failing.
func TestProjectStopsWhileWaiting(t *testing.T) {
	t.Parallel()
	noDotEnv(t)
	for _, tc := range []struct {
		name    string
		stalled bool // the database accepts connections and never answers
	}{
		{"refused", false},
		{"stalled", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			connected := make(chan struct{}, 1)
			if tc.stalled {
				defer ln.Close()
				go func() {
					for {
						c, err := ln.Accept()
						if err != nil {
							return
						}
						defer c.Close()
						select {
						case connected <- struct{}{}:
						default:
						}
					}
				}()
			} else {
				ln.Close() // connections are refused, as by a PostgreSQL that is down
			}

			p := startProject(t, "postgres://cxsms@"+addr+"/cxsms?sslmode=disable")
			if tc.stalled {
				select {
				case <-connected:
				case <-time.After(30 * time.Second):
					t.Fatalf("project did not try the database within 30 s\n%s", p.logs.String())
				}
			} else {
				eventually(t, "project says it waits for the database", 30*time.Second, func() (bool, string) {
					return strings.Contains(p.logs.String(), `"msg":"migrations not applied yet; retrying"`), p.logs.String()
				})
			}
			waited := strings.Count(p.logs.String(), "migrations not applied yet")
			start := time.Now()
			p.stop(t)
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("project took %v to stop while waiting for PostgreSQL", took.Round(time.Millisecond))
			}
			if n := strings.Count(p.logs.String(), "migrations not applied yet"); n != waited {
				t.Errorf("project logged the attempt it stopped as a database failure:\n%s", p.logs.String())
			}
		})
	}
}

// What retrying cannot fix stops project at once, saying what is wrong: a
// DATABASE_URL that cannot be parsed, a schema a newer release migrated.
func TestProjectRefusesWhatRetryingCannotFix(t *testing.T) {
	t.Parallel()
	noDotEnv(t)
	newer := pgtest.URL(t)
	pool, err := openPool(context.Background(), config{DatabaseURL: newer})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(context.Background(), `INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_from_the_future.sql')`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, url, want string }{
		{"unparsable DATABASE_URL", "postgres://u@127.0.0.1:notaport/db", "DATABASE_URL"},
		{"newer schema", newer, "the database schema is newer than this binary"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var stdout, stderr syncBuffer
			start := time.Now()
			err := run(ctx, []string{"project"}, envFunc(map[string]string{"PORT": "0", "DATABASE_URL": tc.url, "LOG_LEVEL": "warn"}), &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("project: %v, want an error saying %q\n%s", err, tc.want, stderr.String())
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("project took %v to refuse it", took.Round(time.Millisecond))
			}
			if strings.Contains(stderr.String(), "retrying") {
				t.Errorf("project retried what retrying cannot fix:\n%s", stderr.String())
			}
		})
	}
}

// projectRun is one `cxsms project` run through run on port 0.
type projectRun struct {
	base    string
	logs    *syncBuffer
	cancel  context.CancelFunc
	done    chan error
	stopped bool // run's answer was taken from done
}

// startProject runs `project` over dbURL on port 0 until it prints its
// address; the test's end stops it if the test has not.
func startProject(t *testing.T, dbURL string) *projectRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &projectRun{logs: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	pr, pw := io.Pipe()
	env := map[string]string{"PORT": "0", "DATABASE_URL": dbURL, "LOG_LEVEL": "info"}
	go func() {
		err := run(ctx, []string{"project"}, envFunc(env), pw, p.logs)
		pw.Close()
		p.done <- err
	}()
	t.Cleanup(func() {
		cancel()
		if !p.stopped {
			select {
			case <-p.done:
			case <-time.After(30 * time.Second):
				t.Errorf("project still runs 30 s after its context ended")
			}
		}
		if t.Failed() {
			t.Logf("project's log:\n%s", p.logs.String())
		}
	})
	select {
	case p.base = <-listenAddress(pr):
	case err := <-p.done:
		p.stopped = true
		t.Fatalf("project returned before listening: %v\n%s", err, p.logs.String())
	case <-time.After(startWait):
		t.Fatalf("project printed no address within %v\n%s", startWait, p.logs.String())
	}
	return p
}

// stop is SIGTERM: project must return nil within 30 s.
func (p *projectRun) stop(t *testing.T) {
	t.Helper()
	p.cancel()
	select {
	case err := <-p.done:
		p.stopped = true
		if err != nil {
			t.Errorf("project did not stop cleanly: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("project still runs 30 s after its context ended")
	}
}

// appendReport stores a webhook body in the log at dbURL, as serve does.
func appendReport(t *testing.T, dbURL string, body []byte) {
	t.Helper()
	reports, err := domain.Parse(domain.Request{Body: body, ContentType: "application/json", ReceivedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	pool, err := openPool(context.Background(), config{DatabaseURL: dbURL})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	store := eventstore.New(pool, eventstore.Options{})
	defer store.Close()
	if _, err := store.Append(context.Background(), reports); err != nil {
		t.Fatal(err)
	}
}
