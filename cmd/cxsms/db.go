package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// openPool connects lazily: the pool is made even while PostgreSQL is down,
// so serve can start, answer /readyz with 503, and recover on its own.
func openPool(ctx context.Context, cfg config) (*pgxpool.Pool, error) {
	if err := cfg.requireDatabase(); err != nil {
		return nil, err
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
	pc.HealthCheckPeriod = 5 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return pool, nil
}
