package projections

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// presenceKey is the advisory lock every running projector holds, shared,
// so that any process can tell whether anything projects this database: an
// ingest-only node (PROJECTORS=off) said "live", then "lagging", while its
// `cxsms project` was gone and nothing moved.
var presenceKey = lockKey("cxsms: a projector runs")

// holdPresence holds the presence lock on a connection of its own until ctx
// ends, taking it again whenever the connection is lost. It returns once
// the lock is let go.
func (p *Projector) holdPresence(ctx context.Context) {
	for ctx.Err() == nil {
		err := p.present(ctx)
		if ctx.Err() != nil {
			return
		}
		p.log.WithError(err).Debug("projector presence lost; taking it again")
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// present takes the lock and holds it until ctx ends or the connection
// fails. The connection is not the pool's: the lock must end with it, not
// stay on a pooled connection for others to carry.
func (p *Projector) present(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, p.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer func() {
		// Let go before closing: a closed connection's backend lets go of
		// its locks only as it exits, a moment after this returns.
		closing, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_, _ = conn.Exec(closing, `SELECT pg_advisory_unlock_shared($1)`, presenceKey)
		conn.Close(closing)
	}()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock_shared($1)`, presenceKey); err != nil {
		return err
	}
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if err := conn.Ping(ctx); err != nil {
				return err
			}
		}
	}
}
