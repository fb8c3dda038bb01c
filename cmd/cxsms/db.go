package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cxsms/cxsms/eventstore"
)

// openPool connects lazily: the pool is made even while PostgreSQL is down,
// so serve and project can start, answer (serve's /readyz with 503), and
// recover on their own.
func openPool(ctx context.Context, cfg config) (*pgxpool.Pool, error) {
	if err := cfg.requireDatabase(); err != nil {
		return nil, err
	}
	// Another database's URL failed in pgx's words, its masking mangled
	// ("cannot parse `mysql:xxxxxx@localhost/db`"), with no word of what
	// is wanted.
	if scheme, _, ok := strings.Cut(cfg.DatabaseURL, "://"); ok && scheme != "postgres" && scheme != "postgresql" {
		return nil, fmt.Errorf("DATABASE_URL must be a postgres:// (or postgresql://) URL, got a %s:// one", scheme)
	}
	pc, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	// Small pools are fast: the group commit needs a couple of connections,
	// each projector one, reads a few. More would only contend on 2 cores.
	if !strings.Contains(cfg.DatabaseURL, "pool_max_conns") {
		pc.MaxConns = 24
	}
	pc.ConnConfig.ConnectTimeout = 3 * time.Second
	// Every statement here is short and indexed. PostgreSQL's JIT kicks in
	// on estimated cost, and a projector batch's generic plan is estimated
	// high: compiling it took longer than running it, on every batch.
	if _, set := pc.ConnConfig.RuntimeParams["jit"]; !set {
		pc.ConnConfig.RuntimeParams["jit"] = "off"
	}
	// A transaction left open holds back every consumer of the log (its
	// xmin guards the positions): a frozen process (a paused VM, a half-open
	// connection) with a projector batch open stopped the read models of
	// every node until TCP gave up, hours later. Ours are never idle inside
	// a transaction for more than a moment; PostgreSQL ends one that is.
	if _, set := pc.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"]; !set {
		pc.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = "20s"
	}
	// pg_stat_activity, and /admin/projections when a projection lags,
	// then name the process behind each connection.
	if _, set := pc.ConnConfig.RuntimeParams["application_name"]; !set {
		pc.ConnConfig.RuntimeParams["application_name"] = applicationName()
	}
	pc.HealthCheckPeriod = 5 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return pool, nil
}

// openMigrated opens the database and applies any missing migration, for
// the commands that need the schema right away (serve and project wait and
// retry instead: migrateUntilDone).
func openMigrated(ctx context.Context, cfg config) (*pgxpool.Pool, error) {
	pool, err := openPool(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if _, err := eventstore.Migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

// startCPUProfile profiles the process into path until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// applicationName is "cxsms HOST:PID", cut to the 63 bytes PostgreSQL keeps.
func applicationName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	name := fmt.Sprintf("cxsms %s:%d", host, os.Getpid())
	if len(name) > 63 {
		name = name[:63]
	}
	return name
}

// redactURL is s with a password in it written xxxxx, for output that
// lands in CI logs: --target and --callback URLs were printed whole.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	return u.Redacted()
}
