package main

// Helpers for scripts/bench.sh (`make bench`), kept out of the usage text:
//
//	bench-wait  wait for a service to be ready, and optionally for its
//	            projections to catch up with the log
//	bench-lag   measure projection lag with marked reports while other load runs
//	bench-load  fill the log to a number of events through the store's Append,
//	            without HTTP, so a rebuild has a million events to read
//	bench-floor serve a fixed answer to every request on net/http, to measure
//	            what any Go HTTP server costs here before doing any work

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	stdhttp "net/http"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cxsms/cxsms/domain"
	"github.com/cxsms/cxsms/domain/simulate"
	"github.com/cxsms/cxsms/eventstore"
)

func benchFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// benchWait waits for /readyz, then (with --caught-up) for every projection
// to have no events left to apply. It prints how long that took and exits 0
// even if the projections did not catch up in time: the script reports it.
func benchWait(ctx context.Context, cfg config, args []string, stdout, stderr io.Writer) error {
	fs := benchFlags("bench-wait", stderr)
	target := fs.String("target", "http://127.0.0.1:"+cfg.Port, "service base URL")
	token := fs.String("admin-token", cfg.AdminToken, "ADMIN_TOKEN of the service")
	caughtUp := fs.Bool("caught-up", false, "also wait for the projections to catch up")
	timeout := fs.Duration("timeout", 60*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	client := &stdhttp.Client{Timeout: 5 * time.Second}
	start := time.Now()
	deadline := start.Add(*timeout)
	get := func(path string, v any) (int, error) {
		req, err := stdhttp.NewRequestWithContext(ctx, stdhttp.MethodGet, *target+path, nil)
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+*token)
		res, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		defer res.Body.Close()
		if v != nil && res.StatusCode == stdhttp.StatusOK {
			return res.StatusCode, json.NewDecoder(res.Body).Decode(v)
		}
		return res.StatusCode, nil
	}
	wait := func() error {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
			return nil
		}
	}
	for {
		if code, _ := get("/readyz", nil); code == stdhttp.StatusOK {
			break
		}
		if err := wait(); err != nil {
			return fmt.Errorf("bench-wait: %s/readyz never answered 200: %w", *target, err)
		}
	}
	var result struct {
		CaughtUp      bool    `json:"caughtUp"`
		LagEvents     int64   `json:"lagEvents"`
		WaitedSeconds float64 `json:"waitedSeconds"`
	}
	result.CaughtUp = true
	for *caughtUp {
		var st struct {
			Projections []struct {
				LagEvents int64 `json:"lagEvents"`
			} `json:"projections"`
		}
		code, err := get("/admin/projections", &st)
		if err == nil && code == stdhttp.StatusOK {
			result.LagEvents = 0
			for _, p := range st.Projections {
				result.LagEvents = max(result.LagEvents, p.LagEvents)
			}
			if result.LagEvents == 0 {
				break
			}
		} else if code == stdhttp.StatusUnauthorized {
			return fmt.Errorf("bench-wait: GET /admin/projections: 401, check --admin-token")
		}
		if wait() != nil {
			result.CaughtUp = false
			break
		}
	}
	result.WaitedSeconds = time.Since(start).Seconds()
	return printJSON(stdout, result)
}

// benchLag measures projection lag as a client sees it: every --interval it
// posts a marked report to the webhook and, once that is acknowledged
// (committed), polls GET /messages/{id} until the current_status read model
// shows it. Lag is the time from the 200 to the first 200 of the read.
func benchLag(ctx context.Context, cfg config, args []string, stdout, stderr io.Writer) error {
	fs := benchFlags("bench-lag", stderr)
	target := fs.String("target", "http://127.0.0.1:"+cfg.Port, "service base URL")
	secret := fs.String("secret", cfg.WebhookSecret, "X-Webhook-Secret")
	duration := fs.Duration("duration", 15*time.Second, "how long to send probes")
	interval := fs.Duration("interval", 250*time.Millisecond, "time between probes")
	grace := fs.Duration("grace", 30*time.Second, "how long after --duration a probe may still become visible")
	if err := fs.Parse(args); err != nil {
		return err
	}
	gen, err := simulate.New(simulate.Options{Scenario: simulate.Scenario{Name: "probe"}, Seed: rand.Uint64(), Status: domain.StatusDelivered})
	if err != nil {
		return err
	}
	client := &stdhttp.Client{Timeout: 10 * time.Second}
	end := time.Now().Add(*duration)
	giveUp := end.Add(*grace)

	var (
		mu                  sync.Mutex
		lags                []time.Duration
		failed, notVisible  atomic.Int64
		wg                  sync.WaitGroup
		probes              int
		pollCount           atomic.Int64
		webhook, messageURL = *target + "/webhooks/cxone/sms", *target + "/messages/"
	)
	probe := func(id string, body []byte) {
		defer wg.Done()
		req, _ := stdhttp.NewRequestWithContext(ctx, stdhttp.MethodPost, webhook, bytes.NewReader(body))
		req.Header.Set("Content-Type", simulate.ContentTypeJSON)
		req.Header.Set("X-Webhook-Secret", *secret)
		res, err := client.Do(req)
		if err != nil {
			failed.Add(1)
			return
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != stdhttp.StatusOK {
			failed.Add(1)
			return
		}
		acked := time.Now()
		for {
			pollCount.Add(1)
			req, _ := stdhttp.NewRequestWithContext(ctx, stdhttp.MethodGet, messageURL+id, nil)
			res, err := client.Do(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode == stdhttp.StatusOK {
					mu.Lock()
					lags = append(lags, time.Since(acked))
					mu.Unlock()
					return
				}
			}
			if time.Now().After(giveUp) || ctx.Err() != nil {
				notVisible.Add(1)
				return
			}
			// Poll finely at first, then at 5 % of the wait so far: the
			// figure stays within 5 % without flooding the service it
			// measures (at 2 %, probes waiting seconds sent hundreds of GETs
			// a second, CPU taken from the load being measured).
			time.Sleep(min(max(time.Since(acked)/20, 5*time.Millisecond), 250*time.Millisecond))
		}
	}
	t := time.NewTicker(*interval)
	defer t.Stop()
	for time.Now().Before(end) && ctx.Err() == nil {
		m := gen.Next(time.Now())
		wg.Add(1)
		probes++
		go probe(m.ID, m.Reports[0].AppendBody(nil))
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
	wg.Wait()
	// Probes never seen count as longer than any seen: a percentile that
	// falls among them is unknown, reported as -1 (longer than the grace).
	slices.Sort(lags)
	n := len(lags) + int(notVisible.Load())
	ms := func(q float64) float64 {
		i := min(int(q*float64(n)), n-1)
		if n == 0 || i >= len(lags) {
			return -1
		}
		return float64(lags[i].Microseconds()) / 1000
	}
	return printJSON(stdout, map[string]any{
		"probes": probes, "visible": len(lags), "failed": failed.Load(), "notVisible": notVisible.Load(), "polls": pollCount.Load(),
		"graceSeconds": grace.Seconds(),
		"lagMs":        map[string]float64{"p50": ms(0.5), "p90": ms(0.9), "p99": ms(0.99), "max": ms(1)},
	})
}

// benchLoad fills the log up to --total events with lifecycle traffic,
// appended through the store as the webhook would (each report rendered and
// parsed by domain.Parse), in large batches from several goroutines.
func benchLoad(ctx context.Context, cfg config, args []string, stdout, stderr io.Writer) error {
	fs := benchFlags("bench-load", stderr)
	total := fs.Int64("total", 1_000_000, "events the log should hold")
	batch := fs.Int("batch", 2000, "reports per Append")
	workers := fs.Int("workers", 4, "concurrent appenders")
	seed := fs.Uint64("seed", rand.Uint64(), "generator seed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *batch < 1 || *workers < 1 {
		return fmt.Errorf("bench-load: --batch and --workers must be positive")
	}
	pool, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	var have int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM events`).Scan(&have); err != nil {
		return fmt.Errorf("bench-load: count events: %w", err)
	}
	need := *total - have
	start := time.Now()
	var added atomic.Int64
	if need > 0 {
		store := eventstore.New(pool, eventstore.Options{MaxBatch: 2 * *batch})
		defer store.Close()
		sc, _ := simulate.LookupScenario("lifecycle")
		sc.Duplicates = 0 // every report a new event, so the count is exact
		var wg sync.WaitGroup
		errs := make(chan error, *workers)
		for w := range *workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				gen, err := simulate.New(simulate.Options{Scenario: sc, Seed: *seed, Stream: uint64(w)})
				if err != nil {
					errs <- err
					return
				}
				events := make([]domain.StatusReceived, 0, *batch)
				var body []byte
				for ctx.Err() == nil && added.Load() < need {
					events = events[:0]
					for len(events) < *batch {
						for _, r := range gen.Next(time.Now()).Reports {
							body = r.AppendBody(body[:0])
							evs, err := domain.Parse(domain.Request{Body: body, ContentType: r.ContentType(),
								EventIDHeader: r.EventIDHeader(), ReceivedAt: time.Now().UTC()})
							if err != nil {
								errs <- err
								return
							}
							events = append(events, evs...)
						}
					}
					if left := need - added.Add(int64(len(events))); left < 0 {
						events = events[:max(0, int64(len(events))+left)]
					}
					if len(events) == 0 {
						return
					}
					if _, err := store.Append(ctx, events); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return fmt.Errorf("bench-load: %w", err)
		}
	}
	took := time.Since(start)
	n := max(need, 0)
	return printJSON(stdout, map[string]any{
		"before": have, "added": n, "total": have + n, "seconds": took.Seconds(),
		"eventsPerSecond": float64(n) / max(took.Seconds(), 1e-9),
	})
}

// floorAnswer is what bench-floor answers: the size of a one-report ingest
// answer, so the socket writes cost what the service's do.
const floorAnswer = `{"acknowledged":true,"results":[{"messageId":"SIM-00000000-0000-4000-8000-000000000000","eventId":"sha256:0000000000000000000000000000000000000000000000000000000000000000","duplicate":false}]}` + "\n"

// benchFloor serves floorAnswer to every request after reading its body, on
// net/http with nothing else: no routing, no parsing, no store. Run under
// the same load as the service, it shows the CPU per request that any
// net/http server pays on this machine. When ctx ends it prints the
// requests served and the CPU this process used.
func benchFloor(ctx context.Context, cfg config, args []string, stdout, stderr io.Writer) error {
	fs := benchFlags("bench-floor", stderr)
	addr := fs.String("addr", "127.0.0.1:"+cfg.Port, "address to listen on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var served atomic.Int64
	srv := &stdhttp.Server{Addr: *addr, Handler: stdhttp.HandlerFunc(func(w stdhttp.ResponseWriter, r *stdhttp.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, floorAnswer)
		served.Add(1)
	})}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("bench-floor: %w", err)
	}
	fmt.Fprintf(stderr, "bench-floor listening on http://%s\n", ln.Addr())
	cpu0 := processCPU()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("bench-floor: %w", err)
	case <-ctx.Done():
	}
	_ = srv.Close()
	n, cpu := served.Load(), processCPU()-cpu0
	return printJSON(stdout, map[string]any{
		"requests": n, "cpuSeconds": cpu.Seconds(),
		"cpuPerRequestUs": float64(cpu.Microseconds()) / float64(max(n, 1)),
	})
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
