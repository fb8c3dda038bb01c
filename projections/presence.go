package projections

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// presenceKey is the advisory lock a running projector holds, shared, for
// each projection it may apply, so that any process can tell whether
// anything projects it: an ingest-only node (PROJECTORS=off) said "live",
// then "lagging", while its `cxsms project` was gone, or refused the read
// model's rules, and nothing moved.
func presenceKey(projection string) int64 { return lockKey("cxsms: projecting " + projection) }

// holdPresence holds the presence locks on a connection of its own until ctx
// ends, taking them again whenever the connection is lost. It returns once
// they are let go.
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

// present holds the lock of every projection this process does not refuse
// (refuse), following the refusals once a second, until ctx ends or the
// connection fails. The connection is not the pool's: the locks must end
// with it, not stay on a pooled connection for others to carry.
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
		_, _ = conn.Exec(closing, `SELECT pg_advisory_unlock_all()`)
		conn.Close(closing)
	}()
	held := map[string]bool{}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for n := 0; ; n++ {
		changed := false
		for _, proj := range p.projections {
			name := proj.Name()
			want := !p.isRefused(name)
			if want == held[name] {
				continue
			}
			query := `SELECT pg_advisory_lock_shared($1)`
			if !want {
				query = `SELECT pg_advisory_unlock_shared($1)`
			}
			if _, err := conn.Exec(ctx, query, presenceKey(name)); err != nil {
				return err
			}
			held[name], changed = want, true
		}
		// A connection that died unnoticed took the locks with it.
		if !changed && n%5 == 4 {
			if err := conn.Ping(ctx); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
