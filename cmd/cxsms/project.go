package main

import (
	"context"
	"fmt"
	"io"
	"net"
	stdhttp "net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"

	"github.com/cxsms/cxsms/http"
	"github.com/cxsms/cxsms/projections"
)

// project runs only the projectors, so they can live apart from ingest. It
// serves their metrics on GET /metrics, as serve does, and GET /healthz: on
// a deployment whose serve runs with PROJECTORS=off, this is the only place
// the projectors' work (and their failures) shows.
func project(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	// Every setting is read before anything starts, so a bad one is refused
	// alone, not after a log line saying the projectors run.
	r, err := loadRules(cfg)
	if err != nil {
		return err
	}
	opts, err := projectorOptions(cfg, r)
	if err != nil {
		return err
	}
	port := projectPort(cfg)
	log := newLogger(cfg, stderr)
	// CXSMS_CPUPROFILE=path profiles the projectors alone, as on serve.
	if path := cfg.getenv("CXSMS_CPUPROFILE"); path != "" {
		stop, err := startCPUProfile(path)
		if err != nil {
			return fmt.Errorf("CXSMS_CPUPROFILE: %w", err)
		}
		defer stop()
	}
	// The pool connects lazily, as serve's: only a DATABASE_URL that cannot
	// be read is refused here, and nothing reaches the database before
	// project listens.
	pool, err := openPool(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()

	// As serve's registry, with the projectors' series only: this node
	// does no ingest.
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := http.NewProjectionMetrics(reg)
	opts.Observer = metrics
	// No ingest here to yield to: all projections apply at once, unless
	// PROJECTOR_CONCURRENCY asks for a limit (say, on a machine shared with
	// an ingest node).
	if opts.Concurrency == 0 {
		opts.IngestBusy = func() bool { return false }
	}
	projector := projections.NewProjector(pool, r, log, opts)
	http.RegisterProjectionLag(reg, projector.States)
	metrics.StartProjections(projector.Names())

	ln, err := listen(cfg.ListenHost, port)
	if err != nil {
		return err
	}
	srv := newHTTPServer(projectRoutes(reg, log))
	addr := ln.Addr().(*net.TCPAddr)
	fmt.Fprintf(stdout, "cxsms listening on %s\n", localURL(addr))

	// Project until told to stop, or until the projector or the listener
	// fails; either way the other is stopped before project returns. Nodes
	// may come up before PostgreSQL (a host or cluster restart): project
	// then waits for the schema as serve does, with /healthz and /metrics
	// answering, where it exited and left the ingest nodes without their
	// only projector. A schema newer than this binary ends it: no retry
	// makes it project.
	running, stopProjecting := context.WithCancel(ctx)
	defer stopProjecting()
	projectorDone := make(chan error, 1)
	go func() {
		if err := migrateUntilDone(running, pool, log, true); err != nil {
			if running.Err() != nil {
				err = nil // told to stop while waiting
			}
			projectorDone <- err
			return
		}
		log.WithFields(logrus.Fields{"rules": r.Version, "port": addr.Port}).Info("projecting")
		if err := projector.Run(running); err != nil {
			projectorDone <- fmt.Errorf("projector: %w", err)
			return
		}
		projectorDone <- nil
	}()
	serveDone := make(chan error, 1)
	go func() { serveDone <- srv.Serve(ln) }()
	var failed error
	select {
	case err := <-serveDone:
		stopProjecting()
		<-projectorDone
		return fmt.Errorf("serve metrics: %w", err)
	case failed = <-projectorDone:
	}
	// The metrics requests in flight get their answers.
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		srv.Close()
	}
	return failed
}

// projectPort is where project serves its metrics: PORT when it is set, else
// the port next to serve's default, so that the two can share a machine.
func projectPort(cfg config) string {
	if p := cfg.getenv("PORT"); p != "" {
		return cfg.Port // as loadConfig checked it
	}
	return defaultProjectPort
}

// projectRoutes are project's whole HTTP API, answered by http's router
// as serve's is: the same JSON errors, 405 and OPTIONS with Allow, one
// trailing slash, X-Request-Id. A ServeMux of its own answered in plain text.
func projectRoutes(reg *prometheus.Registry, log *logrus.Logger) stdhttp.Handler {
	// The text format only, as on serve (client_golang issue 829).
	return http.NewProjectServer(log, promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
}

// rebuild rebuilds read models from the log with a progress bar.
func rebuild(ctx context.Context, cfg config, args []string, stdout, stderr io.Writer) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: cxsms rebuild NAME|all (names: current_status, carrier_costs, sla_latency, sender_compliance)")
	}
	r, err := loadRules(cfg)
	if err != nil {
		return err
	}
	// A name we do not know is refused before the database is touched
	// (it was migrated first).
	if err := projections.NewProjector(nil, r, newLogger(cfg, stderr), projections.Options{}).Known(args[0]); err != nil {
		return err
	}
	pool, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	p := projections.NewProjector(pool, r, newLogger(cfg, stderr), projections.Options{})
	// Said before and after: a rebuild under other rules than the read
	// models hold stops every projector still on those.
	warning, err := p.RebuildWarning(ctx, args[0])
	if err != nil {
		return err
	}
	if warning != "" {
		fmt.Fprintln(stderr, "warning:", warning)
	}
	start := time.Now()
	last := time.Time{}
	res, err := p.Rebuild(ctx, args[0], func(pr projections.Progress) {
		if time.Since(last) < 100*time.Millisecond && pr.Read < pr.Total {
			return
		}
		last = time.Now()
		fmt.Fprintf(stderr, "\r%s", progressBar(pr, time.Since(start)))
	})
	fmt.Fprintln(stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "rebuilt %s under rules %s: %d events, %d messages in %v (%.0f events/s)\n",
		strings.Join(res.Projections, ", "), r.Version, res.Events, res.Messages, res.Took.Round(time.Millisecond), res.Rate)
	if warning != "" {
		fmt.Fprintln(stderr, "warning:", warning)
	}
	return nil
}

func progressBar(p projections.Progress, elapsed time.Duration) string {
	const width = 30
	frac := 1.0
	if p.Total > 0 {
		frac = float64(p.Read) / float64(p.Total)
	}
	filled := int(frac * width)
	rate := float64(p.Read) / max(elapsed.Seconds(), 0.001)
	return fmt.Sprintf("[%s%s] %3.0f%% %d/%d events  %.0f/s", strings.Repeat("=", filled),
		strings.Repeat(" ", width-filled), 100*frac, p.Read, p.Total, rate)
}
