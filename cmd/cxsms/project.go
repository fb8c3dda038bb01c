package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cxsms/cxsms/projections"
)

// project runs only the projectors, so they can live apart from ingest.
func project(ctx context.Context, cfg config, stderr io.Writer) error {
	r, err := loadRules(cfg)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	pool, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	log.WithField("rules", r.Version).Info("projecting")
	// CXSMS_CPUPROFILE=path profiles the projectors alone, as on serve.
	if path := cfg.getenv("CXSMS_CPUPROFILE"); path != "" {
		stop, err := startCPUProfile(path)
		if err != nil {
			return fmt.Errorf("CXSMS_CPUPROFILE: %w", err)
		}
		defer stop()
	}
	opts, err := projectorOptions(cfg)
	if err != nil {
		return err
	}
	// No ingest here to yield to: all projections apply at once, unless
	// PROJECTOR_CONCURRENCY asks for a limit (say, on a machine shared with
	// an ingest node).
	if opts.Concurrency == 0 {
		opts.IngestBusy = func() bool { return false }
	}
	return projections.NewProjector(pool, r, log, opts).Run(ctx)
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
